/**
 * Server wall-clock time. MetaTrader servers report times as the wall clock of a configured zone (with daylight
 * saving) written as if it were UTC epoch seconds. These helpers convert between real UTC instants and that form.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** Throws a RangeError naming the zone when it is not a valid IANA time zone. */
export function assertTimeZone(zone: string): void {
  try {
    formatter(zone);
  } catch {
    throw new RangeError(`unknown time zone "${zone}" (use an IANA name such as Europe/Nicosia)`);
  }
}

const BUCKET_MS = 15 * 60_000;
const offsetCache = new Map<string, Map<number, number>>();

function computeOffset(zone: string, utcMs: number): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(utcMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const asUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return Math.round((asUtc - Math.floor(utcMs / 1000) * 1000) / 60000);
}

/**
 * The zone's offset from UTC at a UTC instant, in minutes (e.g. +180 for Nicosia in summer). Offsets change only at
 * transitions on quarter-hour UTC boundaries, so one is computed per 15-minute bucket and cached: listing thousands
 * of deals must not cost an Intl call each.
 */
export function zoneOffsetMinutes(zone: string, utcMs: number): number {
  let byBucket = offsetCache.get(zone);
  if (!byBucket) {
    byBucket = new Map();
    offsetCache.set(zone, byBucket);
  }
  const bucket = Math.floor(utcMs / BUCKET_MS);
  let offset = byBucket.get(bucket);
  if (offset === undefined) {
    offset = computeOffset(zone, bucket * BUCKET_MS);
    if (byBucket.size > 100_000) byBucket.clear();
    byBucket.set(bucket, offset);
  }
  return offset;
}

/** UTC instant → server wall-clock milliseconds ("as if UTC"). */
export function toServerTime(utcMs: number, zone: string): number {
  return utcMs + zoneOffsetMinutes(zone, utcMs) * 60000;
}

/**
 * Server wall-clock milliseconds → UTC instant. Ambiguous wall times (the repeated hour when DST ends) resolve to the
 * earlier instant; non-existent ones (the skipped hour) shift forward, as the servers themselves do.
 */
export function fromServerTime(wallMs: number, zone: string): number {
  let guess = wallMs - zoneOffsetMinutes(zone, wallMs) * 60000;
  for (let i = 0; i < 3; i++) {
    const next = wallMs - zoneOffsetMinutes(zone, guess) * 60000;
    if (next === guess) break;
    guess = next;
  }
  const earlier = guess - 3600_000;
  if (toServerTime(earlier, zone) === wallMs) return earlier;
  return guess;
}
