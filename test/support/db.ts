/**
 * An isolated database for one test file.
 *
 * With `TEST_DATABASE_URL` (or `DATABASE_URL`) set, each call clones a fresh PostgreSQL database from a template
 * that already holds the migrations (built once per run by `test/support/global-setup.ts`); otherwise it opens a
 * fresh in-memory PGlite and migrates it. Either way the test gets a `Database` nobody else touches.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connect, type Database } from '../../src/db/connect.ts';
import { templateDatabaseName } from './template.ts';

export function testDatabaseUrl(): string | undefined {
  return process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || undefined;
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export interface TestDatabase extends Database {
  /** The connection string of this isolated database (PostgreSQL only), for child processes. */
  readonly url: string | undefined;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = testDatabaseUrl();
  if (!adminUrl) {
    const database = await connect({ dataDir: 'memory://' });
    await database.migrate();
    return Object.assign(database, { url: undefined, drop: () => database.close() });
  }
  const name = `bdt_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${templateDatabaseName()}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl, name);
  const database = await connect({ databaseUrl: url, maxConnections: 5 });
  return Object.assign(database, {
    url,
    async drop() {
      await database.close();
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  });
}
