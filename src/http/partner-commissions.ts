/**
 * Partner-area commission routes (`/api/partner`, signed-in partner only; the partner id always comes from the
 * session): volume and commission per day or month for charts, statements per period, the lines with their trades
 * (paginated), what is owed and available, the partner's own server logins, and payouts (ask, list, cancel).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../app/context.ts';
import { ibPayoutStatuses } from '../db/schema.ts';
import { commissionServices } from '../modules/commissions/module.ts';
import { payoutInput } from '../modules/commissions/payouts.ts';
import { MAX_OVERRIDE_LEVELS } from '../modules/commissions/rules.ts';
import { balances, buckets, lines, periodInput, statement, toPeriod } from '../modules/commissions/statements.ts';
import { partnerSession } from './partner-auth.ts';

const page = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
};
const idParams = z.object({ id: z.uuid('must be an id') }).strict();

export function registerPartnerCommissions(root: FastifyInstance, deps: { ctx: AppContext }): void {
  const { ctx } = deps;
  const { commissions, payouts } = commissionServices(ctx);
  const db = ctx.database.db;
  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      const tags = ['partner area: commissions'];
      const config = { partner: true };

      app.get(
        '/commissions/chart',
        {
          config,
          schema: {
            tags,
            summary: 'Volume (own clients and sub-IBs, lots) and commission per day or month (UTC), for charts',
            querystring: periodInput.extend({ bucket: z.enum(['day', 'month']).default('day') }).strict(),
          },
        },
        async (request) => {
          const { partnerId } = partnerSession(request);
          const period = toPeriod(request.query);
          return {
            from: period.from,
            to: period.to,
            buckets: await buckets(db, partnerId, period, request.query.bucket),
          };
        },
      );
      app.get(
        '/commissions/statement',
        {
          config,
          schema: {
            tags,
            summary: 'Statement for a period: volume, lines by level, symbol group and plan version, totals',
            querystring: periodInput,
          },
        },
        async (request) => {
          const { partnerId } = partnerSession(request);
          return { statement: await statement(db, partnerId, toPeriod(request.query)) };
        },
      );
      app.get(
        '/commissions/lines',
        {
          config,
          schema: {
            tags,
            summary: 'Commission lines of a period with their trades (newest first); each names its plan version',
            querystring: periodInput
              .extend({ level: z.coerce.number().int().min(0).max(MAX_OVERRIDE_LEVELS).optional(), ...page })
              .strict(),
          },
        },
        async (request) => {
          const { partnerId } = partnerSession(request);
          const { level, limit, offset } = request.query;
          return lines(db, partnerId, { period: toPeriod(request.query), level, limit, offset });
        },
      );
      app.get(
        '/commissions/balance',
        { config, schema: { tags, summary: 'What you are owed, and what can be paid out now, per currency' } },
        async (request) => {
          const { partnerId } = partnerSession(request);
          const owed = await balances(db, partnerId);
          return {
            balances: await Promise.all(
              owed.map(async (b) => ({
                ...b,
                availableMinor: Math.max(0, await payouts.available(db, partnerId, b.currency)),
              })),
            ),
          };
        },
      );
      app.get(
        '/server-logins',
        { config, schema: { tags, summary: 'Your logins on the trading servers (payout destinations)' } },
        async (request) => {
          const items = await commissions.serverLogins(partnerSession(request).partnerId);
          return {
            items: items.map((l) => ({
              id: l.id,
              serverCode: l.serverCode,
              login: l.login,
              payoutsPossible: l.tradingAccountId !== null,
            })),
          };
        },
      );
      app.get(
        '/payouts',
        {
          config,
          schema: {
            tags,
            summary: 'Your payouts, newest first',
            querystring: z.object({ status: z.enum(ibPayoutStatuses).optional(), ...page }).strict(),
          },
        },
        async (request) => payouts.list({ ...request.query, partnerId: partnerSession(request).partnerId }),
      );
      app.post(
        '/payouts',
        {
          config: {
            ...config,
            rateLimit: { max: 20, timeWindow: '1 minute', keyGenerator: (request) => `partner-payout|${request.ip}` },
          },
          schema: {
            tags,
            summary: 'Ask for a payout to your trading account or to a wallet; finance approves it',
            body: payoutInput,
          },
        },
        async (request, reply) => {
          const { partnerId } = partnerSession(request);
          const payout = await payouts.request(partnerId, request.body, { type: 'partner', id: partnerId });
          reply.code(201);
          return { payout };
        },
      );
      app.post(
        '/payouts/:id/cancel',
        { config, schema: { tags, summary: 'Cancel your payout while finance has not decided', params: idParams } },
        async (request) => ({ payout: await payouts.cancel(request.params.id, partnerSession(request).partnerId) }),
      );
    },
    { prefix: '/api/partner' },
  );
}
