import { stringify } from "yaml";
import { APPROVALS_POLICY_NAME, approvalsAdmissionBinding, approvalsAdmissionPolicy } from "./admission.ts";
import { buildCrd, CRD_DEFINITIONS, crdFileName } from "./crds.ts";

const HEADER = "# Generated from operator/api by `npm run gen:crds`. Do not edit by hand.\n";

/** Each CRD file's name and its exact text, as committed in crds/. */
export function renderCrdFiles(): Map<string, string> {
  return new Map(CRD_DEFINITIONS.map((def) => [crdFileName(def), HEADER + stringify(buildCrd(def), { lineWidth: 0 })]));
}

const admissionText = () =>
  `${HEADER + stringify(approvalsAdmissionPolicy(), { lineWidth: 0 })}---\n${stringify(approvalsAdmissionBinding(), { lineWidth: 0 })}`;

/** Everything committed in crds/: the CRDs and the admission policy that verifies approvers. */
export function renderManifestFiles(): Map<string, string> {
  const files = renderCrdFiles();
  files.set(`${APPROVALS_POLICY_NAME.replace(/\.arf\.dev$/, "")}.admission.yaml`, admissionText());
  return files;
}

/** The chart's generated files, relative to the chart: CRDs in crds/, the admission policy as a template. */
export function renderChartFiles(): Map<string, string> {
  const files = new Map([...renderCrdFiles()].map(([file, text]) => [`crds/${file}`, text]));
  // Cluster-scoped: exactly one release (or crds/ applied with kubectl) may own it.
  files.set("templates/admission.yaml", `{{- if .Values.admissionPolicy.install }}\n${admissionText()}{{- end }}\n`);
  return files;
}
