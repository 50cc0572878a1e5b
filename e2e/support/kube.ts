// Clients for the test's named users, and small helpers the e2e tests share.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { inject } from "vitest";
import { REPO_ROOT } from "./env.ts";

export type TestUser = "admin" | "requester" | "alice" | "bob" | "outsider" | "operator";

export interface Clients {
  kc: k8s.KubeConfig;
  objects: k8s.KubernetesObjectApi;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  custom: k8s.CustomObjectsApi;
  rbac: k8s.RbacAuthorizationV1Api;
}

export function kubeConfigFor(user: TestUser): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(inject("kubeconfig"));
  const context = `arf-${user}`;
  if (!kc.getContextObject(context)) throw new Error(`kubeconfig ${inject("kubeconfig")} has no context ${context}`);
  kc.setCurrentContext(context);
  return kc;
}

export function clientsFor(user: TestUser): Clients {
  const kc = kubeConfigFor(user);
  return {
    kc,
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
  };
}

export async function createTestNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  await clientsFor("admin").core.createNamespace({ body: { metadata: { name, labels: { "arf.dev/e2e": "true" } } } });
  return name;
}

export async function deleteTestNamespace(name: string): Promise<void> {
  await clientsFor("admin")
    .core.deleteNamespace({ name })
    .catch(() => undefined);
}

export interface ApiFailure {
  code: number;
  message: string;
}

/** Awaits a call that must fail, and returns the API server's status code and message. */
export async function apiFailure(call: Promise<unknown>): Promise<ApiFailure> {
  try {
    await call;
  } catch (error) {
    if (error instanceof k8s.ApiException) {
      const body = typeof error.body === "string" ? safeJson(error.body) : error.body;
      return { code: error.code, message: String((body as { message?: string })?.message ?? error.body) };
    }
    throw error;
  }
  throw new Error("expected the API server to refuse the request, but it succeeded");
}

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
};

/** Polls until check returns a value other than undefined, or fails with the last observation. */
export async function eventually<T>(
  description: string,
  check: () => Promise<T | undefined>,
  { timeoutMs = 60_000, intervalMs = 250 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${description}${last ? `; last error: ${last}` : ""}`);
}

/** Runs kubectl as a test user, optionally feeding it stdin; rejects (with .stdout and .stderr) on a non-zero exit. */
export function kubectl(args: string[], user: TestUser = "admin", input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(inject("kubectl"), ["--kubeconfig", inject("kubeconfig"), "--context", `arf-${user}`, ...args]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(stdout);
      else reject(Object.assign(new Error(`kubectl ${args.join(" ")} exited ${code}: ${stderr}`), { stdout, stderr }));
    });
    child.stdin.end(input ?? "");
  });
}

/** Lets the given users read, create and patch HealingIntents in a namespace (they can then append approvals). */
export async function allowToWriteIntents(namespace: string, users: TestUser[]): Promise<void> {
  const { rbac } = clientsFor("admin");
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name: "intents" },
      rules: [
        { apiGroups: ["arf.dev"], resources: ["healingintents"], verbs: ["get", "list", "watch", "create", "patch"] },
      ],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: "intents" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "intents" },
      subjects: users.map((name) => ({ kind: "User", apiGroup: "rbac.authorization.k8s.io", name })),
    },
  });
}

export interface AuditEvent {
  verb: string;
  user: { username: string; groups?: string[] };
  impersonatedUser?: { username: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  requestURI: string;
  responseStatus?: { code: number };
  stage: string;
  requestReceivedTimestamp: string;
}

export function readAuditEvents(): AuditEvent[] {
  const path = inject("auditLog");
  if (!path) throw new Error("this test reads the API server's audit log: set ARF_E2E_AUDIT_LOG to its path");
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as AuditEvent);
}

const WORKLOAD_RESOURCES = ["deployments", "statefulsets", "daemonsets"];

/**
 * Writes the operator made since a time (dry runs excluded), to workloads by
 * default, or to the given resources, optionally in one namespace or to one name.
 * The operator is the token user "arf-operator" unless `user` names another
 * (an in-cluster operator is its ServiceAccount), or is null for anyone's writes.
 */
export function operatorWrites(
  since: number,
  where: { resources?: string[]; namespace?: string; name?: string; user?: string | null } = {},
): AuditEvent[] {
  const resources = where.resources ?? WORKLOAD_RESOURCES;
  const user = where.user === undefined ? "arf-operator" : where.user;
  return readAuditEvents().filter(
    (e) =>
      (user === null || e.user.username === user) &&
      e.stage === "ResponseComplete" &&
      ["create", "update", "patch", "delete"].includes(e.verb) &&
      resources.includes(e.objectRef?.resource ?? "") &&
      (where.namespace === undefined || e.objectRef?.namespace === where.namespace) &&
      (where.name === undefined || e.objectRef?.name === where.name) &&
      !e.requestURI.includes("dryRun=") &&
      new Date(e.requestReceivedTimestamp).getTime() >= since,
  );
}

/** Runs the kubectl-arf plugin (bin/kubectl-arf) as a test user in a namespace. */
export function kubectlArf(
  namespace: string,
  user: TestUser,
  args: string[],
): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(
    join(REPO_ROOT, "bin", "kubectl-arf"),
    [...args, "-n", namespace, "--kubeconfig", inject("kubeconfig"), "--context", `arf-${user}`],
    { env: { ...process.env, KUBECTL: inject("kubectl") } },
  );
}
