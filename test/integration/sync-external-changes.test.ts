/**
 * Scenario 2 (DOMAIN §2): a dealer changes things on the server by hand. After a sync run the CRM has recorded each
 * change once, reflected it (a ledger transaction against external adjustments; the account row for group and
 * leverage), raised one alert, and keeps it open until an operator acknowledges or explains it. The CRM's own
 * operations (which carry a reference) never become external changes, and a second run doubles nothing.
 */
import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { alerts, auditEvents, externalChanges, tradeRecords, tradingAccounts } from '../../src/db/schema.ts';
import { ExternalChangeError } from '../../src/modules/external-changes/service.ts';
import { clientVisibleBalance, ledgerBalance } from '../../src/modules/ledger/service.ts';
import { accountsTestbed, LIVE, type Testbed } from '../support/accounts-testbed.ts';
import { expectLedgerBalanced } from '../support/ledger.ts';
import { control } from '../support/simulators.ts';

describe('scenario 2: manual changes on the server become external changes', () => {
  let t: Testbed;
  const makerId = randomUUID();
  const checkerId = randomUUID();
  const operator = randomUUID();

  beforeAll(async () => {
    t = await accountsTestbed();
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(async () => {
    await expectLedgerBalanced(t.database.db);
    await control(t.live, 'DELETE', '/control/faults');
  });

  const minor = (value: string | number | undefined) => Math.round(Number(value) * 100);
  const serverBalance = async (login: number) => minor((await t.simAccount(t.live, login)).account.Balance);

  /** A client with an open account on mt5-live, funded by a CRM adjustment (which carries a reference). */
  async function fundedAccount(amountMinor: number): Promise<{ clientId: string; accountId: string; login: number }> {
    const clientId = await t.addClient({ kycStatus: 'approved' });
    const productId = await t.product();
    const { account } = await t.accounts.request(clientId, { productId });
    await t.engine.drain();
    if (amountMinor > 0) await fundByAdjustment(account.id, amountMinor);
    const [row] = await t.database.db.select().from(tradingAccounts).where(eq(tradingAccounts.id, account.id));
    expect(row?.login).toBeTruthy();
    return { clientId, accountId: account.id, login: row!.login! };
  }

  async function fundByAdjustment(accountId: string, amountMinor: number): Promise<void> {
    const adjustment = await t.ctx.funding.requestStaffMovement('adjustment', makerId, {
      accountId,
      amountMinor,
      direction: 'in',
      reason: 'opening balance',
    });
    await t.ctx.funding.decide(adjustment.id, checkerId, { decision: 'approve' });
    await t.engine.drain();
  }

  const changesOf = (login: number) =>
    t.database.db
      .select()
      .from(externalChanges)
      .where(and(eq(externalChanges.serverCode, LIVE), eq(externalChanges.login, login)));

  it('a dealer balance correction: one external change, one alert, ledger = server again, nothing doubled', async () => {
    const { accountId, login } = await fundedAccount(10_000);
    expect(await serverBalance(login)).toBe(10_000);
    expect(
      await clientVisibleBalance(t.database.db, { type: 'trading_account', ownerId: accountId, currency: 'USD' }),
    ).toBe(10_000);

    // The dealer console: a correction with no Brokerdesk reference.
    await control(t.live, 'POST', '/control/dealer/balance', {
      login,
      amount: 25.5,
      type: 'correction',
      comment: 'slippage comp #4411',
    });
    expect(await serverBalance(login)).toBe(12_550);

    const first = await t.ctx.trades.syncServer(LIVE);
    expect(first.status, first.error).toBe('ok');

    const changes = await changesOf(login);
    expect(changes).toHaveLength(1);
    const [change] = changes;
    expect(change).toMatchObject({
      kind: 'balance_record',
      recordKind: 'correction',
      amountMinor: 2_550,
      currency: 'USD',
      tradingAccountId: accountId,
      status: 'open',
      comment: 'slippage comp #4411',
    });
    expect(change!.ledgerTransactionId).toBeTruthy();

    // The CRM's own adjustment is in the history with its reference, and is not an external change.
    const records = await t.database.db
      .select()
      .from(tradeRecords)
      .where(and(eq(tradeRecords.serverCode, LIVE), eq(tradeRecords.login, login)));
    expect(records.filter((r) => r.recordType === 'balance')).toHaveLength(2);
    expect(records.find((r) => r.reference !== null)).toMatchObject({ amountMinor: 10_000, balanceKind: 'balance' });

    // Reflected: the ledger's trading account equals the server balance again; the other side is the server's
    // external adjustments account.
    expect(
      await clientVisibleBalance(t.database.db, { type: 'trading_account', ownerId: accountId, currency: 'USD' }),
    ).toBe(await serverBalance(login));
    expect(await ledgerBalance(t.database.db, { type: 'external_adjustments', ownerId: LIVE, currency: 'USD' })).toBe(
      2_550,
    );

    const open = await t.database.db
      .select()
      .from(alerts)
      .where(eq(alerts.dedupeKey, `external_changes:${LIVE}:balance_record`));
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ status: 'open', occurrences: 1, severity: 'warning' });

    // A second run (and a third, overlapping the same window) changes nothing.
    expect((await t.ctx.trades.syncServer(LIVE)).status).toBe('ok');
    t.clock.advance(1_000);
    const third = await t.ctx.trades.syncServer(LIVE);
    expect(third).toMatchObject({ status: 'ok', inserted: 0, changed: 0 });
    expect(await changesOf(login)).toHaveLength(1);
    expect(
      await clientVisibleBalance(t.database.db, { type: 'trading_account', ownerId: accountId, currency: 'USD' }),
    ).toBe(12_550);
    const again = await t.database.db
      .select()
      .from(alerts)
      .where(eq(alerts.dedupeKey, `external_changes:${LIVE}:balance_record`));
    expect(again).toHaveLength(1);
    expect(again[0]!.occurrences).toBe(1);

    const recorded = await t.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'external_change.recorded'), eq(auditEvents.entityId, change!.id)));
    expect(recorded).toHaveLength(1);

    // Review: acknowledged once (the alert resolves with the last open change of its kind), explained later.
    const acknowledged = await t.ctx.externalChanges.acknowledge(change!.id, operator, 'seen');
    expect(acknowledged).toMatchObject({ status: 'acknowledged', reviewedBy: operator, reviewNote: 'seen' });
    const [resolved] = await t.database.db.select().from(alerts).where(eq(alerts.id, open[0]!.id));
    expect(resolved!.status).toBe('resolved');
    await expect(t.ctx.externalChanges.acknowledge(change!.id, operator, 'again')).rejects.toMatchObject({
      code: 'EXTERNAL_CHANGE_ALREADY_REVIEWED',
    });
    await expect(t.ctx.externalChanges.explain(change!.id, operator, '  ')).rejects.toBeInstanceOf(ExternalChangeError);
    const explained = await t.ctx.externalChanges.explain(change!.id, operator, 'dealer compensated slippage, #4411');
    expect(explained).toMatchObject({ status: 'explained', reviewNote: 'dealer compensated slippage, #4411' });
    await expect(t.ctx.externalChanges.explain(change!.id, operator, 'once more')).rejects.toMatchObject({
      code: 'EXTERNAL_CHANGE_ALREADY_REVIEWED',
    });
    const reviews = await t.database.db
      .select({ action: auditEvents.action })
      .from(auditEvents)
      .where(eq(auditEvents.entityId, change!.id));
    expect(reviews.map((r) => r.action).sort()).toEqual([
      'external_change.acknowledged',
      'external_change.explained',
      'external_change.recorded',
    ]);
  });

  it('a credit by hand goes to the trading credit account', async () => {
    const { accountId, login } = await fundedAccount(5_000);
    await control(t.live, 'POST', '/control/dealer/balance', { login, amount: 40, type: 'credit', comment: 'promo' });
    expect((await t.ctx.trades.syncServer(LIVE)).status).toBe('ok');
    const [change] = await changesOf(login);
    expect(change).toMatchObject({ recordKind: 'credit', amountMinor: 4_000 });
    expect(
      await clientVisibleBalance(t.database.db, { type: 'trading_credit', ownerId: accountId, currency: 'USD' }),
    ).toBe(minor(((await t.simAccount(t.live, login)).account as unknown as { Credit: string }).Credit));
    expect(
      await clientVisibleBalance(t.database.db, { type: 'trading_account', ownerId: accountId, currency: 'USD' }),
    ).toBe(5_000);
  });

  it('a dealer who edits their own correction: the difference is an external change and reaches the ledger once', async () => {
    const { accountId, login } = await fundedAccount(10_000);
    const { deal } = (await control(t.live, 'POST', '/control/dealer/balance', {
      login,
      amount: 30,
      type: 'correction',
      comment: 'fee refund',
    })) as { deal: { Deal: string } };
    t.clock.advance(1_000);
    expect((await t.ctx.trades.syncServer(LIVE)).status).toBe('ok');
    const trading = { type: 'trading_account' as const, ownerId: accountId, currency: 'USD' };
    expect(await clientVisibleBalance(t.database.db, trading)).toBe(13_000);
    const externalBefore = await ledgerBalance(t.database.db, {
      type: 'external_adjustments',
      ownerId: LIVE,
      currency: 'USD',
    });

    // The dealer meant 12.50, not 30: the same deal is edited on the server.
    await control(t.live, 'POST', '/control/dealer/deal/update', { deal: Number(deal.Deal), amount: 12.5 });
    expect(await serverBalance(login)).toBe(11_250);
    t.clock.advance(1_000);
    const pass = await t.ctx.trades.syncServer(LIVE);
    expect(pass).toMatchObject({ status: 'ok', changed: 1 });

    const changes = (await changesOf(login)).sort((a, b) => a.detectedAt.getTime() - b.detectedAt.getTime());
    expect(changes.map((c) => [c.kind, c.amountMinor, c.naturalKey])).toEqual([
      ['balance_record', 3_000, `balance_record:${LIVE}:${deal.Deal}`],
      ['balance_record', -1_750, `balance_record:${LIVE}:${deal.Deal}:v2`],
    ]);
    expect(changes[1]).toMatchObject({
      status: 'open',
      tradingAccountId: accountId,
      before: { amountMinor: 3_000 },
      after: { amountMinor: 1_250 },
      details: { originalChangeId: changes[0]!.id },
    });
    expect(changes[1]!.ledgerTransactionId).toBeTruthy();
    // Ledger = server again; external adjustments took the difference.
    expect(await clientVisibleBalance(t.database.db, trading)).toBe(await serverBalance(login));
    expect(await ledgerBalance(t.database.db, { type: 'external_adjustments', ownerId: LIVE, currency: 'USD' })).toBe(
      externalBefore - 1_750,
    );

    // Seen again: nothing more.
    t.clock.advance(1_000);
    expect(await t.ctx.trades.syncServer(LIVE)).toMatchObject({ status: 'ok', changed: 0 });
    expect(await changesOf(login)).toHaveLength(2);
    expect(await clientVisibleBalance(t.database.db, trading)).toBe(11_250);
    await expectLedgerBalanced(t.database.db);
  });

  it('a group move and a leverage change by the dealer are recorded once and brought into the CRM', async () => {
    const { accountId, login } = await fundedAccount(1_000);
    await control(t.live, 'POST', '/control/dealer/move', { login, group: 'real\\restricted-usd' });
    await control(t.live, 'POST', '/control/dealer/leverage', { login, leverage: 400 });
    t.clock.advance(1_000);

    const result = await t.ctx.trades.checkAccounts(LIVE);
    expect(result, t.logs.filter((l) => l.includes('account check')).join('\n')).toMatchObject({
      changes: 2,
      failed: 0,
    });
    const changes = (await changesOf(login)).sort((a, b) => a.kind.localeCompare(b.kind));
    expect(changes.map((c) => c.kind)).toEqual(['group_change', 'leverage_change']);
    expect(changes[0]).toMatchObject({
      before: { group: 'real\\standard-usd', currency: 'USD' },
      after: { group: 'real\\restricted-usd', currency: 'USD' },
      tradingAccountId: accountId,
    });
    expect(changes[1]).toMatchObject({ before: { leverage: 100 }, after: { leverage: 400 } });
    const [row] = await t.database.db.select().from(tradingAccounts).where(eq(tradingAccounts.id, accountId));
    expect(row).toMatchObject({ groupName: 'real\\restricted-usd', leverage: 400, currency: 'USD' });
    const audit = await t.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'account.changed_on_server'), eq(auditEvents.entityId, accountId)));
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actorType: 'server', actorId: LIVE });

    t.clock.advance(1_000);
    expect((await t.ctx.trades.checkAccounts(LIVE)).changes).toBe(0);
    expect(await changesOf(login)).toHaveLength(2);
    const raised = await t.database.db
      .select()
      .from(alerts)
      .where(eq(alerts.dedupeKey, `external_changes:${LIVE}:group_change`));
    expect(raised).toHaveLength(1);
  });

  it('a move into another currency is critical; a move out of sight is recorded as unreachable', async () => {
    // MT5 moves an account into another currency only while it holds no money.
    const eur = await fundedAccount(0);
    const hidden = await fundedAccount(1_000);
    await control(t.live, 'POST', '/control/dealer/move', { login: eur.login, group: 'real\\pro-eur' });
    await control(t.live, 'POST', '/control/dealer/move', { login: hidden.login, group: 'real\\vip-usd' });
    t.clock.advance(1_000);
    const result = await t.ctx.trades.checkAccounts(LIVE);
    expect(result).toMatchObject({ failed: 0 });
    const [toEur] = await changesOf(eur.login);
    expect(toEur).toMatchObject({
      kind: 'group_change',
      after: { group: 'real\\pro-eur', currency: 'EUR' },
      details: { currencyChanged: { from: 'USD', to: 'EUR' } },
    });
    const [row] = await t.database.db.select().from(tradingAccounts).where(eq(tradingAccounts.id, eur.accountId));
    expect(row).toMatchObject({ groupName: 'real\\pro-eur', currency: 'EUR' });
    const [gone] = await changesOf(hidden.login);
    expect(gone).toMatchObject({
      kind: 'group_change',
      before: { group: 'real\\standard-usd' },
      after: { group: null },
    });
    const [alert] = await t.database.db
      .select()
      .from(alerts)
      .where(eq(alerts.dedupeKey, `external_changes:${LIVE}:group_change`));
    expect(alert!.severity).toBe('critical');
    t.clock.advance(1_000);
    await t.ctx.trades.checkAccounts(LIVE);
    expect(await changesOf(hidden.login)).toHaveLength(1);
    expect(await changesOf(eur.login)).toHaveLength(1);
  });

  it("the CRM's own leverage change whose reply was lost is not mistaken for the dealer's", async () => {
    const { accountId, login } = await fundedAccount(1_000);
    await control(t.live, 'POST', '/control/faults', { endpoint: '/api/user/update', kind: 'drop_reply', count: 1 });
    await t.accounts.changeLeverage(accountId, 200, { type: 'staff', id: operator });
    await t.engine.drain();
    // Applied on the server, unknown to the CRM until verified.
    expect(Number((await t.simAccount(t.live, login)).user.Leverage)).toBe(200);
    t.clock.advance(100);
    expect((await t.ctx.trades.checkAccounts(LIVE)).changes).toBe(0);
    t.clock.advance(5_000);
    await t.engine.drain();
    const [row] = await t.database.db.select().from(tradingAccounts).where(eq(tradingAccounts.id, accountId));
    expect(row!.leverage).toBe(200);
    t.clock.advance(1_000);
    expect((await t.ctx.trades.checkAccounts(LIVE)).changes).toBe(0);
    expect(await changesOf(login)).toHaveLength(0);
  });

  it('an account the CRM does not know is recorded once, with its money changes (not posted to the ledger)', async () => {
    const created = (await control(t.live, 'POST', '/control/accounts', {
      group: 'real\\standard-usd',
      name: 'Opened by hand',
      leverage: 100,
      deposit: 300,
    })) as { Login: string };
    const login = Number(created.Login);
    expect((await t.ctx.trades.syncServer(LIVE)).status).toBe('ok');
    t.clock.advance(1_000);
    expect((await t.ctx.trades.syncServer(LIVE)).status).toBe('ok');
    const changes = (await changesOf(login)).sort((a, b) => a.kind.localeCompare(b.kind));
    expect(changes.map((c) => c.kind)).toEqual(['balance_record', 'unknown_account']);
    expect(changes[0]).toMatchObject({ amountMinor: 30_000, tradingAccountId: null, ledgerTransactionId: null });
    expect(changes[1]).toMatchObject({
      after: { group: 'real\\standard-usd', name: 'Opened by hand', balanceMinor: 30_000 },
    });
  });

  it('an account the CRM does not know is found by the account check even with no activity, and recorded once', async () => {
    const created = (await control(t.live, 'POST', '/control/accounts', {
      group: 'real\\standard-usd',
      name: 'Quiet by hand',
      leverage: 50,
    })) as { Login: string };
    const login = Number(created.Login);
    // No deal, no position, no order: the history pass has nothing of it.
    t.clock.advance(1_000);
    expect((await t.ctx.trades.syncServer(LIVE)).status).toBe('ok');
    expect(await changesOf(login)).toEqual([]);

    const check = await t.ctx.trades.checkAccounts(LIVE);
    expect(check.unknown).toBe(1);
    const changes = await changesOf(login);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      kind: 'unknown_account',
      status: 'open',
      tradingAccountId: null,
      after: { group: 'real\\standard-usd', name: 'Quiet by hand', leverage: 50, balanceMinor: 0 },
    });
    t.clock.advance(1_000);
    expect((await t.ctx.trades.checkAccounts(LIVE)).unknown).toBe(0);
    expect(await changesOf(login)).toHaveLength(1);
  });
});
