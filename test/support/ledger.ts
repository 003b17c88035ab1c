/**
 * The ledger's invariant as a test assertion, checked directly in SQL (not through the ledger module): every ledger
 * transaction has at least two entries and sums to zero in each currency, so every currency sums to zero overall.
 * Call it after each test that moves money.
 */
import type { SQL } from 'drizzle-orm';
import { sql } from 'drizzle-orm';
import type { Database, Executor } from '../../src/db/connect.ts';

type Row = Record<string, unknown>;

function isDatabase(db: Database | Executor): db is Database {
  return typeof (db as Database).migrate === 'function' && typeof (db as Database).query === 'function';
}

async function rows(db: Database | Executor, text: string): Promise<Row[]> {
  if (isDatabase(db)) return db.query<Row>(text);
  const result = await db.execute(sql.raw(text) as SQL);
  return (result as unknown as { rows: Row[] }).rows;
}

export async function expectLedgerBalanced(db: Database | Executor): Promise<void> {
  const problems: string[] = [];
  const tooFew = await rows(
    db,
    `select t.id, t.kind, count(e.id)::int as entries
     from ledger_transactions t left join ledger_entries e on e.transaction_id = t.id
     group by t.id, t.kind having count(e.id) < 2 order by t.id`,
  );
  for (const r of tooFew) {
    problems.push(`transaction ${r.id} (${r.kind}) has ${r.entries} entr${r.entries === 1 ? 'y' : 'ies'}`);
  }
  const unbalanced = await rows(
    db,
    `select e.transaction_id, t.kind, e.currency, sum(e.amount_minor)::text as total
     from ledger_entries e join ledger_transactions t on t.id = e.transaction_id
     group by e.transaction_id, t.kind, e.currency having sum(e.amount_minor) <> 0
     order by e.transaction_id, e.currency`,
  );
  for (const r of unbalanced) {
    problems.push(`transaction ${r.transaction_id} (${r.kind}) sums to ${r.total} ${r.currency}`);
  }
  const global = await rows(
    db,
    `select currency, sum(amount_minor)::text as total from ledger_entries
     group by currency having sum(amount_minor) <> 0 order by currency`,
  );
  for (const r of global) problems.push(`all entries in ${r.currency} sum to ${r.total}`);
  const mismatched = await rows(
    db,
    `select e.id, e.transaction_id, e.currency, a.code from ledger_entries e
     join ledger_accounts a on a.id = e.account_id where a.currency <> e.currency order by e.id`,
  );
  for (const r of mismatched) {
    problems.push(`entry ${r.id} of transaction ${r.transaction_id} is in ${r.currency} on account ${r.code}`);
  }
  if (problems.length > 0) {
    throw new Error(`the ledger is not balanced:\n  ${problems.join('\n  ')}`);
  }
}
