/**
 * Opens the database: PostgreSQL when a URL is given, else embedded PGlite in a data folder. Both speak the same SQL
 * and run the same migrations, so everything above this module is unaware of which one it got.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { type Column, getTableColumns, type InferSelectModel, is, sql, type Table } from 'drizzle-orm';
import { drizzle as drizzlePg, NodePgDatabase, NodePgSession, NodePgTransaction } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import * as schema from './schema.ts';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));

export interface Database {
  readonly kind: 'postgres' | 'pglite';
  readonly db: Db;
  /**
   * Plain parameterised SQL, for the few places (queues, locks) that work below the ORM. With `name` (PostgreSQL), a
   * named prepared statement: parsed and planned once per connection, then reused (see `preparedQuery`).
   */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], name?: string): Promise<T[]>;
  /**
   * A statement registered with `prepareOnEveryConnection`, run in a transaction of its own under planner `settings`
   * (SET LOCAL, e.g. `enable_seqscan: 'off'`), for a statement whose plan must not follow the table's statistics: a
   * queue that fills faster than autovacuum analyses it would otherwise keep a plan made while it was empty (a walk
   * of the whole table per claim). Every plan of the prepared statement is made under these settings, the cached
   * generic one included. PostgreSQL: one round trip (`begin; set local …; execute name(literals); commit`).
   * PGlite: `sql` with `params`, as `query`.
   */
  queryPlanned<T = Record<string, unknown>>(
    name: string,
    sql: string,
    params: unknown[],
    settings: Record<string, string>,
  ): Promise<T[]>;
  migrate(): Promise<void>;
  /** Subscribes to NOTIFY on a channel; resolves to an unsubscribe function. */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  databaseUrl?: string | undefined;
  /** Folder for PGlite's files; `memory://` keeps it in memory (tests). */
  dataDir?: string;
  /** Pool size for PostgreSQL. */
  maxConnections?: number;
}

/** Statements the connections of scripted transactions prepare with SQL PREPARE (`prepareOnEveryConnection`). */
const everyConnection = new Map<string, string>();
/** Per connection: the statements of `everyConnection` it has prepared, and how often preparing each failed. */
const preparedBySql = new WeakMap<object, { done: Set<string>; failed: Map<string, number> }>();

/**
 * Has every pooled PostgreSQL connection that runs a `scriptedTransaction` prepare `text` as `name` (SQL PREPARE,
 * once per connection, before its first such transaction; parameter types from the casts in `text`): a script may
 * then `execute name(…)` it (`executePrepared`, when `ScriptConnection.hasPrepared` says so) instead of sending,
 * parsing and planning the statement each time. A connection where preparing fails (its tables not yet migrated)
 * tries again before later transactions, a few times. Call it at module load.
 */
export function prepareOnEveryConnection(name: string, text: string): void {
  everyConnection.set(name, text);
}

async function prepareStatements(client: pg.PoolClient): Promise<void> {
  let state = preparedBySql.get(client);
  if (!state) {
    state = { done: new Set(), failed: new Map() };
    preparedBySql.set(client, state);
  }
  for (const [name, text] of everyConnection) {
    if (state.done.has(name) || (state.failed.get(name) ?? 0) >= 3) continue;
    try {
      await client.query(`prepare ${pg.escapeIdentifier(name)} as ${text}`);
      state.done.add(name);
    } catch {
      state.failed.set(name, (state.failed.get(name) ?? 0) + 1);
    }
  }
}

