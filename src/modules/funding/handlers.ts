/**
 * The server's answers to funding operations, delivered by the operations engine inside the transaction that ends
 * each operation (exactly once): the movement's next status, its ledger entries and its timeline note.
 */
import { and, eq } from 'drizzle-orm';
import type { Executor, ScriptConnection } from '../../db/connect.ts';
import { clientFlags } from '../../db/schema.ts';
import type { OperationHandler, OperationOutcome, OperationRow } from '../../operations/ports.ts';
import { parseReference } from '../../platforms/reference.ts';
import {
  findLockedMovement,
  formatMoney,
  lockInOpening,
  type Movement,
  noteMovement,
  transition,
} from './movements.ts';
import { postMovement } from './postings.ts';
import { reverseOnServer } from './psp-events.ts';
import type { FundingService } from './service.ts';

const serverActor = (op: OperationRow) => ({ type: 'server' as const, id: op.serverCode });

/** The server's refusal in words a client can read, from the operation's last error. */
function serverReason(op: OperationRow, status: OperationOutcome['status']): string {
  if (status === 'cancelled') return 'it was cancelled by our operations team';
  const error = op.lastError as { message?: string; serverText?: string; reason?: string } | null;
  const text = error?.reason ? error.reason.replace(/_/g, ' ') : (error?.serverText ?? error?.message);
  return text ? `the trading server refused it (${text})` : 'the trading server refused it';
}

async function movementOf(tx: Executor, op: OperationRow): Promise<Movement | null> {
  if (!op.correlationId || !/^[0-9a-f-]{36}$/i.test(op.correlationId)) return null;
  return findLockedMovement(tx, op.correlationId);
}

