// Starts a fresh local control plane (unless ARF_E2E_KUBECONFIG points at
// another cluster), installs the CRDs, and tears the local cluster down after.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { REPO_ROOT, resolveClusterEnv } from "./support/env.ts";

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfig: string;
    auditLog: string | undefined;
    kubectl: string;
    helm: string;
  }
}

export default function setup(project: TestProject) {
  const env = resolveClusterEnv();
  const run = (command: string, args: string[]) =>
    execFileSync(command, args, {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, KUBECONFIG: env.kubeconfig },
    });

  if (env.local) run("bash", [join(REPO_ROOT, "hack", "cluster-up.sh"), "--fresh"]);
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

  return () => {
    if (env.local && !process.env.ARF_KEEP_CLUSTER)
      run("bash", [join(REPO_ROOT, "hack", "cluster-down.sh"), "--keep-logs"]);
  };
}
