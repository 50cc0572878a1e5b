// The executor against a fake API server: what it reads, what it writes, and
// which failures end an attempt (PermanentFailure) or are retried.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Desired } from "../api/index.ts";
import { sourceDigest } from "../intent/digest.ts";
import type { Plan } from "../intent/plan.ts";
import { createExecutor, desiredFromPlan, type Executor, PermanentFailure } from "./executor.ts";

interface Request {
  method: string;
  path: string;
  contentType?: string;
  body?: unknown;
}
type Reply = { status: number; body: unknown };

const APPS = "/apis/apps/v1/namespaces/ns";
let server: Server;
let executor: Executor;
let requests: Request[];
let routes: Map<string, Reply | Reply[]>;

const status = (code: number, message: string) => ({ kind: "Status", apiVersion: "v1", code, message });
const route = (method: string, path: string, ...replies: Reply[]) =>
  routes.set(`${method} ${path}`, replies.length === 1 ? (replies[0] as Reply) : replies);
const ok = (body: unknown): Reply => ({ status: 200, body });
const writes = () => requests.filter((r) => r.method === "PATCH");

async function bodyOf(request: IncomingMessage): Promise<unknown> {
  let text = "";
  for await (const chunk of request) text += chunk;
  return text ? JSON.parse(text) : undefined;
}

beforeAll(async () => {
  server = createServer(async (request, response) => {
    const path = (request.url ?? "").split("?")[0] as string;
    requests.push({
      method: request.method ?? "",
      path,
      contentType: request.headers["content-type"],
      body: await bodyOf(request),
    });
    const found = routes.get(`${request.method} ${path}`);
    const reply = Array.isArray(found) ? (found.length > 1 ? found.shift() : found[0]) : found;
    const { status: code, body } = reply ?? { status: 404, body: status(404, `${path} not found`) };
    response.writeHead(code, { "Content-Type": "application/json" });
    response.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [
      { name: "fake", server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true },
    ],
    users: [{ name: "u" }],
    contexts: [{ name: "fake", cluster: "fake", user: "u" }],
    currentContext: "fake",
  });
  executor = createExecutor(kc);
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => {
  requests = [];
  routes = new Map();
});

const uid = "uid-web";
const owner = { apiVersion: "apps/v1", kind: "Deployment", name: "web", uid, controller: true };
// A template with a field the client library's model classes do not know.
const template = (image: string) => ({
  metadata: { labels: { app: "web" }, creationTimestamp: null },
  spec: { containers: [{ name: "app", image }], fieldFromTheFuture: { enabled: true } },
});
const deployment = (image: string, generation = 3) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: {
    name: "web",
    namespace: "ns",
    uid,
    generation,
    resourceVersion: "100",
    annotations: { "deployment.kubernetes.io/revision": "2", "kubernetes.io/change-cause": "v2", "keep/me": "x" },
  },
  spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template: template(image) },
});
const replicaSet = {
  apiVersion: "apps/v1",
  kind: "ReplicaSet",
  metadata: {
    name: "web-1",
    namespace: "ns",
    labels: { app: "web", "pod-template-hash": "h1" },
    annotations: {
      "deployment.kubernetes.io/revision": "1",
      "deployment.kubernetes.io/desired-replicas": "2",
      "kubernetes.io/change-cause": "v1",
    },
    ownerReferences: [owner],
  },
  spec: {
    selector: { matchLabels: { app: "web" } },
    template: {
      ...template("web:1"),
      metadata: { labels: { app: "web", "pod-template-hash": "h1" }, creationTimestamp: null },
    },
  },
};
const rollbackDeployment: Desired = {
  type: "rollbackDeployment",
  source: "web-1",
  toRevision: 1,
  fromRevision: 2,
  expectedGeneration: 3,
};

/** A failure that is retried: neither permanent nor a client-side mistake, but the API server's answer. */
const retryable = (error: Error, code: number) => {
  expect(error).not.toBeInstanceOf(PermanentFailure);
  expect(error).toBeInstanceOf(k8s.ApiException);
  expect((error as k8s.ApiException<unknown>).code).toBe(code);
};

const failure = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a failure");
};

