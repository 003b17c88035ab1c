/**
 * What an operator may do to an operation: retry one that is `needs_review` or `failed` with the SAME reference
 * (it is looked up on the server first, so a retry can never double a posting), or cancel one that has not
 * reached the server with a reason. Both are audited; a succeeded operation can be neither.
 */
import { eq, sql } from 'drizzle-orm';
import { operations } from '../db/schema.ts';
import type { OperationsEngine } from './engine.ts';
import { OPERATIONS_CHANNEL } from './enqueue.ts';
import { kinds } from './kinds.ts';
import type { OperationRow, OperationsDeps } from './ports.ts';

export class OperationStateError extends Error {
  override readonly name = 'OperationStateError';
  constructor(
    readonly code: 'OPERATION_NOT_FOUND' | 'OPERATION_NOT_RETRYABLE' | 'OPERATION_NOT_CANCELLABLE',
    message: string,
  ) {
    super(message);
  }
}

type AdminDeps = Pick<OperationsDeps, 'database' | 'clock' | 'audit' | 'alerts'>;

async function lockOperation(
  tx: Parameters<Parameters<AdminDeps['database']['db']['transaction']>[0]>[0],
  id: string,
): Promise<OperationRow> {
  const [op] = await tx.select().from(operations).where(eq(operations.id, id)).for('update');
  if (!op) throw new OperationStateError('OPERATION_NOT_FOUND', `no operation ${id}`);
  return op;
}

export async function retryOperation(deps: AdminDeps, id: string, by: string): Promise<OperationRow> {
  return deps.database.db.transaction(async (tx) => {
    const op = await lockOperation(tx, id);
    if (op.status !== 'needs_review' && op.status !== 'failed') {
      throw new OperationStateError(
        'OPERATION_NOT_RETRYABLE',
        `operation ${op.reference} is ${op.status}: only needs_review or failed operations can be retried`,
      );
    }
    const now = deps.clock.now();
    // Verification first: the earlier attempts may have reached the server.
    const status = kinds[op.kind].idempotent ? 'pending' : 'unknown';
    const [row] = await tx
      .update(operations)
      .set({
        status,
        attempts: 0,
        nextAttemptAt: now,
        worker: null,
        leaseUntil: null,
        finishedAt: null,
        updatedAt: now,
      })
      .where(eq(operations.id, id))
      .returning();
    await deps.audit.record(tx, {
      actorType: 'staff',
      actorId: by,
      action: 'operation.retry_requested',
      entityType: 'operation',
      entityId: id,
      before: { status: op.status, attempts: op.attempts },
      after: { status, reference: op.reference },
      correlationId: op.reference,
    });
    await tx.execute(sql`select pg_notify(${OPERATIONS_CHANNEL}, '')`);
    return row!;
  });
}

/**
 * Cancels an operation that has not reached the server (pending, waiting), or that an operator has checked
 * (needs_review, failed). The module that asked for it is told, dependent legs are cancelled, and a transfer's first
 * leg is compensated, all in one transaction.
 */
export async function cancelOperation(
  deps: AdminDeps,
  engine: Pick<OperationsEngine, 'afterEnd'>,
  id: string,
  by: string,
  reason: string,
): Promise<OperationRow> {
  if (reason.trim().length < 3)
    throw new OperationStateError('OPERATION_NOT_CANCELLABLE', 'a cancellation needs a reason');
  return deps.database.db.transaction(async (tx) => {
    const op = await lockOperation(tx, id);
    if (!['pending', 'waiting', 'needs_review', 'failed'].includes(op.status)) {
      throw new OperationStateError(
        'OPERATION_NOT_CANCELLABLE',
        `operation ${op.reference} is ${op.status}: only pending, waiting, needs_review or failed operations can be cancelled`,
      );
    }
    const now = deps.clock.now();
    const [row] = await tx
      .update(operations)
      .set({ status: 'cancelled', finishedAt: now, updatedAt: now, sealedSecret: null, worker: null, leaseUntil: null })
      .where(eq(operations.id, id))
      .returning();
    await deps.audit.record(tx, {
      actorType: 'staff',
      actorId: by,
      action: 'operation.cancelled',
      entityType: 'operation',
      entityId: id,
      before: { status: op.status },
      after: { status: 'cancelled', reason },
      correlationId: op.reference,
    });
    await deps.alerts.resolve(tx, `operation:${id}`, by, `operation cancelled: ${reason}`);
    await engine.afterEnd(tx, row!, 'cancelled');
    return row!;
  });
}