export async function connect(options: ConnectOptions): Promise<Database> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.maxConnections ?? 10,
    });
    // A dropped idle connection must not crash the process; the pool replaces it on next use.
    pool.on('error', () => {});
    const db = drizzlePg(pool, { schema }) as unknown as Db;
    return {
      kind: 'postgres',
      db,
      async query(sql, params, name) {
        return (await pool.query({ text: sql, values: params as unknown[], ...(name ? { name } : {}) })).rows;
      },
      async queryPlanned(name, sql, params, settings) {
        const set = plannerSettings(settings);
        const client = await pool.connect();
        let broken: Error | undefined;
        try {
          await prepareStatements(client);
          if (preparedBySql.get(client)?.done.has(name)) {
            const results = (await client.query(
              ['begin', ...set, executePrepared(name, params), 'commit'].join(';\n'),
            )) as unknown as pg.QueryResult[];
            const ended = results.at(-1);
            if (ended?.command !== 'COMMIT') throw new Error(`${name} was not committed (${ended?.command})`);
            return results[1 + set.length]!.rows;
          }
          // Not prepared on this connection (its tables not yet migrated when it tried): the same, in three trips.
          await client.query(['begin', ...set].join(';\n'));
          const { rows } = await client.query(sql, params as unknown[]);
          await client.query('commit');
          return rows;
        } catch (err) {
          // A statement that failed leaves its transaction open (aborted): end it before the connection goes back.
          await client.query('rollback').catch((rollbackError: unknown) => {
            broken = rollbackError as Error;
          });
          throw err;
        } finally {
          client.release(broken);
        }
      },
      migrate: () => migratePg(drizzlePg(pool), { migrationsFolder }),
      async listen(channel, onNotify) {
        const client = new pg.Client({ connectionString: options.databaseUrl });
        client.on('error', () => {});
        await client.connect();
        client.on('notification', (message) => {
          if (message.channel === channel) onNotify();
        });
        await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
        return async () => {
          await client.end().catch(() => {});
        };
      },
      close: () => pool.end(),
    };
  }
  const dataDir = options.dataDir ?? './data';
  let location = 'memory://';
  if (!dataDir.startsWith('memory://')) {
    location = resolve(dataDir, 'pglite');
    mkdirSync(location, { recursive: true });
  }
  const client = await PGlite.create(location);
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  return {
    kind: 'pglite',
    db,
    async query(sql, params) {
      return (await client.query(sql, params as unknown[])).rows as never[];
    },
    async queryPlanned(_name, sql, params) {
      return (await client.query(sql, params as unknown[])).rows as never[];
    },
    migrate: () => migratePglite(drizzlePglite(client), { migrationsFolder }),
    async listen(channel, onNotify) {
      const unsubscribe = await client.listen(channel, () => onNotify());
      return async () => {
        await unsubscribe().catch(() => {});
      };
    },
    close: () => client.close(),
  };
}

/** A transaction handle, as passed to `db.transaction(async (tx) => …)`. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
/** Anything that runs queries: the database itself or an open transaction. */
export type Executor = Db | Tx;

/**
 * True when the executor talks to PostgreSQL over node-postgres: there, `execute(sql.raw(script))` of a script
 * without parameters goes in one round trip (simple query protocol), several statements separated by `;`, each with
 * its own snapshot, inside the caller's transaction (or one implicit transaction), and answers one result per
 * statement. PGlite runs one statement per call.
 */
export function runsScripts(executor: Executor): boolean {
  return is(executor, NodePgTransaction) || is(executor, NodePgDatabase);
}

/** What an opening script may know of the connection it will run on. */
export interface ScriptConnection {
  /** Whether a named prepared statement exists on it (then a script may `execute name(…)` it). */
  hasPrepared(name: string): boolean;
}

/** Transactions opened by `scriptedTransaction`, and those of them that their own last script committed. */
const scripted = new WeakSet<object>();
const committedInScript = new WeakSet<object>();
/** Per scripted transaction: its connection, and the writes deferred to its next round trip (`deferPrepared`). */
const writeBehind = new WeakMap<object, { connection: ScriptConnection; pending: string[] }>();

/**
 * Runs a write whose result the caller does not need (a named prepared statement, as `preparedQuery`) in the
 * transaction's next round trip instead of one of its own: in a `scriptedTransaction` whose connection already has
 * the statement prepared, it is queued as `execute name(literals)` and sent first in the next statement's round trip
 * (any query on the transaction sends the queue before itself, so statements still run in program order and a later
 * read sees the write), or with the last script (`takeDeferred`), or with the COMMIT. Elsewhere it runs now. An
 * error it raises then fails that later statement, and so the transaction, as it would have failed it here.
 */
export async function deferPrepared(executor: Executor, name: string, text: string, params: unknown[]): Promise<void> {
  const behind = writeBehind.get(executor);
  if (behind?.connection.hasPrepared(name)) {
    behind.pending.push(executePrepared(name, params));
    return;
  }
  await preparedQuery(executor, name, text, params);
}

/** What a script run on this transaction may know of its connection (a `scriptedTransaction`; else undefined). */
export function scriptConnection(executor: Executor): ScriptConnection | undefined {
  return writeBehind.get(executor)?.connection;
}

/** The writes deferred on this transaction and not yet sent, in order, for a script to run first; the queue empties. */
export function takeDeferred(executor: Executor): string[] {
  return writeBehind.get(executor)?.pending.splice(0) ?? [];
}

