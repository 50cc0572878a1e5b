// Where the e2e suite finds its cluster. By default the local control plane
// from hack/cluster-up.sh; set ARF_E2E_KUBECONFIG (and ARF_E2E_AUDIT_LOG, if
// the API server's audit log is readable) to run against any other cluster,
// such as one made by hack/kind-up.sh. The kubeconfig must have the contexts
// arf-admin, arf-requester, arf-alice, arf-bob, arf-outsider and arf-operator.
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export const REPO_ROOT = join(import.meta.dirname, "..", "..");

export interface ClusterEnv {
  kubeconfig: string;
  auditLog: string | undefined;
  kubectl: string;
  helm: string;
  binPath: string;
  /** Whether the suite started the cluster itself (and so tears it down). */
  local: boolean;
}

export function resolveClusterEnv(): ClusterEnv {
  const printed = execFileSync("bash", [join(REPO_ROOT, "hack", "print-env.sh")], { encoding: "utf8" });
  const vars: Record<string, string> = Object.fromEntries(
    printed
      .trim()
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
  const external = process.env.ARF_E2E_KUBECONFIG;
  return {
    kubeconfig: external ?? required(vars, "KUBECONFIG"),
    auditLog: external ? process.env.ARF_E2E_AUDIT_LOG : required(vars, "AUDIT_LOG"),
    kubectl: process.env.ARF_KUBECTL ?? required(vars, "KUBECTL"),
    helm: process.env.ARF_HELM ?? required(vars, "HELM"),
    binPath: required(vars, "BIN_PATH"),
    local: !external,
  };
}

function required(vars: Record<string, string>, key: string): string {
  const value = vars[key];
  if (!value) throw new Error(`hack/print-env.sh did not print ${key}`);
  return value;
}
