/**
 * What the sandbox PSP does with money: payment sessions and the payments behind them, card outcomes, pending
 * resolution on the simulator clock, refunds, chargebacks, payouts, and the settlement ledger. Every change is
 * journaled before the caller answers, and every change a merchant must hear about publishes a webhook event.
 */
import type { SimClock } from '../common/clock.ts';
import { type CardBehaviour, cardBrand, FAILING_PAYOUT_LAST4 } from './cards.ts';
import {
  type Outcome,
  type PaymentHistoryEntry,
  type PaymentRecord,
  type PayoutDestination,
  type PayoutRecord,
  paymentView,
  payoutView,
  type SettlementRecord,
  type SettlementType,
  type WebhookEventType,
} from './model.ts';
import type { PspState } from './state.ts';
import { DueTimer } from './timer.ts';
import type { WebhookDispatcher } from './webhooks.ts';

/** A refusal with an HTTP status and a stable code (the merchant API answers `{code, message}`). */
export class PspError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface PaymentSessionInput {
  amount: number;
  currency: string;
  merchantReference: string;
  returnUrl: string;
  description?: string | undefined;
}

export interface PayoutInput {
  amount: number;
  currency: string;
  merchantReference: string;
  destination: PayoutDestination;
  description?: string | undefined;
}

export interface CardInput {
  digits: string;
  holderName: string;
  expMonth: number;
  expYear: number;
  behaviour: CardBehaviour;
}

export interface PspEngineOptions {
  state: PspState;
  clock: SimClock;
  webhooks: WebhookDispatcher;
  /** How long a pending card payment waits before it resolves (simulator clock). */
  pendingDelayMs: number;
  /** How long a payout waits before it completes (simulator clock). */
  payoutDelayMs: number;
  log(line: string): void;
}

function destinationLast4(d: PayoutDestination): string {
  return d.type === 'card' ? d.last4 : d.iban.slice(-4);
}

export class PspEngine {
  private readonly pendingPayments = new Set<string>();
  private readonly pendingPayouts = new Set<string>();
  private readonly timer: DueTimer;

  constructor(private readonly o: PspEngineOptions) {
    for (const p of o.state.payments.values()) if (p.status === 'pending') this.pendingPayments.add(p.id);
    for (const p of o.state.payouts.values()) if (p.status === 'pending') this.pendingPayouts.add(p.id);
    this.timer = new DueTimer(
      o.clock,
      () => this.nextDue(),
      (now) => this.runDue(now),
      (error) => o.log(`psp sandbox: scheduled work failed: ${(error as Error).stack ?? String(error)}`),
    );
  }

  /** Resolves whatever fell due while the sandbox was stopped, and arms the timer. */
  start(): void {
    this.timer.poke();
  }

  close(): void {
    this.timer.close();
  }

  // ---- payments ----

  createPaymentSession(input: PaymentSessionInput, hash: string): { payment: PaymentRecord; replayed: boolean } {
    const existing = this.replay('payment', input.merchantReference, hash);
    if (existing) return { payment: this.getPayment(existing), replayed: true };
    const { state } = this.o;
    const now = this.nowIso();
    const { id } = state.newId('payment');
    const payment: PaymentRecord = {
      id,
      merchantReference: input.merchantReference,
      amount: input.amount,
      currency: input.currency,
      description: input.description ?? null,
      returnUrl: input.returnUrl,
      status: 'created',
      refundedAmount: 0,
      chargedBackAmount: 0,
      card: null,
      failureReason: null,
      createdAt: now,
      updatedAt: now,
      resolveAt: null,
      pendingOutcome: null,
      pendingFailureReason: null,
      refunds: [],
      chargeback: null,
      history: [{ type: 'payment.created', at: now }],
    };
    state.payments.put(id, payment);
    state.references.put(`payment:${input.merchantReference}`, { id, bodyHash: hash });
    return { payment, replayed: false };
  }

