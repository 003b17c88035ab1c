/**
 * A commission line recomputed from what it states, with the API's arithmetic (rules.ts): `perLotRate × volume /
 * 10 000 + base × percent / 100`, exact in BigInt, rounded once half to even to minor units. `perLotRate` is in minor
 * units per lot; `base` is the trade's revenue (level 0 revenue share) or the direct partner's amount (overrides).
 * A reversal carries the negated amount of the line it reverses.
 */
import type { Line } from './types.ts';

interface Dec {
  n: bigint;
  scale: number;
}

function dec(value: string): Dec {
  const s = value.trim();
  if (!/^-?[0-9]+(\.[0-9]+)?$/.test(s)) throw new RangeError(`not a decimal: ${value}`);
  const [whole, fraction = ''] = s.replace('-', '').split('.');
  const n = BigInt(whole! + fraction);
  return { n: s.startsWith('-') ? -n : n, scale: fraction.length };
}

function roundHalfEven(n: bigint, d: bigint): bigint {
  let q = n / d;
  let r = n % d;
  if (r < 0n) {
    q -= 1n;
    r += d;
  }
  const twice = 2n * r;
  if (twice > d || (twice === d && q % 2n !== 0n)) q += 1n;
  return q;
}

/** The stored volume (lots × 10 000) back from the lots the API shows. */
export function volumeOf(lots: number): number {
  return Math.round(lots * 10_000);
}

export function lineBase(line: Line): { base: number | null; percent: string | null } {
  return line.level === 0
    ? { base: line.revenueMinor, percent: line.revenuePercent }
    : { base: line.overrideBaseMinor, percent: line.overridePercent };
}

/** The amount this line's own figures give (positive, before a reversal's sign). */
export function recomputeLine(line: Line): number {
  const { base, percent } = lineBase(line);
  const rate = dec(line.perLotRate ?? '0');
  const pct = dec(percent ?? '0');
  const volume = BigInt(Math.abs(volumeOf(line.volumeLots)));
  const scale = Math.max(rate.scale + 4, pct.scale + 2);
  const first = rate.n * volume * 10n ** BigInt(scale - rate.scale - 4);
  const second = BigInt(Math.abs(base ?? 0)) * pct.n * 10n ** BigInt(scale - pct.scale - 2);
  return Number(roundHalfEven(first + second, 10n ** BigInt(scale)));
}

/** Whether the stored amount is what the line's figures give (a reversal: the negative of it). */
export function lineChecks(line: Line): boolean {
  try {
    const expected = recomputeLine(line);
    return line.amountMinor === (line.kind === 'reversal' ? -expected : expected);
  } catch {
    return false;
  }
}
