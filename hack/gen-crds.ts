// Regenerates crds/ from the zod schemas in operator/api.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderChartFiles, renderManifestFiles } from "../operator/api/render.ts";

// crds/ holds the CRDs and the admission policy, for kubectl users; the chart
// carries the same CRDs in its crds/ and the admission policy as a template,
// so `helm upgrade` delivers changes to it (Helm never upgrades crds/).
const outputs: Array<[string, Map<string, string>]> = [
  ["crds", renderManifestFiles()],
  ["charts/arf-operator", renderChartFiles()],
];
for (const [dir, files] of outputs) {
  for (const [file, text] of files) {
    writeFileSync(join(import.meta.dirname, "..", dir, file), text);
    console.log(`wrote ${dir}/${file}`);
  }
}
