/**
 * The HTTP application: health, Prometheus metrics, the OpenAPI document (/openapi.json, UI at /docs) and the API
 * areas: client portal (`/api/portal`), partner area (`/api/partner`) and back office (`/api/backoffice`). Requests and responses are
 * described by zod schemas; every error leaves as `{code, message, details}` through `toErrorResponse`.
 */
import cookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { AppContext } from '../app/context.ts';
import { ClientSessions } from '../modules/clients/sessions.ts';
import { PartnerSessions } from '../modules/partners/sessions.ts';
import { StaffService } from '../modules/staff/service.ts';
import { OperationsEngine } from '../operations/engine.ts';
import { registry as metricsRegistry, registerDatabaseGauges, registerServerGauges } from '../operations/metrics.ts';
import { registerBackoffice } from './backoffice.ts';
import { registerBackofficeAccounts } from './backoffice-accounts.ts';
import { registerBackofficeClients } from './backoffice-clients.ts';
import { registerCommissions } from './backoffice-commissions.ts';
import { registerBackofficeDashboard } from './backoffice-dashboard.ts';
import { registerBackofficeFunding } from './backoffice-funding.ts';
import { registerBackofficeGolive } from './backoffice-golive.ts';
import { registerBackofficeOps } from './backoffice-ops.ts';
import { registerBackofficePartners } from './backoffice-partners.ts';
import { registerBackofficeReconciliation } from './backoffice-reconciliation.ts';
import { registerClientAuth } from './client-auth.ts';
import { toErrorResponse } from './errors.ts';
import { registerPartnerAuth } from './partner-auth.ts';
import { registerPartnerPortal } from './partner-portal.ts';
import { registerPortalAccounts } from './portal-accounts.ts';
import { registerPortalClients } from './portal-clients.ts';
import { registerPortalFunding } from './portal-funding.ts';
import { registerPortalSecurity } from './portal-security.ts';
import { registerStaffAuth } from './staff-auth.ts';
import { registerTradesRoutes } from './trades-routes.ts';
import { isBrowserRoute, registerWeb } from './web.ts';

declare module 'fastify' {
  interface FastifyInstance {
    routeTable: { method: string; url: string; permission: string | undefined }[];
  }
}

export interface AppOptions {
  staff?: StaffService;
  clientSessions?: ClientSessions;
  /** The built web application (default web/dist). */
  webRoot?: string;
}

export async function buildApp(ctx: AppContext, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 1_048_576, trustProxy: false });
  // Every route and the permission it declares, for the role-matrix test and the docs.
  const routeTable: { method: string; url: string; permission: string | undefined }[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routeTable.push({ method, url: route.url, permission: route.config?.permission });
    }
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerDatabaseGauges(ctx.database);
  registerServerGauges(() => ctx.registry.health());

  // No stack traces or internals to clients: a message they can act on, the details in our log.
  app.setErrorHandler((error, request, reply) => {
    const { status, body, unexpected } = toErrorResponse(error);
    if (unexpected) ctx.logger.error({ err: error, method: request.method, url: request.url }, 'request failed');
    reply.code(status).send(body);
  });
  const web = await registerWeb(app, options.webRoot);
  app.setNotFoundHandler((request, reply) => {
    if (isBrowserRoute(request)) return web.page(request, reply);
    reply.code(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      directives: {
        // Behind plain HTTP (the local demo) an upgrade would send the browser to an https port nobody listens on.
        upgradeInsecureRequests: ctx.config.http.secureCookies ? [] : null,
      },
    },
  });
  await app.register(cookie);
  await app.register(rateLimit, { global: false });
  // Multipart only where a route reads it (KYC uploads); the per-route limits there are the binding ones.
  await app.register(multipart, {
    limits: { fileSize: ctx.config.kyc.maxUploadBytes, files: 1, fields: 10, fieldSize: 1000, parts: 11 },
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'Brokerdesk API', version: '0.1.0', description: 'Back office, client portal and partner APIs' },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  const staff = options.staff ?? new StaffService(ctx.database, ctx.sealer, ctx.clock);
  registerStaffAuth(app, staff);
  const clientSessions = options.clientSessions ?? new ClientSessions(ctx.database, ctx.clock);
  registerClientAuth(app, clientSessions);
  registerPortalClients(app, {
    ctx,
    clients: ctx.clients,
    kyc: ctx.kyc,
    sessions: clientSessions,
    secureCookies: ctx.config.http.secureCookies,
  });
  registerBackofficeClients(app, { clients: ctx.clients, kyc: ctx.kyc });
  const partnerSessions = new PartnerSessions(ctx.database, ctx.partners, ctx.clock);
  registerPartnerAuth(app, partnerSessions);
  registerPartnerPortal(app, {
    partners: ctx.partners,
    sessions: partnerSessions,
    secureCookies: ctx.config.http.secureCookies,
  });
  registerBackofficePartners(app, { partners: ctx.partners, sessions: partnerSessions });
  registerCommissions(app, { ctx });
  registerPortalAccounts(app, { ctx });
  registerBackofficeAccounts(app, { ctx });
  registerPortalFunding(app, { ctx });
  registerPortalSecurity(app, { ctx });
  registerBackofficeFunding(app, { ctx });
  registerBackofficeOps(app, { ctx });
  registerTradesRoutes(app, { ctx });
  registerBackofficeReconciliation(app, { ctx });
  registerBackofficeGolive(app, { ctx });
  registerBackofficeDashboard(app, { ctx });
  registerBackoffice(app, {
    ctx,
    staff,
    engine: new OperationsEngine(ctx.operationsDeps()),
    secureCookies: ctx.config.http.secureCookies,
  });

  app.get('/health', { config: { permission: 'public' } }, async () => {
    await ctx.database.query('SELECT 1');
    return { status: 'ok', database: ctx.database.kind, servers: ctx.registry.health() };
  });
  app.get('/metrics', { config: { permission: 'public' } }, async (_request, reply) => {
    reply.header('content-type', metricsRegistry.contentType);
    return metricsRegistry.metrics();
  });
  app.get('/openapi.json', { config: { permission: 'public' } }, async () => app.swagger());
  return app;
}
