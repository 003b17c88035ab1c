/**
 * Commission periods are in UTC (the API buckets by UTC day and month): a month is `[YYYY-MM-01, next month)`, a
 * typed date range is inclusive of its last day for people and exclusive for the API.
 */

/** ISO date-times for the API; `to` is exclusive. (A type, not an interface: it passes as a query.) */
export type Period = {
  from: string;
  to: string;
};

const pad = (n: number) => String(n).padStart(2, '0');

/** "2026-05" for a date (UTC). */
export function monthKey(date: Date): string {
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}`;
}

export function isMonthKey(value: string | undefined): value is string {
  return !!value && /^\d{4}-(0[1-9]|1[0-2])$/.test(value);
}

export function monthPeriod(key: string): Period {
  const [y, m] = key.split('-').map(Number) as [number, number];
  return { from: new Date(Date.UTC(y, m - 1, 1)).toISOString(), to: new Date(Date.UTC(y, m, 1)).toISOString() };
}

/** The month `offset` months from the one `now` is in (0 = this month, -1 = last month). */
export function monthFrom(now: Date, offset: number): string {
  return monthKey(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1)));
}

export function monthLabel(key: string): string {
  const [y, m] = key.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m - 1, 1)).toLocaleString('en-GB', { month: 'long', year: 'numeric', timeZone: 'UTC' });
}

/** "YYYY-MM-DD" (UTC) of an ISO date-time. */
export function dayOf(iso: string): string {
  return iso.slice(0, 10);
}

/** Dates typed as YYYY-MM-DD, both inclusive → the API's period; an error text when they do not make one. */
export function rangePeriod(fromDay: string, toDayInclusive: string): Period | { error: string } {
  const day = /^\d{4}-\d{2}-\d{2}$/;
  if (!day.test(fromDay) || !day.test(toDayInclusive)) return { error: 'Enter both dates' };
  const from = new Date(`${fromDay}T00:00:00Z`);
  const to = new Date(`${toDayInclusive}T00:00:00Z`);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) return { error: 'Enter valid dates' };
  if (to < from) return { error: 'The end date is before the start date' };
  to.setUTCDate(to.getUTCDate() + 1);
  return { from: from.toISOString(), to: to.toISOString() };
}

/** The last day a period includes (its exclusive end minus one day), as YYYY-MM-DD. */
export function lastDayOf(period: Period): string {
  const to = new Date(period.to);
  to.setUTCDate(to.getUTCDate() - 1);
  return to.toISOString().slice(0, 10);
}

export function periodLabel(period: Period): string {
  const from = dayOf(period.from);
  const last = lastDayOf(period);
  const month = monthKey(new Date(period.from));
  const whole = monthPeriod(month);
  if (whole.from === new Date(period.from).toISOString() && whole.to === new Date(period.to).toISOString()) {
    return monthLabel(month);
  }
  return from === last ? `${from} (UTC)` : `${from} – ${last} (UTC)`;
}

/** Every bucket start from `from` to `to` (day or month, UTC), so that a chart shows empty days as zero. */
export function bucketStarts(period: Period, size: 'day' | 'month'): string[] {
  const out: string[] = [];
  const end = new Date(period.to).getTime();
  const start = new Date(period.from);
  let cursor =
    size === 'day'
      ? new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate()))
      : new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), 1));
  while (cursor.getTime() < end && out.length < 1000) {
    out.push(cursor.toISOString());
    cursor =
      size === 'day'
        ? new Date(Date.UTC(cursor.getUTCFullYear(), cursor.getUTCMonth(), cursor.getUTCDate() + 1))
        : new Date(Date.UTC(cursor.getUTCFullYear(), cursor.getUTCMonth() + 1, 1));
  }
  return out;
}

export function bucketLabel(iso: string, size: 'day' | 'month'): string {
  const date = new Date(iso);
  return size === 'day'
    ? date.toLocaleString('en-GB', { day: '2-digit', month: 'short', timeZone: 'UTC' })
    : date.toLocaleString('en-GB', { month: 'short', year: 'numeric', timeZone: 'UTC' });
}
