/**
 * A circuit breaker per trading server: after `failureThreshold` consecutive transport failures it opens and
 * refuses calls (nothing is sent) for `openMs`; then it lets exactly one probe through. A successful probe closes it,
 * a failed one opens it again. Only failures that say the server is unwell count (not sent, ambiguous); a definitive
 * refusal is a healthy server saying no.
 *
 * Hand-written rather than a library because it must run on the injected clock and classify our error classes.
 */
import type { Clock } from '../clock.ts';

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  failureThreshold?: number;
  openMs?: number;
  onStateChange?: (state: CircuitState, previous: CircuitState) => void;
}

export class CircuitBreaker {
  private currentState: CircuitState = 'closed';
  private consecutiveFailures = 0;
  private openedAt = 0;
  private probeInFlight = false;
  readonly failureThreshold: number;
  readonly openMs: number;

  constructor(
    private readonly clock: Clock,
    private readonly options: CircuitBreakerOptions = {},
  ) {
    this.failureThreshold = options.failureThreshold ?? 5;
    this.openMs = options.openMs ?? 30_000;
  }

  get state(): CircuitState {
    if (this.currentState === 'open' && this.clock.now().getTime() - this.openedAt >= this.openMs) {
      this.transition('half_open');
    }
    return this.currentState;
  }

  get failures(): number {
    return this.consecutiveFailures;
  }

  /** Asks to make one call. False = the circuit refuses it (open, or a probe is already out). */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open') return false;
    if (this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  recordSuccess(): void {
    this.probeInFlight = false;
    this.consecutiveFailures = 0;
    if (this.currentState !== 'closed') this.transition('closed');
  }

  recordFailure(): void {
    this.probeInFlight = false;
    this.consecutiveFailures += 1;
    if (this.currentState === 'half_open' || this.consecutiveFailures >= this.failureThreshold) {
      this.openedAt = this.clock.now().getTime();
      if (this.currentState !== 'open') this.transition('open');
    }
  }

  /** A call that was let through but ended without a verdict (e.g. cancelled): free the probe slot. */
  release(): void {
    this.probeInFlight = false;
  }

  private transition(next: CircuitState): void {
    const previous = this.currentState;
    this.currentState = next;
    this.options.onStateChange?.(next, previous);
  }
}
