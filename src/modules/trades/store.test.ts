import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { ManualClock } from '../../clock.ts';
import { normaliseRecord } from './records.ts';
import { ingestRecords } from './store.ts';

describe('storing synced records', () => {
  let database: TestDatabase;
  const clock = new ManualClock(new Date('2026-03-02T10:00:00Z'));

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  const deal = (ticket: number, profit: number) =>
    normaliseRecord('mt5-live', 'mt5', {
      type: 'deal',
      ticket: String(ticket),
      login: 1000 + (ticket % 50),
      order: String(ticket + 1),
      positionId: String(ticket + 2),
      symbol: 'EURUSD',
      side: ticket % 2 ? 'buy' : 'sell',
      entry: 'out',
      volumeLots: 0.1,
      price: 1.085,
      profit,
      commission: 0,
      swap: 0,
      time: new Date(clock.now().getTime() - ticket),
      comment: '',
      anomalies: [],
    });

  it('writes batches holding the same records in other orders at the same time without a deadlock', async () => {
    const deps = { database, clock, audit: { record: async () => undefined } };
    const tickets = Array.from({ length: 800 }, (_, i) => 100_000 + i);
    // A first version of each, then two batches with every record changed, one in the reverse order of the other
    // (as overlapping backfill windows or a pass and pumping hand them over), written at once, several times.
    await ingestRecords(
      deps,
      'mt5-live',
      tickets.map((t) => deal(t, 100)),
      'poll',
    );
    for (let round = 1; round <= 2; round++) {
      const changed = tickets.map((t) => deal(t, 100 + round));
      const results = await Promise.all([
        ingestRecords(deps, 'mt5-live', changed, 'poll'),
        ingestRecords(deps, 'mt5-live', [...changed].reverse(), 'poll'),
      ]);
      // One of the two changed every record; the other, waiting for it, found them already so.
      expect(results.map((r) => r.changed).sort((a, b) => a - b)).toEqual([0, tickets.length]);
    }
    const counted = await database.db.execute(sql`select count(*)::int as n, min(version) as v from trade_records`);
    const [row] = (counted as unknown as { rows: { n: number; v: number }[] }).rows;
    expect(row).toEqual({ n: tickets.length, v: 3 });
  });
});
