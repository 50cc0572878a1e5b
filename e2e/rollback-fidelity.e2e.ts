import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEPLOYMENT_OWNED_ANNOTATIONS } from "../operator/intent/plan.ts";
import { clientsFor, createTestNamespace, deleteTestNamespace, eventually, kubectl } from "./support/kube.ts";
import { quickLeaseArgs, removeLicensedEdition, TestLicenses } from "./support/license.ts";
import { createArf, installChartRbac, intentWhere, type RunningOperator, startOperator } from "./support/operator.ts";
import { intentBody, policyBody } from "./support/workloads.ts";

// kubectl formats restartedAt in the local time zone (Go's time.RFC3339).
process.env.TZ = "UTC";

const RESTARTED_AT = "kubectl.kubernetes.io/restartedAt";
const RFC3339_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const licenses = new TestLicenses();

type Kind = "Deployment" | "StatefulSet" | "DaemonSet";
type Twin = "op" | "kubectl";
type Raw = Record<string, any>;
const PLURAL: Record<Kind, string> = {
  Deployment: "deployments",
  StatefulSet: "statefulsets",
  DaemonSet: "daemonsets",
};
const KINDS: Kind[] = ["Deployment", "StatefulSet", "DaemonSet"];
const TWINS: Twin[] = ["op", "kubectl"];

let operator: RunningOperator | undefined;
let ns: string;

const nameOf = (kind: Kind, twin: Twin) => `${kind.toLowerCase()}-${twin}`;
const appOf = (kind: Kind) => `${kind.toLowerCase()}-fidelity`;

// Raw apps/v1 objects, as the API server sends them.
const apps = () => clientsFor("admin").custom;
const get = async (plural: string, name: string): Promise<Raw> =>
  (await apps().getNamespacedCustomObject({ group: "apps", version: "v1", namespace: ns, plural, name })) as Raw;
const list = async (plural: string): Promise<Raw[]> =>
  (
    (await apps().listNamespacedCustomObject({ group: "apps", version: "v1", namespace: ns, plural })) as {
      items: Raw[];
    }
  ).items;
const create = (plural: string, body: Raw) =>
  apps().createNamespacedCustomObject({ group: "apps", version: "v1", namespace: ns, plural, body });

/** Revision n of a pod template: an image and a few other fields that change with it. */
function podTemplate(kind: Kind, twin: Twin, n: number): Raw {
  return {
    metadata: {
      labels: { app: appOf(kind), twin, tier: "backend" },
      annotations: { "example.com/build": `build-${n}`, "example.com/static": "yes" },
    },
    spec: {
      terminationGracePeriodSeconds: 10 + n,
      tolerations: [{ key: "example.com/dedicated", operator: "Exists", effect: "NoSchedule" }],
      containers: [
        {
          name: "app",
          image: `${appOf(kind)}:v${n}`,
          env: [
            { name: "VERSION", value: String(n) },
            { name: "MODE", value: n % 2 === 0 ? "even" : "odd" },
          ],
          ports: [{ name: "http", containerPort: 8080 }],
          resources: { requests: { cpu: `${100 * n}m`, memory: "64Mi" }, limits: { memory: "128Mi" } },
        },
      ],
    },
  };
}

/** The Deployment's own annotations at revision n (the controller copies them to the ReplicaSet). */
const deploymentAnnotations = (n: number) => ({
  "kubernetes.io/change-cause": `release v${n}`,
  "example.com/owner-team": "sre",
  ...(n === 2 ? { "example.com/only-in-v2": "yes" } : {}),
});

function workloadBody(kind: Kind, twin: Twin): Raw {
  const selector = { matchLabels: { app: appOf(kind), twin } };
  const metadata = { name: nameOf(kind, twin), labels: { app: appOf(kind), twin } };
  const template = podTemplate(kind, twin, 1);
  if (kind === "Deployment") {
    return {
      apiVersion: "apps/v1",
      kind,
      metadata: { ...metadata, annotations: deploymentAnnotations(1) },
      spec: { replicas: 1, selector, template },
    };
  }
  if (kind === "StatefulSet") {
    return {
      apiVersion: "apps/v1",
      kind,
      metadata,
      spec: { replicas: 1, serviceName: nameOf(kind, twin), selector, template },
    };
  }
  return { apiVersion: "apps/v1", kind, metadata, spec: { selector, template } };
}

const controlledBy = (uid: string) => (object: Raw) =>
  (object.metadata?.ownerReferences ?? []).some((o: Raw) => o.uid === uid && o.controller === true);

