/**
 * The reconciliation module owns the daily three-way reconciliation (DOMAIN §6): PSP settlement lines, the CRM (ledger,
 * money movements, operations) and the servers (balance records synced into `trade_records`, account balances read
 * from each server), compared at one cut-off per source. Each mismatch is a break with a class and a stable key; a
 * later run that no longer sees a break clears it; staff resolve the rest (resolution.ts). Runs are scheduled daily at
 * the configured cut-off (the worker) and run on demand (`brokerdesk recon run --date`, the back-office API).
 *
 * A run, in order:
 * 1. Records itself (`recon_runs`, one running run per date) and picks its horizon: the day's window start, or
 *    earlier while breaks from earlier days are still open (so that this run can clear them), at most
 *    `lookbackDays` back.
 * 2. Servers (live, enabled): reads every open account's balance and credit through the Platform (the snapshot,
 *    `recon_account_balances`), then runs a trade-sync pass so the history covers the cut-off and the snapshot.
 *    A server's cut-off is the run's, or its history's `synced_to` when that is earlier (said in `sources`; what
 *    the CRM did after it is not judged against that server until a later run). Balances are compared only when
 *    the history reaches the moment they were read (else the deals behind them are unknown: skipped, said why).
 * 3. PSP: fetches the settlement lines of [horizon − 6 h, cut-off) and stores them with the run (reproducible; the
 *    extra hours catch a line the PSP settled before its webhook approved the deposit).
 * 4. Compares (compare.ts, set-based SQL in one repeatable-read transaction), merges the breaks, records the summary,
 *    raises (or resolves) the day's summary alert and audits the run.
 */
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { type Clock, systemClock } from '../../clock.ts';
import type { Database, Executor } from '../../db/connect.ts';
import { reconRuns, tradeSyncCursors, tradingAccounts } from '../../db/schema.ts';
import type { Logger } from '../../log.ts';
import type { AlertPort, AuditPort, OperationsDeps } from '../../operations/ports.ts';
import type { PaymentProvider, PspSettlement } from '../../payments/types.ts';
import type { Platform, PlatformKind } from '../../platforms/types.ts';
import { type CompareScope, compareSources, mergeBreaks } from './compare.ts';
import { ReconError } from './errors.ts';
import { businessDay, isValidBusinessDate, latestDueDate } from './schedule.ts';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/**
 * PSP lines are fetched from this long before the horizon: the PSP settles a payment before its webhook reaches the
 * CRM and approves the deposit, so the line of a deposit approved just after the horizon can be a little older.
 */
const PSP_LEAD_MS = 6 * 60 * MINUTE;
/** A running run whose heartbeat is older than this was abandoned (its process died). */
const STALE_RUN_MS = 15 * MINUTE;
/** A failed scheduled run is tried again after this long. */
const SCHEDULE_RETRY_MS = 15 * MINUTE;
const INSERT_CHUNK = 20_000;
/** While another worker holds a server's sync lease, the run's history pass is tried again this often, this many times. */
const SYNC_LEASE_WAIT_MS = 1_000;
const SYNC_LEASE_WAITS = 30;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type ReconRun = typeof reconRuns.$inferSelect;

export interface ReconSettings {
  /** HH:MM, the time of day of the cut-off. */
  cutoff: string;
  /** IANA zone of the business day and the cut-off. */
  timeZone: string;
  /** How far back a run re-examines breaks that are still open. */
  lookbackDays: number;
  /** Account reads in parallel per server during the balance snapshot. */
  balanceConcurrency?: number;
  /** Connections the comparison runs on at once, on one snapshot (PostgreSQL; default 2). */
  compareLanes?: number;
}

/** The servers: the registry in production (only live, enabled servers are reconciled). */
export interface ReconServers {
  list(): Promise<{ code: string; platform: PlatformKind; environment: 'live' | 'demo'; enabled: boolean }[]>;
  platform(code: string): Promise<Platform>;
}

/** One incremental history pass (TradeSync.syncServer). */
export interface ReconSync {
  syncServer(code: string): Promise<{ status: 'ok' | 'failed' | 'skipped'; error?: string | undefined }>;
}

