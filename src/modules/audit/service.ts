/**
 * The audit module owns the append-only, hash-chained record of every state change a regulator could ask about:
 * who (client, staff, system, a trading server, a PSP), what, before/after, when, and the operation or request it
 * belongs to. Events are written inside the transaction of the change they describe, so one never exists without the
 * other.
 */
import { asc, gt, sql } from 'drizzle-orm';
import { type Clock, systemClock } from '../../clock.ts';
import {
  committedByScript,
  type Executor,
  executePrepared,
  sqlLiteral as literal,
  prepareOnEveryConnection,
  runsScripts,
  scriptCommit,
  scriptConnection,
  takeDeferred,
} from '../../db/connect.ts';
import { auditEvents } from '../../db/schema.ts';
import type { AuditEntry } from '../../operations/ports.ts';
import { eventHash, GENESIS_HASH, hashedContent } from './chain.ts';

export type ActorType = AuditEntry['actorType'];

/** One event as a module describes it (the shape the operations engine's audit port uses). */
export type AuditInput = AuditEntry;

export type AuditEvent = typeof auditEvents.$inferSelect;

/** Serialises chain appends across processes for the length of the writing transaction. */
const CHAIN_LOCK = 7_319_002;

/** Plain JSON (dates as ISO strings) so what is hashed is exactly what jsonb stores and gives back. */
function plain(value: unknown): unknown {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}

/** Transactions whose audit events are held back and appended together, last, by `flushAudits`. */
const deferred = new WeakMap<object, { entries: AuditInput[]; clock: Clock }>();

/**
 * Holds back the audit events this transaction records until `flushAudits(tx)`, so the chain lock (held until
 * commit) is taken once, at the very end, instead of at the first change: hot paths (a PSP webhook, an operation
 * finishing) then hold it only for the appends and the commit. The caller must flush before the transaction ends.
 */
export function deferAudits(tx: Executor, clock: Clock = systemClock): void {
  if (!deferred.has(tx)) deferred.set(tx, { entries: [], clock });
}

/**
 * Appends the events held back by `deferAudits`, in the order they were recorded; call it last in the transaction.
 *
 * With `commit: true` it also commits the transaction, in the same round trip as the chain lock and the appends, when
 * the transaction allows it (see `scriptCommit`: the outermost transaction of a PostgreSQL connection), and answers
 * true: the lock, held until commit, is then never held while this process is busy with something else, which is what
 * bounds how many audited transactions per second the whole system can commit. Nothing may use the transaction
 * afterwards (what it ran would be outside the committed work). Answers false when it only appended (PGlite, a nested
 * transaction, nothing held): the wrapper commits as usual. `before`: parameterless statements of the transaction's
 * own (values as literals, results unused) that go first in the same script, before the lock is taken, after the
 * writes the transaction deferred (`deferPrepared`).
 */
export async function flushAudits(
  tx: Executor,
  options: { commit?: boolean; before?: string[] } = {},
): Promise<boolean> {
  const held = deferred.get(tx);
  deferred.delete(tx);
  // The transaction's deferred writes (`deferPrepared`) go first in the same script.
  const before = [...takeDeferred(tx), ...(options.before ?? [])];
  if (!held || held.entries.length === 0) {
    // Nothing to append: the statements still run, and the transaction commits as usual.
    for (const statement of before) await tx.execute(sql.raw(statement));
    return false;
  }
  const commit = options.commit === true ? scriptCommit(tx) : null;
  await appendChained(tx, held.entries, held.clock, commit, before);
  if (commit === 'final') committedByScript(tx);
  return commit !== null;
}

/**
 * Appends one event. Call it with the transaction that makes the change, as late in it as possible: it takes a
 * transaction-scoped lock (held until commit) so concurrent writers extend the chain one at a time. In a
 * transaction under `deferAudits` the event is held back and appended by `flushAudits` (and null is returned).
 */
