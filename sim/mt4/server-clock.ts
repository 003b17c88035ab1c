/**
 * MT4 reports every time as server wall-clock seconds (the configured zone's local time written as if it were UTC).
 * All records of the simulator take their times from here, so advancing or skewing the SimClock moves them all.
 */
import type { SimClock } from '../common/clock.ts';
import { fromServerTime, toServerTime } from '../common/timezone.ts';

export class ServerClock {
  constructor(
    readonly clock: SimClock,
    readonly zone: string,
  ) {}

  /** Now, in server wall-clock seconds. */
  now(): number {
    return Math.floor(toServerTime(this.clock.now(), this.zone) / 1000);
  }

  /** A server wall-clock second as a UTC instant (for banners and the control API). */
  toUtc(serverSeconds: number): Date {
    return new Date(fromServerTime(serverSeconds * 1000, this.zone));
  }
}
