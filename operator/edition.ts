// The edition decides what the process can do. The OSS edition is wired with
// no executor at all: the code that mutates workloads lives in
// operator/executor/ and is only ever loaded by a dynamic import after a
// license has been verified (licensed edition). A test walks the static import
// graph from main.ts to prove no OSS path reaches it.
import type * as k8s from "@kubernetes/client-node";
import type { Edition } from "./intent/evaluate.ts";
import { type DryRunner, podTemplateDryRunner } from "./kube/gateway.ts";

export interface EditionWiring {
  edition: Edition;
  dryRunner: DryRunner;
  /** Present only in the licensed edition. */
  executor: undefined;
}

export function wireOssEdition(kc: k8s.KubeConfig): EditionWiring {
  return { edition: "oss", dryRunner: podTemplateDryRunner(kc), executor: undefined };
}
