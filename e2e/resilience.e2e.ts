// The operator's informers survive the API server going away: watches fail,
// are restarted with backoff, and the operator reconciles again afterwards
// without being restarted itself.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, resolveClusterEnv } from "./support/env.ts";
import { createTestNamespace, deleteTestNamespace, eventually } from "./support/kube.ts";
import { createArf, installChartRbac, intentWhere, type RunningOperator, startOperator } from "./support/operator.ts";
import { intentBody } from "./support/workloads.ts";

let ns: string;
let operator: RunningOperator;
const local = resolveClusterEnv().local;

beforeAll(async () => {
  ns = await createTestNamespace("e2e-resilience");
  await installChartRbac("oss");
  operator = await startOperator("resilient", ["--leader-elect=false"]);
  await eventually("ready", async () => ((await operator.ready()) ? true : undefined));
});
afterAll(async () => {
  await operator?.stop();
  await deleteTestNamespace(ns);
});

describe("informers", () => {
  it("keep working after the API server restarts", async () => {
    if (!local)
      throw new Error("this test restarts the local control plane's API server; run it against hack/cluster-up.sh");
    await createArf("healingintents", ns, intentBody("before", "restart", "Deployment", "absent"));
    await intentWhere(ns, "before", "reconciled", (i) => i.status?.phase === "Advisory");
    execFileSync("bash", [join(REPO_ROOT, "hack", "restart-component.sh"), "kube-apiserver", "3"], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    expect(operator.process.exitCode).toBeNull();
    await createArf("healingintents", ns, intentBody("after", "restart", "Deployment", "absent"));
    await intentWhere(ns, "after", "reconciled after the restart", (i) => i.status?.phase === "Advisory", 60_000);
  });
});
