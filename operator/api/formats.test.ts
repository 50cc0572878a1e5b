// The string formats zod and the CRD share (durations, cron schedules, time
// zones): what they accept is what the operator can use at run time.
import { CronExpressionParser } from "cron-parser";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { frozenUntil } from "../intent/ladder.ts";
import { GO_DURATION_PATTERN, parseDuration } from "../lib/duration.ts";
import { FreezeWindow } from "./approvalpolicy.ts";
import { duration, MAX_DURATION } from "./common.ts";
import { CRON_FIELDS, type CronField, cronRuleProblems, isCronSyntax, isValidCron } from "./cron.ts";

/** The duration in microseconds, computed with integers only. */
function exactMicros(text: string): bigint {
  const micros: Record<string, bigint> = { h: 3_600_000_000n, m: 60_000_000n, s: 1_000_000n, ms: 1000n };
  let total = 0n;
  for (const [, whole = "", fraction = "", unit = ""] of text.matchAll(/([0-9]+)(?:\.([0-9]+))?(h|ms|m|s)/g)) {
    const perUnit = micros[unit] as bigint;
    total += BigInt(whole) * perUnit + (BigInt(fraction.padEnd(3, "0")) * perUnit) / 1000n;
  }
  return total;
}

describe("durations", () => {
  const field = duration("A test.");

  it.each([
    ["30s", 30_000],
    ["10m", 600_000],
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["250ms", 250],
    ["1m0.5s", 60_500],
    ["8760h", 31_536_000_000],
  ])("accepts %s as %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(field.safeParse(text).success).toBe(true);
  });

  it.each([
    "0s",
    "0.0h",
    "8760h1ms",
    "9999999999h",
    "99999999999h",
    "",
    "30s1m",
    "1h1h",
    "1.2345s",
    "1us",
    "1d",
    "-1s",
    "1h 30m",
  ])("rejects %j", (text) => {
    expect(field.safeParse(text).success).toBe(false);
  });

  it("parses every string of the syntax to a finite, exact value that dates can hold", () => {
    const unit = (name: string, digits: number) =>
      fc
        .tuple(fc.stringMatching(new RegExp(`^[0-9]{1,${digits}}$`)), fc.option(fc.stringMatching(/^[0-9]{1,3}$/)))
        .map(([whole, fraction]) => `${whole}${fraction === null ? "" : `.${fraction}`}${name}`);
    const text = fc
      .tuple(fc.option(unit("h", 5)), fc.option(unit("m", 6)), fc.option(unit("s", 8)), fc.option(unit("ms", 11)))
      .map((parts) => parts.filter((part) => part !== null).join(""))
      .filter((joined) => joined !== "");
    fc.assert(
      fc.property(text, (joined) => {
        expect(joined).toMatch(new RegExp(GO_DURATION_PATTERN));
        const ms = parseDuration(joined) as number;
        expect(Number.isFinite(ms)).toBe(true);
        // Exactly the whole microseconds Go computes.
        expect(ms).toBe(Number(exactMicros(joined)) / 1000);
        // Below Go's largest duration (about 2,562,047 hours), and a date stays a date.
        expect(ms).toBeLessThan(2_562_047 * 3_600_000);
        expect(new Date(Date.UTC(2100, 0) + ms).toISOString()).toMatch(/^\d{4}-/);
        expect(field.safeParse(joined).success).toBe(ms > 0 && ms <= (parseDuration(MAX_DURATION) as number));
      }),
      { numRuns: 2000 },
    );
  });

  it("leaves everything else unparsed", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(..."0123456789.hmsun µd-"), maxLength: 24 }), (text) => {
        if (!new RegExp(GO_DURATION_PATTERN).test(text)) expect(parseDuration(text)).toBeUndefined();
      }),
      { numRuns: 2000 },
    );
  });
});

// ---- Cron schedules ------------------------------------------------------------

