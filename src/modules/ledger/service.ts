/**
 * The ledger module owns Brokerdesk's double-entry books: every money movement (deposit, withdrawal, transfer,
 * credit, adjustment, refund, chargeback, reversal, a change a dealer made on a server) is one ledger transaction of
 * immutable entries in integer minor units, on per-currency accounts. Balances are never stored: they are sums of
 * entries. The database enforces what matters (migration 0008_ledger): each transaction sums to zero per currency and
 * has at least two entries (checked at COMMIT), entries and transactions cannot be updated or deleted, and entries
 * cannot be added to a transaction after it was committed. Corrections are new transactions.
 *
 * ## Sign convention
 *
 * Entries are signed from the broker's books: **positive = debit, negative = credit**.
 * - Debit-normal (their balance is normally positive): `psp_clearing` (money the broker has or is due at a PSP),
 *   `bonus_expense`, `write_offs`, `external_adjustments` (money a dealer gave on a server without the CRM), and
 *   `fx_conversion` (either sign, as the conversion desk is long or short a currency).
 * - Credit-normal (normally negative: what the broker owes or earned): `client_funds`, `trading_account`,
 *   `trading_credit`, `payouts_pending`, `ib_payable`, `broker_revenue`.
 *
 * Examples, in minor units:
 * - deposit of 100.00 USD through PSP "acme" to trading account T: `psp_clearing:acme:USD +10000`,
 *   `trading_account:T:USD −10000`.
 * - withdrawal of 40.00 USD from T, paid through "acme": `trading_account:T:USD +4000`,
 *   `payouts_pending:acme:USD −4000`; when the PSP confirms the payout: `payouts_pending +4000`, `psp_clearing −4000`.
 * - bonus credit 50.00 on T: `bonus_expense:USD +5000`, `trading_credit:T:USD −5000`.
 * - a dealer adds 10.00 on server "mt5-live" directly: `external_adjustments:mt5-live:USD +1000`,
 *   `trading_account:T:USD −1000`.
 *
 * So the ledger balance of a `trading_account` is the **negation** of the balance the client (and the server) sees:
 * `clientVisibleBalance(tx, { type: 'trading_account', ownerId: T, currency })` returns it in the server's sign, and
 * "ledger = server balance" is `clientVisibleBalance(...) === serverBalanceMinor` (same for `trading_credit` and the
 * server's credit). `visibleSign(type)` gives the factor for any account type.
 *
 * ## Account codes
 *
 * An account is named by `<type>:<ownerId>:<CUR>`, or `<type>:<CUR>` for the types that need no owner
 * (`broker_revenue`, `bonus_expense`, `fx_conversion`, `write_offs`; these may still take one, e.g. revenue per
 * server). Owners: `psp_clearing` and `payouts_pending` a PSP name, `client_funds` a client id, `trading_account` and
 * `trading_credit` a trading account id, `ib_payable` a partner id, `external_adjustments` a server code. Accounts are
 * created on first use.
 */
import { eq, inArray, type SQL, sql } from 'drizzle-orm';
import { PgTransaction } from 'drizzle-orm/pg-core';
import { type Clock, systemClock } from '../../clock.ts';
import { type Db, deferPrepared, type Executor, preparedQuery } from '../../db/connect.ts';
import { ledgerAccounts, ledgerAccountTypes, ledgerEntries, ledgerTransactions } from '../../db/schema.ts';

export type LedgerAccountType =
  | 'psp_clearing'
  | 'client_funds'
  | 'trading_account'
  | 'trading_credit'
  | 'payouts_pending'
  | 'ib_payable'
  | 'broker_revenue'
  | 'bonus_expense'
  | 'external_adjustments'
  | 'fx_conversion'
  | 'write_offs';

/** Every account type, in the order of the schema's list (which the database's check constraint mirrors). */
export const LEDGER_ACCOUNT_TYPES: readonly LedgerAccountType[] = ledgerAccountTypes;
// Compile-time guard that the union above and the schema's list are the same set.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const unionMatchesSchema: Same<LedgerAccountType, (typeof ledgerAccountTypes)[number]> = true;
void unionMatchesSchema;

