import { describe, expect, it } from 'vitest';
import { convertMinor, currencyDigits } from './fx.ts';

describe('fx conversion in integers', () => {
  it('knows currency digits', () => {
    expect(currencyDigits('USD')).toBe(2);
    expect(currencyDigits('JPY')).toBe(0);
    expect(currencyDigits('KWD')).toBe(3);
  });
  it('converts with half-up rounding to the target minor unit', () => {
    expect(convertMinor(10_000, 'EUR', 'USD', '1.0845')).toBe(10_845);
    expect(convertMinor(1, 'EUR', 'USD', '1.5')).toBe(2); // 1.5 → 2
    expect(convertMinor(10_000, 'USD', 'JPY', '151.237')).toBe(15_124); // 100.00 USD → 15 124 JPY (15 123.7)
    expect(convertMinor(15_124, 'JPY', 'USD', '0.0066122')).toBe(10_000); // 100.0029… → 100.00
  });
  it('refuses a rate that is not a positive decimal', () => {
    expect(() => convertMinor(100, 'EUR', 'USD', '0')).toThrow(/not a positive decimal/);
    expect(() => convertMinor(100, 'EUR', 'USD', '1e3')).toThrow(/not a positive decimal/);
  });
});