  getPayment(id: string): PaymentRecord {
    const payment = this.o.state.payments.get(id);
    if (!payment) throw new PspError(404, 'not_found', `no payment ${id}`);
    return payment;
  }

  findPayment(id: string): PaymentRecord | undefined {
    return this.o.state.payments.get(id);
  }

  /** The card form was submitted: a session is paid once; later submissions leave it as it is. */
  pay(id: string, card: CardInput): PaymentRecord {
    const payment = this.getPayment(id);
    if (payment.status !== 'created') return payment;
    const cardInfo = {
      last4: card.digits.slice(-4),
      brand: cardBrand(card.digits),
      holderName: card.holderName,
      expMonth: card.expMonth,
      expYear: card.expYear,
    };
    const b = card.behaviour;
    if (b.immediate === 'succeeded') {
      return this.succeed({ ...payment, card: cardInfo });
    }
    if (b.immediate === 'failed') {
      return this.transition(
        { ...payment, card: cardInfo },
        { status: 'failed', failureReason: b.failureReason ?? 'card_declined' },
        { type: 'payment.failed' },
        'payment.failed',
      );
    }
    const pending = this.transition(
      { ...payment, card: cardInfo },
      {
        status: 'pending',
        resolveAt: this.o.clock.now() + this.o.pendingDelayMs,
        pendingOutcome: b.eventual ?? 'success',
        pendingFailureReason: b.failureReason ?? null,
      },
      { type: 'payment.pending' },
      'payment.pending',
    );
    this.pendingPayments.add(id);
    this.timer.poke();
    return pending;
  }

  /** Resolves a pending payment now (the control API, or its delay ran out). */
  resolvePayment(id: string, outcome?: Outcome, reason?: string): PaymentRecord {
    const payment = this.getPayment(id);
    if (payment.status !== 'pending') {
      throw new PspError(409, 'not_pending', `payment ${id} is ${payment.status}, not pending`);
    }
    this.pendingPayments.delete(id);
    const result = outcome ?? payment.pendingOutcome ?? 'success';
    const cleared = { ...payment, resolveAt: null, pendingOutcome: null, pendingFailureReason: null };
    if (result === 'success') return this.succeed(cleared);
    return this.transition(
      cleared,
      { status: 'failed', failureReason: reason ?? payment.pendingFailureReason ?? 'processing_error' },
      { type: 'payment.failed' },
      'payment.failed',
    );
  }

  refund(id: string, amount?: number): PaymentRecord {
    const payment = this.getPayment(id);
    if (payment.status !== 'succeeded' && payment.status !== 'partially_refunded') {
      throw new PspError(409, 'not_refundable', `payment ${id} is ${payment.status}; only a succeeded payment refunds`);
    }
    const refundable = payment.amount - payment.refundedAmount;
    const value = amount ?? refundable;
    if (value > refundable) {
      throw new PspError(400, 'amount_too_large', `payment ${id} has ${refundable} left to refund, not ${value}`);
    }
    const { id: refundId } = this.o.state.newId('refund');
    const now = this.nowIso();
    const refundedAmount = payment.refundedAmount + value;
    const next = this.transition(
      payment,
      {
        status: refundedAmount === payment.amount ? 'refunded' : 'partially_refunded',
        refundedAmount,
        refunds: [...payment.refunds, { id: refundId, amount: value, createdAt: now }],
      },
      { type: 'payment.refunded', amount: value },
      'payment.refunded',
    );
    this.settle('refund', refundId, { paymentId: id, merchantReference: payment.merchantReference }, -value, payment);
    return next;
  }

