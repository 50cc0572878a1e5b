// The local cluster's real node (hack/real-node.sh): where real Pods run, the
// placement that sends a Pod there, the demo-service images, and a file_sd
// target list that keeps the test Prometheus scraping the Pods that exist now.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inject } from "vitest";
import { parse } from "yaml";
import { REPO_ROOT } from "./env.ts";
import { clientsFor } from "./kube.ts";

export const REAL_NODE = process.env.ARF_NODE_NAME ?? "arf-real-node";
/** The image the chart defaults to (its appVersion as the tag), which hack/build-images.sh builds. */
export const OPERATOR_IMAGE = `ghcr.io/arf-dev/arf-operator:${
  parse(readFileSync(join(REPO_ROOT, "charts", "arf-operator", "Chart.yaml"), "utf8")).appVersion
}`;
/** demo-service releases: v1 and v3 healthy, v2 answers 500 on "/". */
export const DEMO_SERVICE = (release: "v1" | "v2" | "v3") => `arf.local/demo-service:${release}`;

/** Pod spec fields that put a Pod on the real node (labelled and tainted arf.dev/node=real). */
export const onRealNode = {
  nodeSelector: { "arf.dev/node": "real" },
  tolerations: [{ key: "arf.dev/node", operator: "Equal", value: "real", effect: "NoSchedule" }],
};

/** The same placement as Helm --set flags. */
export const realNodeHelmSets = [
  "nodeSelector.arf\\.dev/node=real",
  "tolerations[0].key=arf.dev/node",
  "tolerations[0].operator=Equal",
  "tolerations[0].value=real",
  "tolerations[0].effect=NoSchedule",
];

/** Whether this run has the real node; false only when ARF_REAL_NODE=0 was chosen. */
export const realNodeEnabled = () => inject("realNode");

/** A Deployment of demo-service on the real node, answering LOAD_RPS requests a second to itself. */
export function demoServiceDeployment(name: string, release: "v1" | "v2" | "v3", replicas = 1) {
  const labels = { app: name };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, labels },
    spec: {
      replicas,
      revisionHistoryLimit: 10,
      selector: { matchLabels: labels },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels },
        spec: {
          ...onRealNode,
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: "app",
              image: DEMO_SERVICE(release),
              imagePullPolicy: "Never",
              env: [{ name: "LOAD_RPS", value: "20" }],
              ports: [{ name: "http", containerPort: 8080 }],
              readinessProbe: { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 1 },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true },
            },
          ],
        },
      },
    },
  };
}

/**
 * Writes the running, ready Pods of a namespace (port 8080) as a Prometheus
 * file_sd list every 500 ms, labelled with namespace, pod and app, so the
 * scrape follows Pods as rollouts replace them.
 */
export class PodTargets {
  private timer?: NodeJS.Timeout;
  private readonly namespaces = new Set<string>();

  readonly file: string;

  constructor(file: string) {
    this.file = file;
    this.write([]);
  }

  watch(namespace: string): void {
    this.namespaces.add(namespace);
    if (!this.timer) this.timer = setInterval(() => void this.refresh().catch(() => undefined), 500);
  }

  private async refresh(): Promise<void> {
    const { core } = clientsFor("admin");
    const groups = [];
    for (const namespace of this.namespaces) {
      const pods = await core.listNamespacedPod({ namespace });
      for (const pod of pods.items) {
        const ready = pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
        if (pod.status?.phase !== "Running" || !pod.status.podIP || !ready || pod.metadata?.deletionTimestamp) continue;
        groups.push({
          targets: [`${pod.status.podIP}:8080`],
          labels: { namespace, pod: pod.metadata?.name ?? "", app: pod.metadata?.labels?.app ?? "" },
        });
      }
    }
    this.write(groups);
  }

  private write(groups: unknown[]): void {
    writeFileSync(`${this.file}.tmp`, JSON.stringify(groups));
    renameSync(`${this.file}.tmp`, this.file);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
