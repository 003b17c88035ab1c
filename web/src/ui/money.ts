/**
 * Money in the browser is what it is in the ledger: integer minor units. Amounts typed by a person are parsed from
 * their text (never through a float), and shown with the currency's own number of decimals.
 */

const digitsCache = new Map<string, number>();

export function currencyDigits(currency: string): number {
  let digits = digitsCache.get(currency);
  if (digits === undefined) {
    try {
      digits =
        new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      digits = 2;
    }
    digitsCache.set(currency, digits);
  }
  return digits;
}

/** 123456 USD → "$1,234.56". Works for any size of integer (bigint-safe through strings). */
export function formatMoney(minor: number | string | bigint, currency: string): string {
  const digits = currencyDigits(currency);
  const value = BigInt(minor);
  const negative = value < 0n;
  const abs = (negative ? -value : value).toString().padStart(digits + 1, '0');
  const whole = abs.slice(0, abs.length - digits) || '0';
  const fraction = digits > 0 ? abs.slice(abs.length - digits) : '';
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '−' : ''}${grouped}${fraction ? `.${fraction}` : ''} ${currency}`;
}

/**
 * "1,234.5" USD → 123450. Returns an error text a person can act on instead of guessing: too many decimals, not a
 * number, zero or negative.
 */
export function parseMoney(text: string, currency: string): { minor: number } | { error: string } {
  const digits = currencyDigits(currency);
  const cleaned = text.trim().replace(/[,\s]/g, '');
  if (!cleaned) return { error: 'Enter an amount' };
  const match = /^(\d+)(?:\.(\d*))?$/.exec(cleaned);
  if (!match) return { error: 'Enter the amount as a number, e.g. 250.00' };
  const fraction = match[2] ?? '';
  if (fraction.length > digits)
    return { error: digits === 0 ? `${currency} has no decimals` : `At most ${digits} decimals for ${currency}` };
  const minor = BigInt(match[1]!) * 10n ** BigInt(digits) + BigInt(fraction.padEnd(digits, '0') || '0');
  if (minor <= 0n) return { error: 'The amount must be more than zero' };
  if (minor > BigInt(Number.MAX_SAFE_INTEGER)) return { error: 'The amount is too large' };
  return { minor: Number(minor) };
}
