/**
 * Client portal security (`/api/portal/security`): two-factor sign-in with an authenticator app. Setup gives a key
 * (and the otpauth URI for a QR code), a first code confirms it, and from then on `/api/portal/auth/login` asks for a
 * code too (and the client's other sessions end); turning it off takes a current code. The client id always comes
 * from the session. Support resets it for a client who lost the app: `POST /api/backoffice/clients/:id/two-factor/reset`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../app/context.ts';
import { ClientTwoFactor, totpCodeInput } from '../modules/clients/two-factor.ts';
import { clientSession } from './client-auth.ts';
import { staffSession } from './staff-auth.ts';

const codeBody = z.object({ code: totpCodeInput }).strict();

export function registerPortalSecurity(root: FastifyInstance, deps: { ctx: AppContext }): void {
  const twoFactor = new ClientTwoFactor({
    database: deps.ctx.database,
    sealer: deps.ctx.sealer,
    clock: deps.ctx.clock,
  });
  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      const tags = ['client portal: security'];
      // Codes are six digits: a few tries a minute per client stops guessing.
      const codeLimit = {
        max: 10,
        timeWindow: '1 minute',
        hook: 'preHandler' as const,
        keyGenerator: (request: FastifyRequest) => `totp|${request.clientSession?.clientId ?? request.ip}`,
      };

      app.get(
        '/two-factor',
        { config: { client: true }, schema: { tags, summary: 'Whether two-factor sign-in is on' } },
        async (request) => twoFactor.status(clientSession(request).clientId),
      );
      app.post(
        '/two-factor/setup',
        {
          config: { client: true, rateLimit: { ...codeLimit, max: 5 } },
          schema: {
            tags,
            summary: 'Start two-factor setup: a key (and otpauth URI) for the authenticator app, shown once',
          },
        },
        async (request, reply) => {
          reply.header('cache-control', 'no-store');
          return twoFactor.start(clientSession(request).clientId);
        },
      );
      app.post(
        '/two-factor/confirm',
        {
          config: { client: true, rateLimit: codeLimit },
          schema: { tags, summary: 'Turn two-factor on with a first code from the app', body: codeBody },
        },
        async (request) => {
          const session = clientSession(request);
          return twoFactor.confirm(session.clientId, request.body.code, session.token);
        },
      );
      app.post(
        '/two-factor/disable',
        {
          config: { client: true, rateLimit: codeLimit },
          schema: { tags, summary: 'Turn two-factor off (needs a current code)', body: codeBody },
        },
        async (request) => twoFactor.disable(clientSession(request).clientId, request.body.code),
      );
    },
    { prefix: '/api/portal/security' },
  );

  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      app.post(
        '/clients/:id/two-factor/reset',
        {
          config: { permission: 'clients.manage' },
          schema: {
            tags: ['back office: clients and KYC'],
            summary:
              "Reset a client's two-factor sign-in (lost authenticator app): off, key forgotten, every session ended",
            params: z.object({ id: z.uuid('must be an id') }).strict(),
            body: z
              .object({
                reason: z
                  .string()
                  .trim()
                  .min(10, 'say how the client was identified (at least 10 characters)')
                  .max(500),
              })
              .strict(),
          },
        },
        async (request) =>
          twoFactor.resetByStaff(request.params.id, request.body.reason, staffSession(request).staff.id),
      );
    },
    { prefix: '/api/backoffice' },
  );
}
