import { describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.ts';

/** A commit whose transactions end when the test says so, recording each batch it was given. */
function gated(fail: (items: number[]) => boolean = () => false) {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const commit = async (items: number[]) => {
    batches.push(items);
    await new Promise<void>((resolve) => gates.push(resolve));
    if (fail(items)) throw new Error(`refused ${items.join(',')}`);
    return items.map((i) => i * 10);
  };
  const openAll = async () => {
    // Each commit opened may start the next: open until nothing waits at a gate.
    for (let rounds = 0; rounds < 50; rounds++) {
      await new Promise((r) => setImmediate(r));
      const open = gates.splice(0);
      if (open.length === 0) return;
      for (const g of open) g();
    }
  };
  return { batches, commit, openAll };
}

describe('group commit', () => {
  it('commits an item alone when nothing is committing, and those that arrive meanwhile together', async () => {
    const g = gated();
    const group = new GroupCommit<number, number>({ commit: g.commit, max: 3 });
    const results = Promise.all([1, 2, 3, 4, 5, 6].map((i) => group.submit(i)));
    await g.openAll();
    expect(await results).toEqual([10, 20, 30, 40, 50, 60]);
    expect(g.batches).toEqual([[1], [2, 3, 4], [5, 6]]);
  });

  it('commits a failed batch again item by item: only the item that fails is refused', async () => {
    const g = gated((items) => items.includes(3));
    const group = new GroupCommit<number, number>({ commit: g.commit, max: 8 });
    const settled = Promise.allSettled([1, 2, 3, 4].map((i) => group.submit(i)));
    await g.openAll();
    const outcomes = (await settled).map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message));
    expect(outcomes).toEqual([10, 20, 'refused 3', 40]);
    expect(g.batches).toEqual([[1], [2, 3, 4], [2], [3], [4]]);
  });

  it('takes the items `pick` chooses, in its order, and leaves the others for the next batch', async () => {
    const g = gated();
    // Odd and even never together; each batch in descending order.
    const pick = (waiting: readonly number[], max: number) =>
      waiting
        .map((v, i) => ({ v, i }))
        .filter(({ v }) => v % 2 === waiting[0]! % 2)
        .slice(0, max)
        .sort((a, b) => b.v - a.v)
        .map(({ i }) => i);
    const group = new GroupCommit<number, number>({ commit: g.commit, max: 8, pick });
    const results = Promise.all([1, 2, 3, 4, 5].map((i) => group.submit(i)));
    await g.openAll();
    expect(await results).toEqual([10, 20, 30, 40, 50]);
    expect(g.batches).toEqual([[1], [4, 2], [5, 3]]);
  });
});
