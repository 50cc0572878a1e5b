// Where the operator keeps its note of since when it has seen the approvals
// admission policy and binding as they are (a ConfigMap in its own namespace,
// which intent writers cannot write), and the tracker that reads it once and
// updates it only when what it sees changes.
import * as k8s from "@kubernetes/client-node";
import { stableEqual } from "../lib/stable.ts";
import {
  type AdmissionJudgement,
  type AdmissionObservation,
  type AdmissionState,
  admissionSince,
} from "./admission.ts";

export interface AdmissionNotes {
  read(): Promise<AdmissionObservation | undefined>;
  write(note: AdmissionObservation): Promise<void>;
}

const NOTE_NAME = "arf-admission-observed";

export function kubeAdmissionNotes(kc: k8s.KubeConfig, namespace: string): AdmissionNotes {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const body = (note: AdmissionObservation): k8s.V1ConfigMap => ({
    metadata: { name: NOTE_NAME, namespace, labels: { "app.kubernetes.io/part-of": "arf-operator" } },
    data: { observation: JSON.stringify(note) },
  });
  return {
    async read() {
      try {
        const configMap = await core.readNamespacedConfigMap({ namespace, name: NOTE_NAME });
        const parsed = JSON.parse(configMap.data?.observation ?? "null") as AdmissionObservation | null;
        return parsed?.identity && typeof parsed.since === "string" ? parsed : undefined;
      } catch (error) {
        if (error instanceof k8s.ApiException && error.code === 404) return undefined;
        if (error instanceof SyntaxError) return undefined; // unreadable: start from now
        throw error;
      }
    },
    async write(note) {
      try {
        await core.replaceNamespacedConfigMap({ namespace, name: NOTE_NAME, body: body(note) });
      } catch (error) {
        if (!(error instanceof k8s.ApiException && error.code === 404)) throw error;
        await core.createNamespacedConfigMap({ namespace, body: body(note) });
      }
    },
  };
}

/** Turns a judgement into the state the ladder uses, keeping the durable note current. */
export class AdmissionTracker {
  private note: AdmissionObservation | undefined;
  private loaded = false;
  private readonly notes: AdmissionNotes;

  constructor(notes: AdmissionNotes) {
    this.notes = notes;
  }

  async state(judged: AdmissionJudgement, now: Date): Promise<AdmissionState> {
    if (!judged.verified) return judged;
    if (!this.loaded || !this.note || !stableEqual(this.note.identity, judged.identity)) {
      this.note = await this.notes.read();
      this.loaded = true;
    }
    const { since, store } = admissionSince(judged, this.note, now);
    if (store) {
      await this.notes.write(store);
      this.note = store;
    }
    return { verified: true, lastChanged: since };
  }
}
