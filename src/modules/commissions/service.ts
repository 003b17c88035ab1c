/**
 * The commissions module owns what introducing brokers earn: commission plans and their immutable versions, which
 * plan a partner is on from when, partners' own logins on the trading servers (their "agent account"), the
 * calculation of commission lines from closed trades (calculate.ts), statements and recomputation (statements.ts,
 * recompute.ts) and payouts (payouts.ts). Rules and rounding are described in rules.ts, volume counting in
 * calculate.ts.
 *
 * Nothing already computed ever changes: a new version or assignment may not take effect before a trade already
 * commissioned for a partner concerned or any sub-IB below it (a master's override lines are written with the
 * sub-IB's line, never later), so recomputing a line from its trade and the plan versions always gives the stored
 * amount. Both are written while no calculation batch runs (lockCalculation).
 */
import { and, asc, desc, eq, max, type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Clock } from '../../clock.ts';
import type { Database, Executor } from '../../db/connect.ts';
import {
  commissionPlans,
  commissionPlanVersions,
  partnerPlanAssignments,
  partnerServerLogins,
  partners,
  tradingAccounts,
  tradingServers,
} from '../../db/schema.ts';
import type { AlertPort, AuditPort } from '../../operations/ports.ts';
import type { Sealer } from '../../operations/sealed.ts';
import { type CalculationOptions, type CalculationResult, calculateCommissions, lockCalculation } from './calculate.ts';
import { CommissionError } from './errors.ts';
import { MAX_OVERRIDE_LEVELS, planRulesInput } from './rules.ts';

export interface CommissionDeps {
  database: Database;
  clock: Clock;
  audit: AuditPort;
  alerts: AlertPort;
  sealer: Sealer;
}

const code = z
  .string()
  .trim()
  .regex(/^[a-z0-9][a-z0-9_-]{1,39}$/, 'a code: 2 to 40 lower-case letters, digits, - and _');
const when = z.iso.datetime({ offset: true, message: 'an ISO date-time such as 2025-01-01T00:00:00Z' });

export const planInput = z
  .object({
    code,
    name: z.string().trim().min(1).max(120),
    currency: z.string().regex(/^[A-Z]{3}$/, 'a currency code such as USD'),
    /** The first version. */
    rules: planRulesInput,
    effectiveFrom: when.optional(),
    note: z.string().trim().max(500).optional(),
  })
  .strict();

export const planChangeInput = z
  .object({
    name: z.string().trim().min(1).max(120).optional(),
    status: z.enum(['active', 'archived']).optional(),
  })
  .strict()
  .refine((c) => c.name !== undefined || c.status !== undefined, 'change name or status');

export const versionInput = z
  .object({
    rules: planRulesInput,
    /** Defaults to now; never before a trade already commissioned under the plan. */
    effectiveFrom: when.optional(),
    note: z.string().trim().max(500).optional(),
  })
  .strict();

export const assignmentInput = z
  .object({
    /** null ends the partner's plan from that date. */
    planId: z.uuid('must be a plan id').nullable(),
    effectiveFrom: when.optional(),
    reason: z.string().trim().min(3).max(500),
  })
  .strict();

export const serverLoginInput = z
  .object({
    serverCode: z.string().trim().min(1).max(64),
    /** The partner's login on that server (MT4/MT5 agent account); taken from the account when one is given. */
    login: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
    /** The CRM trading account with this login (needed for payouts to a trading account). */
    tradingAccountId: z.uuid('must be a trading account id').optional(),
  })
  .strict()
  .refine((v) => v.login !== undefined || v.tradingAccountId !== undefined, 'give login or tradingAccountId');

export type Plan = typeof commissionPlans.$inferSelect;
export type PlanVersion = typeof commissionPlanVersions.$inferSelect;
export type PartnerServerLogin = typeof partnerServerLogins.$inferSelect;

function uniqueViolation(err: unknown): string | null {
  for (let e = err as { code?: string; constraint?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === '23505') return e.constraint ?? '';
  }
  return null;
}

/**
 * The latest close time at or after `from` of a trade already commissioned for one of the partners `roots` selects
 * or a partner below one of them (up to MAX_OVERRIDE_LEVELS): a plan change from `from` would change lines already
 * written, or owe override lines that are never written (overrides are computed with the trade's level-0 line).
 */
