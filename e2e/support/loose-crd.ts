// Simulates data that slipped past an older, looser CRD: serves a CRD whose
// spec accepts anything while `create` runs, then restores the real schema.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { REPO_ROOT } from "./env.ts";
import { clientsFor, eventually, kubectl } from "./kube.ts";

export async function withLooseSpec(plural: string, namespace: string, create: () => Promise<unknown>): Promise<void> {
  const strict = readFileSync(join(REPO_ROOT, "crds", `arf.dev_${plural}.yaml`), "utf8");
  const loose = structuredClone(parse(strict));
  loose.spec.versions[0].schema.openAPIV3Schema.properties.spec = {
    type: "object",
    "x-kubernetes-preserve-unknown-fields": true,
  };
  const apply = (text: string) => kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], "admin", text);
  await apply(stringify(loose));
  try {
    await eventually("the loose schema to accept the object", async () => {
      try {
        await create();
        return true;
      } catch {
        return undefined;
      }
    });
  } finally {
    await apply(strict);
    // A changed CRD reinitialises its storage; wait until it serves again (429 meanwhile).
    await eventually("the strict schema to be served", async () => {
      await clientsFor("admin").custom.listNamespacedCustomObject({
        group: "arf.dev",
        version: "v1alpha1",
        namespace,
        plural,
      });
      return true;
    });
  }
}
