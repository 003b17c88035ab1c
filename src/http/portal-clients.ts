/**
 * Client portal (`/api/portal`): registration, email verification, sign-in and sign-out, the client's own profile,
 * and KYC document upload and download. Routes that need a signed-in client set `config.client`; the client id
 * always comes from the session, never from the request. Schemas are strict, so unknown fields are refused.
 */
import type {} from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../app/context.ts';
import { kycDocumentTypes } from '../db/schema.ts';
import type { ClientService } from '../modules/clients/service.ts';
import { profileChangeInput, registrationInput } from '../modules/clients/service.ts';
import type { ClientSessions } from '../modules/clients/sessions.ts';
import { ClientTwoFactor } from '../modules/clients/two-factor.ts';
import { type KycService, tooLarge } from '../modules/kyc/service.ts';
import { CLIENT_COOKIE, clientSession } from './client-auth.ts';
import { HttpError } from './errors.ts';
import { setSessionCookie } from './session-cookie.ts';

export interface PortalClientsDeps {
  ctx: AppContext;
  clients: ClientService;
  kyc: KycService;
  sessions: ClientSessions;
  secureCookies: boolean;
}

const idParams = z.object({ id: z.uuid('must be an id') }).strict();

export function registerPortalClients(root: FastifyInstance, deps: PortalClientsDeps): void {
  const { clients, kyc, sessions } = deps;
  const twoFactor = new ClientTwoFactor({
    database: deps.ctx.database,
    sealer: deps.ctx.sealer,
    clock: deps.ctx.clock,
  });
  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      const tags = ['client portal'];

      // --- registration and sign-in -----------------------------------------------------------------------------------
      app.post(
        '/auth/register',
        {
          config: {
            permission: 'public',
            rateLimit: { max: 20, timeWindow: '1 minute', keyGenerator: (request) => `register|${request.ip}` },
          },
          schema: { tags, summary: 'Register; a verification link is emailed', body: registrationInput },
        },
        async (request, reply) => {
          const client = await clients.register(request.body, { ip: request.ip });
          reply.code(201);
          return { client, emailVerified: false };
        },
      );
      app.post(
        '/auth/verify-email',
        {
          config: {
            permission: 'public',
            rateLimit: { max: 30, timeWindow: '1 minute', keyGenerator: (request) => `verify|${request.ip}` },
          },
          schema: {
            tags,
            summary: 'Confirm the email address with the token from the link',
            body: z.object({ token: z.string().min(10).max(200) }).strict(),
          },
        },
        async (request) => {
          const client = await clients.verifyEmail(request.body.token);
          return { emailVerified: Boolean(client.emailVerifiedAt) };
        },
      );
      app.post(
        '/auth/login',
        {
          config: {
            permission: 'public',
            // Per address and account, like the staff sign-in.
            rateLimit: {
              max: 10,
              timeWindow: '1 minute',
              hook: 'preHandler',
              keyGenerator: (request) =>
                `client|${request.ip}|${String((request.body as { email?: unknown } | undefined)?.email ?? '').toLowerCase()}`,
            },
          },
          schema: {
            tags,
            summary: 'Sign in (with `totp`, the authenticator code, when two-factor is on)',
            body: z
              .object({
                email: z.string().min(3).max(254),
                password: z.string().min(1).max(200),
                totp: z.string().max(20).optional(),
              })
              .strict(),
          },
        },
        async (request, reply) => {
          const { totp, ...credentials } = request.body;
          const client = await clients.authenticate({ ...credentials, ip: request.ip });
          await twoFactor.checkSignIn(client.id, totp);
          const session = await sessions.open(client.id, { ip: request.ip, userAgent: request.headers['user-agent'] });
          setSessionCookie(reply, CLIENT_COOKIE, session, deps.secureCookies);
          return { client, emailVerified: session.emailVerified };
        },
      );
      app.post(
        '/auth/logout',
        { config: { client: true }, schema: { tags, summary: 'Sign out' } },
        async (request, reply) => {
          await sessions.close(clientSession(request).token);
          reply.clearCookie(CLIENT_COOKIE, { path: '/' });
          return { signedOut: true };
        },
      );
      app.post(
        '/auth/resend-verification',
        {
          config: {
            client: true,
            rateLimit: { max: 5, timeWindow: '1 hour', keyGenerator: (request) => `resend|${request.ip}` },
          },
          schema: { tags, summary: 'Email a new verification link' },
        },
        async (request) => {
          await clients.resendVerification(clientSession(request).clientId);
          return { sent: true };
        },
      );

      // --- the client's own data ----------------------------------------------------------------------------------------
      app.get('/me', { config: { client: true }, schema: { tags } }, async (request) => {
        const client = await clients.get(clientSession(request).clientId);
        return { client, emailVerified: Boolean(client.emailVerifiedAt) };
      });
      app.get('/profile', { config: { client: true }, schema: { tags } }, async (request) => {
        const c = await clients.get(clientSession(request).clientId);
        return { email: c.email, name: c.name, phone: c.phone, country: c.country };
      });
      app.patch(
        '/profile',
        {
          config: { client: true },
          schema: { tags, summary: 'Change name, phone or country', body: profileChangeInput },
        },
        async (request) => {
          const { clientId } = clientSession(request);
          const c = await clients.updateProfile(clientId, request.body, { type: 'client', id: clientId });
          return { email: c.email, name: c.name, phone: c.phone, country: c.country };
        },
      );

      // --- KYC documents ------------------------------------------------------------------------------------------------
      app.post(
        '/kyc/documents',
        {
          config: { client: true },
          schema: {
            tags,
            summary: 'Upload a KYC document (multipart: field `type`, one file in field `file`; PDF, JPEG or PNG)',
            consumes: ['multipart/form-data'],
          },
        },
        async (request, reply) => {
          const { clientId } = clientSession(request);
          if (!request.isMultipart()) {
            throw new HttpError(
              415,
              'KYC_UPLOAD_NOT_MULTIPART',
              'send the document as multipart/form-data with a `type` field and one file in the `file` field',
            );
          }
          const fields: Record<string, string> = {};
          let file: { bytes: Buffer; name: string } | undefined;
          try {
            const parts = request.parts({
              limits: { fileSize: kyc.maxUploadBytes, files: 1, fields: 4, fieldSize: 200, parts: 5 },
            });
            for await (const part of parts) {
              if (part.type === 'file') {
                if (part.fieldname !== 'file') {
                  part.file.resume();
                  throw new HttpError(400, 'KYC_UPLOAD_INVALID', 'put the document in the `file` field');
                }
                file = { bytes: await part.toBuffer(), name: part.filename };
              } else {
                fields[part.fieldname] = String(part.value);
              }
            }
          } catch (err) {
            const code = (err as { code?: string }).code;
            if (code === 'FST_REQ_FILE_TOO_LARGE') throw tooLarge(kyc.maxUploadBytes);
            if (code === 'FST_FILES_LIMIT')
              throw new HttpError(400, 'KYC_UPLOAD_INVALID', 'upload one document per request');
            if (code === 'FST_FIELDS_LIMIT' || code === 'FST_PARTS_LIMIT')
              throw new HttpError(400, 'KYC_UPLOAD_INVALID', 'send only the `type` field and the `file`');
            throw err;
          }
          const unknown = Object.keys(fields).filter((k) => k !== 'type');
          if (unknown.length)
            throw new HttpError(400, 'VALIDATION_FAILED', `unknown field(s): ${unknown.join(', ')}`, {
              unknown,
            });
          const type = z
            .enum(kycDocumentTypes, { error: `type must be one of ${kycDocumentTypes.join(', ')}` })
            .parse(fields.type);
          if (!file) throw new HttpError(400, 'KYC_UPLOAD_INVALID', 'attach the document in the `file` field');
          const document = await kyc.upload(clientId, { type, originalName: file.name, bytes: file.bytes });
          reply.code(201);
          return { document };
        },
      );
      app.get('/kyc/documents', { config: { client: true }, schema: { tags } }, async (request) => {
        const { clientId } = clientSession(request);
        const client = await clients.get(clientId);
        return {
          kycStatus: client.kycStatus,
          kycExpiresAt: client.kycExpiresAt,
          items: await kyc.listDocuments(clientId),
        };
      });
      app.get(
        '/kyc/documents/:id/file',
        { config: { client: true }, schema: { tags, summary: 'Download one of your documents', params: idParams } },
        async (request, reply) => {
          const { clientId } = clientSession(request);
          const file = await kyc.readDocument(request.params.id, { ownerId: clientId });
          return sendDocument(reply, file);
        },
      );
    },
    { prefix: '/api/portal' },
  );
}

/** A stored document as a download: its sniffed type, never rendered inline, never re-sniffed by the browser. */
export function sendDocument(
  reply: import('fastify').FastifyReply,
  file: { document: { contentType: string }; bytes: Buffer; fileName: string },
) {
  reply
    .header('content-type', file.document.contentType)
    .header('content-disposition', `attachment; filename="${file.fileName}"`)
    .header('x-content-type-options', 'nosniff')
    .header('cache-control', 'private, no-store');
  return reply.send(file.bytes);
}
