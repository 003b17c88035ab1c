/** Business days and cut-offs: zones with daylight saving, the day before, and which date is due. */
import { describe, expect, it } from 'vitest';
import { businessDay, cutoffInstant, isValidBusinessDate, latestDueDate, previousDate } from './schedule.ts';

describe('reconciliation cut-offs', () => {
  it('puts the cut-off at the local time of the zone', () => {
    expect(cutoffInstant('2026-03-02', '22:00', 'UTC').toISOString()).toBe('2026-03-02T22:00:00.000Z');
    // Cyprus: UTC+2 in winter, UTC+3 in summer.
    expect(cutoffInstant('2026-01-15', '22:00', 'Europe/Nicosia').toISOString()).toBe('2026-01-15T20:00:00.000Z');
    expect(cutoffInstant('2026-07-15', '22:00', 'Europe/Nicosia').toISOString()).toBe('2026-07-15T19:00:00.000Z');
  });

  it('makes a day 23 or 25 hours long across a clock change, with no gap or overlap', () => {
    // EU summer time starts on 2026-03-29, ends on 2026-10-25.
    const spring = businessDay('2026-03-29', '22:00', 'Europe/Nicosia');
    expect((spring.cutoffAt.getTime() - spring.windowStart.getTime()) / 3_600_000).toBe(23);
    const autumn = businessDay('2026-10-25', '22:00', 'Europe/Nicosia');
    expect((autumn.cutoffAt.getTime() - autumn.windowStart.getTime()) / 3_600_000).toBe(25);
    const next = businessDay('2026-03-30', '22:00', 'Europe/Nicosia');
    expect(next.windowStart.getTime()).toBe(spring.cutoffAt.getTime());
  });

  it('moves a cut-off inside the skipped spring hour forward by the gap, and takes the first of a repeated hour', () => {
    // 03:30 does not exist in Nicosia on 2026-03-29 (03:00 → 04:00): 04:30 local.
    expect(cutoffInstant('2026-03-29', '03:30', 'Europe/Nicosia').toISOString()).toBe('2026-03-29T01:30:00.000Z');
    // 03:30 happens twice on 2026-10-25 (04:00 → 03:00): the first, at UTC+3.
    expect(cutoffInstant('2026-10-25', '03:30', 'Europe/Nicosia').toISOString()).toBe('2026-10-25T00:30:00.000Z');
    // Due once the first 03:30 has passed, though the local clock shows 03:00 again.
    expect(latestDueDate(new Date('2026-10-25T01:00:00Z'), '03:30', 'Europe/Nicosia')).toBe('2026-10-25');
  });

  it('knows the previous date across months and years', () => {
    expect(previousDate('2026-03-01')).toBe('2026-02-28');
    expect(previousDate('2024-03-01')).toBe('2024-02-29');
    expect(previousDate('2026-01-01')).toBe('2025-12-31');
  });

  it('refuses what is not a date or a time', () => {
    expect(isValidBusinessDate('2026-02-30')).toBe(false);
    expect(isValidBusinessDate('2026-2-3')).toBe(false);
    expect(() => cutoffInstant('2026-03-02', '24:00', 'UTC')).toThrow(RangeError);
    expect(() => cutoffInstant('yesterday', '22:00', 'UTC')).toThrow(RangeError);
  });

  it('is due for today once the cut-off has passed, else for yesterday', () => {
    expect(latestDueDate(new Date('2026-03-02T21:59:59Z'), '22:00', 'UTC')).toBe('2026-03-01');
    expect(latestDueDate(new Date('2026-03-02T22:00:00Z'), '22:00', 'UTC')).toBe('2026-03-02');
    // 23:30 UTC on 2 March is 01:30 on 3 March in Nicosia: the 3rd's cut-off (22:00 local) is still ahead.
    expect(latestDueDate(new Date('2026-03-02T23:30:00Z'), '22:00', 'Europe/Nicosia')).toBe('2026-03-02');
  });
});
