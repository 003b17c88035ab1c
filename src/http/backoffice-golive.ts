/**
 * Back-office API of the go-live page (`/api/backoffice/golive`): the checklist (read with `servers.read`; run with
 * a test alert through every channel with `servers.manage`) and the full-workflow rehearsal (started with
 * `servers.manage`, run in the background, its report polled with `servers.read`).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../app/context.ts';
import { runChecklist } from '../modules/golive/checks.ts';
import { RehearsalRefused } from '../modules/golive/rehearse.ts';
import { RehearsalBusy, RehearsalRunner } from '../modules/golive/runs.ts';
import { HttpError } from './errors.ts';
import { staffSession } from './staff-auth.ts';

const rehearsalParams = z
  .object({ id: z.string().regex(/^rh-[0-9a-z-]{4,40}$/, 'must be a rehearsal id such as rh-0a1b2c3d4e') })
  .strict();

/** A rehearsal started here relies on the worker process for operations and payouts, as clients' requests do. */
export function registerBackofficeGolive(root: FastifyInstance, deps: { ctx: AppContext }): void {
  const { ctx } = deps;
  const runner = new RehearsalRunner(ctx, ctx.logger);
  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      const tags = ['back office: go-live'];

      app.get(
        '/golive/checks',
        {
          config: { permission: 'servers.read' },
          schema: { tags, summary: 'Run the go-live checklist (changes nothing; each check: status, detail, fix)' },
        },
        async () => runChecklist(ctx),
      );
      app.post(
        '/golive/checks',
        {
          config: { permission: 'servers.manage' },
          schema: {
            tags,
            summary: 'Run the go-live checklist, optionally sending a test alert through every alert channel',
            body: z.object({ sendTestAlert: z.boolean().default(false) }).strict(),
          },
        },
        async (request) => runChecklist(ctx, { sendTestAlert: request.body.sendTestAlert }),
      );

      app.post(
        '/golive/rehearsals',
        {
          config: { permission: 'servers.manage' },
          schema: {
            tags,
            summary: 'Start a full-workflow rehearsal on the demo server and PSP sandbox (runs in the background)',
            body: z.object({}).strict().optional(),
          },
        },
        async (request, reply) => {
          const { staff } = staffSession(request);
          try {
            const report = await runner.start({ staffId: staff.id, requestedBy: `staff:${staff.email}` });
            reply.code(202);
            return report;
          } catch (err) {
            if (err instanceof RehearsalBusy) throw new HttpError(409, err.code, err.message, { id: err.runningId });
            if (err instanceof RehearsalRefused) throw new HttpError(422, 'REHEARSAL_REFUSED', err.message);
            throw err;
          }
        },
      );
      app.get(
        '/golive/rehearsals',
        {
          config: { permission: 'servers.read' },
          schema: {
            tags,
            summary: 'Rehearsals, newest first (the running one first)',
            querystring: z
              .object({
                limit: z.coerce.number().int().min(1).max(100).default(20),
                offset: z.coerce.number().int().min(0).default(0),
              })
              .strict(),
          },
        },
        async (request) => {
          const { limit, offset } = request.query;
          const page = await runner.list({ limit, offset });
          return { ...page, limit, offset };
        },
      );
      app.get(
        '/golive/rehearsals/:id',
        {
          config: { permission: 'servers.read' },
          schema: {
            tags,
            summary: "A rehearsal's report: each step with its timing, detail and evidence",
            params: rehearsalParams,
          },
        },
        async (request) => {
          const report = await runner.get(request.params.id);
          if (!report) throw new HttpError(404, 'REHEARSAL_NOT_FOUND', `no rehearsal ${request.params.id}`);
          return report;
        },
      );
    },
    { prefix: '/api/backoffice' },
  );
}
