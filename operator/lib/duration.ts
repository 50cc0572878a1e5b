// Go-style durations ("90s", "1h30m", "250ms"), the format Kubernetes users know
// from every other controller, and the one CEL's duration() parses, so a CRD
// rule and the operator agree on what a string means.

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

export const GO_DURATION_PATTERN = "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";
const TOKEN = /([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/gy;

/** Parses a Go duration into milliseconds, or returns undefined if it is not one. */
export function parseDuration(text: string): number | undefined {
  if (!new RegExp(GO_DURATION_PATTERN).test(text)) return undefined;
  TOKEN.lastIndex = 0;
  let total = 0;
  for (let match = TOKEN.exec(text); match; match = TOKEN.exec(text)) {
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  }
  return total;
}

/** Formats milliseconds as a compact Go duration, e.g. 5400000 -> "1h30m". */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * size;
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join("");
}
