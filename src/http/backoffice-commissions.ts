/**
 * Back-office commission routes (`/api/backoffice`): commission plans and their versions, plan assignments and
 * server logins (agent accounts) of partners (with a look-up of the trading account a login is, for linking it),
 * a partner's lines, statements, chart and recomputation, running the calculation, and IB payouts (ask on a
 * partner's behalf, list with the partner's and staff members' names, decide: the requester can never approve).
 */
import { and, eq, inArray } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../app/context.ts';
import type { Executor } from '../db/connect.ts';
import { clients, ibPayoutStatuses, partners, tradingAccounts } from '../db/schema.ts';
import { CommissionError } from '../modules/commissions/errors.ts';
import { commissionServices } from '../modules/commissions/module.ts';
import { type IbPayout, payoutDecisionInput, payoutInput } from '../modules/commissions/payouts.ts';
import { recompute } from '../modules/commissions/recompute.ts';
import { MAX_OVERRIDE_LEVELS } from '../modules/commissions/rules.ts';
import {
  assignmentInput,
  planChangeInput,
  planInput,
  serverLoginInput,
  versionInput,
} from '../modules/commissions/service.ts';
import { balances, buckets, lines, periodInput, statement, toPeriod } from '../modules/commissions/statements.ts';
import { staffNames } from './backoffice-ops.ts';
import { registerPartnerCommissions } from './partner-commissions.ts';
import { staffSession } from './staff-auth.ts';

const idParams = z.object({ id: z.uuid('must be an id') }).strict();
const page = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
};

/** Payouts with who they are for and the names of the staff members who asked and decided. */
async function withNames(db: Executor, items: IbPayout[]) {
  const partnerIds = [...new Set(items.map((p) => p.partnerId))];
  const owners = partnerIds.length
    ? await db
        .select({ id: partners.id, name: partners.name, email: partners.email })
        .from(partners)
        .where(inArray(partners.id, partnerIds))
    : [];
  const byId = new Map(owners.map((p) => [p.id, p]));
  const names = await staffNames(
    db,
    items.flatMap((p) => [p.requestedByType === 'staff' ? p.requestedById : null, p.decidedBy]),
  );
  return items.map((p) => ({
    ...p,
    partnerName: byId.get(p.partnerId)?.name ?? null,
    partnerEmail: byId.get(p.partnerId)?.email ?? null,
    requestedByName: p.requestedByType === 'staff' ? (names.get(p.requestedById) ?? null) : null,
    decidedByName: p.decidedBy ? (names.get(p.decidedBy) ?? null) : null,
  }));
}

