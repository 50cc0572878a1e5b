// Flux and Argo CD must tell the same story about each object. Flux reads
// kstatus from the conditions the operator derives (operator/lib/kstatus.ts);
// Argo CD runs the Lua checks, whose results on these fixtures
// hack/argo-lua.test.ts proves under Argo CD's own runtime. Here every Argo
// fixture is also put through the operator's derivation and kstatus' rules,
// and the two verdicts are compared.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { IntentPhase, RETRIED_REFUSALS, TERMINAL_PHASES } from "../operator/api/index.ts";
import { withGitOpsConditions } from "../operator/lib/kstatus.ts";

const ROOT = join(import.meta.dirname, "..", "argocd", "resource_customizations", "arf.dev");
const PLURALS: Record<string, string> = {
  HealingIntent: "healingintents",
  ApprovalPolicy: "approvalpolicies",
  RollbackPlan: "rollbackplans",
};

type KstatusVerdict = "InProgress" | "Failed" | "Current" | "Terminating";

/** kstatus' generic rules for a custom resource (sigs.k8s.io/cli-utils/pkg/kstatus/status), as ../shared/anchors.md lists them. */
function kstatus(object: any): KstatusVerdict {
  if (object.metadata?.deletionTimestamp) return "Terminating";
  const status = object.status ?? {};
  if (typeof status.observedGeneration === "number" && status.observedGeneration !== object.metadata?.generation) {
    return "InProgress";
  }
  const conditions: Array<{ type: string; status: string }> = status.conditions ?? [];
  const is = (type: string, value: string) => conditions.some((c) => c.type === type && c.status === value);
  if (is("Reconciling", "True")) return "InProgress";
  if (is("Stalled", "True")) return "Failed";
  if (is("Ready", "True")) return "Current";
  if (is("Ready", "False") || is("Ready", "Unknown")) return "InProgress";
  return "Current";
}

/** What a Flux `wait: true` makes of each Argo CD health status. */
const FLUX_EQUIVALENT: Record<string, KstatusVerdict> = {
  Healthy: "Current",
  // Waiting for people (an approval, a judgment of an inconclusive window) must not hold up a sync.
  Suspended: "Current",
  Progressing: "InProgress",
  Degraded: "Failed",
};

const cases = Object.keys(PLURALS).flatMap((kind) => {
  const tests = (parse(readFileSync(join(ROOT, kind, "health_test.yaml"), "utf8")) as { tests: any[] }).tests;
  return tests.map((t) => ({
    kind,
    fixture: String(t.inputPath),
    argo: String(t.healthStatus.status),
    object: parse(readFileSync(join(ROOT, kind, t.inputPath), "utf8")),
  }));
});

describe("Flux (kstatus) and Argo CD agree on every Argo fixture", () => {
  it("covers every fixture of every kind", () => {
    for (const kind of Object.keys(PLURALS)) {
      const files = readdirSync(join(ROOT, kind, "testdata"));
      expect(cases.filter((c) => c.kind === kind).length).toBe(files.length);
    }
  });

  it.each(
    cases.filter(
      (c) =>
        // Argo CD answers "Pending deletion" itself for an object being deleted; kstatus says Terminating.
        !c.object.metadata?.deletionTimestamp &&
        // Statuses the operator never writes, there to show the scripts survive them: a newer
        // operator's phase, conditions another writer set, a status without what the operator always writes.
        !/newer-|reconciling|stalled|not-validated|no-phase/.test(c.fixture),
    ),
  )("$kind $fixture: Argo CD $argo", ({ kind, object, argo }) => {
    // The CRDs default a missing status to { observedGeneration: 0 }, as the API server returns it.
    const status = object.status ?? { observedGeneration: 0 };
    const derived = {
      ...object,
      status: withGitOpsConditions(PLURALS[kind] as string, status, new Date("2026-11-22T10:00:00Z")),
    };
    expect(kstatus(derived)).toBe(FLUX_EQUIVALENT[argo]);
  });
});

describe("the facts each tool keeps in its own language stay the operator's", () => {
  const lua = readFileSync(join(ROOT, "HealingIntent", "health.lua"), "utf8");
  const luaSet = (name: string) => {
    const table = lua.match(new RegExp(`local ${name} = \\{([^}]*)\\}`))?.[1] ?? "";
    return [...table.matchAll(/(\w+)\s*=\s*true/g)].map((m) => m[1]).sort();
  };

  it("the Argo CD script retries the refusals the operator retries", () => {
    expect(luaSet("RETRYABLE_REFUSALS")).toEqual([...RETRIED_REFUSALS].sort());
  });

  it("the plugin refuses to approve exactly the phases the operator never decides again", () => {
    const plugin = readFileSync(join(import.meta.dirname, "..", "bin", "kubectl-arf"), "utf8");
    const tuple = plugin.match(/if phase in \(([^)]*)\):/)?.[1] ?? "";
    expect([...tuple.matchAll(/"(\w+)"/g)].map((m) => m[1]).sort()).toEqual([...TERMINAL_PHASES].sort());
  });

  it("every phase has an Argo CD fixture, so the agreement above covers them all", () => {
    const fixturePhases = new Set(cases.filter((c) => c.kind === "HealingIntent").map((c) => c.object.status?.phase));
    expect(IntentPhase.options.filter((phase) => !fixturePhases.has(phase))).toEqual([]);
  });
});
