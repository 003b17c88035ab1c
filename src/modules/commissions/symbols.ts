/**
 * Symbol normalisation: brokers list one instrument under several names (`XAUUSD`, `XAUUSD.m`, `XAUUSD-ECN`,
 * `EURUSDm`, `EURUSD.pro`, `microEURUSD`, `EURUSD_i`, `#US30`), and a plan's rates must not depend on which one a
 * client traded. The base symbol is what remains after, in order:
 * 1. trimming, and dropping a leading `#`, `!` or `.` (CFD and index prefixes such as `#US30`);
 * 2. dropping a `micro`, `mini` or `cent` prefix written in lower case before an upper-case letter (`microEURUSD`),
 *    or in any case before a `.`, `-` or `_` (`MICRO.EURUSD`), so that tickers like `MINING` stay whole;
 * 3. removing `/` (`BTC/USD` is `BTCUSD`), then cutting at the first `.`, `-`, `_`, `+`, `#`, `!` or space after the
 *    first character (`XAUUSD.m`, `XAUUSD-ECN`, `EURUSD_i`, `US30 cash`);
 * 4. dropping trailing lower-case letters that follow an upper-case letter or digit (`EURUSDm`, `EURUSDpro`,
 *    `US30c`): a lower-case suffix is a broker's account-type marker, never part of an upper-case ticker;
 * 5. upper-casing.
 * A name that would become empty stays as it was, upper-cased. Pure and deterministic: the calculation and any
 * recomputation use this same function, and each line stores the base symbol it used.
 */
const PREFIX =
  /^(?:(?:micro|mini|cent)(?=[A-Z])|(?:[Mm][Ii][Cc][Rr][Oo]|[Mm][Ii][Nn][Ii]|[Cc][Ee][Nn][Tt])[._-](?=[A-Za-z]))/;
const SEPARATOR = /[.\-_+#! ]/;
const LOWER_SUFFIX = /(?<=[A-Z0-9])[a-z]+$/;

export function normaliseSymbol(symbol: string | null | undefined): string {
  const raw = (symbol ?? '').trim();
  let s = raw.replace(/^[#!.]+/, '');
  s = s.replace(PREFIX, '').replace(/\//g, '');
  const cut = s.slice(1).search(SEPARATOR);
  if (cut >= 0) s = s.slice(0, cut + 1);
  s = s.replace(LOWER_SUFFIX, '');
  s = s.toUpperCase();
  return s === '' ? raw.toUpperCase() : s;
}
