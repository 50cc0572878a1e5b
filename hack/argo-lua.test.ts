// The Argo CD health checks in argocd/, run by Argo CD's own Lua runtime: the
// runner hack/argo-lua is built (by hack/build-binaries.sh) against util/lua of
// the Argo CD release in hack/versions.env, and runs each script as argocd-cm
// installs it: gopher-lua without the string library, with a 1 s timeout.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { z } from "zod";
import {
  ApprovalPolicySpec,
  ApprovalPolicyStatus,
  HealingIntentSpec,
  HealingIntentStatus,
  RollbackPlanSpec,
  RollbackPlanStatus,
} from "../operator/api/index.ts";
import { cacheDir } from "./cache-dirs.ts";
import { ARGOCD_CM_PATH, CUSTOMIZATIONS_DIR, healthScripts, renderArgoCDConfigMap } from "./gen-argocd-cm.ts";

const REPO_ROOT = join(import.meta.dirname, "..");
const GROUP_DIR = join(CUSTOMIZATIONS_DIR, "arf.dev");
// Where hack/build-binaries.sh puts the runner: the same helper decides.
const RUNNER = join(cacheDir("argo_lua_bin_dir"), "argo-lua");

interface HealthStatus {
  status: string;
  message: string;
}
interface RunnerResult {
  file: string;
  inputPath: string;
  actual: HealthStatus | null;
  error?: string;
  ok: boolean;
}
interface Fixture {
  kind: string;
  inputPath: string;
  expected: HealthStatus;
}

/** For tests that start the runner: each run takes up to a second or two (the settings manager, the 1 s timeout). */
const RUNNER_TIMEOUT_MS = 60_000;

const KINDS = ["HealingIntent", "ApprovalPolicy", "RollbackPlan"] as const;
type Kind = (typeof KINDS)[number];

/** Every test of every health_test.yaml, read here, independently of the runner. */
const fixtures: Fixture[] = KINDS.flatMap((kind) => {
  const tests = parse(readFileSync(join(GROUP_DIR, kind, "health_test.yaml"), "utf8")).tests as Array<{
    inputPath: string;
    healthStatus: HealthStatus;
  }>;
  return tests.map((test) => ({ kind, inputPath: test.inputPath, expected: test.healthStatus }));
});

/** Runs the runner; the JSON it prints, whatever its exit code. */
function runArgoLua(args: string[]): { exitCode: number | null; output: unknown; stderr: string } {
  if (!existsSync(RUNNER)) {
    throw new Error(`${RUNNER} is missing: run \`bash hack/build-binaries.sh\` to build Argo CD's Lua runner`);
  }
  const run = spawnSync(RUNNER, args, { encoding: "utf8", timeout: 60_000 });
  if (run.error) throw run.error;
  let output: unknown;
  try {
    output = JSON.parse(run.stdout);
  } catch {
    throw new Error(`argo-lua ${args.join(" ")} printed no JSON (exit ${run.status}): ${run.stderr}`);
  }
  return { exitCode: run.status, output, stderr: run.stderr };
}

const resultsOf = (output: unknown) => (output as { results: RunnerResult[] }).results;
const fixtureKey = (kind: string, inputPath: string) => `${kind}/${inputPath}`;
const resultKey = (result: RunnerResult) =>
  fixtureKey(relative(GROUP_DIR, result.file).split("/")[0] ?? "", result.inputPath);

