// Regenerates the README's reference tables from the sources, so they cannot drift: the CR fields from the
// same OpenAPI schemas the CRDs in crds/ are built from (the zod types), the metrics from the registry the
// operator serves. `node hack/gen-docs.ts --check` only verifies, and exits 1 when README.md is stale.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { collectDefaultMetrics, Registry } from "prom-client";
import { GROUP } from "../operator/api/common.ts";
import { buildCrd, CRD_DEFINITIONS, type CrdDefinition } from "../operator/api/crds.ts";
import { OperatorMetrics } from "../operator/metrics.ts";

export const README_PATH = join(import.meta.dirname, "..", "README.md");

/** The subset of OpenAPI v3 the CRD schemas use. */
export interface JsonSchema {
  type?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  enum?: unknown[];
  format?: string;
  default?: unknown;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-list-type"?: string;
  "x-kubernetes-list-map-keys"?: string[];
}

// Every keyword the tables either render or deliberately leave to the CRDs. Anything else (anyOf, say)
// fails the generator instead of silently missing from the docs.
const RENDERED_KEYWORDS = new Set<string>([
  "type",
  "description",
  "properties",
  "required",
  "items",
  "additionalProperties",
  "enum",
  "format",
  "default",
  "nullable",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
]);
// Regexes and CEL rules are long and precise; the note above the tables points to crds/ for them.
const KEYWORDS_LEFT_TO_CRDS = new Set(["pattern", "x-kubernetes-validations"]);

export interface FieldRow {
  field: string;
  type: string;
  required: boolean;
  description: string;
}

/** A kind's openAPIV3Schema, exactly as `npm run gen:crds` writes it to crds/. */
export function openApiSchema(def: CrdDefinition): JsonSchema {
  const crd = buildCrd(def) as unknown as { spec: { versions: Array<{ schema: { openAPIV3Schema: JsonSchema } }> } };
  const [version] = crd.spec.versions;
  if (!version) throw new Error(`the CRD of ${def.kind} has no version`);
  return version.schema.openAPIV3Schema;
}

/** One row per field of spec and status, parents before children; list items as `path[].field`. */
export function fieldRows(root: JsonSchema): FieldRow[] {
  const rows: FieldRow[] = [];
  const visit = (path: string, schema: JsonSchema, required: boolean) => {
    checkKeywords(path, schema);
    // A list described only on its items still gets a description.
    const description = schema.description ?? schema.items?.description ?? "";
    rows.push({ field: path, type: describeType(schema), required, description });
    visitChildren(path, schema);
  };
  // Lists and maps have no row of their own for their items; their items' fields hang below them.
  const visitChildren = (path: string, schema: JsonSchema) => {
    for (const [name, child] of Object.entries(schema.properties ?? {}))
      visit(`${path}.${name}`, child, schema.required?.includes(name) ?? false);
    if (schema.items) {
      checkKeywords(`${path}[]`, schema.items);
      visitChildren(`${path}[]`, schema.items);
    }
    if (typeof schema.additionalProperties === "object") {
      checkKeywords(`${path}.*`, schema.additionalProperties);
      visitChildren(`${path}.*`, schema.additionalProperties);
    }
  };
  for (const top of ["spec", "status"]) {
    const schema = root.properties?.[top];
    if (schema) visit(top, schema, root.required?.includes(top) ?? false);
  }
  return rows;
}

function checkKeywords(path: string, schema: JsonSchema): void {
  for (const keyword of Object.keys(schema))
    if (!RENDERED_KEYWORDS.has(keyword) && !KEYWORDS_LEFT_TO_CRDS.has(keyword))
      throw new Error(`${path}: schema keyword ${keyword} is not rendered; teach hack/gen-docs.ts about it`);
}