export interface ReconciliationDeps {
  database: Database;
  clock?: Clock;
  audit: AuditPort;
  alerts: AlertPort;
  psp: PaymentProvider | null;
  servers: ReconServers;
  /** Absent: history is not synced by the run; each server's cut-off is then its cursor as it stands. */
  sync?: ReconSync | null;
  /** For retrying a break's operation with its reference (src/operations/admin.ts). */
  operations: Pick<OperationsDeps, 'database' | 'clock' | 'audit' | 'alerts'>;
  settings: ReconSettings;
  logger?: Logger;
}

export interface ReconProgress {
  phase: 'start' | 'balances' | 'sync' | 'psp' | 'compare' | 'merge' | 'done';
  /** 0..1 of the whole run. */
  fraction: number;
  message: string;
}

export interface RunRequest {
  date: string;
  trigger?: 'schedule' | 'manual';
  requestedBy: string;
  onProgress?: (progress: ReconProgress) => void;
}

export interface ServerSource {
  platform: PlatformKind;
  status: 'compared' | 'not_compared';
  /** Up to when the server's history is known complete (trade_sync_cursors.synced_to). */
  syncedTo: string | null;
  /** The server's own cut-off used: min(run cut-off, synced_to); null when not compared. */
  cutoffAt: string | null;
  complete: boolean;
  sync: { status: string; error?: string | undefined } | null;
  balances: { accounts: number; read: number; failed: number };
  note?: string;
}

export interface RunSources {
  psp: {
    name: string | null;
    status: 'ok' | 'failed' | 'not_configured';
    from?: string;
    to?: string;
    lines?: number;
    error?: string;
  };
  servers: Record<string, ServerSource>;
}

export interface RunSummary {
  /** Breaks the run saw (including those staff had already resolved, which stay resolved). */
  breaks: number;
  byClass: Record<string, number>;
  /** Of those, the ones still open. */
  open: number;
  openByClass: Record<string, number>;
  opened: number;
  reopened: number;
  cleared: number;
  openTotal: number;
  accountsCompared: number;
  accountsSkipped: number;
  durationMs: number;
}

const isUniqueViolation = (err: unknown, index: string): boolean => {
  for (let e = err as { code?: string; constraint?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === '23505' && (e.constraint ?? '').includes(index)) return true;
  }
  return false;
};

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

export class ReconciliationService {
  readonly clock: Clock;

  constructor(readonly deps: ReconciliationDeps) {
    this.clock = deps.clock ?? systemClock;
  }

  private get db() {
    return this.deps.database.db;
  }

  get settings(): ReconSettings {
    return this.deps.settings;
  }

  // --- runs --------------------------------------------------------------------------------------------------------

