// Five-field cron schedules for freeze windows, checked identically by zod and by
// the API server: a pattern for the syntax, then three rules, each a regular
// expression that zod tests in JavaScript and the CRD in CEL (RE2; the
// expressions use nothing whose meaning differs between the two). Regular
// expressions because CEL's cost estimator prices any parse of the list items
// far above its budget. Every schedule they accept parses in cron-parser, which
// the operator runs (cron.test.ts checks this against a plain parse).
//
// The syntax: single spaces between minute (0-59), hour (0-23), day of month
// (1-31), month (1-12 or JAN-DEC) and day of week (0-7, 0 and 7 being Sunday,
// or SUN-SAT). Each field is a comma-separated list of items: `*`, a value or a
// range `a-b`, each optionally with a step `/n` (1-99). A value below 10 may
// have a leading zero, except in the day of week.

export interface CronField {
  name: string;
  min: number;
  max: number;
  /** Whether a value below 10 may be written with a leading zero. */
  zero: boolean;
  /** Names standing for min, min+1, ... */
  names?: readonly string[];
}

export const CRON_FIELDS: readonly CronField[] = [
  { name: "minute", min: 0, max: 59, zero: true },
  { name: "hour", min: 0, max: 23, zero: true },
  { name: "day of month", min: 1, max: 31, zero: true },
  {
    name: "month",
    min: 1,
    max: 12,
    zero: true,
    names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
  },
  { name: "day of week", min: 0, max: 7, zero: false, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] },
];
const [, , DAY_OF_MONTH, MONTH, DAY_OF_WEEK] = CRON_FIELDS as [CronField, CronField, CronField, CronField, CronField];

// ---- Building blocks ----------------------------------------------------------

const alt = (parts: string[]) => (parts.length === 1 ? (parts[0] as string) : `(${parts.join("|")})`);
const digitClass = (from: number, to: number) => (from === to ? `${from}` : `[${from}-${to}]`);

/** The decimal numbers from..to (0 <= from <= to <= 99), with an optional leading zero below 10 if `zero`. */
function numbers(from: number, to: number, zero: boolean): string[] {
  const parts: string[] = [];
  if (from <= 9) parts.push(`${zero ? "0?" : ""}${digitClass(from, Math.min(to, 9))}`);
  for (let tens = Math.max(1, Math.floor(from / 10)); tens <= Math.floor(to / 10); tens++) {
    parts.push(`${tens}${digitClass(Math.max(from, tens * 10) % 10, Math.min(to, tens * 10 + 9) % 10)}`);
  }
  return parts;
}

/** Any spelling of a value of the field between from and to, inclusive; undefined if there is none. */
function values(field: CronField, from: number, to: number): string | undefined {
  const [lo, hi] = [Math.max(from, field.min), Math.min(to, field.max)];
  if (lo > hi) return undefined;
  const names = (field.names ?? []).filter((_, index) => field.min + index >= lo && field.min + index <= hi);
  return alt([...numbers(lo, hi, field.zero), ...names]);
}
const value = (field: CronField, n: number) => values(field, n, n) as string;

/** A step whose number is in `steps` (all of 1-99 when omitted). */
function step(steps?: number[]): string | undefined {
  if (!steps) return "/[1-9][0-9]?";
  const parts: string[] = [];
  for (let i = 0; i < steps.length; ) {
    let j = i;
    while (j + 1 < steps.length && (steps[j + 1] as number) === (steps[j] as number) + 1) j++;
    parts.push(...numbers(steps[i] as number, steps[j] as number, false));
    i = j + 1;
  }
  return parts.length === 0 ? undefined : `/${alt(parts)}`;
}
const STEP = step() as string;
const ANY = (field: CronField) => values(field, field.min, field.max) as string;

/** Any item of the field. */
const item = (field: CronField) => `(\\*|${ANY(field)}(-${ANY(field)})?)(${STEP})?`;

/**
 * A schedule whose field `index` is a list that has, for one of the `alternatives`,
 * its items (regular expressions of whole items) somewhere in it, in that order.
 */
function fieldWith(index: number, alternatives: string[][]): string {
  const anyItems = "([^ ,]+,)*";
  const body = alt(alternatives.map((items) => items.join(`,${anyItems}`)));
  return `^([^ ]+ ){${index}}${anyItems}${body}(,[^ ,]+)*( .*)?$`;
}

// ---- The syntax ---------------------------------------------------------------

/** The syntax of a schedule. */
export const CRON_PATTERN = `^${CRON_FIELDS.map((field) => `${item(field)}(,${item(field)})*`).join(" ")}$`;

export const CRON_SYNTAX_MESSAGE =
  "must be a 5-field cron expression such as '0 18 * * FRI': minute hour day-of-month month day-of-week, separated by single spaces";

// ---- Rule 1: a range goes upwards ---------------------------------------------

const DESCENDING_RANGE = CRON_FIELDS.map((field, index) => {
  const ranges: string[] = [];
  for (let n = field.min + 1; n <= field.max; n++) {
    ranges.push(`${value(field, n)}-${values(field, field.min, n - 1)}`);
  }
  return fieldWith(index, [[`${alt(ranges)}(${STEP})?`]]);
});

