// Summaries of V8 profiles, so each optimisation is aimed: the functions with
// the most self time in a .cpuprofile, and the constructors holding the most
// memory in a .heapsnapshot.
export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }>;
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface HotFunction {
  function: string;
  selfMs: number;
  selfPercent: number;
}

export function topSelfTime(profile: CpuProfile, top = 15): HotFunction[] {
  const totalHits = profile.nodes.reduce((sum, n) => sum + (n.hitCount ?? 0), 0) || 1;
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const byFunction = new Map<string, number>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${url.replace(/^.*\/(node_modules|operator)\//, "$1/")}:${lineNumber + 1}` : "";
    const key = `${functionName || "(anonymous)"}${where ? ` ${where}` : ""}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + (node.hitCount ?? 0));
  }
  return [...byFunction.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, hits]) => ({
      function: fn,
      selfMs: Math.round((hits / totalHits) * totalMs),
      selfPercent: Math.round((hits / totalHits) * 1000) / 10,
    }));
}

export interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapHolder {
  name: string;
  count: number;
  selfMiB: number;
}

/** Self size by constructor (objects) or by type (strings, code, arrays...). */
export function heapByConstructor(snapshot: HeapSnapshot, top = 15): HeapHolder[] {
  const fields = snapshot.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const types = snapshot.snapshot.meta.node_types[0];
  const holders = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt] as number] ?? "?";
    const name = type === "object" ? (snapshot.strings[snapshot.nodes[i + nameAt] as number] ?? "?") : `(${type})`;
    const holder = holders.get(name) ?? { count: 0, bytes: 0 };
    holder.count++;
    holder.bytes += snapshot.nodes[i + sizeAt] as number;
    holders.set(name, holder);
  }
  return [...holders.entries()]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .slice(0, top)
    .map(([name, h]) => ({ name, count: h.count, selfMiB: Math.round((h.bytes / 1048576) * 10) / 10 }));
}