/** The type and its constraints, e.g. `integer`, 1 to 100, default `1`. */
export function describeType(schema: JsonSchema): string {
  const parts = [`\`${typeName(schema)}\``, ...constraints(schema)];
  const items =
    schema.items ?? (typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined);
  // Constraints on scalar items belong to the list's row, since the items have none of their own.
  if (items && !items.properties) {
    const itemConstraints = constraints(items);
    if (itemConstraints.length > 0) parts.push(`each ${itemConstraints.join(", ")}`);
  }
  return parts.join(", ");
}

function typeName(schema: JsonSchema): string {
  if (schema["x-kubernetes-preserve-unknown-fields"]) return "object (any fields)";
  if (schema.type === "array" && schema.items) return `[]${typeName(schema.items)}`;
  if (schema.type === "object" && typeof schema.additionalProperties === "object")
    return `map[string]${typeName(schema.additionalProperties)}`;
  return schema.type ?? "any";
}

function constraints(schema: JsonSchema): string[] {
  const parts: string[] = [];
  if (schema.format) parts.push(schema.format);
  if (schema.enum) parts.push(`one of ${schema.enum.map(code).join(", ")}`);
  parts.push(...range(schema.minimum, schema.maximum, ""));
  parts.push(...range(schema.minLength, schema.maxLength, " chars"));
  parts.push(...range(schema.minItems, schema.maxItems, " items"));
  parts.push(...range(schema.minProperties, schema.maxProperties, " entries"));
  if (schema["x-kubernetes-list-type"] === "map")
    parts.push(`one per ${(schema["x-kubernetes-list-map-keys"] ?? []).map(code).join(" and ")}`);
  else if (schema["x-kubernetes-list-type"] === "set") parts.push("unique items");
  if (schema.nullable) parts.push("nullable");
  if (schema.default !== undefined) parts.push(`default ${code(schema.default)}`);
  return parts;
}

function range(min: number | undefined, max: number | undefined, unit: string): string[] {
  if (min !== undefined && max !== undefined) return [`${min} to ${max}${unit}`];
  if (min !== undefined) return [`≥ ${min}${unit}`];
  if (max !== undefined) return [`≤ ${max}${unit}`];
  return [];
}

/** A value as inline code: strings bare, anything else as JSON. */
const code = (value: unknown) => `\`${typeof value === "string" ? value : JSON.stringify(value)}\``;

/** Text safe inside a table cell: a pipe would end the cell, and `<word>` would vanish as an HTML tag. */
const cell = (text: string) =>
  text
    .replace(/\s*\n\s*/g, " ")
    .replaceAll("|", "\\|")
    .replaceAll("<", "&lt;");

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |\n`;
  return line(header) + line(header.map(() => "---")) + rows.map(line).join("");
}

export function renderCrdReference(): string {
  const intro =
    "Required means required whenever the enclosing object is present. Patterns and the cross-field " +
    "rules (`x-kubernetes-validations`) are in the CRDs in [`crds/`](crds/).\n";
  const kinds = CRD_DEFINITIONS.map((def) => {
    const rows = fieldRows(openApiSchema(def)).map((row) => [
      `\`${row.field}\``,
      cell(row.type),
      row.required ? "yes" : "no",
      cell(row.description),
    ]);
    const heading = `#### ${def.kind}\n\n\`${def.plural}.${GROUP}\`, short name ${def.shortNames.map(code).join(", ")}. ${cell(def.description)}\n`;
    return `${heading}\n${table(["Field", "Type", "Required", "Description"], rows)}`;
  });
  return [intro, ...kinds].join("\n");
}

export interface MetricRow {
  name: string;
  type: string;
  labels: string[];
  help: string;
}

/** The operator's own metrics in registration order, and prom-client's default metrics registered beside them. */
export function metricRows(): { rows: MetricRow[]; defaultNames: string[] } {
  const defaults = new Registry();
  collectDefaultMetrics({ register: defaults });
  const defaultNames = new Set(defaults.getMetricsAsArray().map((metric) => metric.name));
  const registered = new OperatorMetrics().registry.getMetricsAsArray();
  const rows = registered
    .filter((metric) => !defaultNames.has(metric.name))
    .map((metric) => ({ name: metric.name, type: String(metric.type), labels: labelNames(metric), help: metric.help }));
  return { rows, defaultNames: registered.map((metric) => metric.name).filter((name) => defaultNames.has(name)) };
}

