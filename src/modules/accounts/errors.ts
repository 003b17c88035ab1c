/** Refusals of the accounts module, each with the HTTP status it maps to and a message the caller can act on. */
export type AccountErrorCode =
  | 'ACCOUNT_NOT_FOUND'
  | 'PRODUCT_NOT_FOUND'
  | 'CLIENT_NOT_ACTIVE'
  | 'EMAIL_NOT_VERIFIED'
  | 'LEVERAGE_NOT_ALLOWED'
  | 'ACCOUNT_NOT_OPEN'
  | 'GROUP_NOT_ON_SERVER'
  | 'MONEY_PENDING'
  | 'NOTHING_TO_CHANGE';

export class AccountError extends Error {
  override readonly name = 'AccountError';
  constructor(
    readonly code: AccountErrorCode,
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}
