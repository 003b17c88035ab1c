/**
 * The funding module owns client money movements: deposits through the PSP, withdrawals with approval and payout,
 * staff credits (bonus) and manual adjustments with maker-checker, and internal transfers between a client's own
 * accounts. Every step is one database transaction that changes the movement, writes its ledger entries, enqueues
 * the server operation that moves the money (never a direct call), notes the timeline and audits it. The server's
 * answer comes back through the operation handlers (handlers.ts); the PSP's through its webhooks (psp-events.ts).
 */
import { and, count, desc, eq, inArray, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Clock } from '../../clock.ts';
import type { Database, Executor } from '../../db/connect.ts';
import {
  fxRates,
  type MoneyMovementKind,
  type MoneyMovementStatus,
  moneyMovements,
  movementApprovals,
} from '../../db/schema.ts';
import type { Logger } from '../../log.ts';
import { enqueueOperation } from '../../operations/enqueue.ts';
import type { AlertPort, AuditPort, PlatformSource } from '../../operations/ports.ts';
import type { Sealer } from '../../operations/sealed.ts';
import { enqueueTransfer } from '../../operations/transfer.ts';
import { PspRejected, PspUnavailable } from '../../payments/errors.ts';
import type { PaymentProvider, PayoutDestination } from '../../payments/types.ts';
import { PlatformError } from '../../platforms/errors.ts';
import { type FundableAccount, fundableAccount } from './accounts.ts';
import { FundingError, movementNotFound } from './errors.ts';
import { convertMinor, rateInput } from './fx.ts';
import { formatMoney, lockMovement, type Movement, noteMovement, transition } from './movements.ts';
import { postMovement } from './postings.ts';

export interface FundingDeps {
  database: Database;
  clock: Clock;
  sealer: Sealer;
  audit: AuditPort;
  alerts: AlertPort;
  /** For reads only (free margin before a withdrawal or transfer): writes go through operations. */
  platforms: PlatformSource;
  /** The PSP; null when none is configured (deposits and payouts are then refused with a clear error). */
  psp: PaymentProvider | null;
  /** Withdrawals of this many minor units or more need a second approver. */
  dualApprovalMinor: number;
  maxDepositMinor: number;
  /** Where the PSP sends the client back after paying. */
  publicUrl: string;
  logger?: Logger;
}

const amountInput = z
  .number({ error: 'must be a whole number of minor units (cents)' })
  .int('must be a whole number of minor units (cents), e.g. 200000 for 2,000.00')
  .positive('must be more than zero')
  .max(Number.MAX_SAFE_INTEGER);

export const depositInput = z.object({ accountId: z.uuid('must be an account id'), amountMinor: amountInput }).strict();

export const payoutDestinationInput = z.discriminatedUnion('type', [
  z
    .object({ type: z.literal('card'), last4: z.string().regex(/^[0-9]{4}$/, 'the last four digits of the card') })
    .strict(),
  z
    .object({
      type: z.literal('bank_account'),
      iban: z
        .string()
        .transform((v) => v.replace(/\s+/g, '').toUpperCase())
        .pipe(z.string().regex(/^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$/, 'an IBAN such as CY17002001280000001200527600')),
    })
    .strict(),
]);

export const withdrawalInput = z
  .object({
    accountId: z.uuid('must be an account id'),
    amountMinor: amountInput,
    destination: payoutDestinationInput,
  })
  .strict();

export const transferInput = z
  .object({
    fromAccountId: z.uuid('must be an account id'),
    toAccountId: z.uuid('must be an account id'),
    amountMinor: amountInput,
  })
  .strict();

export const staffMovementInput = z
  .object({
    accountId: z.uuid('must be an account id'),
    amountMinor: amountInput,
    direction: z.enum(['in', 'out']),
    reason: z.string().trim().min(3, 'say why, in a few words').max(500),
    /** Credits only: when the bonus expires. */
    expiresAt: z.iso.datetime().optional(),
  })
  .strict();

