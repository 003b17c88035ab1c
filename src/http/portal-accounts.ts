/**
 * Client-portal API for account types and the client's own trading accounts (`/api/portal`). The client id always
 * comes from the session; another client's account answers 404. A reset trading password is in the response once
 * and nowhere else.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../app/context.ts';
import { AccountError } from '../modules/accounts/errors.ts';
import { isPlatformError } from '../platforms/errors.ts';
import { accountService, productService } from './backoffice-accounts.ts';
import { clientSession } from './client-auth.ts';
import { HttpError } from './errors.ts';

const idParams = z.object({ id: z.uuid('must be an id') }).strict();
const leverage = z.number().int().min(1).max(10_000);

export function registerPortalAccounts(root: FastifyInstance, deps: { ctx: AppContext }): void {
  const products = productService(deps.ctx);
  const accounts = accountService(deps.ctx);
  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      const tags = ['client portal: accounts'];

      app.get(
        '/products',
        { config: { client: true }, schema: { tags, summary: 'Account types a client can open' } },
        async () => ({
          items: (await products.list({ enabledOnly: true })).map((p) => ({
            id: p.id,
            code: p.code,
            name: p.name,
            environment: p.environment,
            currency: p.currency,
            allowedLeverages: p.allowedLeverages,
            defaultLeverage: p.defaultLeverage,
            demoDeposit: p.demoDeposit,
            /** Live accounts wait for, or are limited until, an approved KYC. */
            kycRequired: p.environment === 'live' && p.kycPolicy !== 'none',
          })),
        }),
      );
      app.get('/accounts', { config: { client: true }, schema: { tags } }, async (request) => ({
        items: await accounts.listForClient(clientSession(request).clientId),
      }));
      app.get('/accounts/:id', { config: { client: true }, schema: { tags, params: idParams } }, async (request) =>
        accounts.get(request.params.id, clientSession(request).clientId),
      );
      app.get(
        '/accounts/:id/balance',
        {
          config: { client: true },
          schema: {
            tags,
            summary: 'Balance, credit, equity and free margin as the trading server has them now',
            params: idParams,
          },
        },
        async (request, reply) => {
          const { account } = await accounts.get(request.params.id, clientSession(request).clientId);
          if (account.status !== 'open' || account.login === null) {
            throw new AccountError('ACCOUNT_NOT_OPEN', 409, 'this account is not open on its trading server yet');
          }
          const login = account.login;
          const state = await deps.ctx.registry
            .platform(account.serverCode)
            .then((platform) => platform.getAccount(login))
            .catch((err: unknown) => {
              if (!isPlatformError(err)) throw err;
              throw new HttpError(
                503,
                'SERVER_UNAVAILABLE',
                'the trading server cannot be reached right now; your balance shows again in a moment',
              );
            });
          reply.header('cache-control', 'no-store');
          return {
            currency: account.currency,
            balanceMinor: state.balance,
            creditMinor: state.credit,
            equityMinor: state.equity,
            freeMarginMinor: state.freeMargin,
            marginLevel: state.marginLevel,
            at: deps.ctx.clock.now(),
          };
        },
      );
      app.post(
        '/accounts',
        {
          config: { client: true },
          schema: {
            tags,
            summary: 'Open a trading account of a product',
            body: z.object({ productId: z.uuid('must be a product id'), leverage: leverage.optional() }).strict(),
          },
        },
        async (request, reply) => {
          const result = await accounts.request(clientSession(request).clientId, request.body);
          reply.code(201).header('cache-control', 'no-store');
          return result;
        },
      );
      app.post(
        '/accounts/:id/leverage',
        {
          config: { client: true },
          schema: { tags, params: idParams, body: z.object({ leverage }).strict() },
        },
        async (request, reply) => {
          const clientId = clientSession(request).clientId;
          reply.code(202);
          return {
            operation: await accounts.changeLeverage(
              request.params.id,
              request.body.leverage,
              { type: 'client', id: clientId },
              clientId,
            ),
          };
        },
      );
      app.post(
        '/accounts/:id/password-reset',
        {
          config: {
            client: true,
            rateLimit: {
              max: 5,
              timeWindow: '10 minutes',
              hook: 'preHandler',
              keyGenerator: (request) => `pwreset|${request.clientSession?.clientId ?? request.ip}`,
            },
          },
          schema: { tags, summary: 'Set a new trading password (shown once)', params: idParams },
        },
        async (request, reply) => {
          const result = await accounts.resetPassword(request.params.id, clientSession(request).clientId);
          reply.code(202).header('cache-control', 'no-store');
          return result;
        },
      );
    },
    { prefix: '/api/portal' },
  );
}