  /** Reconciles one business date (after its cut-off). Throws ReconError when refused; a failed run is recorded. */
  async run(request: RunRequest): Promise<ReconRun> {
    const { date } = request;
    if (!isValidBusinessDate(date)) {
      throw new ReconError('RECON_INVALID_DATE', 400, `"${date}" is not a date; give it as YYYY-MM-DD`);
    }
    const { cutoff, timeZone } = this.settings;
    const day = businessDay(date, cutoff, timeZone);
    const started = this.clock.now();
    if (started.getTime() < day.cutoffAt.getTime()) {
      throw new ReconError(
        'RECON_CUTOFF_NOT_REACHED',
        409,
        `the cut-off of ${date} (${cutoff} ${timeZone}, ${day.cutoffAt.toISOString()}) has not passed yet`,
      );
    }
    const progress = (phase: ReconProgress['phase'], fraction: number, message: string) =>
      request.onProgress?.({ phase, fraction: Math.min(1, Math.max(0, fraction)), message });
    const run = await this.startRun(request, day, started);
    progress('start', 0, `reconciling ${date} at ${day.cutoffAt.toISOString()}`);
    const t0 = performance.now();
    try {
      const horizonStart = await this.horizon(day.windowStart, day.cutoffAt);
      const sources: RunSources = { psp: { name: null, status: 'not_configured' }, servers: {} };

      // The servers (reading balances, syncing history) and the PSP (fetching and storing its lines) are independent:
      // the one waits on the network while the other keeps the database busy.
      const [snapshot] = await Promise.all([
        this.snapshotServers(run.id, day.cutoffAt, sources, (f, m) => progress('balances', 0.05 + f * 0.4, m)),
        this.fetchPsp(run.id, horizonStart, day.cutoffAt, sources, (m) => progress('psp', 0.5, m)),
      ]);
      await this.heartbeat(run.id, sources);

      const openMissing = rowsOf<{ id: string }>(
        await this.db.execute(sql`select distinct operation_id as id from recon_breaks
          where status = 'open' and class = 'missing_on_server' and operation_id is not null`),
      );
      const scope: CompareScope = {
        runId: run.id,
        openMissingOperations: openMissing.map((r) => r.id),
        cutoffAt: day.cutoffAt,
        horizonStart,
        servers: Object.entries(sources.servers)
          .filter(([, s]) => s.status === 'compared' && s.cutoffAt !== null)
          .map(([serverCode, s]) => ({ serverCode, cutoffAt: new Date(s.cutoffAt!) })),
        histories: Object.entries(sources.servers).map(([serverCode, s]) => ({
          serverCode,
          syncedTo: s.syncedTo ? new Date(s.syncedTo) : null,
        })),
        psp: sources.psp.status === 'ok' ? sources.psp.name : null,
        pspLinesFrom: new Date(horizonStart.getTime() - PSP_LEAD_MS),
        snapshotStartedAt: snapshot.startedAt,
        now: this.clock.now(),
      };
      const postgres = this.deps.database.kind === 'postgres';
      await compareSources(this.db, scope, {
        lanes: postgres ? Math.max(1, this.settings.compareLanes ?? 2) : 1,
        // A batch job's joins: give them memory rather than spilling to disk (these transactions only).
        prepare: async (tx) => {
          if (postgres) await tx.execute(sql`set local work_mem = '128MB'`);
        },
        onStep: (step, i, n) => progress('compare', 0.55 + (i / Math.max(1, n)) * 0.35, step),
      });
      const finished = await this.db.transaction(
        async (tx) => {
          progress('merge', 0.92, 'merging breaks');
          const merged = await mergeBreaks(tx, scope, date);
          const classes = rowsOf<{ class: string; n: string; open: string }>(
            await tx.execute(sql`select rb.class, count(*) as n, count(*) filter (where b.status = 'open') as open
              from recon_run_breaks rb left join recon_breaks b on b.id = rb.break_id
              where rb.run_id = ${run.id}::uuid group by rb.class`),
          );
          const byClass = Object.fromEntries(classes.map((r) => [r.class, Number(r.n)]));
          const openByClass = Object.fromEntries(
            classes.filter((r) => Number(r.open) > 0).map((r) => [r.class, Number(r.open)]),
          );
          const [accounts] = rowsOf<{ compared: string; skipped: string }>(
            await tx.execute(sql`select count(*) filter (where skipped_reason is null) as compared,
              count(*) filter (where skipped_reason is not null) as skipped
              from recon_account_balances where run_id = ${run.id}::uuid`),
          );
          const [open] = rowsOf<{ n: string }>(
            await tx.execute(sql`select count(*) as n from recon_breaks where status = 'open'`),
          );
          const summary: RunSummary = {
            breaks: merged.seen,
            byClass,
            open: Object.values(openByClass).reduce((a, b) => a + b, 0),
            openByClass,
            opened: merged.opened,
            reopened: merged.reopened,
            cleared: merged.cleared,
            openTotal: Number(open?.n ?? 0),
            accountsCompared: Number(accounts?.compared ?? 0),
            accountsSkipped: Number(accounts?.skipped ?? 0),
            durationMs: Math.round(performance.now() - t0),
          };
          const [row] = await tx
            .update(reconRuns)
            .set({
              status: 'completed',
              horizonStart,
              sources,
              summary,
              finishedAt: this.clock.now(),
              heartbeatAt: this.clock.now(),
            })
            .where(eq(reconRuns.id, run.id))
            .returning();
          await this.alertOnSummary(tx, date, run.id, summary);
          await this.deps.alerts.resolve(tx, `recon_failed:${date}`, 'system', 'a later run of the date completed');
          // A staff member (by id) through the API; the scheduler, the CLI or a test otherwise.
          const byStaff = UUID.test(request.requestedBy);
          await this.deps.audit.record(tx, {
            actorType: byStaff ? 'staff' : 'system',
            actorId: request.requestedBy,
            action: 'recon.run_completed',
            entityType: 'recon_run',
            entityId: run.id,
            after: { businessDate: date, cutoffAt: day.cutoffAt.toISOString(), summary, sources },
            correlationId: `recon:${date}`,
          });
          return row!;
        },
        { isolationLevel: 'repeatable read' },
      );
      progress('done', 1, `${finished.summary ? (finished.summary as RunSummary).breaks : 0} breaks`);
      return finished;
    } catch (err) {
      await this.failRun(run.id, date, err);
      throw err;
    }
  }

