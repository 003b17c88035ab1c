/**
 * Business dates and cut-offs. A run for date D compares everything up to D's cut-off: D at the configured time of
 * day (`HH:MM`) in the configured zone, daylight saving included; the day's window starts at the previous date's
 * cut-off, so a day is 23 or 25 hours long across a clock change and windows never overlap or leave a gap.
 */
import { DateTime, IANAZone } from 'luxon';

const TIME = /^([01][0-9]|2[0-3]):([0-5][0-9])$/;
const DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;

export function isValidCutoff(value: string): boolean {
  return TIME.test(value);
}

export function isValidBusinessDate(value: string): boolean {
  return DATE.test(value) && DateTime.fromISO(value, { zone: 'UTC' }).isValid;
}

export function isValidTimeZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

/**
 * The instant of `date` at `cutoff` in `zone`. A wall time the spring change skips is moved forward by the length of
 * the gap (luxon: 03:30 in a 03:00 → 04:00 gap is 04:30); in the repeated autumn hour the earlier instant is taken.
 */
export function cutoffInstant(date: string, cutoff: string, zone: string): Date {
  const match = TIME.exec(cutoff);
  if (!match) throw new RangeError(`cut-off "${cutoff}" is not HH:MM`);
  if (!isValidBusinessDate(date)) throw new RangeError(`"${date}" is not a date (YYYY-MM-DD)`);
  const local = DateTime.fromISO(date, { zone }).set({
    hour: Number(match[1]),
    minute: Number(match[2]),
    second: 0,
    millisecond: 0,
  });
  if (!local.isValid) throw new RangeError(`"${date} ${cutoff}" is not a time in ${zone}`);
  return local.toJSDate();
}

/** The date before `date` (calendar arithmetic, no zone involved). */
export function previousDate(date: string): string {
  return DateTime.fromISO(date, { zone: 'UTC' }).minus({ days: 1 }).toISODate()!;
}

export interface BusinessDay {
  date: string;
  windowStart: Date;
  cutoffAt: Date;
}

export function businessDay(date: string, cutoff: string, zone: string): BusinessDay {
  return {
    date,
    windowStart: cutoffInstant(previousDate(date), cutoff, zone),
    cutoffAt: cutoffInstant(date, cutoff, zone),
  };
}

/** The latest business date whose cut-off is at or before `now` (the date the scheduler should have run). */
export function latestDueDate(now: Date, cutoff: string, zone: string): string {
  const today = DateTime.fromJSDate(now, { zone }).toISODate()!;
  return cutoffInstant(today, cutoff, zone).getTime() <= now.getTime() ? today : previousDate(today);
}
