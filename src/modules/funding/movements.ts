/**
 * Money movements and their timeline: loading and locking a movement, moving it from one status to another (only
 * along the transitions this file allows), and writing the timeline event and audit event of each change in the
 * same transaction.
 */
import { and, eq, type SQL, sql } from 'drizzle-orm';
import type { Clock } from '../../clock.ts';
import type { Executor } from '../../db/connect.ts';
import { type MoneyMovementStatus, moneyMovements, movementEvents } from '../../db/schema.ts';
import type { AuditPort } from '../../operations/ports.ts';
import { movementNotFound } from './errors.ts';

export type Movement = typeof moneyMovements.$inferSelect;
export type EventSource = (typeof movementEvents.$inferInsert)['source'];

export interface TimelineNote {
  source: EventSource;
  type: string;
  /** Plain words, as the client will read them. */
  message: string;
  details?: Record<string, unknown>;
  internal?: boolean;
}

export async function lockMovement(tx: Executor, id: string, clientId?: string): Promise<Movement> {
  const [row] = await tx
    .select()
    .from(moneyMovements)
    .where(clientId ? and(eq(moneyMovements.id, id), eq(moneyMovements.clientId, clientId)) : eq(moneyMovements.id, id))
    .for('update');
  if (!row) throw movementNotFound(id);
  return row;
}

export async function noteMovement(tx: Executor, clock: Clock, movementId: string, note: TimelineNote): Promise<void> {
  await tx.insert(movementEvents).values({
    movementId,
    at: clock.now(),
    source: note.source,
    type: note.type,
    message: note.message,
    details: note.details ?? null,
    internal: note.internal ?? false,
  });
}

/** The INSERT of a timeline note, for a statement that writes it along with something else. */
function noteInsert(movementId: string, at: Date, note: TimelineNote): SQL {
  const details = note.details ?? null;
  return sql`insert into ${movementEvents} (movement_id, at, source, type, message, details, internal)
    values (${movementId}, ${at.toISOString()}::timestamptz, ${note.source}, ${note.type}, ${note.message},
            ${details === null ? null : JSON.stringify(details)}::jsonb, ${note.internal ?? false})`;
}

export interface Actor {
  type: 'client' | 'staff' | 'system' | 'psp' | 'server';
  id: string | null;
}

/**
 * Moves a locked movement from one of `from` to `to`, with the other column changes, a timeline note and an audit
 * event. Returns null (and changes nothing) when the movement is not in one of `from`: callers decide whether that
 * is a refusal or a stale event to ignore.
 */
export async function transition(
  tx: Executor,
  deps: { clock: Clock; audit: AuditPort },
  movement: Movement,
  change: {
    from: readonly MoneyMovementStatus[];
    to: MoneyMovementStatus;
    set?: Partial<typeof moneyMovements.$inferInsert>;
    note: TimelineNote;
    actor: Actor;
    correlationId?: string | null;
  },
): Promise<Movement | null> {
  if (!change.from.includes(movement.status)) return null;
  const now = deps.clock.now();
  const terminal = finalStatuses.has(change.to);
  // The status change and its timeline note in one statement (the note's INSERT as a CTE).
  const noted = tx.$with('noted', {}).as(noteInsert(movement.id, now, change.note));
  const [after] = await tx
    .with(noted)
    .update(moneyMovements)
    .set({ ...change.set, status: change.to, updatedAt: now, ...(terminal ? { completedAt: now } : {}) })
    .where(eq(moneyMovements.id, movement.id))
    .returning();
  await deps.audit.record(tx, {
    actorType: change.actor.type,
    actorId: change.actor.id,
    action: `${movement.kind}.${change.to}`,
    entityType: 'money_movement',
    entityId: movement.id,
    before: { status: movement.status },
    after: { status: change.to, ...change.set, note: change.note.type },
    correlationId: change.correlationId ?? movement.id,
  });
  return after!;
}

export const finalStatuses = new Set<MoneyMovementStatus>([
  'payment_failed',
  'posted',
  'completed',
  'returned',
  'refunded',
  'charged_back',
  'rejected',
  'cancelled',
  'failed',
]);

/** Minor units as the client reads them: 2000.00 USD (the currency's digits, default 2). */
export function formatMoney(amountMinor: number, currency: string, digits = 2): string {
  const sign = amountMinor < 0 ? '-' : '';
  const abs = Math.abs(amountMinor);
  if (digits === 0) return `${sign}${abs} ${currency}`;
  const s = String(abs).padStart(digits + 1, '0');
  return `${sign}${s.slice(0, -digits)}.${s.slice(-digits)} ${currency}`;
}