export const decisionInput = z
  .object({
    decision: z.enum(['approve', 'reject']),
    comment: z.string().trim().max(500).optional(),
  })
  .strict()
  .refine((d) => d.decision === 'approve' || (d.comment && d.comment.length >= 3), {
    message: 'say why the request is rejected',
    path: ['comment'],
  });

export const fxRateInput = z
  .object({
    base: z.string().regex(/^[A-Z]{3}$/, 'a currency code such as EUR'),
    quote: z.string().regex(/^[A-Z]{3}$/, 'a currency code such as USD'),
    rate: z
      .string()
      .regex(rateInput, 'a positive decimal such as 1.0845')
      .refine((r) => !/^0+(\.0+)?$/.test(r), 'must be more than zero, such as 1.0845'),
  })
  .strict()
  .refine((v) => v.base !== v.quote, { message: 'must differ from base', path: ['quote'] });

export interface MovementFilter {
  clientId?: string | undefined;
  accountId?: string | undefined;
  kind?: MoneyMovementKind | undefined;
  status?: MoneyMovementStatus | undefined;
  limit: number;
  offset: number;
}

/** The view of a movement for its client: no staff ids, no PSP internals. */
export function clientMovementView(m: Movement) {
  return {
    id: m.id,
    kind: m.kind,
    direction: m.direction,
    status: m.status,
    accountId: m.tradingAccountId,
    amountMinor: m.amountMinor,
    currency: m.currency,
    counterAccountId: m.counterAccountId,
    counterAmountMinor: m.counterAmountMinor,
    counterCurrency: m.counterCurrency,
    fxRate: m.fxRate,
    paymentUrl: m.status === 'awaiting_payment' ? m.paymentUrl : null,
    refundedMinor: m.refundedMinor,
    failureReason: m.failureReason,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
    completedAt: m.completedAt,
  };
}

const isUniqueViolation = (err: unknown, constraint: string): boolean => {
  for (let e = err as { code?: string; constraint?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === '23505' && (e.constraint ?? '').includes(constraint)) return true;
  }
  return false;
};

export class FundingService {
  constructor(readonly deps: FundingDeps) {}

  private get db() {
    return this.deps.database.db;
  }

  private requirePsp(): PaymentProvider {
    if (!this.deps.psp) {
      throw new FundingError(
        'PSP_NOT_CONFIGURED',
        503,
        'card payments are not available: no payment provider is configured (PSP_URL)',
      );
    }
    return this.deps.psp;
  }

  // --- deposits ------------------------------------------------------------------------------------------------------

