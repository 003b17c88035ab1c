import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mt4TestClient } from '../../../sim/mt4/test-client.ts';
import { connectorConfig, control, startMt4 } from '../../../test/support/simulators.ts';
import { newReference, parseReference } from '../reference.ts';
import { utcToServerSeconds } from '../server-time.ts';
import type { HistoryRecord } from '../types.ts';
import { Mt4Connector } from './connector.ts';

type Sim = Awaited<ReturnType<typeof startMt4>>;
interface RawTrade {
  order: number;
  login: number;
  cmd: number;
  profit: number;
  comment: string;
  expiration: number;
}

const passwords = { mainPassword: 'Main1pass', investorPassword: 'Inv2pass' };
const USD = 'real-std-usd';
const MINUTE = 60_000;
const DAY = 86_400_000;

async function collect(iterable: AsyncIterable<HistoryRecord>): Promise<HistoryRecord[]> {
  const out: HistoryRecord[] = [];
  for await (const r of iterable) out.push(r);
  return out;
}

describe('MT4 connector against the MT4 bridge simulator', () => {
  let sim: Sim;
  let mt4: Mt4Connector;
  let login: number;
  const rawTrades = async (of: number) => (await control(sim, 'GET', `/control/trades?login=${of}`)) as RawTrade[];
  const rawUser = async (of: number) => (await control(sim, 'GET', `/control/users/${of}`)) as Record<string, unknown>;
  const recently = () => new Date(Date.now() - 10 * MINUTE);

  beforeAll(async () => {
    sim = await startMt4({ name: 'mt4-live', seed: 4 });
    mt4 = new Mt4Connector(connectorConfig(sim));
    login = (
      await mt4.openAccount({ group: USD, name: 'Ann Client', email: 'ann@example.com', leverage: 100, ...passwords })
    ).login;
  });
  afterAll(async () => {
    await mt4.close();
    await sim.close();
  });

  describe('accounts', () => {
    it('opens an account with the server allocating the login, and reads it back normalised', async () => {
      const reference = newReference('open_account');
      const opened = await mt4.openAccount({
        group: 'real-pro-usd',
        name: 'Bob Client',
        country: 'Cyprus',
        leverage: 200,
        tradingAllowed: false,
        agentLogin: 7001,
        comment: reference,
        ...passwords,
      });
      expect(opened.login).toBeGreaterThanOrEqual(sim.loginRange.from);
      expect(opened).toMatchObject({
        group: 'real-pro-usd',
        leverage: 200,
        enabled: true,
        tradingAllowed: false,
        agentLogin: 7001,
        currency: 'USD',
        currencyDigits: 2,
        comment: reference,
        country: 'Cyprus',
      });
      expect(await rawUser(opened.login)).toMatchObject({ enable: 1, enable_read_only: 1, agent_account: 7001 });
      const read = await mt4.getAccount(opened.login);
      expect(read).toMatchObject({ login: opened.login, balance: 0, credit: 0, equity: 0, freeMargin: 0 });
      expect(Math.abs(read.registeredAt.getTime() - Date.now())).toBeLessThan(2 * MINUTE);
      // Both passwords were set at creation: the account can log in with either.
      const check = Mt4TestClient.for(sim);
      try {
        await check.login(sim.manager.login, sim.manager.password);
        const ok = (password: string, investor: 0 | 1) =>
          check.call('UserPasswordCheck', { login: opened.login, password, investor }).then((r) => r.ret);
        expect(await ok(passwords.mainPassword, 0)).toBe(0);
        expect(await ok(passwords.investorPassword, 1)).toBe(0);
      } finally {
        check.close();
      }
    });

    it('opens a disabled account and one with a requested login', async () => {
      const disabled = await mt4.openAccount({ group: USD, name: 'Off', leverage: 100, enabled: false, ...passwords });
      expect(disabled.enabled).toBe(false);
      const wanted = sim.loginRange.to - 7;
      expect(
        (await mt4.openAccount({ group: USD, name: 'Given', leverage: 100, login: wanted, ...passwords })).login,
      ).toBe(wanted);
      await expect(
        mt4.openAccount({ group: USD, name: 'Again', leverage: 100, login: wanted, ...passwords }),
      ).rejects.toMatchObject({ errorClass: 'definitive', reason: 'already_exists', code: 2 });
    });

    it('refuses bad openings definitively, with the reason, and never lands them elsewhere', async () => {
      const before = ((await control(sim, 'GET', '/control/users')) as unknown[]).length;
      await expect(
        mt4.openAccount({
          group: USD,
          name: 'Weak',
          leverage: 100,
          mainPassword: 'weak',
          investorPassword: 'Inv2pass',
        }),
      ).rejects.toMatchObject({ errorClass: 'definitive', reason: 'weak_password', code: null });
      await expect(
        mt4.openAccount({ group: 'real-no-such', name: 'X', leverage: 100, ...passwords }),
      ).rejects.toMatchObject({ errorClass: 'definitive', reason: 'group_not_found', code: 3 });
      // A group that exists but is outside the manager's masks (dealers keep VIP accounts to themselves).
      await expect(
        mt4.openAccount({ group: 'real-vip-usd', name: 'X', leverage: 100, ...passwords }),
      ).rejects.toMatchObject({ errorClass: 'definitive', reason: 'no_rights', code: 7 });
      await expect(mt4.openAccount({ group: USD, name: 'X', leverage: 5000, ...passwords })).rejects.toMatchObject({
        errorClass: 'definitive',
        reason: 'bad_data',
        code: 3,
      });
      expect(((await control(sim, 'GET', '/control/users')) as unknown[]).length).toBe(before);
      await expect(mt4.getAccount(99)).rejects.toMatchObject({
        errorClass: 'definitive',
        reason: 'not_found',
        code: 65,
      });
    });

    it('updates only the fields it is given, so a dealer change to another field survives', async () => {
      const target = (
        await mt4.openAccount({ group: USD, name: 'Upd', email: 'u@example.com', leverage: 100, ...passwords })
      ).login;
      await control(sim, 'POST', '/control/dealer/leverage', { login: target, leverage: 30 });
      const updated = await mt4.updateAccount(target, { tradingAllowed: false, agentLogin: 7002, name: 'Upd Renamed' });
      expect(updated).toMatchObject({
        name: 'Upd Renamed',
        tradingAllowed: false,
        agentLogin: 7002,
        leverage: 30,
        email: 'u@example.com',
        enabled: true,
      });
      const moved = await mt4.updateAccount(target, {
        group: 'real-pro-usd',
        enabled: false,
        agentLogin: null,
        leverage: 50,
        email: 'new@example.com',
        comment: 'vip candidate',
      });
      expect(moved).toMatchObject({ group: 'real-pro-usd', enabled: false, agentLogin: null, leverage: 50 });
      expect(await rawUser(target)).toMatchObject({
        group: 'real-pro-usd',
        enable: 0,
        enable_read_only: 1,
        agent_account: 0,
        email: 'new@example.com',
        comment: 'vip candidate',
      });
      // Nothing to change (ret 1) is success too.
      expect((await mt4.updateAccount(target, { leverage: 50 })).leverage).toBe(50);
      await expect(mt4.updateAccount(target, { group: 'real-nowhere' })).rejects.toMatchObject({
        reason: 'group_not_found',
      });
      await expect(mt4.updateAccount(target, { group: 'real-vip-usd' })).rejects.toMatchObject({ reason: 'no_rights' });
    });

    it('sets the main and investor passwords, and refuses a weak one before sending it', async () => {
      await mt4.setPassword(login, 'main', 'NewMain9');
      await mt4.setPassword(login, 'investor', 'NewInv8x');
      const check = Mt4TestClient.for(sim);
      try {
        await check.login(sim.manager.login, sim.manager.password);
        const ret = (password: string, investor: 0 | 1) =>
          check.call('UserPasswordCheck', { login, password, investor }).then((r) => r.ret);
        expect(await ret('NewMain9', 0)).toBe(0);
        expect(await ret('NewInv8x', 1)).toBe(0);
        expect(await ret(passwords.mainPassword, 0)).toBe(65);
      } finally {
        check.close();
      }
      await expect(mt4.setPassword(login, 'main', 'nodigits')).rejects.toMatchObject({
        errorClass: 'definitive',
        reason: 'weak_password',
      });
      await expect(mt4.setPassword(99, 'main', 'Valid123')).rejects.toMatchObject({ reason: 'not_found', code: 65 });
    });

    it('finds an account by the reference in its comment, newest first, only in the given group', async () => {
      const reference = newReference('open_account');
      const opened = await mt4.openAccount({
        group: USD,
        name: 'By Ref',
        leverage: 100,
        comment: reference,
        ...passwords,
      });
      expect((await mt4.findAccountByReference(USD, reference))?.login).toBe(opened.login);
      expect(await mt4.findAccountByReference('real-std-eur', reference)).toBeNull();
      expect(await mt4.findAccountByReference(USD, newReference('open_account'))).toBeNull();
    });
  });

  describe('money', () => {
    it('normalises float balances: 0.10 + 0.20 reads 30 minor units, not 0.30000000000000004', async () => {
      const target = (await mt4.openAccount({ group: USD, name: 'Floats', leverage: 100, ...passwords })).login;
      await mt4.postBalanceOperation({
        login: target,
        kind: 'balance',
        amount: 10,
        reference: newReference('deposit'),
      });
      await mt4.postBalanceOperation({
        login: target,
        kind: 'balance',
        amount: 20,
        reference: newReference('deposit'),
      });
      expect((await rawUser(target)).balance).toBe(0.30000000000000004);
      expect(await mt4.getAccount(target)).toMatchObject({ balance: 30, equity: 30, freeMargin: 30, anomalies: [] });
      // The whole balance can be taken back, as the server compares at the currency's digits.
      await mt4.postBalanceOperation({
        login: target,
        kind: 'balance',
        amount: -30,
        reference: newReference('withdrawal'),
      });
      expect((await mt4.getAccount(target)).balance).toBe(0);
    });

    it('posts deposits and withdrawals as exact doubles and finds them by reference', async () => {
      const deposit = newReference('deposit');
      const result = await mt4.postBalanceOperation({
        login,
        kind: 'balance',
        amount: 200_000,
        reference: deposit,
        note: 'card 2000',
      });
      expect(result.ticket).toMatch(/^\d+$/);
      const withdrawal = newReference('withdrawal');
      await mt4.postBalanceOperation({ login, kind: 'balance', amount: -1_234, reference: withdrawal });
      const raw = await rawTrades(login);
      expect(raw.find((t) => t.order === Number(result.ticket))).toMatchObject({
        cmd: 6,
        profit: 2000,
        comment: `${deposit} card 2000`,
      });
      expect(raw.find((t) => t.comment === withdrawal)?.profit).toBe(-12.34);
      expect((await mt4.getAccount(login)).balance).toBe(200_000 - 1_234);
      const found = await mt4.findBalanceOperation(login, deposit, recently());
      expect(found).toMatchObject({ ticket: result.ticket, amount: 200_000, reference: deposit, kind: 'balance' });
      expect(Math.abs(found!.time.getTime() - Date.now())).toBeLessThan(2 * MINUTE);
      expect(await mt4.findBalanceOperation(login, withdrawal, recently())).toMatchObject({ amount: -1_234 });
      expect(await mt4.findBalanceOperation(login, newReference('deposit'), recently())).toBeNull();
    });

    it('keeps the reference through the silent cut at 31 characters', async () => {
      const reference = newReference('deposit');
      await mt4.postBalanceOperation({
        login,
        kind: 'balance',
        amount: 100,
        reference,
        note: 'a very long note that the server will certainly cut',
      });
      const found = await mt4.findBalanceOperation(login, reference, recently());
      expect(found?.comment).toHaveLength(31);
      expect(parseReference(found!.comment)?.reference).toBe(reference);
      // A dealer's comment cut by the server, with the reference first, still yields it.
      const dealerCut = newReference('adjustment');
      await control(sim, 'POST', '/control/dealer/balance', {
        login,
        amount: 1,
        comment: `${dealerCut} manual fix approved by the desk`,
      });
      const cut = await mt4.findBalanceOperation(login, dealerCut, recently());
      expect(cut?.comment).toHaveLength(31);
      expect(cut?.reference).toBe(dealerCut);
    });

    it('cuts a non-ASCII note at 31 bytes itself, so the server keeps exactly what was sent', async () => {
      const reference = newReference('deposit');
      await mt4.postBalanceOperation({ login, kind: 'balance', amount: 100, reference, note: 'Überweisung für Zoë' });
      const stored = (await rawTrades(login)).find((t) => t.comment.startsWith(reference))!;
      expect(Buffer.byteLength(stored.comment)).toBeLessThanOrEqual(31);
      // 20 + 1 + 10 bytes: "Überweisu" is nine characters, ten bytes.
      expect(stored.comment).toBe(`${reference} Überweisu`);
    });

    it('refuses a withdrawal beyond free margin as not enough money', async () => {
      const { balance } = await mt4.getAccount(login);
      const reference = newReference('withdrawal');
      await expect(
        mt4.postBalanceOperation({ login, kind: 'balance', amount: -(balance + 1), reference }),
      ).rejects.toMatchObject({ errorClass: 'definitive', reason: 'not_enough_money', code: 134 });
      expect(await mt4.findBalanceOperation(login, reference, recently())).toBeNull();
    });

    it('refuses amounts that cannot be sent before sending anything', async () => {
      const request = { login, kind: 'balance' as const, reference: newReference('deposit') };
      await expect(mt4.postBalanceOperation({ ...request, amount: 0 })).rejects.toMatchObject({ reason: 'bad_data' });
      await expect(mt4.postBalanceOperation({ ...request, amount: 10.5 })).rejects.toMatchObject({
        reason: 'bad_data',
      });
      await expect(mt4.postBalanceOperation({ ...request, amount: 100_000_000_001 })).rejects.toMatchObject({
        errorClass: 'definitive',
        reason: 'amount_too_large',
        code: null,
      });
      await expect(mt4.postBalanceOperation({ ...request, amount: 100, login: 99 })).rejects.toMatchObject({
        reason: 'not_found',
      });
    });

    it('posts credit with an expiry (a year ahead unless given), and takes it out again', async () => {
      const target = (await mt4.openAccount({ group: USD, name: 'Bonus', leverage: 100, ...passwords })).login;
      const defaultExpiry = newReference('credit_in');
      await mt4.postBalanceOperation({ login: target, kind: 'credit', amount: 5_000, reference: defaultExpiry });
      const expiresAt = new Date(Date.now() + 30 * DAY);
      const explicit = newReference('credit_in');
      await mt4.postBalanceOperation({
        login: target,
        kind: 'credit',
        amount: 2_500,
        reference: explicit,
        creditExpiresAt: expiresAt,
      });
      const raw = await rawTrades(target);
      const inAYear = utcToServerSeconds(new Date(Date.now() + 365 * DAY), 'Europe/Nicosia');
      expect(Math.abs(raw.find((t) => t.comment === defaultExpiry)!.expiration - inAYear)).toBeLessThan(120);
      expect(raw.find((t) => t.comment === explicit)!.expiration).toBe(utcToServerSeconds(expiresAt, 'Europe/Nicosia'));
      expect(await mt4.getAccount(target)).toMatchObject({ balance: 0, credit: 7_500, equity: 7_500 });
      expect(await mt4.findBalanceOperation(target, explicit, recently())).toMatchObject({
        kind: 'credit',
        amount: 2_500,
      });
      await mt4.postBalanceOperation({
        login: target,
        kind: 'credit',
        amount: -7_500,
        reference: newReference('credit_out'),
      });
      expect((await mt4.getAccount(target)).credit).toBe(0);
      await expect(
        mt4.postBalanceOperation({
          login: target,
          kind: 'credit',
          amount: 100,
          reference: newReference('credit_in'),
          creditExpiresAt: new Date(Date.now() - DAY),
        }),
      ).rejects.toMatchObject({ errorClass: 'definitive', reason: 'bad_data', code: 3 });
    });

    it('reports a reference found more than once (an operation applied twice)', async () => {
      const target = (await mt4.openAccount({ group: USD, name: 'Twice', leverage: 100, ...passwords })).login;
      const reference = newReference('deposit');
      await mt4.postBalanceOperation({ login: target, kind: 'balance', amount: 500, reference });
      await mt4.postBalanceOperation({ login: target, kind: 'balance', amount: 500, reference });
      const found = await mt4.findBalanceOperation(target, reference, recently());
      expect(found?.anomalies).toEqual([expect.stringContaining(`reference ${reference} appears 2 times`)]);
    });
  });

  describe('trades and history', () => {
    it('lists open positions and closed trades in lots, minor units and UTC, with balance records', async () => {
      const trader = (await mt4.openAccount({ group: 'real-pro-usd', name: 'Trader', leverage: 100, ...passwords }))
        .login;
      const deposit = newReference('deposit');
      await mt4.postBalanceOperation({ login: trader, kind: 'balance', amount: 5_000_000, reference: deposit });
      const { trade } = (await control(sim, 'POST', '/control/dealer/trades/open', {
        login: trader,
        symbol: 'EURUSD',
        cmd: 0,
        volume: 150,
      })) as { trade: RawTrade };
      const positions = await mt4.listOpenPositions(trader);
      expect(positions).toHaveLength(1);
      expect(positions[0]).toMatchObject({
        ticket: String(trade.order),
        login: trader,
        symbol: 'EURUSD',
        side: 'buy',
        volumeLots: 1.5,
        // real-pro-usd charges 7 USD per lot when the trade opens.
        commission: -1_050,
        anomalies: [],
      });
      expect(Math.abs(positions[0]!.openTime.getTime() - Date.now())).toBeLessThan(2 * MINUTE);
      expect((await mt4.listOpenPositions()).map((p) => p.ticket)).toContain(String(trade.order));
      // A market trade is not a pending order; every login the manager sees is listed, ascending.
      expect(await mt4.listOpenOrders(trader)).toEqual([]);
      const visible = await mt4.listLogins();
      expect(visible).toContain(trader);
      expect([...visible].sort((a, b) => a - b)).toEqual(visible);
      // A pending order (cmd 2–5) is an open order, not a position; deleted, it is a canceled order in the history.
      const { trade: pending } = (await control(sim, 'POST', '/control/dealer/orders/place', {
        login: trader,
        symbol: 'EURUSD',
        cmd: 2,
        volume: 30,
        price: 0.9,
        comment: 'dip buyer',
      })) as { trade: RawTrade };
      expect((await mt4.listOpenPositions(trader)).map((p) => p.ticket)).toEqual([String(trade.order)]);
      expect(await mt4.listOpenOrders(trader)).toEqual([
        expect.objectContaining({
          type: 'order',
          ticket: String(pending.order),
          login: trader,
          symbol: 'EURUSD',
          orderType: 'buy_limit',
          side: 'buy',
          state: 'placed',
          volumeLots: 0.3,
          price: 0.9,
          doneTime: null,
          comment: 'dip buyer',
        }),
      ]);
      await control(sim, 'POST', '/control/dealer/orders/delete', { order: pending.order });
      expect(await mt4.listOpenOrders(trader)).toEqual([]);
      const orderWindow = { login: trader, from: new Date(Date.now() - DAY), to: new Date(Date.now() + DAY) };
      expect((await collect(mt4.listHistory(orderWindow))).some((r) => r.type === 'order')).toBe(false);
      const withOrders = await collect(mt4.listHistory({ ...orderWindow, orders: true }));
      const pages: unknown[][] = [];
      for await (const page of mt4.listHistoryPages({ ...orderWindow, orders: true })) pages.push(page);
      expect(pages.flat()).toEqual(withOrders);
      // Orders only (the sync's orders pass): the deleted pending orders, no closed trade or balance record.
      expect(await collect(mt4.listHistory({ ...orderWindow, orders: 'only' }))).toEqual(
        withOrders.filter((r) => r.type === 'order'),
      );
      expect(withOrders.filter((r) => r.type === 'order')).toEqual([
        expect.objectContaining({ ticket: String(pending.order), state: 'canceled', orderType: 'buy_limit' }),
      ]);
      const live = await mt4.getAccount(trader);
      expect(live.margin).toBeGreaterThan(0);
      expect(live.marginLevel).toBeGreaterThan(0);

      await control(sim, 'POST', '/control/dealer/trades/close', { order: trade.order });
      expect(await mt4.listOpenPositions(trader)).toEqual([]);
      const window = { from: new Date(Date.now() - DAY), to: new Date(Date.now() + DAY) };
      const history = await collect(mt4.listHistory({ login: trader, ...window }));
      expect(history.map((r) => r.type)).toEqual(['balance', 'closed_trade']);
      expect(history[0]).toMatchObject({ type: 'balance', reference: deposit, amount: 5_000_000, kind: 'balance' });
      const closed = history[1]!;
      expect(closed).toMatchObject({
        type: 'closed_trade',
        symbol: 'EURUSD',
        side: 'buy',
        volumeLots: 1.5,
        commission: -1_050,
      });
      if (closed.type !== 'closed_trade') throw new Error('unreachable');
      expect(Number.isInteger(closed.profit)).toBe(true);
      expect(closed.closeTime.getTime()).toBeGreaterThanOrEqual(closed.openTime.getTime());
      expect(Math.abs(closed.closeTime.getTime() - Date.now())).toBeLessThan(2 * MINUTE);
      // Closing moved profit and commission into the balance.
      expect((await mt4.getAccount(trader)).balance).toBe(5_000_000 + closed.profit + closed.commission + closed.swap);

      const everyone = await collect(mt4.listHistory(window));
      const logins = new Set(everyone.map((r) => r.login));
      expect(logins.has(trader)).toBe(true);
      expect(logins.has(login)).toBe(true);
      // An empty window is empty.
      const past = { from: new Date(Date.now() - 30 * DAY), to: new Date(Date.now() - 20 * DAY) };
      expect(await collect(mt4.listHistory({ login: trader, ...past }))).toEqual([]);
    });
  });

  describe('groups and server', () => {
    it('lists and reads groups, hedging, with currency digits and leverage limits', async () => {
      const groups = await mt4.listGroups();
      expect(groups.map((g) => g.name)).toEqual(['real-pro-usd', 'real-std-eur', 'real-std-usd', 'real-vip-usd']);
      expect(await mt4.getGroup('real-std-eur')).toEqual({
        name: 'real-std-eur',
        currency: 'EUR',
        currencyDigits: 2,
        marginMode: 'hedging',
        leverageMin: 1,
        leverageMax: 500,
      });
      await expect(mt4.getGroup('real-none')).rejects.toMatchObject({
        errorClass: 'definitive',
        reason: 'group_not_found',
      });
    });

    it('reads the server clock in the configured zone', async () => {
      const clock = await mt4.serverTime();
      expect(Math.abs(clock.now.getTime() - Date.now())).toBeLessThan(5_000);
      expect(clock.zone).toBe('Europe/Nicosia');
      expect(clock.observedOffsetMinutes).toBe(clock.offsetMinutes);
      expect(await mt4.ping()).toBeGreaterThanOrEqual(0);
    });
  });
});

