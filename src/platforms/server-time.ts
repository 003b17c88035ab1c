/**
 * MetaTrader reports times as the server's wall clock written as epoch seconds "as if UTC". Each server is
 * configured with its IANA zone (with daylight saving); these convert at the connector boundary so the CRM only
 * ever holds UTC instants.
 */
import { DateTime, IANAZone } from 'luxon';

export function isValidZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

/** Server wall-clock seconds → UTC instant. In the repeated autumn hour the earlier instant is taken. */
export function serverSecondsToUtc(wallSeconds: number, zone: string): Date {
  const wall = DateTime.fromSeconds(wallSeconds, { zone: 'UTC' });
  const local = DateTime.fromObject(
    {
      year: wall.year,
      month: wall.month,
      day: wall.day,
      hour: wall.hour,
      minute: wall.minute,
      second: wall.second,
      millisecond: wall.millisecond,
    },
    { zone },
  );
  // luxon picks the later offset for an ambiguous time; prefer the earlier instant when it is also a match.
  const earlier = local.minus({ hours: 1 });
  const sameWall = earlier.toFormat('yyyy-MM-dd HH:mm:ss') === local.toFormat('yyyy-MM-dd HH:mm:ss');
  return (sameWall ? earlier : local).toJSDate();
}

/** UTC instant → server wall-clock seconds. */
export function utcToServerSeconds(instant: Date, zone: string): number {
  const dt = DateTime.fromJSDate(instant, { zone });
  return Math.floor(instant.getTime() / 1000) + dt.offset * 60;
}

export function zoneOffsetMinutes(instant: Date, zone: string): number {
  return DateTime.fromJSDate(instant, { zone }).offset;
}
