// The chart, as users install it: `helm install` per edition onto the real
// API server (kwok runs the operator's Pods), and least-privilege RBAC per
// edition read from what the chart renders.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, inject, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT } from "./support/env.ts";
import { clientsFor, deleteTestNamespace, eventually } from "./support/kube.ts";

const run = promisify(execFile);
const chart = join(REPO_ROOT, "charts", "arf-operator");
const helm = (args: string[]) =>
  run(inject("helm"), [...args, "--kubeconfig", inject("kubeconfig"), "--kube-context", "arf-admin"], {
    maxBuffer: 8 << 20,
  });
const releases: Array<[string, string]> = [];

afterAll(async () => {
  for (const [release, ns] of releases) {
    await helm(["uninstall", release, "--namespace", ns]).catch(() => undefined);
    await deleteTestNamespace(ns);
  }
});

/** `helm template` of the chart with --set values (rejects with stderr when the chart refuses them). */
const template = (...sets: string[]) =>
  run(inject("helm"), ["template", "arf", chart, "--kube-version", "1.35.0", ...sets.flatMap((set) => ["--set", set])]);

async function render(edition: string, ...sets: string[]) {
  const { stdout } = await template(`edition=${edition}`, ...sets);
  return parseAllDocuments(stdout)
    .map((d) => d.toJS())
    .filter(Boolean);
}

const WORKLOADS = ["deployments", "statefulsets", "daemonsets", "replicasets", "pods", "controllerrevisions"];
const WRITES = ["create", "update", "patch", "delete", "deletecollection", "*"];

describe("the Helm chart", () => {
  it("passes helm lint for both editions and refuses an unknown one", async () => {
    for (const edition of ["oss", "licensed"]) {
      await run(inject("helm"), ["lint", chart, "--kube-version", "1.35.0", "--set", `edition=${edition}`]);
    }
    const failure = await template("edition=enterprise").catch((e) => e);
    // values.schema.json refuses it before any template renders, naming the value.
    expect(String(failure.stderr)).toContain("at '/edition': value must be one of 'oss', 'licensed'");
  });

  it("refuses helm install of a value that breaks values.schema.json, naming it, and creates nothing", async () => {
    const ns = `e2e-helm-schema-${Date.now().toString(36)}`;
    for (const [set, named] of [
      ["workers=abc", "at '/workers'"],
      ["logLevel=loud", "at '/logLevel'"],
      ["license.publicKey=x", "'publicKey'"],
    ] as const) {
      const failure = await helm([
        "install",
        "arf-bad",
        chart,
        "--namespace",
        ns,
        "--create-namespace",
        "--set",
        set,
      ]).catch((e) => e);
      expect(String(failure.stderr), set).toContain("values don't meet the specifications of the schema");
      expect(String(failure.stderr), set).toContain(named);
    }
    const namespaces = await clientsFor("admin").core.listNamespace();
    expect(namespaces.items.map((n) => n.metadata?.name)).not.toContain(ns);
  });

  it("never runs two operators at once without leader election", async () => {
    const refused = await template("leaderElection.enabled=false").catch((e) => e);
    expect(String(refused.stderr)).toContain("replicas must be 1 when leaderElection.enabled is false");
    const deployment = (await render("oss", "leaderElection.enabled=false", "replicas=1")).find(
      (d) => d.kind === "Deployment",
    );
    expect(deployment.spec.strategy.type).toBe("Recreate");
    expect((await render("oss")).find((d) => d.kind === "Deployment").spec.strategy.type).toBe("RollingUpdate");
  });

  it("ships the approvals admission policy and its Deny binding as templates, so helm upgrade updates them", async () => {
    for (const edition of ["oss", "licensed"]) {
      const docs = await render(edition);
      const policy = docs.find((d) => d.kind === "ValidatingAdmissionPolicy");
      const binding = docs.find((d) => d.kind === "ValidatingAdmissionPolicyBinding");
      expect(policy?.metadata.name).toBe("healingintent-approvals.arf.dev");
      expect(policy?.spec.failurePolicy).toBe("Fail");
      expect(binding?.spec.validationActions).toEqual(["Deny"]);
    }
  });

  it("gives the OSS edition no write verb on any workload, and the licensed edition only what it needs", async () => {
    const writesOnWorkloads = (docs: any[]) =>
      docs
        .filter((d) => d.kind === "ClusterRole" || d.kind === "Role")
        .flatMap((role) => role.rules)
        .filter((rule: any) =>
          rule.resources.some((r: string) => WORKLOADS.includes(r.split("/")[0] ?? "") || r === "*"),
        )
        .flatMap((rule: any) =>
          rule.verbs.filter((v: string) => WRITES.includes(v)).map((v: string) => `${v} ${rule.resources.join(",")}`),
        );
    expect(writesOnWorkloads(await render("oss"))).toEqual([]);
    expect(writesOnWorkloads(await render("licensed"))).toEqual([
      "patch deployments,statefulsets,daemonsets",
      "update deployments,statefulsets,daemonsets",
      "patch deployments/scale,statefulsets/scale",
      "update deployments/scale,statefulsets/scale",
    ]);
  });

  it.each(["oss", "licensed"])(
    "installs the %s edition with helm install, and its operator Deployment becomes Available",
    async (edition) => {
      const ns = `arf-helm-${edition}`;
      const release = `helm-${edition}`;
      releases.push([release, ns]);
      // The suite's cluster already has the admission policy from crds/ (cluster-scoped, one owner).
      await helm([
        "install",
        release,
        chart,
        "--namespace",
        ns,
        "--create-namespace",
        "--set",
        `edition=${edition}`,
        "--set",
        "admissionPolicy.install=false",
      ]);
      const { apps, core } = clientsFor("admin");
      const deployment = await eventually(
        "the operator Deployment to be Available",
        async () => {
          const d = await apps.readNamespacedDeployment({ namespace: ns, name: "arf-operator" });
          return d.status?.conditions?.some((c) => c.type === "Available" && c.status === "True") ? d : undefined;
        },
        { timeoutMs: 90_000 },
      ).catch(async (error) => {
        // Say why: the pods' phases and the nodes' readiness.
        const pods = await core.listNamespacedPod({ namespace: ns });
        const nodes = await core.listNode();
        throw new Error(
          `${error}; pods: ${pods.items.map((p) => `${p.metadata?.name}=${p.status?.phase}`).join(", ")}; nodes: ${nodes.items
            .map((n) => `${n.metadata?.name} Ready=${n.status?.conditions?.find((c) => c.type === "Ready")?.status}`)
            .join(", ")}`,
        );
      });
      expect(deployment.metadata?.labels?.["arf.dev/edition"]).toBe(edition);
      const binding = await clientsFor("admin").rbac.readClusterRoleBinding({ name: `${release}-${edition}` });
      expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "arf-operator", namespace: ns }]);
      const args: string[] = deployment.spec?.template?.spec?.containers?.[0]?.args ?? [];
      expect(args.some((a) => a.startsWith("--license-secret="))).toBe(edition === "licensed");
    },
    150_000,
  );
});
