/**
 * The only place MetaTrader's doubles become integer minor units and back.
 *
 * A double is first read at 15 significant digits (which removes binary noise such as 0.30000000000000004 while
 * keeping every amount a server can hold), then rounded half away from zero to the currency's digits. When that
 * rounding changes the value (10.005 in a 2-digit currency), the result says so: the amount is reported, not hidden.
 */
export interface MinorUnits {
  minor: number;
  /** False when the server's value had more precision than the currency allows. */
  exact: boolean;
}

export class AmountError extends RangeError {
  override readonly name = 'AmountError';
}

/** A server double (or its decimal string, as MT5 sends) → integer minor units at `digits`. */
/** A plain decimal string: optional minus, no leading zeros, optional fraction. */
const PLAIN_DECIMAL = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

/**
 * The common case of a server's amounts, exactly: a plain decimal string with no more decimals than the currency
 * and at most 15 digits once scaled. Null for anything else (the general path decides it, with the same result).
 */
function plainDecimalMinorUnits(value: string, digits: number): MinorUnits | null {
  const match = PLAIN_DECIMAL.exec(value);
  if (!match) return null;
  const [, sign, whole, fraction = ''] = match as unknown as [string, string, string, string | undefined];
  if (fraction.length > digits || whole.length + digits > 15) return null;
  const minor = Number(whole + fraction.padEnd(digits, '0'));
  return { minor: sign === '-' && minor !== 0 ? -minor : minor, exact: true };
}

export function toMinorUnits(value: number | string, digits: number): MinorUnits {
  if (!Number.isInteger(digits) || digits < 0 || digits > 8)
    throw new AmountError(`currency digits ${digits} out of range`);
  if (typeof value === 'string') {
    const plain = plainDecimalMinorUnits(value, digits);
    if (plain) return plain;
  }
  const n = typeof value === 'string' ? Number(value.trim()) : value;
  if (typeof value === 'string' && value.trim() === '') throw new AmountError('empty amount');
  if (!Number.isFinite(n)) throw new AmountError(`amount ${String(value)} is not a finite number`);
  // Scale by shifting the decimal representation, never by multiplying doubles.
  const fixed = Math.abs(n).toPrecision(15);
  const [coefficient, exponentText] = fixed.split('e') as [string, string | undefined];
  const [intPart, fracPart = ''] = coefficient.split('.') as [string, string | undefined];
  let allDigits = intPart + fracPart;
  let pointAt = intPart.length + (exponentText ? Number(exponentText) : 0) + digits;
  if (pointAt < 0) {
    allDigits = '0'.repeat(-pointAt) + allDigits;
    pointAt = 0;
  }
  if (pointAt > allDigits.length) allDigits = allDigits.padEnd(pointAt, '0');
  const whole = allDigits.slice(0, pointAt) || '0';
  const rest = allDigits.slice(pointAt).replace(/0+$/, '');
  let minor = Number(whole);
  if (rest.length > 0 && rest[0]! >= '5') minor += 1;
  if (!Number.isSafeInteger(minor)) throw new AmountError(`amount ${String(value)} is too large`);
  return { minor: n < 0 && minor !== 0 ? -minor : minor, exact: rest.length === 0 };
}

/** Integer minor units → the exact decimal string a server takes ("2000.00", "-15.5" at 1 digit). */
export function fromMinorUnits(minor: number, digits: number): string {
  if (!Number.isSafeInteger(minor)) throw new AmountError(`amount ${minor} is not a whole number of minor units`);
  if (!Number.isInteger(digits) || digits < 0 || digits > 8)
    throw new AmountError(`currency digits ${digits} out of range`);
  const sign = minor < 0 ? '-' : '';
  const abs = String(Math.abs(minor)).padStart(digits + 1, '0');
  return digits === 0 ? `${sign}${abs}` : `${sign}${abs.slice(0, -digits)}.${abs.slice(-digits)}`;
}

/** Reads a server amount, noting in `anomalies` when it had to be rounded. */
export function readAmount(value: number | string, digits: number, field: string, anomalies: string[]): number {
  const { minor, exact } = toMinorUnits(value, digits);
  if (!exact) {
    anomalies.push(
      `${field} ${String(value)} is not representable with ${digits} digits; rounded to ${fromMinorUnits(minor, digits)}`,
    );
  }
  return minor;
}
