import { describe, expect, it } from 'vitest';
import { isValidZone, serverSecondsToUtc, utcToServerSeconds, zoneOffsetMinutes } from './server-time.ts';

const utc = (s: string) => new Date(`${s}Z`);
const seconds = (s: string) => Date.parse(`${s}Z`) / 1000;

describe('server wall-clock time', () => {
  it('applies the zone with daylight saving', () => {
    expect(utcToServerSeconds(utc('2026-07-15T12:00:00'), 'Europe/Nicosia')).toBe(seconds('2026-07-15T15:00:00'));
    expect(utcToServerSeconds(utc('2026-01-15T12:00:00'), 'Europe/Nicosia')).toBe(seconds('2026-01-15T14:00:00'));
    expect(serverSecondsToUtc(seconds('2026-07-15T15:00:00'), 'Europe/Nicosia')).toEqual(utc('2026-07-15T12:00:00'));
    expect(zoneOffsetMinutes(utc('2026-07-15T12:00:00'), 'America/New_York')).toBe(-240);
  });

  it('round-trips across both DST changes and takes the earlier instant in the repeated hour', () => {
    for (const s of ['2026-03-29T00:59:59', '2026-03-29T01:00:00', '2026-10-25T00:30:00', '2026-10-25T02:00:00']) {
      expect(serverSecondsToUtc(utcToServerSeconds(utc(s), 'Europe/Nicosia'), 'Europe/Nicosia')).toEqual(utc(s));
    }
    // 03:30 on 25 October happens twice in Nicosia (00:30 and 01:30 UTC): wall time cannot tell them apart.
    expect(utcToServerSeconds(utc('2026-10-25T01:30:00'), 'Europe/Nicosia')).toBe(seconds('2026-10-25T03:30:00'));
    expect(serverSecondsToUtc(seconds('2026-10-25T03:30:00'), 'Europe/Nicosia')).toEqual(utc('2026-10-25T00:30:00'));
  });

  it('knows valid zones', () => {
    expect(isValidZone('Europe/Nicosia')).toBe(true);
    expect(isValidZone('EET+2')).toBe(false);
  });
});
