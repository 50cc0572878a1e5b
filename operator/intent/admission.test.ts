import { describe, expect, it } from "vitest";
import { approvalsAdmissionBinding, approvalsAdmissionPolicy } from "../api/admission.ts";
import { admissionSince, judgeAdmission } from "./admission.ts";
import { AdmissionTracker } from "./admission-notes.ts";

const installed = (generation = 1, uid = "p1") => ({
  ...approvalsAdmissionPolicy(),
  metadata: { ...approvalsAdmissionPolicy().metadata, uid, generation, creationTimestamp: "2026-11-20T10:00:00Z" },
  spec: {
    ...approvalsAdmissionPolicy().spec,
    // What the API server adds by default must not count as a change.
    matchConstraints: {
      ...approvalsAdmissionPolicy().spec.matchConstraints,
      matchPolicy: "Equivalent",
      namespaceSelector: {},
      objectSelector: {},
      resourceRules: approvalsAdmissionPolicy().spec.matchConstraints.resourceRules.map((r) => ({ ...r, scope: "*" })),
    },
  },
});
const bound = (generation = 1, spec: Record<string, unknown> = {}, uid = "b1") => ({
  ...approvalsAdmissionBinding(),
  metadata: { ...approvalsAdmissionBinding().metadata, uid, generation, creationTimestamp: "2026-11-20T10:00:05Z" },
  spec: { ...approvalsAdmissionBinding().spec, ...spec },
});

describe("judgeAdmission", () => {
  it("accepts the shipped policy with a Deny binding, as the API server returns them", () => {
    const judged = judgeAdmission(installed(), bound());
    expect(judged).toMatchObject({ verified: true, neverChanged: true });
  });

  it.each([
    ["missing binding", installed(), undefined, "AdmissionPolicyMissing"],
    ["a Warn binding", installed(), bound(2, { validationActions: ["Warn"] }), "AdmissionPolicyAltered"],
    [
      "a matchCondition that disables it",
      { ...installed(), spec: { ...installed().spec, matchConditions: [{ name: "off", expression: "false" }] } },
      bound(),
      "AdmissionPolicyAltered",
    ],
    [
      "narrowed matchConstraints",
      {
        ...installed(),
        spec: {
          ...installed().spec,
          matchConstraints: { resourceRules: [], namespaceSelector: { matchLabels: { x: "y" } } },
        },
      },
      bound(),
      "AdmissionPolicyAltered",
    ],
    [
      "changed CEL",
      { ...installed(), spec: { ...installed().spec, validations: [{ expression: "true" }] } },
      bound(),
      "AdmissionPolicyAltered",
    ],
    ["a binding with a paramRef", installed(), bound(1, { paramRef: { name: "x" } }), "AdmissionPolicyAltered"],
  ] as const)("refuses %s", (_name, policy, binding, reason) => {
    expect(judgeAdmission(policy, binding)).toMatchObject({ verified: false, reason });
  });
});

describe("since when the admission policy is in force", () => {
  const now = new Date("2026-11-22T12:00:00Z");
  it("is their creation if neither was ever changed, the note's time for a known identity, and now otherwise", () => {
    const fresh = judgeAdmission(installed(), bound());
    if (!fresh.verified) throw new Error("unverified");
    expect(admissionSince(fresh, undefined, now).since.toISOString()).toBe("2026-11-20T10:00:05.000Z");
    const changed = judgeAdmission(installed(), bound(3));
    if (!changed.verified) throw new Error("unverified");
    const first = admissionSince(changed, undefined, now);
    expect(first.since).toEqual(now);
    expect(admissionSince(changed, first.store, new Date("2026-11-23T00:00:00Z")).since).toEqual(now);
    // A metadata-only write (a label) changes no generation: nothing moves.
    expect(admissionSince(changed, first.store, now).store).toBeUndefined();
  });

  it("the tracker notes a change it did not see happen as of now, and keeps the note durable", async () => {
    const stored: unknown[] = [];
    let note: any;
    const tracker = new AdmissionTracker({
      read: async () => note,
      write: async (n) => {
        note = n;
        stored.push(n);
      },
    });
    const t1 = new Date("2026-11-22T12:00:00Z");
    expect(await tracker.state(judgeAdmission(installed(), bound(2)), t1)).toEqual({ verified: true, lastChanged: t1 });
    const t2 = new Date("2026-11-22T13:00:00Z");
    expect(await tracker.state(judgeAdmission(installed(), bound(2)), t2)).toEqual({ verified: true, lastChanged: t1 });
    // Warn and back to Deny between two looks: the generation moved, so approvals before t3 no longer count.
    const t3 = new Date("2026-11-22T14:00:00Z");
    expect(await tracker.state(judgeAdmission(installed(), bound(4)), t3)).toEqual({ verified: true, lastChanged: t3 });
    // A new process reads the durable note.
    const restarted = new AdmissionTracker({ read: async () => note, write: async () => undefined });
    expect(await restarted.state(judgeAdmission(installed(), bound(4)), new Date("2026-11-23T00:00:00Z"))).toEqual({
      verified: true,
      lastChanged: t3,
    });
    expect(stored).toHaveLength(2);
  });
});
