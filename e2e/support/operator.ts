// Runs the real operator process against the test cluster as the token user
// "arf-operator", bound only by the chart's RBAC for the chosen edition.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { inject } from "vitest";
import { REPO_ROOT } from "./env.ts";
import { clientsFor, eventually, kubectl } from "./kube.ts";
import { freePort } from "./ports.ts";

const run = promisify(execFile);
export const OPERATOR_NAMESPACE = "arf-system";

/** Applies the chart's RBAC for an edition, bound to the operator's token user. */
export async function installChartRbac(edition: "oss" | "licensed", extraSets: string[] = []): Promise<void> {
  const { core } = clientsFor("admin");
  await core.createNamespace({ body: { metadata: { name: OPERATOR_NAMESPACE } } }).catch(() => undefined);
  const { stdout } = await run(inject("helm"), [
    "template",
    "arf",
    join(REPO_ROOT, "charts", "arf-operator"),
    "--namespace",
    OPERATOR_NAMESPACE,
    "--kube-version",
    "1.35.0",
    "--set",
    `edition=${edition}`,
    "--set",
    "rbac.extraUsers={arf-operator}",
    ...extraSets.flatMap((set) => ["--set", set]),
    "--show-only",
    "templates/rbac.yaml",
  ]);
  await kubectl(["apply", "-f", "-"], "admin", stdout);
}

export interface RunningOperator {
  identity: string;
  port: number;
  process: ChildProcess;
  logFile: string;
  metrics(): Promise<string>;
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  ready(): Promise<boolean>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startOperator(identity: string, extraArgs: string[] = []): Promise<RunningOperator> {
  const port = await freePort();
  const logDir = join(REPO_ROOT, ".tmp", "e2e-logs");
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${identity}.log`);
  const child = spawn(
    process.execPath,
    [
      join(REPO_ROOT, "operator", "main.ts"),
      `--kubeconfig=${inject("kubeconfig")}`,
      "--context=arf-operator",
      "--http-host=127.0.0.1",
      `--http-port=${port}`,
      `--leader-election-namespace=${OPERATOR_NAMESPACE}`,
      `--identity=${identity}`,
      "--log-level=debug",
      ...extraArgs,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const log = createWriteStream(logFile);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const base = `http://127.0.0.1:${port}`;
  const handle: RunningOperator = {
    identity,
    port,
    process: child,
    logFile,
    metrics: async () => (await fetch(`${base}/metrics`)).text(),
    async metric(name, labels = {}) {
      const text = await handle.metrics();
      const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
      for (const line of text.split("\n")) {
        if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
        if (wanted.every((w) => line.includes(w))) return Number(line.slice(line.lastIndexOf(" ") + 1));
      }
      return undefined;
    },
    async ready() {
      try {
        return (await fetch(`${base}/readyz`)).ok;
      } catch {
        return false;
      }
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
  await eventually(`operator ${identity} to serve /healthz`, async () => {
    if (child.exitCode !== null)
      throw new Error(`operator exited with ${child.exitCode}: ${readFileSync(logFile, "utf8").slice(-2000)}`);
    const response = await fetch(`${base}/healthz`).catch(() => undefined);
    return response?.ok ? true : undefined;
  });
  return handle;
}

export const GROUP = "arf.dev";
export const VERSION = "v1alpha1";

export async function getArf(plural: string, namespace: string, name: string): Promise<any> {
  return clientsFor("admin").custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural,
    name,
  });
}

export async function createArf(
  plural: string,
  namespace: string,
  body: any,
  user: "admin" | "requester" = "admin",
): Promise<any> {
  return clientsFor(user).custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural,
    body,
  });
}

/** Waits until the intent's status satisfies the check, and returns the intent. */
export function intentWhere(
  namespace: string,
  name: string,
  description: string,
  check: (intent: any) => boolean,
  timeoutMs = 30_000,
) {
  return eventually(
    `HealingIntent ${name}: ${description}`,
    async () => {
      const intent = await getArf("healingintents", namespace, name);
      return check(intent) ? intent : undefined;
    },
    { timeoutMs },
  );
}

export const condition = (object: any, type: string) => object?.status?.conditions?.find((c: any) => c.type === type);