describe('MT4 connector and the server time zone', () => {
  it('converts with the configured zone, and a wrong zone shows in the observed offset', async () => {
    const sim = await startMt4({ name: 'mt4-ny', timeZone: 'America/New_York' });
    const right = new Mt4Connector(connectorConfig(sim, { timeZone: 'America/New_York' }));
    const wrong = new Mt4Connector(connectorConfig(sim, { timeZone: 'Asia/Tokyo' }));
    try {
      const clock = await right.serverTime();
      expect([-300, -240]).toContain(clock.offsetMinutes);
      expect(clock.observedOffsetMinutes).toBe(clock.offsetMinutes);
      expect(Math.abs(clock.now.getTime() - Date.now())).toBeLessThan(5_000);
      const misread = await wrong.serverTime();
      expect(misread.offsetMinutes).toBe(540);
      expect(misread.observedOffsetMinutes).toBe(clock.offsetMinutes);

      const account = await right.openAccount({ group: USD, name: 'Zone', leverage: 100, ...passwords });
      expect(Math.abs(account.registeredAt.getTime() - Date.now())).toBeLessThan(2 * MINUTE);
      const reference = newReference('deposit');
      await right.postBalanceOperation({ login: account.login, kind: 'balance', amount: 100, reference });
      const found = await right.findBalanceOperation(account.login, reference, new Date(Date.now() - MINUTE));
      expect(Math.abs(found!.time.getTime() - Date.now())).toBeLessThan(2 * MINUTE);
    } finally {
      await right.close();
      await wrong.close();
      await sim.close();
    }
  });
});

