/**
 * What can go wrong talking to a payment service provider, in the three ways a caller must treat differently:
 *
 * - `WebhookRejected`: an inbound webhook is not to be trusted or not understood (bad signature, timestamp outside the
 *   tolerance window, malformed body). Answer the PSP 4xx and record nothing.
 * - `PspUnavailable`: the PSP could not be reached, timed out, or answered 5xx/429. Safe to retry: every write the
 *   adapter makes is idempotent by its merchantReference, so a retry with the same input cannot create a second
 *   payment or payout (the PSP answers the one it already has).
 * - `PspRejected`: the PSP refused the request on its merits (4xx) with its own code and message. Retrying the same
 *   request will not help.
 */

export type WebhookRejectionReason = 'bad_signature' | 'stale_timestamp' | 'malformed';

export abstract class PaymentProviderError extends Error {
  abstract readonly code: string;
  constructor(
    message: string,
    readonly provider: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class WebhookRejected extends PaymentProviderError {
  override readonly name = 'WebhookRejected';
  readonly code = 'PSP_WEBHOOK_REJECTED';
  constructor(
    readonly reason: WebhookRejectionReason,
    message: string,
    provider: string,
    options?: { cause?: unknown },
  ) {
    super(message, provider, options);
  }
}

export class PspUnavailable extends PaymentProviderError {
  override readonly name = 'PspUnavailable';
  readonly code = 'PSP_UNAVAILABLE';
  readonly retryable = true as const;
  constructor(
    message: string,
    provider: string,
    /** The HTTP status when the PSP answered (5xx, 429); null for network errors and timeouts. */
    readonly httpStatus: number | null,
    /**
     * True when the request may have reached the PSP (timeout or connection lost after sending, or a 5xx): the PSP
     * may have applied it. Retrying with the same merchantReference is still safe; it answers the existing object.
     */
    readonly mayHaveApplied: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, provider, options);
  }
}

export class PspRejected extends PaymentProviderError {
  override readonly name = 'PspRejected';
  readonly code = 'PSP_REJECTED';
  constructor(
    readonly httpStatus: number,
    /** The PSP's own error code, e.g. `invalid_request`, `idempotency_conflict`, `not_found`. */
    readonly pspCode: string,
    /** The PSP's own message. */
    readonly pspMessage: string,
    provider: string,
  ) {
    super(`${provider} refused the request (${httpStatus} ${pspCode}): ${pspMessage}`, provider);
  }
}
