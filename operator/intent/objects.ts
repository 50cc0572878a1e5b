// The shapes of ARF objects as read from the API, and the Event helper the
// intent modules share.
import type * as k8s from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { HealingIntentStatus } from "../api/index.ts";
import { type EventRecorder, intentRef } from "../kube/gateway.ts";
import type { IntentEvent } from "./evaluate.ts";

export interface ArfObject<Spec = unknown, Status = unknown> extends k8s.KubernetesObject {
  spec?: Spec;
  status?: Status;
}
export type HealingIntentObject = ArfObject<unknown, HealingIntentStatus>;

export async function recordEvents(
  events: EventRecorder,
  intent: HealingIntentObject,
  list: IntentEvent[],
  log: Logger,
) {
  const { namespace = "", name = "", uid } = intent.metadata ?? {};
  for (const event of list) {
    await events
      .record(intentRef(namespace, name, uid), event.type, event.reason, event.message)
      .catch((error) => log.warn({ err: String(error), reason: event.reason }, "could not record event"));
  }
}