/** A plain reading of the rules in cron.ts, to check its regular expressions against. */
function referenceProblems(text: string): string[] {
  const fields = text.split(" ").map((part, index) => {
    const field = CRON_FIELDS[index] as CronField;
    return part.split(",").map((item) => {
      const [base = "", stepText] = item.split("/");
      const step = stepText === undefined ? 1 : Number(stepText);
      if (base === "*") return { start: field.min, end: field.max, step };
      const number = (word: string) => {
        const named = field.names?.indexOf(word) ?? -1;
        return named >= 0 ? field.min + named : Number(word);
      };
      const [from = "", to] = base.split("-");
      const start = number(from);
      return { start, end: to !== undefined ? number(to) : stepText !== undefined ? field.max : start, step };
    });
  });
  const problems: string[] = [];
  if (fields.some((items) => items.some((item) => item.start > item.end))) problems.push("range");
  const overlap = fields.some((items, index) =>
    items.some((a, i) =>
      items.some((b, j) => {
        if (i === j) return false;
        if (a.start <= b.end && b.start <= a.end) return true;
        return index === 4 && ((a.end === 7 && b.start === 0) || (b.end === 7 && a.start === 0));
      }),
    ),
  );
  if (overlap) problems.push("overlap");
  const [, , days = [], months = []] = fields;
  const daysInMonth = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  const monthsListed = new Set<number>();
  for (const item of months) for (let m = item.start; m <= item.end; m += item.step) monthsListed.add(m);
  const smallestDay = Math.min(...days.map((item) => item.start));
  const longest = Math.max(0, ...[...monthsListed].map((m) => daysInMonth[m - 1] as number));
  if (text.split(" ")[4] === "*" && smallestDay > longest) problems.push("day");
  return problems;
}

const kinds = (messages: string[]) =>
  messages.map((message) =>
    message.startsWith("a range") ? "range" : message.startsWith("the items") ? "overlap" : "day",
  );

/** A value of the field as [number, spelling]: plain, with a leading zero, or a name; now and then out of range. */
function fieldValue(field: CronField): fc.Arbitrary<[number, string]> {
  const spelled = (n: number): fc.Arbitrary<[number, string]> => {
    const spellings = [String(n)];
    if (n < 10 && field.name !== "day of week") spellings.push(`0${n}`);
    const name = field.names?.[n - field.min];
    if (name) spellings.push(name);
    return fc.constantFrom(...spellings).map((text) => [n, text]);
  };
  // Values worth extra attention: the ends of months, short months, Sunday twice.
  const special = { "day of month": [29, 30, 31], month: [2, 4, 6, 9, 11] }[field.name] ?? [field.min, field.max];
  return fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: field.min, max: field.max }).chain(spelled) },
    { weight: 3, arbitrary: fc.constantFrom(...special).chain(spelled) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(field.min - 1, field.max + 1, 99).map((n): [number, string] => [n, String(n)]),
    },
  );
}

function fieldText(field: CronField): fc.Arbitrary<string> {
  const range = fc
    .tuple(fieldValue(field), fieldValue(field), fc.integer({ min: 0, max: 5 }))
    // Mostly upwards.
    .map(([a, b, flip]) => (a[0] <= b[0] !== (flip === 0) ? `${a[1]}-${b[1]}` : `${b[1]}-${a[1]}`));
  const item = fc
    .tuple(
      fc.oneof(
        { weight: 1, arbitrary: fc.constant("*") },
        { weight: 3, arbitrary: fieldValue(field).map(([, text]) => text) },
        { weight: 3, arbitrary: range },
      ),
      fc.option(
        fc.oneof(
          { weight: 5, arbitrary: fc.integer({ min: 1, max: 13 }) },
          { weight: 1, arbitrary: fc.integer({ min: 0, max: 120 }) },
        ),
        {
          freq: 3,
        },
      ),
    )
    .map(([base, step]) => (step === null ? base : `${base}/${step}`));
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant("*") },
    { weight: 4, arbitrary: item },
    { weight: 2, arbitrary: fc.array(item, { minLength: 2, maxLength: 4 }).map((items) => items.join(",")) },
  );
}

const schedules = fc.tuple(...CRON_FIELDS.map(fieldText)).map((fields) => fields.join(" "));
const zones = fc.constantFrom(undefined, "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe");
const instants = fc.date({
  min: new Date("1990-01-01T00:00:00Z"),
  max: new Date("2200-01-01T00:00:00Z"),
  noInvalidDate: true,
});

