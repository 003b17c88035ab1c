/**
 * Client-portal money routes (`/api/portal`): deposits (answering with the PSP's payment page), withdrawals and
 * their cancellation, transfers between the client's own accounts, and every movement with its timeline in plain
 * words. Plus the PSP's webhook endpoint (`/api/webhooks/psp`), which reads the raw body so the signature can be
 * checked over the exact bytes sent.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../app/context.ts';
import { moneyMovementKinds } from '../db/schema.ts';
import { FundingError } from '../modules/funding/errors.ts';
import { receivePspWebhook } from '../modules/funding/psp-events.ts';
import { clientMovementView, depositInput, transferInput, withdrawalInput } from '../modules/funding/service.ts';
import { movementTimeline } from '../modules/funding/timeline.ts';
import { clientSession } from './client-auth.ts';

const idParams = z.object({ id: z.uuid('must be an id') }).strict();
const page = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
};

export function registerPortalFunding(root: FastifyInstance, deps: { ctx: AppContext }): void {
  const { funding } = deps.ctx;
  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      const tags = ['client portal: money'];
      const clientLimit = (name: string, max: number) => ({
        max,
        timeWindow: '1 minute',
        keyGenerator: (request: { ip: string }) => `${name}|${request.ip}`,
      });

      app.post(
        '/deposits',
        {
          config: { client: true, rateLimit: clientLimit('deposit', 30) },
          schema: {
            tags,
            summary: 'Start a card deposit; answers with the payment page to send the client to',
            body: depositInput,
          },
        },
        async (request, reply) => {
          const result = await funding.startDeposit(clientSession(request).clientId, request.body);
          reply.code(201);
          return result;
        },
      );
      app.post(
        '/withdrawals',
        {
          config: { client: true, rateLimit: clientLimit('withdrawal', 20) },
          schema: {
            tags,
            summary: 'Ask to withdraw (KYC approved, within free margin, one open request per account)',
            body: withdrawalInput,
          },
        },
        async (request, reply) => {
          const movement = await funding.requestWithdrawal(clientSession(request).clientId, request.body);
          reply.code(201);
          return { movement };
        },
      );
      app.post(
        '/withdrawals/:id/cancel',
        {
          config: { client: true },
          schema: { tags, summary: 'Cancel a withdrawal nobody approved yet', params: idParams },
        },
        async (request) => ({
          movement: await funding.cancelWithdrawal(clientSession(request).clientId, request.params.id),
        }),
      );
      app.post(
        '/transfers',
        {
          config: { client: true, rateLimit: clientLimit('transfer', 20) },
          schema: { tags, summary: 'Move money between two of your own accounts', body: transferInput },
        },
        async (request, reply) => {
          const movement = await funding.requestTransfer(clientSession(request).clientId, request.body);
          reply.code(201);
          return { movement };
        },
      );
      app.get(
        '/movements',
        {
          config: { client: true },
          schema: {
            tags,
            summary: 'Your deposits, withdrawals, transfers, credits and adjustments; newest first',
            querystring: z
              .object({ kind: z.enum(moneyMovementKinds).optional(), accountId: z.uuid().optional(), ...page })
              .strict(),
          },
        },
        async (request) => {
          const list = await funding.list({ ...request.query, clientId: clientSession(request).clientId });
          return { ...list, items: list.items.map(clientMovementView) };
        },
      );
      app.get(
        '/movements/:id',
        {
          config: { client: true },
          schema: { tags, summary: 'One movement, where it is, and its timeline in plain words', params: idParams },
        },
        async (request) => {
          const movement = await funding.get(request.params.id, clientSession(request).clientId);
          const timeline = await movementTimeline(deps.ctx.database.db, movement, 'client');
          return { movement: clientMovementView(movement), ...timeline };
        },
      );
    },
    { prefix: '/api/portal' },
  );

  root.register(
    async (instance) => {
      // The signature covers the exact bytes: keep them, and parse nothing before the adapter has verified them.
      instance.addContentTypeParser(
        ['application/json', 'text/plain'],
        { parseAs: 'buffer', bodyLimit: 262_144 },
        (_request, body, done) => done(null, body),
      );
      instance.post(
        '/psp/:name',
        {
          config: { permission: 'public' },
          schema: {
            tags: ['webhooks'],
            summary: 'Signed PSP webhooks (HMAC-SHA256 over timestamp and body)',
            params: z.object({ name: z.string().max(32) }).strict(),
          },
        },
        async (request, reply) => {
          const { name } = request.params as { name: string };
          const psp = deps.ctx.funding.deps.psp;
          if (!psp || psp.name !== name) {
            throw new FundingError('PSP_NOT_CONFIGURED', 404, `no payment provider named ${name} is configured`);
          }
          const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
          try {
            const result = await receivePspWebhook(funding, request.headers, body);
            deps.ctx.logger.info({ psp: name, ...result }, 'psp webhook');
            return { received: true, outcome: result.outcome };
          } catch (err) {
            if (err instanceof FundingError) {
              deps.ctx.logger.warn(
                { psp: name, code: err.code, reason: err.message, ip: request.ip, bytes: body.length },
                'psp webhook refused',
              );
            }
            reply.header('cache-control', 'no-store');
            throw err;
          }
        },
      );
    },
    { prefix: '/api/webhooks' },
  );
}