describe("desiredFromPlan", () => {
  const plan = (mutation: Extract<Plan, { ok: true }>["mutation"]): Extract<Plan, { ok: true }> => ({
    ok: true,
    noop: false,
    summary: "",
    changes: [],
    mutation,
    fromRevision: 2,
    generation: 9,
  });

  it.each([
    ["2026-11-21T10:00:00.999Z", "2026-11-21T10:00:00Z"],
    ["2026-11-21T12:00:00.5+02:00", "2026-11-21T10:00:00Z"],
    ["2026-11-21T10:00:07Z", "2026-11-21T10:00:07Z"],
  ])("restartedAt for an attempt started at %s is %s (kubectl's RFC 3339, seconds)", (startedAt, expected) => {
    expect(desiredFromPlan(plan({ type: "restart" }), startedAt)).toEqual({
      type: "restart",
      restartedAt: expected,
      expectedGeneration: 9,
    });
  });

  it("a rollback expects the plan's generation and source; a scale its replicas and generation", () => {
    expect(
      desiredFromPlan(
        plan({ type: "rollbackDeployment", template: {}, annotations: {}, toRevision: 1, source: "web-1" }),
        "2026-11-21T10:00:00Z",
      ),
    ).toEqual({
      type: "rollbackDeployment",
      source: "web-1",
      sourceDigest: sourceDigest({}, {}),
      toRevision: 1,
      fromRevision: 2,
      expectedGeneration: 9,
    });
    expect(desiredFromPlan(plan({ type: "scale", replicas: 3, expectedReplicas: 2 }), "2026-11-21T10:00:00Z")).toEqual({
      type: "scale",
      replicas: 3,
      expectedReplicas: 2,
      expectedGeneration: 9,
    });
  });
});

describe("what was approved, and nothing else", () => {
  const scaleTo4: Desired = { type: "scale", replicas: 4, expectedReplicas: 2, expectedGeneration: 3 };

  it("a resumed scale that landed and was undone by someone is not repeated", async () => {
    // Replicas are back at the observed 2, but the generation moved on (our scale, then theirs).
    route("GET", `${APPS}/deployments/web`, ok(deployment("web:2", 5)));
    const error = await failure(executor.apply("ns", "Deployment", "web", scaleTo4));
    expect(error).toBeInstanceOf(PermanentFailure);
    expect(error.message).toContain("changed since the plan was approved");
    expect(writes()).toEqual([]);
  });

  it("a rollback refuses a ReplicaSet edited after approval", async () => {
    const approved = {
      ...rollbackDeployment,
      sourceDigest: sourceDigest(template("web:1"), { "kubernetes.io/change-cause": "v1" }),
    };
    const edited = structuredClone(replicaSet);
    edited.spec.template.spec.containers[0] = { name: "app", image: "evil:1" };
    route("GET", `${APPS}/deployments/web`, ok(deployment("web:2")));
    route("GET", `${APPS}/replicasets/web-1`, ok(edited));
    const error = await failure(executor.apply("ns", "Deployment", "web", approved));
    expect(error).toBeInstanceOf(PermanentFailure);
    expect(error.message).toContain("was edited since the plan was approved");
    expect(writes()).toEqual([]);
    // The ReplicaSet as approved is rolled back to.
    route("GET", `${APPS}/replicasets/web-1`, ok(replicaSet));
    route("PATCH", `${APPS}/deployments/web`, ok(deployment("web:1", 4)));
    expect(await executor.apply("ns", "Deployment", "web", approved)).toMatchObject({ changed: true });
  });

  it("an admission webhook's denial (403) ends the attempt instead of retrying forever", async () => {
    route("GET", `${APPS}/deployments/web`, ok(deployment("web:2", 3)));
    route("PATCH", `${APPS}/deployments/web/scale`, { status: 403, body: status(403, "denied by policy") });
    const error = await failure(executor.apply("ns", "Deployment", "web", scaleTo4));
    expect(error).toBeInstanceOf(PermanentFailure);
    expect(error.message).toContain("refused (403)");
  });

  it("runs beforeWrite immediately before the write, and a throw there stops it", async () => {
    route("GET", `${APPS}/deployments/web`, ok(deployment("web:2", 3)));
    const error = await failure(
      executor.apply("ns", "Deployment", "web", scaleTo4, () => {
        throw new Error("not the leader");
      }),
    );
    expect(error.message).toBe("not the leader");
    expect(writes()).toEqual([]);
  });
});

