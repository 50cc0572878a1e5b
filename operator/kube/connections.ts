// @kubernetes/client-node 2.0.1 builds a new undici Agent for every API
// request (KubeConfig.applySecurityAuthentication calls createDispatcher each
// time; only the https.Agent path is cached, see kubernetes-client/javascript
// #2893), so every request opens a new TCP connection and, against a real API
// server, a new TLS handshake: CPU on the API server and the operator that
// grows with every decision. This keeps one Agent per set of connection
// options, so connections are kept alive and reused; new options (another
// cluster, a rotated client certificate) get a new Agent.
import { createHash } from "node:crypto";
import type * as k8s from "@kubernetes/client-node";

type CreateDispatcher = (cluster: k8s.Cluster | null, agentOptions: object) => unknown;

/** Makes kc reuse connections across requests; returns kc. Fails loudly if client-node's internals moved. */
export function reuseConnections(kc: k8s.KubeConfig): k8s.KubeConfig {
  const internals = kc as unknown as { createDispatcher?: CreateDispatcher };
  const create = internals.createDispatcher;
  if (typeof create !== "function") {
    throw new Error(
      "@kubernetes/client-node has no KubeConfig.createDispatcher any more: revisit operator/kube/connections.ts",
    );
  }
  let cached: { key: string; dispatcher: unknown } | undefined;
  internals.createDispatcher = (cluster, agentOptions) => {
    const options = kc.createDispatcherOptions(cluster, agentOptions as never);
    const key = createHash("sha256")
      .update(JSON.stringify([cluster?.server, options], (_, value) => (value?.type === "Buffer" ? value.data : value)))
      .digest("hex");
    if (cached?.key !== key) {
      // The Agent it replaces is dropped, not closed: its requests in flight
      // finish, and its idle connections close on undici's keep-alive timeout.
      cached = { key, dispatcher: create.call(kc, cluster, agentOptions) };
    }
    return cached.dispatcher;
  };
  return kc;
}
