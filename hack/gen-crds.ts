// Regenerates crds/ from the zod schemas in operator/api.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderCrdFiles } from "../operator/api/render.ts";

const dir = join(import.meta.dirname, "..", "crds");
for (const [file, text] of renderCrdFiles()) {
  writeFileSync(join(dir, file), text);
  console.log(`wrote crds/${file}`);
}
