/**
 * Symbols, their current quotes and currency conversion. Prices move only when the activity generator steps them
 * (a seeded random walk) or a dealer sets them, so every figure derived from them is reproducible by seed.
 */
import type { Rng } from '../common/rng.ts';
import type { ResolvedSymbol } from './config.ts';
import type { SymbolConfig } from './contract.ts';

export interface Quote {
  bid: number;
  ask: number;
}

export function roundTo(value: number, digits: number): number {
  const f = 10 ** digits;
  // Half away from zero, as MT4's NormalizeDouble, for negative amounts too. Scaling first to 15 significant digits
  // removes the binary representation error, so 1.005 (stored as 1.00499999…) rounds to 1.01 as a person expects.
  const scaled = Number((Math.abs(value) * f).toPrecision(15));
  return (Math.sign(value) * Math.round(scaled)) / f || 0;
}

export class Market {
  private readonly bySymbol = new Map<string, ResolvedSymbol>();
  private readonly bids = new Map<string, number>();

  constructor(symbols: readonly ResolvedSymbol[], savedBids?: Record<string, number>) {
    for (const s of symbols) {
      this.bySymbol.set(s.symbol, s);
      const saved = savedBids?.[s.symbol];
      this.bids.set(s.symbol, typeof saved === 'number' && saved > 0 ? saved : roundTo(s.price, s.digits));
    }
  }

  /** Symbol configs (ConSymbol view), ordered by name. */
  configs(): SymbolConfig[] {
    return [...this.bySymbol.values()].map(({ price: _price, volatility: _volatility, ...config }) => config);
  }

  symbol(name: string): ResolvedSymbol | undefined {
    return this.bySymbol.get(name);
  }

  /** Names in a fixed order, so random draws over them are reproducible. */
  names(): string[] {
    return [...this.bySymbol.keys()];
  }

  quote(name: string): Quote {
    const s = this.bySymbol.get(name);
    const bid = this.bids.get(name);
    if (!s || bid === undefined) throw new RangeError(`unknown symbol ${name}`);
    return { bid, ask: roundTo(bid + s.spread * s.point, s.digits) };
  }

  setBid(name: string, bid: number): void {
    const s = this.bySymbol.get(name);
    if (!s) throw new RangeError(`unknown symbol ${name}`);
    if (!(bid > 0) || !Number.isFinite(bid)) throw new RangeError('a bid must be a positive number');
    this.bids.set(name, roundTo(bid, s.digits));
  }

  /** One step of a geometric random walk for every symbol, in name order. */
  walk(rng: Rng): void {
    for (const [name, s] of this.bySymbol) {
      const bid = this.bids.get(name)!;
      const next = roundTo(bid * Math.exp(s.volatility * rng.normal()), s.digits);
      this.bids.set(name, next > 0 ? next : bid);
    }
  }

  /** Current bids, to persist the walk's position. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.bids);
  }

  /** Mid price of one unit of `currency` in USD, from a symbol quoted against USD. */
  usdRate(currency: string): number {
    if (currency === 'USD') return 1;
    for (const s of this.bySymbol.values()) {
      const { bid, ask } = this.quote(s.symbol);
      const mid = (bid + ask) / 2;
      if (s.margin_currency === currency && s.currency === 'USD') return mid;
      if (s.margin_currency === 'USD' && s.currency === currency) return 1 / mid;
    }
    throw new RangeError(`no USD symbol to convert ${currency}`);
  }

  convert(amount: number, from: string, to: string): number {
    if (from === to) return amount;
    return (amount * this.usdRate(from)) / this.usdRate(to);
  }
}
