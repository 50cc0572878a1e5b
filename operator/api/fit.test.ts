import { describe, expect, it } from "vitest";
import { fitToSchema, StatusSchemaError, TRUNCATION_MARKER } from "./fit.ts";
import { HealingIntentStatus } from "./healingintent.ts";

describe("fitToSchema", () => {
  it("cuts strings over their bound with a marker and keeps the newest list entries", () => {
    const huge = "x".repeat(10_000);
    const history = Array.from({ length: 80 }, (_, i) => ({
      time: "2026-11-20T10:00:00Z",
      reason: "R",
      message: `m${i}`,
    }));
    const { value, truncated } = fitToSchema(
      HealingIntentStatus,
      {
        phase: "Advisory",
        recommendation: { summary: huge, changes: [], dryRun: { validated: true }, computedAt: "2026-11-20T10:00:00Z" },
        history,
      },
      "status",
    );
    expect(value.recommendation?.summary).toHaveLength(4096);
    expect(value.recommendation?.summary.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(value.history).toHaveLength(64);
    expect(value.history?.[63]?.message).toBe("m79");
    expect(truncated).toEqual(expect.arrayContaining(["status.recommendation.summary", "status.history"]));
    expect(HealingIntentStatus.safeParse(value).success).toBe(true);
  });

  it("refuses what truncation cannot fix, naming the field", () => {
    expect(() => fitToSchema(HealingIntentStatus, { phase: "Bogus" }, "status")).toThrow(StatusSchemaError);
    expect(() => fitToSchema(HealingIntentStatus, { phase: "Bogus" }, "status")).toThrow(/status\.phase/);
  });
});
