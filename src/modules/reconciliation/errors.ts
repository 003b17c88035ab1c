/** What the reconciliation refuses, with the HTTP status that says so and a message an operator can act on. */
export type ReconErrorCode =
  | 'RECON_INVALID_DATE'
  | 'RECON_CUTOFF_NOT_REACHED'
  | 'RECON_RUN_IN_PROGRESS'
  | 'RECON_RUN_NOT_FOUND'
  | 'RECON_BREAK_NOT_FOUND'
  | 'RECON_BREAK_NOT_OPEN'
  | 'RECON_NOT_RETRYABLE'
  | 'RECON_LINK_NOT_APPLICABLE'
  | 'RECON_EXTERNAL_CHANGE_MISMATCH'
  | 'RECON_WRITE_OFF_NOT_APPLICABLE'
  | 'RECON_WRITE_OFF_PENDING'
  | 'RECON_WRITE_OFF_NOT_FOUND'
  | 'RECON_WRITE_OFF_DECIDED'
  | 'RECON_WRITE_OFF_STALE'
  | 'RECON_WRITE_OFF_OVERLAP'
  | 'RECON_SAME_STAFF';

export class ReconError extends Error {
  override readonly name = 'ReconError';
  constructor(
    readonly code: ReconErrorCode,
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}
