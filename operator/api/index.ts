import type { z } from "zod";
import { ApprovalPolicySpec } from "./approvalpolicy.ts";
import { HealingIntentSpec } from "./healingintent.ts";
import { RollbackPlanSpec } from "./rollbackplan.ts";

export * from "./approvalpolicy.ts";
export * from "./common.ts";
export * from "./healingintent.ts";
export * from "./rollbackplan.ts";

export const SPEC_SCHEMAS: Record<string, z.ZodType> = {
  HealingIntent: HealingIntentSpec,
  ApprovalPolicy: ApprovalPolicySpec,
  RollbackPlan: RollbackPlanSpec,
};
