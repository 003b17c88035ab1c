/**
 * Trading history and manual server changes over HTTP. Client portal (`/api/portal`): the client's own history across
 * every account on MT4 and MT5 in one shape (finished orders with `type=order`), per account, open positions and open
 * orders. Back office (`/api/backoffice`): any
 * client's history, positions and open orders (one identity, both platforms: support answers from one call), the sync state of
 * each server, and the external changes (balance corrections, group or leverage moves, unknown accounts made on a
 * server without the CRM) with acknowledge and explain.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../app/context.ts';
import { externalChangeKinds, tradeRecordTypes } from '../db/schema.ts';
import { accountHistory, clientHistory, clientOpenOrders, clientPositions } from '../modules/trades/history.ts';
import { accountService } from './backoffice-accounts.ts';
import { clientSession } from './client-auth.ts';
import { staffSession } from './staff-auth.ts';

const idParams = z.object({ id: z.uuid('must be an id') }).strict();
const historyQuery = z
  .object({
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    type: z.enum(tradeRecordTypes).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
  })
  .strict()
  .refine((q) => !q.from || !q.to || q.from < q.to, { message: 'from must be before to', path: ['from'] });

type HistoryQueryInput = z.infer<typeof historyQuery>;
const toQuery = (q: HistoryQueryInput) => ({
  from: q.from ? new Date(q.from) : undefined,
  to: q.to ? new Date(q.to) : undefined,
  types: q.type ? [q.type] : undefined,
  limit: q.limit,
  offset: q.offset,
});

export function registerTradesRoutes(root: FastifyInstance, deps: { ctx: AppContext }): void {
  const { ctx } = deps;
  const db = ctx.database.db;
  const accounts = accountService(ctx);

  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      const tags = ['client portal: trading history'];
      app.get(
        '/history',
        {
          config: { client: true },
          schema: {
            tags,
            summary: 'Your trades, deals and balance records on every account, newest first',
            querystring: historyQuery,
          },
        },
        async (request) => clientHistory(db, clientSession(request).clientId, toQuery(request.query)),
      );
      app.get(
        '/accounts/:id/history',
        { config: { client: true }, schema: { tags, params: idParams, querystring: historyQuery } },
        async (request) => {
          await accounts.get(request.params.id, clientSession(request).clientId); // 404 unless it is yours
          return accountHistory(db, request.params.id, toQuery(request.query));
        },
      );
      app.get('/positions', { config: { client: true }, schema: { tags } }, async (request) => ({
        items: await clientPositions(db, clientSession(request).clientId),
      }));
      app.get(
        '/orders',
        { config: { client: true }, schema: { tags, summary: 'Your open (pending) orders on every account' } },
        async (request) => ({ items: await clientOpenOrders(db, clientSession(request).clientId) }),
      );
    },
    { prefix: '/api/portal' },
  );

  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      const tags = ['back office: trading and server changes'];
      app.get(
        '/clients/:id/history',
        {
          config: { permission: 'clients.read' },
          schema: {
            tags,
            summary: "One client's history across MT4 and MT5, newest first",
            params: idParams,
            querystring: historyQuery,
          },
        },
        async (request) => {
          await ctx.clients.get(request.params.id);
          return clientHistory(db, request.params.id, toQuery(request.query));
        },
      );
      app.get(
        '/clients/:id/positions',
        { config: { permission: 'clients.read' }, schema: { tags, params: idParams } },
        async (request) => {
          await ctx.clients.get(request.params.id);
          return { items: await clientPositions(db, request.params.id) };
        },
      );
      app.get(
        '/clients/:id/orders',
        {
          config: { permission: 'clients.read' },
          schema: { tags, summary: "One client's open orders across MT4 and MT5", params: idParams },
        },
        async (request) => {
          await ctx.clients.get(request.params.id);
          return { items: await clientOpenOrders(db, request.params.id) };
        },
      );
      app.get(
        '/sync',
        { config: { permission: 'servers.read' }, schema: { tags, summary: 'Trade sync state and lag per server' } },
        async () => ({ items: await ctx.trades.status() }),
      );
      app.get(
        '/external-changes',
        {
          config: { permission: 'external_changes.read' },
          schema: {
            tags,
            summary: 'Changes made on a server without the CRM; open ones first',
            querystring: z
              .object({
                status: z.enum(['open', 'acknowledged', 'explained']).optional(),
                kind: z.enum(externalChangeKinds).optional(),
                serverCode: z.string().max(64).optional(),
                login: z.coerce.number().int().positive().optional(),
                clientId: z.uuid().optional(),
                limit: z.coerce.number().int().min(1).max(200).default(50),
                offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
              })
              .strict(),
          },
        },
        async (request) => ctx.externalChanges.list(request.query),
      );
      app.get(
        '/external-changes/:id',
        { config: { permission: 'external_changes.read' }, schema: { tags, params: idParams } },
        async (request) => ({ change: await ctx.externalChanges.get(request.params.id) }),
      );
      app.post(
        '/external-changes/:id/acknowledge',
        {
          config: { permission: 'external_changes.review' },
          schema: {
            tags,
            summary: 'Acknowledge: seen, accepted as the server has it',
            params: idParams,
            body: z.object({ note: z.string().trim().max(1000).optional() }).strict(),
          },
        },
        async (request) => ({
          change: await ctx.externalChanges.acknowledge(
            request.params.id,
            staffSession(request).staff.id,
            request.body.note,
          ),
        }),
      );
      app.post(
        '/external-changes/:id/explain',
        {
          config: { permission: 'external_changes.review' },
          schema: {
            tags,
            summary: 'Explain: why the dealer made it (e.g. the ticket of the request)',
            params: idParams,
            body: z.object({ explanation: z.string().trim().min(3).max(2000) }).strict(),
          },
        },
        async (request) => ({
          change: await ctx.externalChanges.explain(
            request.params.id,
            staffSession(request).staff.id,
            request.body.explanation,
          ),
        }),
      );
    },
    { prefix: '/api/backoffice' },
  );
}