  chargeback(id: string, amount?: number, reason = 'fraudulent'): PaymentRecord {
    const payment = this.getPayment(id);
    if (payment.status !== 'succeeded' && payment.status !== 'partially_refunded') {
      throw new PspError(
        409,
        'not_disputable',
        `payment ${id} is ${payment.status}; only a succeeded payment can be charged back`,
      );
    }
    const disputable = payment.amount - payment.refundedAmount;
    const value = amount ?? disputable;
    if (value > disputable) {
      throw new PspError(
        400,
        'amount_too_large',
        `payment ${id} has ${disputable} that can be charged back, not ${value}`,
      );
    }
    const { id: chargebackId } = this.o.state.newId('chargeback');
    const next = this.transition(
      payment,
      {
        status: 'charged_back',
        chargedBackAmount: value,
        chargeback: { id: chargebackId, amount: value, reason, createdAt: this.nowIso() },
      },
      { type: 'payment.charged_back', amount: value },
      'payment.charged_back',
    );
    this.settle(
      'chargeback',
      chargebackId,
      { paymentId: id, merchantReference: payment.merchantReference },
      -value,
      payment,
    );
    return next;
  }

  // ---- payouts ----

  createPayout(input: PayoutInput, hash: string): { payout: PayoutRecord; replayed: boolean } {
    const existing = this.replay('payout', input.merchantReference, hash);
    if (existing) return { payout: this.getPayout(existing), replayed: true };
    const { state, clock } = this.o;
    const now = this.nowIso();
    const { id } = state.newId('payout');
    const fails = destinationLast4(input.destination) === FAILING_PAYOUT_LAST4;
    const payout: PayoutRecord = {
      id,
      merchantReference: input.merchantReference,
      amount: input.amount,
      currency: input.currency,
      description: input.description ?? null,
      destination: input.destination,
      status: 'pending',
      failureReason: null,
      createdAt: now,
      updatedAt: now,
      completeAt: clock.now() + this.o.payoutDelayMs,
      plannedOutcome: fails ? 'failure' : 'success',
      plannedFailureReason: fails ? 'destination_declined' : null,
    };
    state.payouts.put(id, payout);
    state.references.put(`payout:${input.merchantReference}`, { id, bodyHash: hash });
    this.pendingPayouts.add(id);
    this.timer.poke();
    return { payout, replayed: false };
  }

  getPayout(id: string): PayoutRecord {
    const payout = this.o.state.payouts.get(id);
    if (!payout) throw new PspError(404, 'not_found', `no payout ${id}`);
    return payout;
  }

  resolvePayout(id: string, outcome?: Outcome, reason?: string): PayoutRecord {
    const payout = this.getPayout(id);
    if (payout.status !== 'pending') {
      throw new PspError(409, 'not_pending', `payout ${id} is ${payout.status}, not pending`);
    }
    this.pendingPayouts.delete(id);
    const result = outcome ?? payout.plannedOutcome;
    const next: PayoutRecord = {
      ...payout,
      status: result === 'success' ? 'succeeded' : 'failed',
      failureReason: result === 'success' ? null : (reason ?? payout.plannedFailureReason ?? 'destination_declined'),
      completeAt: null,
      updatedAt: this.nowIso(),
    };
    this.o.state.payouts.put(id, next);
    if (next.status === 'succeeded') {
      this.settle('payout', id, { payoutId: id, merchantReference: payout.merchantReference }, -payout.amount, payout);
    }
    this.o.webhooks.publish(next.status === 'succeeded' ? 'payout.succeeded' : 'payout.failed', id, payoutView(next));
    return next;
  }

  // ---- settlements ----

  settlements(from?: Date, to?: Date): SettlementRecord[] {
    const fromMs = from?.getTime() ?? Number.NEGATIVE_INFINITY;
    const toMs = to?.getTime() ?? Number.POSITIVE_INFINITY;
    return [...this.o.state.settlements.values()]
      .filter((s) => {
        const at = Date.parse(s.occurredAt);
        return at >= fromMs && at < toMs;
      })
      .sort((a, b) => a.seq - b.seq);
  }

  get stats() {
    return {
      payments: this.o.state.payments.size,
      pendingPayments: this.pendingPayments.size,
      payouts: this.o.state.payouts.size,
      pendingPayouts: this.pendingPayouts.size,
      settlements: this.o.state.settlements.size,
    };
  }

