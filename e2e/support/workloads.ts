// Real workloads with two revisions each, so every action has something to do.
import { clientsFor, eventually } from "./kube.ts";

const podTemplate = (app: string, image: string) => ({
  metadata: { labels: { app } },
  spec: { containers: [{ name: "app", image }] },
});

/** A minimal Deployment whose Pods kwok runs. */
export function deploymentBody(name: string, image: string, replicas: number, labels: Record<string, string> = {}) {
  return {
    metadata: { name, labels: { app: name, ...labels } },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: podTemplate(name, image) },
  };
}

/** Creates web, cache and agent (a Deployment, a StatefulSet and a DaemonSet, names suffixed), each at revision 2. */
export async function createWorkloadsWithTwoRevisions(namespace: string, suffix = ""): Promise<void> {
  const { apps } = clientsFor("admin");
  const [web, cache, agent] = [`web${suffix}`, `cache${suffix}`, `agent${suffix}`];
  await apps.createNamespacedDeployment({
    namespace,
    body: deploymentBody(web, "web:1", 2, { tier: "frontend" }),
  });
  await apps.createNamespacedStatefulSet({
    namespace,
    body: {
      metadata: { name: cache, labels: { app: cache } },
      spec: {
        replicas: 1,
        serviceName: cache,
        selector: { matchLabels: { app: cache } },
        template: podTemplate(cache, "cache:1"),
      },
    },
  });
  await apps.createNamespacedDaemonSet({
    namespace,
    body: {
      metadata: { name: agent, labels: { app: agent } },
      spec: { selector: { matchLabels: { app: agent } }, template: podTemplate(agent, "agent:1") },
    },
  });
  const mine = (items: Array<{ metadata?: { labels?: Record<string, string> } }>) =>
    items.filter((i) => [web, cache, agent].includes(i.metadata?.labels?.app ?? "")).length;
  await eventually("first revisions", async () => {
    const rs = await apps.listNamespacedReplicaSet({ namespace });
    const cr = await apps.listNamespacedControllerRevision({ namespace });
    return mine(rs.items) >= 1 && mine(cr.items) >= 2 ? true : undefined;
  });
  const patchImage = (image: string) => [
    { op: "replace", path: "/spec/template/spec/containers/0/image", value: image },
  ];
  await apps.patchNamespacedDeployment({ namespace, name: web, body: patchImage("web:2") });
  await apps.patchNamespacedStatefulSet({ namespace, name: cache, body: patchImage("cache:2") });
  await apps.patchNamespacedDaemonSet({ namespace, name: agent, body: patchImage("agent:2") });
  await eventually("second revisions", async () => {
    const rs = await apps.listNamespacedReplicaSet({ namespace });
    const cr = await apps.listNamespacedControllerRevision({ namespace });
    const deployment = await apps.readNamespacedDeployment({ namespace, name: web });
    return mine(rs.items) >= 2 &&
      mine(cr.items) >= 4 &&
      deployment.metadata?.annotations?.["deployment.kubernetes.io/revision"] === "2"
      ? true
      : undefined;
  });
}

export function intentBody(
  name: string,
  action: string,
  kind: string,
  target: string,
  extra: Record<string, unknown> = {},
) {
  return {
    apiVersion: "arf.dev/v1alpha1",
    kind: "HealingIntent",
    metadata: { name },
    spec: {
      action,
      target: { kind, name: target },
      justification: `e2e: ${action} ${kind}/${target}`,
      confidence: 0.9,
      incidentId: `INC-${name}`,
      detectedAt: "2026-11-21T10:00:00Z",
      source: { type: "agent", name: "e2e" },
      ...extra,
    },
  };
}

/** An ApprovalPolicy object. */
export const policyBody = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: "arf.dev/v1alpha1",
  kind: "ApprovalPolicy",
  metadata: { name },
  spec,
});