describe("cron schedules", () => {
  it.each([
    "0 17 * * 5",
    "0 18 * * FRI",
    "*/15 9-17 * * MON-FRI",
    "0 0 1 JAN-MAR,OCT *",
    "5,35 0-6,22-23 * * *",
    "0 0 29 2 *",
    "0 0 31 2 1",
    "0 0 30 2,3 *",
    "0 0 31 */2 *",
    "0 0 31 4/3 *",
    "0 0 * * 0-7",
    "0 0 * * 7",
    "00 09 01 01 *",
  ])("accepts %j, and cron-parser does too", (text) => {
    expect(cronRuleProblems(text)).toEqual([]);
    expect(isValidCron(text)).toBe(true);
    expect(() => CronExpressionParser.parse(text)).not.toThrow();
  });

  it.each([
    ["60 17 * * 5", "syntax"],
    ["0 24 * * *", "syntax"],
    ["0 0 0 * *", "syntax"],
    ["0 0 * 13 *", "syntax"],
    ["0 0 * * 8", "syntax"],
    ["0 0 * * sun", "syntax"],
    ["0  17 * * 5", "syntax"],
    ["0 17 * * 5 2026", "syntax"],
    ["*/0 * * * *", "syntax"],
    ["0 0 L * *", "syntax"],
    ["@daily", "syntax"],
    ["0 17 * * FRI-MON", "range"],
    ["30-10 * * * *", "range"],
    ["0,0 * * * *", "overlap"],
    ["*/5,10 * * * *", "overlap"],
    ["0 0 * * 0,7", "overlap"],
    ["0 0 * * 5-7,SUN", "overlap"],
    ["0 0 31 2 *", "day"],
    ["0 0 30 FEB *", "day"],
    ["0 0 31 4,6,9,11 *", "day"],
    ["0 0 30-31 2/12 *", "day"],
    ["0 0 31 4-6/2 *", "day"],
  ])("rejects %j (%s)", (text, kind) => {
    if (kind === "syntax") expect(isCronSyntax(text)).toBe(false);
    else expect(kinds(cronRuleProblems(text))).toEqual([kind]);
    expect(FreezeWindow.safeParse({ name: "w", schedule: text, duration: "1h" }).success).toBe(false);
  });

  it("apply exactly the rules they state, over a plain parse", () => {
    fc.assert(
      fc.property(schedules, (text) => {
        if (!isCronSyntax(text)) return;
        const expected = referenceProblems(text);
        // A range going downwards means nothing else; only that rule must catch it.
        if (expected.includes("range")) expect(kinds(cronRuleProblems(text))).toContain("range");
        else expect(kinds(cronRuleProblems(text))).toEqual(expected);
      }),
      { numRuns: 5000 },
    );
  });

  it("accept only what cron-parser parses, and the operator's freeze-window check runs on every one", () => {
    let accepted = 0;
    fc.assert(
      fc.property(schedules, zones, instants, (text, zone, now) => {
        let parses = true;
        try {
          CronExpressionParser.parse(text, { tz: zone ?? "UTC" });
        } catch {
          parses = false;
        }
        if (!isValidCron(text)) return;
        accepted++;
        expect(parses).toBe(true);
        const until = frozenUntil(text, "1h", zone, now);
        if (until) expect(until.getTime()).toBeGreaterThan(now.getTime());
      }),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(300);
  });

  it("reject a schedule cron-parser refuses only for the stated reasons", () => {
    // What cron-parser refuses and the syntax allows, the rules reject; they may reject more
    // (overlap is judged by ranges, not by the values a step reaches), never less.
    fc.assert(
      fc.property(schedules, (text) => {
        if (!isCronSyntax(text)) return;
        let parses = true;
        try {
          CronExpressionParser.parse(text);
        } catch {
          parses = false;
        }
        if (!parses) expect(cronRuleProblems(text)).not.toEqual([]);
      }),
      { numRuns: 5000 },
    );
  });
});

describe("time zones", () => {
  const zone = (timeZone: string) =>
    FreezeWindow.safeParse({ name: "w", schedule: "0 17 * * 5", duration: "1h", timeZone }).success;

  it("accepts every zone Node knows by its own name, and the operator evaluates a window in each", () => {
    const now = new Date("2026-03-29T01:30:00Z");
    for (const name of [...Intl.supportedValuesOf("timeZone"), "UTC", "Etc/UTC", "US/Pacific", "Asia/Kolkata"]) {
      expect(zone(name), name).toBe(true);
      expect(() => frozenUntil("0 17 * * 5", "1h", name, now), name).not.toThrow();
    }
  });

  it.each([
    "Mars/Olympus",
    "Europe/BERLIN",
    "europe/berlin",
    "Local",
    "Factory",
    "+05:00",
    "posixrules",
    "Europe/Berlin/",
    "",
  ])("rejects %j", (name) => {
    expect(zone(name)).toBe(false);
  });
});