  /** The scheduler's tick: runs the latest date whose cut-off has passed, once (across every worker). */
  async runIfDue(): Promise<ReconRun | null> {
    const now = this.clock.now();
    const date = latestDueDate(now, this.settings.cutoff, this.settings.timeZone);
    const runs = await this.db
      .select()
      .from(reconRuns)
      .where(and(eq(reconRuns.businessDate, date), eq(reconRuns.trigger, 'schedule')))
      .orderBy(desc(reconRuns.startedAt));
    if (runs.some((r) => r.status !== 'failed')) return null;
    const lastFailure = runs[0];
    if (lastFailure && now.getTime() - lastFailure.startedAt.getTime() < SCHEDULE_RETRY_MS) return null;
    try {
      return await this.run({ date, trigger: 'schedule', requestedBy: 'system' });
    } catch (err) {
      if (err instanceof ReconError && err.code === 'RECON_RUN_IN_PROGRESS') return null;
      throw err;
    }
  }

  private async startRun(
    request: RunRequest,
    day: { date: string; windowStart: Date; cutoffAt: Date },
    now: Date,
  ): Promise<ReconRun> {
    await this.db
      .update(reconRuns)
      .set({
        status: 'failed',
        error: 'abandoned: its process stopped reporting',
        finishedAt: now,
      })
      .where(
        and(
          eq(reconRuns.businessDate, day.date),
          eq(reconRuns.status, 'running'),
          lt(reconRuns.heartbeatAt, new Date(now.getTime() - STALE_RUN_MS)),
        ),
      );
    try {
      const [row] = await this.db
        .insert(reconRuns)
        .values({
          businessDate: day.date,
          status: 'running',
          trigger: request.trigger ?? 'manual',
          requestedBy: request.requestedBy,
          timeZone: this.settings.timeZone,
          cutoffLocal: this.settings.cutoff,
          cutoffAt: day.cutoffAt,
          windowStart: day.windowStart,
          startedAt: now,
          heartbeatAt: now,
        })
        .returning();
      return row!;
    } catch (err) {
      if (isUniqueViolation(err, 'recon_runs_running_idx') || isUniqueViolation(err, 'recon_runs_schedule_idx')) {
        throw new ReconError(
          'RECON_RUN_IN_PROGRESS',
          409,
          `a reconciliation of ${day.date} is already running${request.trigger === 'schedule' ? ' or done' : ''}; wait for it to finish`,
        );
      }
      throw err;
    }
  }

  private async heartbeat(runId: string, sources: RunSources): Promise<void> {
    await this.db.update(reconRuns).set({ heartbeatAt: this.clock.now(), sources }).where(eq(reconRuns.id, runId));
  }

  /** During a long balance snapshot: at most every 30 s, so no other process takes the run for abandoned. */
  private async keepAlive(runId: string): Promise<void> {
    const now = Date.now();
    if (now - (this.lastBeat.get(runId) ?? 0) < 30_000) return;
    this.lastBeat.set(runId, now);
    await this.db.update(reconRuns).set({ heartbeatAt: this.clock.now() }).where(eq(reconRuns.id, runId));
  }
  private readonly lastBeat = new Map<string, number>();

  private async failRun(runId: string, date: string, err: unknown): Promise<void> {
    this.deps.logger?.error({ run: runId, date, err: errorText(err) }, 'reconciliation run failed');
    try {
      await this.db.transaction(async (tx) => {
        await tx
          .update(reconRuns)
          .set({ status: 'failed', error: errorText(err), finishedAt: this.clock.now() })
          .where(eq(reconRuns.id, runId));
        // What its comparison lanes had committed is not a report.
        await tx.execute(sql`delete from recon_run_breaks where run_id = ${runId}::uuid`);
        await this.deps.alerts.raise(tx, {
          kind: 'reconciliation_failed',
          dedupeKey: `recon_failed:${date}`,
          severity: 'critical',
          title: `the reconciliation of ${date} failed: ${errorText(err)}`,
          details: { runId, businessDate: date },
        });
      });
    } catch (inner) {
      this.deps.logger?.error({ run: runId, err: errorText(inner) }, 'could not record the failed reconciliation run');
    }
  }

