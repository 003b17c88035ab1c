/**
 * Back-office API (`/api/backoffice`): staff sign-in and two-factor, staff management, trading servers and their
 * health, operations with their attempt log (retry with the same reference, cancel with a reason), alerts, and the
 * audit trail. Every route declares its permission; schemas are strict, so unknown fields are refused.
 */
import { and, asc, desc, eq, gt, lt, type SQL } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../app/context.ts';
import { alerts, auditEvents, operationKinds, operationStatuses, operations, staffRoles } from '../db/schema.ts';
import { verifyAuditChain } from '../modules/audit/service.ts';
import { can, type Permission, permissions } from '../modules/staff/permissions.ts';
import type { StaffService } from '../modules/staff/service.ts';
import { newStaffInput } from '../modules/staff/service.ts';
import { cancelOperation, retryOperation } from '../operations/admin.ts';
import { listAttempts } from '../operations/attempt-log.ts';
import type { OperationsEngine } from '../operations/engine.ts';
import { serverInput } from '../platforms/registry.ts';
import { operationContext, staffNames } from './backoffice-ops.ts';
import { HttpError } from './errors.ts';
import { setSessionCookie } from './session-cookie.ts';
import { STAFF_COOKIE, staffSession } from './staff-auth.ts';

const uuid = z.uuid('must be an id');
const idParams = z.object({ id: uuid }).strict();
const limit = z.coerce.number().int().min(1).max(500).default(50);

const operationView = (op: typeof operations.$inferSelect) => {
  const { sealedSecret: _secret, ...rest } = op;
  return rest;
};

export interface BackofficeDeps {
  ctx: AppContext;
  staff: StaffService;
  engine: Pick<OperationsEngine, 'afterEnd'>;
  secureCookies: boolean;
}

