/**
 * Runs due work on the simulator clock: one real timer armed for the earliest due instant (re-armed at most a minute
 * ahead, so very long delays are re-evaluated), and an immediate run whenever the clock is skewed or advanced, so a
 * test that advances the clock never waits in real time.
 */
import type { SimClock } from '../common/clock.ts';

export class DueTimer {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly clock: SimClock,
    private readonly nextDue: () => number | null,
    private readonly run: (now: number) => void,
    private readonly onError: (error: unknown) => void,
  ) {
    this.unsubscribe = clock.onChange(() => this.poke());
  }

  /** Runs whatever is due now, then arms the timer for the next due instant. */
  poke(): void {
    if (this.closed) return;
    try {
      this.run(this.clock.now());
    } catch (error) {
      this.onError(error);
    }
    this.arm();
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    const due = this.nextDue();
    if (due === null) return;
    const delay = Math.min(Math.max(due - this.clock.now(), 0), 60_000);
    this.timer = setTimeout(() => this.poke(), delay);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
