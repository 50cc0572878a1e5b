// Starts a fresh local control plane (unless ARF_E2E_KUBECONFIG points at
// another cluster), installs the CRDs, and tears the local cluster down after.
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { REPO_ROOT, resolveClusterEnv } from "./support/env.ts";

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfig: string;
    auditLog: string | undefined;
    kubectl: string;
    helm: string;
    /** Whether the cluster has the real node (hack/real-node.sh); false only with ARF_REAL_NODE=0. */
    realNode: boolean;
  }
}

export default function setup(project: TestProject) {
  const env = resolveClusterEnv();
  const run = (command: string, args: string[]) =>
    execFileSync(command, args, {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, KUBECONFIG: env.kubeconfig },
    });

  const realNode = process.env.ARF_REAL_NODE !== "0";
  const hostSettings = () =>
    execFileSync("bash", [join(REPO_ROOT, "hack", "real-node.sh"), "host-settings"], { encoding: "utf8" });
  let settingsBefore = "";
  if (env.local) {
    // Tear down any earlier cluster first, so the host settings read next are the machine's own.
    run("bash", [join(REPO_ROOT, "hack", "cluster-down.sh")]);
    if (realNode) {
      settingsBefore = hostSettings();
      // Cheap when cached: the node must run the operator image of this checkout, not an older one.
      run("bash", [join(REPO_ROOT, "hack", "build-images.sh")]);
    }
    run("bash", [join(REPO_ROOT, "hack", "cluster-up.sh"), "--fresh"]);
  }
  run(env.kubectl, ["apply", "--server-side", "--force-conflicts", "-f", join(REPO_ROOT, "crds")]);
  run(env.kubectl, [
    "wait",
    "--for=condition=Established",
    "crd",
    "-l",
    "app.kubernetes.io/part-of=arf-operator",
    "--timeout=60s",
  ]);

  project.provide("kubeconfig", env.kubeconfig);
  project.provide("auditLog", env.auditLog);
  project.provide("kubectl", env.kubectl);
  project.provide("helm", env.helm);
  if (!realNode) console.warn("ARF_REAL_NODE=0: the real-node tests are skipped; every Pod is a kwok fake");
  project.provide("realNode", realNode);

  return () => {
    if (env.local && !process.env.ARF_KEEP_CLUSTER) {
      run("bash", [join(REPO_ROOT, "hack", "cluster-down.sh"), "--keep-logs"]);
      // The real node leaves nothing behind: no process, mount, cgroup,
      // iptables chain, interface or unrestored host setting.
      if (realNode) {
        const leftovers = spawnSync("bash", [join(REPO_ROOT, "hack", "real-node.sh"), "leftovers"], {
          encoding: "utf8",
        });
        if (leftovers.status !== 0)
          throw new Error(`the real node left things behind:\n${leftovers.stdout}${leftovers.stderr}`);
        // Keys that appear only later (nf_conntrack loaded by the node's rules) have no value to restore.
        const after = new Map(
          hostSettings()
            .split("\n")
            .map((line) => [line.split("=")[0], line]),
        );
        const changed = settingsBefore
          .split("\n")
          .filter((line) => line && after.get(line.split("=")[0]) !== line)
          .map((line) => `${line} (now ${after.get(line.split("=")[0]) ?? "gone"})`);
        if (changed.length > 0) throw new Error(`host settings not restored: ${changed.join(", ")}`);
      }
    }
  };
}