  /**
   * Starts a deposit: the movement is saved first (so nothing the PSP does can arrive for an unknown payment), then
   * the PSP creates the payment session with the movement id as its idempotency key; the client pays on its page.
   */
  async startDeposit(
    clientId: string,
    input: z.input<typeof depositInput>,
    /** `allowDemo`: the go-live rehearsal moves PSP-sandbox money on a demo account (the portal never passes it). */
    options: { allowDemo?: boolean } = {},
  ): Promise<{ movement: ReturnType<typeof clientMovementView>; paymentUrl: string }> {
    const value = depositInput.parse(input);
    const psp = this.requirePsp();
    if (value.amountMinor > this.deps.maxDepositMinor) {
      throw new FundingError(
        'AMOUNT_TOO_LARGE',
        422,
        `a single deposit may be at most ${this.deps.maxDepositMinor} minor units; split it or contact support`,
      );
    }
    const created = await this.db.transaction(async (tx) => {
      const account = await fundableAccount(tx, value.accountId, { clientId, allowDemo: options.allowDemo });
      const now = this.deps.clock.now();
      const [row] = await tx
        .insert(moneyMovements)
        .values({
          kind: 'deposit',
          direction: 'in',
          status: 'awaiting_payment',
          clientId,
          tradingAccountId: account.id,
          amountMinor: value.amountMinor,
          currency: account.currency,
          psp: psp.name,
          requestedByType: 'client',
          requestedById: clientId,
          createdAt: now,
          updatedAt: now,
        })
        .returning();
      await noteMovement(tx, this.deps.clock, row!.id, {
        source: 'client',
        type: 'deposit.requested',
        message: `You started a deposit of ${formatMoney(value.amountMinor, account.currency)} to account ${account.login}.`,
        details: { login: account.login, server: account.serverCode },
      });
      await this.audit(tx, { type: 'client', id: clientId }, 'deposit.requested', row!, {
        amountMinor: value.amountMinor,
        currency: account.currency,
      });
      return { movement: row!, account };
    });
    const { movement, account } = created;
    try {
      const session = await psp.createPaymentSession({
        amountMinor: movement.amountMinor,
        currency: movement.currency,
        merchantReference: movement.id,
        returnUrl: `${this.deps.publicUrl}/deposits/${movement.id}`,
        description: `Deposit to trading account ${account.login}`,
      });
      const updated = await this.db.transaction(async (tx) => {
        const locked = await lockMovement(tx, movement.id);
        const [row] = await tx
          .update(moneyMovements)
          .set({
            pspPaymentId: session.pspPaymentId,
            paymentUrl: session.hostedPageUrl,
            updatedAt: this.deps.clock.now(),
          })
          .where(eq(moneyMovements.id, locked.id))
          .returning();
        await noteMovement(tx, this.deps.clock, movement.id, {
          source: 'psp',
          type: 'payment.session_created',
          message: 'The payment page is ready.',
          details: { pspPaymentId: session.pspPaymentId, psp: psp.name },
          internal: true,
        });
        return row!;
      });
      return { movement: clientMovementView(updated), paymentUrl: session.hostedPageUrl };
    } catch (err) {
      const reason =
        err instanceof PspRejected
          ? `the payment provider refused the payment: ${err.pspMessage}`
          : 'the payment provider could not be reached; nothing was charged, try again in a minute';
      await this.db.transaction(async (tx) => {
        const locked = await lockMovement(tx, movement.id);
        await transition(tx, this.deps, locked, {
          from: ['awaiting_payment'],
          to: 'payment_failed',
          set: { failureReason: reason },
          note: { source: 'psp', type: 'payment.session_failed', message: `The deposit could not start: ${reason}.` },
          actor: { type: 'system', id: null },
        });
      });
      if (err instanceof PspRejected) throw new FundingError('PSP_REJECTED', 422, reason);
      if (err instanceof PspUnavailable) throw new FundingError('PSP_UNAVAILABLE', 503, reason);
      throw err;
    }
  }

  // --- withdrawals ---------------------------------------------------------------------------------------------------

  /**
   * A client asks to withdraw: KYC approved, the account open, no other open request on it, and the amount within
   * what the server says is free (free margin, and never more than the balance: credit cannot be withdrawn).
   */
  async requestWithdrawal(
    clientId: string,
    input: z.input<typeof withdrawalInput>,
    /** `allowDemo`: as for startDeposit (the go-live rehearsal only). */
    options: { allowDemo?: boolean } = {},
  ) {
    const value = withdrawalInput.parse(input);
    this.requirePsp();
    const account = await fundableAccount(this.db, value.accountId, { clientId, allowDemo: options.allowDemo });
    if (account.kycStatus !== 'approved') {
      throw new FundingError(
        'KYC_NOT_APPROVED',
        403,
        'withdrawals need approved identity documents; upload them in your profile',
      );
    }
    const available = await this.withdrawable(account);
    if (value.amountMinor > available) {
      throw new FundingError(
        'INSUFFICIENT_FREE_MARGIN',
        422,
        `you can withdraw at most ${formatMoney(available, account.currency)} from account ${account.login} now (free margin, excluding credit)`,
        { availableMinor: available, currency: account.currency },
      );
    }
    try {
      return await this.db.transaction(async (tx) => {
        const now = this.deps.clock.now();
        const [row] = await tx
          .insert(moneyMovements)
          .values({
            kind: 'withdrawal',
            direction: 'out',
            status: 'requested',
            clientId,
            tradingAccountId: account.id,
            amountMinor: value.amountMinor,
            currency: account.currency,
            psp: this.deps.psp!.name,
            destination: value.destination,
            requestedByType: 'client',
            requestedById: clientId,
            createdAt: now,
            updatedAt: now,
          })
          .returning();
        await noteMovement(tx, this.deps.clock, row!.id, {
          source: 'client',
          type: 'withdrawal.requested',
          message: `You asked to withdraw ${formatMoney(value.amountMinor, account.currency)} from account ${account.login}. Our finance team reviews it.`,
          details: { availableMinor: available, login: account.login },
        });
        await this.audit(tx, { type: 'client', id: clientId }, 'withdrawal.requested', row!, {
          amountMinor: value.amountMinor,
          availableMinor: available,
        });
        return clientMovementView(row!);
      });
    } catch (err) {
      if (isUniqueViolation(err, 'open_withdrawal')) {
        throw new FundingError(
          'WITHDRAWAL_ALREADY_OPEN',
          409,
          'this account already has a withdrawal in progress; wait for it to finish or cancel it',
        );
      }
      throw err;
    }
  }