/**
 * How a script run on `executor` may end its transaction: `final` (a `scriptedTransaction`: the script's `commit`
 * ends it, nothing follows), `chained` (the outermost transaction of a node-postgres connection opened by the ORM:
 * `commit; begin`, and the wrapper's own COMMIT then ends the empty transaction the `begin` opened), or null (a
 * nested transaction, a savepoint, or PGlite: a script must never commit there).
 */
export function scriptCommit(executor: Executor): 'final' | 'chained' | null {
  if (scripted.has(executor)) return 'final';
  return is(executor, NodePgTransaction) && (executor as unknown as { nestedIndex: number }).nestedIndex === 0
    ? 'chained'
    : null;
}

/** Records that a script committed this transaction (`scriptCommit` said `final`). */
export function committedByScript(executor: Executor): void {
  committedInScript.add(executor);
}

/**
 * A transaction on PostgreSQL that saves round trips at both ends: BEGIN goes with `opening` (a parameterless script,
 * e.g. the transaction's first INSERT with its values as literals, whose results `work` receives, one row list per
 * statement), and a script that `work` runs last may commit it (`scriptCommit` = `final`; then no COMMIT follows).
 * `work` gets an ordinary ORM transaction (nested transactions are savepoints). Failing, it is rolled back. PGlite (or
 * a database over one connection): an ordinary transaction whose first statement is `opening`.
 */