export async function recordAudit(
  tx: Executor,
  input: AuditInput,
  clock: Clock = systemClock,
): Promise<AuditEvent | null> {
  const held = deferred.get(tx);
  if (held) {
    // The time of the change, not of the flush.
    held.entries.push({ ...input, at: clock.now() } as AuditInput);
    return null;
  }
  const [event] = await appendChained(tx, [input], clock);
  return event!;
}

type Fields = Omit<AuditEvent, 'id' | 'prevHash' | 'hash'>;

function fieldsOf(input: AuditInput, clock: Clock): Fields {
  const recordedAt = (input as AuditInput & { at?: Date }).at ?? clock.now();
  return {
    at: new Date(Math.floor(recordedAt.getTime())),
    actorType: input.actorType,
    actorId: input.actorId ?? null,
    action: input.action,
    entityType: input.entityType,
    entityId: input.entityId,
    before: plain(input.before),
    after: plain(input.after),
    correlationId: input.correlationId ?? null,
  };
}

/**
 * The INSERT of one event: it reads the previous hash and computes the new one in the database (sha256 over
 * "<prev>\n<canonical JSON>", exactly what `eventHash` computes). It must run after the chain lock is held, as a
 * statement of its own: under READ COMMITTED its snapshot then sees the event the previous holder committed (and this
 * transaction's own earlier appends). Values are literals so that several of these can go in one script.
 */
function insertStatement(fields: Fields): string {
  return `insert into audit_events
      (at, actor_type, actor_id, action, entity_type, entity_id, before, after, correlation_id, prev_hash, hash)
    select ${literal(fields.at.toISOString())}::timestamptz, ${literal(fields.actorType)}, ${literal(fields.actorId)},
           ${literal(fields.action)}, ${literal(fields.entityType)}, ${literal(fields.entityId)},
           ${literal(JSON.stringify(fields.before))}::jsonb, ${literal(JSON.stringify(fields.after))}::jsonb,
           ${literal(fields.correlationId)}, prev.hash,
           encode(sha256(convert_to(prev.hash || chr(10) || ${literal(hashedContent(fields))}, 'UTF8')), 'hex')
    from (select coalesce((select hash from audit_events order by id desc limit 1), '${GENESIS_HASH}') as hash) prev
    returning id, prev_hash, hash`;
}

/** insertStatement as a statement every pooled connection prepares, run as `execute` (no parsing or planning). */
const APPEND_NAME = 'bd_audit_append';
prepareOnEveryConnection(
  APPEND_NAME,
  `insert into audit_events
      (at, actor_type, actor_id, action, entity_type, entity_id, before, after, correlation_id, prev_hash, hash)
    select $1::timestamptz, $2::text, $3::text, $4::text, $5::text, $6::text, $7::jsonb, $8::jsonb, $9::text,
           prev.hash, encode(sha256(convert_to(prev.hash || chr(10) || $10::text, 'UTF8')), 'hex')
    from (select coalesce((select hash from audit_events order by id desc limit 1), '${GENESIS_HASH}') as hash) prev
    returning id, prev_hash, hash`,
);

/** The chain lock, prepared on every connection too (a SELECT sent as text is parsed and planned each time). */
const LOCK_NAME = 'bd_audit_chain_lock';
const LOCK_SQL = `select pg_advisory_xact_lock(${CHAIN_LOCK})`;
prepareOnEveryConnection(LOCK_NAME, LOCK_SQL);

/** The same INSERT as insertStatement, by `execute` of the prepared statement (same snapshot rules). */
function executeAppend(fields: Fields): string {
  return executePrepared(APPEND_NAME, [
    fields.at.toISOString(),
    fields.actorType,
    fields.actorId,
    fields.action,
    fields.entityType,
    fields.entityId,
    JSON.stringify(fields.before),
    JSON.stringify(fields.after),
    fields.correlationId,
    hashedContent(fields),
  ]);
}

