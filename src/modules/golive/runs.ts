/**
 * Rehearsals started from the back office: each runs in the background of the API process (one at a time) while
 * the page polls its report; a finished rehearsal's report is read back from its audit event, so the list survives a
 * restart and shows runs started from the command line too.
 */
import { randomBytes } from 'node:crypto';
import { and, count, desc, eq } from 'drizzle-orm';
import { auditEvents } from '../../db/schema.ts';
import type { Logger } from '../../log.ts';
import { REHEARSAL_FINISHED } from './checks.ts';
import { preflight, REHEARSAL_STEPS, type RehearsalContext, rehearse, runningRehearsal, snapshot } from './rehearse.ts';
import type { RehearsalReport } from './types.ts';

export class RehearsalBusy extends Error {
  override readonly name = 'RehearsalBusy';
  readonly code = 'REHEARSAL_RUNNING';
  constructor(readonly runningId: string) {
    super(`rehearsal ${runningId} is still running; wait for it to finish`);
  }
}

/** A report as stored in the audit event (dates as ISO strings) brought back to dates. */
function revive(value: unknown): RehearsalReport {
  const r = value as RehearsalReport & { failedStep?: unknown };
  const date = (d: unknown) => (d ? new Date(d as string) : null);
  const { failedStep: _f, ...rest } = r;
  return {
    ...rest,
    startedAt: date(r.startedAt)!,
    finishedAt: date(r.finishedAt),
    steps: (r.steps ?? []).map((s) => ({ ...s, startedAt: date(s.startedAt) })),
  };
}

export class RehearsalRunner {
  /** Reports of rehearsals started by this process (the running one, then the finished ones until they are read back). */
  private readonly reports = new Map<string, RehearsalReport>();

  constructor(
    private readonly ctx: RehearsalContext,
    private readonly logger?: Logger,
  ) {}

  /**
   * Checks the setup (a refusal is thrown at once, as RehearsalRefused, with what to change), then starts the
   * rehearsal in the background and answers its first report.
   */
  async start(options: { staffId: string; requestedBy: string; tick?: () => Promise<void> }): Promise<RehearsalReport> {
    let busy = runningRehearsal();
    if (busy) throw new RehearsalBusy(busy);
    await preflight(this.ctx);
    busy = runningRehearsal();
    if (busy) throw new RehearsalBusy(busy);
    const id = `rh-${randomBytes(5).toString('hex')}`;
    const initial: RehearsalReport = {
      id,
      status: 'running',
      startedAt: this.ctx.clock.now(),
      finishedAt: null,
      durationMs: null,
      requestedBy: options.requestedBy,
      server: null,
      product: null,
      steps: REHEARSAL_STEPS.map(([stepId, title]) => ({
        id: stepId,
        title,
        status: 'pending',
        startedAt: null,
        durationMs: null,
        detail: '',
        evidence: {},
      })),
      leftBehind: [],
      error: null,
    };
    this.reports.set(id, initial);
    rehearse(this.ctx, { ...options, id, onProgress: (r) => this.reports.set(id, r) })
      .then((r) => this.reports.set(id, r))
      .catch((err) => {
        this.logger?.error({ err: (err as Error).message, rehearsal: id }, 'rehearsal failed unexpectedly');
        const report = this.reports.get(id) ?? initial;
        this.reports.set(id, {
          ...report,
          status: 'failed',
          finishedAt: this.ctx.clock.now(),
          error: `the rehearsal stopped unexpectedly: ${(err as Error).message}`,
        });
      });
    return snapshot(initial);
  }

  async get(id: string): Promise<RehearsalReport | null> {
    const mine = this.reports.get(id);
    if (mine) return snapshot(mine);
    const [row] = await this.ctx.database.db
      .select({ after: auditEvents.after })
      .from(auditEvents)
      .where(and(eq(auditEvents.action, REHEARSAL_FINISHED), eq(auditEvents.entityId, id)))
      .limit(1);
    return row ? revive(row.after) : null;
  }

  /** Newest first: the one running now (if any), then finished ones from the audit trail. */
  async list(page: { limit: number; offset: number }): Promise<{ items: RehearsalReport[]; total: number }> {
    const where = eq(auditEvents.action, REHEARSAL_FINISHED);
    const [{ n }] = (await this.ctx.database.db.select({ n: count() }).from(auditEvents).where(where)) as [
      { n: number },
    ];
    const rows = await this.ctx.database.db
      .select({ after: auditEvents.after })
      .from(auditEvents)
      .where(where)
      .orderBy(desc(auditEvents.id))
      .limit(page.limit)
      .offset(page.offset);
    const finished = rows.map((r) => revive(r.after));
    const current = runningRehearsal();
    const live = current && page.offset === 0 ? this.reports.get(current) : undefined;
    return {
      items: live ? [snapshot(live), ...finished.filter((f) => f.id !== live.id)] : finished,
      total: Number(n) + (live ? 1 : 0),
    };
  }
}
