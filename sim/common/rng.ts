/** A seeded, serialisable random source, so a simulator run (faults, trading activity) is repeatable by seed. */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';

type Generator = ReturnType<typeof xoroshiro128plus>;

export class Rng {
  private gen: Generator;

  constructor(seed: number | readonly number[]) {
    this.gen = typeof seed === 'number' ? xoroshiro128plus(seed | 0) : xoroshiro128plusFromState(seed);
  }

  /** A float in [0, 1). */
  next(): number {
    return uniformFloat64(this.gen);
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return probability >= 1 || (probability > 0 && this.next() < probability);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Standard normal variate (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** The generator's state, to persist and later resume the same sequence. */
  state(): number[] {
    return [...this.gen.getState()];
  }
}
