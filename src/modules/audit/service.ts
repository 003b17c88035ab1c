/**
 * The audit module owns the append-only, hash-chained record of every state change a regulator could ask about:
 * who (client, staff, system, a trading server, a PSP), what, before/after, when, and the operation or request it
 * belongs to. Events are written inside the transaction of the change they describe, so one never exists without the
 * other.
 */
import { asc, desc, gt, sql } from 'drizzle-orm';
import { type Clock, systemClock } from '../../clock.ts';
import type { Executor } from '../../db/connect.ts';
import { auditEvents } from '../../db/schema.ts';
import { eventHash, GENESIS_HASH } from './chain.ts';

export type ActorType = 'client' | 'staff' | 'system' | 'server' | 'psp';

export interface AuditInput {
  actorType: ActorType;
  actorId?: string | null;
  action: string;
  entityType: string;
  entityId: string;
  before?: unknown;
  after?: unknown;
  correlationId?: string | null;
}

export type AuditEvent = typeof auditEvents.$inferSelect;

/** Serialises chain appends across processes for the length of the writing transaction. */
const CHAIN_LOCK = 7_319_002;

/** Plain JSON (dates as ISO strings) so what is hashed is exactly what jsonb stores and gives back. */
function plain(value: unknown): unknown {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}

/**
 * Appends one event. Call it with the transaction that makes the change; it takes a transaction-scoped lock so
 * concurrent writers extend the chain one at a time.
 */
export async function recordAudit(tx: Executor, input: AuditInput, clock: Clock = systemClock): Promise<AuditEvent> {
  await tx.execute(sql`select pg_advisory_xact_lock(${CHAIN_LOCK})`);
  const [last] = await tx.select({ hash: auditEvents.hash }).from(auditEvents).orderBy(desc(auditEvents.id)).limit(1);
  const at = new Date(Math.floor(clock.now().getTime()));
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
  const prevHash = last?.hash ?? GENESIS_HASH;
  const [event] = await tx
    .insert(auditEvents)
    .values({ ...fields, prevHash, hash: eventHash(prevHash, fields) })
    .returning();
  return event!;
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
