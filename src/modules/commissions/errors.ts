/** Refusals of the commissions module, each with the HTTP status it maps to and a message the caller can act on. */
export type CommissionErrorCode =
  | 'PLAN_NOT_FOUND'
  | 'PLAN_EXISTS'
  | 'PLAN_ARCHIVED'
  | 'PLAN_RULES_INVALID'
  | 'VERSION_RETROACTIVE'
  | 'ASSIGNMENT_RETROACTIVE'
  | 'ASSIGNMENT_EXISTS'
  | 'PARTNER_NOT_FOUND'
  | 'SERVER_NOT_FOUND'
  | 'SERVER_LOGIN_EXISTS'
  | 'SERVER_LOGIN_NOT_FOUND'
  | 'TRADING_ACCOUNT_NOT_FOUND'
  | 'TRADING_ACCOUNT_MISMATCH'
  | 'PERIOD_INVALID'
  | 'PAYOUT_NOT_FOUND'
  | 'PAYOUT_DESTINATION_INVALID'
  | 'PAYOUT_CURRENCY_MISMATCH'
  | 'INSUFFICIENT_COMMISSION_BALANCE'
  | 'PARTNER_NOT_ACTIVE'
  | 'NOT_AWAITING_APPROVAL'
  | 'SELF_APPROVAL'
  | 'NOT_CANCELLABLE';

export class CommissionError extends Error {
  override readonly name = 'CommissionError';
  constructor(
    readonly code: CommissionErrorCode,
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}
