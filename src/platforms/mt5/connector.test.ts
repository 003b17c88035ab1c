import { mkdtempSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureCertificate } from '../../../sim/common/tls.ts';
import { connectorConfig, control, startMt5 } from '../../../test/support/simulators.ts';
import { ManualClock } from '../../clock.ts';
import { AmbiguousError, CircuitOpenError, DefinitiveError, NotSentError } from '../errors.ts';
import { GuardedPlatform } from '../guarded.ts';
import { newReference, parseReference } from '../reference.ts';
import { Mt5Connector } from './connector.ts';

type Sim = Awaited<ReturnType<typeof startMt5>>;

const passwords = { mainPassword: 'Main!pass1', investorPassword: 'Invest!pass2' };
const USD = 'real\\standard-usd';

describe('MT5 connector against the MT5 Web API simulator', () => {
  let sim: Sim;
  let mt5: Mt5Connector;
  let login: number;

  beforeAll(async () => {
    sim = await startMt5({ name: 'mt5-live', seed: 5 });
    mt5 = new Mt5Connector(connectorConfig(sim, { requestTimeoutMs: 1500 }));
    login = (
      await mt5.openAccount({ group: USD, name: 'Ann Client', email: 'ann@example.com', leverage: 100, ...passwords })
    ).login;
  });
  afterAll(async () => {
    await mt5.close();
    await sim.close();
  });
  afterEach(async () => {
    await control(sim, 'DELETE', '/control/faults');
  });

  it('opens accounts with the right group, rights and agent, and reads them back normalised', async () => {
    const opened = await mt5.openAccount({
      group: USD,
      name: 'Bob Client',
      leverage: 200,
      tradingAllowed: false,
      agentLogin: 7001,
      comment: 'BD-OPN-test',
      ...passwords,
    });
    expect(opened).toMatchObject({
      group: USD,
      leverage: 200,
      enabled: true,
      tradingAllowed: false,
      agentLogin: 7001,
      currency: 'USD',
    });
    const read = await mt5.getAccount(opened.login);
    expect(read).toMatchObject({
      login: opened.login,
      balance: 0,
      credit: 0,
      currencyDigits: 2,
      comment: 'BD-OPN-test',
    });
    expect(read.registeredAt.getTime()).toBeGreaterThan(Date.now() - 120_000);
    expect(read.registeredAt.getTime()).toBeLessThan(Date.now() + 120_000);
  });

  it('refuses bad openings definitively, with the reason', async () => {
    await expect(
      mt5.openAccount({ group: USD, name: 'Weak', leverage: 100, mainPassword: 'weak', investorPassword: 'weak' }),
    ).rejects.toMatchObject({
      errorClass: 'definitive',
      reason: 'weak_password',
      code: 3006,
    });
    await expect(
      mt5.openAccount({ group: 'real\\no-such', name: 'X', leverage: 100, ...passwords }),
    ).rejects.toBeInstanceOf(DefinitiveError);
    await expect(mt5.getAccount(99_999_999)).rejects.toMatchObject({ reason: 'not_found', code: 13 });
  });

  it('updates by read-modify-write without losing other fields', async () => {
    const updated = await mt5.updateAccount(login, { leverage: 50, tradingAllowed: false });
    expect(updated).toMatchObject({
      leverage: 50,
      tradingAllowed: false,
      enabled: true,
      name: 'Ann Client',
      email: 'ann@example.com',
    });
    const back = await mt5.updateAccount(login, { tradingAllowed: true, agentLogin: 7002 });
    expect(back).toMatchObject({ leverage: 50, tradingAllowed: true, agentLogin: 7002 });
  });

  it('sets passwords (and refuses a weak one)', async () => {
    await mt5.setPassword(login, 'main', 'New!pass123');
    await mt5.setPassword(login, 'investor', 'Inv!pass456');
    await expect(mt5.setPassword(login, 'main', 'short')).rejects.toMatchObject({ reason: 'weak_password' });
  });

  it('posts deposits and withdrawals in minor units, and finds them by reference', async () => {
    const deposit = newReference('deposit');
    const result = await mt5.postBalanceOperation({
      login,
      kind: 'balance',
      amount: 200_000,
      reference: deposit,
      note: 'card 2000 USD',
    });
    expect(result.ticket).toMatch(/^\d+$/);
    const withdrawal = newReference('withdrawal');
    await mt5.postBalanceOperation({ login, kind: 'balance', amount: -1_234, reference: withdrawal });
    const account = await mt5.getAccount(login);
    expect(account.balance).toBe(200_000 - 1_234);
    const found = await mt5.findBalanceOperation(login, deposit, new Date(Date.now() - 60_000));
    expect(found).toMatchObject({ ticket: result.ticket, amount: 200_000, reference: deposit, kind: 'balance' });
    expect(await mt5.findBalanceOperation(login, newReference('deposit'), new Date(Date.now() - 60_000))).toBeNull();
  });

  it('keeps the reference through the 31-character comment cut', async () => {
    const reference = newReference('deposit');
    await mt5.postBalanceOperation({
      login,
      kind: 'balance',
      amount: 100,
      reference,
      note: 'a very long note that the server will certainly cut',
    });
    const found = await mt5.findBalanceOperation(login, reference, new Date(Date.now() - 60_000));
    expect(found?.comment).toHaveLength(31);
    expect(parseReference(found!.comment)?.reference).toBe(reference);
  });

  it('converts with the digits of the group the account is in now, and refuses a currency mismatch before sending', async () => {
    const moved = await mt5.openAccount({ group: USD, name: 'Moved', leverage: 100, ...passwords });
    await mt5.postBalanceOperation({
      login: moved.login,
      kind: 'balance',
      amount: 150,
      reference: newReference('deposit'),
      currency: 'USD',
    });
    // A dealer moves the account to the JPY group (0 digits) behind the CRM's back.
    await control(sim, 'POST', '/control/dealer/balance', { login: moved.login, amount: -1.5 });
    await control(sim, 'POST', '/control/dealer/move', { login: moved.login, group: 'real\\standard-jpy' });
    await expect(
      mt5.postBalanceOperation({
        login: moved.login,
        kind: 'balance',
        amount: 150,
        reference: newReference('deposit'),
        currency: 'USD',
      }),
    ).rejects.toMatchObject({ errorClass: 'definitive', reason: 'currency_mismatch' });
    await mt5.postBalanceOperation({
      login: moved.login,
      kind: 'balance',
      amount: 150,
      reference: newReference('deposit'),
      currency: 'JPY',
    });
    expect(await mt5.getAccount(moved.login)).toMatchObject({ currency: 'JPY', currencyDigits: 0, balance: 150 });
  });

  it('refuses a withdrawal above free margin as not enough money', async () => {
    await expect(
      mt5.postBalanceOperation({
        login,
        kind: 'balance',
        amount: -1_000_000_000,
        reference: newReference('withdrawal'),
      }),
    ).rejects.toMatchObject({ errorClass: 'definitive', reason: 'not_enough_money', code: 10019 });
  });

  it('posts credits and reads them as credit records', async () => {
    const reference = newReference('credit_in');
    await mt5.postBalanceOperation({ login, kind: 'credit', amount: 5_000, reference });
    expect((await mt5.getAccount(login)).credit).toBe(5_000);
    expect(await mt5.findBalanceOperation(login, reference, new Date(Date.now() - 60_000))).toMatchObject({
      kind: 'credit',
      amount: 5_000,
    });
  });

  it('lists trade deals, balance records and open positions after trading activity', async () => {
    const trader = await mt5.openAccount({ group: USD, name: 'Trader', leverage: 100, ...passwords });
    await mt5.postBalanceOperation({
      login: trader.login,
      kind: 'balance',
      amount: 1_000_000,
      reference: newReference('deposit'),
    });
    await control(sim, 'POST', '/control/dealer/trade', {
      login: trader.login,
      symbol: 'EURUSD',
      side: 'buy',
      lots: 1.5,
    });
    const positions = await mt5.listOpenPositions(trader.login);
    expect(positions).toHaveLength(1);
    expect(positions[0]).toMatchObject({ symbol: 'EURUSD', side: 'buy', volumeLots: 1.5 });
    await control(sim, 'POST', '/control/activity/step', { steps: 200 });
    const history = [];
    for await (const r of mt5.listHistory({
      login: trader.login,
      from: new Date(Date.now() - 86_400_000),
      to: new Date(Date.now() + 86_400_000),
    })) {
      history.push(r);
    }
    expect(history.filter((r) => r.type === 'balance')).toHaveLength(1);
    const deals = history.filter((r) => r.type === 'deal');
    expect(deals.length).toBeGreaterThanOrEqual(1);
    expect(deals[0]).toMatchObject({ symbol: 'EURUSD', side: 'buy', entry: 'in', volumeLots: 1.5 });
    for (const d of deals) expect(Number.isInteger(d.type === 'deal' ? d.profit : 0)).toBe(true);
  });

  it('lists open orders, history orders (filled, canceled, expired) and finished orders by ticket', async () => {
    const trader = await mt5.openAccount({ group: USD, name: 'Order Trader', leverage: 100, ...passwords });
    await mt5.postBalanceOperation({
      login: trader.login,
      kind: 'balance',
      amount: 1_000_000,
      reference: newReference('deposit'),
    });
    // A market trade is an order filled at once; two limit orders far from the market stay pending.
    await control(sim, 'POST', '/control/dealer/trade', {
      login: trader.login,
      symbol: 'EURUSD',
      side: 'buy',
      lots: 0.5,
    });
    const pending = (await control(sim, 'POST', '/control/dealer/order', {
      login: trader.login,
      symbol: 'EURUSD',
      side: 'buy',
      lots: 0.25,
      price: 0.5,
      comment: 'far below',
    })) as { order: { Order: string } };
    const expiring = (await control(sim, 'POST', '/control/dealer/order', {
      login: trader.login,
      symbol: 'EURUSD',
      side: 'sell',
      lots: 0.1,
      price: 9,
      expiresAfterSteps: 1,
    })) as { order: { Order: string } };
    const open = await mt5.listOpenOrders(trader.login);
    expect(open.map((o) => o.ticket)).toEqual([pending.order.Order, expiring.order.Order]);
    expect(open[0]).toMatchObject({
      type: 'order',
      login: trader.login,
      symbol: 'EURUSD',
      orderType: 'buy_limit',
      side: 'buy',
      state: 'placed',
      volumeLots: 0.25,
      volumeRemainingLots: 0.25,
      price: 0.5,
      doneTime: null,
      comment: 'far below',
    });
    expect((await mt5.listOpenOrders()).map((o) => o.ticket)).toEqual(
      expect.arrayContaining([pending.order.Order, expiring.order.Order]),
    );

    await control(sim, 'POST', '/control/dealer/order/cancel', { order: Number(pending.order.Order) });
    await control(sim, 'POST', '/control/activity/step', { steps: 2 });
    expect((await mt5.listOpenOrders(trader.login)).map((o) => o.ticket)).not.toContain(pending.order.Order);

    const window = { login: trader.login, from: new Date(Date.now() - 3600_000), to: new Date(Date.now() + 3600_000) };
    const withoutOrders = [];
    for await (const r of mt5.listHistory(window)) withoutOrders.push(r);
    expect(withoutOrders.some((r) => r.type === 'order')).toBe(false);
    const history = [];
    for await (const r of mt5.listHistory({ ...window, orders: true })) history.push(r);
    const orders = history.filter((r) => r.type === 'order');
    // Orders only (the sync's orders pass): the same orders, no deal.
    const onlyOrders = [];
    for await (const r of mt5.listHistory({ ...window, orders: 'only' })) onlyOrders.push(r);
    expect(onlyOrders).toEqual(orders);
    const filled = orders.find((o) => o.state === 'filled' && o.orderType === 'buy');
    expect(filled).toMatchObject({ symbol: 'EURUSD', side: 'buy', volumeLots: 0.5, volumeRemainingLots: 0 });
    expect(filled?.doneTime).toBeInstanceOf(Date);
    expect(filled?.positionId).not.toBeNull();
    expect(orders.find((o) => o.ticket === pending.order.Order)).toMatchObject({ state: 'canceled', volumeLots: 0.25 });
    expect(orders.find((o) => o.ticket === expiring.order.Order)).toMatchObject({
      state: 'expired',
      orderType: 'sell_limit',
      side: 'sell',
    });

    // By ticket, wherever their times lie; an unknown ticket is left out.
    const byTicket = await mt5.getOrders([pending.order.Order, expiring.order.Order, '999999999']);
    expect(byTicket.map((o) => [o.ticket, o.state])).toEqual([
      [pending.order.Order, 'canceled'],
      [expiring.order.Order, 'expired'],
    ]);
  });

  it('lists every login the manager may see', async () => {
    const fresh = await mt5.openAccount({ group: USD, name: 'Quiet', leverage: 100, ...passwords });
    const logins = await mt5.listLogins();
    expect(logins).toContain(fresh.login);
    expect(logins).toContain(login);
    expect([...logins].sort((a, b) => a - b)).toEqual(logins);
  });

  it('pages through more than 100 records', async () => {
    const busy = await mt5.openAccount({ group: USD, name: 'Busy', leverage: 100, ...passwords });
    for (let i = 0; i < 130; i++) {
      await mt5.postBalanceOperation({
        login: busy.login,
        kind: 'balance',
        amount: 100 + i,
        reference: newReference('deposit'),
      });
    }
    let count = 0;
    for await (const _ of mt5.listHistory({
      login: busy.login,
      from: new Date(Date.now() - 3600_000),
      to: new Date(Date.now() + 3600_000),
    }))
      count++;
    expect(count).toBe(130);
  });

  it("lists every account's history several accounts at once: each record once, as listing them one by one does", async () => {
    const window = { from: new Date(Date.now() - 86_400_000), to: new Date(Date.now() + 86_400_000) };
    for (let i = 0; i < 6; i++) {
      const extra = await mt5.openAccount({ group: USD, name: `Many ${i}`, leverage: 100, ...passwords });
      for (let k = 0; k <= i; k++) {
        await mt5.postBalanceOperation({
          login: extra.login,
          kind: 'balance',
          amount: 1000 + k,
          reference: newReference('deposit'),
        });
      }
    }
    const key = (r: { type: string; login: number; ticket: string }) => `${r.type}:${r.login}:${r.ticket}`;
    const all: string[] = [];
    for await (const r of mt5.listHistory(window)) all.push(key(r));
    const logins = [...new Set(all.map((k) => Number(k.split(':')[1])))];
    expect(logins.length).toBeGreaterThanOrEqual(6);
    const oneByOne: string[] = [];
    for (const l of logins) for await (const r of mt5.listHistory({ ...window, login: l })) oneByOne.push(key(r));
    expect(new Set(all).size).toBe(all.length);
    expect([...all].sort()).toEqual([...oneByOne].sort());
    // Page by page: the same records, no empty page, none over 100.
    const paged: string[] = [];
    for await (const page of mt5.listHistoryPages(window)) {
      expect(page.length).toBeGreaterThan(0);
      expect(page.length).toBeLessThanOrEqual(100);
      paged.push(...page.map(key));
    }
    expect([...paged].sort()).toEqual([...all].sort());

    // A page that fails fails the whole listing (a sync pass then keeps its cursor and starts again).
    await control(sim, 'POST', '/control/faults', { endpoint: '/api/deal/get_page', kind: 'refuse', count: 1 });
    const listing = (async () => {
      for await (const _ of mt5.listHistory(window)) {
        // consume
      }
    })();
    await expect(listing).rejects.toBeInstanceOf(NotSentError);
  });

  it('lists and reads groups, and finds an account by the reference in its comment', async () => {
    const groups = await mt5.listGroups();
    expect(groups.map((g) => g.name)).toContain(USD);
    expect(await mt5.getGroup('real\\standard-jpy')).toMatchObject({ currency: 'JPY', currencyDigits: 0 });
    const reference = newReference('open_account');
    const opened = await mt5.openAccount({
      group: USD,
      name: 'By Ref',
      leverage: 100,
      comment: reference,
      ...passwords,
    });
    expect((await mt5.findAccountByReference(USD, reference))?.login).toBe(opened.login);
    expect(await mt5.findAccountByReference(USD, newReference('open_account'))).toBeNull();
  });

  it('reads the server clock in the configured zone', async () => {
    const clock = await mt5.serverTime();
    expect(Math.abs(clock.now.getTime() - Date.now())).toBeLessThan(5_000);
    expect(clock.observedOffsetMinutes).toBe(clock.offsetMinutes);
    expect(await mt5.ping()).toBeGreaterThanOrEqual(0);
  });

  describe('faults', () => {
    it('apply-then-drop is ambiguous, and the reference then finds the applied operation', async () => {
      await control(sim, 'POST', '/control/faults', { endpoint: '/api/trade/balance', kind: 'drop_reply', count: 1 });
      const reference = newReference('deposit');
      const before = (await mt5.getAccount(login)).balance;
      await expect(mt5.postBalanceOperation({ login, kind: 'balance', amount: 777, reference })).rejects.toBeInstanceOf(
        AmbiguousError,
      );
      expect(await mt5.findBalanceOperation(login, reference, new Date(Date.now() - 60_000))).toMatchObject({
        amount: 777,
      });
      expect((await mt5.getAccount(login)).balance).toBe(before + 777);
    });

    it('a reset before applying is ambiguous for a write (the client cannot know) and nothing is applied', async () => {
      await control(sim, 'POST', '/control/faults', { endpoint: '/api/trade/balance', kind: 'reset', count: 1 });
      const reference = newReference('deposit');
      await expect(mt5.postBalanceOperation({ login, kind: 'balance', amount: 5, reference })).rejects.toBeInstanceOf(
        AmbiguousError,
      );
      expect(await mt5.findBalanceOperation(login, reference, new Date(Date.now() - 60_000))).toBeNull();
    });

    it('a busy refusal is not sent; a given error code is classified', async () => {
      await control(sim, 'POST', '/control/faults', { endpoint: '/api/trade/balance', kind: 'refuse', count: 1 });
      await expect(
        mt5.postBalanceOperation({ login, kind: 'balance', amount: 5, reference: newReference('deposit') }),
      ).rejects.toBeInstanceOf(NotSentError);
      await control(sim, 'POST', '/control/faults', {
        endpoint: '/api/trade/balance',
        kind: 'error',
        code: 12,
        count: 1,
      });
      await expect(
        mt5.postBalanceOperation({ login, kind: 'balance', amount: 5, reference: newReference('deposit') }),
      ).rejects.toMatchObject({
        errorClass: 'not_sent',
        code: 12,
      });
      await control(sim, 'POST', '/control/faults', {
        endpoint: '/api/trade/balance',
        kind: 'error',
        code: 8,
        count: 1,
      });
      await expect(
        mt5.postBalanceOperation({ login, kind: 'balance', amount: 5, reference: newReference('deposit') }),
      ).rejects.toMatchObject({
        errorClass: 'definitive',
        reason: 'no_rights',
      });
    });

    it('rate limiting answers too frequent (not sent)', async () => {
      await control(sim, 'POST', '/control/faults', { endpoint: '/api/user/get', kind: 'rate_limit', perSecond: 1 });
      const results = await Promise.allSettled([1, 2, 3].map(() => mt5.getAccount(login)));
      const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      expect(refused[0]).toMatchObject({ errorClass: 'not_sent', code: 12 });
    });

    it('a reply slower than the timeout is ambiguous for a write', async () => {
      await control(sim, 'POST', '/control/faults', {
        endpoint: '/api/trade/balance',
        kind: 'latency',
        latencyMs: 2500,
        count: 1,
      });
      const reference = newReference('deposit');
      await expect(mt5.postBalanceOperation({ login, kind: 'balance', amount: 9, reference })).rejects.toBeInstanceOf(
        AmbiguousError,
      );
    });

    it('re-authenticates transparently after the idle drop', async () => {
      await mt5.ping();
      await control(sim, 'POST', '/control/clock', { advanceSeconds: 181 });
      await expect(mt5.getAccount(login)).resolves.toMatchObject({ login });
    });

    it('a restart is not sent while down, then the connector reconnects by itself', async () => {
      await control(sim, 'POST', '/control/restart', { seconds: 1 });
      await expect(mt5.ping()).rejects.toBeInstanceOf(NotSentError);
      await expect
        .poll(
          () =>
            mt5.ping().then(
              () => 'up',
              () => 'down',
            ),
          { timeout: 10_000, interval: 200 },
        )
        .toBe('up');
    });
  });

  describe('circuit breaker', () => {
    it('opens on a dead server, refuses without calling, and closes after a successful probe', async () => {
      const clock = new ManualClock();
      const guarded = new GuardedPlatform(new Mt5Connector(connectorConfig(sim)), clock, {
        failureThreshold: 3,
        openMs: 30_000,
      });
      try {
        await guarded.ping();
        await control(sim, 'POST', '/control/restart', { seconds: 2 });
        for (let i = 0; i < 3; i++) await expect(guarded.ping()).rejects.toBeInstanceOf(NotSentError);
        expect(guarded.health().circuit).toBe('open');
        await expect(guarded.ping()).rejects.toBeInstanceOf(CircuitOpenError);
        await expect
          .poll(
            () =>
              mt5.ping().then(
                () => 'up',
                () => 'down',
              ),
            { timeout: 10_000, interval: 200 },
          )
          .toBe('up');
        await expect(guarded.ping()).rejects.toBeInstanceOf(CircuitOpenError);
        clock.advance(30_000);
        await guarded.ping();
        expect(guarded.health()).toMatchObject({ circuit: 'closed', consecutiveFailures: 0 });
      } finally {
        await guarded.close();
      }
    });
  });
});

