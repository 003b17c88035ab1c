/**
 * Scenario 6 (DOMAIN §2): one client holds an MT5 and an MT4 account; after sync, support and finance see one
 * history with both platforms' records in one shape (MT5's separate in/out deals, MT4's single closed trade, the
 * balance records of both), volumes in lots, money in minor units, newest first, paged.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  accountHistory,
  clientHistory,
  clientOpenOrders,
  clientPositions,
  tradingResult,
} from '../../src/modules/trades/history.ts';
import { accountsTestbed, LIVE, MT4_LIVE, type Testbed } from '../support/accounts-testbed.ts';
import { expectLedgerBalanced } from '../support/ledger.ts';
import { control } from '../support/simulators.ts';

describe('scenario 6: one client, MT4 and MT5, one history', () => {
  let t: Testbed;
  let clientId: string;
  let otherClientId: string;
  const mt5 = { accountId: '', login: 0 };
  const mt4 = { accountId: '', login: 0 };

  async function open(client: string, productId: string) {
    const { account } = await t.accounts.request(client, { productId });
    await t.engine.drain();
    const adjustment = await t.ctx.funding.requestStaffMovement('adjustment', randomUUID(), {
      accountId: account.id,
      amountMinor: 1_000_000,
      direction: 'in',
      reason: 'test funds',
    });
    await t.ctx.funding.decide(adjustment.id, randomUUID(), { decision: 'approve' });
    await t.engine.drain();
    const view = await t.accounts.get(account.id);
    return { accountId: account.id, login: view.account.login! };
  }

  beforeAll(async () => {
    t = await accountsTestbed({ mt4: true });
    clientId = await t.addClient({ kycStatus: 'approved' });
    otherClientId = await t.addClient({ kycStatus: 'approved' });
    const mt5Product = await t.product();
    const mt4Product = await t.product({ serverCode: MT4_LIVE, groupName: 'real-std-usd' });
    Object.assign(mt5, await open(clientId, mt5Product));
    Object.assign(mt4, await open(clientId, mt4Product));
    await open(otherClientId, mt5Product);

    // MT5 (hedging group): a buy, and the sell that closes that position by its id, are two deals of one position.
    const opened = (await control(t.live, 'POST', '/control/dealer/trade', {
      login: mt5.login,
      symbol: 'EURUSD',
      side: 'buy',
      lots: 0.3,
    })) as { deals: { PositionID: string }[] };
    await control(t.live, 'POST', '/control/dealer/trade', {
      login: mt5.login,
      symbol: 'EURUSD',
      side: 'sell',
      lots: 0.3,
      positionId: Number(opened.deals[0]!.PositionID),
    });
    await control(t.live, 'POST', '/control/dealer/trade', {
      login: mt5.login,
      symbol: 'GBPUSD',
      side: 'sell',
      lots: 0.05,
    });
    // And a limit order far below the market: open (pending), so not in the history.
    await control(t.live, 'POST', '/control/dealer/order', {
      login: mt5.login,
      symbol: 'EURUSD',
      side: 'buy',
      lots: 0.2,
      price: 0.5,
      comment: 'pending',
    });
    // MT4: one record per trade, opened and closed; and one still open.
    const { trade } = (await control(t.mt4!, 'POST', '/control/dealer/trades/open', {
      login: mt4.login,
      symbol: 'EURUSD',
      cmd: 0,
      volume: 20,
    })) as { trade: { order: number } };
    await control(t.mt4!, 'POST', '/control/dealer/trades/close', { order: trade.order });
    await control(t.mt4!, 'POST', '/control/dealer/trades/open', {
      login: mt4.login,
      symbol: 'GBPUSD',
      cmd: 1,
      volume: 5,
    });

    // And an MT4 pending order (a sell stop), open.
    await control(t.mt4!, 'POST', '/control/dealer/orders/place', {
      login: mt4.login,
      symbol: 'GBPUSD',
      cmd: 5,
      volume: 10,
      price: 0.8,
    });

    for (const result of await t.ctx.trades.syncAll()) expect(result.status, result.error).toBe('ok');
    await t.ctx.trades.syncPositions(LIVE);
    await t.ctx.trades.syncPositions(MT4_LIVE);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("returns both platforms' records, normalised, newest first", async () => {
    const { items, total } = await clientHistory(t.database.db, clientId);
    expect(total).toBe(items.length);
    const byServer = (server: string) => items.filter((i) => i.server === server);
    const mt5Items = byServer(LIVE);
    const mt4Items = byServer(MT4_LIVE);
    expect(mt5Items.map((i) => i.type).sort()).toEqual(['balance', 'deal', 'deal', 'deal']);
    expect(mt4Items.map((i) => i.type).sort()).toEqual(['balance', 'closed_trade']);

    const [closeDeal] = mt5Items.filter((i) => i.type === 'deal' && i.entry === 'out');
    const openDeal = mt5Items.find((i) => i.type === 'deal' && i.entry === 'in' && i.symbol === 'EURUSD')!;
    expect(closeDeal).toMatchObject({
      platform: 'mt5',
      login: mt5.login,
      tradingAccountId: mt5.accountId,
      currency: 'USD',
      symbol: 'EURUSD',
      side: 'sell',
      volume: 3_000,
      volumeLots: 0.3,
      positionId: openDeal.positionId,
    });
    const closed = mt4Items.find((i) => i.type === 'closed_trade')!;
    expect(closed).toMatchObject({
      platform: 'mt4',
      login: mt4.login,
      tradingAccountId: mt4.accountId,
      symbol: 'EURUSD',
      side: 'buy',
      entry: null,
      volume: 2_000,
      volumeLots: 0.2,
      version: 1,
    });
    expect(closed.openTime).toBeInstanceOf(Date);
    expect(closed.closePrice).toBeGreaterThan(0);
    for (const balance of items.filter((i) => i.type === 'balance')) {
      expect(balance).toMatchObject({ amountMinor: 1_000_000, balanceKind: 'balance' });
      expect(balance.reference).toMatch(/^BD-ADJ-/);
    }
    const times = items.map((i) => i.time.getTime());
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it('pages, filters by time and type, and never shows another client', async () => {
    const all = await clientHistory(t.database.db, clientId);
    const first = await clientHistory(t.database.db, clientId, { limit: 2 });
    const rest = await clientHistory(t.database.db, clientId, { limit: 100, offset: 2 });
    expect(first.total).toBe(all.total);
    expect([...first.items, ...rest.items].map((i) => i.id)).toEqual(all.items.map((i) => i.id));
    const trades = await clientHistory(t.database.db, clientId, { types: ['deal', 'closed_trade'] });
    expect(trades.total).toBe(4);
    const future = await clientHistory(t.database.db, clientId, { from: new Date(Date.now() + 3_600_000) });
    expect(future.total).toBe(0);
    const accounts = new Set(all.items.map((i) => i.tradingAccountId));
    expect(accounts).toEqual(new Set([mt5.accountId, mt4.accountId]));
    const mt4Only = await accountHistory(t.database.db, mt4.accountId);
    expect(mt4Only.items.every((i) => i.server === MT4_LIVE)).toBe(true);
    expect((await clientHistory(t.database.db, otherClientId)).items.every((i) => i.type === 'balance')).toBe(true);
    await expect(clientHistory(t.database.db, clientId, { limit: 0 })).rejects.toThrow(RangeError);
  });

  it('shows finished orders when asked for by type, and open orders apart', async () => {
    const orders = (await clientHistory(t.database.db, clientId, { types: ['order'] })).items;
    // MT5 keeps orders apart from deals: each of the three market trades was an order, filled.
    expect(orders.map((o) => [o.server, o.symbol, o.orderType, o.orderState, o.volumeLots]).sort()).toEqual(
      [
        [LIVE, 'EURUSD', 'buy', 'filled', 0.3],
        [LIVE, 'EURUSD', 'sell', 'filled', 0.3],
        [LIVE, 'GBPUSD', 'sell', 'filled', 0.05],
      ].sort(),
    );
    expect(orders.every((o) => o.volumeRemainingLots === 0 && o.tradingAccountId === mt5.accountId)).toBe(true);
    const open = await clientOpenOrders(t.database.db, clientId);
    expect(open).toHaveLength(2);
    expect(open.find((o) => o.platform === 'mt4')).toMatchObject({
      server: MT4_LIVE,
      login: mt4.login,
      tradingAccountId: mt4.accountId,
      symbol: 'GBPUSD',
      orderType: 'sell_stop',
      side: 'sell',
      state: 'placed',
      volumeLots: 0.1,
      price: 0.8,
    });
    expect(open.find((o) => o.platform === 'mt5')).toMatchObject({
      server: LIVE,
      platform: 'mt5',
      login: mt5.login,
      tradingAccountId: mt5.accountId,
      symbol: 'EURUSD',
      orderType: 'buy_limit',
      side: 'buy',
      state: 'placed',
      volumeLots: 0.2,
      volumeRemainingLots: 0.2,
      price: 0.5,
      comment: 'pending',
    });
    expect(await clientOpenOrders(t.database.db, otherClientId)).toEqual([]);
  });

  it('shows open positions of both platforms and the trading result of an account', async () => {
    const positions = await clientPositions(t.database.db, clientId);
    expect(positions.map((p) => [p.server, p.symbol, p.side, p.volumeLots]).sort()).toEqual(
      [
        [LIVE, 'GBPUSD', 'sell', 0.05],
        [MT4_LIVE, 'GBPUSD', 'sell', 0.05],
      ].sort(),
    );
    const result = await tradingResult(t.database.db, LIVE, mt5.login);
    const deals = (await clientHistory(t.database.db, clientId, { types: ['deal'] })).items;
    expect(result.totalMinor).toBe(
      deals.reduce((sum, d) => sum + (d.profitMinor ?? 0) + (d.commissionMinor ?? 0) + (d.swapMinor ?? 0), 0),
    );
    await expectLedgerBalanced(t.database.db);
  });
});
