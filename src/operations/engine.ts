/**
 * The operations engine: the worker side of ARCHITECTURE §3.
 *
 *   pending ─► in_flight ─► succeeded
 *                 │ definitive ─► failed (+ alert; a transfer's second leg is compensated)
 *                 │ not sent ─► pending, backoff
 *                 └ may have been applied ─► unknown ─► (verify by reference) found ─► succeeded
 *                                                                absent ─► send again
 *   too many attempts or too old ─► needs_review (+ alert)
 *
 * Claiming takes only the first open operation of each trading account (`account_key`, in `seq` order) with
 * SKIP LOCKED, so operations on one account run one at a time and in order while different accounts run in parallel,
 * across any number of worker processes. An `in_flight` row whose lease ran out belonged to a worker that died
 * mid-call: it is claimed again and, like `unknown`, verified on the server before anything is re-sent.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { and, eq, sql } from 'drizzle-orm';
import {
  type Executor,
  executePrepared,
  plannerDefaults,
  plannerSettings,
  preparedQuery,
  prepareOnEveryConnection,
  rowOf,
  type ScriptConnection,
  scriptedTransaction,
} from '../db/connect.ts';
import { GroupCommit } from '../db/group-commit.ts';
import { type OperationStatus, operationAttempts, operations } from '../db/schema.ts';
import { DefinitiveError, isPlatformError, PlatformError, RoutingError } from '../platforms/errors.ts';
import { SecretError } from '../platforms/secrets.ts';
import type { Platform } from '../platforms/types.ts';
import { type BackoffPolicy, backoffDelay, defaultBackoff } from './backoff.ts';
import { enqueueOperation, OPERATIONS_CHANNEL } from './enqueue.ts';
import { type ExecutionContext, type ExecutionResult, kinds, moneyPayload, type OperationSecrets } from './kinds.ts';
import { metrics } from './metrics.ts';
import type { OperationHandler, OperationRow, OperationsDeps } from './ports.ts';

export interface EngineOptions {
  workerId?: string;
  /** Operations processed at the same time by this worker. */
  concurrency?: number;
  /** How long a claimed operation belongs to this worker; must exceed the longest server call. */
  leaseMs?: number;
  /** Attempts after which an operation goes to needs_review. */
  maxAttempts?: number;
  /** Age after which an unfinished operation goes to needs_review. */
  maxAgeMs?: number;
  backoff?: BackoffPolicy;
  /**
   * Delay before verifying an operation that may have been applied. It must exceed the servers' request timeout
   * plus their processing time: a request the client gave up on can still be applied late, and a look-up made before
   * that would find nothing and send it again.
   */
  verifyDelayMs?: number;
  /** Fallback poll for operations whose backoff has elapsed (NOTIFY wakes the worker for new ones). */
  pollMs?: number;
  random?: () => number;
}

/** A claimed operation, with the attempt row the claim already wrote for its first call. */
type ClaimedOperation = OperationRow & { previousStatus: OperationStatus; startedAttemptId?: number };

interface AttemptRecord {
  id: number;
  action: 'post' | 'verify';
  outcome: string;
  code: number | null;
  serverText: string | null;
  reply: unknown;
  durationMs: number;
}

/** An error whose meaning for the lifecycle is decided by its class, with the message an operator should read. */
function describe(err: unknown): Record<string, unknown> {
  if (isPlatformError(err)) return err.toJSON();
  if (err instanceof RoutingError)
    return { name: err.name, class: 'configuration', code: err.code, message: err.message };
  if (err instanceof SecretError) return { name: err.name, class: 'configuration', message: err.message };
  return { name: (err as Error)?.name ?? 'Error', class: 'internal', message: (err as Error)?.message ?? String(err) };
}

/**
 * Claims ready operations (and expired leases) and records the attempt each is about to make: $1 now, $2 the lease's
 * end, $3 this worker, $4 how many at most, $5 the kinds that are verified before they are posted again.
 */