describe("Deployment rollback", () => {
  it("writes the ReplicaSet's raw template and kubectl's annotations, behind a test of the generation", async () => {
    route("GET", `${APPS}/deployments/web`, ok(deployment("web:2")));
    route("GET", `${APPS}/replicasets/web-1`, ok(replicaSet));
    route("PATCH", `${APPS}/deployments/web`, ok(deployment("web:1", 4)));
    expect(await executor.apply("ns", "Deployment", "web", rollbackDeployment)).toMatchObject({ changed: true });
    const [write] = writes();
    expect(write?.contentType).toBe("application/json-patch+json");
    expect(write?.body).toEqual([
      { op: "test", path: "/metadata/generation", value: 3 },
      { op: "replace", path: "/spec/template", value: template("web:1") },
      {
        op: "add",
        path: "/metadata/annotations",
        value: { "deployment.kubernetes.io/revision": "2", "kubernetes.io/change-cause": "v1" },
      },
    ]);
  });

  it("changes nothing when the template already matches, even if the generation moved (a resumed attempt)", async () => {
    route("GET", `${APPS}/deployments/web`, ok(deployment("web:1", 4)));
    route("GET", `${APPS}/replicasets/web-1`, ok(replicaSet));
    expect(await executor.apply("ns", "Deployment", "web", rollbackDeployment)).toMatchObject({ changed: false });
    expect(writes()).toEqual([]);
  });

  it("refuses, without writing, when the workload changed since the plan was approved", async () => {
    route("GET", `${APPS}/deployments/web`, ok(deployment("web:3", 5)));
    route("GET", `${APPS}/replicasets/web-1`, ok(replicaSet));
    const error = await failure(executor.apply("ns", "Deployment", "web", rollbackDeployment));
    expect(error).toBeInstanceOf(PermanentFailure);
    expect(error.message).toBe(
      "deployment/web changed since the plan was approved (generation 5, approved at 3); not acting",
    );
    expect(writes()).toEqual([]);
  });

  it("a failed test operation (the world moved between read and write) is a PermanentFailure naming the generations", async () => {
    route("GET", `${APPS}/deployments/web`, ok(deployment("web:2", 3)), ok(deployment("web:3", 6)));
    route("GET", `${APPS}/replicasets/web-1`, ok(replicaSet));
    route("PATCH", `${APPS}/deployments/web`, {
      status: 422,
      body: status(422, "the server rejected our request: testing value /metadata/generation failed"),
    });
    const error = await failure(executor.apply("ns", "Deployment", "web", rollbackDeployment));
    expect(error).toBeInstanceOf(PermanentFailure);
    expect(error.message).toBe(
      "deployment/web changed since the plan was approved (generation 6, approved at 3); not acting",
    );
  });

  it("without an expected generation, a lost race is retried, not final", async () => {
    route("GET", `${APPS}/deployments/web`, ok(deployment("web:2", 3)), ok(deployment("web:3", 4)));
    route("GET", `${APPS}/replicasets/web-1`, ok(replicaSet));
    route("PATCH", `${APPS}/deployments/web`, { status: 422, body: status(422, "test failed") });
    const { expectedGeneration: _, ...desired } = rollbackDeployment;
    const error = await failure(executor.apply("ns", "Deployment", "web", desired));
    expect(error).not.toBeInstanceOf(PermanentFailure);
    expect(error.message).toBe("deployment/web changed while acting (generation 4); will retry");
    expect(writes()[0]?.body).toContainEqual({ op: "test", path: "/metadata/generation", value: 3 });
  });

  it.each([
    ["a 500", 500],
    ["a 503", 503],
    ["a 429", 429],
  ])("%s reading the ReplicaSet is retried (not a PermanentFailure)", async (_name, code) => {
    route("GET", `${APPS}/deployments/web`, ok(deployment("web:2")));
    route("GET", `${APPS}/replicasets/web-1`, { status: code, body: status(code, "etcd is slow") });
    retryable(await failure(executor.apply("ns", "Deployment", "web", rollbackDeployment)), code);
    expect(writes()).toEqual([]);
  });

  it("a 500 reading the workload is retried too", async () => {
    route("GET", `${APPS}/deployments/web`, { status: 500, body: status(500, "boom") });
    retryable(await failure(executor.apply("ns", "Deployment", "web", rollbackDeployment)), 500);
  });

  it.each([
    ["the ReplicaSet", `${APPS}/deployments/web`, "ReplicaSet web-1 of revision 1 is gone"],
    ["the Deployment", `${APPS}/replicasets/web-1`, "deployment/web no longer exists"],
  ])("a 404 for %s is a PermanentFailure", async (_name, present, message) => {
    route("GET", present, ok(present.endsWith("web") ? deployment("web:2") : replicaSet));
    const error = await failure(executor.apply("ns", "Deployment", "web", rollbackDeployment));
    expect(error).toBeInstanceOf(PermanentFailure);
    expect(error.message).toBe(message);
  });

  it("refuses a ReplicaSet the Deployment no longer controls", async () => {
    route("GET", `${APPS}/deployments/web`, ok(deployment("web:2")));
    route(
      "GET",
      `${APPS}/replicasets/web-1`,
      ok({ ...replicaSet, metadata: { ...replicaSet.metadata, ownerReferences: [{ ...owner, controller: false }] } }),
    );
    expect(await failure(executor.apply("ns", "Deployment", "web", rollbackDeployment))).toBeInstanceOf(
      PermanentFailure,
    );
    expect(writes()).toEqual([]);
  });
});

