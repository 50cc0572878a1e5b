// Go-style durations ("90s", "1h30m", "250ms"), the format Kubernetes users know
// from every other controller, and the one CEL's duration() parses, so a CRD
// rule and the operator agree on what a string means.
//
// The accepted syntax is a bounded subset of Go's: each of the units h, m, s
// and ms at most once and in that order, each with a bounded count and at most
// three decimals. Its largest value (about 172,000 hours) is far inside a Go
// duration (about 2,562,047 hours) and a JavaScript Date, so neither CEL's
// duration() nor date arithmetic on a parsed value can ever overflow, and
// every value is a whole number of microseconds, which Go and JavaScript
// compute exactly.

/** The units in the order they must appear, with the digits each may have before its decimal point. */
const UNITS = [
  { unit: "h", digits: 5, us: 3_600_000_000 },
  { unit: "m", digits: 6, us: 60_000_000 },
  { unit: "s", digits: 8, us: 1_000_000 },
  { unit: "ms", digits: 11, us: 1000 },
] as const;

const FRACTION_DIGITS = 3;

const token = ({ unit, digits }: (typeof UNITS)[number]) =>
  `[0-9]{1,${digits}}(\\.[0-9]{1,${FRACTION_DIGITS}})?${unit}`;

/**
 * The syntax as one regular expression, valid in JavaScript and in Go's RE2 (the
 * API server's): one alternative per leading unit, so the empty string never matches.
 */
export const GO_DURATION_PATTERN = `^(${UNITS.map(
  (first, index) =>
    token(first) +
    UNITS.slice(index + 1)
      .map((later) => `(${token(later)})?`)
      .join(""),
).join("|")})$`;

/** The longest string the pattern matches. */
export const GO_DURATION_MAX_LENGTH = UNITS.reduce(
  (sum, { unit, digits }) => sum + digits + 1 + FRACTION_DIGITS + unit.length,
  0,
);

const PATTERN = new RegExp(GO_DURATION_PATTERN);
const TOKEN = /([0-9]+)(?:\.([0-9]+))?(h|ms|m|s)/g;
const MICROS: Record<string, number> = Object.fromEntries(UNITS.map(({ unit, us }) => [unit, us]));

/**
 * Parses a duration in the syntax above into milliseconds, or returns undefined
 * if it is not one. The result is finite and exact (whole microseconds).
 */
export function parseDuration(text: string): number | undefined {
  if (!PATTERN.test(text)) return undefined;
  let micros = 0;
  for (const [, whole, fraction = "", unit] of text.matchAll(TOKEN)) {
    const us = MICROS[unit as string] as number;
    micros += Number(whole) * us + (Number(fraction.padEnd(FRACTION_DIGITS, "0")) * us) / 10 ** FRACTION_DIGITS;
  }
  return micros / 1000;
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
