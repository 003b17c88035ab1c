/**
 * Currency conversion for internal transfers, in integers only: the rate is a decimal string finance sets, and the
 * converted amount is computed with BigInt and rounded half-up to the target currency's minor unit.
 */
import { FundingError } from './errors.ts';

/** Minor-unit digits of an ISO 4217 currency (2 for USD, 0 for JPY, 3 for KWD), from the runtime's ICU data. */
export function currencyDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

export const rateInput = /^[0-9]{1,9}(\.[0-9]{1,10})?$/;

/** `amountMinor` of `from` converted at `rate` (units of `to` per unit of `from`) into minor units of `to`. */
export function convertMinor(amountMinor: number, from: string, to: string, rate: string): number {
  if (!rateInput.test(rate) || /^0+(\.0+)?$/.test(rate)) {
    throw new FundingError('FX_RATE_MISSING', 422, `the rate ${rate} for ${from}/${to} is not a positive decimal`);
  }
  const [whole, fraction = ''] = rate.split('.');
  const numerator = BigInt(whole! + fraction);
  const scale = 10n ** BigInt(fraction.length);
  const shift = currencyDigits(to) - currencyDigits(from);
  let num = BigInt(amountMinor) * numerator;
  let den = scale;
  if (shift >= 0) num *= 10n ** BigInt(shift);
  else den *= 10n ** BigInt(-shift);
  const result = (num * 2n + den) / (2n * den);
  if (result > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new FundingError('AMOUNT_TOO_LARGE', 422, 'the converted amount is too large');
  }
  return Number(result);
}
