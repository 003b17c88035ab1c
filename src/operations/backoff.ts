/** Capped exponential backoff with jitter, so retries of many operations against one server do not march in step. */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
  /** 0..1: how much of the delay is randomised. */
  jitter: number;
}

export const defaultBackoff: BackoffPolicy = { baseMs: 1000, capMs: 60_000, jitter: 0.2 };

export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const spread = exp * policy.jitter;
  return Math.round(exp - spread + random() * 2 * spread);
}