  /** The window start, or earlier while older breaks are open (bounded by the lookback). */
  private async horizon(windowStart: Date, cutoffAt: Date): Promise<Date> {
    const [row] = rowsOf<{ oldest: string | Date | null }>(
      await this.db.execute(sql`select min(subject_at) as oldest from recon_breaks
        where status = 'open' and side <> 'account' and last_seen_cutoff <= ${cutoffAt.toISOString()}::timestamptz`),
    );
    const floor = cutoffAt.getTime() - this.settings.lookbackDays * DAY;
    const oldest = row?.oldest ? new Date(row.oldest).getTime() : windowStart.getTime();
    return new Date(Math.max(floor, Math.min(windowStart.getTime(), oldest)));
  }

  // --- sources -----------------------------------------------------------------------------------------------------

  /** Balance snapshot of every open account on every live, enabled server; then a history pass per server. */
  private async snapshotServers(
    runId: string,
    cutoffAt: Date,
    sources: RunSources,
    progress: (fraction: number, message: string) => void,
  ): Promise<{ startedAt: Date | null }> {
    const servers = (await this.deps.servers.list()).filter((s) => s.environment === 'live');
    let startedAt: Date | null = null;
    for (const [i, server] of servers.entries()) {
      const source: ServerSource = {
        platform: server.platform,
        status: 'not_compared',
        syncedTo: null,
        cutoffAt: null,
        complete: false,
        sync: null,
        balances: { accounts: 0, read: 0, failed: 0 },
      };
      sources.servers[server.code] = source;
      if (!server.enabled) {
        source.note = 'the server is disabled: its history and balances cannot be read';
        await this.noteCursor(server.code, cutoffAt, source);
        continue;
      }
      startedAt ??= this.clock.now();
      await this.readBalances(runId, server.code, source, (f) =>
        progress((i + f) / Math.max(1, servers.length), `${server.code}: balances`),
      );
      const readsDoneAt = this.clock.now();
      if (this.deps.sync) {
        progress((i + 1) / Math.max(1, servers.length), `${server.code}: history`);
        source.sync = await this.syncAfterReads(server.code, readsDoneAt);
      }
      await this.noteCursor(server.code, cutoffAt, source);
      if (source.balances.read > 0 && (source.syncedTo === null || new Date(source.syncedTo) < readsDoneAt)) {
        source.note = `${source.note ? `${source.note}; ` : ''}balances not compared: the history is not synced up to when they were read`;
      }
    }
    return { startedAt };
  }

  /**
   * A history pass after the balances were read, so the deals behind each balance are known. A pass another worker
   * holds the lease for is waited for (bounded): its history may stop before the reads.
   */
  private async syncAfterReads(
    code: string,
    readsDoneAt: Date,
  ): Promise<{ status: string; error?: string | undefined }> {
    for (let attempt = 0; ; attempt++) {
      let pass: { status: 'ok' | 'failed' | 'skipped'; error?: string | undefined };
      try {
        pass = await this.deps.sync!.syncServer(code);
      } catch (err) {
        return { status: 'failed', error: errorText(err) };
      }
      if (pass.status !== 'skipped' || attempt >= SYNC_LEASE_WAITS) {
        return { status: pass.status, ...(pass.error ? { error: pass.error } : {}) };
      }
      const [cursor] = await this.db
        .select({ syncedTo: tradeSyncCursors.syncedTo })
        .from(tradeSyncCursors)
        .where(eq(tradeSyncCursors.serverCode, code));
      if (cursor?.syncedTo && cursor.syncedTo >= readsDoneAt) return { status: 'ok' };
      await new Promise((resolve) => setTimeout(resolve, SYNC_LEASE_WAIT_MS));
    }
  }

