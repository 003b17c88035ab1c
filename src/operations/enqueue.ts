/**
 * Transactional enqueue: an operation row is written with the same transaction as the business change that causes
 * it. A rolled-back change therefore never posts, and a committed one always will. The NOTIFY issued by the insert is
 * delivered on commit, waking the workers at once.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { deferPrepared, type Executor, preparedQuery, rowOf } from '../db/connect.ts';
import { type OperationKind, operations } from '../db/schema.ts';
import { newReference, parseReference, type ReferenceKind } from '../platforms/reference.ts';
import { type OperationSecrets, payloadSchemas } from './kinds.ts';
import type { AuditPort, OperationRow } from './ports.ts';
import type { Sealer } from './sealed.ts';

export const OPERATIONS_CHANNEL = 'bd_operations';

/**
 * The operation row, and the NOTIFY that wakes the workers when it commits, in one statement (PostgreSQL delivers
 * one notification per channel and payload per transaction, however many operations it enqueues).
 */
const ENQUEUE_SQL = `
  insert into operations (reference, kind, server_code, login, account_key, payload, sealed_secret, status,
    next_attempt_at, handler, depends_on, group_id, compensates, requested_by, correlation_id, created_at, updated_at)
  values ($1, $2, $3, $4::bigint, $5, $6::jsonb, $7, $8, $9::timestamptz, $10, $11::uuid, $12::uuid, $13::uuid, $14,
    $15, $9::timestamptz, $9::timestamptz)
  returning *, pg_notify($16, '') as notified`;

export class OperationInputError extends Error {
  override readonly name = 'OperationInputError';
  readonly code = 'OPERATION_INVALID';
}

export interface EnqueueInput {
  kind: OperationKind;
  serverCode: string;
  login?: number | null;
  payload: unknown;
  secrets?: OperationSecrets;
  /** Module that receives the result, e.g. "funding.deposit". */
  handler?: string;
  requestedBy?: string;
  correlationId?: string;
  /** A reference made by the caller (must parse); by default one is made from the kind. */
  reference?: string;
  referenceKind?: ReferenceKind;
  dependsOn?: string;
  groupId?: string;
  compensates?: string;
}

export interface EnqueueDeps {
  clock: Clock;
  sealer: Sealer;
  audit: AuditPort;
}

function defaultReferenceKind(kind: OperationKind, payload: { amount?: number }): ReferenceKind {
  switch (kind) {
    case 'balance':
      return (payload.amount ?? 0) < 0 ? 'withdrawal' : 'deposit';
    case 'credit':
      return (payload.amount ?? 0) < 0 ? 'credit_out' : 'credit_in';
    default:
      return kind;
  }
}

/** ENQUEUE_SQL with the row's id given ($17), for `enqueueOperationDeferred`. */
const ENQUEUE_WITH_ID_SQL = `
  insert into operations (reference, kind, server_code, login, account_key, payload, sealed_secret, status,
    next_attempt_at, handler, depends_on, group_id, compensates, requested_by, correlation_id, created_at, updated_at,
    id)
  values ($1, $2, $3, $4::bigint, $5, $6::jsonb, $7, $8, $9::timestamptz, $10, $11::uuid, $12::uuid, $13::uuid, $14,
    $15, $9::timestamptz, $9::timestamptz, $17::uuid)
  returning pg_notify($16, '') as notified`;

export async function enqueueOperation(tx: Executor, deps: EnqueueDeps, input: EnqueueInput): Promise<OperationRow> {
  const { reference, payload, params } = checkedEnqueue(deps, input);
  const [raw] = await preparedQuery(tx, 'bd_operation_enqueue', ENQUEUE_SQL, params);
  const row = rowOf(operations, raw!);
  await recordEnqueued(tx, deps, input, reference, payload, row.id, row.status);
  return row;
}

/**
 * `enqueueOperation` for a caller that needs only the new operation's id and reference: the id is made here, so the
 * INSERT (and its NOTIFY) is not read back and, in a `scriptedTransaction`, goes with its next round trip
 * (`deferPrepared`); the statements after it in the transaction, and the commit, still come after it.
 */
export async function enqueueOperationDeferred(
  tx: Executor,
  deps: EnqueueDeps,
  input: EnqueueInput,
): Promise<Pick<OperationRow, 'id' | 'reference' | 'status'>> {
  const { reference, payload, params } = checkedEnqueue(deps, input);
  const id = randomUUID();
  await deferPrepared(tx, 'bd_operation_enqueue_with_id', ENQUEUE_WITH_ID_SQL, [...params, id]);
  const status = input.dependsOn ? ('waiting' as const) : ('pending' as const);
  await recordEnqueued(tx, deps, input, reference, payload, id, status);
  return { id, reference, status };
}

/** Validates an enqueue and makes the statement's parameters ($1–$16). */
function checkedEnqueue(
  deps: EnqueueDeps,
  input: EnqueueInput,
): { reference: string; payload: Record<string, unknown>; params: unknown[] } {
  const parsed = payloadSchemas[input.kind].safeParse(input.payload);
  if (!parsed.success) {
    throw new OperationInputError(
      `invalid ${input.kind} operation: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ')}`,
    );
  }
  const payload = parsed.data as Record<string, unknown>;
  if (input.kind !== 'open_account' && (input.login === undefined || input.login === null)) {
    throw new OperationInputError(`a ${input.kind} operation needs the account login`);
  }
  if (input.kind === 'set_password' && !input.secrets?.password) {
    throw new OperationInputError('a set_password operation needs the new password');
  }
  if (input.kind === 'open_account' && (!input.secrets?.mainPassword || !input.secrets.investorPassword)) {
    throw new OperationInputError('an open_account operation needs the main and investor passwords');
  }
  const reference = input.reference ?? newReference(input.referenceKind ?? defaultReferenceKind(input.kind, payload));
  if (parseReference(reference)?.reference !== reference) {
    throw new OperationInputError(`"${reference}" is not a valid operation reference`);
  }
  const now = deps.clock.now();
  const params = [
    reference,
    input.kind,
    input.serverCode,
    input.login ?? null,
    `${input.serverCode}:${input.login ?? reference}`,
    JSON.stringify(payload),
    input.secrets ? deps.sealer.seal(input.secrets) : null,
    input.dependsOn ? 'waiting' : 'pending',
    now.toISOString(),
    input.handler ?? null,
    input.dependsOn ?? null,
    input.groupId ?? null,
    input.compensates ?? null,
    input.requestedBy ?? null,
    input.correlationId ?? null,
    OPERATIONS_CHANNEL,
  ];
  return { reference, payload, params };
}

async function recordEnqueued(
  tx: Executor,
  deps: EnqueueDeps,
  input: EnqueueInput,
  reference: string,
  payload: Record<string, unknown>,
  id: string,
  status: OperationRow['status'],
): Promise<void> {
  await deps.audit.record(tx, {
    actorType: input.requestedBy ? 'staff' : 'system',
    actorId: input.requestedBy ?? null,
    action: 'operation.enqueued',
    entityType: 'operation',
    entityId: id,
    after: {
      reference,
      kind: input.kind,
      server: input.serverCode,
      login: input.login ?? null,
      payload,
      status,
    },
    correlationId: reference,
  });
}