describe("Argo CD health checks, run by Argo CD's Lua runtime", () => {
  let results: Map<string, RunnerResult>;
  let run: ReturnType<typeof runArgoLua>;
  beforeAll(() => {
    run = runArgoLua(["test", CUSTOMIZATIONS_DIR]);
    results = new Map(resultsOf(run.output).map((result) => [resultKey(result), result]));
  }, RUNNER_TIMEOUT_MS);

  it.each(fixtures.map((f) => [f.kind, f.inputPath, f.expected.status, f]))(
    "%s %s is %s",
    (_kind, _path, _status, fixture) => {
      const result = results.get(fixtureKey(fixture.kind, fixture.inputPath));
      expect(result, "the runner ran this fixture").toBeDefined();
      expect(result?.error).toBeUndefined();
      expect(result?.actual).toEqual(fixture.expected);
    },
  );

  it("the runner ran every fixture and agrees with every expectation", () => {
    expect(results.size).toBe(fixtures.length);
    expect(run.exitCode, run.stderr).toBe(0);
  });

  it(
    "installed from argocd-cm-health.yaml, through Argo CD's settings manager, the checks give the same results",
    () => {
      const fromConfigMap = runArgoLua(["--argocd-cm", ARGOCD_CM_PATH, "test", CUSTOMIZATIONS_DIR]);
      expect(fromConfigMap.exitCode, fromConfigMap.stderr).toBe(0);
      expect(resultsOf(fromConfigMap.output).map((r) => r.actual)).toEqual(resultsOf(run.output).map((r) => r.actual));
    },
    RUNNER_TIMEOUT_MS,
  );

  it(
    "reads the scripts from the ConfigMap, not from the health.lua files",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "argocd-cm-"));
      try {
        const scripts = healthScripts();
        scripts.delete("resource.customizations.health.arf.dev_RollbackPlan");
        writeFileSync(join(dir, "argocd-cm.yaml"), renderArgoCDConfigMap(scripts));
        const partial = runArgoLua(["--argocd-cm", join(dir, "argocd-cm.yaml"), "test", CUSTOMIZATIONS_DIR]);
        const missing = resultsOf(partial.output).filter(
          (r) => r.error === "no health script for arf.dev/RollbackPlan",
        );
        expect(missing.map(resultKey)).toEqual(
          fixtures.filter((f) => f.kind === "RollbackPlan").map((f) => fixtureKey(f.kind, f.inputPath)),
        );
      } finally {
        rmSync(dir, { recursive: true });
      }
    },
    RUNNER_TIMEOUT_MS,
  );

  it.each<[Kind, string[]]>([
    ["HealingIntent", ["Healthy", "Progressing", "Degraded", "Suspended"]],
    ["ApprovalPolicy", ["Healthy", "Progressing", "Degraded"]],
    ["RollbackPlan", ["Healthy", "Progressing", "Degraded", "Suspended"]],
  ])("the %s fixtures reach every status it can report: %j", (kind, statuses) => {
    const reached = new Set(fixtures.filter((f) => f.kind === kind).map((f) => f.expected.status));
    expect([...reached].sort()).toEqual([...statuses].sort());
  });

  it("every file in testdata/ is some test's input", () => {
    for (const kind of KINDS) {
      const inputs = fixtures.filter((f) => f.kind === kind).map((f) => f.inputPath);
      const files = readdirSync(join(GROUP_DIR, kind, "testdata")).map((file) => `testdata/${file}`);
      expect(inputs.sort()).toEqual(files.sort());
    }
  });

  it(
    "in the application controller, gitops-engine answers for an object being deleted before the script runs",
    () => {
      const deleting = runArgoLua([
        "--controller",
        "health",
        join(GROUP_DIR, "HealingIntent", "testdata", "deleting.yaml"),
        join(GROUP_DIR, "HealingIntent", "health.lua"),
      ]);
      expect(deleting.output).toEqual({ status: "Progressing", message: "Pending deletion" });
    },
    RUNNER_TIMEOUT_MS,
  );
});

describe("Argo CD's sandbox: no string library", () => {
  /** The code of a Lua script without its comments and string literals. */
  const codeOf = (script: string) =>
    script
      .replace(/--\[(=*)\[[\s\S]*?\]\1\]/g, "")
      .replace(/"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g, '""')
      .replace(/--.*$/gm, "");

  it.each(KINDS)("%s/health.lua calls nothing from the string library, as a function or a method", (kind) => {
    const code = codeOf(readFileSync(join(GROUP_DIR, kind, "health.lua"), "utf8"));
    expect(code).not.toMatch(/\bstring\s*[.[]/);
    // s:sub(...) and friends reach the string library through the strings' metatable.
    expect(code).not.toMatch(/[\w)\]"']\s*:\s*[A-Za-z_]\w*\s*[("{]/);
  });

  it("the grep would catch a string call", () => {
    expect(codeOf('local s = string.format("%d", 1)')).toMatch(/\bstring\s*[.[]/);
    expect(codeOf('local n = name:upper() -- "x"')).toMatch(/[\w)\]"']\s*:\s*[A-Za-z_]\w*\s*[("{]/);
  });

  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "argo-lua-"));
  });
  afterAll(() => rmSync(dir, { recursive: true }));

  it.each([
    ["string.format", 'return { status = "Healthy", message = string.format("%d rounds", 3) }', "with key 'format'"],
    [
      "a string method",
      'local name = "web"\nreturn { status = "Healthy", message = name:upper() }',
      "with key 'upper'",
    ],
    ["an endless loop (the 1 s timeout)", "while true do end", "context deadline exceeded"],
  ])(
    "the runner, like Argo CD, fails a script that uses %s",
    (_what, script, error) => {
      const path = join(dir, "health.lua");
      writeFileSync(path, script);
      const run = runArgoLua(["health", join(GROUP_DIR, "ApprovalPolicy", "testdata", "in-force.yaml"), path]);
      expect(run.exitCode).toBe(1);
      expect((run.output as { error: string }).error).toContain(error);
    },
    RUNNER_TIMEOUT_MS,
  );
});

