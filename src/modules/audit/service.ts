/**
 * The audit module owns the append-only, hash-chained record of every state change a regulator could ask about:
 * who (client, staff, system, a trading server, a PSP), what, before/after, when, and the operation or request it
 * belongs to. Events are written inside the transaction of the change they describe, so one never exists without the
 * other.
 */
import { asc, gt, sql } from 'drizzle-orm';
import { type Clock, systemClock } from '../../clock.ts';
import type { Executor } from '../../db/connect.ts';
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

/** Appends the events held back by `deferAudits`, in the order they were recorded; call it last in the transaction. */
export async function flushAudits(tx: Executor): Promise<void> {
  const held = deferred.get(tx);
  if (!held) return;
  deferred.delete(tx);
  if (held.entries.length === 0) return;
  await tx.execute(sql`select pg_advisory_xact_lock(${CHAIN_LOCK})`);
  for (const entry of held.entries) await appendLocked(tx, entry, held.clock);
}

/**
 * Appends one event. Call it with the transaction that makes the change, as late in it as possible: it takes a
 * transaction-scoped lock (held until commit) so concurrent writers extend the chain one at a time. In a
 * transaction under `deferAudits` the event is held back and appended by `flushAudits` (and null is returned).
 *
 * Two statements: the lock, then an INSERT … SELECT that reads the previous hash and computes the new one in the
 * database (sha256 over "<prev>\n<canonical JSON>", exactly what `eventHash` computes). The INSERT runs after the lock
 * is held, so under READ COMMITTED its snapshot sees the event the previous holder committed.
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
  await tx.execute(sql`select pg_advisory_xact_lock(${CHAIN_LOCK})`);
  return appendLocked(tx, input, clock);
}

async function appendLocked(tx: Executor, input: AuditInput, clock: Clock): Promise<AuditEvent> {
  const recordedAt = (input as AuditInput & { at?: Date }).at ?? clock.now();
  const at = new Date(Math.floor(recordedAt.getTime()));
  const fields = {
    at,
    actorType: input.actorType,
    actorId: input.actorId ?? null,
    action: input.action,
    entityType: input.entityType,
    entityId: input.entityId,
    before: plain(input.before),
    after: plain(input.after),
    correlationId: input.correlationId ?? null,
  };
  const result = await tx.execute(sql`
    insert into audit_events
      (at, actor_type, actor_id, action, entity_type, entity_id, before, after, correlation_id, prev_hash, hash)
    select ${at.toISOString()}::timestamptz, ${fields.actorType}, ${fields.actorId}, ${fields.action}, ${fields.entityType},
           ${fields.entityId}, ${JSON.stringify(fields.before)}::jsonb, ${JSON.stringify(fields.after)}::jsonb,
           ${fields.correlationId}, prev.hash,
           encode(sha256(convert_to(prev.hash || chr(10) || ${hashedContent(fields)}, 'UTF8')), 'hex')
    from (select coalesce((select hash from audit_events order by id desc limit 1), ${GENESIS_HASH}) as hash) prev
    returning id, prev_hash, hash`);
  const row = (result as unknown as { rows: { id: number | string; prev_hash: string; hash: string }[] }).rows[0]!;
  return { id: Number(row.id), ...fields, prevHash: row.prev_hash, hash: row.hash };
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
