// How the benchmarks start the operator: as the image runs it (the bundle from
// hack/bundle.ts) with the chart's Node options (its heap cap), so the figures
// are those of what ships, not of the TypeScript sources.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bundleOperator } from "../bundle.ts";

const root = join(import.meta.dirname, "..", "..");

/** The chart's NODE_OPTIONS for the operator container, read from its Deployment template. */
export function chartNodeOptions(): string[] {
  const template = readFileSync(join(root, "charts", "arf-operator", "templates", "deployment.yaml"), "utf8");
  const match = template.match(/- name: NODE_OPTIONS\s+value: "([^"]*)"/);
  if (!match) throw new Error("the chart's Deployment sets no NODE_OPTIONS; the benchmark mirrors them");
  return (match[1] as string).split(/\s+/).filter(Boolean);
}

/** Bundles the operator into dir; returns the node arguments that run it as the image does. */
export async function operatorCommand(dir: string, nodeOptions = chartNodeOptions()): Promise<string[]> {
  await bundleOperator(dir);
  return [...nodeOptions, join(dir, "main.js")];
}