  /** A client withdraws their own request while nobody has approved it yet. */
  async cancelWithdrawal(clientId: string, movementId: string) {
    return this.db.transaction(async (tx) => {
      const movement = await lockMovement(tx, movementId, clientId);
      const after =
        movement.kind === 'withdrawal'
          ? await transition(tx, this.deps, movement, {
              // Only while nobody has approved it: after a first approval the decision is finance's.
              from: ['requested'],
              to: 'cancelled',
              note: { source: 'client', type: 'withdrawal.cancelled', message: 'You cancelled this withdrawal.' },
              actor: { type: 'client', id: clientId },
            })
          : null;
      if (!after) {
        throw new FundingError(
          'NOT_CANCELLABLE',
          409,
          `this ${movement.kind} is ${movement.status}; it can no longer be cancelled`,
        );
      }
      return clientMovementView(after);
    });
  }

  private async withdrawable(account: FundableAccount): Promise<number> {
    try {
      const platform = await this.deps.platforms.platform(account.serverCode);
      const state = await platform.getAccount(account.login);
      return Math.max(0, Math.min(state.balance, state.freeMargin));
    } catch (err) {
      if (err instanceof PlatformError || (err as Error).name === 'CircuitOpenError') {
        throw new FundingError(
          'SERVER_UNAVAILABLE',
          503,
          'the trading server cannot confirm your free margin right now; try again in a few minutes',
        );
      }
      throw err;
    }
  }

  /** Sends debited withdrawals to the PSP (idempotent by movement id, so a repeat after a lost reply is harmless). */
  async dispatchPayouts(limit = 50): Promise<number> {
    if (!this.deps.psp) return 0;
    const psp = this.deps.psp;
    const due = await this.db
      .select()
      .from(moneyMovements)
      .where(and(eq(moneyMovements.kind, 'withdrawal'), eq(moneyMovements.status, 'debited')))
      .orderBy(moneyMovements.updatedAt)
      .limit(limit);
    let sent = 0;
    for (const movement of due) {
      try {
        const payout = await psp.createPayout({
          amountMinor: movement.amountMinor,
          currency: movement.currency,
          merchantReference: movement.id,
          destination: movement.destination as PayoutDestination,
          description: `Withdrawal ${movement.id.slice(0, 8)}`,
        });
        await this.db.transaction(async (tx) => {
          const locked = await lockMovement(tx, movement.id);
          await transition(tx, this.deps, locked, {
            from: ['debited'],
            to: 'payout_pending',
            set: { pspPayoutId: payout.pspPayoutId },
            note: {
              source: 'psp',
              type: 'payout.created',
              message: 'The payout has been sent to the payment provider.',
              details: { pspPayoutId: payout.pspPayoutId, status: payout.status },
            },
            actor: { type: 'system', id: null },
          });
        });
        sent++;
      } catch (err) {
        if (err instanceof PspRejected) {
          await this.db.transaction(async (tx) => {
            const locked = await lockMovement(tx, movement.id);
            await this.payoutFailed(tx, locked, `the payment provider refused the payout: ${err.pspMessage}`, null);
          });
        } else {
          // Unavailable or an unexpected reply: the movement stays debited and the next round tries again.
          this.deps.logger?.warn({ err, movementId: movement.id }, 'payout not sent; will retry');
        }
      }
    }
    return sent;
  }