type AppendedRow = { id: number | string; prev_hash: string; hash: string };

/**
 * Takes the chain lock and appends the events, in order. The lock is held until commit, so the time from taking it
 * to the end of the transaction bounds how many transactions per second can write audit events at all. On
 * PostgreSQL the lock and every INSERT therefore go as one script in one round trip (simple query protocol: each
 * statement still gets its own snapshot, and the script runs inside the caller's transaction); the holder then
 * waits on this process only once, for its COMMIT, however many events it appends. PGlite has one connection and no
 * such wait: the statements go one by one.
 */
async function appendChained(
  tx: Executor,
  inputs: AuditInput[],
  clock: Clock,
  commit: 'final' | 'chained' | null = null,
  before: string[] = [],
): Promise<AuditEvent[]> {
  const all = inputs.map((input) => fieldsOf(input, clock));
  let rows: AppendedRow[];
  if (runsScripts(tx)) {
    const end = commit === 'final' ? ['commit'] : commit === 'chained' ? ['commit', 'begin'] : [];
    // Committing here: the deferred constraint checks (the ledger's zero-sum triggers) run before the lock is taken,
    // not inside COMMIT while it is held. They still refuse the transaction, just one statement earlier.
    const checks = end.length > 0 ? ['set constraints all immediate'] : [];
    const prepared = scriptConnection(tx);
    const append = prepared?.hasPrepared(APPEND_NAME) ? executeAppend : insertStatement;
    const lock = prepared?.hasPrepared(LOCK_NAME) ? executePrepared(LOCK_NAME, []) : LOCK_SQL;
    const script = [...before, ...checks, lock, ...all.map(append), ...end].join(';\n');
    const results = (await tx.execute(sql.raw(script))) as unknown as { rows: AppendedRow[] }[];
    const first = before.length + checks.length + 1;
    rows = results.slice(first, first + all.length).map((r) => r.rows[0]!);
  } else {
    for (const statement of before) await tx.execute(sql.raw(statement));
    await tx.execute(sql.raw(LOCK_SQL));
    rows = [];
    for (const fields of all) {
      const result = (await tx.execute(sql.raw(insertStatement(fields)))) as unknown as { rows: AppendedRow[] };
      rows.push(result.rows[0]!);
    }
  }
  return all.map((fields, i) => ({
    id: Number(rows[i]!.id),
    ...fields,
    prevHash: rows[i]!.prev_hash,
    hash: rows[i]!.hash,
  }));
}

export interface ChainReport {
  ok: boolean;
  checked: number;
  /** The first event whose link is broken, and why. */
  brokenAt?: { id: number; reason: string };
}

/** Walks the whole chain in order and reports the first broken link. */
export async function verifyAuditChain(
  db: Executor,
  options: { batchSize?: number; onProgress?: (checked: number) => void } = {},
): Promise<ChainReport> {
  const batchSize = options.batchSize ?? 5000;
  let prevHash = GENESIS_HASH;
  let lastId = 0;
  let checked = 0;
  for (;;) {
    const rows = await db
      .select()
      .from(auditEvents)
      .where(gt(auditEvents.id, lastId))
      .orderBy(asc(auditEvents.id))
      .limit(batchSize);
    if (rows.length === 0) return { ok: true, checked };
    for (const row of rows) {
      if (row.prevHash !== prevHash) {
        return {
          ok: false,
          checked,
          brokenAt: {
            id: row.id,
            reason: 'its prev_hash does not match the event before it (an event was removed or inserted)',
          },
        };
      }
      if (eventHash(prevHash, row) !== row.hash) {
        return {
          ok: false,
          checked,
          brokenAt: { id: row.id, reason: 'its content does not match its hash (the event was altered)' },
        };
      }
      prevHash = row.hash;
      lastId = row.id;
      checked += 1;
    }
    options.onProgress?.(checked);
  }
}
