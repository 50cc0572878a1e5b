import { stringify } from "yaml";
import { buildCrd, CRD_DEFINITIONS, crdFileName } from "./crds.ts";

const HEADER = "# Generated from operator/api by `npm run gen:crds`. Do not edit by hand.\n";

/** Each CRD file's name and its exact text, as committed in crds/. */
export function renderCrdFiles(): Map<string, string> {
  return new Map(CRD_DEFINITIONS.map((def) => [crdFileName(def), HEADER + stringify(buildCrd(def), { lineWidth: 0 })]));
}