export interface LedgerAccountKey {
  type: LedgerAccountType;
  ownerId?: string | null;
  currency: string;
}

/** One entry of a posting: a signed amount in the account's currency, in minor units (positive = debit). */
export interface LedgerLine {
  account: LedgerAccountKey;
  amountMinor: number;
}

export interface LedgerPosting {
  /** deposit.approved, withdrawal.posted, transfer, credit.in, adjustment, external_change, refund, chargeback, … */
  kind: string;
  description: string;
  lines: LedgerLine[];
  /** The event's natural key (PSP transaction id, deal ticket, operation reference…): posting it twice is a no-op. */
  idempotencyKey?: string;
  correlation?: Record<string, unknown>;
  createdBy: string;
}

export type LedgerErrorCode =
  | 'UNBALANCED'
  | 'EMPTY'
  | 'NOT_INTEGER'
  | 'IDEMPOTENCY_CONFLICT'
  | 'BAD_CURRENCY'
  | 'BAD_ACCOUNT';

/** A posting the ledger refuses, with a message saying what is wrong. Thrown before anything is written. */
export class LedgerError extends Error {
  override readonly name = 'LedgerError';
  constructor(
    readonly code: LedgerErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** Types whose accounts need no owner. Every other type requires one. */
const OWNERLESS: ReadonlySet<LedgerAccountType> = new Set([
  'broker_revenue',
  'bonus_expense',
  'fx_conversion',
  'write_offs',
]);

/** Credit-normal types: what the broker owes (or earned). Their owner sees the negation of the ledger balance. */
const CREDIT_NORMAL: ReadonlySet<LedgerAccountType> = new Set([
  'client_funds',
  'trading_account',
  'trading_credit',
  'payouts_pending',
  'ib_payable',
  'broker_revenue',
]);

const CURRENCY = /^[A-Z]{3}$/;

function validateAccount(key: LedgerAccountKey, where: string): void {
  if (!key || typeof key !== 'object') throw new LedgerError('BAD_ACCOUNT', `${where}: no account given`);
  if (!(ledgerAccountTypes as readonly string[]).includes(key.type)) {
    throw new LedgerError(
      'BAD_ACCOUNT',
      `${where}: unknown account type ${JSON.stringify(key.type)} (one of ${ledgerAccountTypes.join(', ')})`,
    );
  }
  if (typeof key.currency !== 'string' || !CURRENCY.test(key.currency)) {
    throw new LedgerError(
      'BAD_CURRENCY',
      `${where}: currency ${JSON.stringify(key.currency)} is not three upper-case letters (ISO 4217, e.g. USD)`,
    );
  }
  const owner = key.ownerId;
  if (owner === undefined || owner === null) {
    if (!OWNERLESS.has(key.type)) {
      throw new LedgerError('BAD_ACCOUNT', `${where}: a ${key.type} account needs an owner id`);
    }
  } else if (typeof owner !== 'string' || owner.trim() === '' || owner !== owner.trim()) {
    throw new LedgerError(
      'BAD_ACCOUNT',
      `${where}: owner id ${JSON.stringify(owner)} must be a non-empty string without surrounding spaces`,
    );
  }
}

/** The canonical code of an account: `<type>:<ownerId>:<CUR>`, or `<type>:<CUR>` without an owner. */
export function accountCode(key: LedgerAccountKey): string {
  validateAccount(key, 'account');
  return key.ownerId == null ? `${key.type}:${key.currency}` : `${key.type}:${key.ownerId}:${key.currency}`;
}

/** +1 for debit-normal types, −1 for credit-normal ones: multiply a ledger balance by it to get the owner's view. */
export function visibleSign(type: LedgerAccountType): 1 | -1 {
  return CREDIT_NORMAL.has(type) ? -1 : 1;
}

function keyOf(row: { type: string; ownerId: string | null; currency: string }): LedgerAccountKey {
  return { type: row.type as LedgerAccountType, ownerId: row.ownerId, currency: row.currency };
}

/** A SUM from the database (bigint/numeric as text) as a number, refusing to lose precision silently. */
function toSafeNumber(value: unknown): number {
  const n = Number(value ?? 0);
  if (!Number.isSafeInteger(n)) throw new Error(`ledger amount ${String(value)} exceeds the safe integer range`);
  return n;
}

function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

interface CheckedPosting {
  lines: { code: string; account: LedgerAccountKey; amountMinor: number }[];
}

function validatePosting(posting: LedgerPosting): CheckedPosting {
  if (!posting || typeof posting !== 'object') throw new LedgerError('EMPTY', 'no posting given');
  if (typeof posting.kind !== 'string' || posting.kind.trim() === '') {
    throw new LedgerError('EMPTY', 'a ledger transaction needs a kind (e.g. deposit.approved)');
  }
  if (typeof posting.description !== 'string')
    throw new LedgerError('EMPTY', 'a ledger transaction needs a description');
  if (typeof posting.createdBy !== 'string' || posting.createdBy.trim() === '') {
    throw new LedgerError('EMPTY', 'a ledger transaction needs createdBy (who or what posted it)');
  }
  if (
    posting.idempotencyKey !== undefined &&
    (typeof posting.idempotencyKey !== 'string' || posting.idempotencyKey === '')
  ) {
    throw new LedgerError('EMPTY', 'an idempotency key, when given, must be a non-empty string');
  }
  if (
    posting.correlation !== undefined &&
    (posting.correlation === null || typeof posting.correlation !== 'object' || Array.isArray(posting.correlation))
  ) {
    throw new LedgerError('EMPTY', 'correlation, when given, must be an object of ids');
  }
  if (!Array.isArray(posting.lines) || posting.lines.length === 0) {
    throw new LedgerError('EMPTY', `ledger transaction "${posting.kind}" has no lines`);
  }
  const lines = posting.lines.map((line, i) => {
    const where = `line ${i + 1}`;
    validateAccount(line?.account, where);
    const amount = line.amountMinor;
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount === 0) {
      throw new LedgerError(
        'NOT_INTEGER',
        `${where} (${accountCode(line.account)}): amount ${String(amount)} must be a non-zero safe integer in minor units`,
      );
    }
    return { code: accountCode(line.account), account: line.account, amountMinor: amount };
  });
  const sums = new Map<string, bigint>();
  for (const line of lines) {
    sums.set(line.account.currency, (sums.get(line.account.currency) ?? 0n) + BigInt(line.amountMinor));
  }
  const unbalanced = [...sums].filter(([, total]) => total !== 0n).sort(([a], [b]) => (a < b ? -1 : 1));
  if (unbalanced.length > 0 || lines.length < 2) {
    const detail =
      unbalanced.length > 0
        ? unbalanced.map(([currency, total]) => `${currency} sums to ${total}`).join(', ')
        : 'a single line cannot balance';
    throw new LedgerError(
      'UNBALANCED',
      `ledger transaction "${posting.kind}" is unbalanced: ${detail}; each currency's lines must sum to zero`,
      { sums: Object.fromEntries([...sums].map(([c, t]) => [c, t.toString()])) },
    );
  }
  return { lines };
}

/** The entries of a posting as a comparable multiset. */
function fingerprint(lines: { code: string; amountMinor: number }[]): string {
  return lines
    .map((l) => `${l.code}\u0000${l.amountMinor}`)
    .sort()
    .join('\n');
}

async function existingByKey(
  tx: Executor,
  idempotencyKey: string,
): Promise<{ id: string; kind: string; lines: { code: string; amountMinor: number }[] } | undefined> {
  const [found] = await tx
    .select({ id: ledgerTransactions.id, kind: ledgerTransactions.kind })
    .from(ledgerTransactions)
    .where(eq(ledgerTransactions.idempotencyKey, idempotencyKey));
  if (!found) return undefined;
  const lines = await tx
    .select({ code: ledgerAccounts.code, amountMinor: ledgerEntries.amountMinor })
    .from(ledgerEntries)
    .innerJoin(ledgerAccounts, eq(ledgerAccounts.id, ledgerEntries.accountId))
    .where(eq(ledgerEntries.transactionId, found.id));
  return { ...found, lines };
}

function replayOf(
  existing: { id: string; kind: string; lines: { code: string; amountMinor: number }[] },
  posting: LedgerPosting,
  checked: CheckedPosting,
): { transactionId: string; replayed: true } {
  if (existing.kind !== posting.kind || fingerprint(existing.lines) !== fingerprint(checked.lines)) {
    throw new LedgerError(
      'IDEMPOTENCY_CONFLICT',
      `idempotency key "${posting.idempotencyKey}" was already posted as ledger transaction ${existing.id} ` +
        `with different ${existing.kind !== posting.kind ? 'kind' : 'entries'}; a replay must be identical`,
      { transactionId: existing.id },
    );
  }
  return { transactionId: existing.id, replayed: true };
}

/**
 * Posts one balanced ledger transaction. Call it with the database transaction of the business change it records
 * (given the database itself, it opens a transaction of its own). Validates first and throws a `LedgerError` before
 * writing anything; creates the accounts it names; with an idempotency key already posted, returns that transaction
 * (`replayed: true`) if kind and entries are identical, else throws IDEMPOTENCY_CONFLICT.
 */
export async function postLedgerTransaction(
  tx: Executor,
  posting: LedgerPosting,
  clock: Clock = systemClock,
): Promise<{ transactionId: string; replayed: boolean }> {
  const checked = validatePosting(posting);
  if (!(tx instanceof PgTransaction)) {
    return (tx as Db).transaction((inner) => postChecked(inner, posting, checked, clock));
  }
  return postChecked(tx, posting, checked, clock);
}

/**
 * A posting in one statement: the transaction row ($1–$6; with an idempotency key already posted, nothing, after
 * waiting for a concurrent writer of the same key), the accounts ($7, created on first use, in code order; $10 their
 * codes, looked up through the unique index: a join with the JSON rows, estimated at 100 in the cached generic plan,
 * was a hash join over a sequential scan of every ledger account), and the entries ($8), written only when every one
 * of the $9 accounts was found or created by this statement.
 */
const POST_SQL = `
  with t as (
    insert into ledger_transactions (kind, description, idempotency_key, correlation, created_at, created_by)
    values ($1, $2, $3, $4::jsonb, $5::timestamptz, $6)
    on conflict (idempotency_key) do nothing
    returning id
  ), wanted as (
    select * from jsonb_to_recordset($7::jsonb) as w(code text, type text, owner_id text, currency text)
  ), created as (
    insert into ledger_accounts (code, type, owner_id, currency, created_at)
    select code, type, owner_id, currency, $5::timestamptz from wanted order by code
    on conflict (code) do nothing
    returning id, code
  ), found as (
    select code, id from created
    union all
    select code, id from ledger_accounts where code = any($10::text[])
  ), lines as (
    select * from jsonb_to_recordset($8::jsonb) as l(n int, code text, currency text, amount bigint)
  ), entries as (
    insert into ledger_entries (transaction_id, account_id, currency, amount_minor, created_at)
    select t.id, found.id, lines.currency, lines.amount, $5::timestamptz
    from t, lines join found on found.code = lines.code
    where (select count(*) from found) = $9::int
    order by lines.n
    returning 1
  )
  select (select id from t) as transaction_id,
         (select count(*) from entries)::int as entries,
         coalesce((select json_agg(json_build_object('code', found.code, 'id', found.id)) from found), '[]'::json)
           as accounts`;

async function postChecked(
  tx: Executor,
  posting: LedgerPosting,
  checked: CheckedPosting,
  clock: Clock,
): Promise<{ transactionId: string; replayed: boolean }> {
  const key = posting.idempotencyKey;
  const at = new Date(Math.floor(clock.now().getTime()));

  // Accounts in code order, so concurrent postings that create the same accounts wait on each other, not deadlock.
  const accounts = new Map<string, LedgerAccountKey>();
  for (const line of checked.lines) accounts.set(line.code, line.account);
  const codes = [...accounts.keys()].sort();
  // One round trip for the transaction row, the accounts (created on first use) and the entries. With an
  // idempotency key that is already posted, the transaction insert does nothing (waiting for a concurrent writer of
  // the same key to finish), no entry is written, and the posting is compared with what is there. The entries are
  // written only when every account was found or created by this statement; otherwise (an account another
  // transaction created while this statement waited for it) they are written once the accounts are read again.
  const [row] = await preparedQuery<{
    transaction_id: string | null;
    entries: number;
    accounts: { code: string; id: string }[] | string;
  }>(tx, 'bd_ledger_post', POST_SQL, [
    posting.kind,
    posting.description,
    key ?? null,
    JSON.stringify(posting.correlation ?? {}),
    at.toISOString(),
    posting.createdBy,
    JSON.stringify(
      codes.map((code) => {
        const a = accounts.get(code)!;
        return { code, type: a.type, owner_id: a.ownerId ?? null, currency: a.currency };
      }),
    ),
    JSON.stringify(
      checked.lines.map((line, i) => ({
        n: i,
        code: line.code,
        currency: line.account.currency,
        amount: line.amountMinor,
      })),
    ),
    codes.length,
    codes,
  ]);
  const transactionId = row?.transaction_id ?? null;
  if (!transactionId) {
    const existing = key === undefined ? undefined : await existingByKey(tx, key);
    if (!existing) {
      throw new LedgerError(
        'IDEMPOTENCY_CONFLICT',
        `idempotency key "${key}" is being posted concurrently and is not yet visible here; retry`,
      );
    }
    return replayOf(existing, posting, checked);
  }
  if (row!.entries === checked.lines.length) return { transactionId, replayed: false };
  const found = typeof row!.accounts === 'string' ? JSON.parse(row!.accounts) : row!.accounts;
  const idByCode = new Map((found as { code: string; id: string }[]).map((a) => [a.code, a.id]));
  // An account another transaction created while this statement waited for it (ON CONFLICT waits for that commit,
  // but the statement's snapshot predates it): read it again with a fresh snapshot, then write the entries.
  const missing = codes.filter((code) => !idByCode.has(code));
  for (const account of await tx
    .select({ id: ledgerAccounts.id, code: ledgerAccounts.code })
    .from(ledgerAccounts)
    .where(inArray(ledgerAccounts.code, missing))) {
    idByCode.set(account.code, account.id);
  }
  await tx.insert(ledgerEntries).values(
    checked.lines.map((line) => ({
      transactionId,
      accountId: idByCode.get(line.code)!,
      currency: line.account.currency,
      amountMinor: line.amountMinor,
      createdAt: at,
    })),
  );
  return { transactionId, replayed: false };
}

/** The accounts a posting names, created when missing (waiting for a concurrent creator of the same code). */
const ENSURE_ACCOUNTS_SQL = `
  insert into ledger_accounts (code, type, owner_id, currency, created_at)
  select code, type, owner_id, currency, $2::timestamptz
  from jsonb_to_recordset($1::jsonb) as w(code text, type text, owner_id text, currency text)
  order by code
  on conflict (code) do nothing`;

/**
 * A new ledger transaction and its entries, each entry's account looked up by its unique code (a statement after
 * ENSURE_ACCOUNTS_SQL, so its snapshot sees them all). An account still missing leaves account_id null, which the
 * column refuses; an idempotency key already posted violates its unique constraint: either fails the transaction.
 */
const POST_NEW_SQL = `
  with t as (
    insert into ledger_transactions (kind, description, idempotency_key, correlation, created_at, created_by)
    values ($1, $2, $3, $4::jsonb, $5::timestamptz, $6)
    returning id
  )
  insert into ledger_entries (transaction_id, account_id, currency, amount_minor, created_at)
  select t.id, (select a.id from ledger_accounts a where a.code = l.code), l.currency, l.amount, $5::timestamptz
  from t, jsonb_to_recordset($7::jsonb) as l(n int, code text, currency text, amount bigint)
  order by l.n`;

/**
 * Posts a ledger transaction that cannot have been posted before: its idempotency key (required) is new because the
 * caller holds the lock that orders its postings and checked the state that proves it (a movement's status, under its
 * row lock). Validated here like any posting; written in two statements whose results are not read, so within a
 * `scriptedTransaction` they go with its next round trip (`deferPrepared`). A key that was posted after all is not
 * replayed: it fails the transaction (unique violation), as do unbalanced entries (the zero-sum check at commit).
 */
export async function postNewLedgerTransaction(
  tx: Executor,
  posting: LedgerPosting & { idempotencyKey: string },
  clock: Clock = systemClock,
): Promise<void> {
  const checked = validatePosting(posting);
  if (!(tx instanceof PgTransaction)) {
    await (tx as Db).transaction((inner) => postNewLedgerTransaction(inner, posting, clock));
    return;
  }
  const at = new Date(Math.floor(clock.now().getTime())).toISOString();
  const accounts = new Map<string, LedgerAccountKey>();
  for (const line of checked.lines) accounts.set(line.code, line.account);
  await deferPrepared(tx, 'bd_ledger_accounts_ensure', ENSURE_ACCOUNTS_SQL, [
    JSON.stringify(
      [...accounts.keys()].sort().map((code) => {
        const a = accounts.get(code)!;
        return { code, type: a.type, owner_id: a.ownerId ?? null, currency: a.currency };
      }),
    ),
    at,
  ]);
  await deferPrepared(tx, 'bd_ledger_post_new', POST_NEW_SQL, [
    posting.kind,
    posting.description,
    posting.idempotencyKey,
    JSON.stringify(posting.correlation ?? {}),
    at,
    posting.createdBy,
    JSON.stringify(
      checked.lines.map((line, i) => ({
        n: i,
        code: line.code,
        currency: line.account.currency,
        amount: line.amountMinor,
      })),
    ),
  ]);
}

/** The ledger balance of one account (positive = debit; see the sign convention above). 0 for an unknown account. */
export async function ledgerBalance(tx: Executor, account: LedgerAccountKey): Promise<number> {
  const code = accountCode(account);
  const result = await tx.execute(sql`
    select coalesce(sum(e.amount_minor), 0)::text as balance
    from ledger_entries e
    where e.account_id = (select id from ledger_accounts where code = ${code})`);
  return toSafeNumber(rowsOf<{ balance: string }>(result)[0]?.balance);
}

/**
 * The balance in its owner's sign: for a `trading_account` it is what the server should show as the balance, for a
 * `trading_credit` the server's credit, for `client_funds` what the broker owes the client, for `ib_payable` what it
 * owes the partner. Debit-normal accounts are returned unchanged.
 */
export async function clientVisibleBalance(tx: Executor, account: LedgerAccountKey): Promise<number> {
  const balance = (await ledgerBalance(tx, account)) * visibleSign(account.type);
  return balance === 0 ? 0 : balance;
}

/** Every account matching the filter, with its ledger balance (accounts that exist, including those at zero). */
export async function ledgerBalances(
  tx: Executor,
  filter: { type?: LedgerAccountType; ownerId?: string; currency?: string },
): Promise<{ account: LedgerAccountKey; code: string; balanceMinor: number }[]> {
  if (filter.currency !== undefined && !CURRENCY.test(filter.currency)) {
    throw new LedgerError(
      'BAD_CURRENCY',
      `currency ${JSON.stringify(filter.currency)} is not three upper-case letters`,
    );
  }
  const conditions: SQL[] = [];
  if (filter.type !== undefined) conditions.push(sql`a.type = ${filter.type}`);
  if (filter.ownerId !== undefined) conditions.push(sql`a.owner_id = ${filter.ownerId}`);
  if (filter.currency !== undefined) conditions.push(sql`a.currency = ${filter.currency}`);
  const where = conditions.length > 0 ? sql`where ${sql.join(conditions, sql` and `)}` : sql``;
  const result = await tx.execute(sql`
    select a.code, a.type, a.owner_id, a.currency,
           (select coalesce(sum(e.amount_minor), 0) from ledger_entries e where e.account_id = a.id)::text as balance
    from ledger_accounts a
    ${where}
    order by a.code`);
  return rowsOf<{ code: string; type: string; owner_id: string | null; currency: string; balance: string }>(result).map(
    (row) => ({
      account: keyOf({ type: row.type, ownerId: row.owner_id, currency: row.currency }),
      code: row.code,
      balanceMinor: toSafeNumber(row.balance),
    }),
  );
}

/** One entry with its transaction, for timelines and statements. */
export interface LedgerEntryView {
  entryId: number;
  transactionId: string;
  kind: string;
  description: string;
  correlation: Record<string, unknown>;
  idempotencyKey: string | null;
  createdBy: string;
  createdAt: Date;
  account: LedgerAccountKey;
  code: string;
  currency: string;
  amountMinor: number;
  /** With an `account` filter: that account's ledger balance after this entry (same sign as the entries). */
  balanceAfterMinor: number | null;
}

const DEFAULT_LIMIT = 500;
const MAX_LIMIT = 10_000;

/**
 * Entries in posting order, filtered by the correlation of their transaction (containment: every given id must
 * match) and/or by account, paged by limit (default 500) and offset. With an account, each entry carries the running
 * balance, which makes a statement.
 */
export async function ledgerEntriesFor(
  tx: Executor,
  filter: {
    transactionCorrelation?: Record<string, string>;
    account?: LedgerAccountKey;
    limit?: number;
    offset?: number;
  },
): Promise<LedgerEntryView[]> {
  const limit = filter.limit ?? DEFAULT_LIMIT;
  const offset = filter.offset ?? 0;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new RangeError(`limit must be an integer from 1 to ${MAX_LIMIT}`);
  }
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError('offset must be a non-negative integer');
  const code = filter.account ? accountCode(filter.account) : undefined;
  // With an account, the running balance is computed over all of its entries before any other filter or paging.
  const source =
    code !== undefined
      ? sql`(select e.*, (sum(e.amount_minor) over (order by e.id rows between unbounded preceding and current row))::text
             as balance_after
             from ledger_entries e where e.account_id = (select id from ledger_accounts where code = ${code}))`
      : sql`(select e.*, null::text as balance_after from ledger_entries e)`;
  const where =
    filter.transactionCorrelation !== undefined
      ? sql`where t.correlation @> ${JSON.stringify(filter.transactionCorrelation)}::jsonb`
      : sql``;
  const result = await tx.execute(sql`
    select e.id::text as entry_id, e.transaction_id, t.kind, t.description, t.correlation, t.idempotency_key,
           t.created_by, t.created_at, a.code, a.type, a.owner_id, a.currency, e.amount_minor::text as amount_minor,
           e.balance_after
    from ${source} e
    join ledger_transactions t on t.id = e.transaction_id
    join ledger_accounts a on a.id = e.account_id
    ${where}
    order by e.id
    limit ${limit} offset ${offset}`);
  return rowsOf<{
    entry_id: string;
    transaction_id: string;
    kind: string;
    description: string;
    correlation: Record<string, unknown> | string;
    idempotency_key: string | null;
    created_by: string;
    created_at: Date | string;
    code: string;
    type: string;
    owner_id: string | null;
    currency: string;
    amount_minor: string;
    balance_after: string | null;
  }>(result).map((row) => ({
    entryId: Number(row.entry_id),
    transactionId: row.transaction_id,
    kind: row.kind,
    description: row.description,
    correlation: typeof row.correlation === 'string' ? JSON.parse(row.correlation) : row.correlation,
    idempotencyKey: row.idempotency_key,
    createdBy: row.created_by,
    createdAt: new Date(row.created_at),
    account: keyOf({ type: row.type, ownerId: row.owner_id, currency: row.currency }),
    code: row.code,
    currency: row.currency,
    amountMinor: toSafeNumber(row.amount_minor),
    balanceAfterMinor: row.balance_after === null ? null : toSafeNumber(row.balance_after),
  }));
}
