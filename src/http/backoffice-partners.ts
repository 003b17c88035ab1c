/**
 * Back-office partner routes (`/api/backoffice/partners`): list and search introducing brokers, see one with the
 * clients they referred, create one (the first password is shown once), and change name, status or master IB.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { kycStatuses } from '../db/schema.ts';
import { type PartnerService, partnerChangeInput, partnerInput } from '../modules/partners/service.ts';
import type { PartnerSessions } from '../modules/partners/sessions.ts';
import { staffSession } from './staff-auth.ts';

export interface BackofficePartnersDeps {
  partners: PartnerService;
  sessions: PartnerSessions;
}

const idParams = z.object({ id: z.uuid('must be an id') }).strict();
const page = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
};

export function registerBackofficePartners(root: FastifyInstance, deps: BackofficePartnersDeps): void {
  const { partners, sessions } = deps;
  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      const tags = ['back office: partners'];

      app.get(
        '/partners',
        {
          config: { permission: 'partners.read' },
          schema: {
            tags,
            summary: 'Search partners by id, email, name or referral code; newest first',
            querystring: z
              .object({
                q: z.string().trim().max(254).optional(),
                status: z.enum(['active', 'suspended']).optional(),
                parentId: z.uuid().optional(),
                ...page,
              })
              .strict(),
          },
        },
        async (request) => partners.search(request.query),
      );
      app.get(
        '/partners/:id',
        { config: { permission: 'partners.read' }, schema: { tags, params: idParams } },
        async (request) => {
          const partner = await partners.get(request.params.id);
          return { partner, referralLink: partners.referralLink(partner.referralCode) };
        },
      );
      app.get(
        '/partners/:id/clients',
        {
          config: { permission: 'partners.read' },
          schema: {
            tags,
            summary: 'Clients the partner referred',
            params: idParams,
            querystring: z.object({ kycStatus: z.enum(kycStatuses).optional(), ...page }).strict(),
          },
        },
        async (request) => {
          await partners.get(request.params.id);
          return partners.referredClients(request.params.id, request.query);
        },
      );
      app.post(
        '/partners',
        {
          config: { permission: 'partners.manage' },
          schema: {
            tags,
            summary: 'Create a partner; the first password is in the response, once: hand it over securely',
            body: partnerInput,
          },
        },
        async (request, reply) => {
          const created = await partners.create(request.body, staffSession(request).staff.id);
          reply.code(201);
          return { ...created, referralLink: partners.referralLink(created.partner.referralCode) };
        },
      );
      app.patch(
        '/partners/:id',
        {
          config: { permission: 'partners.manage' },
          schema: {
            tags,
            summary: 'Change name, status (suspend / reactivate) or master IB, with a reason',
            params: idParams,
            body: partnerChangeInput,
          },
        },
        async (request) => {
          const partner = await partners.update(request.params.id, request.body, staffSession(request).staff.id);
          if (partner.status !== 'active') await sessions.closeAll(partner.id);
          return { partner };
        },
      );
    },
    { prefix: '/api/backoffice' },
  );
}