  /** The payout failed: the money goes back to the trading account through an operation. */
  async payoutFailed(tx: Executor, movement: Movement, reason: string, pspEventId: string | null): Promise<boolean> {
    const after = await transition(tx, this.deps, movement, {
      from: ['debited', 'payout_pending'],
      to: 'returning',
      set: { failureReason: reason },
      note: {
        source: 'psp',
        type: 'payout.failed',
        message: `The payout failed (${reason}). The money is being returned to your trading account.`,
        details: { pspEventId },
      },
      actor: { type: 'psp', id: movement.psp },
    });
    if (!after) return false;
    await postMovement(tx, this.deps.clock, after, 'withdrawal.payout_failed', { key: 'payout_failed' });
    const account = await fundableAccount(tx, after.tradingAccountId, { allowDemo: true }).catch(() => null);
    if (!account) {
      await this.deps.alerts.raise(tx, {
        kind: 'withdrawal_return_blocked',
        dedupeKey: `withdrawal_return:${after.id}`,
        severity: 'critical',
        title: `withdrawal ${after.id}: the payout failed and the account is no longer open to return the money to`,
        details: { movementId: after.id, pspEventId },
      });
      return true;
    }
    const op = await enqueueOperation(tx, this.deps, {
      kind: 'balance',
      serverCode: account.serverCode,
      login: account.login,
      payload: { amount: after.amountMinor, currency: after.currency, note: 'payout returned' },
      referenceKind: 'compensation',
      handler: 'funding.withdrawal_return',
      requestedBy: 'funding',
      correlationId: after.id,
    });
    await tx.update(moneyMovements).set({ returnOperationId: op.id }).where(eq(moneyMovements.id, after.id));
    return true;
  }

  // --- staff credits and adjustments ---------------------------------------------------------------------------------

  /** A credit (bonus) or a manual adjustment: made by one staff member, posted only after another approves it. */
  async requestStaffMovement(
    kind: 'credit' | 'adjustment',
    staffId: string,
    input: z.input<typeof staffMovementInput>,
  ) {
    const value = staffMovementInput.parse(input);
    if (value.expiresAt && kind !== 'credit') {
      throw new z.ZodError([
        {
          code: 'custom',
          path: ['expiresAt'],
          message: 'only credits expire; leave expiresAt out',
          input: value.expiresAt,
        },
      ]);
    }
    return this.db.transaction(async (tx) => {
      const account = await fundableAccount(tx, value.accountId);
      const now = this.deps.clock.now();
      const [row] = await tx
        .insert(moneyMovements)
        .values({
          kind,
          direction: value.direction,
          status: 'awaiting_approval',
          clientId: account.clientId,
          tradingAccountId: account.id,
          amountMinor: value.amountMinor,
          currency: account.currency,
          requestedByType: 'staff',
          requestedById: staffId,
          reason: value.reason,
          destination: value.expiresAt ? { creditExpiresAt: value.expiresAt } : null,
          createdAt: now,
          updatedAt: now,
        })
        .returning();
      const what = kind === 'credit' ? 'bonus credit' : 'balance adjustment';
      await noteMovement(tx, this.deps.clock, row!.id, {
        source: 'staff',
        type: `${kind}.requested`,
        message: `A ${what} of ${value.direction === 'in' ? '' : '-'}${formatMoney(value.amountMinor, account.currency)} on account ${account.login} was requested.`,
        details: { staffId, reason: value.reason },
      });
      await this.audit(tx, { type: 'staff', id: staffId }, `${kind}.requested`, row!, {
        amountMinor: value.amountMinor,
        direction: value.direction,
        reason: value.reason,
      });
      return row!;
    });
  }

