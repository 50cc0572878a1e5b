// The image runs the bundle (hack/bundle.ts), not the sources: the separation
// of editions must survive bundling, and the bundle must find its vendor key.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OutputChunk } from "rolldown";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleOperator } from "./bundle.ts";

const outDir = mkdtempSync(join(tmpdir(), "arf-bundle-test-"));
let chunks: OutputChunk[] = [];
afterAll(() => rmSync(outDir, { recursive: true, force: true }));
beforeAll(async () => {
  chunks = await bundleOperator(outDir);
}, 60_000);

/** Every chunk a chunk loads by static imports, itself included. */
function staticClosure(fileName: string): Set<string> {
  const seen = new Set<string>();
  const stack = [fileName];
  while (stack.length > 0) {
    const name = stack.pop() as string;
    if (seen.has(name)) continue;
    seen.add(name);
    stack.push(...(chunks.find((c) => c.fileName === name)?.imports ?? []));
  }
  return seen;
}

describe("the operator's bundle", () => {
  it("keeps the licensed executor out of what the entry point loads statically", () => {
    const entry = chunks.find((c) => c.isEntry);
    expect(entry?.fileName).toBe("main.js");
    const executorChunk = chunks.find((c) => c.moduleIds.some((id) => id.endsWith("/operator/executor/executor.ts")));
    expect(executorChunk).toBeDefined();
    expect(executorChunk?.isEntry).toBe(false);
    const loaded = staticClosure("main.js");
    expect(loaded.has(executorChunk?.fileName as string)).toBe(false);
    // No module of operator/executor/ is in a chunk the entry point loads statically.
    const executorDir = `${join(import.meta.dirname, "..", "operator", "executor")}/`;
    const leaked = chunks
      .filter((c) => loaded.has(c.fileName))
      .flatMap((c) => c.moduleIds.filter((id) => id.startsWith(executorDir)));
    expect(leaked).toEqual([]);
    // Reached only through edition.ts' dynamic import, which the licensed wiring awaits.
    expect(entry?.dynamicImports).toContain(executorChunk?.fileName);
  });

  it("declares its files ES modules, and refuses to empty a directory that is not an earlier bundle", async () => {
    expect(JSON.parse(readFileSync(join(outDir, "package.json"), "utf8"))).toEqual({ type: "module" });
    const precious = mkdtempSync(join(tmpdir(), "arf-bundle-precious-"));
    writeFileSync(join(precious, "keep.txt"), "mine");
    try {
      await expect(bundleOperator(precious)).rejects.toThrow("not an earlier bundle");
      expect(readFileSync(join(precious, "keep.txt"), "utf8")).toBe("mine");
      // An earlier bundle is replaced.
      expect((await bundleOperator(outDir)).some((c) => c.fileName === "main.js")).toBe(true);
    } finally {
      rmSync(precious, { recursive: true, force: true });
    }
  }, 60_000);

  it("ships the vendor's public key beside the chunks, where license.ts looks for it", () => {
    const shipped = join(outDir, "vendor-public-key.pem");
    expect(existsSync(shipped)).toBe(true);
    expect(readFileSync(shipped, "utf8")).toBe(
      readFileSync(join(import.meta.dirname, "..", "operator", "license", "vendor-public-key.pem"), "utf8"),
    );
  });

  it("is minified and keeps function names for readable stack traces", () => {
    const main = chunks.find((c) => c.fileName === "main.js") as OutputChunk;
    // Minified: far smaller than the sources it holds would be unminified (about 8 MiB).
    expect(main.code.length).toBeLessThan(4 * 1024 * 1024);
    expect(main.code).toContain("decideIntent");
  });
});
