import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { collectDefaultMetrics, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { OperatorMetrics } from "../operator/metrics.ts";
import {
  fieldRows,
  GENERATED_SECTIONS,
  type JsonSchema,
  README_PATH,
  renderReadme,
  sectionBody,
  staleSections,
} from "./gen-docs.ts";

const readme = readFileSync(README_PATH, "utf8");
const crdsDir = join(import.meta.dirname, "..", "crds");

/** The first-column names of the Markdown table rows in text, e.g. spec.target.kind. */
const tableNames = (text: string) => new Set([...text.matchAll(/^\| `([^`]+)` \|/gm)].map((match) => match[1]));

/** The CRD reference's field names per kind, split at the #### headings. */
const fieldsByKind = new Map(
  sectionBody(readme, "crd-reference")
    .split(/^#### /m)
    .slice(1)
    .map((part) => [part.slice(0, part.indexOf("\n")).trim(), tableNames(part)]),
);

/** Leaf fields below path, walked independently of the generator: list items as [], map values as .*. */
function leafPaths(path: string, schema: JsonSchema): string[] {
  const children = childFields(path, schema);
  return children.length > 0 ? children.flatMap(([child, sub]) => leafPaths(child, sub)) : [path];
}
function childFields(path: string, schema: JsonSchema): Array<[string, JsonSchema]> {
  return [
    ...Object.entries(schema.properties ?? {}).map(([name, sub]): [string, JsonSchema] => [`${path}.${name}`, sub]),
    ...(schema.items ? childFields(`${path}[]`, schema.items) : []),
    ...(typeof schema.additionalProperties === "object" ? childFields(`${path}.*`, schema.additionalProperties) : []),
  ];
}

const committedCrds = readdirSync(crdsDir)
  .flatMap((file) => parseAllDocuments(readFileSync(join(crdsDir, file), "utf8")).map((doc) => doc.toJS()))
  .filter((doc) => doc?.kind === "CustomResourceDefinition")
  .map((crd) => [crd.spec.names.kind as string, crd.spec.versions[0].schema.openAPIV3Schema as JsonSchema] as const);

describe("README reference", () => {
  it.each(Object.keys(GENERATED_SECTIONS))("section %s is current (run `npm run gen:docs`)", (id) => {
    expect(sectionBody(readme, id), "README.md is stale: run `npm run gen:docs`").toBe(
      sectionBody(renderReadme(readme), id),
    );
  });

  it("reports a stale section and rewrites only the generated text", () => {
    const current = renderReadme(readme);
    const end = "<!-- END GENERATED: crd-reference -->";
    const stale = current.replace(end, `| \`spec.handWritten\` | \`string\` | no | Edited by hand. |\n${end}`);
    expect(staleSections(current)).toEqual([]);
    expect(staleSections(stale)).toEqual(["crd-reference"]);
    expect(renderReadme(stale)).toBe(current);
  });

  it("refuses a README without the markers", () => {
    expect(() => staleSections("# no markers\n")).toThrow(/BEGIN GENERATED: crd-reference/);
  });

  it("has a table for every CRD in crds/", () => {
    expect(committedCrds.map(([kind]) => kind).sort()).toEqual([...fieldsByKind.keys()].sort());
  });

  it.each(committedCrds)("lists every leaf field of %s in crds/", (kind, schema) => {
    const leaves = ["spec", "status"].flatMap((top) => {
      const sub = schema.properties?.[top];
      return sub ? leafPaths(top, sub) : [];
    });
    expect(leaves.length).toBeGreaterThan(10);
    const listed = fieldsByKind.get(kind) ?? new Set();
    expect(leaves.filter((leaf) => !listed.has(leaf))).toEqual([]);
  });

  it("lists every metric the operator registers", () => {
    const metricsBlock = sectionBody(readme, "metrics-reference");
    const listed = tableNames(metricsBlock);
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults });
    const defaultNames = new Set(defaults.getMetricsAsArray().map((metric) => metric.name));
    const registered = new OperatorMetrics().registry.getMetricsAsArray().map((metric) => metric.name);
    expect(registered.length).toBeGreaterThan(defaultNames.size);
    // prom-client's process and runtime metrics are named by prefix rather than one row each.
    const missing = registered.filter((name) =>
      defaultNames.has(name) ? !metricsBlock.includes(`\`${name.split("_")[0]}_*\``) : !listed.has(name),
    );
    expect(missing).toEqual([]);
  });

  it("fails on a schema keyword it cannot render, rather than leave it out", () => {
    const root: JsonSchema = { properties: { spec: { type: "object", anyOf: [] } as JsonSchema } };
    expect(() => fieldRows(root)).toThrow(/spec: schema keyword anyOf/);
  });
});