export function fundingOperationHandlers(funding: FundingService): Record<string, OperationHandler> {
  const { deps } = funding;
  const clock = deps.clock;

  const deposit: OperationHandler = async (tx, { operation: op, status }) => {
    const movement = await movementOf(tx, op);
    if (!movement) return;
    if (status === 'succeeded') {
      const after = await transition(tx, deps, movement, {
        from: ['approved', 'posting_failed'],
        to: 'posted',
        set: { ticket: op.ticket, failureReason: null },
        note: {
          source: 'server',
          type: 'deposit.posted',
          message: `${formatMoney(movement.amountMinor, movement.currency)} is now in your trading account${op.login ? ` ${op.login}` : ''}.`,
          details: { operation: op.reference, ticket: op.ticket, server: op.serverCode },
        },
        actor: serverActor(op),
        correlationId: op.reference,
      });
      if (!after) return;
      // Just moved out of approved/posting_failed under the row lock, by the one end of this operation.
      await postMovement(tx, clock, after, 'deposit.posted', { operationId: op.id, firstTime: true });
      // A refund that arrived before the deposit reached the server is taken back now.
      if (after.refundedMinor > 0) {
        const [chargeback] = await tx
          .select({ id: clientFlags.id })
          .from(clientFlags)
          .where(and(eq(clientFlags.movementId, after.id), eq(clientFlags.kind, 'chargeback')))
          .limit(1);
        await reverseOnServer(funding, tx, after, after.refundedMinor, Boolean(chargeback));
      }
      return;
    }
    const reason = serverReason(op, status);
    await transition(tx, deps, movement, {
      from: ['approved'],
      to: 'posting_failed',
      set: { failureReason: reason },
      note: {
        source: 'server',
        type: 'deposit.posting_failed',
        message: `Your payment was received, but crediting the trading account failed: ${reason}. Your money is safe; our team has been alerted.`,
        details: { operation: op.reference, error: op.lastError },
      },
      actor: serverActor(op),
      correlationId: op.reference,
    });
  };

  const reversal: OperationHandler = async (tx, { operation: op, status }) => {
    const movement = await movementOf(tx, op);
    if (!movement) return;
    const amount = Math.abs((op.payload as { amount: number }).amount);
    const chargeback = (op.payload as { note?: string }).note === 'chargeback';
    if (status === 'succeeded') {
      await postMovement(tx, clock, movement, 'refund.recovered', { amountMinor: amount, operationId: op.id });
      const fully = movement.refundedMinor >= movement.amountMinor;
      // Only the latest reversal settles the status: an earlier one finishing first leaves the later still owed.
      const note = {
        source: 'server' as const,
        type: 'reversal.posted',
        message: `${formatMoney(amount, movement.currency)} was taken back from your trading account.`,
        details: { operation: op.reference, ticket: op.ticket },
      };
      if (movement.returnOperationId !== op.id) {
        await noteMovement(tx, clock, movement.id, note);
        return;
      }
      await transition(tx, deps, movement, {
        from: ['reversing'],
        to: chargeback ? 'charged_back' : fully ? 'refunded' : 'posted',
        note,
        actor: serverActor(op),
        correlationId: op.reference,
      });
      return;
    }
    const reason = serverReason(op, status);
    await transition(tx, deps, movement, {
      // Any reversal failing leaves money owed, whichever reversal settled the status before.
      from: ['reversing', 'refunded', 'posted', 'charged_back'],
      to: 'reversal_failed',
      set: { failureReason: `taking back ${formatMoney(amount, movement.currency)} failed: ${reason}` },
      note: {
        source: 'server',
        type: 'reversal.failed',
        message: `Taking back ${formatMoney(amount, movement.currency)} from the trading account failed; our team will contact you.`,
        details: { operation: op.reference, error: op.lastError },
        internal: false,
      },
      actor: serverActor(op),
      correlationId: op.reference,
    });
    await deps.alerts.raise(tx, {
      kind: 'client_owes_money',
      dedupeKey: `owes:${movement.id}`,
      severity: 'critical',
      title: `client ${movement.clientId} owes ${formatMoney(amount, movement.currency)}: the ${chargeback ? 'chargeback' : 'refund'} could not be taken from the trading account`,
      details: { movementId: movement.id, operation: op.reference },
    });
  };

  const withdrawal: OperationHandler = async (tx, { operation: op, status }) => {
    const movement = await movementOf(tx, op);
    if (!movement) return;
    if (status === 'succeeded') {
      const after = await transition(tx, deps, movement, {
        from: ['approved'],
        to: 'debited',
        set: { ticket: op.ticket },
        note: {
          source: 'server',
          type: 'withdrawal.debited',
          message: `${formatMoney(movement.amountMinor, movement.currency)} was taken from your trading account; the payout is on its way.`,
          details: { operation: op.reference, ticket: op.ticket },
        },
        actor: serverActor(op),
        correlationId: op.reference,
      });
      if (after) await postMovement(tx, clock, after, 'withdrawal.debited', { operationId: op.id });
      return;
    }
    const reason = serverReason(op, status);
    await transition(tx, deps, movement, {
      from: ['approved'],
      to: 'failed',
      set: { failureReason: reason },
      note: {
        source: 'server',
        type: 'withdrawal.failed',
        message: `The withdrawal could not be made: ${reason}. No money left your trading account.`,
        details: { operation: op.reference, error: op.lastError },
      },
      actor: serverActor(op),
      correlationId: op.reference,
    });
  };

  const withdrawalReturn: OperationHandler = async (tx, { operation: op, status }) => {
    const movement = await movementOf(tx, op);
    if (!movement) return;
    if (status === 'succeeded') {
      const after = await transition(tx, deps, movement, {
        from: ['returning'],
        to: 'returned',
        note: {
          source: 'server',
          type: 'withdrawal.returned',
          message: `${formatMoney(movement.amountMinor, movement.currency)} is back in your trading account.`,
          details: { operation: op.reference, ticket: op.ticket },
        },
        actor: serverActor(op),
        correlationId: op.reference,
      });
      if (after) await postMovement(tx, clock, after, 'withdrawal.returned', { operationId: op.id });
      return;
    }
    // The money is safe in the client's funds (ledger); the engine has raised an alert for the failed operation.
    await noteMovement(tx, clock, movement.id, {
      source: 'server',
      type: 'withdrawal.return_failed',
      message: 'Returning the money to your trading account is delayed; our team has been alerted.',
      details: { operation: op.reference, error: op.lastError },
    });
  };

  /** Credits and adjustments: approved → posted, or failed with the server's reason. */
  const staffPosted =
    (kind: 'credit' | 'adjustment'): OperationHandler =>
    async (tx, { operation: op, status }) => {
      const movement = await movementOf(tx, op);
      if (!movement) return;
      const what = kind === 'credit' ? 'bonus credit' : 'balance adjustment';
      if (status === 'succeeded') {
        const after = await transition(tx, deps, movement, {
          from: ['approved'],
          to: 'posted',
          set: { ticket: op.ticket },
          note: {
            source: 'server',
            type: `${kind}.posted`,
            message: `The ${what} of ${movement.direction === 'out' ? '-' : ''}${formatMoney(movement.amountMinor, movement.currency)} was applied to your trading account.`,
            details: { operation: op.reference, ticket: op.ticket },
          },
          actor: serverActor(op),
          correlationId: op.reference,
        });
        if (after) await postMovement(tx, clock, after, `${kind}.posted`, { operationId: op.id });
        return;
      }
      const reason = serverReason(op, status);
      await transition(tx, deps, movement, {
        from: ['approved'],
        to: 'failed',
        set: { failureReason: reason },
        note: {
          source: 'server',
          type: `${kind}.failed`,
          message: `The ${what} was not applied: ${reason}.`,
          details: { operation: op.reference, error: op.lastError },
        },
        actor: serverActor(op),
        correlationId: op.reference,
      });
    };

  /** Transfers: the out leg, the in leg, and (if the in leg failed) the compensation of the out leg. */
  const transfer: OperationHandler = async (tx, { operation: op, status }) => {
    const movement = await movementOf(tx, op);
    if (!movement) return;
    const leg = parseReference(op.reference)?.kind;
    const reason = status === 'succeeded' ? '' : serverReason(op, status);
    if (leg === 'transfer_out') {
      if (status === 'succeeded') {
        await postMovement(tx, clock, movement, 'transfer.out', { operationId: op.id });
        await noteMovement(tx, clock, movement.id, {
          source: 'server',
          type: 'transfer.out_posted',
          message: `${formatMoney(movement.amountMinor, movement.currency)} left the source account.`,
          details: { operation: op.reference, ticket: op.ticket },
        });
        return;
      }
      await transition(tx, deps, movement, {
        from: ['approved'],
        to: 'failed',
        set: { failureReason: reason },
        note: {
          source: 'server',
          type: 'transfer.failed',
          message: `The transfer did not happen: ${reason}. No money moved.`,
          details: { operation: op.reference, error: op.lastError },
        },
        actor: serverActor(op),
        correlationId: op.reference,
      });
      return;
    }
    if (leg === 'transfer_in') {
      if (status === 'succeeded') {
        const after = await transition(tx, deps, movement, {
          from: ['approved'],
          to: 'posted',
          set: { ticket: op.ticket },
          note: {
            source: 'server',
            type: 'transfer.posted',
            message: `${formatMoney(movement.counterAmountMinor ?? movement.amountMinor, movement.counterCurrency ?? movement.currency)} arrived in the receiving account.`,
            details: { operation: op.reference, ticket: op.ticket },
          },
          actor: serverActor(op),
          correlationId: op.reference,
        });
        if (after) await postMovement(tx, clock, after, 'transfer.in', { operationId: op.id });
        return;
      }
      if (status === 'cancelled' && movement.status !== 'approved') return; // the out leg already failed
      await noteMovement(tx, clock, movement.id, {
        source: 'server',
        type: 'transfer.in_failed',
        message: `The receiving account could not be credited (${reason}); the money is being returned to the source account.`,
        details: { operation: op.reference, error: op.lastError },
      });
      return;
    }
    if (op.compensates) {
      if (status === 'succeeded') {
        const after = await transition(tx, deps, movement, {
          from: ['approved'],
          to: 'failed',
          set: { failureReason: 'the receiving account could not be credited; the money was returned' },
          note: {
            source: 'server',
            type: 'transfer.compensated',
            message: `${formatMoney(movement.amountMinor, movement.currency)} is back in the source account. The transfer did not happen.`,
            details: { operation: op.reference, ticket: op.ticket },
          },
          actor: serverActor(op),
          correlationId: op.reference,
        });
        if (after) await postMovement(tx, clock, after, 'transfer.compensated', { operationId: op.id });
        return;
      }
      await noteMovement(tx, clock, movement.id, {
        source: 'server',
        type: 'transfer.compensation_failed',
        message: 'Returning the money to the source account is delayed; our team has been alerted.',
        details: { operation: op.reference, error: op.lastError },
      });
    }
  };

  // Each starts by locking the operation's movement: that lock goes with the BEGIN of the transaction ending it.
  const lockingMovement = (handler: OperationHandler): OperationHandler =>
    Object.assign(handler, {
      opening: (op: OperationRow, connection: ScriptConnection) =>
        op.correlationId ? lockInOpening(connection, op.correlationId) : undefined,
    });
  return {
    'funding.deposit': lockingMovement(deposit),
    'funding.reversal': lockingMovement(reversal),
    'funding.withdrawal': lockingMovement(withdrawal),
    'funding.withdrawal_return': lockingMovement(withdrawalReturn),
    'funding.credit': lockingMovement(staffPosted('credit')),
    'funding.adjustment': lockingMovement(staffPosted('adjustment')),
    'funding.transfer': lockingMovement(transfer),
  };
}
