// The local control plane is a real one: workloads run, users are
// authenticated by the API server, RBAC is enforced and writes are audited.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  apiFailure,
  clientsFor,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  readAuditEvents,
  type TestUser,
} from "./support/kube.ts";
import { deploymentBody } from "./support/workloads.ts";

let ns: string;
beforeAll(async () => {
  ns = await createTestNamespace("e2e-cluster");
});
afterAll(async () => deleteTestNamespace(ns));

describe("local control plane", () => {
  it("runs a Deployment to Available with Running Pods on fake nodes", async () => {
    const { apps, core } = clientsFor("admin");
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: deploymentBody("web", "web:1", 2),
    });
    const deployment = await eventually("web to become Available", async () => {
      const d = await apps.readNamespacedDeployment({ name: "web", namespace: ns });
      const available = d.status?.conditions?.find((c) => c.type === "Available");
      return available?.status === "True" && d.status?.availableReplicas === 2 ? d : undefined;
    });
    expect(deployment.status?.readyReplicas).toBe(2);
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: "app=web" });
    expect(pods.items).toHaveLength(2);
    for (const pod of pods.items) {
      expect(pod.status?.phase).toBe("Running");
      expect(pod.spec?.nodeName).toMatch(/^kwok-node-/);
    }
  });

  it.each<[TestUser, string]>([
    ["admin", "arf-admin"],
    ["requester", "requester"],
    ["alice", "alice"],
    ["bob", "bob"],
    ["outsider", "outsider"],
    ["operator", "arf-operator"],
  ])("authenticates the %s token as user %s", async (user, username) => {
    const { kc } = clientsFor(user);
    const { AuthenticationV1Api } = await import("@kubernetes/client-node");
    const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe(username);
  });

  it("enforces RBAC: the outsider can read nothing", async () => {
    const failure = await apiFailure(clientsFor("outsider").core.listNamespacedPod({ namespace: ns }));
    expect(failure.code).toBe(403);
    expect(failure.message).toContain('User "outsider" cannot list resource "pods"');
  });

  it("writes every mutating request to the audit log with the real user", async () => {
    const name = `audited-${Date.now()}`;
    await clientsFor("admin").core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name }, data: { a: "b" } },
    });
    const event = await eventually("the audit event for the ConfigMap", async () =>
      readAuditEvents().find((e) => e.objectRef?.resource === "configmaps" && e.objectRef?.name === name),
    );
    expect(event.verb).toBe("create");
    expect(event.user.username).toBe("arf-admin");
    expect(event.objectRef?.namespace).toBe(ns);
    expect(event.responseStatus?.code).toBe(201);
  });
});
