import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  dec,
  decString,
  flattenRules,
  lineAmount,
  planRulesInput,
  rateOf,
  revenueOf,
  roundHalfEven,
  toMinorRate,
} from './rules.ts';

describe('commission rules and money', () => {
  it('rounds half to even, for negative amounts too', () => {
    expect([5n, 15n, 25n, -5n, -15n, 14n, 16n].map((n) => roundHalfEven(n, 10n))).toEqual([
      0n,
      2n,
      2n,
      0n,
      -2n,
      1n,
      2n,
    ]);
    expect(roundHalfEven(-25n, 10n)).toBe(-2n);
    expect(roundHalfEven(-26n, 10n)).toBe(-3n);
  });

  it('computes a line exactly, then rounds once', () => {
    // 0.37 lots at 6.50 USD: 240.5 cents → 240; 0.39 lots: 253.5 → 254.
    expect(lineAmount({ rate: '650', volume: 3700, base: null, percent: null })).toBe(240);
    expect(lineAmount({ rate: '650', volume: 3900, base: null, percent: null })).toBe(254);
    // Per lot and revenue share add up before rounding: 0.5 + 0.5 → 1, not 0 + 0.
    expect(lineAmount({ rate: '5', volume: 1000, base: 5, percent: '10' })).toBe(1);
    expect(lineAmount({ rate: '12.345', volume: 10_000, base: 0, percent: '0' })).toBe(12);
    expect(lineAmount({ rate: null, volume: 0, base: -333, percent: '12.5' })).toBe(-42);
  });

  it('property: the exact BigInt amount never differs from a decimal reference by half a unit or more', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000_000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: -1_000_000, max: 1_000_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        (rateMicro, volume, base, pctMicro) => {
          const rate = decString({ n: BigInt(rateMicro), scale: 4 });
          const percent = decString({ n: BigInt(pctMicro), scale: 4 });
          const exact = (rateMicro / 1e4) * (volume / 1e4) + (base * pctMicro) / 1e4 / 100;
          expect(Math.abs(lineAmount({ rate, volume, base, percent }) - exact)).toBeLessThanOrEqual(0.5 + 1e-6);
        },
      ),
    );
  });

  it('converts major-unit rates to minor units per lot without floats', () => {
    expect(toMinorRate('6.5', 2)).toBe('650');
    expect(toMinorRate('0.125', 2)).toBe('12.5');
    expect(toMinorRate('7', 0)).toBe('7');
    expect(toMinorRate('1.2345', 3)).toBe('1234.5');
    expect(decString(dec('0010.500'))).toBe('10.5');
  });

  it('validates rules and flattens tiers, keeping lower tiers’ rates for groups a tier leaves out', () => {
    const rules = planRulesInput.parse({
      symbolGroups: { fx: ['eurusd'], metals: ['XAUUSD'] },
      perLot: [
        { fromLots: '0', rates: { fx: '5', metals: '8' } },
        { fromLots: '100', rates: { fx: '6' } },
      ],
      revenueShare: { percent: '25' },
      overrides: [{ level: 1, percentOfDirect: '10' }],
    });
    const flat = flattenRules(rules, 'USD');
    expect(flat.groups).toContainEqual({ base: 'EURUSD', group: 'fx' });
    expect(rateOf(flat, 0, 'fx', 0)).toBe('500');
    expect(rateOf(flat, 0, 'fx', 1_000_000)).toBe('600');
    expect(rateOf(flat, 0, 'metals', 1_000_000)).toBe('800');
    expect(rateOf(flat, 0, 'other', 0)).toBeNull();
    expect(flat.percents).toEqual([
      { level: 0, percent: '25', basis: 'commission' },
      { level: 1, percent: '10', basis: null },
    ]);
    for (const bad of [
      { perLot: [{ fromLots: '1', rates: {} }] },
      { perLot: [{ fromLots: '0', rates: { nope: '1' } }] },
      { symbolGroups: { a: ['X'], b: ['X'] } },
      { symbolGroups: { other: ['X'] } },
      { overrides: [{ level: 1 }] },
      { overrides: [{ level: 11, percentOfDirect: '1' }] },
      { revenueShare: { percent: '101' } },
      { perLot: [{ fromLots: '0', rates: { other: '-1' } }] },
      { unknown: true },
    ]) {
      expect(planRulesInput.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it('defines revenue as commission charged, plus the client’s loss when asked', () => {
    const record = { commissionMinor: -300, profitMinor: -1000, swapMinor: -20 };
    expect(revenueOf('commission', record)).toBe(300);
    expect(revenueOf('commission_and_client_loss', record)).toBe(1320);
    expect(revenueOf('commission_and_client_loss', { ...record, profitMinor: 5000 })).toBe(300);
  });
});
