/**
 * The plans of the engine's hot statements must not follow the statistics of their tables: a worker that starts on
 * an empty queue makes its cached (generic) plans from empty tables, and a burst then fills them long before
 * autovacuum analyses them. The claim planned that way scanned the whole table once per candidate (121 ms per claim
 * at 2 000 queued operations); the finish scanned every attempt ever made to update the one it ended.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, operationsHarness } from '../../test/support/operations.ts';
import { control } from '../../test/support/simulators.ts';
import { connect, type Database } from '../db/connect.ts';
import { OperationsEngine } from './engine.ts';
import { enqueueOperation } from './enqueue.ts';

describe.runIf(process.env.TEST_DATABASE_URL || process.env.DATABASE_URL)("the operations engine's plans", () => {
  let h: Harness;
  let single: Database;
  beforeAll(async () => {
    h = await operationsHarness();
    // One connection: the claims below and the EXPLAIN share its prepared statement and cached plan.
    single = await connect({ databaseUrl: h.database.url!, maxConnections: 1 });
  });
  afterAll(async () => {
    await single.close();
    await h.close();
  });

  it('walks the ready index in queue order, even with a plan cached while the queue was empty', async () => {
    const engine = new OperationsEngine({ ...h.deps, database: single }, { concurrency: 16 });
    // Enough claims on the empty queue for PostgreSQL to settle on a generic plan and cache it.
    for (let i = 0; i < 8; i++) expect(await engine.claim(16)).toEqual([]);

    // A backlog: 20 accounts with 15 deposits each, as a burst of webhooks leaves it.
    await h.database.db.transaction(async (tx) => {
      for (let i = 0; i < 300; i++) {
        await enqueueOperation(tx, h.deps, {
          kind: 'balance',
          serverCode: 'mt5-live',
          login: 900_000 + (i % 20),
          payload: { amount: 100 + i },
        });
      }
    });
    const claimed = await engine.claim(16);
    // One per account: each account's first deposit, in queue order.
    expect(claimed.map((op) => op.login)).toEqual(Array.from({ length: 16 }, (_, i) => 900_000 + i));

    // The plan the next claim runs (the cached generic one), explained on the same connection under the claim's
    // settings (a cached plan is not made again for them: what it shows was made when the queue was empty).
    const plan = await single.db.transaction(async (tx) => {
      await tx.execute(sql.raw('set local enable_seqscan = off; set local enable_bitmapscan = off'));
      const explained = (await tx.execute(
        sql.raw("explain (costs off) execute bd_operation_claim(now(), now(), 'test', 16, '{}')"),
      )) as unknown as { rows: { 'QUERY PLAN': string }[] };
      return explained.rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    const [statement] = await single.query<{ generic_plans: number }>(
      'select generic_plans::int from pg_prepared_statements where name = $1',
      ['bd_operation_claim'],
    );
    expect(statement!.generic_plans).toBeGreaterThan(0);
    expect(plan).toContain('Index Scan using operations_ready_idx on operations');
    expect(plan).toContain('operations_open_by_account_idx');
    expect(plan).not.toMatch(/Seq Scan on operations|Bitmap Heap Scan on operations/);
  });
  it('ends an operation by looking its attempts up by key, even with a plan cached while there were none', async () => {
    const engine = new OperationsEngine({ ...h.deps, database: single }, { concurrency: 1 });
    const created = (await control(h.sim, 'POST', '/control/accounts', {
      group: 'real\\standard-usd',
      name: 'Plans',
      leverage: 100,
    })) as { Login: string };
    const login = Number(created.Login);
    const deposit = (amount: number) =>
      h.database.db.transaction((tx) =>
        enqueueOperation(tx, h.deps, { kind: 'balance', serverCode: 'mt5-live', login, payload: { amount } }),
      );
    // Enough operations ended, one at a time on this one connection, for its finish statement to be cached as a
    // generic plan while operation_attempts holds a handful of rows.
    for (let i = 0; i < 8; i++) {
      await deposit(100 + i);
      await engine.drain();
    }
    // Attempts of the past, as a day of deposits leaves them (no ANALYZE runs in between, as none did in the burst).
    await h.database.db.execute(
      sql.raw(`insert into operation_attempts (operation_id, reference, attempt, action, server_code, login, request,
                 outcome, started_at, duration_ms, worker)
               select o.id, o.reference, 1, 'post', o.server_code, o.login, '{}'::jsonb, 'ok', now(), 1, 'past'
               from operations o, generate_series(1, 250) where o.login = ${login}`),
    );
    await deposit(200);
    await engine.drain();
    const [statement] = await single.query<{ generic_plans: number }>(
      'select generic_plans::int from pg_prepared_statements where name = $1',
      ['bd_operation_finish'],
    );
    expect(statement!.generic_plans).toBeGreaterThan(0);

    // The cached plan, explained on the same connection under the finish's settings (not made again for them).
    const plan = await single.db.transaction(async (tx) => {
      await tx.execute(
        sql.raw('set local enable_seqscan = off; set local enable_hashjoin = off; set local enable_mergejoin = off'),
      );
      const explained = (await tx.execute(
        sql.raw(`explain (costs off) execute bd_operation_finish('[{"id": 1}]', 'succeeded', null, null, null, null,
                   now(), null, '00000000-0000-0000-0000-000000000000', 'nobody', 'nothing')`),
      )) as unknown as { rows: { 'QUERY PLAN': string }[] };
      return explained.rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    expect(plan).toContain('Index Scan using operation_attempts_pkey on operation_attempts');
    expect(plan).not.toMatch(/Seq Scan on operation_attempts|Hash Join/);
  });
});
