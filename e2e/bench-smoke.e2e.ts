// The benchmark cannot rot: a smoke run (tiny sizes) against the suite's
// cluster must finish and write a report with every section. Timings are
// never asserted; only that each figure was measured.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { REPO_ROOT } from "./support/env.ts";
import { removeLicensedEdition } from "./support/license.ts";
import { installChartRbac } from "./support/operator.ts";

const out = join(".tmp", "bench-smoke.json");

beforeAll(() => installChartRbac("licensed"));
afterAll(() => removeLicensedEdition());

describe("npm run bench", () => {
  it("runs end to end in smoke size and writes every figure beside its baseline", () => {
    const run = spawnSync(
      process.execPath,
      [
        join(REPO_ROOT, "hack", "bench.ts"),
        "--quick",
        "--sizes",
        "20",
        "--memory",
        "40",
        "--windows",
        "1",
        "--out",
        out,
      ],
      { cwd: REPO_ROOT, encoding: "utf8", env: { ...process.env, KUBECONFIG: inject("kubeconfig") }, timeout: 240_000 },
    );
    expect(run.status, run.stderr.slice(-3000)).toBe(0);
    expect(run.stdout).toContain("| burst | N |");
    const report = JSON.parse(readFileSync(join(REPO_ROOT, out), "utf8"));
    expect(report.bursts.map((b: any) => `${b.mode} ${b.n}`)).toEqual(["advisory 20", "autonomous 20"]);
    for (const burst of report.bursts) {
      expect(burst.latencyMs.p50).toBeGreaterThan(0);
      expect(burst.baseline.latencyMs.p50).toBeGreaterThan(0);
      expect(burst.ratios.throughput).toBeGreaterThan(0);
      expect(burst.apiRequestsPerIntent).toBeGreaterThan(0);
      expect(Object.keys(burst.apiRequests)).toContain("update healingintents/status");
      expect(burst.restartWrites).toBeTypeOf("number");
    }
    // Every intent of each burst was decided; the autonomous ones acted.
    expect(report.bursts[0].phases).toEqual({ Advisory: 20 });
    expect(report.bursts[1].phases).toEqual({ Succeeded: 20 });
    expect(report.memory[0]).toMatchObject({ intents: 40 });
    expect(report.memory[0].heapUsedMiB).toBeGreaterThan(0);
    expect(report.heapTop.length).toBeGreaterThan(0);
    expect(report.reaction.windows).toBe(1);
  }, 300_000);
});
