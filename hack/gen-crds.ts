// Regenerates crds/ from the zod schemas in operator/api.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderManifestFiles } from "../operator/api/render.ts";

// The chart carries the same CRDs, so `helm install` brings them along.
for (const dir of ["crds", "charts/arf-operator/crds"]) {
  for (const [file, text] of renderManifestFiles()) {
    writeFileSync(join(import.meta.dirname, "..", dir, file), text);
    console.log(`wrote ${dir}/${file}`);
  }
}