  /**
   * A staff decision on a withdrawal, credit or adjustment. The maker of a request can never approve it; a
   * withdrawal at or above the threshold needs two different approvers. Approval enqueues the server operation.
   */
  async decide(movementId: string, staffId: string, input: z.input<typeof decisionInput>): Promise<Movement> {
    const { decision, comment } = decisionInput.parse(input);
    return this.db.transaction(async (tx) => {
      const movement = await lockMovement(tx, movementId);
      const awaiting =
        movement.kind === 'withdrawal'
          ? ['requested', 'awaiting_second_approval']
          : movement.kind === 'credit' || movement.kind === 'adjustment'
            ? ['awaiting_approval']
            : [];
      if (!awaiting.includes(movement.status)) {
        throw new FundingError(
          'NOT_AWAITING_APPROVAL',
          409,
          `this ${movement.kind} is ${movement.status}; it is not waiting for a decision`,
        );
      }
      if (movement.requestedByType === 'staff' && movement.requestedById === staffId) {
        throw new FundingError('SELF_APPROVAL', 403, 'you made this request: another staff member must decide on it');
      }
      const earlier = await tx.select().from(movementApprovals).where(eq(movementApprovals.movementId, movementId));
      if (earlier.some((a) => a.staffId === staffId)) {
        throw new FundingError(
          'ALREADY_DECIDED',
          403,
          'you have already approved this request: a second, different approver must decide',
        );
      }
      await tx.insert(movementApprovals).values({
        movementId,
        staffId,
        decision,
        comment: comment ?? null,
        at: this.deps.clock.now(),
      });
      const actor = { type: 'staff' as const, id: staffId };
      if (decision === 'reject') {
        return (await transition(tx, this.deps, movement, {
          from: awaiting as MoneyMovementStatus[],
          to: 'rejected',
          set: { failureReason: comment ?? 'rejected' },
          note: {
            source: 'staff',
            type: `${movement.kind}.rejected`,
            message: `Not approved: ${comment}. No money has moved.`,
            details: { staffId },
          },
          actor,
        }))!;
      }
      const approvals = earlier.filter((a) => a.decision === 'approve').length + 1;
      if (movement.kind === 'withdrawal' && movement.amountMinor >= this.deps.dualApprovalMinor && approvals < 2) {
        return (await transition(tx, this.deps, movement, {
          from: ['requested'],
          to: 'awaiting_second_approval',
          note: {
            source: 'staff',
            type: 'withdrawal.first_approval',
            message: 'Approved by finance; a second approval is needed for this amount.',
            details: { staffId, threshold: this.deps.dualApprovalMinor },
          },
          actor,
        }))!;
      }
      const account = await fundableAccount(tx, movement.tradingAccountId, { allowDemo: true });
      const signed = movement.direction === 'in' ? movement.amountMinor : -movement.amountMinor;
      const expiresAt = (movement.destination as { creditExpiresAt?: string } | null)?.creditExpiresAt;
      const op = await enqueueOperation(tx, this.deps, {
        kind: movement.kind === 'credit' ? 'credit' : 'balance',
        serverCode: account.serverCode,
        login: account.login,
        payload: {
          amount: signed,
          currency: movement.currency,
          note: movement.kind,
          ...(expiresAt ? { expiresAt } : {}),
        },
        referenceKind: movement.kind === 'adjustment' ? 'adjustment' : undefined,
        handler: `funding.${movement.kind}`,
        requestedBy: `staff:${staffId}`,
        correlationId: movement.id,
      });
      return (await transition(tx, this.deps, movement, {
        from: awaiting as MoneyMovementStatus[],
        to: 'approved',
        set: { operationId: op.id },
        note: {
          source: 'staff',
          type: `${movement.kind}.approved`,
          message:
            movement.kind === 'withdrawal'
              ? 'Approved. The amount is being taken from your trading account.'
              : 'Approved. It is being applied to the trading account.',
          details: { staffId, operation: op.reference },
        },
        actor,
        correlationId: op.reference,
      }))!;
    });
  }

