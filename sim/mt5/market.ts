/**
 * The simulated market: a few symbols whose bid follows a seeded geometric random walk, plus the arithmetic a
 * trading server needs on top (ask = bid + spread, profit and margin in the quote currency, conversion to the account
 * currency through the same prices). Deterministic: the same RNG sequence gives the same prices.
 */
import type { Rng } from '../common/rng.ts';

export interface SymbolSpec {
  name: string;
  base: string;
  quote: string;
  digits: number;
  contractSize: number;
  /** Spread in points (1 point = 10^-digits). */
  spreadPoints: number;
  /** Standard deviation of the log-return per activity step. */
  volatility: number;
  initialBid: number;
  /** Commission per lot per side, in USD. */
  commissionPerLotUsd: number;
  /** Swap per lot per rollover, in USD, for long and short positions. */
  swapLongUsd: number;
  swapShortUsd: number;
}

export const SYMBOLS: readonly SymbolSpec[] = [
  {
    name: 'EURUSD',
    base: 'EUR',
    quote: 'USD',
    digits: 5,
    contractSize: 100_000,
    spreadPoints: 10,
    volatility: 0.0004,
    initialBid: 1.085,
    commissionPerLotUsd: 3.5,
    swapLongUsd: -7.2,
    swapShortUsd: 2.1,
  },
  {
    name: 'GBPUSD',
    base: 'GBP',
    quote: 'USD',
    digits: 5,
    contractSize: 100_000,
    spreadPoints: 14,
    volatility: 0.0005,
    initialBid: 1.27,
    commissionPerLotUsd: 3.5,
    swapLongUsd: -4.9,
    swapShortUsd: 0.8,
  },
  {
    name: 'USDJPY',
    base: 'USD',
    quote: 'JPY',
    digits: 3,
    contractSize: 100_000,
    spreadPoints: 12,
    volatility: 0.0004,
    initialBid: 151.5,
    commissionPerLotUsd: 3.5,
    swapLongUsd: 11.3,
    swapShortUsd: -19.6,
  },
  {
    name: 'XAUUSD',
    base: 'XAU',
    quote: 'USD',
    digits: 2,
    contractSize: 100,
    spreadPoints: 30,
    volatility: 0.0008,
    initialBid: 2350,
    commissionPerLotUsd: 5,
    swapLongUsd: -32.5,
    swapShortUsd: 12.4,
  },
];

const bySymbol = new Map(SYMBOLS.map((s) => [s.name, s]));

export function symbolSpec(name: string): SymbolSpec {
  const spec = bySymbol.get(name);
  if (!spec) throw new RangeError(`unknown symbol ${name}`);
  return spec;
}

export function roundTo(value: number, digits: number): number {
  const factor = 10 ** digits;
  // Scale by (1 + ε) so values like 1.005 that are stored a hair below the half round as written.
  return (Math.sign(value) * Math.round(Math.abs(value) * factor * (1 + Number.EPSILON))) / factor;
}

export class Market {
  private readonly bids = new Map<string, number>();

  constructor(saved?: Record<string, number>) {
    for (const s of SYMBOLS) this.bids.set(s.name, saved?.[s.name] ?? s.initialBid);
  }

  bid(symbol: string): number {
    return this.bids.get(symbol)!;
  }

  ask(symbol: string): number {
    const s = symbolSpec(symbol);
    return roundTo(this.bid(symbol) + s.spreadPoints * 10 ** -s.digits, s.digits);
  }

  /** One step of the random walk for every symbol, in a fixed order so the RNG sequence is reproducible. */
  step(rng: Rng): void {
    for (const s of SYMBOLS) {
      const next = this.bid(s.name) * Math.exp(s.volatility * rng.normal());
      this.bids.set(s.name, roundTo(next, s.digits));
    }
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.bids);
  }

  /** Value of one unit of `currency` in USD, from current mid prices. */
  private usdPerUnit(currency: string): number {
    if (currency === 'USD') return 1;
    for (const s of SYMBOLS) {
      const mid = (this.bid(s.name) + this.ask(s.name)) / 2;
      if (s.base === currency && s.quote === 'USD') return mid;
      if (s.quote === currency && s.base === 'USD') return 1 / mid;
    }
    throw new RangeError(`no conversion for currency ${currency}`);
  }

  /** Converts an amount between currencies through USD (unrounded). */
  convert(amount: number, from: string, to: string): number {
    if (from === to) return amount;
    return (amount * this.usdPerUnit(from)) / this.usdPerUnit(to);
  }

  /** Profit of a position in the symbol's quote currency. */
  profitInQuote(symbol: string, action: 0 | 1, lots: number, openPrice: number, closePrice: number): number {
    const s = symbolSpec(symbol);
    const direction = action === 0 ? 1 : -1;
    return (closePrice - openPrice) * direction * lots * s.contractSize;
  }

  /** The price a position of this direction closes at now: buys close at bid, sells at ask. */
  closePrice(symbol: string, action: 0 | 1): number {
    return action === 0 ? this.bid(symbol) : this.ask(symbol);
  }

  /** Margin for a position in the account currency: notional / leverage (unrounded). */
  margin(symbol: string, lots: number, price: number, leverage: number, accountCurrency: string): number {
    const s = symbolSpec(symbol);
    const notionalInQuote = lots * s.contractSize * price;
    return this.convert(notionalInQuote / Math.max(1, leverage), s.quote, accountCurrency);
  }
}
