/**
 * The ledger side of each money movement (sign convention in src/modules/ledger/service.ts: positive = debit).
 * Money is never in two places: a deposit the PSP confirmed sits in the client's funds until the server has it, then
 * moves to the trading account; so a trading account's ledger balance always equals what the server shows, and money
 * in between (confirmed but not yet posted, withdrawn but not yet paid out) is visible where it waits.
 */
import type { Clock } from '../../clock.ts';
import type { Executor } from '../../db/connect.ts';
import {
  type LedgerAccountKey,
  type LedgerLine,
  postLedgerTransaction,
  postNewLedgerTransaction,
} from '../ledger/service.ts';
import type { Movement } from './movements.ts';

const pspClearing = (psp: string, currency: string): LedgerAccountKey => ({
  type: 'psp_clearing',
  ownerId: psp,
  currency,
});
const payoutsPending = (psp: string, currency: string): LedgerAccountKey => ({
  type: 'payouts_pending',
  ownerId: psp,
  currency,
});
const clientFunds = (clientId: string, currency: string): LedgerAccountKey => ({
  type: 'client_funds',
  ownerId: clientId,
  currency,
});
const tradingAccount = (accountId: string, currency: string): LedgerAccountKey => ({
  type: 'trading_account',
  ownerId: accountId,
  currency,
});
const tradingCredit = (accountId: string, currency: string): LedgerAccountKey => ({
  type: 'trading_credit',
  ownerId: accountId,
  currency,
});

/** A two-line posting: `debit` +amount, `credit` −amount. */
function lines(debit: LedgerAccountKey, credit: LedgerAccountKey, amount: number): LedgerLine[] {
  return [
    { account: debit, amountMinor: amount },
    { account: credit, amountMinor: -amount },
  ];
}

export type PostingEvent =
  | 'deposit.received' // the PSP confirmed the payment: the broker holds the money for the client
  | 'deposit.posted' // the server credited the trading account
  | 'refund.received' // the PSP took money back (refund or chargeback): the client owes it
  | 'refund.recovered' // the server debited the trading account for it
  | 'withdrawal.debited' // the server debited the trading account: the money waits for the payout
  | 'withdrawal.paid' // the PSP paid it out
  | 'withdrawal.payout_failed' // the payout failed: the money is the client's again
  | 'withdrawal.returned' // the server credited it back to the trading account
  | 'credit.posted'
  | 'adjustment.posted'
  | 'transfer.out' // the first leg: money leaves the source account
  | 'transfer.in' // the second leg: money (converted if needed) arrives in the target account
  | 'transfer.compensated'; // the first leg reversed after the second failed

/**
 * Writes the ledger transaction for one step of a movement. The idempotency key is the movement and the step (and
 * the operation, for steps an operation drives), so a redelivered event cannot post twice.
 */
export async function postMovement(
  tx: Executor,
  clock: Clock,
  movement: Movement,
  event: PostingEvent,
  options: {
    amountMinor?: number;
    operationId?: string;
    pspEventId?: string;
    key?: string;
    /**
     * The step cannot have been posted before (the caller holds the movement's row lock and has just moved it out of
     * the status this step leaves): written without being read back, so it may go with the transaction's next round
     * trip; a step posted after all fails the transaction instead of being replayed (`postNewLedgerTransaction`).
     */
    firstTime?: boolean;
  } = {},
): Promise<void> {
  const amount = options.amountMinor ?? movement.amountMinor;
  const cur = movement.currency;
  const psp = movement.psp ?? 'none';
  const account = tradingAccount(movement.tradingAccountId, cur);
  const funds = clientFunds(movement.clientId, cur);
  let entries: LedgerLine[];
  switch (event) {
    case 'deposit.received':
      entries = lines(pspClearing(psp, cur), funds, amount);
      break;
    case 'deposit.posted':
    case 'withdrawal.returned':
      entries = lines(funds, account, amount);
      break;
    case 'refund.received':
      entries = lines(funds, pspClearing(psp, cur), amount);
      break;
    case 'refund.recovered':
      entries = lines(account, funds, amount);
      break;
    case 'withdrawal.debited':
      entries = lines(account, payoutsPending(psp, cur), amount);
      break;
    case 'withdrawal.paid':
      entries = lines(payoutsPending(psp, cur), pspClearing(psp, cur), amount);
      break;
    case 'withdrawal.payout_failed':
      entries = lines(payoutsPending(psp, cur), funds, amount);
      break;
    case 'credit.posted': {
      const expense: LedgerAccountKey = { type: 'bonus_expense', currency: cur };
      const credit = tradingCredit(movement.tradingAccountId, cur);
      entries = movement.direction === 'in' ? lines(expense, credit, amount) : lines(credit, expense, amount);
      break;
    }
    case 'adjustment.posted': {
      const revenue: LedgerAccountKey = { type: 'broker_revenue', currency: cur };
      entries = movement.direction === 'in' ? lines(revenue, account, amount) : lines(account, revenue, amount);
      break;
    }
    case 'transfer.out':
      entries = lines(account, funds, amount);
      break;
    case 'transfer.compensated':
      entries = lines(funds, account, amount);
      break;
    case 'transfer.in': {
      const toCur = movement.counterCurrency ?? cur;
      const toAmount = movement.counterAmountMinor ?? amount;
      const target = tradingAccount(movement.counterAccountId!, toCur);
      entries =
        toCur === cur
          ? lines(funds, target, amount)
          : [
              ...lines(funds, { type: 'fx_conversion', currency: cur }, amount),
              ...lines({ type: 'fx_conversion', currency: toCur }, target, toAmount),
            ];
      break;
    }
  }
  const posting = {
    kind: event,
    description: `${movement.kind} ${movement.id}: ${event}`,
    lines: entries,
    idempotencyKey: `${movement.id}:${event}:${options.key ?? options.operationId ?? options.pspEventId ?? ''}`,
    correlation: {
      movementId: movement.id,
      ...(options.operationId ? { operationId: options.operationId } : {}),
      ...(options.pspEventId ? { pspEventId: options.pspEventId } : {}),
    },
    createdBy: 'funding',
  };
  if (options.firstTime) await postNewLedgerTransaction(tx, posting, clock);
  else await postLedgerTransaction(tx, posting, clock);
}
