/**
 * Back-office reconciliation routes (`/api/backoffice/recon`): runs (on demand, list, report as JSON and CSV), breaks
 * with everything that explains them, and their resolution: retry the operation with its reference, link an external
 * change, write off with maker-checker.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../app/context.ts';
import { reconBreakClasses } from '../db/schema.ts';
import { reconciliationFor } from '../modules/reconciliation/from-context.ts';
import {
  breakDetail,
  getWriteOff,
  listBreaks,
  listRuns,
  pendingWriteOffs,
  runReport,
  runReportCsv,
} from '../modules/reconciliation/report.ts';
import {
  decideWriteOff,
  linkExternalChange,
  requestWriteOff,
  retryBreak,
} from '../modules/reconciliation/resolution.ts';
import { staffNames } from './backoffice-ops.ts';
import { staffSession } from './staff-auth.ts';

const idParams = z.object({ id: z.uuid('must be an id') }).strict();
const date = z
  .string()
  .regex(/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/, 'a business date as YYYY-MM-DD')
  .refine((v) => !Number.isNaN(Date.parse(`${v}T00:00:00Z`)), 'not a calendar date');
const page = {
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
};
const note = z.string().trim().min(3, 'say why, in a few words').max(500);

export function registerBackofficeReconciliation(root: FastifyInstance, deps: { ctx: AppContext }): void {
  const recon = reconciliationFor(deps.ctx);
  const db = deps.ctx.database.db;
  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      const tags = ['back office: reconciliation'];

      app.get(
        '/recon/runs',
        {
          config: { permission: 'recon.read' },
          schema: {
            tags,
            summary: 'Reconciliation runs, newest first',
            querystring: z.object({ date: date.optional(), ...page }).strict(),
          },
        },
        async (request) => ({
          items: await listRuns(db, request.query),
          settings: { cutoff: recon.settings.cutoff, timeZone: recon.settings.timeZone },
        }),
      );
      app.post(
        '/recon/runs',
        {
          config: { permission: 'recon.resolve' },
          schema: {
            tags,
            summary: 'Reconcile a business date now (after its cut-off); answers the finished run',
            body: z.object({ date }).strict(),
          },
        },
        async (request, reply) => {
          const run = await recon.run({
            date: request.body.date,
            trigger: 'manual',
            requestedBy: staffSession(request).staff.id,
          });
          reply.code(201);
          return { run };
        },
      );
      app.get(
        '/recon/runs/:id',
        {
          config: { permission: 'recon.read' },
          schema: {
            tags,
            summary:
              "A run's report: its sources and cut-offs, every break it saw (with its status now), what it cleared",
            params: idParams,
            querystring: z.object({ class: z.enum(reconBreakClasses).optional(), ...page }).strict(),
          },
        },
        async (request) =>
          runReport(db, request.params.id, {
            class: request.query.class,
            limit: request.query.limit,
            offset: request.query.offset,
          }),
      );
      app.get(
        '/recon/runs/:id/breaks.csv',
        {
          config: { permission: 'recon.read' },
          schema: { tags, summary: "A run's breaks as CSV", params: idParams },
        },
        async (request, reply) => {
          const csv = await runReportCsv(db, request.params.id);
          reply
            .header('content-type', 'text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="recon-${request.params.id}.csv"`);
          return csv;
        },
      );
      app.get(
        '/recon/breaks',
        {
          config: { permission: 'recon.read' },
          schema: {
            tags,
            summary: 'Breaks, most recently seen first',
            querystring: z
              .object({
                status: z.enum(['open', 'resolved']).optional(),
                class: z.enum(reconBreakClasses).optional(),
                server: z.string().max(40).optional(),
                login: z.coerce.number().int().positive().optional(),
                movementId: z.uuid().optional(),
                ...page,
              })
              .strict(),
          },
        },
        async (request) => {
          const q = request.query;
          return listBreaks(db, {
            status: q.status,
            class: q.class,
            serverCode: q.server,
            login: q.login,
            movementId: q.movementId,
            limit: q.limit,
            offset: q.offset,
          });
        },
      );
      app.get(
        '/recon/breaks/:id',
        {
          config: { permission: 'recon.read' },
          schema: {
            tags,
            summary:
              'A break with its movement, operation (attempt log and audit trail), server records, PSP lines, external change and resolution trail',
            params: idParams,
          },
        },
        async (request) => {
          const detail = await breakDetail(db, request.params.id);
          // The people in the trail by name (maker and checker are visible to whoever reads the break).
          const names = await staffNames(db, [
            detail.break.resolvedBy,
            ...detail.events.map((e) => e.actorId),
            ...detail.writeOffs.flatMap((w) => [w.requestedBy, w.decidedBy]),
          ]);
          return { ...detail, staffNames: Object.fromEntries(names) };
        },
      );
      app.post(
        '/recon/breaks/:id/retry',
        {
          config: { permission: 'recon.resolve' },
          schema: {
            tags,
            summary: "Retry the break's operation with its reference (looked up on the server first)",
            params: idParams,
          },
        },
        async (request) => ({ break: await retryBreak(recon, request.params.id, staffSession(request).staff.id) }),
      );
      app.post(
        '/recon/breaks/:id/link-external-change',
        {
          config: { permission: 'recon.resolve' },
          schema: {
            tags,
            summary: 'Resolve a server-side break as explained by an external change (a dealer change on the server)',
            params: idParams,
            body: z.object({ externalChangeId: z.uuid().optional(), note }).strict(),
          },
        },
        async (request) => ({
          break: await linkExternalChange(recon, request.params.id, staffSession(request).staff.id, request.body),
        }),
      );
      app.post(
        '/recon/breaks/:id/write-offs',
        {
          config: { permission: 'recon.resolve' },
          schema: {
            tags,
            summary: 'Ask to write the difference off, with a reason (another staff member approves)',
            params: idParams,
            body: z.object({ reason: note }).strict(),
          },
        },
        async (request, reply) => {
          const writeOff = await requestWriteOff(
            recon,
            request.params.id,
            staffSession(request).staff.id,
            request.body,
          );
          reply.code(201);
          return { writeOff };
        },
      );
      app.get(
        '/recon/write-offs',
        {
          config: { permission: 'recon.read' },
          schema: {
            tags,
            summary: 'Write-offs waiting for approval, oldest first',
            querystring: z.object(page).strict(),
          },
        },
        async (request) => {
          const items = await pendingWriteOffs(db, request.query.limit, request.query.offset);
          const names = await staffNames(
            db,
            items.map((i) => i.writeOff.requestedBy),
          );
          return { items, staffNames: Object.fromEntries(names) };
        },
      );
      app.get(
        '/recon/write-offs/:id',
        { config: { permission: 'recon.read' }, schema: { tags, params: idParams } },
        async (request) => ({ writeOff: await getWriteOff(db, request.params.id) }),
      );
      app.post(
        '/recon/write-offs/:id/decision',
        {
          config: { permission: 'recon.writeoff.approve' },
          schema: {
            tags,
            summary:
              'Approve (posts the ledger transaction, resolves the break) or reject; the requester cannot decide',
            params: idParams,
            body: z
              .object({ decision: z.enum(['approve', 'reject']), comment: z.string().trim().max(500).optional() })
              .strict()
              .refine((d) => d.decision === 'approve' || (d.comment && d.comment.length >= 3), {
                message: 'say why the write-off is rejected',
                path: ['comment'],
              }),
          },
        },
        async (request) => ({
          writeOff: await decideWriteOff(recon, request.params.id, staffSession(request).staff.id, request.body),
        }),
      );
    },
    { prefix: '/api/backoffice' },
  );
}
