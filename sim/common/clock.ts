/**
 * The simulator's clock: real time plus an offset that the control API can skew or advance. Advancing lets tests
 * cross the 180 s idle limit or a credit's expiry without sleeping; skew reproduces a server whose clock is off.
 */
export class SimClock {
  private offsetMs = 0;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly realNow: () => number = Date.now) {}

  /** UTC epoch milliseconds as the simulated server sees them. */
  now(): number {
    return this.realNow() + this.offsetMs;
  }

  get skewMs(): number {
    return this.offsetMs;
  }

  /** Sets the total offset from real time (a skewed server clock). */
  setSkew(ms: number): void {
    this.offsetMs = ms;
    this.emit();
  }

  /** Moves time forward; timers that depend on it (idle sessions, expiries) are re-evaluated at once. */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError('cannot advance the clock backwards');
    this.offsetMs += ms;
    this.emit();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}