describe("StatefulSet and DaemonSet rollback", () => {
  const statefulSet = (image: string, generation = 3) => ({
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "web", namespace: "ns", uid, generation, resourceVersion: "7" },
    spec: { selector: { matchLabels: { app: "web" } }, template: template(image) },
  });
  const revision = (data: unknown) => ({
    apiVersion: "apps/v1",
    kind: "ControllerRevision",
    metadata: {
      name: "web-abc",
      namespace: "ns",
      labels: { app: "web" },
      ownerReferences: [{ ...owner, kind: "StatefulSet" }],
    },
    revision: 1,
    data,
  });
  const desired: Desired = {
    type: "rollbackControllerRevision",
    source: "web-abc",
    toRevision: 1,
    expectedGeneration: 3,
  };

  it("replaces the template with the revision's (without $patch) by a JSON patch that tests the generation", async () => {
    route("GET", `${APPS}/statefulsets/web`, ok(statefulSet("web:2")));
    route(
      "GET",
      `${APPS}/controllerrevisions/web-abc`,
      ok(revision({ spec: { template: { ...template("web:1"), $patch: "replace" } } })),
    );
    route("PATCH", `${APPS}/statefulsets/web`, ok(statefulSet("web:1", 4)));
    expect(await executor.apply("ns", "StatefulSet", "web", desired)).toMatchObject({ changed: true });
    expect(writes()[0]?.contentType).toBe("application/json-patch+json");
    expect(writes()[0]?.body).toEqual([
      { op: "test", path: "/metadata/generation", value: 3 },
      { op: "replace", path: "/spec/template", value: template("web:1") },
    ]);
  });

  it("sends other revision data as kubectl does (strategic merge), guarded by the resourceVersion", async () => {
    route("GET", `${APPS}/statefulsets/web`, ok(statefulSet("web:2")));
    const data = { spec: { template: template("web:1"), updateStrategy: { type: "OnDelete" } } };
    route("GET", `${APPS}/controllerrevisions/web-abc`, ok(revision(data)));
    route("PATCH", `${APPS}/statefulsets/web`, ok(statefulSet("web:1", 4)));
    await executor.apply("ns", "StatefulSet", "web", desired);
    expect(writes()[0]?.contentType).toBe("application/strategic-merge-patch+json");
    expect(writes()[0]?.body).toEqual({ ...data, metadata: { resourceVersion: "7" } });
  });

  it("is idempotent when the template already matches, whatever the key order", async () => {
    const live = statefulSet("web:1", 8);
    live.spec.template = {
      spec: { fieldFromTheFuture: { enabled: true }, containers: [{ image: "web:1", name: "app" }] },
      metadata: { labels: { app: "web" } },
    } as any;
    route("GET", `${APPS}/statefulsets/web`, ok(live));
    route(
      "GET",
      `${APPS}/controllerrevisions/web-abc`,
      ok(revision({ spec: { template: { ...template("web:1"), $patch: "replace" } } })),
    );
    expect(await executor.apply("ns", "StatefulSet", "web", desired)).toMatchObject({ changed: false });
    expect(writes()).toEqual([]);
  });

  it("a 500 reading the ControllerRevision is retried", async () => {
    route("GET", `${APPS}/statefulsets/web`, ok(statefulSet("web:2")));
    route("GET", `${APPS}/controllerrevisions/web-abc`, { status: 500, body: status(500, "boom") });
    retryable(await failure(executor.apply("ns", "StatefulSet", "web", desired)), 500);
  });
});

