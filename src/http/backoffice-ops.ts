/**
 * Back-office routes the operations screens need beyond the module APIs (`/api/backoffice`): notes on a client (kept
 * as audit events, so a note can be neither edited nor removed, and says who wrote it and when), and the helpers that
 * put names on staff ids and link an operation to the movement and trading account it was made for.
 */
import { and, desc, eq, inArray, lt, or } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../app/context.ts';
import type { Executor } from '../db/connect.ts';
import { auditEvents, clients, moneyMovements, type operations, staffUsers, tradingAccounts } from '../db/schema.ts';
import { staffSession } from './staff-auth.ts';

const NOTE_ACTION = 'client.note_added';
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Staff ids → names, for the people who requested, approved, acknowledged or retried something. */
export async function staffNames(db: Executor, ids: (string | null | undefined)[]): Promise<Map<string, string>> {
  const wanted = [...new Set(ids.filter((id): id is string => !!id && uuidPattern.test(id)))];
  if (!wanted.length) return new Map();
  const rows = await db
    .select({ id: staffUsers.id, name: staffUsers.name })
    .from(staffUsers)
    .where(inArray(staffUsers.id, wanted));
  return new Map(rows.map((r) => [r.id, r.name]));
}

/**
 * What an operation was made for: the money movement it moves (as its operation or its return), the trading account
 * on its server and login, and its audit history (who retried or cancelled it, when it went to review).
 */
export async function operationContext(db: Executor, op: typeof operations.$inferSelect) {
  const [movement] = await db
    .select({
      id: moneyMovements.id,
      kind: moneyMovements.kind,
      status: moneyMovements.status,
      clientId: moneyMovements.clientId,
      amountMinor: moneyMovements.amountMinor,
      currency: moneyMovements.currency,
    })
    .from(moneyMovements)
    .where(or(eq(moneyMovements.operationId, op.id), eq(moneyMovements.returnOperationId, op.id)))
    .limit(1);
  const [account] =
    op.login === null
      ? []
      : await db
          .select({ id: tradingAccounts.id, clientId: tradingAccounts.clientId, currency: tradingAccounts.currency })
          .from(tradingAccounts)
          .where(and(eq(tradingAccounts.serverCode, op.serverCode), eq(tradingAccounts.login, op.login)))
          .limit(1);
  const events = await db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.entityType, 'operation'), eq(auditEvents.entityId, op.id)))
    .orderBy(auditEvents.id)
    .limit(200);
  const names = await staffNames(
    db,
    events.filter((e) => e.actorType === 'staff').map((e) => e.actorId),
  );
  return {
    movement: movement ?? null,
    account: account ?? null,
    history: events.map((e) => ({
      id: e.id,
      at: e.at,
      action: e.action,
      actorType: e.actorType,
      actorId: e.actorId,
      actorName: e.actorId ? (names.get(e.actorId) ?? null) : null,
      before: e.before,
      after: e.after,
    })),
  };
}

const idParams = z.object({ id: z.uuid('must be an id') }).strict();

