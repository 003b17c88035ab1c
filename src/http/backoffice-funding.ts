/**
 * Back-office money routes (`/api/backoffice`): every movement with filters and its full timeline (PSP events,
 * state changes, each server attempt, ledger entries), the approval queue and decisions (maker-checker), credits
 * and manual adjustments, and the exchange rates used for transfers.
 */

import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../app/context.ts';
import { moneyMovementKinds, moneyMovementStatuses, operations } from '../db/schema.ts';
import { decisionInput, fxRateInput, staffMovementInput } from '../modules/funding/service.ts';
import { movementTimeline } from '../modules/funding/timeline.ts';
import { ledgerEntriesFor } from '../modules/ledger/service.ts';
import { movementParties, staffNames } from './backoffice-ops.ts';
import { staffSession } from './staff-auth.ts';

const idParams = z.object({ id: z.uuid('must be an id') }).strict();
const page = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
};

export function registerBackofficeFunding(root: FastifyInstance, deps: { ctx: AppContext }): void {
  const { funding } = deps.ctx;
  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      const tags = ['back office: money'];

      app.get(
        '/movements',
        {
          config: { permission: 'funding.read' },
          schema: {
            tags,
            summary: 'Deposits, withdrawals, credits, adjustments and transfers; newest first',
            querystring: z
              .object({
                clientId: z.uuid().optional(),
                accountId: z.uuid().optional(),
                kind: z.enum(moneyMovementKinds).optional(),
                status: z.enum(moneyMovementStatuses).optional(),
                ...page,
              })
              .strict(),
          },
        },
        async (request) => {
          const page = await funding.list(request.query);
          const parties = await movementParties(deps.ctx.database.db, page.items);
          return { ...page, items: page.items.map((m) => ({ ...m, ...parties(m) })) };
        },
      );
      app.get(
        '/movements/:id',
        {
          config: { permission: 'funding.read' },
          schema: {
            tags,
            summary: '"Where is my deposit?": the movement, its approvals, full timeline and ledger entries',
            params: idParams,
          },
        },
        async (request) => {
          const db = deps.ctx.database.db;
          const movement = await funding.get(request.params.id);
          const timeline = await movementTimeline(db, movement, 'staff');
          const approvals = await funding.approvals(movement.id);
          const names = await staffNames(
            db,
            approvals.map((a) => a.staffId),
          );
          const ops = await db
            .select({
              id: operations.id,
              reference: operations.reference,
              kind: operations.kind,
              status: operations.status,
              attempts: operations.attempts,
            })
            .from(operations)
            .where(eq(operations.correlationId, movement.id))
            .orderBy(operations.seq);
          return {
            movement: { ...movement, ...(await movementParties(db, [movement]))(movement) },
            approvals: approvals.map((a) => ({ ...a, staffName: names.get(a.staffId) ?? null })),
            // Maker-checker as the service applies it: withdrawals at or above the threshold need two approvers.
            approvalsRequired:
              movement.kind === 'withdrawal' && movement.amountMinor >= deps.ctx.config.funding.dualApprovalMinor
                ? 2
                : movement.kind === 'withdrawal' || movement.kind === 'credit' || movement.kind === 'adjustment'
                  ? 1
                  : 0,
            operations: ops,
            ...timeline,
            ledger: await ledgerEntriesFor(db, { transactionCorrelation: { movementId: movement.id } }),
          };
        },
      );
      app.get(
        '/approvals',
        {
          config: { permission: 'funding.read' },
          schema: {
            tags,
            summary: 'Withdrawals, credits and adjustments waiting for a decision; oldest first',
            querystring: z.object(page).strict(),
          },
        },
        async (request) => {
          const db = deps.ctx.database.db;
          const page = await funding.awaitingDecision(request.query.limit, request.query.offset);
          const parties = await movementParties(db, page.items);
          const names = await staffNames(
            db,
            page.items.flatMap((m) => m.approvals.map((a) => a.staffId)),
          );
          const threshold = deps.ctx.config.funding.dualApprovalMinor;
          return {
            ...page,
            items: page.items.map((m) => ({
              ...m,
              ...parties(m),
              approvals: m.approvals.map((a) => ({ ...a, staffName: names.get(a.staffId) ?? null })),
              approvalsRequired: m.kind === 'withdrawal' && m.amountMinor >= threshold ? 2 : 1,
            })),
          };
        },
      );
      app.post(
        '/movements/:id/decision',
        {
          config: { permission: 'funding.approve' },
          schema: {
            tags,
            summary: 'Approve or reject (with a reason); the maker of a request cannot approve it',
            params: idParams,
            body: decisionInput,
          },
        },
        async (request) => ({
          movement: await funding.decide(request.params.id, staffSession(request).staff.id, request.body),
        }),
      );
      for (const kind of ['credit', 'adjustment'] as const) {
        app.post(
          `/${kind}s`,
          {
            config: { permission: 'funding.request' },
            schema: {
              tags,
              summary:
                kind === 'credit'
                  ? 'Request a bonus credit in or out (another staff member approves it)'
                  : 'Request a manual balance adjustment with a reason (another staff member approves it)',
              body: staffMovementInput,
            },
          },
          async (request, reply) => {
            const movement = await funding.requestStaffMovement(kind, staffSession(request).staff.id, request.body);
            reply.code(201);
            return { movement };
          },
        );
      }
      app.get('/fx-rates', { config: { permission: 'funding.read' }, schema: { tags } }, async () => ({
        items: await funding.listFxRates(),
      }));
      app.put(
        '/fx-rates',
        {
          config: { permission: 'funding.rates' },
          schema: { tags, summary: 'Set the rate used for transfers from base to quote', body: fxRateInput },
        },
        async (request) => ({ rate: await funding.setFxRate(staffSession(request).staff.id, request.body) }),
      );
    },
    { prefix: '/api/backoffice' },
  );
}