/** Waits until the workload has n revisions of its own (and, for a Deployment, is at revision n). */
async function revisions(kind: Kind, twin: Twin, n: number): Promise<void> {
  await eventually(
    `${nameOf(kind, twin)} at revision ${n}`,
    async () => {
      const workload = await get(PLURAL[kind], nameOf(kind, twin));
      const owned = (await list(kind === "Deployment" ? "replicasets" : "controllerrevisions")).filter(
        controlledBy(workload.metadata.uid),
      );
      const at =
        kind === "Deployment"
          ? workload.metadata.annotations?.["deployment.kubernetes.io/revision"] === String(n)
          : Math.max(...owned.map((r) => r.revision)) === n;
      return owned.length === n && at && workload.status?.observedGeneration === workload.metadata.generation
        ? true
        : undefined;
    },
    { timeoutMs: 60_000 },
  );
}

/**
 * A decoy in the workload's history: selected by its selector, claiming a
 * newer revision and naming the workload as an owner, but controlled by
 * another object (so no controller adopts it). kubectl ignores it, as
 * metav1.IsControlledBy is false.
 */
async function createDecoy(kind: Kind, twin: Twin, owner: Raw): Promise<void> {
  const workload = await get(PLURAL[kind], nameOf(kind, twin));
  const ownerReferences = [
    { apiVersion: "v1", kind: "ConfigMap", name: owner.metadata.name, uid: owner.metadata.uid, controller: true },
    { apiVersion: "apps/v1", kind, name: workload.metadata.name, uid: workload.metadata.uid },
  ];
  const template = podTemplate(kind, twin, 9);
  template.metadata.labels.decoy = "true";
  if (kind === "Deployment") {
    await create("replicasets", {
      metadata: {
        name: `${nameOf(kind, twin)}-decoy`,
        labels: { app: appOf(kind), twin },
        annotations: { "deployment.kubernetes.io/revision": "9", "example.com/decoy": "yes" },
        ownerReferences,
      },
      spec: { replicas: 0, selector: { matchLabels: template.metadata.labels }, template },
    });
  } else {
    await create("controllerrevisions", {
      metadata: { name: `${nameOf(kind, twin)}-decoy`, labels: { app: appOf(kind), twin }, ownerReferences },
      revision: 9,
      data: { spec: { template: { ...template, $patch: "replace" } } },
    });
  }
}

/** Three revisions (v1, v2, v3) of each twin of each kind, and a decoy revision each. */
async function createTwins(): Promise<void> {
  const { core } = clientsFor("admin");
  const owner = (await core.createNamespacedConfigMap({
    namespace: ns,
    body: { metadata: { name: "decoy-owner" } },
  })) as Raw;
  const all = KINDS.flatMap((kind) => TWINS.map((twin) => [kind, twin] as const));
  await Promise.all(all.map(([kind, twin]) => create(PLURAL[kind], workloadBody(kind, twin))));
  for (const n of [1, 2, 3]) {
    if (n > 1) {
      await Promise.all(
        all.map(([kind, twin]) =>
          apps().patchNamespacedCustomObject({
            group: "apps",
            version: "v1",
            namespace: ns,
            plural: PLURAL[kind],
            name: nameOf(kind, twin),
            body: [
              { op: "replace", path: "/spec/template", value: podTemplate(kind, twin, n) },
              ...(kind === "Deployment"
                ? Object.entries(deploymentAnnotations(n)).map(([key, value]) => ({
                    op: "add",
                    path: `/metadata/annotations/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`,
                    value,
                  }))
                : []),
            ],
          }),
        ),
      );
    }
    await Promise.all(all.map(([kind, twin]) => revisions(kind, twin, n)));
  }
  // Annotations only the revision-2 ReplicaSet carries: one a rollback copies,
  // and one kubectl never copies (the Deployment controller would act on it).
  for (const twin of TWINS) {
    const deployment = await get("deployments", nameOf("Deployment", twin));
    const rs = (await list("replicasets"))
      .filter(controlledBy(deployment.metadata.uid))
      .find((r) => r.metadata.annotations?.["deployment.kubernetes.io/revision"] === "2") as Raw;
    await apps().patchNamespacedCustomObject({
      group: "apps",
      version: "v1",
      namespace: ns,
      plural: "replicasets",
      name: rs.metadata.name,
      body: [
        { op: "add", path: "/metadata/annotations/example.com~1rs-only", value: "yes" },
        { op: "add", path: "/metadata/annotations/deprecated.deployment.rollback.to", value: "1" },
      ],
    });
  }
  for (const [kind, twin] of all) await createDecoy(kind, twin, owner);
}

/** The pod template to compare twins by: without the twin label and pod-template-hash. */
function comparable(template: Raw, { withoutRestartedAt = false } = {}): Raw {
  const copy = structuredClone(template);
  delete copy.metadata?.labels?.twin;
  delete copy.metadata?.labels?.["pod-template-hash"];
  if (withoutRestartedAt) delete copy.metadata?.annotations?.[RESTARTED_AT];
  return copy;
}