  // ---- internals ----

  private nowIso(): string {
    return new Date(this.o.clock.now()).toISOString();
  }

  private replay(kind: 'payment' | 'payout', reference: string, hash: string): string | undefined {
    const ref = this.o.state.references.get(`${kind}:${reference}`);
    if (!ref) return undefined;
    if (ref.bodyHash !== hash) {
      throw new PspError(
        409,
        'idempotency_conflict',
        `merchantReference "${reference}" was already used for ${kind} ${ref.id} with a different request`,
      );
    }
    return ref.id;
  }

  private succeed(payment: PaymentRecord): PaymentRecord {
    const next = this.transition(
      payment,
      { status: 'succeeded', failureReason: null },
      { type: 'payment.succeeded' },
      'payment.succeeded',
    );
    this.settle(
      'payment',
      payment.id,
      { paymentId: payment.id, merchantReference: payment.merchantReference },
      payment.amount,
      payment,
    );
    return next;
  }

  /**
   * Applies a change to a payment, records it in the payment's history and publishes its webhook event. The payment
   * is journaled before the event, so an event never describes a state the sandbox could lose.
   */
  private transition(
    payment: PaymentRecord,
    patch: Partial<PaymentRecord>,
    entry: Omit<PaymentHistoryEntry, 'at'>,
    eventType: WebhookEventType,
  ): PaymentRecord {
    const at = this.nowIso();
    const historyEntry: PaymentHistoryEntry = { ...entry, at };
    const next: PaymentRecord = { ...payment, ...patch, updatedAt: at, history: [...payment.history, historyEntry] };
    this.o.state.payments.put(next.id, next);
    const event = this.o.webhooks.publish(eventType, next.id, paymentView(next));
    return this.o.state.payments.put(next.id, {
      ...next,
      history: [...payment.history, { ...historyEntry, eventId: event.id }],
    });
  }

  private settle(
    type: SettlementType,
    sourceId: string,
    ids: { paymentId?: string; payoutId?: string; merchantReference: string },
    amount: number,
    source: { currency: string },
  ): void {
    const { id, seq } = this.o.state.newId('settlement');
    this.o.state.settlements.put(seq, {
      id,
      seq,
      type,
      sourceId,
      paymentId: ids.paymentId ?? null,
      payoutId: ids.payoutId ?? null,
      merchantReference: ids.merchantReference,
      amount,
      currency: source.currency,
      status: 'settled',
      occurredAt: this.nowIso(),
    });
  }

  private nextDue(): number | null {
    let due: number | null = null;
    for (const id of this.pendingPayments) {
      const at = this.o.state.payments.get(id)?.resolveAt ?? null;
      if (at !== null && (due === null || at < due)) due = at;
    }
    for (const id of this.pendingPayouts) {
      const at = this.o.state.payouts.get(id)?.completeAt ?? null;
      if (at !== null && (due === null || at < due)) due = at;
    }
    return due;
  }

  private runDue(now: number): void {
    const due: { at: number; kind: 'payment' | 'payout'; id: string; createdAt: string }[] = [];
    for (const id of this.pendingPayments) {
      const p = this.o.state.payments.get(id);
      if (p?.resolveAt != null && p.resolveAt <= now)
        due.push({ at: p.resolveAt, kind: 'payment', id, createdAt: p.createdAt });
    }
    for (const id of this.pendingPayouts) {
      const p = this.o.state.payouts.get(id);
      if (p?.completeAt != null && p.completeAt <= now)
        due.push({ at: p.completeAt, kind: 'payout', id, createdAt: p.createdAt });
    }
    due.sort((a, b) => a.at - b.at || a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
    for (const d of due) {
      if (d.kind === 'payment') this.resolvePayment(d.id);
      else this.resolvePayout(d.id);
    }
  }
}
