/**
 * MetaTrader reports times as the server's wall clock written as epoch seconds "as if UTC". Each server is
 * configured with its IANA zone (with daylight saving); these convert at the connector boundary so the CRM only
 * ever holds UTC instants.
 */
import { DateTime, IANAZone } from 'luxon';

export function isValidZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

const BUCKET_MS = 15 * 60_000;
const offsetCache = new Map<string, Map<number, number>>();

/**
 * The zone's offset from UTC at an instant, in minutes. Transitions fall on quarter-hour UTC boundaries, so the
 * offset is computed once per 15-minute bucket and cached (converting every deal of a backfill must be cheap).
 */
function offsetAt(utcMs: number, zone: string): number {
  let byBucket = offsetCache.get(zone);
  if (!byBucket) {
    byBucket = new Map();
    offsetCache.set(zone, byBucket);
  }
  const bucket = Math.floor(utcMs / BUCKET_MS);
  let offset = byBucket.get(bucket);
  if (offset === undefined) {
    offset = DateTime.fromMillis(bucket * BUCKET_MS, { zone }).offset;
    if (byBucket.size > 100_000) byBucket.clear();
    byBucket.set(bucket, offset);
  }
  return offset;
}

/**
 * Server wall-clock seconds → UTC instant. In the repeated autumn hour the earlier instant is taken; a wall time in
 * the skipped spring hour (which a server never writes) is read with the offset before the change.
 */
export function serverSecondsToUtc(wallSeconds: number, zone: string): Date {
  const wallMs = Math.round(wallSeconds * 1000);
  const before = offsetAt(wallMs - 86_400_000, zone);
  const after = offsetAt(wallMs + 86_400_000, zone);
  const candidates = [wallMs - before * 60_000, wallMs - after * 60_000].filter(
    (utc) => utc + offsetAt(utc, zone) * 60_000 === wallMs,
  );
  return new Date(candidates.length > 0 ? Math.min(...candidates) : wallMs - before * 60_000);
}

/** UTC instant → server wall-clock seconds. */
export function utcToServerSeconds(instant: Date, zone: string): number {
  return Math.floor(instant.getTime() / 1000) + offsetAt(instant.getTime(), zone) * 60;
}

export function zoneOffsetMinutes(instant: Date, zone: string): number {
  return offsetAt(instant.getTime(), zone);
}