describe("the fixtures are objects the operator writes", () => {
  const SCHEMAS: Record<Kind, { spec: z.ZodType; status: z.ZodType }> = {
    HealingIntent: { spec: HealingIntentSpec, status: HealingIntentStatus },
    ApprovalPolicy: { spec: ApprovalPolicySpec, status: ApprovalPolicyStatus },
    RollbackPlan: { spec: RollbackPlanSpec, status: RollbackPlanStatus },
  };
  // invalid* fixtures hold a spec the operator rejects; newer-* ones a phase or window state of a future operator.
  it.each(fixtures.map((f) => [f.kind, f.inputPath, f]))("%s %s matches the zod types", (_kind, _path, fixture) => {
    const object = parse(readFileSync(join(GROUP_DIR, fixture.kind, fixture.inputPath), "utf8"));
    const schemas = SCHEMAS[fixture.kind as Kind];
    expect(object.apiVersion).toBe("arf.dev/v1alpha1");
    expect(object.kind).toBe(fixture.kind);
    if (fixture.inputPath.startsWith("testdata/invalid"))
      expect(schemas.spec.safeParse(object.spec).success).toBe(false);
    else expect(schemas.spec.safeParse(object.spec).error).toBeUndefined();
    const fromTheFuture = fixture.inputPath.startsWith("testdata/newer-");
    if (object.status !== undefined && !fromTheFuture) {
      expect(schemas.status.safeParse(object.status).error).toBeUndefined();
    }
    if (fromTheFuture) expect(schemas.status.safeParse(object.status).success).toBe(false);
  });
});

describe("argocd/argocd-cm-health.yaml", () => {
  it("is what hack/gen-argocd-cm.ts prints (run `node hack/gen-argocd-cm.ts > argocd/argocd-cm-health.yaml`)", () => {
    expect(readFileSync(ARGOCD_CM_PATH, "utf8")).toBe(renderArgoCDConfigMap());
  });

  it("holds each health.lua, byte for byte, under its resource.customizations.health key", () => {
    const configMap = parse(readFileSync(ARGOCD_CM_PATH, "utf8"));
    expect(configMap.metadata.name).toBe("argocd-cm");
    expect(configMap.data).toEqual(
      Object.fromEntries(
        KINDS.map((kind) => [
          `resource.customizations.health.arf.dev_${kind}`,
          readFileSync(join(GROUP_DIR, kind, "health.lua"), "utf8"),
        ]),
      ),
    );
  });
});

describe("argocd/application.yaml", () => {
  const application = parse(readFileSync(join(REPO_ROOT, "argocd", "application.yaml"), "utf8"));

  it("leaves approvals, which `kubectl arf approve` adds, out of the diff and out of the sync", () => {
    const ignored = application.spec.ignoreDifferences as Array<Record<string, unknown>>;
    expect(ignored).toContainEqual(
      expect.objectContaining({ group: "arf.dev", kind: "HealingIntent", jsonPointers: ["/spec/approvals"] }),
    );
    expect(application.spec.syncPolicy.syncOptions).toEqual(
      expect.arrayContaining(["RespectIgnoreDifferences=true", "ServerSideApply=true"]),
    );
  });
});
