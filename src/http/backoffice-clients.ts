/**
 * Back-office client and KYC routes (`/api/backoffice`): client search and detail, status changes, the KYC review
 * queue, document download and review, and the compliance decision on a client. Every route declares its
 * permission; schemas are strict.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { kycStatuses } from '../db/schema.ts';
import { type ClientService, profileFields } from '../modules/clients/service.ts';
import { documentReviewInput, type KycService, kycDecisionInput } from '../modules/kyc/service.ts';
import { sendDocument } from './portal-clients.ts';
import { staffSession } from './staff-auth.ts';

export interface BackofficeClientsDeps {
  clients: ClientService;
  kyc: KycService;
}

const idParams = z.object({ id: z.uuid('must be an id') }).strict();
const page = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
};
const clientStatuses = ['active', 'suspended', 'closed'] as const;

export function registerBackofficeClients(root: FastifyInstance, deps: BackofficeClientsDeps): void {
  const { clients, kyc } = deps;
  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      const tags = ['back office: clients and KYC'];

      // --- clients -------------------------------------------------------------------------------------------------
      app.get(
        '/clients',
        {
          config: { permission: 'clients.read' },
          schema: {
            tags,
            summary: 'Search clients by id, email or name; newest first',
            querystring: z
              .object({
                q: z.string().trim().max(254).optional(),
                kycStatus: z.enum(kycStatuses).optional(),
                status: z.enum(clientStatuses).optional(),
                ...page,
              })
              .strict(),
          },
        },
        async (request) => clients.search(request.query),
      );
      app.get(
        '/clients/:id',
        { config: { permission: 'clients.read' }, schema: { tags, params: idParams } },
        async (request) => ({ client: await clients.get(request.params.id) }),
      );
      app.patch(
        '/clients/:id',
        {
          config: { permission: 'clients.manage' },
          schema: {
            tags,
            summary: 'Correct profile fields, or suspend / close / reactivate (with a reason)',
            params: idParams,
            body: z
              .object({
                ...profileFields,
                status: z.enum(clientStatuses).optional(),
                reason: z.string().trim().min(3).max(500).optional(),
              })
              .strict()
              .refine((b) => Object.keys(b).some((k) => k !== 'reason'), 'change at least one field')
              .refine((b) => !b.status || b.reason, {
                message: 'give the reason for a status change',
                path: ['reason'],
              }),
          },
        },
        async (request) => {
          const by = staffSession(request).staff.id;
          const { status, reason, ...profile } = request.body;
          const id = request.params.id;
          let client = await clients.get(id);
          if (Object.keys(profile).length) {
            client = await clients.updateProfile(id, profile, { type: 'staff', id: by });
          }
          if (status && status !== client.status) client = await clients.setStatus(id, status, reason!, by);
          return { client };
        },
      );

      // --- KYC -----------------------------------------------------------------------------------------------------
      app.get(
        '/clients/:id/kyc',
        {
          config: { permission: 'kyc.read' },
          schema: { tags, summary: 'Documents and status history', params: idParams },
        },
        async (request) => {
          const client = await clients.get(request.params.id);
          return {
            kycStatus: client.kycStatus,
            kycExpiresAt: client.kycExpiresAt,
            documents: await kyc.listDocuments(client.id),
            history: await kyc.history(client.id),
          };
        },
      );
      app.post(
        '/clients/:id/kyc/decision',
        {
          config: { permission: 'kyc.review' },
          schema: {
            tags,
            summary: 'Approve, reject (reason required) or request more information (reason required)',
            params: idParams,
            body: kycDecisionInput,
          },
        },
        async (request) => {
          const change = await kyc.decide(request.params.id, request.body, staffSession(request).staff.id);
          return { change, client: await clients.get(request.params.id) };
        },
      );
      app.get(
        '/kyc/queue',
        {
          config: { permission: 'kyc.read' },
          schema: {
            tags,
            summary: 'Clients waiting for a KYC decision, longest-waiting first',
            querystring: z.object(page).strict(),
          },
        },
        async (request) => kyc.queue(request.query),
      );
      app.get(
        '/kyc/documents/:id/file',
        { config: { permission: 'kyc.read' }, schema: { tags, summary: 'Download a document', params: idParams } },
        async (request, reply) =>
          sendDocument(reply, await kyc.readDocument(request.params.id, { staffId: staffSession(request).staff.id })),
      );
      app.post(
        '/kyc/documents/:id/review',
        {
          config: { permission: 'kyc.review' },
          schema: { tags, summary: 'Approve or reject one document', params: idParams, body: documentReviewInput },
        },
        async (request) => ({
          document: await kyc.reviewDocument(request.params.id, request.body, staffSession(request).staff.id),
        }),
      );
    },
    { prefix: '/api/backoffice' },
  );
}