const CLAIM_NAME = 'bd_operation_claim';
const CLAIM_SQL = `
  WITH ready AS (
    SELECT o.id, o.seq, o.status AS previous_status
    FROM operations o
    WHERE o.status IN ('pending', 'unknown') AND o.next_attempt_at <= $1::timestamptz
      AND NOT EXISTS (
        SELECT 1 FROM operations p
        WHERE p.account_key = o.account_key AND p.seq < o.seq
          AND p.status IN ('waiting', 'pending', 'in_flight', 'unknown', 'needs_review'))
    ORDER BY o.seq
    LIMIT $4::int
    FOR UPDATE OF o SKIP LOCKED
  ),
  expired AS (
    SELECT o.id, o.seq, o.status AS previous_status
    FROM operations o
    WHERE o.status = 'in_flight' AND o.lease_until < $1
      AND NOT EXISTS (
        SELECT 1 FROM operations p
        WHERE p.account_key = o.account_key AND p.seq < o.seq
          AND p.status IN ('waiting', 'pending', 'in_flight', 'unknown', 'needs_review'))
    ORDER BY o.lease_until
    LIMIT $4
    FOR UPDATE OF o SKIP LOCKED
  ),
  candidate AS (
    SELECT id, previous_status FROM (SELECT * FROM ready UNION ALL SELECT * FROM expired) c ORDER BY seq LIMIT $4
  ),
  claimed AS (
    UPDATE operations o
    SET status = 'in_flight', lease_until = $2, worker = $3, attempts = o.attempts + 1, updated_at = $1
    FROM candidate c
    WHERE o.id = c.id
    RETURNING o.*, c.previous_status
  ),
  logged AS (
    INSERT INTO operation_attempts
      (operation_id, reference, attempt, action, server_code, login, request, outcome, started_at, duration_ms, worker)
    SELECT id, reference, attempts, a.action, server_code, login,
           jsonb_strip_nulls(jsonb_build_object(
             'call', CASE WHEN a.action = 'verify' THEN 'findByReference' ELSE kind END,
             'server', server_code, 'login', login, 'reference', reference,
             'payload', CASE WHEN a.action = 'post' THEN payload END)),
           'started', $1, 0, $3
    FROM claimed,
         LATERAL (SELECT CASE WHEN previous_status IN ('unknown', 'in_flight') AND kind = ANY($5::text[])
                              THEN 'verify' ELSE 'post' END AS action) a
    RETURNING id, operation_id
  )
  SELECT claimed.*, logged.id AS attempt_id
  FROM claimed JOIN logged ON logged.operation_id = claimed.id`;
prepareOnEveryConnection(CLAIM_NAME, CLAIM_SQL);
/**
 * The claim's plan must walk operations_ready_idx in seq order and stop after $4, probing
 * operations_open_by_account_idx per candidate, however the table looks: the statistics of a queue that fills by
 * thousands between two autovacuum analyses describe an empty table, and the plan made from them (a sequential scan
 * per candidate) took 121 ms per claim at 2 000 queued operations instead of 0.1 ms. Both plans' costs were measured
 * (EXPLAIN ANALYZE); the statement uses indexes only, so nothing else is lost by switching these scans off for it.
 */
const CLAIM_PLANNER = { enable_seqscan: 'off', enable_bitmapscan: 'off' };

/** An operations row as a raw statement returns it. */
const operationFromRow = (raw: Record<string, unknown>): OperationRow => rowOf(operations, raw);

/**
 * How an operation ends, in one statement: the attempts' outcomes ($1, a JSON array), the row itself, only while this
 * worker ($10) still holds it, and on success the legs waiting for it, released with the NOTIFY ($11) that wakes the
 * workers for them. Answers the ended row (none: the lease was lost).
 */
const FINISH_NAME = 'bd_operation_finish';
const FINISH_SQL = `
  with saved as (
    update operation_attempts a
    set action = x.action, outcome = x.outcome, code = x.code, server_text = x.server_text, reply = x.reply,
        duration_ms = x.duration_ms
    from jsonb_to_recordset($1::jsonb)
         as x(id bigint, action text, outcome text, code integer, server_text text, reply jsonb, duration_ms integer)
    where a.id = x.id
    returning a.id
  ), done as (
    update operations
    set status = $2, result = $3::jsonb, ticket = $4, last_error = $5::jsonb, login = $6::bigint, lease_until = null,
        finished_at = $7::timestamptz, sealed_secret = $8, updated_at = $7::timestamptz
    where id = $9::uuid and worker = $10 and status = 'in_flight'
    returning *
  ), released as (
    update operations d
    set status = 'pending', next_attempt_at = $7::timestamptz, updated_at = $7::timestamptz
    from done
    where done.status = 'succeeded' and d.depends_on = done.id and d.status = 'waiting'
    returning d.id
  )
  select done.*, (select count(*) from (select pg_notify($11, '') from released limit 1) n) as released
  from done`;