async function commissionedUpTo(tx: Executor, roots: SQL, from: Date): Promise<Date | null> {
  const [row] = (
    (await tx.execute(sql`
      with recursive tree(id, depth) as (
        select r.partner_id, 0 from (${roots}) as r(partner_id)
        union
        select p.id, tree.depth + 1 from partners p join tree on p.parent_id = tree.id
        where tree.depth < ${MAX_OVERRIDE_LEVELS}
      )
      select max(l.trade_time) as at
      from (select distinct id from tree) t
      cross join lateral (
        select trade_time from commission_lines l
        where l.partner_id = t.id and l.trade_time >= ${from.toISOString()}::timestamptz
        order by trade_time desc limit 1) l`)) as unknown as { rows: { at: Date | string | null }[] }
  ).rows;
  return row?.at ? new Date(row.at) : null;
}

export class CommissionService {
  constructor(readonly deps: CommissionDeps) {}

  private get db() {
    return this.deps.database.db;
  }

  /** Runs the calculation now (the worker does it on a schedule). */
  calculate(options: CalculationOptions = {}): Promise<CalculationResult> {
    return calculateCommissions(this.deps, options);
  }

  // --- plans ---------------------------------------------------------------------------------------------------------

  async createPlan(input: z.input<typeof planInput>, staffId: string): Promise<{ plan: Plan; version: PlanVersion }> {
    const value = planInput.parse(input);
    const now = this.deps.clock.now();
    try {
      return await this.db.transaction(async (tx) => {
        const [plan] = await tx
          .insert(commissionPlans)
          .values({
            code: value.code,
            name: value.name,
            currency: value.currency,
            status: 'active',
            createdBy: staffId,
            createdAt: now,
            updatedAt: now,
          })
          .returning();
        const version = await this.insertVersion(tx, plan!, 1, value, staffId);
        await this.deps.audit.record(tx, {
          actorType: 'staff',
          actorId: staffId,
          action: 'commission_plan.created',
          entityType: 'commission_plan',
          entityId: plan!.id,
          after: { code: value.code, name: value.name, currency: value.currency, version: version.id },
        });
        return { plan: plan!, version };
      });
    } catch (err) {
      if (uniqueViolation(err)?.includes('code')) {
        throw new CommissionError('PLAN_EXISTS', 409, `a plan with the code ${value.code} already exists`);
      }
      throw err;
    }
  }

  async updatePlan(planId: string, input: z.input<typeof planChangeInput>, staffId: string): Promise<Plan> {
    const change = planChangeInput.parse(input);
    return this.db.transaction(async (tx) => {
      const before = await this.lockPlan(tx, planId);
      const [after] = await tx
        .update(commissionPlans)
        .set({ ...change, updatedAt: this.deps.clock.now() })
        .where(eq(commissionPlans.id, planId))
        .returning();
      await this.deps.audit.record(tx, {
        actorType: 'staff',
        actorId: staffId,
        action: 'commission_plan.updated',
        entityType: 'commission_plan',
        entityId: planId,
        before: { name: before.name, status: before.status },
        after: change,
      });
      return after!;
    });
  }

  /** A new version of a plan's rules, in force from `effectiveFrom` (now by default). */
  async addVersion(planId: string, input: z.input<typeof versionInput>, staffId: string): Promise<PlanVersion> {
    const value = versionInput.parse(input);
    return this.db.transaction(async (tx) => {
      const plan = await this.lockPlan(tx, planId);
      if (plan.status !== 'active') {
        throw new CommissionError('PLAN_ARCHIVED', 409, `plan ${plan.code} is archived; reactivate it first`);
      }
      const [last] = await tx
        .select({ n: max(commissionPlanVersions.version) })
        .from(commissionPlanVersions)
        .where(eq(commissionPlanVersions.planId, planId));
      const version = await this.insertVersion(tx, plan, (last?.n ?? 0) + 1, value, staffId);
      await this.deps.audit.record(tx, {
        actorType: 'staff',
        actorId: staffId,
        action: 'commission_plan.version_added',
        entityType: 'commission_plan',
        entityId: planId,
        after: { version: version.version, versionId: version.id, effectiveFrom: version.effectiveFrom },
      });
      return version;
    });
  }

  private async insertVersion(
    tx: Executor,
    plan: Plan,
    version: number,
    value: { rules: z.output<typeof planRulesInput>; effectiveFrom?: string | undefined; note?: string | undefined },
    staffId: string,
  ): Promise<PlanVersion> {
    const now = this.deps.clock.now();
    const effectiveFrom = value.effectiveFrom ? new Date(value.effectiveFrom) : now;
    await lockCalculation(tx);
    // Every partner ever on the plan, and their sub-IBs: a version may change what any of them earns on a trade.
    const latest = await commissionedUpTo(
      tx,
      sql`select distinct partner_id from partner_plan_assignments where plan_id = ${plan.id}`,
      effectiveFrom,
    );
    if (latest) {
      throw new CommissionError(
        'VERSION_RETROACTIVE',
        409,
        `trades closed up to ${latest.toISOString()} are already commissioned for partners on plan ${plan.code} or their sub-IBs; a new version can take effect only after that`,
        { commissionedUpTo: latest },
      );
    }
    try {
      const [row] = await tx
        .insert(commissionPlanVersions)
        .values({
          planId: plan.id,
          version,
          effectiveFrom,
          rules: value.rules,
          note: value.note ?? null,
          createdBy: staffId,
          createdAt: now,
        })
        .returning();
      return row!;
    } catch (err) {
      if (uniqueViolation(err)?.includes('from')) {
        throw new CommissionError(
          'VERSION_RETROACTIVE',
          409,
          `plan ${plan.code} already has a version taking effect at ${effectiveFrom.toISOString()}`,
        );
      }
      throw err;
    }
  }

