import { describe, expect, it } from 'vitest';
import { mergeListings } from './merge.ts';

const tick = (ms = 1) => new Promise((resolve) => setTimeout(resolve, ms));

/** A listing of `n` values `${item}:${i}` with a wait before each, recording how many run at once and which closed. */
function probe() {
  const state = { running: 0, most: 0, closed: [] as number[], produced: 0 };
  const list = async function* (item: number, n = 5, failAt = -1): AsyncGenerator<string> {
    state.running += 1;
    state.most = Math.max(state.most, state.running);
    try {
      for (let i = 0; i < n; i++) {
        await tick();
        if (i === failAt) throw new Error(`listing ${item} failed`);
        state.produced += 1;
        yield `${item}:${i}`;
      }
    } finally {
      state.running -= 1;
      state.closed.push(item);
    }
  };
  return { state, list };
}

describe('mergeListings', () => {
  it('yields every value once, keeps each listing in order, and runs at most `concurrency` listings at once', async () => {
    const { state, list } = probe();
    const items = Array.from({ length: 12 }, (_, i) => i);
    const seen: string[] = [];
    for await (const value of mergeListings(items, 4, (item) => list(item))) seen.push(value);
    expect(seen).toHaveLength(60);
    expect(new Set(seen).size).toBe(60);
    for (const item of items) {
      const own = seen.filter((v) => v.startsWith(`${item}:`));
      expect(own).toEqual([0, 1, 2, 3, 4].map((i) => `${item}:${i}`));
    }
    expect(state.most).toBe(4);
    expect(state.running).toBe(0);
    // Interleaved: the listings really ran side by side.
    expect(seen.slice(0, 4).map((v) => v.split(':')[0])).not.toEqual(['0', '0', '0', '0']);
  });

  it('throws the first error and closes every other listing before returning', async () => {
    const { state, list } = probe();
    const items = [0, 1, 2, 3, 4, 5];
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const value of mergeListings(items, 3, (item) => list(item, 50, item === 1 ? 2 : -1))) {
          seen.push(value);
        }
      })(),
    ).rejects.toThrow('listing 1 failed');
    expect(state.running).toBe(0);
    // Listings not yet started were never started.
    expect(state.closed.sort()).toEqual([0, 1, 2]);
    expect(seen.length).toBeLessThan(150);
  });

  it('stops the listings when the consumer stops early', async () => {
    const { state, list } = probe();
    let taken = 0;
    for await (const _ of mergeListings([0, 1, 2, 3], 2, (item) => list(item, 100))) {
      if (++taken === 7) break;
    }
    expect(state.running).toBe(0);
    expect(state.closed.sort()).toEqual([0, 1]);
  });

  it('pauses the listings while `highWater` values wait for a slow consumer', async () => {
    const { state, list } = probe();
    let consumed = 0;
    let mostWaiting = 0;
    for await (const _ of mergeListings([0, 1, 2, 3], 4, (item) => list(item, 40), 10)) {
      consumed += 1;
      mostWaiting = Math.max(mostWaiting, state.produced - consumed);
      await tick(3);
    }
    expect(consumed).toBe(160);
    // At most the mark plus one value per listing (each may hold the one it just read).
    expect(mostWaiting).toBeLessThanOrEqual(10 + 4);
    expect(mostWaiting).toBeGreaterThan(0);
  });

  it('ends at once with nothing to list', async () => {
    const seen: unknown[] = [];
    for await (const value of mergeListings([], 4, async function* () {
      yield 1;
    }))
      seen.push(value);
    expect(seen).toEqual([]);
  });
});
