/**
 * Money movements and their timeline: loading and locking a movement, moving it from one status to another (only
 * along the transitions this file allows), and writing the timeline event and audit event of each change in the
 * same transaction.
 */
import { getTableColumns } from 'drizzle-orm';
import type { Clock } from '../../clock.ts';
import {
  deferPrepared,
  type Executor,
  executePrepared,
  preparedQuery,
  rowOf,
  type ScriptConnection,
} from '../../db/connect.ts';
import { type MoneyMovementStatus, moneyMovements, movementEvents } from '../../db/schema.ts';
import type { AuditPort } from '../../operations/ports.ts';
import { movementNotFound } from './errors.ts';

export type Movement = typeof moneyMovements.$inferSelect;

const movementColumns = getTableColumns(moneyMovements);
export type EventSource = (typeof movementEvents.$inferInsert)['source'];

export interface TimelineNote {
  source: EventSource;
  type: string;
  /** Plain words, as the client will read them. */
  message: string;
  details?: Record<string, unknown>;
  internal?: boolean;
}

const LOCK_NAME = 'bd_movement_lock';
const LOCK_SQL = 'select * from money_movements where id = $1 for update';

/** Movements a transaction's opening script already locked and read (`lockInOpening`), each until it is asked for. */
const lockedInOpening = new WeakMap<object, Map<string, Record<string, unknown> | null>>();

/**
 * The lock-and-read of `findLockedMovement` as a statement for a transaction's opening script (it then goes with
 * BEGIN), on a connection where it is prepared (else undefined: it is made when asked for); `accept` hands its rows
 * to the transaction, where the next `findLockedMovement` of that id takes them instead of asking again.
 */
export function lockInOpening(
  connection: ScriptConnection,
  id: string,
): { statement: string; accept(tx: Executor, rows: Record<string, unknown>[]): void } | undefined {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return undefined;
  if (!connection.hasPrepared(LOCK_NAME)) return undefined;
  return {
    statement: executePrepared(LOCK_NAME, [id]),
    accept(tx, rows) {
      let locked = lockedInOpening.get(tx);
      if (!locked) {
        locked = new Map();
        lockedInOpening.set(tx, locked);
      }
      locked.set(id, rows[0] ?? null);
    },
  };
}

/** Locks a movement (FOR UPDATE) and reads it; null when there is none. One prepared statement (a hot path). */
export async function findLockedMovement(tx: Executor, id: string): Promise<Movement | null> {
  // Locked and read by the transaction's opening script, and nothing since then in it has changed the row.
  const opened = lockedInOpening.get(tx);
  if (opened?.has(id)) {
    const raw = opened.get(id)!;
    opened.delete(id);
    return raw ? rowOf(moneyMovements, raw) : null;
  }
  const [raw] = await preparedQuery(tx, LOCK_NAME, LOCK_SQL, [id]);
  return raw ? rowOf(moneyMovements, raw) : null;
}

export async function lockMovement(tx: Executor, id: string, clientId?: string): Promise<Movement> {
  const row = await findLockedMovement(tx, id);
  if (!row || (clientId !== undefined && row.clientId !== clientId)) throw movementNotFound(id);
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

export interface Actor {
  type: 'client' | 'staff' | 'system' | 'psp' | 'server';
  id: string | null;
}

/**
 * Moves a locked movement from one of `from` to `to`, with the other column changes, a timeline note and an audit
 * event. Returns null (and changes nothing) when the movement is not in one of `from`: callers decide whether that
 * is a refusal or a stale event to ignore. `movement` must be the row as locked in this transaction (and as changed
 * since by it): the movement returned is that row with the change applied.
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
  // The status change and its timeline note in one prepared statement (the note's INSERT as a CTE); its text
  // depends only on which columns change, so each kind of transition is planned once per connection.
  const set: [string, unknown][] = Object.entries(change.set ?? {})
    .filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const note = change.note;
  const noteValues = [
    param(movement.id),
    `${param(now.toISOString())}::timestamptz`,
    param(note.source),
    param(note.type),
    param(note.message),
    `${param(note.details == null ? null : JSON.stringify(note.details))}::jsonb`,
    param(note.internal ?? false),
  ];
  const assignments = [
    ...set.map(([key, value]) => {
      const column = movementColumns[key as keyof typeof movementColumns];
      if (!column) throw new Error(`transition: money_movements has no column ${key}`);
      return `"${column.name}" = ${param(value === null ? null : column.mapToDriverValue(value))}`;
    }),
    `status = ${param(change.to)}`,
    `updated_at = ${noteValues[1]}`,
    ...(terminal ? [`completed_at = ${noteValues[1]}`] : []),
  ];
  const text = `with noted as (
      insert into movement_events (movement_id, at, source, type, message, details, internal)
      values (${noteValues.join(', ')})
    )
    update money_movements set ${assignments.join(', ')} where id = ${param(movement.id)}`;
  // Nothing is read back: the row is locked and known, so what it becomes is known too, and the write can go with
  // the transaction's next round trip (in a webhook or an operation's end, its last script).
  await deferPrepared(
    tx,
    `bd_movement_set:${terminal ? 'final' : 'open'}:${set.map(([key]) => key).join(',')}`,
    text,
    params,
  );
  const after: Movement = {
    ...movement,
    ...(Object.fromEntries(set) as Partial<Movement>),
    status: change.to,
    updatedAt: now,
    ...(terminal ? { completedAt: now } : {}),
  };
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
  return after;
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