export async function scriptedTransaction<T>(
  db: Db,
  work: (tx: Tx, opened: Record<string, unknown>[][]) => Promise<T>,
  options: { opening?: string | ((connection: ScriptConnection) => string | undefined) } = {},
): Promise<T> {
  const base = db as unknown as { dialect: unknown; session: { client: unknown; schema: unknown; options: unknown } };
  const pool = base.session?.client;
  if (!is(db, NodePgDatabase) || !(pool instanceof pg.Pool)) {
    return db.transaction(async (tx) => {
      const opening =
        typeof options.opening === 'function' ? options.opening({ hasPrepared: () => false }) : options.opening;
      const opened = opening
        ? [((await tx.execute(sql.raw(opening))) as unknown as { rows: Record<string, unknown>[] }).rows]
        : [];
      return work(tx, opened);
    });
  }
  const client = await pool.connect();
  if (everyConnection.size > 0) await prepareStatements(client);
  const connection: ScriptConnection = {
    // node-postgres remembers the statements it prepared on each connection; `prepareOnEveryConnection` the others.
    hasPrepared: (name) =>
      (client as unknown as { connection?: { parsedStatements?: Record<string, string> } }).connection
        ?.parsedStatements?.[name] !== undefined || preparedBySql.get(client)?.done.has(name) === true,
  };
  const opening = typeof options.opening === 'function' ? options.opening(connection) : options.opening;
  const pending: string[] = [];
  let deferredFailure: unknown = null;
  // What the ORM and `preparedQuery` talk to: the connection, except that a query first sends the deferred writes.
  const driver = new Proxy(client, {
    get(target, property) {
      if (property !== 'query') {
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return async (...args: unknown[]) => {
        if (pending.length > 0) {
          try {
            await target.query(pending.splice(0).join(';\n'));
          } catch (err) {
            // Whatever the caller of this query does with the error, the transaction cannot commit.
            deferredFailure ??= err;
            throw err;
          }
        }
        return (target.query as (...a: unknown[]) => unknown)(...args);
      };
    },
  });
  // The ORM's own transaction object over this connection, as its `transaction()` builds one but without the schema
  // of relational queries (`tx.query.<table>`, which nothing here uses): with it, the ORM builds a query builder for
  // every table of the schema for each transaction, ~50 µs of a webhook's CPU.
  const session = new NodePgSession(driver, base.dialect as never, undefined, base.session.options as never);
  const tx = new NodePgTransaction(base.dialect as never, session, undefined) as unknown as Tx;
  scripted.add(tx);
  writeBehind.set(tx, { connection, pending });
  let broken: unknown = null;
  try {
    const results = (await client.query(opening ? `begin;\n${opening}` : 'begin')) as unknown as
      | pg.QueryResult
      | pg.QueryResult[];
    const opened = Array.isArray(results) ? results.slice(1).map((r) => r.rows) : [];
    const result = await work(tx, opened);
    if (deferredFailure !== null) throw deferredFailure;
    if (!committedInScript.has(tx)) {
      // Deferred writes nothing sent yet go with the COMMIT. PostgreSQL answers COMMIT of a transaction an error
      // already aborted (one a caller caught and carried on after) with ROLLBACK, not an error: that is a failure.
      const results = (await client.query([...pending.splice(0), 'commit'].join(';\n'))) as unknown as
        | pg.QueryResult
        | pg.QueryResult[];
      const ended = Array.isArray(results) ? results.at(-1) : results;
      if (ended?.command !== 'COMMIT') {
        throw new Error(`the transaction was not committed (${ended?.command ?? 'no answer'}): an error aborted it`);
      }
    }
    return result;
  } catch (err) {
    if (!committedInScript.has(tx)) {
      // After a COMMIT that failed the transaction is already over (ROLLBACK then only warns).
      await client.query('rollback').catch((rollbackError: unknown) => {
        broken = rollbackError;
      });
    }
    throw err;
  } finally {
    client.release(broken instanceof Error ? broken : undefined);
  }
}

/**
 * Runs one statement on the executor's own connection (inside its transaction) as a named prepared statement: on
 * PostgreSQL it is parsed, analysed and planned once per connection and then only bound and executed, which is most
 * of what a short statement costs the server, and it skips the ORM's query building. Rows come as the driver gives
 * them (column names; timestamps as Date, bigint and numeric as strings, json parsed). PGlite: an ordinary query.
 * `name` must always go with the same text (use a constant per statement).
 */
export async function preparedQuery<T = Record<string, unknown>>(
  executor: Executor,
  name: string,
  text: string,
  params: unknown[],
): Promise<T[]> {
  // Drizzle keeps its driver client on the session of the database or transaction object (node-postgres: a Pool or
  // the transaction's PoolClient; PGlite: the instance or its transaction).
  const client = (executor as unknown as { session?: { client?: unknown } }).session?.client as
    | { query(config: unknown, values?: unknown[]): Promise<{ rows: T[] }> }
    | undefined;
  if (!client) throw new Error('preparedQuery: no driver client on this executor');
  if (runsScripts(executor)) return (await client.query({ name, text, values: params })).rows;
  return (await client.query(text, params)).rows;
}

const columnsOf = new WeakMap<Table, [string, Column][]>();

/**
 * A row of `table` as a raw statement answers it (column names, driver values: `preparedQuery`, `RETURNING *`), in
 * the ORM's shape (property names, the column types' own decoding).
 */
export function rowOf<T extends Table>(table: T, raw: Record<string, unknown>): InferSelectModel<T> {
  let columns = columnsOf.get(table);
  if (!columns) {
    columns = Object.entries(getTableColumns(table));
    columnsOf.set(table, columns);
  }
  const row: Record<string, unknown> = {};
  for (const [key, column] of columns) {
    const value = raw[column.name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as InferSelectModel<T>;
}

/** A value as an SQL literal for such a script: quotes and backslashes escaped (E'' when needed), null as NULL. */
export function sqlLiteral(value: string | null): string {
  return value === null ? 'null' : pg.escapeLiteral(value);
}

/** Any parameter value as an SQL literal: strings quoted, finite numbers and booleans as they are, null as NULL. */
function literalOf(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot write ${value} as an SQL literal`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof Date) return pg.escapeLiteral(value.toISOString());
  if (typeof value === 'string') return pg.escapeLiteral(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    // A text[] parameter: the array literal, each element quoted.
    return pg.escapeLiteral(`{${value.map((v) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(',')}}`);
  }
  throw new Error(`cannot write a ${typeof value} as an SQL literal`);
}

/**
 * `set local` statements for planner settings (e.g. `enable_seqscan: 'off'`), for a script that runs a statement whose
 * plans must all be made under them (see `Database.queryPlanned`); `plannerDefaults` puts them back for the rest of
 * the transaction.
 */
export function plannerSettings(settings: Record<string, string>): string[] {
  return Object.entries(settings).map(
    ([setting, value]) => `set local ${pg.escapeIdentifier(setting)} = ${pg.escapeLiteral(value)}`,
  );
}

/** The `set local … to default` statements that end `plannerSettings(settings)` within a transaction. */
export function plannerDefaults(settings: Record<string, string>): string[] {
  return Object.keys(settings).map((setting) => `set local ${pg.escapeIdentifier(setting)} to default`);
}

/**
 * `execute name(…)` of a named prepared statement with these parameters as literals, for a script (the statement
 * must exist on the connection: see `ScriptConnection.hasPrepared`); the literals take the statement's parameter types.
 */
export function executePrepared(name: string, params: unknown[]): string {
  const args = params.length > 0 ? `(${params.map(literalOf).join(', ')})` : '';
  return `execute ${pg.escapeIdentifier(name)}${args}`;
}
