import { describe, expect, it } from 'vitest';
import { normaliseSymbol } from './symbols.ts';

describe('symbol normalisation', () => {
  it.each([
    ['XAUUSD', 'XAUUSD'],
    ['XAUUSD.m', 'XAUUSD'],
    ['XAUUSD.pro', 'XAUUSD'],
    ['XAUUSD-ECN', 'XAUUSD'],
    ['EURUSDm', 'EURUSD'],
    ['EURUSDpro', 'EURUSD'],
    ['EURUSD_i', 'EURUSD'],
    ['EURUSD+', 'EURUSD'],
    ['microEURUSD', 'EURUSD'],
    ['MICRO.EURUSD', 'EURUSD'],
    ['mini-GBPUSD', 'GBPUSD'],
    ['centXAUUSD.m', 'XAUUSD'],
    ['#US30', 'US30'],
    ['US30c', 'US30'],
    ['US30 cash', 'US30'],
    ['GER40.cash', 'GER40'],
    ['  usdjpy  ', 'USDJPY'],
    ['eurusd.m', 'EURUSD'],
    ['BTC/USD', 'BTCUSD'],
    ['microBTC/USD.m', 'BTCUSD'],
    ['', ''],
    [null, ''],
    ['.', '.'],
  ])('%s → %s', (input, base) => {
    expect(normaliseSymbol(input)).toBe(base);
  });

  it('keeps names that only look like a prefix', () => {
    expect(normaliseSymbol('MINING')).toBe('MINING');
    expect(normaliseSymbol('CENTS')).toBe('CENTS');
    expect(normaliseSymbol('MICROSOFT')).toBe('MICROSOFT');
    expect(normaliseSymbol('MINI')).toBe('MINI');
  });
});