describe('MT4 connector and values the currency cannot hold', () => {
  it('reports a dealer correction of 10.005 in a 2-digit group in anomalies, rounded, not hidden', async () => {
    // The bridge rounds every amount to the group's digits when it is posted, so the only way a 2-digit group holds
    // 10.005 is a group whose digits were lowered after the fact: post in a 3-digit group, restart with 2 digits.
    const stateDir = mkdtempSync(join(tmpdir(), 'bd-mt4-digits-'));
    const groups = (digits: number) => [{ group: 'real-std-usd', currency: 'USD', digits }];
    try {
      let login: number;
      const before = await startMt4({ stateDir, groups: groups(3) });
      try {
        const connector = new Mt4Connector(connectorConfig(before));
        try {
          login = (await connector.openAccount({ group: USD, name: 'Digits', leverage: 100, ...passwords })).login;
        } finally {
          await connector.close();
        }
        await control(before, 'POST', '/control/dealer/balance', { login, amount: 10.005 });
      } finally {
        await before.close();
      }

      const after = await startMt4({ stateDir, groups: groups(2) });
      const connector = new Mt4Connector(connectorConfig(after));
      try {
        const account = await connector.getAccount(login);
        expect(account).toMatchObject({ currencyDigits: 2, balance: 1001 });
        expect(account.anomalies).toContain('balance 10.005 is not representable with 2 digits; rounded to 10.01');
        const history = await collect(
          connector.listHistory({ login, from: new Date(Date.now() - DAY), to: new Date(Date.now() + DAY) }),
        );
        expect(history).toHaveLength(1);
        expect(history[0]).toMatchObject({
          type: 'balance',
          amount: 1001,
          reference: null,
          comment: 'dealer correction',
        });
        expect(history[0]!.anomalies).toEqual(['amount 10.005 is not representable with 2 digits; rounded to 10.01']);
      } finally {
        await connector.close();
        await after.close();
      }
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('answers no ticket when the bridge does not tell it, and the reference still finds the operation', async () => {
    const sim = await startMt4({ name: 'mt4-noticket', returnTicket: false });
    const connector = new Mt4Connector(connectorConfig(sim));
    try {
      const { login } = await connector.openAccount({ group: USD, name: 'No Ticket', leverage: 100, ...passwords });
      const reference = newReference('deposit');
      expect(await connector.postBalanceOperation({ login, kind: 'balance', amount: 700, reference })).toEqual({
        ticket: null,
        record: null,
      });
      expect(await connector.findBalanceOperation(login, reference, new Date(Date.now() - MINUTE))).toMatchObject({
        amount: 700,
        ticket: expect.stringMatching(/^\d+$/),
      });
    } finally {
      await connector.close();
      await sim.close();
    }
  });
});
