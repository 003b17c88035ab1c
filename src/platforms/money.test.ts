import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromMinorUnits, readAmount, toMinorUnits } from './money.ts';

describe('money at the boundary', () => {
  it('removes binary noise from doubles', () => {
    expect(toMinorUnits(0.1 + 0.2, 2)).toEqual({ minor: 30, exact: true });
    expect(toMinorUnits(1999.9999999999998, 2)).toEqual({ minor: 200000, exact: true });
    expect(toMinorUnits('2000.00', 2)).toEqual({ minor: 200000, exact: true });
    expect(toMinorUnits(-15.5, 2)).toEqual({ minor: -1550, exact: true });
    expect(toMinorUnits(1234, 0)).toEqual({ minor: 1234, exact: true });
    expect(toMinorUnits(1e-7, 2)).toEqual({ minor: 0, exact: false });
    expect(toMinorUnits(2.5e9, 2)).toEqual({ minor: 250000000000, exact: true });
  });

  it('reports, and rounds half away from zero, a value finer than the currency', () => {
    expect(toMinorUnits(10.005, 2)).toEqual({ minor: 1001, exact: false });
    expect(toMinorUnits(-10.005, 2)).toEqual({ minor: -1001, exact: false });
    expect(toMinorUnits(1.004, 2)).toEqual({ minor: 100, exact: false });
    const anomalies: string[] = [];
    expect(readAmount(150.5, 0, 'balance', anomalies)).toBe(151);
    expect(anomalies).toEqual(['balance 150.5 is not representable with 0 digits; rounded to 151']);
  });

  it('rejects what is not an amount', () => {
    expect(() => toMinorUnits(Number.NaN, 2)).toThrow(/not a finite number/);
    expect(() => toMinorUnits('abc', 2)).toThrow(/not a finite number/);
    expect(() => toMinorUnits('', 2)).toThrow(/empty/);
    expect(() => fromMinorUnits(1.5, 2)).toThrow(/whole number/);
  });

  it('writes exact decimal strings', () => {
    expect(fromMinorUnits(200000, 2)).toBe('2000.00');
    expect(fromMinorUnits(-5, 2)).toBe('-0.05');
    expect(fromMinorUnits(7, 0)).toBe('7');
    expect(fromMinorUnits(0, 2)).toBe('0.00');
  });

  it('round-trips every minor amount through the double a server stores', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e13, max: 1e13 }), fc.integer({ min: 0, max: 4 }), (minor, digits) => {
        const asDouble = Number(fromMinorUnits(minor, digits));
        expect(toMinorUnits(asDouble, digits)).toEqual({ minor, exact: true });
      }),
    );
  });

  it('reads a decimal string exactly as it reads the number it stands for, on the fast path and off it', () => {
    const decimal = fc
      .tuple(
        fc.boolean(),
        fc.oneof(fc.constant('0'), fc.bigInt({ min: 1n, max: 10n ** 17n }).map(String)),
        fc.option(fc.stringMatching(/^[0-9]{1,10}$/), { nil: undefined }),
      )
      .map(([negative, whole, fraction]) => `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`);
    fc.assert(
      fc.property(decimal, fc.integer({ min: 0, max: 8 }), (text, digits) => {
        let fromNumber: unknown;
        try {
          fromNumber = toMinorUnits(Number(text), digits);
        } catch (err) {
          fromNumber = (err as Error).message;
        }
        let fromText: unknown;
        try {
          fromText = toMinorUnits(text, digits);
        } catch (err) {
          fromText = (err as Error).message.replace(text, String(Number(text)));
        }
        expect(fromText).toEqual(fromNumber);
      }),
      { numRuns: 5000 },
    );
    expect(toMinorUnits('-0.00', 2)).toEqual({ minor: 0, exact: true });
    expect(toMinorUnits('0.05', 2)).toEqual({ minor: 5, exact: true });
    expect(toMinorUnits('123.4', 2)).toEqual({ minor: 12340, exact: true });
    expect(toMinorUnits('1.005', 2)).toEqual({ minor: 101, exact: false });
  });
});