/**
 * The finish's update of operation_attempts joins the attempts it is given to the table by id: the plan must look
 * each one up by its primary key. A plan made from the statistics of a table that was small when the statement was
 * first run hash-joins a scan of the whole table instead, and stays cached while the table grows (in the deposits
 * benchmark, a sequential scan of every attempt so far at each finish: 0.3 ms at 1 650 attempts, growing with them).
 * Every plan of the statement is therefore made with these scans and joins off (`plannerSettings`).
 */
const FINISH_PLANNER = { enable_seqscan: 'off', enable_hashjoin: 'off', enable_mergejoin: 'off' };

/**
 * Operation ends committed together at most (`finish`, a `GroupCommit`: one transaction at a time). Measured on the
 * deposits benchmark against 8 together with two transactions at once (which only queued at the audit chain's lock):
 * 271–280 deposits/s against 261–268, with 0.2 ms less PostgreSQL CPU and 0.1 ms less worker CPU per deposit.
 */
const FINISH_BATCH = 16;

/** An operation's end waiting for its transaction. */
interface PendingEnd {
  op: ClaimedOperation;
  status: 'succeeded' | 'failed';
  outcome: { result?: ExecutionResult; error?: Record<string, unknown>; attempts: AttemptRecord[] };
}

/** A jsonb parameter: JSON text, or SQL NULL for nothing. */
const json = (value: unknown) => (value === undefined || value === null ? null : JSON.stringify(value));

/** An attempt's columns as the finishing statement reads them (jsonb_to_recordset). */
function attemptColumns(a: AttemptRecord) {
  return {
    id: a.id,
    action: a.action,
    outcome: a.outcome,
    code: a.code,
    server_text: a.serverText,
    reply: a.reply ?? null,
    duration_ms: a.durationMs,
  };
}

export class OperationsEngine {
  readonly workerId: string;
  private readonly options: Required<Omit<EngineOptions, 'workerId'>>;
  private readonly active = new Set<Promise<void>>();
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private unlisten: (() => Promise<void>) | null = null;

  constructor(
    private readonly deps: OperationsDeps,
    options: EngineOptions = {},
  ) {
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.options = {
      concurrency: options.concurrency ?? 16,
      leaseMs: options.leaseMs ?? 120_000,
      maxAttempts: options.maxAttempts ?? 10,
      maxAgeMs: options.maxAgeMs ?? 6 * 3600_000,
      backoff: options.backoff ?? defaultBackoff,
      verifyDelayMs: options.verifyDelayMs ?? 30_000,
      pollMs: options.pollMs ?? 500,
      random: options.random ?? Math.random,
    };
  }

