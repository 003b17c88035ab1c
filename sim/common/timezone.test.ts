import { describe, expect, it } from 'vitest';
import { assertTimeZone, fromServerTime, toServerTime, zoneOffsetMinutes } from './timezone.ts';

const utc = (s: string) => Date.parse(`${s}Z`);

describe('server wall-clock time', () => {
  it('follows daylight saving in Europe/Nicosia', () => {
    expect(zoneOffsetMinutes('Europe/Nicosia', utc('2026-01-15T12:00:00'))).toBe(120);
    expect(zoneOffsetMinutes('Europe/Nicosia', utc('2026-07-15T12:00:00'))).toBe(180);
    expect(toServerTime(utc('2026-07-15T12:00:00'), 'Europe/Nicosia')).toBe(utc('2026-07-15T15:00:00'));
  });

  it('round-trips, and resolves the repeated autumn hour to the earlier instant', () => {
    for (const s of ['2026-03-29T00:30:00', '2026-06-01T10:00:00', '2026-10-25T00:59:59', '2026-12-31T23:59:59']) {
      expect(fromServerTime(toServerTime(utc(s), 'Europe/Nicosia'), 'Europe/Nicosia')).toBe(utc(s));
    }
    // 2026-10-25 03:30 Nicosia happens twice (EEST then EET); the earlier is 00:30 UTC.
    expect(fromServerTime(utc('2026-10-25T03:30:00'), 'Europe/Nicosia')).toBe(utc('2026-10-25T00:30:00'));
  });

  it('rejects an unknown zone by name', () => {
    expect(() => assertTimeZone('Mars/Olympus')).toThrow(/unknown time zone "Mars\/Olympus"/);
  });
});
