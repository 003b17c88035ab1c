import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from '../../test/support/db.ts';
import { connect, deferPrepared, preparedQuery, prepareOnEveryConnection, scriptedTransaction } from './connect.ts';
import { installation } from './schema.ts';

describe('an isolated test database', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  it('runs on PostgreSQL when a URL is configured, else on PGlite', () => {
    expect(database.kind).toBe(testDatabaseUrl() ? 'postgres' : 'pglite');
  });

  it('holds the migrated schema and round-trips through Drizzle', async () => {
    await database.db.insert(installation).values({ key: 'instance', value: 'abc' });
    const rows = await database.db.select().from(installation).where(eq(installation.key, 'instance'));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.value).toBe('abc');
    expect(rows[0]!.updatedAt).toBeInstanceOf(Date);
  });

  it('is not shared with another test database', async () => {
    const other = await createTestDatabase();
    try {
      expect(await other.db.select().from(installation)).toEqual([]);
    } finally {
      await other.drop();
    }
  });

  it('migrating twice is a no-op', async () => {
    await database.migrate();
    const tables = await database.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'installation'",
    );
    expect(tables[0]!.n).toBe(1);
  });
});

describe('embedded PGlite in a data folder', () => {
  it('keeps data across a close and reopen', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'bd-pglite-'));
    const first = await connect({ dataDir: dir });
    await first.migrate();
    await first.db.insert(installation).values({ key: 'k', value: 'kept' });
    await first.close();
    const second = await connect({ dataDir: dir });
    const rows = await second.db.select().from(installation);
    await second.close();
    expect(rows.map((r) => r.value)).toEqual(['kept']);
  });
});

describe('writes deferred to a scripted transaction’s next round trip', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  const put = 'insert into installation (key, value) values ($1, $2)';
  const values = async (prefix: string) =>
    (
      await database.query<{ key: string; value: string }>(
        'select key, value from installation where key like $1 order by key',
        [`${prefix}%`],
      )
    ).map((r) => `${r.key}=${r.value}`);

  it('run in program order: a later read sees them, and the commit keeps them', async () => {
    const seen = await scriptedTransaction(database.db, async (tx) => {
      // The first use on a connection runs at once (and prepares the statement); later ones are queued.
      for (let i = 0; i < 3; i++) await deferPrepared(tx, 'test_put', put, [`order:${i}`, String(i)]);
      const [row] = await preparedQuery<{ n: number }>(
        tx,
        'test_count',
        "select count(*)::int as n from installation where key like 'order:%'",
        [],
      );
      await deferPrepared(tx, 'test_put', put, ['order:3', 'last']);
      return row!.n;
    });
    expect(seen).toBe(3);
    expect(await values('order:')).toEqual(['order:0=0', 'order:1=1', 'order:2=2', 'order:3=last']);
  });

  it('fail the transaction even when the query that carried a failing one had its error caught', async () => {
    await scriptedTransaction(database.db, async (tx) => {
      await deferPrepared(tx, 'test_put', put, ['dup:0', 'first']);
    });
    const attempt = scriptedTransaction(database.db, async (tx) => {
      await deferPrepared(tx, 'test_put', put, ['dup:1', 'written']);
      // Prepared on this connection now: the duplicate below is queued, and fails with the next query.
      await deferPrepared(tx, 'test_put', put, ['dup:0', 'again']);
      await preparedQuery(
        tx,
        'test_count',
        "select count(*)::int as n from installation where key like 'order:%'",
        [],
      ).catch(() => null);
    });
    await expect(attempt).rejects.toThrow();
    expect(await values('dup:')).toEqual(['dup:0=first']);
  });

  it('a transaction an error aborted, caught and carried on after, is not reported committed', async () => {
    const attempt = scriptedTransaction(database.db, async (tx) => {
      await tx.insert(installation).values({ key: 'aborted:0', value: 'x' });
      await tx.execute(sql.raw('select 1/0')).catch(() => null);
    });
    await expect(attempt).rejects.toThrow(/not committed|rolled back/);
    expect(await values('aborted:')).toEqual([]);
  });
});

describe('a statement run under planner settings (queryPlanned)', () => {
  const text = "select current_setting('enable_seqscan') as seqscan, 10 / $1::int as tenth";
  prepareOnEveryConnection('test_planned', text);
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  it('runs with the settings, which end with it; a failing run leaves its connection usable', async () => {
    // One connection, so every run below, and the plain query after them, share it.
    const single = database.url ? await connect({ databaseUrl: database.url, maxConnections: 1 }) : database;
    try {
      const run = (n: number) =>
        single.queryPlanned<{ seqscan: string; tenth: number }>('test_planned', text, [n], { enable_seqscan: 'off' });
      const onPostgres = database.kind === 'postgres';
      expect(await run(2)).toEqual([{ seqscan: onPostgres ? 'off' : 'on', tenth: 5 }]);
      await expect(run(0)).rejects.toThrow(/division by zero/);
      expect(await run(5)).toEqual([{ seqscan: onPostgres ? 'off' : 'on', tenth: 2 }]);
      expect(await single.query<{ s: string }>("select current_setting('enable_seqscan') as s")).toEqual([{ s: 'on' }]);
    } finally {
      if (single !== database) await single.close();
    }
  });
});