// prom-client's typings leave labelNames out of the registry's view of a metric, though every metric has it.
function labelNames(metric: object): string[] {
  const labels = (metric as { labelNames?: unknown }).labelNames;
  if (!Array.isArray(labels) || !labels.every((label) => typeof label === "string"))
    throw new Error(`metric ${String((metric as { name?: unknown }).name)} has no readable labelNames`);
  return labels;
}

export function renderMetricsReference(): string {
  const { rows, defaultNames } = metricRows();
  const body = table(
    ["Metric", "Type", "Labels", "Help"],
    rows.map((metric) => [
      `\`${metric.name}\``,
      metric.type,
      metric.labels.length > 0 ? metric.labels.map(code).join(", ") : "none",
      cell(metric.help),
    ]),
  );
  const prefixes = [...new Set(defaultNames.map((name) => `${name.split("_")[0]}_*`))];
  const defaults =
    prefixes.length > 0
      ? `\nBeside them, prom-client's default metrics of the process and the Node.js runtime (${prefixes.map(code).join(", ")}).\n`
      : "";
  return body + defaults;
}

export const GENERATED_SECTIONS: Record<string, () => string> = {
  "crd-reference": renderCrdReference,
  "metrics-reference": renderMetricsReference,
};

const beginMarker = (id: string) => `<!-- BEGIN GENERATED: ${id} -->`;
const endMarker = (id: string) => `<!-- END GENERATED: ${id} -->`;

/** The text between a section's markers, or an error naming what is wrong with them. */
export function sectionBody(readme: string, id: string): string {
  const begin = readme.indexOf(beginMarker(id));
  const end = readme.indexOf(endMarker(id));
  if (begin < 0 || end < 0 || end < begin || readme.indexOf(beginMarker(id), begin + 1) >= 0)
    throw new Error(`README.md needs exactly one ${beginMarker(id)} followed by ${endMarker(id)}`);
  return readme.slice(begin + beginMarker(id).length, end);
}

// Blank lines around the body keep the markers apart from the Markdown blocks between them.
const wrapBody = (body: string) => `\n\n${body}\n`;

/** README with every generated section rewritten from the sources and everything else untouched. */
export function renderReadme(readme: string, sections = renderSections()): string {
  let out = readme;
  for (const [id, body] of Object.entries(sections)) {
    const old = sectionBody(out, id);
    const at = out.indexOf(beginMarker(id)) + beginMarker(id).length;
    out = out.slice(0, at) + wrapBody(body) + out.slice(at + old.length);
  }
  return out;
}

/** The ids of the generated sections whose text differs from what the sources give. */
export function staleSections(readme: string, sections = renderSections()): string[] {
  return Object.entries(sections)
    .filter(([id, body]) => sectionBody(readme, id) !== wrapBody(body))
    .map(([id]) => id);
}

export const renderSections = () =>
  Object.fromEntries(Object.entries(GENERATED_SECTIONS).map(([id, render]) => [id, render()]));

if (import.meta.main) {
  try {
    // Rendered before README is read, so the read-modify-write of a file others edit too stays short.
    const sections = renderSections();
    const readme = readFileSync(README_PATH, "utf8");
    const stale = staleSections(readme, sections);
    if (process.argv.includes("--check")) {
      if (stale.length > 0) {
        console.error(
          `README.md is stale: the generated section(s) ${stale.join(", ")} differ from the zod types and operator/metrics.ts. Run \`npm run gen:docs\` and commit README.md.`,
        );
        process.exitCode = 1;
      } else console.log("README.md's generated sections are current");
    } else if (stale.length > 0) {
      writeFileSync(README_PATH, renderReadme(readme, sections));
      console.log(`wrote README.md (${stale.join(", ")})`);
    } else console.log("README.md's generated sections are already current");
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