describe("restart", () => {
  const desired: Desired = { type: "restart", restartedAt: "2026-11-21T10:00:00Z", expectedGeneration: 3 };

  it.each([
    [
      "next to other annotations",
      { annotations: { a: "b" } },
      {
        op: "add",
        path: "/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt",
        value: "2026-11-21T10:00:00Z",
      },
    ],
    [
      "as the first annotation",
      { labels: { app: "web" } },
      {
        op: "add",
        path: "/spec/template/metadata/annotations",
        value: { "kubectl.kubernetes.io/restartedAt": "2026-11-21T10:00:00Z" },
      },
    ],
  ])("sets the annotation %s, behind a test of the generation", async (_name, metadata, set) => {
    route(
      "GET",
      `${APPS}/daemonsets/web`,
      ok({ metadata: { name: "web", generation: 3 }, spec: { template: { metadata } } }),
    );
    route("PATCH", `${APPS}/daemonsets/web`, ok({}));
    await executor.apply("ns", "DaemonSet", "web", desired);
    expect(writes()[0]?.body).toEqual([{ op: "test", path: "/metadata/generation", value: 3 }, set]);
  });

  it("changes nothing when the annotation is already there (a resumed attempt)", async () => {
    route(
      "GET",
      `${APPS}/daemonsets/web`,
      ok({
        metadata: { name: "web", generation: 4 },
        spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": desired.restartedAt } } } },
      }),
    );
    expect(await executor.apply("ns", "DaemonSet", "web", desired)).toMatchObject({ changed: false });
    expect(writes()).toEqual([]);
  });

  it("refuses when the workload changed since the plan was approved", async () => {
    route("GET", `${APPS}/daemonsets/web`, ok({ metadata: { name: "web", generation: 5 }, spec: { template: {} } }));
    const error = await failure(executor.apply("ns", "DaemonSet", "web", desired));
    expect(error.message).toBe(
      "daemonset/web changed since the plan was approved (generation 5, approved at 3); not acting",
    );
  });
});

describe("scale", () => {
  const withReplicas = (replicas: number) => {
    const d = deployment("web:2");
    d.spec.replicas = replicas;
    return d;
  };

  it("reads the workload once (its replicas are its Scale's) and keeps the test on /spec/replicas", async () => {
    route("GET", `${APPS}/deployments/web`, ok(withReplicas(2)));
    route("PATCH", `${APPS}/deployments/web/scale`, ok({ kind: "Scale", spec: { replicas: 3 } }));
    await executor.apply("ns", "Deployment", "web", { type: "scale", replicas: 3, expectedReplicas: 2 });
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${APPS}/deployments/web`,
      `PATCH ${APPS}/deployments/web/scale`,
    ]);
    expect(writes()[0]?.body).toEqual([
      { op: "test", path: "/spec/replicas", value: 2 },
      { op: "replace", path: "/spec/replicas", value: 3 },
    ]);
  });

  it("refuses when the replicas are not those observed when the intent was decided", async () => {
    route("GET", `${APPS}/deployments/web`, ok(withReplicas(5)));
    const error = await failure(
      executor.apply("ns", "Deployment", "web", { type: "scale", replicas: 3, expectedReplicas: 2 }),
    );
    expect(error).toBeInstanceOf(PermanentFailure);
    expect(error.message).toContain("has 5 replicas, not the 2 observed");
    expect(writes()).toEqual([]);
  });

  it("scales up from zero, which a Scale omits, testing that its spec is still empty", async () => {
    route("GET", `${APPS}/deployments/web`, ok(withReplicas(0)));
    route("PATCH", `${APPS}/deployments/web/scale`, ok({ kind: "Scale", spec: { replicas: 2 } }));
    await executor.apply("ns", "Deployment", "web", { type: "scale", replicas: 2, expectedReplicas: 0 });
    expect(writes()[0]?.body).toEqual([
      { op: "test", path: "/spec", value: {} },
      { op: "add", path: "/spec/replicas", value: 2 },
    ]);
  });

  it("an undo never scales over replicas that moved since the action (an autoscaler, a person)", async () => {
    route("GET", `${APPS}/deployments/web`, ok(withReplicas(7)));
    const error = await failure(
      executor.restore("ns", "Deployment", "web", { replicas: 2 }, undefined, { replicas: 4 }),
    );
    expect(error).toBeInstanceOf(PermanentFailure);
    expect(error.message).toContain("has 7 replicas, not the 4 the action left; not undoing");
    expect(writes()).toEqual([]);
  });

  it("an undo restores replicas from zero, testing that the Scale's spec is still empty", async () => {
    route("GET", `${APPS}/deployments/web`, ok(withReplicas(0)));
    route("PATCH", `${APPS}/deployments/web/scale`, ok({ kind: "Scale", spec: { replicas: 3 } }));
    await executor.restore("ns", "Deployment", "web", { replicas: 3 }, undefined, { replicas: 0 });
    expect(writes()[0]?.body).toEqual([
      { op: "test", path: "/spec", value: {} },
      { op: "add", path: "/spec/replicas", value: 3 },
    ]);
  });

  it("a 500 reading the workload is retried", async () => {
    route("GET", `${APPS}/deployments/web`, { status: 500, body: status(500, "boom") });
    retryable(
      await failure(executor.apply("ns", "Deployment", "web", { type: "scale", replicas: 3, expectedReplicas: 2 })),
      500,
    );
  });
});