export function registerBackofficeCommissions(root: FastifyInstance, deps: { ctx: AppContext }): void {
  const { ctx } = deps;
  const { commissions, payouts } = commissionServices(ctx);
  const db = ctx.database.db;
  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      const tags = ['back office: commissions'];
      const staffId = (request: Parameters<typeof staffSession>[0]) => staffSession(request).staff.id;

      // --- plans ---------------------------------------------------------------------------------------------------
      app.get(
        '/commission-plans',
        { config: { permission: 'commissions.read' }, schema: { tags, summary: 'Plans with their latest version' } },
        async () => ({ items: await commissions.listPlans() }),
      );
      app.post(
        '/commission-plans',
        {
          config: { permission: 'commissions.manage' },
          schema: { tags, summary: 'Create a plan with its first version of rules', body: planInput },
        },
        async (request, reply) => {
          const created = await commissions.createPlan(request.body, staffId(request));
          reply.code(201);
          return created;
        },
      );
      app.get(
        '/commission-plans/:id',
        {
          config: { permission: 'commissions.read' },
          schema: { tags, summary: 'A plan and every version of its rules', params: idParams },
        },
        async (request) => commissions.getPlan(request.params.id),
      );
      app.patch(
        '/commission-plans/:id',
        {
          config: { permission: 'commissions.manage' },
          schema: { tags, summary: 'Rename, archive or reactivate a plan', params: idParams, body: planChangeInput },
        },
        async (request) => ({ plan: await commissions.updatePlan(request.params.id, request.body, staffId(request)) }),
      );
      app.post(
        '/commission-plans/:id/versions',
        {
          config: { permission: 'commissions.manage' },
          schema: {
            tags,
            summary: 'A new version of the rules, in force from effectiveFrom (never before commissioned trades)',
            params: idParams,
            body: versionInput,
          },
        },
        async (request, reply) => {
          const version = await commissions.addVersion(request.params.id, request.body, staffId(request));
          reply.code(201);
          return { version };
        },
      );

      // --- a partner's plan, server logins and commission ---------------------------------------------------------
      app.get(
        '/partners/:id/plan-assignments',
        { config: { permission: 'commissions.read' }, schema: { tags, params: idParams } },
        async (request) => ({ items: await commissions.assignments(request.params.id) }),
      );
      app.post(
        '/partners/:id/plan-assignments',
        {
          config: { permission: 'commissions.manage' },
          schema: {
            tags,
            summary: 'Put a partner on a plan (or none) from a date, with a reason',
            params: idParams,
            body: assignmentInput,
          },
        },
        async (request, reply) => {
          const assignment = await commissions.assignPlan(request.params.id, request.body, staffId(request));
          reply.code(201);
          return { assignment };
        },
      );
      app.get(
        '/partners/:id/server-logins',
        { config: { permission: 'commissions.read' }, schema: { tags, params: idParams } },
        async (request) => ({ items: await commissions.serverLogins(request.params.id) }),
      );
      app.get(
        '/partners/:id/server-login-account',
        {
          config: { permission: 'commissions.manage' },
          schema: {
            tags,
            summary: 'The open trading account a login on a server is (to link it as the partner’s payout destination)',
            params: idParams,
            querystring: z
              .object({
                serverCode: z.string().trim().min(1).max(64),
                login: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
              })
              .strict(),
          },
        },
        async (request) => {
          await commissions.partner(request.params.id);
          const { serverCode, login } = request.query;
          const [row] = await db
            .select({
              id: tradingAccounts.id,
              serverCode: tradingAccounts.serverCode,
              login: tradingAccounts.login,
              currency: tradingAccounts.currency,
              status: tradingAccounts.status,
              clientId: tradingAccounts.clientId,
              clientName: clients.name,
              clientPartnerId: clients.partnerId,
            })
            .from(tradingAccounts)
            .innerJoin(clients, eq(clients.id, tradingAccounts.clientId))
            .where(and(eq(tradingAccounts.serverCode, serverCode), eq(tradingAccounts.login, login)));
          if (!row) {
            throw new CommissionError(
              'TRADING_ACCOUNT_NOT_FOUND',
              404,
              `no trading account in the CRM has login ${login} on ${serverCode}; add the login without linking it, or check the server and login`,
            );
          }
          return { account: row };
        },
      );
      app.post(
        '/partners/:id/server-logins',
        {
          config: { permission: 'commissions.manage' },
          schema: {
            tags,
            summary: "The partner's login on a server: the agent of referred clients' new accounts there",
            params: idParams,
            body: serverLoginInput,
          },
        },
        async (request, reply) => {
          const login = await commissions.addServerLogin(request.params.id, request.body, staffId(request));
          reply.code(201);
          return { serverLogin: login };
        },
      );
      app.delete(
        '/partners/:id/server-logins/:loginId',
        {
          config: { permission: 'commissions.manage' },
          schema: {
            tags,
            params: z.object({ id: z.uuid('must be an id'), loginId: z.uuid('must be an id') }).strict(),
          },
        },
        async (request) => {
          await commissions.removeServerLogin(request.params.id, request.params.loginId, staffId(request));
          return { removed: true };
        },
      );
      app.get(
        '/partners/:id/commission-lines',
        {
          config: { permission: 'commissions.read' },
          schema: {
            tags,
            params: idParams,
            querystring: periodInput
              .extend({ level: z.coerce.number().int().min(0).max(MAX_OVERRIDE_LEVELS).optional(), ...page })
              .strict(),
          },
        },
        async (request) => {
          await commissions.partner(request.params.id);
          const { level, limit, offset } = request.query;
          return lines(db, request.params.id, { period: toPeriod(request.query), level, limit, offset });
        },
      );
      app.get(
        '/partners/:id/commission-statement',
        {
          config: { permission: 'commissions.read' },
          schema: { tags, summary: 'Statement and what is owed', params: idParams, querystring: periodInput },
        },
        async (request) => {
          await commissions.partner(request.params.id);
          return {
            statement: await statement(db, request.params.id, toPeriod(request.query)),
            balances: await balances(db, request.params.id),
          };
        },
      );
      app.get(
        '/partners/:id/commission-chart',
        {
          config: { permission: 'commissions.read' },
          schema: {
            tags,
            params: idParams,
            querystring: periodInput.extend({ bucket: z.enum(['day', 'month']).default('day') }).strict(),
          },
        },
        async (request) => {
          await commissions.partner(request.params.id);
          return { buckets: await buckets(db, request.params.id, toPeriod(request.query), request.query.bucket) };
        },
      );
      app.get(
        '/partners/:id/commission-recompute',
        {
          config: { permission: 'commissions.read' },
          schema: {
            tags,
            summary: 'Recompute the period from trade records and plan versions and compare with the stored lines',
            params: idParams,
            querystring: periodInput,
          },
        },
        async (request) => {
          await commissions.partner(request.params.id);
          return { recomputation: await recompute(db, request.params.id, toPeriod(request.query)) };
        },
      );
      app.post(
        '/commissions/calculate',
        {
          config: { permission: 'commissions.manage' },
          schema: { tags, summary: 'Compute the commission lines due now (the worker also does it on a schedule)' },
        },
        async (request) => ({ result: await commissions.calculate({ triggeredBy: `staff:${staffId(request)}` }) }),
      );
      app.get(
        '/commission-batches',
        {
          config: { permission: 'commissions.read' },
          schema: {
            tags,
            summary: 'Calculation batches, newest first',
            querystring: z.object({ limit: page.limit }).strict(),
          },
        },
        async (request) => ({ items: (await commissions.batches(request.query.limit)).rows }),
      );

      // --- payouts -------------------------------------------------------------------------------------------------
      app.get(
        '/ib-payouts',
        {
          config: { permission: 'commissions.read' },
          schema: {
            tags,
            summary: 'IB payouts, newest first (status=requested: the approval queue)',
            querystring: z
              .object({ partnerId: z.uuid().optional(), status: z.enum(ibPayoutStatuses).optional(), ...page })
              .strict(),
          },
        },
        async (request) => {
          const page = await payouts.list(request.query);
          return { ...page, items: await withNames(db, page.items) };
        },
      );
      app.get(
        '/ib-payouts/:id',
        { config: { permission: 'commissions.read' }, schema: { tags, params: idParams } },
        async (request) => ({ payout: (await withNames(db, [await payouts.get(request.params.id)]))[0] }),
      );
      app.post(
        '/partners/:id/payouts',
        {
          config: { permission: 'commissions.manage' },
          schema: {
            tags,
            summary: "Ask for a payout on the partner's behalf (another staff member approves it)",
            params: idParams,
            body: payoutInput,
          },
        },
        async (request, reply) => {
          const payout = await payouts.request(request.params.id, request.body, {
            type: 'staff',
            id: staffId(request),
          });
          reply.code(201);
          return { payout };
        },
      );
      app.post(
        '/ib-payouts/:id/decision',
        {
          config: { permission: 'commissions.payout.approve' },
          schema: {
            tags,
            summary: 'Approve (pays it: a server operation, or a wallet record) or reject, with a reason',
            params: idParams,
            body: payoutDecisionInput,
          },
        },
        async (request) => ({ payout: await payouts.decide(request.params.id, staffId(request), request.body) }),
      );
    },
    { prefix: '/api/backoffice' },
  );
}

/** Both commission route sets: the partner area's and the back office's. */
export function registerCommissions(root: FastifyInstance, deps: { ctx: AppContext }): void {
  registerPartnerCommissions(root, deps);
  registerBackofficeCommissions(root, deps);
}
