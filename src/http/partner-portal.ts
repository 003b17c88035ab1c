/**
 * Partner area (`/api/partner`): sign-in and sign-out, the partner's own profile with the referral link, a password
 * change, and the clients the partner referred (without their contact details). Routes that need a signed-in
 * partner set `config.partner`; the partner id always comes from the session.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { kycStatuses } from '../db/schema.ts';
import { passwordInput } from '../modules/clients/service.ts';
import type { PartnerService } from '../modules/partners/service.ts';
import type { PartnerSessions } from '../modules/partners/sessions.ts';
import { PARTNER_COOKIE, partnerSession } from './partner-auth.ts';
import { setSessionCookie } from './session-cookie.ts';

export interface PartnerPortalDeps {
  partners: PartnerService;
  sessions: PartnerSessions;
  secureCookies: boolean;
}

const page = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
};

export function registerPartnerPortal(root: FastifyInstance, deps: PartnerPortalDeps): void {
  const { partners, sessions } = deps;
  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      const tags = ['partner area'];
      const me = async (partnerId: string) => {
        const p = await partners.get(partnerId);
        return {
          id: p.id,
          email: p.email,
          name: p.name,
          referralCode: p.referralCode,
          referralLink: partners.referralLink(p.referralCode),
        };
      };

      app.post(
        '/auth/login',
        {
          config: {
            permission: 'public',
            rateLimit: {
              max: 10,
              timeWindow: '1 minute',
              hook: 'preHandler',
              keyGenerator: (request) =>
                `partner|${request.ip}|${String((request.body as { email?: unknown } | undefined)?.email ?? '').toLowerCase()}`,
            },
          },
          schema: {
            tags,
            summary: 'Sign in',
            body: z.object({ email: z.string().min(3).max(254), password: z.string().min(1).max(200) }).strict(),
          },
        },
        async (request, reply) => {
          const partner = await partners.authenticate({ ...request.body, ip: request.ip });
          const session = await sessions.open(partner.id, {
            ip: request.ip,
            userAgent: request.headers['user-agent'],
          });
          setSessionCookie(reply, PARTNER_COOKIE, session, deps.secureCookies);
          return { partner: await me(partner.id) };
        },
      );
      app.post(
        '/auth/logout',
        { config: { partner: true }, schema: { tags, summary: 'Sign out' } },
        async (request, reply) => {
          await sessions.close(partnerSession(request).token);
          reply.clearCookie(PARTNER_COOKIE, { path: '/' });
          return { signedOut: true };
        },
      );
      app.post(
        '/auth/password',
        {
          config: {
            partner: true,
            rateLimit: { max: 10, timeWindow: '1 minute', keyGenerator: (request) => `partner-pw|${request.ip}` },
          },
          schema: {
            tags,
            summary: 'Change the password (signs out every other session)',
            body: z.object({ currentPassword: z.string().min(1).max(200), newPassword: passwordInput }).strict(),
          },
        },
        async (request, reply) => {
          const { partnerId } = partnerSession(request);
          await partners.changePassword(partnerId, request.body.currentPassword, request.body.newPassword);
          await sessions.closeAll(partnerId);
          const session = await sessions.open(partnerId, { ip: request.ip, userAgent: request.headers['user-agent'] });
          setSessionCookie(reply, PARTNER_COOKIE, session, deps.secureCookies);
          return { changed: true };
        },
      );
      app.get(
        '/me',
        { config: { partner: true }, schema: { tags, summary: 'The partner, with the referral link to share' } },
        async (request) => ({ partner: await me(partnerSession(request).partnerId) }),
      );
      app.get(
        '/clients',
        {
          config: { partner: true },
          schema: {
            tags,
            summary: 'Clients referred by this partner (no contact details); newest first',
            querystring: z.object({ kycStatus: z.enum(kycStatuses).optional(), ...page }).strict(),
          },
        },
        async (request) => partners.referredClients(partnerSession(request).partnerId, request.query),
      );
    },
    { prefix: '/api/partner' },
  );
}