// ---- Rule 2: the items of a list do not overlap --------------------------------
// Conservatively, as intervals: an item covers start..end, whatever its step
// (`*` is min..max, `a` is a..a, `a/n` is a..max, `a-b` and `a-b/n` are a..b).
// In the day of week an item ending at 7 also covers 0, as 7 is Sunday again.

/** Items whose interval contains n. */
function covering(field: CronField, n: number): string {
  const parts = [
    `\\*(${STEP})?`,
    value(field, n),
    `${values(field, field.min, n)}(${STEP}|-${values(field, n, field.max)}(${STEP})?)`,
  ];
  if (field === DAY_OF_WEEK && n === 0) parts.push(`${ANY(field)}(${STEP}|-7(${STEP})?)`, "7");
  return alt(parts);
}

const OVERLAP = CRON_FIELDS.map((field, index) => {
  const pairs: string[][] = [];
  for (let n = field.min; n <= field.max; n++) pairs.push([covering(field, n), covering(field, n)]);
  return fieldWith(index, pairs);
});

// ---- Rule 3: the day of month comes in some month ------------------------------
// cron-parser refuses a day of week of exactly `*` with a smallest day of month
// that none of the months has: 30 or 31 in February alone, 31 in months of 30
// days or fewer alone. These expressions match such schedules exactly, stepping
// through the months as cron-parser does.

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** A list of days of month whose every item starts at `from` or later. */
const daysFrom = (from: number) => {
  const start = values(DAY_OF_MONTH, from, 31) as string;
  const dayItem = `${start}(-${ANY(DAY_OF_MONTH)})?(${STEP})?`;
  return `${dayItem}(,${dayItem})*`;
};

/** A list of months whose every item steps only through months with fewer than `days` days. */
function monthsShorterThan(days: number): string {
  const short = (month: number) => (DAYS_IN_MONTH[month - 1] as number) < days;
  const stepsOnlyShort = (start: number, end: number) =>
    Array.from({ length: 99 }, (_, i) => i + 1).filter((n) => {
      for (let month = start; month <= end; month += n) if (!short(month)) return false;
      return true;
    });
  const items: string[] = [];
  for (let start = 1; start <= 12; start++) {
    if (!short(start)) continue;
    const from = value(MONTH, start);
    items.push(from);
    // a/n runs to December, a-b and a-b/n to b.
    const open = step(stepsOnlyShort(start, 12));
    if (open) items.push(`${from}${open}`);
    for (let end = start; end <= 12; end++) {
      const steps = stepsOnlyShort(start, end);
      if (steps.length === 0) continue;
      const to = value(MONTH, end);
      // Without a step, the range steps by 1.
      items.push(steps.includes(1) ? `${from}-${to}(${step(steps)})?` : `${from}-${to}${step(steps)}`);
    }
  }
  const monthItem = alt(items);
  return `${monthItem}(,${monthItem})*`;
}

const NEVER_DAY = [
  `^[^ ]+ [^ ]+ ${daysFrom(30)} ${monthsShorterThan(30)} \\*$`,
  `^[^ ]+ [^ ]+ ${daysFrom(31)} ${monthsShorterThan(31)} \\*$`,
];

// ---- The rules, for zod and for the CRD ------------------------------------------

interface CronRule {
  message: string;
  /** The rule holds when the schedule matches `matching` (if given) and none of `notMatching`. */
  matching?: string;
  notMatching: string[];
}

const CRON_RULES: readonly CronRule[] = [
  { message: "a range must go upwards, e.g. 1-5 and not 5-1", notMatching: DESCENDING_RANGE },
  {
    message: "the items of a list must not overlap, e.g. 0,15-20 and not 0-20,15 or */5,10 (and 7 is Sunday, as 0 is)",
    notMatching: OVERLAP,
  },
  {
    message: "the day of month never comes in those months, e.g. 30 2 (February 30) or 31 4,6 (April or June 31)",
    notMatching: [NEVER_DAY.join("|")],
  },
];

const cronRe = new RegExp(CRON_PATTERN);
const compiled = CRON_RULES.map((rule) => ({ ...rule, notMatching: rule.notMatching.map((re) => new RegExp(re)) }));

/**
 * The messages of the rules the schedule breaks, as the API server reports them;
 * none when the syntax is wrong, which CRON_PATTERN reports (the CRD's rules skip such schedules too).
 */
export function cronRuleProblems(text: string): string[] {
  if (!cronRe.test(text)) return [];
  return compiled.filter((rule) => rule.notMatching.some((re) => re.test(text))).map((rule) => rule.message);
}

/** Whether the schedule has the syntax. */
export const isCronSyntax = (text: string) => cronRe.test(text);

/** Whether zod and the CRD accept the schedule. */
export const isValidCron = (text: string) => cronRe.test(text) && cronRuleProblems(text).length === 0;

/**
 * The CRD's rules for a schedule field: the syntax (a rule rather than a pattern,
 * so the API server's message is readable), then the rules, each skipping
 * schedules with a wrong syntax.
 */
export function cronValidations() {
  const syntax = `self.matches(r'${CRON_PATTERN}')`;
  return [
    { rule: syntax, message: CRON_SYNTAX_MESSAGE, reason: "FieldValueInvalid" },
    ...CRON_RULES.map((rule) => ({
      rule: `!${syntax} || (${rule.notMatching.map((re) => `!self.matches(r'${re}')`).join(" && ")})`,
      message: rule.message,
      reason: "FieldValueInvalid",
    })),
  ];
}
