import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { INVALID_CASES } from "../../e2e/corpus/invalid-objects.ts";
import { buildCrd, CRD_DEFINITIONS } from "./crds.ts";
import { SPEC_SCHEMAS } from "./index.ts";
import { renderChartFiles, renderCrdFiles, renderManifestFiles } from "./render.ts";
import { validate } from "./validate.ts";

const root = join(import.meta.dirname, "..", "..");

describe("examples", () => {
  const files = readdirSync(join(root, "examples")).filter((f) => f.endsWith(".yaml"));
  const arfObjects = files.flatMap((file) =>
    parseAllDocuments(readFileSync(join(root, "examples", file), "utf8"))
      .map((doc) => doc.toJS())
      .filter((obj) => obj?.apiVersion === "arf.dev/v1alpha1")
      .map((obj) => [file, obj] as const),
  );

  it("has an example of every kind", () => {
    expect(new Set(arfObjects.map(([, obj]) => obj.kind))).toEqual(new Set(Object.keys(SPEC_SCHEMAS)));
  });

  it.each(arfObjects)("%s is valid", (_file, obj) => {
    const result = validate(SPEC_SCHEMAS[obj.kind] as never, obj.spec, "spec");
    expect(result.ok ? [] : result.problems).toEqual([]);
  });
});

describe("invalid corpus", () => {
  it("has at least 25 cases with unique names", () => {
    expect(INVALID_CASES.length).toBeGreaterThanOrEqual(25);
    expect(new Set(INVALID_CASES.map((c) => c.name)).size).toBe(INVALID_CASES.length);
  });

  it.each(INVALID_CASES.map((c) => [c.name, c] as const))("zod rejects %s at the named field", (_name, c) => {
    const result = validate(SPEC_SCHEMAS[c.object.kind] as never, c.object.spec, "spec");
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems.map((p) => p.field)).toContain(c.field);
  });
});

describe("CRDs", () => {
  it("in crds/ are exactly what the zod schemas generate (run `npm run gen:crds` after changing operator/api)", () => {
    for (const [file, text] of renderManifestFiles()) {
      expect(readFileSync(join(root, "crds", file), "utf8"), `crds/${file}`).toBe(text);
    }
    expect(readdirSync(join(root, "crds")).sort()).toEqual([...renderManifestFiles().keys()].sort());
    // The chart: the same CRDs in crds/, and the admission policy as a template so `helm upgrade` updates it.
    for (const [file, text] of renderChartFiles()) {
      expect(readFileSync(join(root, "charts/arf-operator", file), "utf8"), `charts/arf-operator/${file}`).toBe(text);
    }
    expect(readdirSync(join(root, "charts/arf-operator/crds")).sort()).toEqual(
      [...renderChartFiles().keys()]
        .filter((f) => f.startsWith("crds/"))
        .map((f) => f.slice(5))
        .sort(),
    );
  });

  for (const def of CRD_DEFINITIONS) {
    const schema = (buildCrd(def) as any).spec.versions[0].schema.openAPIV3Schema;

    it(`${def.kind} describes every field, for kubectl explain`, () => {
      const undocumented: string[] = [];
      walk(schema, "", (node, path) => {
        // kubectl explain shows a list's or map's own description for its items.
        if (path.startsWith(".metadata") || path.endsWith("[]") || path.endsWith("{}")) return;
        if (!node.description) undocumented.push(path || "<root>");
      });
      expect(undocumented).toEqual([]);
    });

    it(`${def.kind} bounds every spec string and list, so the CEL cost estimate passes`, () => {
      const unbounded: string[] = [];
      walk(schema.properties.spec, ".spec", (node, path) => {
        if (
          node.type === "string" &&
          node.maxLength === undefined &&
          node.enum === undefined &&
          node.format !== "date-time"
        )
          unbounded.push(path);
        if (node.type === "array" && node.maxItems === undefined) unbounded.push(path);
      });
      expect(unbounded).toEqual([]);
    });

    it(`${def.kind} is structural: every node has a type and no forbidden keywords`, () => {
      const problems: string[] = [];
      walk(schema, "", (node, path) => {
        if (!node.type && !node["x-kubernetes-preserve-unknown-fields"]) problems.push(`${path}: no type`);
        for (const key of ["$ref", "anyOf", "oneOf", "allOf", "not", "const", "additionalItems"]) {
          if (key in node) problems.push(`${path}: ${key}`);
        }
        if (node.additionalProperties === false) problems.push(`${path}: additionalProperties false`);
      });
      expect(problems).toEqual([]);
    });
  }

  it("parses as YAML with the expected names", () => {
    for (const [, text] of renderCrdFiles()) {
      const crd = parse(text.split("\n").slice(1).join("\n"));
      expect(crd.spec.names.categories).toEqual(["arf"]);
      expect(crd.spec.versions[0].subresources).toEqual({ status: {} });
    }
  });
});

function walk(node: any, path: string, visit: (node: any, path: string) => void): void {
  visit(node, path);
  for (const [name, child] of Object.entries(node.properties ?? {})) walk(child, `${path}.${name}`, visit);
  if (node.items) walk(node.items, `${path}[]`, visit);
  if (typeof node.additionalProperties === "object") walk(node.additionalProperties, `${path}{}`, visit);
}
