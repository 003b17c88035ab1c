/**
 * An internal transfer between two trading accounts of one client: two balance operations in one group. The second
 * leg waits for the first; if the first fails the second is cancelled; if the second fails, the engine enqueues a
 * compensation that reverses the first. Either both legs happen, or the money ends where it started.
 */
import { randomUUID } from 'node:crypto';
import type { Executor } from '../db/connect.ts';
import { type EnqueueDeps, enqueueOperation, OperationInputError } from './enqueue.ts';
import type { OperationRow } from './ports.ts';

export interface TransferLeg {
  serverCode: string;
  login: number;
  /** Minor units of this account's currency (positive). */
  amount: number;
  currency?: string;
}

export interface TransferInput {
  from: TransferLeg;
  to: TransferLeg;
  handler?: string;
  requestedBy?: string;
  correlationId?: string;
}

export async function enqueueTransfer(
  tx: Executor,
  deps: EnqueueDeps,
  input: TransferInput,
): Promise<{ groupId: string; out: OperationRow; in: OperationRow }> {
  if (input.from.amount <= 0 || input.to.amount <= 0)
    throw new OperationInputError('transfer amounts must be positive');
  if (input.from.serverCode === input.to.serverCode && input.from.login === input.to.login) {
    throw new OperationInputError('a transfer needs two different accounts');
  }
  const groupId = randomUUID();
  const out = await enqueueOperation(tx, deps, {
    kind: 'balance',
    serverCode: input.from.serverCode,
    login: input.from.login,
    payload: { amount: -input.from.amount, currency: input.from.currency, note: 'transfer out' },
    referenceKind: 'transfer_out',
    handler: input.handler,
    requestedBy: input.requestedBy,
    correlationId: input.correlationId,
    groupId,
  });
  const inbound = await enqueueOperation(tx, deps, {
    kind: 'balance',
    serverCode: input.to.serverCode,
    login: input.to.login,
    payload: { amount: input.to.amount, currency: input.to.currency, note: 'transfer in' },
    referenceKind: 'transfer_in',
    handler: input.handler,
    requestedBy: input.requestedBy,
    correlationId: input.correlationId,
    groupId,
    dependsOn: out.id,
  });
  return { groupId, out, in: inbound };
}