export function registerBackoffice(root: FastifyInstance, deps: BackofficeDeps): void {
  const { ctx, staff } = deps;
  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      const tags = ['back office'];

      // --- sign-in -------------------------------------------------------------------------------------------------
      app.post(
        '/auth/login',
        {
          config: {
            permission: 'public',
            // Per address and account: guessing one account's password is slowed without locking out a whole office.
            rateLimit: {
              max: 10,
              timeWindow: '1 minute',
              hook: 'preHandler',
              keyGenerator: (request) =>
                `${request.ip}|${String((request.body as { email?: unknown } | undefined)?.email ?? '').toLowerCase()}`,
            },
          },
          schema: {
            tags,
            summary: 'Sign in (password, and the authenticator code when enrolled)',
            body: z
              .object({
                email: z.string().min(3).max(254),
                password: z.string().min(1).max(200),
                totp: z
                  .string()
                  .regex(/^\d{6}$/)
                  .optional(),
              })
              .strict(),
          },
        },
        async (request, reply) => {
          const session = await staff.login({
            ...request.body,
            ip: request.ip,
            userAgent: request.headers['user-agent'],
          });
          setSessionCookie(reply, STAFF_COOKIE, session, deps.secureCookies);
          return { staff: session.staff, twoFactorEnrolmentRequired: !session.mfaPassed };
        },
      );
      app.post(
        '/auth/logout',
        { config: { permission: 'authenticated', beforeTwoFactor: true }, schema: { tags, summary: 'Sign out' } },
        async (request, reply) => {
          await staff.logout(staffSession(request).token);
          reply.clearCookie(STAFF_COOKIE, { path: '/' });
          return { signedOut: true };
        },
      );
      app.get(
        '/auth/me',
        { config: { permission: 'authenticated', beforeTwoFactor: true }, schema: { tags } },
        async (request) => {
          const session = staffSession(request);
          // What the web application may show this person (the routes check it again on every call).
          const granted = (Object.keys(permissions) as Permission[]).filter((p) => can(session.staff.roles, p));
          return { staff: session.staff, twoFactorPassed: session.mfaPassed, permissions: granted };
        },
      );
      app.post(
        '/auth/totp/setup',
        {
          config: { permission: 'authenticated', beforeTwoFactor: true },
          schema: { tags, summary: 'Start two-factor enrolment' },
        },
        async (request) => staff.startTotp(staffSession(request).staff.id),
      );
      app.post(
        '/auth/totp/confirm',
        {
          config: { permission: 'authenticated', beforeTwoFactor: true },
          schema: { tags, body: z.object({ code: z.string().regex(/^\d{6}$/, 'six digits') }).strict() },
        },
        async (request) => {
          const session = staffSession(request);
          await staff.confirmTotp(session.staff.id, request.body.code, session.token);
          return { twoFactorEnabled: true };
        },
      );

      // --- staff -----------------------------------------------------------------------------------------------------
      app.get('/staff', { config: { permission: 'staff.read' }, schema: { tags } }, async () => ({
        items: await staff.list(),
      }));
      app.post(
        '/staff',
        { config: { permission: 'staff.manage' }, schema: { tags, body: newStaffInput } },
        async (request, reply) => {
          reply.code(201);
          return staff.create(request.body, staffSession(request).staff.id);
        },
      );
      app.patch(
        '/staff/:id',
        {
          config: { permission: 'staff.manage' },
          schema: {
            tags,
            params: idParams,
            body: z
              .object({ roles: z.array(z.enum(staffRoles)).min(1).optional(), disabled: z.boolean().optional() })
              .strict()
              .refine((b) => b.roles !== undefined || b.disabled !== undefined, 'change roles or disabled'),
          },
        },
        async (request) => staff.update(request.params.id, request.body, staffSession(request).staff.id),
      );

      // --- trading servers ---------------------------------------------------------------------------------------------
      app.get('/servers', { config: { permission: 'servers.read' }, schema: { tags } }, async () => {
        const health = new Map(ctx.registry.health().map((h) => [h.server, h]));
        return { items: (await ctx.registry.list()).map((s) => ({ ...s, health: health.get(s.code) ?? null })) };
      });
      app.post(
        '/servers/ping',
        {
          config: { permission: 'servers.read' },
          schema: { tags, summary: 'Ping every enabled server now; answers the servers with their health' },
        },
        async () => {
          const health = new Map((await ctx.registry.pingAll()).map((h) => [h.server, h]));
          return { items: (await ctx.registry.list()).map((s) => ({ ...s, health: health.get(s.code) ?? null })) };
        },
      );
      app.post(
        '/servers',
        { config: { permission: 'servers.manage' }, schema: { tags, body: serverInput } },
        async (request, reply) => {
          reply.code(201);
          return ctx.registry.upsert(request.body);
        },
      );

      // --- operations and their attempt log ---------------------------------------------------------------------------
      app.get(
        '/operations',
        {
          config: { permission: 'operations.read' },
          schema: {
            tags,
            querystring: z
              .object({
                status: z.enum(operationStatuses).optional(),
                kind: z.enum(operationKinds).optional(),
                server: z.string().max(40).optional(),
                login: z.coerce.number().int().positive().optional(),
                reference: z.string().max(40).optional(),
                before: z.coerce.number().int().positive().optional(),
                limit,
              })
              .strict(),
          },
        },
        async (request) => {
          const q = request.query;
          const where: SQL[] = [];
          if (q.status) where.push(eq(operations.status, q.status));
          if (q.kind) where.push(eq(operations.kind, q.kind));
          if (q.server) where.push(eq(operations.serverCode, q.server));
          if (q.login) where.push(eq(operations.login, q.login));
          if (q.reference) where.push(eq(operations.reference, q.reference.toUpperCase()));
          if (q.before) where.push(lt(operations.seq, q.before));
          const rows = await ctx.database.db
            .select()
            .from(operations)
            .where(where.length ? and(...where) : undefined)
            .orderBy(desc(operations.seq))
            .limit(q.limit);
          return { items: rows.map(operationView), next: rows.length === q.limit ? rows.at(-1)!.seq : null };
        },
      );
      app.get(
        '/operations/:id',
        { config: { permission: 'operations.read' }, schema: { tags, params: idParams } },
        async (request) => {
          const [op] = await ctx.database.db.select().from(operations).where(eq(operations.id, request.params.id));
          if (!op) throw new HttpError(404, 'OPERATION_NOT_FOUND', `no operation ${request.params.id}`);
          return {
            operation: operationView(op),
            attempts: await listAttempts(ctx.database.db, { operationId: op.id, limit: 1000 }),
            ...(await operationContext(ctx.database.db, op)),
          };
        },
      );
      app.post(
        '/operations/:id/retry',
        {
          config: { permission: 'operations.retry' },
          schema: { tags, summary: 'Retry with the same reference (looked up first)', params: idParams },
        },
        async (request) =>
          operationView(await retryOperation(ctx.operationsDeps(), request.params.id, staffSession(request).staff.id)),
      );
      app.post(
        '/operations/:id/cancel',
        {
          config: { permission: 'operations.cancel' },
          schema: { tags, params: idParams, body: z.object({ reason: z.string().trim().min(3).max(500) }).strict() },
        },
        async (request) =>
          operationView(
            await cancelOperation(
              ctx.operationsDeps(),
              deps.engine,
              request.params.id,
              staffSession(request).staff.id,
              request.body.reason,
            ),
          ),
      );
      app.get(
        '/attempts',
        {
          config: { permission: 'operations.read' },
          schema: {
            tags,
            summary: 'The attempt log: every call made to a server',
            querystring: z
              .object({
                operationId: uuid.optional(),
                reference: z.string().max(40).optional(),
                server: z.string().max(40).optional(),
                login: z.coerce.number().int().positive().optional(),
                from: z.iso.datetime().optional(),
                to: z.iso.datetime().optional(),
                before: z.coerce.number().int().positive().optional(),
                limit,
              })
              .strict(),
          },
        },
        async (request) => {
          const q = request.query;
          const items = await listAttempts(ctx.database.db, {
            operationId: q.operationId,
            reference: q.reference?.toUpperCase(),
            serverCode: q.server,
            login: q.login,
            from: q.from ? new Date(q.from) : undefined,
            to: q.to ? new Date(q.to) : undefined,
            before: q.before,
            limit: q.limit,
          });
          return { items, next: items.length === q.limit ? items.at(-1)!.id : null };
        },
      );

      // --- alerts -----------------------------------------------------------------------------------------------------
      app.get(
        '/alerts',
        {
          config: { permission: 'alerts.read' },
          schema: {
            tags,
            querystring: z
              .object({
                status: z.enum(['open', 'acknowledged', 'resolved']).optional(),
                severity: z.enum(['info', 'warning', 'critical']).optional(),
                offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
                limit,
              })
              .strict(),
          },
        },
        async (request) => {
          const q = request.query;
          const where: SQL[] = [];
          if (q.status) where.push(eq(alerts.status, q.status));
          if (q.severity) where.push(eq(alerts.severity, q.severity));
          const rows = await ctx.database.db
            .select()
            .from(alerts)
            .where(where.length ? and(...where) : undefined)
            .orderBy(desc(alerts.lastSeenAt), desc(alerts.id))
            .limit(q.limit + 1)
            .offset(q.offset);
          const items = rows.slice(0, q.limit);
          const names = await staffNames(
            ctx.database.db,
            items.flatMap((a) => [a.acknowledgedBy, a.resolvedBy]),
          );
          return {
            items: items.map((a) => ({
              ...a,
              acknowledgedByName: a.acknowledgedBy ? (names.get(a.acknowledgedBy) ?? null) : null,
              resolvedByName: a.resolvedBy ? (names.get(a.resolvedBy) ?? null) : null,
            })),
            next: rows.length > q.limit ? q.offset + q.limit : null,
          };
        },
      );
      app.post(
        '/alerts/:id/acknowledge',
        { config: { permission: 'alerts.manage' }, schema: { tags, params: idParams } },
        async (request) =>
          ctx.database.db.transaction((tx) =>
            ctx.alerts.acknowledge(tx, request.params.id, staffSession(request).staff.id),
          ),
      );
      app.post(
        '/alerts/:id/resolve',
        {
          config: { permission: 'alerts.manage' },
          schema: {
            tags,
            params: idParams,
            body: z.object({ resolution: z.string().trim().min(3).max(500) }).strict(),
          },
        },
        async (request) =>
          ctx.database.db.transaction((tx) =>
            ctx.alerts.resolveAlert(tx, request.params.id, staffSession(request).staff.id, request.body.resolution),
          ),
      );

      // --- audit ------------------------------------------------------------------------------------------------------
      app.get(
        '/audit',
        {
          config: { permission: 'audit.read' },
          schema: {
            tags,
            querystring: z
              .object({
                entityType: z.string().max(40).optional(),
                entityId: z.string().max(80).optional(),
                correlationId: z.string().max(80).optional(),
                action: z.string().max(80).optional(),
                after: z.coerce.number().int().min(0).default(0),
                /** order=desc: newest first, the next page `before` the last id. */
                order: z.enum(['asc', 'desc']).default('asc'),
                before: z.coerce.number().int().min(1).optional(),
                limit,
              })
              .strict(),
          },
        },
        async (request) => {
          const q = request.query;
          const where: SQL[] = [];
          if (q.entityType) where.push(eq(auditEvents.entityType, q.entityType));
          if (q.entityId) where.push(eq(auditEvents.entityId, q.entityId));
          if (q.correlationId) where.push(eq(auditEvents.correlationId, q.correlationId));
          if (q.action) where.push(eq(auditEvents.action, q.action));
          where.push(gt(auditEvents.id, q.after));
          if (q.before !== undefined) where.push(lt(auditEvents.id, q.before));
          const items = await ctx.database.db
            .select()
            .from(auditEvents)
            .where(and(...where))
            .orderBy(q.order === 'desc' ? desc(auditEvents.id) : asc(auditEvents.id))
            .limit(q.limit);
          return { items, next: items.length === q.limit ? items.at(-1)!.id : null };
        },
      );
      app.get(
        '/audit/verify',
        { config: { permission: 'audit.read' }, schema: { tags, summary: 'Walk the hash chain' } },
        async () => verifyAuditChain(ctx.database.db),
      );
    },
    { prefix: '/api/backoffice' },
  );
}
