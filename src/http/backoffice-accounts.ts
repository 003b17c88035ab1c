/**
 * Back-office API for products (account types) and trading accounts (`/api/backoffice`). Products are validated
 * against the server's real groups when saved; account changes are operations, answered with their reference.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../app/context.ts';
import { tradingAccountStatuses } from '../db/schema.ts';
import { AccountService } from '../modules/accounts/service.ts';
import { ProductService, productInput, productPatch } from '../modules/products/service.ts';
import { staffSession } from './staff-auth.ts';

const idParams = z.object({ id: z.uuid('must be an id') }).strict();
const leverage = z.number().int().min(1).max(10_000);

export function productService(ctx: AppContext): ProductService {
  return new ProductService({ database: ctx.database, registry: ctx.registry, clock: ctx.clock, audit: ctx.audit });
}

export function accountService(ctx: AppContext): AccountService {
  return new AccountService({
    database: ctx.database,
    registry: ctx.registry,
    clock: ctx.clock,
    sealer: ctx.sealer,
    audit: ctx.audit,
  });
}

export function registerBackofficeAccounts(root: FastifyInstance, deps: { ctx: AppContext }): void {
  const products = productService(deps.ctx);
  const accounts = accountService(deps.ctx);
  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      const tags = ['back office: products and accounts'];

      // --- products --------------------------------------------------------------------------------------------------
      app.get('/products', { config: { permission: 'products.read' }, schema: { tags } }, async () => ({
        items: await products.list(),
      }));
      app.post(
        '/products',
        {
          config: { permission: 'products.manage' },
          schema: { tags, summary: 'Create a product (mapping checked on the server)', body: productInput },
        },
        async (request, reply) => {
          const created = await products.create(request.body, staffSession(request).staff.id);
          reply.code(201);
          return created;
        },
      );
      app.patch(
        '/products/:id',
        {
          config: { permission: 'products.manage' },
          schema: { tags, summary: 'Change a product (mapping checked again)', params: idParams, body: productPatch },
        },
        async (request) => products.update(request.params.id, request.body, staffSession(request).staff.id),
      );

      // --- trading accounts ------------------------------------------------------------------------------------------
      app.get(
        '/accounts',
        {
          config: { permission: 'accounts.read' },
          schema: {
            tags,
            querystring: z
              .object({
                clientId: z.uuid().optional(),
                productId: z.uuid().optional(),
                status: z.enum(tradingAccountStatuses).optional(),
                server: z.string().max(40).optional(),
                login: z.coerce.number().int().positive().optional(),
                limit: z.coerce.number().int().min(1).max(500).default(50),
              })
              .strict(),
          },
        },
        async (request) => {
          const q = request.query;
          return {
            items: await accounts.list({
              clientId: q.clientId,
              productId: q.productId,
              status: q.status,
              serverCode: q.server,
              login: q.login,
              limit: q.limit,
            }),
          };
        },
      );
      app.get(
        '/accounts/:id',
        { config: { permission: 'accounts.read' }, schema: { tags, params: idParams } },
        async (request) => accounts.get(request.params.id),
      );
      app.post(
        '/accounts/:id/trading',
        {
          config: { permission: 'accounts.manage' },
          schema: { tags, params: idParams, body: z.object({ enabled: z.boolean() }).strict() },
        },
        async (request, reply) => {
          reply.code(202);
          return {
            operation: await accounts.setTrading(
              request.params.id,
              request.body.enabled,
              staffSession(request).staff.id,
            ),
          };
        },
      );
      app.post(
        '/accounts/:id/group',
        {
          config: { permission: 'accounts.manage' },
          schema: { tags, params: idParams, body: z.object({ group: z.string().min(1).max(64) }).strict() },
        },
        async (request, reply) => {
          reply.code(202);
          return {
            operation: await accounts.changeGroup(
              request.params.id,
              request.body.group,
              staffSession(request).staff.id,
            ),
          };
        },
      );
      app.post(
        '/accounts/:id/leverage',
        {
          config: { permission: 'accounts.manage' },
          schema: { tags, params: idParams, body: z.object({ leverage }).strict() },
        },
        async (request, reply) => {
          reply.code(202);
          const staffId = staffSession(request).staff.id;
          return {
            operation: await accounts.changeLeverage(request.params.id, request.body.leverage, {
              type: 'staff',
              id: staffId,
            }),
          };
        },
      );
    },
    { prefix: '/api/backoffice' },
  );
}