  /** The server's own cut-off: its history's synced-to, when earlier than the run's. */
  private async noteCursor(code: string, cutoffAt: Date, source: ServerSource): Promise<void> {
    const [cursor] = await this.db
      .select({ syncedTo: tradeSyncCursors.syncedTo })
      .from(tradeSyncCursors)
      .where(eq(tradeSyncCursors.serverCode, code));
    const syncedTo = cursor?.syncedTo ?? null;
    source.syncedTo = syncedTo?.toISOString() ?? null;
    if (!syncedTo) {
      source.status = 'not_compared';
      source.note = `${source.note ? `${source.note}; ` : ''}its history has never been synced: not compared`;
      return;
    }
    const own = Math.min(cutoffAt.getTime(), syncedTo.getTime());
    source.status = 'compared';
    source.cutoffAt = new Date(own).toISOString();
    source.complete = syncedTo.getTime() >= cutoffAt.getTime();
    if (!source.complete) {
      source.note = `${source.note ? `${source.note}; ` : ''}history is synced only to ${syncedTo.toISOString()}: the server is compared up to then, what the CRM did later is judged by a later run`;
    }
  }

  private async readBalances(
    runId: string,
    code: string,
    source: ServerSource,
    progress: (fraction: number) => void,
  ): Promise<void> {
    const rows = await this.db
      .select({ login: tradingAccounts.login })
      .from(tradingAccounts)
      .where(and(eq(tradingAccounts.serverCode, code), eq(tradingAccounts.status, 'open')));
    const logins = rows.map((r) => r.login).filter((l): l is number => l !== null);
    source.balances.accounts = logins.length;
    if (logins.length === 0) return;
    const read: { login: number; balance: number | null; credit: number | null; at: Date; skipped: string | null }[] =
      [];
    let platform: Platform;
    try {
      platform = await this.deps.servers.platform(code);
    } catch (err) {
      const at = this.clock.now();
      for (const login of logins)
        read.push({ login, balance: null, credit: null, at, skipped: `read failed: ${errorText(err)}` });
      source.balances.failed = logins.length;
      await this.insertBalances(runId, code, read);
      return;
    }
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < logins.length) {
        const login = logins[next++]!;
        try {
          const account = await platform.getAccount(login);
          read.push({ login, balance: account.balance, credit: account.credit, at: this.clock.now(), skipped: null });
          source.balances.read += 1;
        } catch (err) {
          read.push({
            login,
            balance: null,
            credit: null,
            at: this.clock.now(),
            skipped: `read failed: ${errorText(err)}`,
          });
          source.balances.failed += 1;
        }
        done += 1;
        if (done % 500 === 0) {
          progress(done / logins.length);
          await this.keepAlive(runId);
        }
      }
    };
    const concurrency = Math.max(1, this.settings.balanceConcurrency ?? 8);
    await Promise.all(Array.from({ length: Math.min(concurrency, logins.length) }, worker));
    progress(1);
    await this.insertBalances(runId, code, read);
    await this.db.execute(sql`analyze recon_account_balances`);
  }

  private async insertBalances(
    runId: string,
    code: string,
    rows: { login: number; balance: number | null; credit: number | null; at: Date; skipped: string | null }[],
  ): Promise<void> {
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      const chunk = rows.slice(i, i + INSERT_CHUNK);
      const json = JSON.stringify(
        chunk.map((r) => ({
          login: r.login,
          balance: r.balance,
          credit: r.credit,
          read_at: r.at.toISOString(),
          skipped: r.skipped,
        })),
      );
      await this.db.execute(sql`insert into recon_account_balances
          (run_id, server_code, login, balance_minor, credit_minor, read_at, skipped_reason)
        select ${runId}::uuid, ${code}::text, u.login, u.balance, u.credit, u.read_at, u.skipped
        from json_to_recordset(${json}::json)
          as u(login bigint, balance bigint, credit bigint, read_at timestamptz, skipped text)`);
    }
  }

  private async fetchPsp(
    runId: string,
    horizonStart: Date,
    cutoffAt: Date,
    sources: RunSources,
    progress: (message: string) => void,
  ): Promise<void> {
    const psp = this.deps.psp;
    if (!psp) {
      sources.psp = { name: null, status: 'not_configured' };
      return;
    }
    const from = new Date(horizonStart.getTime() - PSP_LEAD_MS);
    sources.psp = { name: psp.name, status: 'failed', from: from.toISOString(), to: cutoffAt.toISOString() };
    progress(`${psp.name}: settlement lines`);
    let lines: PspSettlement[];
    try {
      lines = await psp.listSettlements(from, cutoffAt);
    } catch (err) {
      sources.psp.error = errorText(err);
      this.deps.logger?.warn({ psp: psp.name, err: errorText(err) }, 'reconciliation: PSP settlements unavailable');
      return;
    }
    // The PSP's list is for [from, to): anything else it returned is not this run's to judge.
    const wanted = lines.filter(
      (l) => l.occurredAt.getTime() >= from.getTime() && l.occurredAt.getTime() < cutoffAt.getTime(),
    );
    await this.insertPspLines(runId, psp.name, wanted);
    sources.psp = { ...sources.psp, status: 'ok', lines: wanted.length };
  }

  private async insertPspLines(runId: string, psp: string, fetched: PspSettlement[]): Promise<void> {
    // Each transaction id once (a PSP that repeats a line in one answer does not make a duplicate). Short keys, a
    // flag for "the reference is a movement id" and epoch milliseconds keep a million lines cheap to encode and parse.
    const seen = new Set<string>();
    const rows: Record<string, unknown>[] = [];
    for (const l of fetched) {
      if (seen.has(l.pspTransactionId)) continue;
      seen.add(l.pspTransactionId);
      rows.push({
        t: l.pspTransactionId,
        y: l.type,
        s: l.sourceId,
        p: l.pspPaymentId ?? null,
        o: l.pspPayoutId ?? null,
        r: l.merchantReference,
        m: UUID.test(l.merchantReference),
        a: l.amountMinor,
        c: l.currency,
        z: l.status,
        w: l.occurredAt.getTime(),
      });
    }
    const chunks: (typeof rows)[] = [];
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) chunks.push(rows.slice(i, i + INSERT_CHUNK));
    const insert = async (chunk: typeof rows) => {
      const json = JSON.stringify(chunk);
      await this.db.transaction(async (tx) => {
        // Without waiting for the disk at each chunk's commit: the run's last transaction commits synchronously,
        // and PostgreSQL's log is written in order, so these lines are durable once the run is.
        if (this.deps.database.kind === 'postgres') await tx.execute(sql`set local synchronous_commit = off`);
        await tx.execute(sql`insert into recon_psp_lines (run_id, psp, psp_transaction_id, type, source_id,
            psp_payment_id, psp_payout_id, merchant_reference, movement_id, amount_minor, currency, status, occurred_at)
          select ${runId}::uuid, ${psp}::text, u.t, u.y, u.s, u.p, u.o, u.r, case when u.m then lower(u.r)::uuid end,
            u.a, u.c, u.z, to_timestamp(u.w / 1000.0)
          from json_to_recordset(${json}::json) as u(t text, y text, s text, p text, o text, r text, m boolean,
            a bigint, c text, z text, w bigint)`);
      });
    };
    await this.inParallel(chunks, insert);
    if (rows.length > 0) await this.db.execute(sql`analyze recon_psp_lines`);
  }

  /** PostgreSQL takes bulk inserts on a few connections at once; the embedded database has one. */
  private async inParallel<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
    const lanes = this.deps.database.kind === 'postgres' ? 3 : 1;
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(lanes, items.length) }, async () => {
        while (next < items.length) await work(items[next++]!);
      }),
    );
  }

  // --- alerts ------------------------------------------------------------------------------------------------------

  private async alertOnSummary(tx: Executor, date: string, runId: string, summary: RunSummary): Promise<void> {
    const key = `recon:${date}`;
    if (summary.open === 0) {
      await this.deps.alerts.resolve(tx, key, 'system', `the reconciliation of ${date} found no open breaks`);
      return;
    }
    const money = (summary.openByClass.missing_on_server ?? 0) + (summary.openByClass.balance_drift ?? 0);
    const parts = Object.entries(summary.openByClass)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([cls, n]) => `${n} ${cls.replace(/_/g, ' ')}`);
    await this.deps.alerts.raise(tx, {
      kind: 'reconciliation_breaks',
      dedupeKey: key,
      severity: money > 0 ? 'critical' : 'warning',
      title: `reconciliation of ${date}: ${summary.open} open break${summary.open === 1 ? '' : 's'} (${parts.join(', ')}); ${summary.opened + summary.reopened} new`,
      details: { runId, businessDate: date, ...summary },
    });
  }
}