  async listPlans(): Promise<(Plan & { versions: number; latestVersion: PlanVersion | null })[]> {
    const plans = await this.db.select().from(commissionPlans).orderBy(asc(commissionPlans.code));
    const versions = await this.db
      .select()
      .from(commissionPlanVersions)
      .orderBy(asc(commissionPlanVersions.planId), asc(commissionPlanVersions.version));
    return plans.map((p) => {
      const mine = versions.filter((v) => v.planId === p.id);
      return { ...p, versions: mine.length, latestVersion: mine.at(-1) ?? null };
    });
  }

  async getPlan(planId: string): Promise<{ plan: Plan; versions: PlanVersion[] }> {
    const [plan] = await this.db.select().from(commissionPlans).where(eq(commissionPlans.id, planId));
    if (!plan) throw new CommissionError('PLAN_NOT_FOUND', 404, `no commission plan ${planId}`);
    const versions = await this.db
      .select()
      .from(commissionPlanVersions)
      .where(eq(commissionPlanVersions.planId, planId))
      .orderBy(asc(commissionPlanVersions.version));
    return { plan, versions };
  }

  private async lockPlan(tx: Executor, planId: string): Promise<Plan> {
    const [plan] = await tx.select().from(commissionPlans).where(eq(commissionPlans.id, planId)).for('update');
    if (!plan) throw new CommissionError('PLAN_NOT_FOUND', 404, `no commission plan ${planId}`);
    return plan;
  }

  // --- assignments ---------------------------------------------------------------------------------------------------

  async assignPlan(partnerId: string, input: z.input<typeof assignmentInput>, staffId: string) {
    const value = assignmentInput.parse(input);
    const effectiveFrom = value.effectiveFrom ? new Date(value.effectiveFrom) : this.deps.clock.now();
    return this.db.transaction(async (tx) => {
      await this.lockPartner(tx, partnerId);
      if (value.planId) {
        const plan = await this.lockPlan(tx, value.planId);
        if (plan.status !== 'active') {
          throw new CommissionError('PLAN_ARCHIVED', 409, `plan ${plan.code} is archived; choose an active plan`);
        }
      }
      await lockCalculation(tx);
      const latest = await commissionedUpTo(tx, sql`select ${partnerId}::uuid`, effectiveFrom);
      if (latest) {
        throw new CommissionError(
          'ASSIGNMENT_RETROACTIVE',
          409,
          `trades of this partner or its sub-IBs up to ${latest.toISOString()} are already commissioned; a plan change can take effect only after that`,
          { commissionedUpTo: latest },
        );
      }
      try {
        const [row] = await tx
          .insert(partnerPlanAssignments)
          .values({
            partnerId,
            planId: value.planId,
            effectiveFrom,
            reason: value.reason,
            createdBy: staffId,
            createdAt: this.deps.clock.now(),
          })
          .returning();
        await this.deps.audit.record(tx, {
          actorType: 'staff',
          actorId: staffId,
          action: 'partner.plan_assigned',
          entityType: 'partner',
          entityId: partnerId,
          after: { planId: value.planId, effectiveFrom, reason: value.reason },
        });
        return row!;
      } catch (err) {
        if (uniqueViolation(err) !== null) {
          throw new CommissionError(
            'ASSIGNMENT_EXISTS',
            409,
            `the partner already has a plan change taking effect at ${effectiveFrom.toISOString()}`,
          );
        }
        throw err;
      }
    });
  }

  async assignments(partnerId: string) {
    await this.partner(partnerId);
    return this.db
      .select({
        id: partnerPlanAssignments.id,
        planId: partnerPlanAssignments.planId,
        planCode: commissionPlans.code,
        planName: commissionPlans.name,
        effectiveFrom: partnerPlanAssignments.effectiveFrom,
        reason: partnerPlanAssignments.reason,
        createdBy: partnerPlanAssignments.createdBy,
        createdAt: partnerPlanAssignments.createdAt,
      })
      .from(partnerPlanAssignments)
      .leftJoin(commissionPlans, eq(commissionPlans.id, partnerPlanAssignments.planId))
      .where(eq(partnerPlanAssignments.partnerId, partnerId))
      .orderBy(desc(partnerPlanAssignments.effectiveFrom));
  }

