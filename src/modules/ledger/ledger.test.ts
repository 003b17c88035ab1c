import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { expectLedgerBalanced } from '../../../test/support/ledger.ts';
import { ManualClock } from '../../clock.ts';
import type { Executor } from '../../db/connect.ts';
import {
  accountCode,
  clientVisibleBalance,
  type LedgerAccountKey,
  LedgerError,
  type LedgerPosting,
  ledgerBalance,
  ledgerBalances,
  ledgerEntriesFor,
  postLedgerTransaction,
  visibleSign,
} from './service.ts';

const psp = (currency = 'USD'): LedgerAccountKey => ({ type: 'psp_clearing', ownerId: 'acme', currency });
const trading = (id: string, currency = 'USD'): LedgerAccountKey => ({
  type: 'trading_account',
  ownerId: id,
  currency,
});

function deposit(accountId: string, amountMinor: number, extra: Partial<LedgerPosting> = {}): LedgerPosting {
  return {
    kind: 'deposit.approved',
    description: `deposit to ${accountId}`,
    lines: [
      { account: psp(), amountMinor },
      { account: trading(accountId), amountMinor: -amountMinor },
    ],
    createdBy: 'staff:finance-1',
    ...extra,
  };
}

function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

/** What the database said when it refused (Drizzle wraps the driver's error as the cause). */
async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    const messages: string[] = [];
    for (let e: unknown = error; e instanceof Error; e = e.cause) messages.push(e.message);
    return messages.join('\n');
  }
  throw new Error('expected the database to refuse');
}

async function count(database: TestDatabase, table: string): Promise<number> {
  const [row] = await database.query<{ n: number }>(`select count(*)::int as n from ${table}`);
  return row!.n;
}

/** Inserts a ledger transaction and entries with plain SQL, bypassing the module. */
async function rawPosting(
  tx: Executor,
  amounts: { code: string; currency: string; amount: number }[],
): Promise<string> {
  const [txn] = rowsOf<{ id: string }>(
    await tx.execute(sql`insert into ledger_transactions (kind, description, created_at, created_by)
      values ('adjustment', 'raw', now(), 'test') returning id`),
  );
  for (const { code, currency, amount } of amounts) {
    await tx.execute(sql`insert into ledger_entries (transaction_id, account_id, currency, amount_minor, created_at)
      values (${txn!.id}, (select id from ledger_accounts where code = ${code}), ${currency}, ${amount}, now())`);
  }
  return txn!.id;
}

