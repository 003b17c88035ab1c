/**
 * The boundary between the CRM and payment service providers. Funding code talks to a `PaymentProvider`; each PSP
 * gets one adapter (src/payments/<psp>.ts) that alone knows its wire format. Everything crossing the boundary is
 * normalised: amounts are integers in minor units, times are Dates (UTC instants), statuses are the values below.
 *
 * Idempotency: the CRM's `merchantReference` (≤ 64 characters) is the PSP-side idempotency key for every write, so a
 * retried call after `PspUnavailable` returns the object the first call created; the PSP's ids (`pspPaymentId`,
 * `pspPayoutId`, settlement `pspTransactionId`) and the webhook `eventId` are the keys for everything inbound.
 */

export type PspPaymentStatus =
  | 'created'
  | 'pending'
  | 'succeeded'
  | 'failed'
  | 'refunded'
  | 'partially_refunded'
  | 'charged_back';

export type PspPayoutStatus = 'pending' | 'succeeded' | 'failed';

export type PspEventType =
  | 'payment.pending'
  | 'payment.succeeded'
  | 'payment.failed'
  | 'payment.refunded'
  | 'payment.charged_back'
  | 'payout.succeeded'
  | 'payout.failed';

export interface PspPayment {
  pspPaymentId: string;
  merchantReference: string;
  status: PspPaymentStatus;
  amountMinor: number;
  /** Total refunded so far (minor units). */
  refundedMinor: number;
  /** Amount taken back by a chargeback (minor units), 0 when none. */
  chargedBackMinor: number;
  currency: string;
  failureReason?: string | undefined;
  cardLast4?: string | undefined;
  createdAt: Date;
  updatedAt: Date;
}

export interface PspPaymentSession {
  /** The session and the payment behind it share this id. */
  pspPaymentId: string;
  status: PspPaymentStatus;
  /** Where to send the client to pay. */
  hostedPageUrl: string;
  amountMinor: number;
  currency: string;
  merchantReference: string;
  createdAt: Date;
}

export type PayoutDestination = { type: 'card'; last4: string } | { type: 'bank_account'; iban: string };

export interface PspPayout {
  pspPayoutId: string;
  merchantReference: string;
  status: PspPayoutStatus;
  amountMinor: number;
  currency: string;
  failureReason?: string | undefined;
  createdAt: Date;
  updatedAt: Date;
}

export interface CreatePaymentSessionInput {
  amountMinor: number;
  /** ISO 4217, three capital letters. */
  currency: string;
  /** The CRM's reference (≤ 64 characters): the PSP's idempotency key. */
  merchantReference: string;
  /** Where the PSP sends the client back; it appends `session` and `status` query parameters. */
  returnUrl: string;
  description?: string | undefined;
}

export interface CreatePayoutInput {
  amountMinor: number;
  currency: string;
  merchantReference: string;
  destination: PayoutDestination;
  description?: string | undefined;
}

export type PspSettlementType = 'payment' | 'refund' | 'chargeback' | 'payout';

/** One line of the PSP's settlement report: money that actually moved. */
export interface PspSettlement {
  pspTransactionId: string;
  type: PspSettlementType;
  /** The payment, refund, chargeback or payout the line settles. */
  sourceId: string;
  pspPaymentId?: string | undefined;
  pspPayoutId?: string | undefined;
  merchantReference: string;
  /** Signed minor units: money to the merchant positive, money out (refunds, chargebacks, payouts) negative. */
  amountMinor: number;
  currency: string;
  status: string;
  occurredAt: Date;
}

/** A verified, normalised webhook. `eventId` is unique per event and the same on every redelivery. */
export interface PspEvent {
  provider: string;
  eventId: string;
  type: PspEventType;
  occurredAt: Date;
  payment?: PspPayment | undefined;
  payout?: PspPayout | undefined;
}

/** Request headers as Node gives them (lower-case names) or a fetch `Headers`. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface PaymentProvider {
  /** A short name for logs and records, e.g. "sandbox". */
  readonly name: string;
  createPaymentSession(input: CreatePaymentSessionInput): Promise<PspPaymentSession>;
  getPayment(pspPaymentId: string): Promise<PspPayment>;
  createPayout(input: CreatePayoutInput): Promise<PspPayout>;
  getPayout(pspPayoutId: string): Promise<PspPayout>;
  /** Everything the PSP settled in [from, to). */
  listSettlements(from: Date, to: Date): Promise<PspSettlement[]>;
  /**
   * Verifies and normalises an inbound webhook. `rawBody` must be the exact bytes received (signatures are over
   * them); `now` is the receiver's clock for the freshness check. Throws `WebhookRejected`.
   */
  parseWebhook(headers: WebhookHeaders, rawBody: Buffer | string, now: Date): PspEvent;
}