const withoutOwned = (annotations: Record<string, string> = {}) =>
  Object.fromEntries(Object.entries(annotations).filter(([key]) => !DEPLOYMENT_OWNED_ANNOTATIONS.has(key)));

const succeeded = (name: string) =>
  intentWhere(ns, name, "executed", (i) => ["Succeeded", "Failed"].includes(i.status?.phase), 60_000).then((i) => {
    expect(i.status.phase, JSON.stringify(i.status)).toBe("Succeeded");
    return i;
  });

beforeAll(async () => {
  await installChartRbac("licensed");
  await licenses.bindToCluster();
  await licenses.install();
  ns = await createTestNamespace("e2e-fidelity");
  await createTwins();
  await createArf("approvalpolicies", ns, policyBody("act-now", { mode: "autonomous" }));
  const started = await startOperator("fidelity-1", [...quickLeaseArgs("arf-fidelity-e2e"), ...licenses.args()]);
  operator = started;
  await eventually("the licensed edition", async () =>
    (await started.metric("arf_license_valid")) === 1 ? true : undefined,
  );
}, 300_000);

afterAll(async () => {
  await operator?.stop();
  await removeLicensedEdition();
  if (ns) await deleteTestNamespace(ns);
});

describe.each(KINDS)("%s twins", (kind) => {
  const op = nameOf(kind, "op");
  const twin = nameOf(kind, "kubectl");

  it("a rollback to the previous revision leaves both twins the same as kubectl rollout undo", async () => {
    const before = await get(PLURAL[kind], op);
    await createArf("healingintents", ns, intentBody(`rollback-${op}`, "rollback", kind, op));
    await kubectl(["rollout", "undo", `${kind.toLowerCase()}/${twin}`, "-n", ns]);
    const intent = await succeeded(`rollback-${op}`);
    // kubectl's previous revision: the second-highest it controls (2), not the decoy (9).
    expect(intent.status.execution.desired).toMatchObject({ toRevision: 2 });
    // The write was conditional on the generation the plan was computed from.
    expect(intent.status.execution.desired.expectedGeneration).toBe(before.metadata.generation);

    const [ours, theirs] = await Promise.all([get(PLURAL[kind], op), get(PLURAL[kind], twin)]);
    expect(ours.spec.template.spec.containers[0].image).toBe(`${appOf(kind)}:v2`);
    expect(ours.metadata.generation).toBeGreaterThan(before.metadata.generation);
    expect(comparable(ours.spec.template)).toEqual(comparable(theirs.spec.template));

    if (kind === "Deployment") {
      const settled = async (name: string) =>
        eventually(`${name} at revision 4`, async () => {
          const d = await get("deployments", name);
          return d.metadata.annotations?.["deployment.kubernetes.io/revision"] === "4" ? d : undefined;
        });
      const [a, b] = [await settled(op), await settled(twin)];
      expect(withoutOwned(a.metadata.annotations)).toEqual(withoutOwned(b.metadata.annotations));
      expect(a.metadata.annotations).toMatchObject({
        "kubernetes.io/change-cause": "release v2",
        "example.com/only-in-v2": "yes",
        "example.com/rs-only": "yes",
      });
      for (const d of [a, b]) expect(d.metadata.annotations["deprecated.deployment.rollback.to"]).toBeUndefined();
      // Each rollback reused the revision-2 ReplicaSet, as revision 4; nothing else was created.
      for (const d of [a, b]) {
        const owned = (await list("replicasets")).filter(controlledBy(d.metadata.uid));
        expect(owned).toHaveLength(3);
      }
    }
  });

  it("a restart sets restartedAt as kubectl rollout restart does", async () => {
    await createArf("healingintents", ns, intentBody(`restart-${op}`, "restart", kind, op));
    await kubectl(["rollout", "restart", `${kind.toLowerCase()}/${twin}`, "-n", ns]);
    const intent = await succeeded(`restart-${op}`);
    const [ours, theirs] = await Promise.all([get(PLURAL[kind], op), get(PLURAL[kind], twin)]);
    const [a, b] = [ours, theirs].map((w) => w.spec.template.metadata.annotations?.[RESTARTED_AT]);
    expect(b).toMatch(RFC3339_SECONDS);
    expect(a).toMatch(RFC3339_SECONDS);
    expect(a).toBe(intent.status.execution.desired.restartedAt);
    expect(comparable(ours.spec.template, { withoutRestartedAt: true })).toEqual(
      comparable(theirs.spec.template, { withoutRestartedAt: true }),
    );
  });
});
