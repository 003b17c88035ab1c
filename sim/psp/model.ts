/**
 * The sandbox's records (as journaled in the state store) and their wire views (as the merchant API and webhooks
 * show them). Records are plain JSON; times the scheduler needs are epoch milliseconds on the simulator clock, times
 * clients see are ISO-8601 UTC strings.
 */

export const paymentStatuses = [
  'created',
  'pending',
  'succeeded',
  'failed',
  'refunded',
  'partially_refunded',
  'charged_back',
] as const;
export type PaymentStatus = (typeof paymentStatuses)[number];

export const payoutStatuses = ['pending', 'succeeded', 'failed'] as const;
export type PayoutStatus = (typeof payoutStatuses)[number];

export const webhookEventTypes = [
  'payment.pending',
  'payment.succeeded',
  'payment.failed',
  'payment.refunded',
  'payment.charged_back',
  'payout.succeeded',
  'payout.failed',
] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

export type Outcome = 'success' | 'failure';

export interface PaymentHistoryEntry {
  type: string;
  at: string;
  eventId?: string;
  amount?: number;
}

export interface RefundRecord {
  id: string;
  amount: number;
  createdAt: string;
}

export interface ChargebackRecord {
  id: string;
  amount: number;
  reason: string;
  createdAt: string;
}

/** A payment session and the payment behind it share one record and one id. */
export interface PaymentRecord {
  id: string;
  merchantReference: string;
  amount: number;
  currency: string;
  description: string | null;
  returnUrl: string;
  status: PaymentStatus;
  refundedAmount: number;
  chargedBackAmount: number;
  card: { last4: string; brand: string; holderName: string; expMonth: number; expYear: number } | null;
  failureReason: string | null;
  createdAt: string;
  updatedAt: string;
  /** A pending payment resolves at this instant (simulator clock, epoch ms) with this outcome. */
  resolveAt: number | null;
  pendingOutcome: Outcome | null;
  pendingFailureReason: string | null;
  refunds: RefundRecord[];
  chargeback: ChargebackRecord | null;
  history: PaymentHistoryEntry[];
}

export type PayoutDestination = { type: 'card'; last4: string } | { type: 'bank_account'; iban: string };

export interface PayoutRecord {
  id: string;
  merchantReference: string;
  amount: number;
  currency: string;
  description: string | null;
  destination: PayoutDestination;
  status: PayoutStatus;
  failureReason: string | null;
  createdAt: string;
  updatedAt: string;
  completeAt: number | null;
  plannedOutcome: Outcome;
  plannedFailureReason: string | null;
}

export type SettlementType = 'payment' | 'refund' | 'chargeback' | 'payout';

export interface SettlementRecord {
  id: string;
  seq: number;
  type: SettlementType;
  /** The payment, refund, chargeback or payout this line settles. */
  sourceId: string;
  paymentId: string | null;
  payoutId: string | null;
  merchantReference: string;
  /** Signed minor units: money in to the merchant is positive, money out negative. */
  amount: number;
  currency: string;
  status: 'settled';
  occurredAt: string;
}

export interface EventRecord {
  id: string;
  seq: number;
  type: WebhookEventType;
  createdAt: string;
  objectId: string;
  /** The exact JSON body sent on every attempt (signatures are over these bytes). */
  body: string;
}

export type DeliveryState = 'held' | 'scheduled' | 'delivered' | 'gave_up' | 'no_url';

/** One copy of an event on its way to the merchant (duplicate mode makes two; a resend makes another). */
export interface DeliveryRecord {
  id: string;
  seq: number;
  eventId: string;
  eventType: WebhookEventType;
  copy: number;
  state: DeliveryState;
  /** Why it is held: 'late' (until heldUntil) or 'batch' (until the out-of-order batch is released). */
  holdKind: 'late' | 'batch' | null;
  heldUntil: number | null;
  nextAttemptAt: number | null;
  attempts: number;
  lastError: string | null;
  createdAt: string;
}

export interface AttemptRecord {
  seq: number;
  deliveryId: string;
  eventId: string;
  eventType: WebhookEventType;
  attempt: number;
  url: string;
  sentAt: string;
  signature: string;
  outcome: 'delivered' | 'http_error' | 'network_error';
  httpStatus: number | null;
  error: string | null;
  durationMs: number;
  responseBody: string | null;
}

export const webhookModes = ['normal', 'duplicate', 'late', 'out_of_order'] as const;
export type WebhookMode = (typeof webhookModes)[number];

export interface WebhookModeSetting {
  mode: WebhookMode;
  /** How long `late` holds each delivery (simulator clock). */
  lateMs: number;
  /** How many deliveries `out_of_order` collects before releasing them newest first. */
  batchSize: number;
}

export function paymentView(p: PaymentRecord) {
  return {
    object: 'payment' as const,
    id: p.id,
    status: p.status,
    amount: p.amount,
    refundedAmount: p.refundedAmount,
    chargedBackAmount: p.chargedBackAmount,
    currency: p.currency,
    merchantReference: p.merchantReference,
    description: p.description,
    card: p.card ? { last4: p.card.last4, brand: p.card.brand } : null,
    failureReason: p.failureReason,
    refunds: p.refunds,
    chargeback: p.chargeback,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
    events: p.history,
  };
}

export function sessionView(p: PaymentRecord, baseUrl: string) {
  return {
    object: 'payment_session' as const,
    id: p.id,
    status: p.status,
    hostedPageUrl: `${baseUrl}/pay/${p.id}`,
    amount: p.amount,
    currency: p.currency,
    merchantReference: p.merchantReference,
    description: p.description,
    returnUrl: p.returnUrl,
    createdAt: p.createdAt,
  };
}

export function payoutView(p: PayoutRecord) {
  return {
    object: 'payout' as const,
    id: p.id,
    status: p.status,
    amount: p.amount,
    currency: p.currency,
    merchantReference: p.merchantReference,
    description: p.description,
    destination: p.destination,
    failureReason: p.failureReason,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

export function settlementView(s: SettlementRecord) {
  return {
    id: s.id,
    type: s.type,
    sourceId: s.sourceId,
    paymentId: s.paymentId,
    payoutId: s.payoutId,
    merchantReference: s.merchantReference,
    amount: s.amount,
    currency: s.currency,
    status: s.status,
    occurredAt: s.occurredAt,
  };
}