  // --- running ----------------------------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.unlisten = await this.deps.database.listen(OPERATIONS_CHANNEL, () => this.wake?.());
    this.loop = this.run();
  }

  /** Stops claiming, lets the operations in hand finish, and returns. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await Promise.allSettled(this.active);
    await this.unlisten?.();
    this.unlisten = null;
  }

  private async run(): Promise<void> {
    // While operations are in hand, a claim waits until a quarter of the slots are free: under a backlog every
    // finished operation would otherwise cost a claim of its own (a round trip and an index walk for one row). An
    // idle or lightly loaded worker still claims at once.
    const batchFloor = Math.max(1, Math.floor(this.options.concurrency / 4));
    while (this.running) {
      let claimed = 0;
      const free = this.options.concurrency - this.active.size;
      const wanted = this.active.size === 0 ? 1 : batchFloor;
      if (free >= wanted) {
        try {
          const batch = await this.claim(free);
          claimed = batch.length;
          for (const op of batch) this.track(this.process(op));
        } catch (err) {
          this.deps.logger?.error({ err: (err as Error).message }, 'claiming operations failed');
        }
      }
      // Fewer than asked for: nothing else is ready now (a NOTIFY, a finished operation or the poll wakes it).
      if (claimed < free || this.options.concurrency - this.active.size < batchFloor) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.pollMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
      }
    }
  }

  private track(work: Promise<void>): void {
    const tracked = work
      .catch((err) => this.deps.logger?.error({ err: (err as Error).message }, 'operation processing failed'))
      .finally(() => {
        this.active.delete(tracked);
        this.wake?.();
      });
    this.active.add(tracked);
  }

  /** Claims and processes whatever is ready now, once (for tests and the CLI). Returns how many were processed. */
  async runOnce(limit = this.options.concurrency): Promise<number> {
    const batch = await this.claim(limit);
    await Promise.all(batch.map((op) => this.process(op)));
    return batch.length;
  }

  /** Runs until nothing is ready (every operation finished, or waiting for a backoff that has not elapsed). */
  async drain(maxRounds = 1000): Promise<void> {
    for (let i = 0; i < maxRounds; i++) if ((await this.runOnce()) === 0) return;
  }

  // --- claiming ---------------------------------------------------------------------------------------------------

  async claim(limit: number): Promise<ClaimedOperation[]> {
    const now = this.deps.clock.now();
    const leaseUntil = new Date(now.getTime() + this.options.leaseMs);
    const verifiable = Object.entries(kinds)
      .filter(([, k]) => !k.idempotent && k.verify)
      .map(([name]) => name);
    // One statement claims the operations and records the attempt each is about to make, so the "started" row
    // exists before any call leaves and costs no commit of its own. Ready operations and expired leases are found
    // apart, each through its own partial index (operations_ready_idx in seq order, operations_lease_idx): one
    // condition with OR between them let the cached generic plan walk the whole table in seq order, filtering out
    // every finished operation on each claim (3 248 buffers per claim at 2 150 operations; now ~13).
    // Expired leases locked here but not claimed (more than `limit` of both kinds) are unlocked when it ends.
    // Planned with sequential and bitmap scans off (CLAIM_PLANNER), the cached plan included.
    const rows = await this.deps.database.queryPlanned<
      Record<string, unknown> & { previous_status: OperationStatus; attempt_id: string | number }
    >(CLAIM_NAME, CLAIM_SQL, [now, leaseUntil, this.workerId, limit, verifiable], CLAIM_PLANNER);
    return rows
      .map((r) => ({
        ...operationFromRow(r),
        previousStatus: r.previous_status,
        startedAttemptId: Number(r.attempt_id),
      }))
      .sort((a, b) => a.seq - b.seq);
  }

  // --- processing -------------------------------------------------------------------------------------------------

  private context(op: OperationRow): ExecutionContext {
    return {
      reference: op.reference,
      login: op.login,
      payload: op.payload,
      secrets: op.sealedSecret ? this.deps.sealer.unseal<OperationSecrets>(op.sealedSecret) : null,
      createdAt: op.createdAt,
    };
  }

  /** What the attempt log shows as sent: the call and its arguments, never a secret. */
  private requestSummary(op: OperationRow, action: 'post' | 'verify'): Record<string, unknown> {
    return {
      call: action === 'verify' ? 'findByReference' : op.kind,
      server: op.serverCode,
      login: op.login,
      reference: op.reference,
      ...(action === 'post' ? { payload: op.payload } : {}),
    };
  }

  private async callWithLog<T>(
    op: ClaimedOperation,
    action: 'post' | 'verify',
    attempts: AttemptRecord[],
    call: () => Promise<T>,
  ): Promise<T> {
    let attemptId: number;
    if (attempts.length === 0 && op.startedAttemptId !== undefined) {
      attemptId = op.startedAttemptId;
    } else {
      // A second call in one processing (a post after a look-up found nothing): written before it leaves, too.
      const [row] = await this.deps.database.db
        .insert(operationAttempts)
        .values({
          operationId: op.id,
          reference: op.reference,
          attempt: op.attempts,
          action,
          serverCode: op.serverCode,
          login: op.login,
          request: this.requestSummary(op, action),
          outcome: 'started',
          startedAt: this.deps.clock.now(),
          durationMs: 0,
          worker: this.workerId,
        })
        .returning({ id: operationAttempts.id });
      attemptId = row!.id;
    }
    const started = performance.now();
    const record: AttemptRecord = {
      id: attemptId,
      action,
      outcome: 'ok',
      code: null,
      serverText: null,
      reply: null,
      durationMs: 0,
    };
    attempts.push(record);
    try {
      const result = await call();
      record.durationMs = Math.round(performance.now() - started);
      record.outcome = action === 'verify' ? (result ? 'found' : 'absent') : 'ok';
      record.reply = result ?? null;
      metrics.attemptDuration.observe(
        { server: op.serverCode, action, outcome: record.outcome },
        record.durationMs / 1000,
      );
      return result;
    } catch (err) {
      record.durationMs = Math.round(performance.now() - started);
      if (err instanceof PlatformError) {
        record.outcome = err.errorClass;
        record.code = err.code;
        record.serverText = err.serverText;
        record.reply = { error: err.message, request: err.request };
      } else {
        record.outcome = 'error';
        record.serverText = (err as Error)?.message ?? String(err);
      }
      metrics.attemptDuration.observe(
        { server: op.serverCode, action, outcome: record.outcome },
        record.durationMs / 1000,
      );
      throw err;
    }
  }

  async process(op: ClaimedOperation): Promise<void> {
    const behaviour = kinds[op.kind];
    const mayHaveBeenApplied = op.previousStatus === 'unknown' || op.previousStatus === 'in_flight';
    const attempts: AttemptRecord[] = [];
    let stage: 'setup' | 'verify' | 'post' = 'setup';
    const started = performance.now();
    try {
      const platform: Platform = await this.deps.platforms.platform(op.serverCode);
      const ctx = this.context(op);
      if (mayHaveBeenApplied && !behaviour.idempotent && behaviour.verify) {
        stage = 'verify';
        const found = await this.callWithLog(op, 'verify', attempts, () => behaviour.verify!(platform, ctx));
        if (found) {
          await this.finish(op, 'succeeded', { result: found, attempts });
          return;
        }
      }
      stage = 'post';
      const result = await this.callWithLog(op, 'post', attempts, () => behaviour.execute(platform, ctx));
      await this.finish(op, 'succeeded', { result, attempts });
    } catch (err) {
      if (stage === 'setup') this.closeUnsentAttempt(op, err, attempts, Math.round(performance.now() - started));
      await this.onFailure(op, err, stage, attempts);
    }
  }

  /**
   * The claim wrote a `started` attempt row before anything was known to fail; when the call never left (routing
   * refused, the server's secret unreadable, no connector), that row is closed with why, so the attempt log shows
   * the reason rather than a call that seems to be still running.
   */
  private closeUnsentAttempt(op: ClaimedOperation, err: unknown, attempts: AttemptRecord[], durationMs: number): void {
    if (op.startedAttemptId === undefined || attempts.length > 0) return;
    const behaviour = kinds[op.kind];
    const mayHaveBeenApplied = op.previousStatus === 'unknown' || op.previousStatus === 'in_flight';
    const platformError = err instanceof PlatformError ? err : null;
    attempts.push({
      id: op.startedAttemptId,
      // As the claim decided it (the same rule as `process`).
      action: mayHaveBeenApplied && !behaviour.idempotent && behaviour.verify ? 'verify' : 'post',
      outcome: platformError ? platformError.errorClass : 'error',
      code: platformError?.code ?? null,
      // As for an error after a call: the reason in words where the attempt log shows the server's text.
      serverText: platformError ? platformError.serverText : ((err as Error)?.message ?? String(err)),
      reply: { error: describe(err), sent: false },
      durationMs,
    });
  }

  private async onFailure(
    op: ClaimedOperation,
    err: unknown,
    stage: 'setup' | 'verify' | 'post',
    attempts: AttemptRecord[],
  ): Promise<void> {
    const behaviour = kinds[op.kind];
    const error = describe(err);
    const mayHaveBeenApplied = op.previousStatus === 'unknown' || op.previousStatus === 'in_flight';
    // Configuration problems (unknown server, unreadable secret) need a person, not retries.
    if (err instanceof RoutingError || err instanceof SecretError) {
      await this.reschedule(op, 'needs_review', error, attempts, 0, `configuration: ${(err as Error).message}`);
      return;
    }
    if (err instanceof DefinitiveError) {
      if (stage === 'post') {
        await this.finish(op, 'failed', { error, attempts });
      } else {
        // A refusal while looking the reference up says nothing about whether the money moved: ask a person.
        await this.reschedule(op, 'needs_review', error, attempts, 0, `verification refused: ${err.message}`);
      }
      return;
    }
    let next: 'pending' | 'unknown';
    let delay: number;
    if (isPlatformError(err) && err.errorClass === 'not_sent') {
      // Nothing reached the server now; whether an earlier attempt did is still open unless we just checked.
      next = stage === 'post' || !mayHaveBeenApplied || behaviour.idempotent ? 'pending' : 'unknown';
      delay = backoffDelay(op.attempts, this.options.backoff, this.options.random);
    } else if (behaviour.idempotent) {
      next = 'pending';
      delay = backoffDelay(op.attempts, this.options.backoff, this.options.random);
    } else if (stage === 'post' || mayHaveBeenApplied) {
      // Ambiguous reply, or an internal error after the call may have left: look it up before sending again.
      next = 'unknown';
      delay =
        stage === 'post'
          ? this.options.verifyDelayMs
          : backoffDelay(op.attempts, this.options.backoff, this.options.random);
    } else {
      next = 'pending';
      delay = backoffDelay(op.attempts, this.options.backoff, this.options.random);
    }
    const age = this.deps.clock.now().getTime() - op.createdAt.getTime();
    if (op.attempts >= this.options.maxAttempts || age >= this.options.maxAgeMs) {
      const why =
        op.attempts >= this.options.maxAttempts
          ? `${op.attempts} attempts`
          : `older than ${Math.round(age / 60000)} min`;
      await this.reschedule(op, 'needs_review', error, attempts, 0, `gave up after ${why}: ${String(error.message)}`);
      return;
    }
    await this.reschedule(op, next, error, attempts, delay);
  }

  // --- state changes ----------------------------------------------------------------------------------------------

  private async saveAttempts(tx: Executor, attempts: AttemptRecord[]): Promise<void> {
    for (const a of attempts) {
      await tx
        .update(operationAttempts)
        .set({
          action: a.action,
          outcome: a.outcome,
          code: a.code,
          serverText: a.serverText,
          reply: a.reply,
          durationMs: a.durationMs,
        })
        .where(eq(operationAttempts.id, a.id));
    }
  }

  /** Updates the row only while this worker still holds it; false = the lease was lost to another worker. */
  private async update(
    tx: Executor,
    op: OperationRow,
    set: Partial<typeof operations.$inferInsert>,
  ): Promise<OperationRow | null> {
    const [row] = await tx
      .update(operations)
      .set({ ...set, updatedAt: this.deps.clock.now() })
      .where(and(eq(operations.id, op.id), eq(operations.worker, this.workerId), eq(operations.status, 'in_flight')))
      .returning();
    return row ?? null;
  }

  private async reschedule(
    op: ClaimedOperation,
    status: 'pending' | 'unknown' | 'needs_review',
    error: Record<string, unknown>,
    attempts: AttemptRecord[],
    delayMs: number,
    reviewReason?: string,
  ): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.database.db.transaction(async (tx) => {
      await this.saveAttempts(tx, attempts);
      const row = await this.update(tx, op, {
        status,
        lastError: error,
        nextAttemptAt: new Date(now.getTime() + delayMs),
        leaseUntil: null,
        worker: null,
      });
      if (!row) return;
      if (status === 'needs_review') {
        await this.deps.alerts.raise(tx, {
          kind: 'operation_needs_review',
          dedupeKey: `operation:${op.id}`,
          severity: 'critical',
          title: `${op.kind} ${op.reference} on ${op.serverCode} needs review: ${reviewReason ?? String(error.message)}`,
          details: { operationId: op.id, reference: op.reference, server: op.serverCode, login: op.login, error },
        });
      }
      if (status !== op.previousStatus && status !== 'pending') {
        await this.deps.audit.record(tx, {
          actorType: 'system',
          actorId: this.workerId,
          action: `operation.${status}`,
          entityType: 'operation',
          entityId: op.id,
          before: { status: op.previousStatus },
          after: { status, error, reason: reviewReason ?? null, attempts: op.attempts },
          correlationId: op.reference,
        });
      }
    });
    metrics.transitions.inc({ kind: op.kind, status });
  }

  /**
   * Ends an operation: its attempts, its row, the receiving handler and the audit, in one transaction. Ends that
   * arrive while another is being committed wait and then go together, up to FINISH_BATCH in one transaction (a
   * group commit: one BEGIN round trip, one chain lock, one COMMIT for all); each keeps its own statements and
   * conditions, and a transaction that fails ends each of its operations again in a transaction of its own, so no
   * operation's trouble holds up another's end.
   */
  private finish(
    op: ClaimedOperation,
    status: 'succeeded' | 'failed',
    outcome: { result?: ExecutionResult; error?: Record<string, unknown>; attempts: AttemptRecord[] },
  ): Promise<void> {
    return this.ends.submit({ op, status, outcome });
  }

  private readonly ends = new GroupCommit<PendingEnd, void>({
    max: FINISH_BATCH,
    commit: async (batch) => {
      await this.endTogether(batch);
      return batch.map(() => undefined);
    },
  });

  /** The statement parameters of FINISH_SQL for one end. */
  private finishParams({ op, status, outcome }: PendingEnd): unknown[] {
    const now = this.deps.clock.now();
    const resultLogin = typeof outcome.result?.login === 'number' ? outcome.result.login : undefined;
    return [
      JSON.stringify(outcome.attempts.map(attemptColumns)),
      status,
      json(outcome.result),
      (outcome.result?.ticket as string | null | undefined) ?? null,
      json(outcome.error),
      op.login ?? resultLogin ?? null,
      now.toISOString(),
      // A failed operation may still be retried by an operator, so it keeps its sealed secret until it succeeds.
      status === 'succeeded' ? null : op.sealedSecret,
      op.id,
      this.workerId,
      OPERATIONS_CHANNEL,
    ];
  }

  private async endTogether(batch: PendingEnd[]): Promise<void> {
    // One statement per end: the attempts' outcomes, the operation's end (only while this worker still holds it),
    // and, on success, the release of the operations waiting for it (with the NOTIFY that wakes the workers for them).
    const params = batch.map((end) => this.finishParams(end));
    const handlers = batch.map(({ op }) => (op.handler ? this.deps.handlers?.[op.handler] : undefined));
    // They go with BEGIN, in one round trip, on a connection where the statement is already prepared (almost always),
    // each followed by the read its receiving handler starts with, if it has one (the first read of a row only).
    let reads: (ReturnType<NonNullable<OperationHandler['opening']>> | undefined)[] = [];
    const opening = (connection: ScriptConnection) => {
      if (!connection.hasPrepared(FINISH_NAME)) return undefined;
      const statements = new Set<string>();
      reads = batch.map(({ op }, i) => {
        const read = handlers[i]?.opening?.(op, connection);
        if (!read || statements.has(read.statement)) return undefined;
        statements.add(read.statement);
        return read;
      });
      return [
        ...plannerSettings(FINISH_PLANNER),
        ...batch.flatMap((_, i) => [
          executePrepared(FINISH_NAME, params[i]!),
          ...(reads[i] ? [reads[i]!.statement] : []),
        ]),
        ...plannerDefaults(FINISH_PLANNER),
      ].join(';\n');
    };
    const settingsCount = Object.keys(FINISH_PLANNER).length;
    await scriptedTransaction(
      this.deps.database.db,
      async (tx, opened) => {
        // Every audit event of this transaction (the receiving modules' too) is appended at the end, in one go.
        this.deps.audit.hold?.(tx);
        const rows: (Record<string, unknown> | undefined)[] = [];
        if (opened.length > 0) {
          let k = settingsCount;
          for (let i = 0; i < batch.length; i++) {
            rows.push(opened[k++]![0]);
            if (reads[i]) reads[i]!.accept(tx, opened[k++]!);
          }
        } else {
          for (const statement of plannerSettings(FINISH_PLANNER)) await tx.execute(sql.raw(statement));
          for (const p of params) rows.push((await preparedQuery(tx, FINISH_NAME, FINISH_SQL, p))[0]);
          for (const statement of plannerDefaults(FINISH_PLANNER)) await tx.execute(sql.raw(statement));
        }
        for (let i = 0; i < batch.length; i++) {
          // No row: this worker no longer holds the operation (its lease ran out); another ends it.
          if (rows[i]) await this.ended(tx, batch[i]!, operationFromRow(rows[i]!));
        }
        // Last: the audit append holds the chain lock until commit (and commits with it, in one round trip).
        await this.deps.audit.flush?.(tx, { commit: true });
      },
      { opening },
    );
    for (const { op, status } of batch) metrics.transitions.inc({ kind: op.kind, status });
  }

  /** What follows an operation's end in the transaction that ends it: alerts, the handler, dependents, the audit. */
  private async ended(tx: Executor, { op, status, outcome }: PendingEnd, row: OperationRow): Promise<void> {
    if (status === 'failed') {
      await this.deps.alerts.raise(tx, {
        kind: 'operation_failed',
        dedupeKey: `operation:${op.id}`,
        severity: 'warning',
        title: `${op.kind} ${op.reference} on ${op.serverCode} failed: ${String(outcome.error?.message ?? '')}`,
        details: {
          operationId: op.id,
          reference: op.reference,
          server: op.serverCode,
          login: op.login,
          error: outcome.error,
        },
      });
    } else if (op.lastError !== null) {
      // Only an operation that went wrong before can have an alert open (raising one always records the error).
      await this.deps.alerts.resolve(tx, `operation:${op.id}`, 'system', 'the operation succeeded');
    }
    await this.afterEnd(tx, row, status, { dependentsReleased: true });
    await this.deps.audit.record(tx, {
      actorType: 'server',
      actorId: op.serverCode,
      action: `operation.${status}`,
      entityType: 'operation',
      entityId: op.id,
      before: { status: op.previousStatus },
      after: { status, result: outcome.result ?? null, error: outcome.error ?? null, attempts: op.attempts },
      correlationId: op.reference,
    });
  }

  /**
   * Delivers the result, releases or cancels dependent legs, and compensates a failed second leg. `dependentsReleased`:
   * the caller's own statement already released the legs waiting for a succeeded operation.
   */
  async afterEnd(
    tx: Executor,
    row: OperationRow,
    status: 'succeeded' | 'failed' | 'cancelled',
    options: { dependentsReleased?: boolean } = {},
  ): Promise<void> {
    if (row.handler) {
      const handler = this.deps.handlers?.[row.handler];
      if (!handler) throw new Error(`no handler "${row.handler}" is registered to receive operation ${row.reference}`);
      await handler(tx, { operation: row, status });
    }
    const now = this.deps.clock.now();
    if (status === 'succeeded') {
      if (options.dependentsReleased) return;
      const released = await tx
        .update(operations)
        .set({ status: 'pending', nextAttemptAt: now, updatedAt: now })
        .where(and(eq(operations.dependsOn, row.id), eq(operations.status, 'waiting')))
        .returning({ id: operations.id });
      if (released.length > 0) await tx.execute(sql`select pg_notify(${OPERATIONS_CHANNEL}, '')`);
    } else {
      const dependents = await tx
        .update(operations)
        .set({ status: 'cancelled', finishedAt: now, updatedAt: now, sealedSecret: null })
        .where(and(eq(operations.dependsOn, row.id), eq(operations.status, 'waiting')))
        .returning();
      for (const dependent of dependents) {
        await this.deps.audit.record(tx, {
          actorType: 'system',
          action: 'operation.cancelled',
          entityType: 'operation',
          entityId: dependent.id,
          after: { status: 'cancelled', reason: `the operation it depends on (${row.reference}) ${status}` },
          correlationId: dependent.reference,
        });
        await this.afterEnd(tx, dependent, 'cancelled');
      }
      if (row.dependsOn) await this.compensate(tx, row);
    }
  }

  /** The second leg of a transfer did not happen: reverse the first leg with its own reference. */
  private async compensate(tx: Executor, failedLeg: OperationRow): Promise<void> {
    const [first] = await tx.select().from(operations).where(eq(operations.id, failedLeg.dependsOn!));
    if (first?.status !== 'succeeded' || (first.kind !== 'balance' && first.kind !== 'credit')) return;
    const payload = moneyPayload.parse(first.payload);
    const compensation = await enqueueOperation(tx, this.deps, {
      kind: first.kind,
      serverCode: first.serverCode,
      login: first.login,
      payload: { ...payload, amount: -payload.amount, note: `reverses ${first.reference.slice(3, 6)}` },
      referenceKind: 'compensation',
      handler: first.handler ?? undefined,
      groupId: first.groupId ?? undefined,
      compensates: first.id,
      correlationId: first.correlationId ?? first.reference,
    });
    await this.deps.alerts.raise(tx, {
      kind: 'transfer_compensated',
      dedupeKey: `compensation:${failedLeg.id}`,
      severity: 'warning',
      title: `transfer leg ${failedLeg.reference} failed; ${first.reference} is being reversed by ${compensation.reference}`,
      details: { failedLeg: failedLeg.id, firstLeg: first.id, compensation: compensation.id },
    });
  }
}
