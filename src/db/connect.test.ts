import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from '../../test/support/db.ts';
import { connect } from './connect.ts';
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