  // --- transfers -----------------------------------------------------------------------------------------------------

  /** Between two accounts of one client; across currencies at the rate finance set, recorded on the movement. */
  async requestTransfer(clientId: string, input: z.input<typeof transferInput>) {
    const value = transferInput.parse(input);
    if (value.fromAccountId === value.toAccountId) {
      throw new FundingError('SAME_ACCOUNT', 400, 'choose two different accounts');
    }
    const from = await fundableAccount(this.db, value.fromAccountId, { clientId });
    const to = await fundableAccount(this.db, value.toAccountId, { clientId });
    let counterAmount = value.amountMinor;
    let rate: string | null = null;
    if (from.currency !== to.currency) {
      const [row] = await this.db
        .select()
        .from(fxRates)
        .where(and(eq(fxRates.base, from.currency), eq(fxRates.quote, to.currency)));
      if (!row) {
        throw new FundingError(
          'FX_RATE_MISSING',
          422,
          `transfers from ${from.currency} to ${to.currency} are not available yet (no rate is set); contact support`,
        );
      }
      rate = row.rate;
      counterAmount = convertMinor(value.amountMinor, from.currency, to.currency, rate);
      if (counterAmount <= 0) throw new FundingError('AMOUNT_TOO_LARGE', 422, 'the amount is too small to convert');
    }
    const available = await this.withdrawable(from);
    if (value.amountMinor > available) {
      throw new FundingError(
        'INSUFFICIENT_FREE_MARGIN',
        422,
        `you can transfer at most ${formatMoney(available, from.currency)} from account ${from.login} now`,
        { availableMinor: available, currency: from.currency },
      );
    }
    return this.db.transaction(async (tx) => {
      const now = this.deps.clock.now();
      const [row] = await tx
        .insert(moneyMovements)
        .values({
          kind: 'transfer',
          direction: 'out',
          status: 'approved',
          clientId,
          tradingAccountId: from.id,
          amountMinor: value.amountMinor,
          currency: from.currency,
          counterAccountId: to.id,
          counterAmountMinor: counterAmount,
          counterCurrency: to.currency,
          fxRate: rate,
          requestedByType: 'client',
          requestedById: clientId,
          createdAt: now,
          updatedAt: now,
        })
        .returning();
      const legs = await enqueueTransfer(tx, this.deps, {
        from: { serverCode: from.serverCode, login: from.login, amount: value.amountMinor, currency: from.currency },
        to: { serverCode: to.serverCode, login: to.login, amount: counterAmount, currency: to.currency },
        handler: 'funding.transfer',
        requestedBy: `client:${clientId}`,
        correlationId: row!.id,
      });
      const [withOp] = await tx
        .update(moneyMovements)
        .set({ operationId: legs.out.id })
        .where(eq(moneyMovements.id, row!.id))
        .returning();
      await noteMovement(tx, this.deps.clock, row!.id, {
        source: 'client',
        type: 'transfer.requested',
        message:
          rate === null
            ? `You moved ${formatMoney(value.amountMinor, from.currency)} from account ${from.login} to account ${to.login}.`
            : `You moved ${formatMoney(value.amountMinor, from.currency)} from account ${from.login} to account ${to.login}, received as ${formatMoney(counterAmount, to.currency)} at ${rate}.`,
        details: { out: legs.out.reference, in: legs.in.reference, rate },
      });
      await this.audit(tx, { type: 'client', id: clientId }, 'transfer.requested', row!, {
        amountMinor: value.amountMinor,
        counterAmountMinor: counterAmount,
        rate,
      });
      return clientMovementView(withOp!);
    });
  }