describe('MT5 connector trust', () => {
  it('refuses a server that cannot prove it knows the password (forged cli_rand_answer)', async () => {
    const identity = await ensureCertificate(mkdtempSync(join(tmpdir(), 'bd-forged-')));
    const forged = https.createServer({ cert: identity.cert, key: identity.key }, (req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url?.startsWith('/api/auth/start')) {
        res.end(JSON.stringify({ retcode: '0 Done', version_access: '1', srv_rand: 'a'.repeat(32) }));
      } else if (req.url?.startsWith('/api/auth/answer')) {
        res.end(JSON.stringify({ retcode: '0 Done', cli_rand_answer: 'b'.repeat(32), version_trade: '1' }));
      } else {
        res.end(JSON.stringify({ retcode: '0 Done', answer: {} }));
      }
    });
    await new Promise<void>((resolve) => forged.listen(0, '127.0.0.1', resolve));
    const port = (forged.address() as { port: number }).port;
    const connector = new Mt5Connector({
      code: 'forged',
      platform: 'mt5',
      environment: 'live',
      address: `https://127.0.0.1:${port}`,
      managerLogin: 1000,
      password: 'whatever',
      ca: identity.cert,
      timeZone: 'Europe/Nicosia',
      connectTimeoutMs: 1000,
      requestTimeoutMs: 1000,
    });
    try {
      await expect(connector.ping()).rejects.toMatchObject({ errorClass: 'definitive', reason: 'server_identity' });
    } finally {
      await connector.close();
      forged.close();
    }
  });

  it('refuses a server whose certificate it does not trust, without sending anything', async () => {
    const sim = await startMt5({ name: 'mt5-untrusted' });
    const other = await ensureCertificate(mkdtempSync(join(tmpdir(), 'bd-other-ca-')));
    const connector = new Mt5Connector(connectorConfig(sim, { ca: other.cert }));
    try {
      await expect(connector.ping()).rejects.toMatchObject({
        errorClass: 'not_sent',
        serverText: expect.stringContaining('not trusted'),
      });
    } finally {
      await connector.close();
      await sim.close();
    }
  });

  it('reports a wrong manager password as an authentication failure (nothing sent)', async () => {
    const sim = await startMt5({ name: 'mt5-auth' });
    const connector = new Mt5Connector(connectorConfig(sim, { password: 'Wrong!pass1' }));
    try {
      await expect(connector.ping()).rejects.toMatchObject({ errorClass: 'not_sent', code: 1001 });
    } finally {
      await connector.close();
      await sim.close();
    }
  });
});
