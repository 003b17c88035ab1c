import { describe, expect, it } from 'vitest';
import { Rng } from './rng.ts';

describe('Rng', () => {
  it('repeats a sequence for a seed and resumes from a saved state', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const seqA = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(seqA);
    const saved = a.state();
    const next = a.int(1, 100);
    expect(new Rng(saved).int(1, 100)).toBe(next);
    expect(new Rng(8).next()).not.toBe(seqA[0]);
  });

  it('keeps ints within bounds', () => {
    const r = new Rng(3);
    for (let i = 0; i < 1000; i++) {
      const n = r.int(-2, 2);
      expect(n).toBeGreaterThanOrEqual(-2);
      expect(n).toBeLessThanOrEqual(2);
    }
  });
});