  // --- partner server logins (agent accounts) -----------------------------------------------------------------------

  async addServerLogin(
    partnerId: string,
    input: z.input<typeof serverLoginInput>,
    staffId: string,
  ): Promise<PartnerServerLogin> {
    const value = serverLoginInput.parse(input);
    return this.db.transaction(async (tx) => {
      await this.lockPartner(tx, partnerId);
      const [server] = await tx.select().from(tradingServers).where(eq(tradingServers.code, value.serverCode));
      if (!server) throw new CommissionError('SERVER_NOT_FOUND', 404, `no trading server ${value.serverCode}`);
      let login = value.login;
      if (value.tradingAccountId) {
        const [account] = await tx.select().from(tradingAccounts).where(eq(tradingAccounts.id, value.tradingAccountId));
        if (account?.status !== 'open' || account.login === null) {
          throw new CommissionError(
            'TRADING_ACCOUNT_NOT_FOUND',
            404,
            `no open trading account ${value.tradingAccountId}`,
          );
        }
        if (account.serverCode !== value.serverCode || (login !== undefined && login !== account.login)) {
          throw new CommissionError(
            'TRADING_ACCOUNT_MISMATCH',
            400,
            `trading account ${value.tradingAccountId} is login ${account.login} on ${account.serverCode}, not ${login ?? '?'} on ${value.serverCode}`,
          );
        }
        login = account.login;
      }
      const now = this.deps.clock.now();
      try {
        const [row] = await tx
          .insert(partnerServerLogins)
          .values({
            partnerId,
            serverCode: value.serverCode,
            login: login!,
            tradingAccountId: value.tradingAccountId ?? null,
            createdBy: staffId,
            createdAt: now,
            updatedAt: now,
          })
          .returning();
        await this.deps.audit.record(tx, {
          actorType: 'staff',
          actorId: staffId,
          action: 'partner.server_login_added',
          entityType: 'partner',
          entityId: partnerId,
          after: { serverCode: value.serverCode, login, tradingAccountId: value.tradingAccountId ?? null },
        });
        return row!;
      } catch (err) {
        const constraint = uniqueViolation(err);
        if (constraint !== null) {
          throw new CommissionError(
            'SERVER_LOGIN_EXISTS',
            409,
            constraint.includes('partner_server')
              ? `the partner already has a login on ${value.serverCode}; remove it first`
              : `login ${login} on ${value.serverCode} already belongs to a partner`,
          );
        }
        throw err;
      }
    });
  }

  async removeServerLogin(partnerId: string, loginId: string, staffId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [row] = await tx
        .delete(partnerServerLogins)
        .where(and(eq(partnerServerLogins.id, loginId), eq(partnerServerLogins.partnerId, partnerId)))
        .returning();
      if (!row) throw new CommissionError('SERVER_LOGIN_NOT_FOUND', 404, `the partner has no server login ${loginId}`);
      await this.deps.audit.record(tx, {
        actorType: 'staff',
        actorId: staffId,
        action: 'partner.server_login_removed',
        entityType: 'partner',
        entityId: partnerId,
        before: { serverCode: row.serverCode, login: row.login, tradingAccountId: row.tradingAccountId },
      });
    });
  }

  async serverLogins(partnerId: string): Promise<PartnerServerLogin[]> {
    await this.partner(partnerId);
    return this.db
      .select()
      .from(partnerServerLogins)
      .where(eq(partnerServerLogins.partnerId, partnerId))
      .orderBy(asc(partnerServerLogins.serverCode));
  }

  async partner(partnerId: string) {
    const [row] = await this.db
      .select({ id: partners.id, status: partners.status, parentId: partners.parentId })
      .from(partners)
      .where(eq(partners.id, partnerId));
    if (!row) throw new CommissionError('PARTNER_NOT_FOUND', 404, `no partner ${partnerId}`);
    return row;
  }

  private async lockPartner(tx: Executor, partnerId: string) {
    const [row] = await tx.select().from(partners).where(eq(partners.id, partnerId)).for('update');
    if (!row) throw new CommissionError('PARTNER_NOT_FOUND', 404, `no partner ${partnerId}`);
    return row;
  }

  /** Batches of the calculation, newest first (for the back office). */
  async batches(limit: number) {
    return this.db.execute(
      sql`select * from commission_batches order by id desc limit ${limit}`,
    ) as unknown as Promise<{ rows: unknown[] }>;
  }
}
