/** Builds the migrated template database once per test run (PostgreSQL only). */
import pg from 'pg';
import { connect } from '../../src/db/connect.ts';
import { testDatabaseUrl, withDatabase } from './db.ts';
import { templateDatabaseName } from './template.ts';

export default async function setup(): Promise<void> {
  const adminUrl = testDatabaseUrl();
  if (!adminUrl) return;
  const name = templateDatabaseName();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query('SELECT pg_advisory_lock(7319001)');
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) {
      await admin.query(`CREATE DATABASE ${name}`);
      const database = await connect({ databaseUrl: withDatabase(adminUrl, name), maxConnections: 1 });
      try {
        await database.migrate();
      } catch (err) {
        await database.close();
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        throw err;
      }
      await database.close();
      await admin.query(`COMMENT ON DATABASE ${name} IS 'brokerdesk test template ${Date.now()}'`);
    }
    // Templates from earlier schema versions are removed once an hour old (a run on another checkout, with other
    // migrations, may be using a newer one right now).
    const stale = await admin.query(
      `SELECT d.datname FROM pg_database d LEFT JOIN pg_shdescription s ON s.objoid = d.oid
        WHERE d.datname LIKE 'bdtpl\\_%' AND d.datname <> $1
          AND coalesce(substring(s.description from '[0-9]+$')::bigint, 0) < $2`,
      [name, Date.now() - 3600_000],
    );
    for (const row of stale.rows) await admin.query(`DROP DATABASE IF EXISTS ${row.datname} WITH (FORCE)`);
  } finally {
    await admin.query('SELECT pg_advisory_unlock(7319001)').catch(() => {});
    await admin.end();
  }
}
