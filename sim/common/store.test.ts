import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StateStore } from './store.ts';

const tempDir = () => mkdtempSync(join(tmpdir(), 'bd-store-'));

describe('StateStore', () => {
  it('restores acknowledged records and counters after a kill (no close)', () => {
    const dir = tempDir();
    const first = StateStore.open({ dir });
    const users = first.collection<{ name: string }>('users');
    users.put(1001, { name: 'Ann' });
    users.put(1002, { name: 'Bob' });
    users.delete(1002);
    const tickets = first.counter('tickets');
    tickets.next();
    tickets.next();
    // No close(): the process "dies" here; only the journal remains.
    const second = StateStore.open({ dir });
    expect(second.restored).toBe(true);
    expect(second.collection<{ name: string }>('users').get(1001)).toEqual({ name: 'Ann' });
    expect(second.collection('users').has(1002)).toBe(false);
    expect(second.counter('tickets').next()).toBe(3);
    second.close();
  });

  it('survives a torn last journal line (a write cut by the kill was never acknowledged)', () => {
    const dir = tempDir();
    const first = StateStore.open({ dir });
    first.collection('deals').put('1', { amount: 5 });
    appendFileSync(join(dir, 'journal.jsonl'), '{"t":"put","c":"deals","k":"2","v":{"amo');
    const second = StateStore.open({ dir });
    expect(second.collection('deals').get('1')).toEqual({ amount: 5 });
    expect(second.collection('deals').has('2')).toBe(false);
  });

  it('refuses a journal corrupt in the middle rather than silently dropping state', () => {
    const dir = tempDir();
    const first = StateStore.open({ dir });
    first.collection('deals').put('1', { amount: 5 });
    appendFileSync(join(dir, 'journal.jsonl'), 'garbage\n{"t":"put","c":"deals","k":"3","v":1}\n');
    expect(() => StateStore.open({ dir })).toThrow(/corrupt at line 2/);
  });

  it('compacts into a snapshot and keeps working', () => {
    const dir = tempDir();
    const store = StateStore.open({ dir, compactEvery: 3 });
    const c = store.collection<number>('n');
    for (let i = 0; i < 10; i++) c.put(i, i * i);
    store.close();
    expect(JSON.parse(readFileSync(join(dir, 'snapshot.json'), 'utf8')).collections.n['9']).toBe(81);
    const reopened = StateStore.open({ dir });
    expect([...reopened.collection<number>('n').values()]).toHaveLength(10);
  });

  it('is memory-only without a directory', () => {
    const store = StateStore.open();
    store.collection('x').put('a', 1);
    expect(store.restored).toBe(false);
    expect(store.collection('x').get('a')).toBe(1);
  });
});