  async setFxRate(staffId: string, input: z.input<typeof fxRateInput>) {
    const value = fxRateInput.parse(input);
    convertMinor(1, value.base, value.quote, value.rate);
    return this.db.transaction(async (tx) => {
      const now = this.deps.clock.now();
      const [before] = await tx
        .select()
        .from(fxRates)
        .where(and(eq(fxRates.base, value.base), eq(fxRates.quote, value.quote)));
      const [row] = await tx
        .insert(fxRates)
        .values({ ...value, updatedBy: staffId, updatedAt: now })
        .onConflictDoUpdate({
          target: [fxRates.base, fxRates.quote],
          set: { rate: value.rate, updatedBy: staffId, updatedAt: now },
        })
        .returning();
      await this.deps.audit.record(tx, {
        actorType: 'staff',
        actorId: staffId,
        action: 'fx_rate.set',
        entityType: 'fx_rate',
        entityId: `${value.base}/${value.quote}`,
        before: before ? { rate: before.rate } : null,
        after: { rate: value.rate },
      });
      return row!;
    });
  }

  async listFxRates() {
    return this.db.select().from(fxRates).orderBy(fxRates.base, fxRates.quote);
  }

  // --- queries -------------------------------------------------------------------------------------------------------

  async list(filter: MovementFilter): Promise<{ items: Movement[]; total: number; next: number | null }> {
    const where: SQL[] = [];
    if (filter.clientId) where.push(eq(moneyMovements.clientId, filter.clientId));
    if (filter.accountId) where.push(eq(moneyMovements.tradingAccountId, filter.accountId));
    if (filter.kind) where.push(eq(moneyMovements.kind, filter.kind));
    if (filter.status) where.push(eq(moneyMovements.status, filter.status));
    const condition = where.length ? and(...where) : undefined;
    const items = await this.db
      .select()
      .from(moneyMovements)
      .where(condition)
      .orderBy(desc(moneyMovements.createdAt), desc(moneyMovements.id))
      .limit(filter.limit)
      .offset(filter.offset);
    const [total] = await this.db.select({ n: count() }).from(moneyMovements).where(condition);
    const n = total?.n ?? 0;
    return { items, total: n, next: filter.offset + items.length < n ? filter.offset + items.length : null };
  }

  /** Withdrawals, credits and adjustments waiting for a decision, oldest first. */
  async awaitingDecision(limit: number, offset: number) {
    // One row more than the page tells whether there is a next page; the id makes the order stable across pages.
    const rows = await this.db
      .select()
      .from(moneyMovements)
      .where(inArray(moneyMovements.status, ['requested', 'awaiting_second_approval', 'awaiting_approval']))
      .orderBy(moneyMovements.createdAt, moneyMovements.id)
      .limit(limit + 1)
      .offset(offset);
    const items = rows.slice(0, limit);
    const approvals = items.length
      ? await this.db
          .select()
          .from(movementApprovals)
          .where(
            inArray(
              movementApprovals.movementId,
              items.map((i) => i.id),
            ),
          )
      : [];
    return {
      items: items.map((m) => ({ ...m, approvals: approvals.filter((a) => a.movementId === m.id) })),
      next: rows.length > limit ? offset + limit : null,
    };
  }

  /** A plain read (no lock: support reading a movement must never wait behind a webhook being applied). */
  async get(movementId: string, clientId?: string): Promise<Movement> {
    const [row] = await this.db
      .select()
      .from(moneyMovements)
      .where(
        clientId
          ? and(eq(moneyMovements.id, movementId), eq(moneyMovements.clientId, clientId))
          : eq(moneyMovements.id, movementId),
      );
    if (!row) throw movementNotFound(movementId);
    return row;
  }

  async approvals(movementId: string) {
    return this.db.select().from(movementApprovals).where(eq(movementApprovals.movementId, movementId));
  }

  private async audit(
    tx: Executor,
    actor: { type: 'client' | 'staff'; id: string },
    action: string,
    movement: Movement,
    after: Record<string, unknown>,
  ) {
    await this.deps.audit.record(tx, {
      actorType: actor.type,
      actorId: actor.id,
      action,
      entityType: 'money_movement',
      entityId: movement.id,
      after: { kind: movement.kind, status: movement.status, accountId: movement.tradingAccountId, ...after },
      correlationId: movement.id,
    });
  }
}