export function registerBackofficeOps(root: FastifyInstance, deps: { ctx: AppContext }): void {
  const { ctx } = deps;
  const db = ctx.database.db;
  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      const tags = ['back office: clients and KYC'];

      const noteView = (e: typeof auditEvents.$inferSelect, names: Map<string, string>) => ({
        id: e.id,
        at: e.at,
        text: String((e.after as { text?: unknown } | null)?.text ?? ''),
        staffId: e.actorId,
        staffName: e.actorId ? (names.get(e.actorId) ?? null) : null,
      });

      app.get(
        '/clients/:id/notes',
        {
          config: { permission: 'clients.read' },
          schema: {
            tags,
            summary: "Staff notes on a client, newest first (keyset: pass the answer's next as before)",
            params: idParams,
            querystring: z
              .object({
                before: z.coerce.number().int().positive().optional(),
                limit: z.coerce.number().int().min(1).max(200).default(50),
              })
              .strict(),
          },
        },
        async (request) => {
          await ctx.clients.get(request.params.id);
          const { before, limit } = request.query;
          const rows = await db
            .select()
            .from(auditEvents)
            .where(
              and(
                eq(auditEvents.entityType, 'client'),
                eq(auditEvents.entityId, request.params.id),
                eq(auditEvents.action, NOTE_ACTION),
                before ? lt(auditEvents.id, before) : undefined,
              ),
            )
            .orderBy(desc(auditEvents.id))
            .limit(limit + 1);
          const page = rows.slice(0, limit);
          const names = await staffNames(
            db,
            page.map((r) => r.actorId),
          );
          return { items: page.map((r) => noteView(r, names)), next: rows.length > limit ? page.at(-1)!.id : null };
        },
      );

      app.post(
        '/clients/:id/notes',
        {
          config: { permission: 'clients.manage' },
          schema: {
            tags,
            summary: 'Add a note to a client (kept in the audit trail: it cannot be edited or removed)',
            params: idParams,
            body: z
              .object({
                text: z.string().trim().min(3, 'write at least a few words').max(2000, 'at most 2000 characters'),
              })
              .strict(),
          },
        },
        async (request, reply) => {
          const client = await ctx.clients.get(request.params.id);
          const staffId = staffSession(request).staff.id;
          const event = await db.transaction(async (tx) => {
            await ctx.audit.record(tx, {
              actorType: 'staff',
              actorId: staffId,
              action: NOTE_ACTION,
              entityType: 'client',
              entityId: client.id,
              after: { text: request.body.text },
            });
            // The chain lock is held until commit, so this is the row just appended.
            const [row] = await tx
              .select()
              .from(auditEvents)
              .where(
                and(
                  eq(auditEvents.entityType, 'client'),
                  eq(auditEvents.entityId, client.id),
                  eq(auditEvents.action, NOTE_ACTION),
                  eq(auditEvents.actorId, staffId),
                ),
              )
              .orderBy(desc(auditEvents.id))
              .limit(1);
            return row!;
          });
          reply.code(201);
          return { note: noteView(event, await staffNames(db, [staffId])) };
        },
      );
    },
    { prefix: '/api/backoffice' },
  );
}

/** Names of clients and trading accounts of a page of movements, for lists that show who and where. */
export async function movementParties(
  db: Executor,
  items: { clientId: string; tradingAccountId: string; requestedByType: string; requestedById: string }[],
) {
  const clientIds = [...new Set(items.map((i) => i.clientId))];
  const accountIds = [...new Set(items.map((i) => i.tradingAccountId))];
  const clientRows = clientIds.length
    ? await db
        .select({ id: clients.id, name: clients.name, email: clients.email })
        .from(clients)
        .where(inArray(clients.id, clientIds))
    : [];
  const accountRows = accountIds.length
    ? await db
        .select({ id: tradingAccounts.id, login: tradingAccounts.login, serverCode: tradingAccounts.serverCode })
        .from(tradingAccounts)
        .where(inArray(tradingAccounts.id, accountIds))
    : [];
  const clientsById = new Map(clientRows.map((r) => [r.id, r]));
  const accountsById = new Map(accountRows.map((r) => [r.id, r]));
  const names = await staffNames(
    db,
    items.filter((i) => i.requestedByType === 'staff').map((i) => i.requestedById),
  );
  return (item: (typeof items)[number]) => ({
    clientName: clientsById.get(item.clientId)?.name ?? null,
    clientEmail: clientsById.get(item.clientId)?.email ?? null,
    login: accountsById.get(item.tradingAccountId)?.login ?? null,
    serverCode: accountsById.get(item.tradingAccountId)?.serverCode ?? null,
    requestedByName: item.requestedByType === 'staff' ? (names.get(item.requestedById) ?? null) : null,
  });
}
