/**
 * Every plan version's rules, flattened, with the plan's currency; and every partner's plan assignments. Small
 * (plans and versions number in the tens or hundreds), read once per calculation batch or recomputation.
 */
import { asc } from 'drizzle-orm';
import type { Executor } from '../../db/connect.ts';
import { commissionPlans, commissionPlanVersions, partnerPlanAssignments } from '../../db/schema.ts';
import { type FlatRules, flattenRules, planRulesInput } from './rules.ts';

export interface VersionData {
  id: string;
  planId: string;
  version: number;
  effectiveFrom: Date;
  currency: string;
  flat: FlatRules;
}

export interface AssignmentData {
  partnerId: string;
  planId: string | null;
  effectiveFrom: Date;
}

export interface PlanData {
  versions: Map<string, VersionData>;
  versionsByPlan: Map<string, VersionData[]>;
  assignmentsByPartner: Map<string, AssignmentData[]>;
}

export async function loadPlanData(tx: Executor): Promise<PlanData> {
  const plans = new Map((await tx.select().from(commissionPlans)).map((p) => [p.id, p]));
  const rows = await tx
    .select()
    .from(commissionPlanVersions)
    .orderBy(asc(commissionPlanVersions.planId), asc(commissionPlanVersions.effectiveFrom));
  const versions = new Map<string, VersionData>();
  const versionsByPlan = new Map<string, VersionData[]>();
  for (const row of rows) {
    const currency = plans.get(row.planId)!.currency;
    const data: VersionData = {
      id: row.id,
      planId: row.planId,
      version: row.version,
      effectiveFrom: row.effectiveFrom,
      currency,
      flat: flattenRules(planRulesInput.parse(row.rules), currency),
    };
    versions.set(row.id, data);
    const list = versionsByPlan.get(row.planId) ?? [];
    list.push(data);
    versionsByPlan.set(row.planId, list);
  }
  const assignmentsByPartner = new Map<string, AssignmentData[]>();
  for (const a of await tx
    .select()
    .from(partnerPlanAssignments)
    .orderBy(asc(partnerPlanAssignments.partnerId), asc(partnerPlanAssignments.effectiveFrom))) {
    const list = assignmentsByPartner.get(a.partnerId) ?? [];
    list.push({ partnerId: a.partnerId, planId: a.planId, effectiveFrom: a.effectiveFrom });
    assignmentsByPartner.set(a.partnerId, list);
  }
  return { versions, versionsByPlan, assignmentsByPartner };
}

/** The plan version a partner's trade closed at `time` is commissioned by: assignment then version in force. */
export function versionFor(data: PlanData, partnerId: string, time: Date): VersionData | null {
  const assignment = lastAtOrBefore(data.assignmentsByPartner.get(partnerId) ?? [], time);
  if (!assignment?.planId) return null;
  return lastAtOrBefore(data.versionsByPlan.get(assignment.planId) ?? [], time);
}

function lastAtOrBefore<T extends { effectiveFrom: Date }>(sorted: T[], time: Date): T | null {
  let found: T | null = null;
  for (const item of sorted) {
    if (item.effectiveFrom.getTime() <= time.getTime()) found = item;
    else break;
  }
  return found;
}
