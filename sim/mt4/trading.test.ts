import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toServerTime } from '../common/timezone.ts';
import { RET } from './codes.ts';
import { TradeRecord } from './contract.ts';
import type { Mt4TestClient } from './test-client.ts';
import { FAR_FUTURE, Harness } from './test-support.ts';

interface ControlTrade {
  order: number;
  profit: number;
  close_time: number;
}

describe('MT4 bridge money and trades', () => {
  let h: Harness;
  let crm: Mt4TestClient;

  beforeAll(async () => {
    h = await Harness.start({ timeZone: 'Europe/Nicosia' });
    crm = await h.client();
  });
  afterAll(async () => h.close());

  describe('TradeTransaction (TT_BR_BALANCE)', () => {
    it('deposits: the record lands in history with cmd 6, profit = amount and the comment', async () => {
      const login = await h.openAccount(crm, 'real-std-usd');
      const reply = await crm.ok('TradeTransaction', {
        type: 83,
        cmd: 6,
        orderby: login,
        price: 2000,
        comment: 'BD-7Q2K9',
      });
      expect(reply.order).toBeGreaterThan(0);
      const history = await h.history(crm, login);
      expect(history).toHaveLength(1);
      expect(history[0]).toMatchObject({
        order: reply.order,
        login,
        cmd: 6,
        profit: 2000,
        comment: 'BD-7Q2K9',
        symbol: '',
        volume: 0,
      });
      expect(history[0]!.close_time).toBe(history[0]!.open_time);
      expect(Object.keys(history[0]!).sort()).toEqual(Object.keys(TradeRecord.shape).sort());
      expect((await crm.ok('UserRecordGet', { login })).user.balance).toBe(2000);
    });

    it('cuts the comment silently at 31 bytes', async () => {
      const login = await h.openAccount(crm, 'real-std-usd');
      const comment = 'deposit ref 0123456789 ABCDEFGHIJKLMNOP';
      await crm.ok('TradeTransaction', { type: 83, cmd: 6, orderby: login, price: 10, comment });
      const [record] = await h.history(crm, login);
      expect(record!.comment).toBe(comment.slice(0, 31));
      expect(record!.comment).toHaveLength(31);
    });

    it('keeps money a double: 0.1 + 0.2 reads 0.30000000000000004, amounts are rounded to the currency digits', async () => {
      const login = await h.openAccount(crm, 'real-std-usd');
      await h.deposit(crm, login, 0.1, 'a');
      await h.deposit(crm, login, 0.2, 'b');
      expect((await crm.ok('UserRecordGet', { login })).user.balance).toBe(0.30000000000000004);
      await h.deposit(crm, login, 1.005, 'c');
      const history = await h.history(crm, login);
      expect(history.map((t) => t.profit)).toEqual([0.1, 0.2, 1.01]);
      expect((await crm.call('TradeTransaction', { type: 83, cmd: 6, orderby: login, price: 0.004 })).ret).toBe(
        RET.INVALID_DATA,
      );
    });

    it('lets a client withdraw the balance it sees, even when the double underneath is a hair smaller', async () => {
      const login = await h.openAccount(crm, 'real-std-usd');
      await h.deposit(crm, login, 0.7, 'in');
      await crm.ok('TradeTransaction', { type: 83, cmd: 6, orderby: login, price: -0.4, comment: 'out-1' });
      expect((await crm.ok('UserRecordGet', { login })).user.balance).toBe(0.29999999999999993);
      await crm.ok('TradeTransaction', { type: 83, cmd: 6, orderby: login, price: -0.3, comment: 'out-2' });
      // What is left is not 0 but float dust: connectors must round to the currency digits.
      expect((await crm.ok('UserRecordGet', { login })).user.balance).toBe(0.7 - 0.4 - 0.3);
      expect((await crm.call('TradeTransaction', { type: 83, cmd: 6, orderby: login, price: -0.01 })).ret).toBe(
        RET.TRADE_NO_MONEY,
      );
    });

    it('withdraws within free margin, refuses beyond it with 134 and applies nothing', async () => {
      const login = await h.openAccount(crm, 'real-std-usd');
      await h.deposit(crm, login, 500);
      await crm.ok('TradeTransaction', { type: 83, cmd: 6, orderby: login, price: -200, comment: 'wd-1' });
      const refused = await crm.call('TradeTransaction', {
        type: 83,
        cmd: 6,
        orderby: login,
        price: -300.01,
        comment: 'wd-2',
      });
      expect(refused.ret).toBe(RET.TRADE_NO_MONEY);
      expect(refused.order).toBeUndefined();
      expect((await crm.ok('UserRecordGet', { login })).user.balance).toBe(300);
      expect((await h.history(crm, login)).map((t) => t.comment)).toEqual([`dep-${login}`, 'wd-1']);
    });

    it('counts open trades: margin in use cannot be withdrawn (134), floating profit is not withdrawable', async () => {
      const login = await h.openAccount(crm, 'real-std-usd');
      await h.deposit(crm, login, 1000);
      await h.control.post('/control/dealer/trades/open', { login, symbol: 'EURUSD', cmd: 0, volume: 50 });
      const margin = (await crm.ok('MarginLevelRequest', { login })).margin;
      expect(margin.margin).toBeGreaterThan(500);
      expect(margin.margin_free).toBeLessThan(500);
      const refused = await crm.call('TradeTransaction', {
        type: 83,
        cmd: 6,
        orderby: login,
        price: -(margin.margin_free + 1),
      });
      expect(refused.ret).toBe(RET.TRADE_NO_MONEY);
      expect(refused.message).toContain('free margin');
    });

    it('credit needs a future expiration (3 otherwise, also once the clock passes it)', async () => {
      const login = await h.openAccount(crm, 'real-std-usd');
      const credit = (extra: object) =>
        crm.call('TradeTransaction', { type: 83, cmd: 7, orderby: login, price: 50, ...extra });
      expect((await credit({})).ret).toBe(RET.INVALID_DATA);
      const { time } = await crm.ok('ServerTime');
      expect((await credit({ expiration: time - 1 })).ret).toBe(RET.INVALID_DATA);
      const expiration = time + 3600;
      expect((await credit({ expiration, comment: 'bonus-1' })).ret).toBe(RET.OK);
      const { user } = await crm.ok('UserRecordGet', { login });
      expect(user.credit).toBe(50);
      expect(user.balance).toBe(0);
      const [record] = await h.history(crm, login);
      expect(record).toMatchObject({ cmd: 7, profit: 50, expiration, comment: 'bonus-1' });
      // Two hours later the same expiration lies in the past.
      await h.control.post('/control/clock', { advanceSeconds: 7200 });
      expect((await credit({ expiration })).ret).toBe(RET.INVALID_DATA);
      // Credit out beyond the credit held is refused.
      const out = await crm.call('TradeTransaction', {
        type: 83,
        cmd: 7,
        orderby: login,
        price: -60,
        expiration: FAR_FUTURE,
      });
      expect(out.ret).toBe(RET.TRADE_NO_MONEY);
      expect(
        (await crm.call('TradeTransaction', { type: 83, cmd: 7, orderby: login, price: -50, expiration: FAR_FUTURE }))
          .ret,
      ).toBe(RET.OK);
    });

    it('accepts balance operations on disabled and read-only accounts (the broker’s operation, not a trade)', async () => {
      const login = await h.openAccount(crm, 'real-std-usd', { enable: 0, enable_read_only: 1 });
      expect((await crm.call('TradeTransaction', { type: 83, cmd: 6, orderby: login, price: 15 })).ret).toBe(RET.OK);
      expect((await crm.ok('UserRecordGet', { login })).user.balance).toBe(15);
    });

    it('refuses unsupported types, unknown accounts, zero and huge amounts', async () => {
      const login = await h.openAccount(crm, 'real-std-usd');
      const base = { type: 83, cmd: 6, orderby: login, price: 10 };
      expect((await crm.call('TradeTransaction', { ...base, type: 64 })).ret).toBe(RET.INVALID_DATA);
      expect((await crm.call('TradeTransaction', { ...base, cmd: 0 })).ret).toBe(RET.INVALID_DATA);
      expect((await crm.call('TradeTransaction', { ...base, orderby: 4_999_990 })).ret).toBe(RET.BAD_ACCOUNT_INFO);
      expect((await crm.call('TradeTransaction', { ...base, price: 0 })).ret).toBe(RET.INVALID_DATA);
      expect((await crm.call('TradeTransaction', { ...base, price: 1e10 })).ret).toBe(RET.INVALID_DATA);
      expect(await h.history(crm, login)).toEqual([]);
    });

    it('can hide the ticket, as a DLL that does not return it: the record is found by comment', async () => {
      const quiet = await Harness.start({ returnTicket: false });
      try {
        const client = await quiet.client();
        const login = await quiet.openAccount(client, 'real-std-usd');
        const reply = await client.ok('TradeTransaction', {
          type: 83,
          cmd: 6,
          orderby: login,
          price: 25,
          comment: 'ref-X1',
        });
        expect(reply.order).toBeUndefined();
        const found = (await quiet.history(client, login)).find((t) => t.comment === 'ref-X1');
        expect(found?.profit).toBe(25);
      } finally {
        await quiet.close();
      }
    });
  });

  describe('trades and history', () => {
    it('shows open trades at the market, then closed ones in history with profit, commission and storage', async () => {
      const login = await h.openAccount(crm, 'real-pro-usd');
      await h.deposit(crm, login, 10_000);
      const opened = await h.control.post<{ trade: { order: number } }>('/control/dealer/trades/open', {
        login,
        symbol: 'XAUUSD.m',
        cmd: 0,
        volume: 150,
        comment: 'manual',
      });
      const open = await crm.ok('TradesRequest', { login });
      expect(open.trades).toHaveLength(1);
      const trade = open.trades[0]!;
      expect(trade).toMatchObject({
        order: opened.trade.order,
        login,
        symbol: 'XAUUSD.m',
        cmd: 0,
        volume: 150,
        close_time: 0,
        digits: 2,
      });
      expect(trade.commission).toBe(-10.5); // 7 per lot in real-pro-usd × 1.5 lots
      const market = await h.control.get<Record<string, { bid: number; ask: number }>>('/control/market');
      expect(trade.close_price).toBe(market['XAUUSD.m']!.bid);
      expect(trade.open_price).toBe(market['XAUUSD.m']!.ask);

      // Gold rises by 10: a 1.5 lot (150 oz) buy gains about 1500 minus the spread.
      await h.control.post('/control/market/price', { symbol: 'XAUUSD.m', bid: market['XAUUSD.m']!.bid + 10 });
      const marked = (await crm.ok('TradeRecordGet', { order: trade.order })).trade;
      expect(marked.profit).toBeCloseTo((marked.close_price - marked.open_price) * 150, 1);
      expect(marked.profit).toBeGreaterThan(1400);

      const closed = await h.control.post<{ trade: ControlTrade }>('/control/dealer/trades/close', {
        order: trade.order,
      });
      expect(closed.trade.profit).toBe(marked.profit);
      expect((await crm.ok('TradesRequest', { login })).trades).toEqual([]);
      const history = await h.history(crm, login);
      expect(history.map((t) => t.cmd)).toEqual([6, 0]);
      const { user } = await crm.ok('UserRecordGet', { login });
      expect(user.balance).toBe(10_000 + marked.profit + -10.5);
    });

    it('filters history by close_time in server time, both ends included; from > to is 3', async () => {
      const login = await h.openAccount(crm, 'real-std-usd');
      const first = await h.deposit(crm, login, 100, 'first');
      await h.control.post('/control/clock', { advanceSeconds: 86_400 });
      const second = await h.deposit(crm, login, 100, 'second');
      const records = await h.history(crm, login);
      const t1 = records.find((t) => t.order === first)!.close_time;
      const t2 = records.find((t) => t.order === second)!.close_time;
      expect(t2 - t1).toBeGreaterThanOrEqual(86_400);
      const only = async (from: number, to: number) =>
        (await crm.ok('TradesUserHistory', { login, from, to })).trades.map((t) => t.order);
      expect(await only(t1, t1)).toEqual([first]);
      expect(await only(t1 + 1, t2)).toEqual([second]);
      expect(await only(t1, t2)).toEqual([first, second]);
      expect(await only(t2 + 1, FAR_FUTURE)).toEqual([]);
      expect((await crm.call('TradesUserHistory', { login, from: t2, to: t1 })).ret).toBe(RET.INVALID_DATA);
      expect((await crm.call('TradesUserHistory', { login: 4_999_991, from: 0, to: 1 })).ret).toBe(
        RET.BAD_ACCOUNT_INFO,
      );
    });

    it('looks records up by ticket (2 when unknown)', async () => {
      const login = await h.openAccount(crm, 'real-std-usd');
      const order = await h.deposit(crm, login, 42, 'lookup');
      expect((await crm.ok('TradeRecordGet', { order })).trade).toMatchObject({ order, profit: 42, comment: 'lookup' });
      expect((await crm.call('TradeRecordGet', { order: 999_999_999 })).ret).toBe(RET.ERROR);
    });

    it('reports margin figures (MarginLevelRequest)', async () => {
      const login = await h.openAccount(crm, 'real-std-usd', { leverage: 100 });
      await h.deposit(crm, login, 5000);
      await crm.ok('TradeTransaction', { type: 83, cmd: 7, orderby: login, price: 100, expiration: FAR_FUTURE });
      const idle = (await crm.ok('MarginLevelRequest', { login })).margin;
      expect(idle).toMatchObject({
        login,
        balance: 5000,
        equity: 5100,
        margin: 0,
        margin_free: 5100,
        margin_level: 0,
        level_type: 0,
      });
      await h.control.post('/control/dealer/trades/open', { login, symbol: 'USDJPY', cmd: 1, volume: 100 });
      const busy = (await crm.ok('MarginLevelRequest', { login })).margin;
      // 1 lot USDJPY at 1:100 needs 1000 USD of margin.
      expect(busy.margin).toBe(1000);
      expect(busy.volume).toBe(100);
      expect(busy.margin_free).toBeCloseTo(busy.equity - 1000, 2);
    });

    it('stops out: a price jump below the stop-out level closes the losing trade with an "so:" comment', async () => {
      const login = await h.openAccount(crm, 'real-std-usd', { leverage: 500 });
      await h.deposit(crm, login, 300);
      const opened = await h.control.post<{ trade: { order: number } }>('/control/dealer/trades/open', {
        login,
        symbol: 'EURUSD',
        cmd: 0,
        volume: 100,
      });
      const market = await h.control.get<Record<string, { bid: number }>>('/control/market');
      const crash = await h.control.post<{ stoppedOut: number[] }>('/control/market/price', {
        symbol: 'EURUSD',
        bid: market.EURUSD!.bid - 0.0035,
      });
      expect(crash.stoppedOut).toContain(opened.trade.order);
      const closed = (await h.history(crm, login)).find((t) => t.cmd === 0)!;
      expect(closed.order).toBe(opened.trade.order);
      expect(closed.comment).toMatch(/^so: -?\d+\.\d%\/-?\d+\.\d{2}\/\d+\.\d{2}$/);
      expect(closed.profit).toBeLessThan(-300);
      // Move the price back for the other tests.
      await h.control.post('/control/market/price', { symbol: 'EURUSD', bid: market.EURUSD!.bid });
    });

    it('filters open trades by login and group mask', async () => {
      const a = await h.openAccount(crm, 'real-std-usd');
      const b = await h.openAccount(crm, 'real-std-eur');
      await h.deposit(crm, a, 10_000);
      await h.deposit(crm, b, 10_000);
      await h.control.post('/control/dealer/trades/open', { login: a, symbol: 'GBPUSD', cmd: 0, volume: 10 });
      await h.control.post('/control/dealer/trades/open', { login: b, symbol: 'GBPUSD', cmd: 1, volume: 10 });
      const eurOnly = (await crm.ok('TradesRequest', { group: '*-eur' })).trades;
      expect(eurOnly.map((t) => t.login)).toContain(b);
      expect(eurOnly.map((t) => t.login)).not.toContain(a);
      const all = (await crm.ok('TradesRequest')).trades.map((t) => t.login);
      expect(all).toEqual(expect.arrayContaining([a, b]));
    });
  });

  describe('configuration and time', () => {
    it('lists groups and gets one (3 when unknown)', async () => {
      const { groups } = await crm.ok('CfgRequestGroup');
      expect(groups.map((g) => g.group)).toEqual(['real-pro-usd', 'real-std-eur', 'real-std-usd', 'real-vip-usd']);
      const { group } = await crm.ok('GroupRecordGet', { group: 'real-std-eur' });
      expect(group).toMatchObject({ group: 'real-std-eur', currency: 'EUR', digits: 2, enable: 1, margin_stopout: 50 });
      expect(group.leverage_min).toBeLessThanOrEqual(group.default_leverage);
      expect((await crm.call('GroupRecordGet', { group: 'real-std-gbp' })).ret).toBe(RET.INVALID_DATA);
    });

    it('lists symbols, including the suffixed XAUUSD.m, and gets one (3 when unknown)', async () => {
      const { symbols } = await crm.ok('CfgRequestSymbol');
      expect(symbols.map((s) => s.symbol)).toEqual(['EURUSD', 'GBPUSD', 'USDJPY', 'XAUUSD.m']);
      expect((await crm.ok('SymbolGet', { symbol: 'XAUUSD.m' })).symbol).toMatchObject({
        digits: 2,
        contract_size: 100,
        currency: 'USD',
      });
      expect((await crm.call('SymbolGet', { symbol: 'XAUUSD' })).ret).toBe(RET.INVALID_DATA);
    });

    it('reports server wall-clock time in the configured zone, moved by the control clock', async () => {
      const status = await h.control.get<{ clock: { now: string } }>('/control/status');
      const utc = Date.parse(status.clock.now);
      const { time } = await crm.ok('ServerTime');
      const expected = Math.floor(toServerTime(utc, 'Europe/Nicosia') / 1000);
      expect(Math.abs(time - expected)).toBeLessThan(30);
      // Nicosia is UTC+2 or UTC+3: the server time is never the UTC epoch.
      expect([7200, 10_800]).toContain(Math.round((time - utc / 1000) / 3600) * 3600);
      await h.control.post('/control/clock', { advanceSeconds: 3600 });
      expect((await crm.ok('ServerTime')).time - time).toBeGreaterThanOrEqual(3600);
    });
  });
});
