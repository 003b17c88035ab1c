/** Refusals of the funding module, each with the HTTP status it maps to and a message the caller can act on. */
export type FundingErrorCode =
  | 'MOVEMENT_NOT_FOUND'
  | 'ACCOUNT_NOT_FOUND'
  | 'ACCOUNT_NOT_OPEN'
  | 'ACCOUNT_IS_DEMO'
  | 'KYC_NOT_APPROVED'
  | 'CLIENT_NOT_ACTIVE'
  | 'AMOUNT_TOO_LARGE'
  | 'CURRENCY_MISMATCH'
  | 'INSUFFICIENT_FREE_MARGIN'
  | 'WITHDRAWAL_ALREADY_OPEN'
  | 'SERVER_UNAVAILABLE'
  | 'PSP_NOT_CONFIGURED'
  | 'PSP_UNAVAILABLE'
  | 'PSP_REJECTED'
  | 'NOT_AWAITING_APPROVAL'
  | 'SELF_APPROVAL'
  | 'ALREADY_DECIDED'
  | 'NOT_CANCELLABLE'
  | 'SAME_ACCOUNT'
  | 'FX_RATE_MISSING'
  | 'WEBHOOK_REJECTED'
  | 'WEBHOOK_CONFLICT';

export class FundingError extends Error {
  override readonly name = 'FundingError';
  constructor(
    readonly code: FundingErrorCode,
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const movementNotFound = (id: string) =>
  new FundingError('MOVEMENT_NOT_FOUND', 404, `no money movement ${id} (or it is not yours)`);