describe('the double-entry ledger', () => {
  let database: TestDatabase;
  const clock = new ManualClock('2026-03-02T10:00:00.000Z');
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });
  afterEach(async () => {
    await expectLedgerBalanced(database);
    await database.db.transaction((tx) => expectLedgerBalanced(tx));
  });

  it('names accounts by canonical codes', () => {
    expect(accountCode({ type: 'client_funds', ownerId: 'c-1', currency: 'USD' })).toBe('client_funds:c-1:USD');
    expect(accountCode({ type: 'broker_revenue', currency: 'EUR' })).toBe('broker_revenue:EUR');
    expect(accountCode({ type: 'fx_conversion', ownerId: null, currency: 'JPY' })).toBe('fx_conversion:JPY');
    expect(() => accountCode({ type: 'trading_account', currency: 'USD' })).toThrow(/needs an owner/);
    expect(() => accountCode({ type: 'trading_account', ownerId: '', currency: 'USD' })).toThrow(LedgerError);
    expect(() => accountCode({ type: 'piggy_bank' as never, ownerId: 'x', currency: 'USD' })).toThrow(
      /unknown account type/,
    );
    expect(() => accountCode({ type: 'client_funds', ownerId: 'c', currency: 'usd' })).toThrow(/three upper-case/);
  });

  it('posts a balanced deposit; the trading account shows it in the server sign', async () => {
    clock.advance(1000);
    const result = await database.db.transaction((tx) =>
      postLedgerTransaction(tx, deposit('ta-1', 10_000, { correlation: { movementId: 'm-1' } }), clock),
    );
    expect(result.replayed).toBe(false);
    expect(await ledgerBalance(database.db, psp())).toBe(10_000);
    expect(await ledgerBalance(database.db, trading('ta-1'))).toBe(-10_000);
    expect(await clientVisibleBalance(database.db, trading('ta-1'))).toBe(10_000);
    expect(visibleSign('trading_account')).toBe(-1);
    expect(visibleSign('psp_clearing')).toBe(1);

    const entries = await ledgerEntriesFor(database.db, { transactionCorrelation: { movementId: 'm-1' } });
    expect(entries).toHaveLength(2);
    expect(entries.map((e) => [e.code, e.amountMinor])).toEqual([
      ['psp_clearing:acme:USD', 10_000],
      ['trading_account:ta-1:USD', -10_000],
    ]);
    expect(entries[0]).toMatchObject({
      transactionId: result.transactionId,
      kind: 'deposit.approved',
      createdBy: 'staff:finance-1',
      createdAt: clock.now(),
      correlation: { movementId: 'm-1' },
      balanceAfterMinor: null,
    });
  });

  it('works without an open transaction (opens its own)', async () => {
    const result = await postLedgerTransaction(database.db, deposit('ta-own', 500), clock);
    expect(await clientVisibleBalance(database.db, trading('ta-own'))).toBe(500);
    expect(result.replayed).toBe(false);
  });

  it('refuses unbalanced, empty and one-sided postings before writing anything', async () => {
    const before = await count(database, 'ledger_transactions');
    const accountsBefore = await count(database, 'ledger_accounts');
    const refusal = (posting: LedgerPosting) =>
      database.db.transaction((tx) => postLedgerTransaction(tx, posting, clock));

    const unbalanced = deposit('ta-x', 100);
    unbalanced.lines[1]!.amountMinor = -99;
    await expect(refusal(unbalanced)).rejects.toMatchObject({
      code: 'UNBALANCED',
      message: expect.stringContaining('USD sums to 1'),
    });
    await expect(refusal({ ...deposit('ta-x', 100), lines: [] })).rejects.toMatchObject({ code: 'EMPTY' });
    await expect(
      refusal({ ...deposit('ta-x', 100), lines: [{ account: psp(), amountMinor: 5 }] }),
    ).rejects.toMatchObject({
      code: 'UNBALANCED',
    });
    await expect(refusal({ ...deposit('ta-x', 100), kind: '' })).rejects.toMatchObject({ code: 'EMPTY' });
    await expect(refusal({ ...deposit('ta-x', 100), createdBy: ' ' })).rejects.toMatchObject({ code: 'EMPTY' });
    expect(await count(database, 'ledger_transactions')).toBe(before);
    expect(await count(database, 'ledger_accounts')).toBe(accountsBefore);
  });

  it('rejects floats and other non-integers, zero amounts, bad currencies and bad accounts', async () => {
    const attempt = (amountMinor: unknown, account: LedgerAccountKey = trading('ta-f')) =>
      postLedgerTransaction(
        database.db,
        {
          kind: 'adjustment',
          description: 'bad amount',
          lines: [
            { account: psp(account.currency), amountMinor: -(amountMinor as number) },
            { account, amountMinor: amountMinor as number },
          ],
          createdBy: 'test',
        },
        clock,
      );
    for (const bad of [0.5, 100.1, 0.1 + 0.2, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '100', 10n, 0]) {
      await expect(attempt(bad), String(bad)).rejects.toMatchObject({
        code: 'NOT_INTEGER',
        message: expect.stringContaining('non-zero safe integer'),
      });
    }
    for (const currency of ['usd', 'US', 'USDT', 'U$D', '']) {
      await expect(attempt(100, trading('ta-f', currency)), currency).rejects.toMatchObject({ code: 'BAD_CURRENCY' });
    }
    await expect(attempt(100, { type: 'ib_payable', currency: 'USD' })).rejects.toMatchObject({ code: 'BAD_ACCOUNT' });
    await expect(attempt(100, { type: 'nope' as never, ownerId: 'x', currency: 'USD' })).rejects.toMatchObject({
      code: 'BAD_ACCOUNT',
    });
    await expect(attempt(100, { type: 'client_funds', ownerId: ' c1', currency: 'USD' })).rejects.toMatchObject({
      code: 'BAD_ACCOUNT',
    });
    expect(await ledgerBalance(database.db, trading('ta-f'))).toBe(0);
  });

  it('balances a multi-currency transfer per currency, and refuses one that only nets to zero across currencies', async () => {
    // 100.00 USD from ta-usd converted to 92.00 EUR on ta-eur.
    const transfer: LedgerPosting = {
      kind: 'transfer',
      description: 'ta-usd → ta-eur',
      lines: [
        { account: trading('ta-usd'), amountMinor: 10_000 },
        { account: { type: 'fx_conversion', currency: 'USD' }, amountMinor: -10_000 },
        { account: { type: 'fx_conversion', currency: 'EUR' }, amountMinor: 9_200 },
        { account: trading('ta-eur', 'EUR'), amountMinor: -9_200 },
      ],
      correlation: { movementId: 'tr-1' },
      createdBy: 'client:c-1',
    };
    await database.db.transaction((tx) => postLedgerTransaction(tx, deposit('ta-usd', 10_000), clock));
    await database.db.transaction((tx) => postLedgerTransaction(tx, transfer, clock));
    expect(await clientVisibleBalance(database.db, trading('ta-usd'))).toBe(0);
    expect(await clientVisibleBalance(database.db, trading('ta-eur', 'EUR'))).toBe(9_200);
    expect(await ledgerBalance(database.db, { type: 'fx_conversion', currency: 'USD' })).toBe(-10_000);
    expect(await ledgerBalance(database.db, { type: 'fx_conversion', currency: 'EUR' })).toBe(9_200);

    const crossNetting: LedgerPosting = {
      ...transfer,
      lines: [
        { account: trading('ta-usd'), amountMinor: 100 },
        { account: trading('ta-eur', 'EUR'), amountMinor: -100 },
      ],
    };
    await expect(postLedgerTransaction(database.db, crossNetting, clock)).rejects.toMatchObject({
      code: 'UNBALANCED',
      message: expect.stringContaining('EUR sums to -100, USD sums to 100'),
    });
  });

  it('replays an idempotent posting as the same transaction, and refuses a different one under the same key', async () => {
    const posting = deposit('ta-idem', 2_500, { idempotencyKey: 'psp:acme:tx-77', correlation: { pspEventId: 'e-1' } });
    const first = await database.db.transaction((tx) => postLedgerTransaction(tx, posting, clock));
    const again = await database.db.transaction((tx) => postLedgerTransaction(tx, posting, clock));
    expect(again).toEqual({ transactionId: first.transactionId, replayed: true });
    // The same entries in another order, with another description, are the same posting.
    const reordered = { ...posting, description: 'retried', lines: [...posting.lines].reverse() };
    expect(await postLedgerTransaction(database.db, reordered, clock)).toEqual({
      transactionId: first.transactionId,
      replayed: true,
    });
    expect(await clientVisibleBalance(database.db, trading('ta-idem'))).toBe(2_500);

    await expect(
      postLedgerTransaction(database.db, deposit('ta-idem', 2_600, { idempotencyKey: 'psp:acme:tx-77' }), clock),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT', message: expect.stringContaining(first.transactionId) });
    await expect(
      postLedgerTransaction(database.db, deposit('ta-other', 2_500, { idempotencyKey: 'psp:acme:tx-77' }), clock),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
    await expect(postLedgerTransaction(database.db, { ...posting, kind: 'refund' }, clock)).rejects.toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
      message: expect.stringContaining('kind'),
    });
    expect(await clientVisibleBalance(database.db, trading('ta-idem'))).toBe(2_500);
    const [row] = await database.query<{ n: number }>(
      "select count(*)::int as n from ledger_transactions where idempotency_key = 'psp:acme:tx-77'",
    );
    expect(row!.n).toBe(1);
  });

  it('posts a key once when writers race', async () => {
    const posting = deposit('ta-race', 700, { idempotencyKey: 'race-1' });
    const results = await Promise.all(
      Array.from({ length: 6 }, () => database.db.transaction((tx) => postLedgerTransaction(tx, posting, clock))),
    );
    expect(new Set(results.map((r) => r.transactionId)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(await clientVisibleBalance(database.db, trading('ta-race'))).toBe(700);
  });

  it('writers racing to create the same new accounts all post (each sees the account the other created)', async () => {
    // Each transaction holds its lock on the new account rows a moment, so the others wait inside ON CONFLICT.
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        database.db.transaction(async (tx) => {
          const posted = await postLedgerTransaction(tx, deposit('ta-new-race', 100 + i), clock);
          await tx.execute(sql`select pg_sleep(0.02)`);
          return posted;
        }),
      ),
    );
    expect(new Set(results.map((r) => r.transactionId)).size).toBe(8);
    expect(await clientVisibleBalance(database.db, trading('ta-new-race'))).toBe(8 * 100 + 28);
  });

  it('the database refuses an unbalanced set of raw entries at COMMIT', async () => {
    await postLedgerTransaction(database.db, deposit('ta-raw', 1_000), clock);
    const before = await count(database, 'ledger_entries');
    let insertedAll = false;
    expect(
      await refusal(
        database.db.transaction(async (tx) => {
          await rawPosting(tx, [
            { code: 'psp_clearing:acme:USD', currency: 'USD', amount: 100 },
            { code: 'trading_account:ta-raw:USD', currency: 'USD', amount: -99 },
          ]);
          insertedAll = true; // each INSERT succeeded: the check waits for COMMIT
        }),
      ),
    ).toMatch(/unbalanced.*USD 1/);
    expect(insertedAll).toBe(true);

    // A single entry, and a transaction with no entries at all.
    expect(
      await refusal(
        database.db.transaction((tx) =>
          rawPosting(tx, [{ code: 'psp_clearing:acme:USD', currency: 'USD', amount: 5 }]),
        ),
      ),
    ).toMatch(/1 entries; double entry needs at least two/);
    expect(await refusal(database.db.transaction((tx) => rawPosting(tx, [])))).toMatch(/0 entries/);

    // Balanced per transaction, not just overall: two unbalanced halves in one commit are still refused.
    expect(
      await refusal(
        database.db.transaction(async (tx) => {
          await rawPosting(tx, [
            { code: 'psp_clearing:acme:USD', currency: 'USD', amount: 100 },
            { code: 'trading_account:ta-raw:USD', currency: 'USD', amount: -60 },
          ]);
          await rawPosting(tx, [
            { code: 'psp_clearing:acme:USD', currency: 'USD', amount: -60 },
            { code: 'trading_account:ta-raw:USD', currency: 'USD', amount: 20 },
          ]);
        }),
      ),
    ).toMatch(/unbalanced/);

    // SET CONSTRAINTS … IMMEDIATE checks at once.
    expect(
      await refusal(
        database.db.transaction(async (tx) => {
          await tx.execute(sql`set constraints all immediate`);
          await rawPosting(tx, [
            { code: 'psp_clearing:acme:USD', currency: 'USD', amount: 100 },
            { code: 'trading_account:ta-raw:USD', currency: 'USD', amount: -100 },
          ]);
        }),
      ),
    ).toMatch(/entries; double entry/);

    // A balanced raw posting is accepted: the rule is the balance, not the code path.
    await database.db.transaction((tx) =>
      rawPosting(tx, [
        { code: 'psp_clearing:acme:USD', currency: 'USD', amount: 100 },
        { code: 'trading_account:ta-raw:USD', currency: 'USD', amount: -100 },
      ]),
    );
    expect(await count(database, 'ledger_entries')).toBe(before + 2);
    expect(await clientVisibleBalance(database.db, trading('ta-raw'))).toBe(1_100);
  });

  it('the database refuses entries in a currency other than their account’s', async () => {
    expect(
      await refusal(
        database.db.transaction((tx) =>
          rawPosting(tx, [
            { code: 'psp_clearing:acme:USD', currency: 'EUR', amount: 100 },
            { code: 'trading_account:ta-raw:USD', currency: 'EUR', amount: -100 },
          ]),
        ),
      ),
    ).toMatch(/ledger_entries_account_currency_fk|foreign key/);
  });

  it('a committed transaction is closed: no entries can be added to it later', async () => {
    const { transactionId } = await postLedgerTransaction(database.db, deposit('ta-closed', 300), clock);
    expect(
      await refusal(
        database.db.transaction(async (tx) => {
          for (const [code, amount] of [
            ['psp_clearing:acme:USD', 50],
            ['trading_account:ta-closed:USD', -50],
          ] as const) {
            await tx.execute(sql`insert into ledger_entries (transaction_id, account_id, currency, amount_minor, created_at)
            values (${transactionId}, (select id from ledger_accounts where code = ${code}), 'USD', ${amount}, now())`);
          }
        }),
      ),
    ).toMatch(/is closed/);
    expect(await clientVisibleBalance(database.db, trading('ta-closed'))).toBe(300);
  });

  it('is append-only: entries, transactions and accounts cannot be updated, deleted or truncated', async () => {
    await postLedgerTransaction(database.db, deposit('ta-ao', 100), clock);
    for (const statement of [
      'update ledger_entries set amount_minor = amount_minor * 2',
      'delete from ledger_entries',
      "update ledger_transactions set description = 'edited'",
      'delete from ledger_transactions',
      "update ledger_accounts set owner_id = 'someone-else', code = type || ':someone-else:' || currency where owner_id = 'ta-ao'",
      'delete from ledger_accounts',
      'truncate ledger_entries',
      'truncate ledger_transactions, ledger_entries',
      'truncate ledger_accounts, ledger_transactions, ledger_entries',
    ]) {
      // Tables that reference the ledger (external changes, commission lines) may refuse a TRUNCATE first.
      await expect(database.query(statement), statement).rejects.toThrow(/append-only|foreign key constraint/);
    }
    expect(await clientVisibleBalance(database.db, trading('ta-ao'))).toBe(100);
  });

  it('derives balances from entries; lists them by owner, type and currency; gives statements with running balances', async () => {
    const t = 'ta-stmt';
    const post = (posting: LedgerPosting) => database.db.transaction((tx) => postLedgerTransaction(tx, posting, clock));
    await post(deposit(t, 50_000, { correlation: { movementId: 'dep-1' } }));
    await post({
      kind: 'withdrawal.posted',
      description: 'withdrawal',
      lines: [
        { account: trading(t), amountMinor: 12_000 },
        { account: { type: 'payouts_pending', ownerId: 'acme', currency: 'USD' }, amountMinor: -11_500 },
        { account: { type: 'broker_revenue', currency: 'USD' }, amountMinor: -500 },
      ],
      correlation: { movementId: 'wd-1', operationId: 'op-9' },
      createdBy: 'staff:finance-1',
    });
    await post({
      kind: 'credit.in',
      description: 'welcome bonus',
      lines: [
        { account: { type: 'bonus_expense', currency: 'USD' }, amountMinor: 3_000 },
        { account: { type: 'trading_credit', ownerId: t, currency: 'USD' }, amountMinor: -3_000 },
      ],
      createdBy: 'staff:finance-1',
    });
    await post({
      kind: 'external_change',
      description: 'dealer correction on the server',
      lines: [
        { account: { type: 'external_adjustments', ownerId: 'mt5-live', currency: 'USD' }, amountMinor: -2_000 },
        { account: trading(t), amountMinor: 2_000 },
      ],
      createdBy: 'system:sync',
    });

    // The server would show balance 50000 − 12000 − 2000 = 36000 and credit 3000.
    expect(await clientVisibleBalance(database.db, trading(t))).toBe(36_000);
    expect(await clientVisibleBalance(database.db, { type: 'trading_credit', ownerId: t, currency: 'USD' })).toBe(
      3_000,
    );
    expect(await ledgerBalance(database.db, trading('never-used'))).toBe(0);

    const mine = await ledgerBalances(database.db, { ownerId: t });
    expect(mine).toEqual([
      { account: trading(t), code: `trading_account:${t}:USD`, balanceMinor: -36_000 },
      {
        account: { type: 'trading_credit', ownerId: t, currency: 'USD' },
        code: `trading_credit:${t}:USD`,
        balanceMinor: -3_000,
      },
    ]);
    const revenue = await ledgerBalances(database.db, { type: 'broker_revenue', currency: 'USD' });
    expect(revenue).toEqual([
      {
        account: { type: 'broker_revenue', ownerId: null, currency: 'USD' },
        code: 'broker_revenue:USD',
        balanceMinor: -500,
      },
    ]);
    expect(await ledgerBalances(database.db, { type: 'broker_revenue', currency: 'GBP' })).toEqual([]);

    // Every balance equals the plain sum of its entries.
    const all = await ledgerBalances(database.db, {});
    const sums = await database.query<{ code: string; total: string }>(
      `select a.code, coalesce(sum(e.amount_minor), 0)::text as total
       from ledger_accounts a left join ledger_entries e on e.account_id = a.id group by a.code`,
    );
    expect(new Map(all.map((b) => [b.code, b.balanceMinor]))).toEqual(
      new Map(sums.map((s) => [s.code, Number(s.total)])),
    );

    const statement = await ledgerEntriesFor(database.db, { account: trading(t) });
    expect(statement.map((e) => [e.kind, e.amountMinor, e.balanceAfterMinor])).toEqual([
      ['deposit.approved', -50_000, -50_000],
      ['withdrawal.posted', 12_000, -38_000],
      ['external_change', 2_000, -36_000],
    ]);
    const page = await ledgerEntriesFor(database.db, { account: trading(t), limit: 1, offset: 1 });
    expect(page.map((e) => e.balanceAfterMinor)).toEqual([-38_000]);
    const withdrawal = await ledgerEntriesFor(database.db, { transactionCorrelation: { operationId: 'op-9' } });
    expect(withdrawal.map((e) => e.code)).toEqual([
      `trading_account:${t}:USD`,
      'payouts_pending:acme:USD',
      'broker_revenue:USD',
    ]);
    const both = await ledgerEntriesFor(database.db, {
      account: trading(t),
      transactionCorrelation: { movementId: 'wd-1' },
    });
    expect(both.map((e) => [e.amountMinor, e.balanceAfterMinor])).toEqual([[12_000, -38_000]]);
    expect(await ledgerEntriesFor(database.db, { transactionCorrelation: { movementId: 'none' } })).toEqual([]);
  });

  it('the shared assertion finds an unbalanced ledger (triggers disabled, rolled back)', async () => {
    const rollback = new Error('rollback');
    await expect(
      database.db.transaction(async (tx) => {
        await tx.execute(sql`alter table ledger_entries disable trigger ledger_entries_balanced`);
        await tx.execute(sql`alter table ledger_transactions disable trigger ledger_transactions_balanced`);
        await postLedgerTransaction(tx, deposit('ta-bad', 100), clock);
        const forged = await rawPosting(tx, [{ code: 'psp_clearing:acme:USD', currency: 'USD', amount: 42 }]);
        const error = await expectLedgerBalanced(tx).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(error?.message).toContain(`transaction ${forged} (adjustment) has 1 entry`);
        expect(error?.message).toContain(`transaction ${forged} (adjustment) sums to 42 USD`);
        expect(error?.message).toContain('all entries in USD sum to 42');
        throw rollback;
      }),
    ).rejects.toBe(rollback);
  });

  it('property: random balanced postings keep every balance equal to the sum of its entries, and each currency at zero', async () => {
    const currencies = ['USD', 'EUR', 'JPY'] as const;
    const pool: LedgerAccountKey[] = [
      ...currencies.map((currency) => ({ type: 'psp_clearing' as const, ownerId: 'prop-psp', currency })),
      ...currencies.map((currency) => ({ type: 'fx_conversion' as const, currency })),
      ...currencies.map((currency) => ({ type: 'broker_revenue' as const, ownerId: 'prop', currency })),
      trading('prop-t1'),
      trading('prop-t2'),
      trading('prop-t3', 'EUR'),
      { type: 'client_funds', ownerId: 'prop-c1', currency: 'JPY' },
      { type: 'ib_payable', ownerId: 'prop-p1', currency: 'USD' },
      { type: 'external_adjustments', ownerId: 'prop-srv', currency: 'EUR' },
    ];
    const line = fc.record({
      account: fc.constantFrom(...pool),
      amountMinor: fc.oneof(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.integer({ min: -1e11, max: 1e11 })),
    });
    const posting = fc.record({
      lines: fc.array(line, { minLength: 1, maxLength: 6 }),
      balanceOn: fc.constantFrom('psp_clearing', 'fx_conversion'),
      idempotent: fc.boolean(),
      replay: fc.boolean(),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(posting, { minLength: 1, maxLength: 5 }), async (postings) => {
        run += 1;
        const expected = new Map<string, number>();
        for (const account of pool) expected.set(accountCode(account), await ledgerBalance(database.db, account));
        await database.db.transaction(async (tx) => {
          for (const [i, p] of postings.entries()) {
            const lines = p.lines.filter((l) => l.amountMinor !== 0);
            const sums = new Map<string, number>();
            for (const l of lines) sums.set(l.account.currency, (sums.get(l.account.currency) ?? 0) + l.amountMinor);
            for (const [currency, total] of sums) {
              if (total === 0) continue;
              const account = pool.find((a) => a.type === p.balanceOn && a.currency === currency)!;
              lines.push({ account, amountMinor: -total });
            }
            if (lines.length === 0) continue;
            const full: LedgerPosting = {
              kind: 'adjustment',
              description: `property run ${run}, posting ${i}`,
              lines,
              createdBy: 'test:property',
              ...(p.idempotent ? { idempotencyKey: `prop-${run}-${i}` } : {}),
            };
            const first = await postLedgerTransaction(tx, full, clock);
            expect(first.replayed).toBe(false);
            if (p.idempotent && p.replay) {
              expect(await postLedgerTransaction(tx, full, clock)).toEqual({ ...first, replayed: true });
            }
            for (const l of lines) {
              const code = accountCode(l.account);
              expected.set(code, expected.get(code)! + l.amountMinor);
            }
          }
        });
        for (const account of pool) {
          expect(await ledgerBalance(database.db, account), accountCode(account)).toBe(
            expected.get(accountCode(account)),
          );
        }
        const listed = await ledgerBalances(database.db, {});
        const sums = await database.query<{ code: string; total: string }>(
          `select a.code, coalesce(sum(e.amount_minor), 0)::text as total
           from ledger_accounts a left join ledger_entries e on e.account_id = a.id group by a.code`,
        );
        expect(new Map(listed.map((b) => [b.code, b.balanceMinor]))).toEqual(
          new Map(sums.map((s) => [s.code, Number(s.total)])),
        );
        await expectLedgerBalanced(database);
      }),
      { numRuns: 40 },
    );
  });
});
