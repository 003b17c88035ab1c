/**
 * Introducing brokers end to end over the HTTP API, against the MT5 and MT4 simulators: a three-level IB tree set up
 * in the back office; the sub-IB's own logins become the agent of referred clients' new accounts on both platforms;
 * trades made on the simulators (a position closed in two parts on MT5, a closed trade of the suffixed XAUUSD.m on
 * MT4) are synced and commissioned; recomputation equals the stored lines; the partner sees statement, chart, lines
 * and balance; a payout to the partner's MT5 account runs through the operations engine after a finance approval
 * (the requester cannot approve), and a wallet payout is recorded.
 */
import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clients, ibPayouts } from '../../src/db/schema.ts';
import { clientVisibleBalance } from '../../src/modules/ledger/service.ts';
import { LIVE, MT4_LIVE } from '../support/accounts-testbed.ts';
import { type FundingTestbed, fundingTestbed } from '../support/funding-testbed.ts';
import { expectLedgerBalanced } from '../support/ledger.ts';
import { control } from '../support/simulators.ts';

const FROM = '2020-01-01T00:00:00Z';

describe('introducing brokers over the API, against MT5 and MT4', () => {
  let t: FundingTestbed;
  let pm: string;
  let finance: string;
  let admin: string;
  const partner = { master: '', sub: '', subsub: '', subsubPassword: '', subsubEmail: '' };
  let partnerCookie = '';
  const ib = { accountId: '', login: 0, serverLoginId: '' };
  const client = { id: '', mt5: { accountId: '', login: 0 }, mt4: { accountId: '', login: 0 } };

  const api = async (method: string, url: string, cookie: string, payload?: unknown) => {
    const res = await t.app.inject({
      method: method as 'GET',
      url,
      headers: { cookie },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    return { status: res.statusCode, body: res.json() as Record<string, unknown> & { code?: string } };
  };
  const ok = async (method: string, url: string, cookie: string, payload?: unknown) => {
    const res = await api(method, url, cookie, payload);
    expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
    // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many routes, read field by field by the assertions
    return res.body as Record<string, any>;
  };
  const owed = (partnerId: string) =>
    clientVisibleBalance(t.database.db, { type: 'ib_payable', ownerId: partnerId, currency: 'USD' });

  async function fund(accountId: string) {
    const adjustment = await t.ctx.funding.requestStaffMovement('adjustment', randomUUID(), {
      accountId,
      amountMinor: 1_000_000,
      direction: 'in',
      reason: 'test funds',
    });
    await t.ctx.funding.decide(adjustment.id, randomUUID(), { decision: 'approve' });
    await t.engine.drain();
  }

  beforeAll(async () => {
    t = await fundingTestbed({ mt4: true });
    pm = await t.staffCookie(['partner_manager']);
    finance = await t.staffCookie(['finance']);
    admin = await t.staffCookie(['admin']);

    const create = async (name: string, parentId?: string) =>
      ok('POST', '/api/backoffice/partners', pm, {
        email: `${name}-${randomUUID().slice(0, 8)}@ib.example`,
        name,
        ...(parentId ? { parentId } : {}),
      });
    partner.master = (await create('master')).partner.id;
    partner.sub = (await create('sub', partner.master)).partner.id;
    const subsub = await create('subsub', partner.sub);
    partner.subsub = subsub.partner.id;
    partner.subsubPassword = subsub.initialPassword;
    partner.subsubEmail = subsub.partner.email;

    const plan = async (code: string, rules: unknown) =>
      (await ok('POST', '/api/backoffice/commission-plans', pm, {
        code,
        name: code,
        currency: 'USD',
        effectiveFrom: FROM,
        rules,
      })) as { plan: { id: string } };
    const ibPlan = await plan('ib-api', {
      symbolGroups: { fx_majors: ['EURUSD', 'GBPUSD'], metals: ['XAUUSD'] },
      perLot: [{ fromLots: '0', rates: { fx_majors: '5', metals: '10' } }],
    });
    const subPlan = await plan('sub-api', { overrides: [{ level: 1, perLot: { other: '1' } }] });
    const masterPlan = await plan('master-api', { overrides: [{ level: 2, percentOfDirect: '10' }] });
    for (const [p, id] of [
      [partner.subsub, ibPlan.plan.id],
      [partner.sub, subPlan.plan.id],
      [partner.master, masterPlan.plan.id],
    ] as const) {
      await ok('POST', `/api/backoffice/partners/${p}/plan-assignments`, pm, {
        planId: id,
        effectiveFrom: FROM,
        reason: 'onboarding',
      });
    }

    // The sub-sub-IB's own MT5 account (the IB is also a client of the broker), and a bare MT4 agent login.
    const ibClient = await t.addClient({ kycStatus: 'approved' });
    Object.assign(ib, await t.openAccount(ibClient));
    ib.serverLoginId = (
      await ok('POST', `/api/backoffice/partners/${partner.subsub}/server-logins`, pm, {
        serverCode: LIVE,
        tradingAccountId: ib.accountId,
      })
    ).serverLogin.id;
    await ok('POST', `/api/backoffice/partners/${partner.subsub}/server-logins`, pm, {
      serverCode: MT4_LIVE,
      login: 777,
    });

    const login = await t.app.inject({
      method: 'POST',
      url: '/api/partner/auth/login',
      payload: { email: partner.subsubEmail, password: partner.subsubPassword },
    });
    partnerCookie = `bd_partner=${login.cookies.find((c) => c.name === 'bd_partner')!.value}`;
  });
  afterAll(async () => {
    await t?.close();
  });

  it("sets the partner's login as the agent of a referred client's new accounts on MT5 and MT4", async () => {
    client.id = await t.addClient({ kycStatus: 'approved' });
    await t.database.db.update(clients).set({ partnerId: partner.subsub }).where(eq(clients.id, client.id));
    client.mt5 = await t.openAccount(client.id);
    client.mt4 = await t.openAccount(client.id, { server: MT4_LIVE });
    const onMt5 = (await control(t.live, 'GET', `/control/accounts/${client.mt5.login}`)) as {
      user: { Agent: string };
    };
    expect(onMt5.user.Agent).toBe(String(ib.login));
    const onMt4 = (await control(t.mt4!, 'GET', `/control/users/${client.mt4.login}`)) as { agent_account: number };
    expect(onMt4.agent_account).toBe(777);
    // A client nobody referred has no agent.
    const { login: plain } = await t.openAccount(await t.addClient({ kycStatus: 'approved' }));
    expect(
      ((await control(t.live, 'GET', `/control/accounts/${plain}`)) as { user: { Agent: string } }).user.Agent,
    ).toBe('0');
  });

  it('commissions trades made on the simulators and synced; recomputation equals the stored lines', async () => {
    await fund(client.mt5.accountId);
    await fund(client.mt4.accountId);
    const opened = (await control(t.live, 'POST', '/control/dealer/trade', {
      login: client.mt5.login,
      symbol: 'EURUSD',
      side: 'buy',
      lots: 1,
    })) as { deals: { PositionID: string }[] };
    const positionId = Number(opened.deals[0]!.PositionID);
    for (const lots of [0.4, 0.6]) {
      await control(t.live, 'POST', '/control/dealer/trade', {
        login: client.mt5.login,
        symbol: 'EURUSD',
        side: 'sell',
        lots,
        positionId,
      });
    }
    const { trade } = (await control(t.mt4!, 'POST', '/control/dealer/trades/open', {
      login: client.mt4.login,
      symbol: 'XAUUSD.m',
      cmd: 0,
      volume: 20,
    })) as { trade: { order: number } };
    await control(t.mt4!, 'POST', '/control/dealer/trades/close', { order: trade.order });
    for (const result of await t.ctx.trades.syncAll()) expect(result.status, result.error).toBe('ok');

    const { result } = await ok('POST', '/api/backoffice/commissions/calculate', pm);
    // Level 0 on three closing records, the sub-IB's override on each, the master's on each.
    expect(result).toMatchObject({ lines: 9, reversals: 0 });
    // 0.4 + 0.6 lots of EURUSD at 5.00, 0.2 lots of XAUUSD.m (base XAUUSD, metals) at 10.00.
    expect(await owed(partner.subsub)).toBe(200 + 300 + 200);
    expect(await owed(partner.sub)).toBe(40 + 60 + 20);
    expect(await owed(partner.master)).toBe(20 + 30 + 20);
    expect((await ok('POST', '/api/backoffice/commissions/calculate', pm)).result.lines).toBe(0);

    const now = Date.now();
    const period = `from=${encodeURIComponent(new Date(now - 30 * 86_400_000).toISOString())}&to=${encodeURIComponent(new Date(now + 86_400_000).toISOString())}`;
    for (const p of [partner.subsub, partner.sub, partner.master]) {
      const { recomputation } = await ok(
        'GET',
        `/api/backoffice/partners/${p}/commission-recompute?${period}`,
        finance,
      );
      expect(recomputation.differences).toEqual([]);
      expect(recomputation.equal).toBe(true);
    }
    await expectLedgerBalanced(t.database);
  });

  it('shows the partner their statement, chart, lines and balance, and nothing of anyone else', async () => {
    const now = new Date();
    const from = new Date(now.getTime() - 30 * 86_400_000).toISOString();
    const to = new Date(now.getTime() + 86_400_000).toISOString();
    const q = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
    const { statement } = await ok('GET', `/api/partner/commissions/statement?${q}`, partnerCookie);
    expect(statement.volumeLots.direct).toBeCloseTo(1.2, 10);
    expect(statement.totals).toEqual([{ currency: 'USD', amountMinor: 700, lines: 3, reversals: 0 }]);
    expect(statement.bySymbolGroup.map((g: { symbolGroup: string }) => g.symbolGroup).sort()).toEqual([
      'fx_majors',
      'metals',
    ]);
    const chart = await ok('GET', `/api/partner/commissions/chart?${q}&bucket=month`, partnerCookie);
    expect(chart.buckets.reduce((n: number, b: { amountMinor: number }) => n + b.amountMinor, 0)).toBe(700);
    const page1 = await ok('GET', `/api/partner/commissions/lines?${q}&limit=2`, partnerCookie);
    expect(page1.total).toBe(3);
    expect(page1.items).toHaveLength(2);
    expect(page1.next).toBe(2);
    const page2 = await ok('GET', `/api/partner/commissions/lines?${q}&limit=2&offset=2`, partnerCookie);
    const all = [...page1.items, ...page2.items];
    expect(all.find((l: { symbol: string }) => l.symbol === 'XAUUSD.m')).toMatchObject({
      baseSymbol: 'XAUUSD',
      symbolGroup: 'metals',
      volumeLots: 0.2,
      amountMinor: 200,
      planVersion: 1,
    });
    const { balances } = await ok('GET', '/api/partner/commissions/balance', partnerCookie);
    expect(balances).toEqual([{ currency: 'USD', balanceMinor: 700, availableMinor: 700 }]);

    // Bad input is refused with a code; the partner area needs a session.
    expect(
      (
        await api(
          'GET',
          `/api/partner/commissions/statement?from=${encodeURIComponent(to)}&to=${encodeURIComponent(from)}`,
          partnerCookie,
        )
      ).body.code,
    ).toBe('PERIOD_INVALID');
    expect((await api('GET', '/api/partner/commissions/lines?from=yesterday&to=today', partnerCookie)).body.code).toBe(
      'VALIDATION_FAILED',
    );
    expect((await api('GET', `/api/partner/commissions/statement?${q}`, '')).status).toBe(401);
  });

  it('pays out to the partner’s MT5 account after a finance approval; the requester cannot approve', async () => {
    const { items: logins } = await ok('GET', '/api/partner/server-logins', partnerCookie);
    expect(logins).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ serverCode: LIVE, login: ib.login, payoutsPossible: true }),
        expect.objectContaining({ serverCode: MT4_LIVE, login: 777, payoutsPossible: false }),
      ]),
    );
    const tooMuch = await api('POST', '/api/partner/payouts', partnerCookie, {
      amountMinor: 701,
      currency: 'USD',
      destination: { type: 'trading_account', serverLoginId: ib.serverLoginId },
    });
    expect(tooMuch).toMatchObject({ status: 422, body: { code: 'INSUFFICIENT_COMMISSION_BALANCE' } });
    const { payout } = await ok('POST', '/api/partner/payouts', partnerCookie, {
      amountMinor: 450,
      currency: 'USD',
      destination: { type: 'trading_account', serverLoginId: ib.serverLoginId },
    });
    expect(payout.status).toBe('requested');
    // What is asked for is set aside: only 250 more can be asked for.
    const second = await api('POST', '/api/partner/payouts', partnerCookie, {
      amountMinor: 251,
      currency: 'USD',
      destination: { type: 'wallet', method: 'bank_transfer', account: 'CY17002001280000001200527600' },
    });
    expect(second.body.code).toBe('INSUFFICIENT_COMMISSION_BALANCE');

    // A partner manager cannot approve payouts at all; finance can.
    expect(
      (await api('POST', `/api/backoffice/ib-payouts/${payout.id}/decision`, pm, { decision: 'approve' })).status,
    ).toBe(403);
    const queue = await ok('GET', '/api/backoffice/ib-payouts?status=requested', finance);
    expect(queue.items.map((p: { id: string }) => p.id)).toContain(payout.id);
    const before = Number(((await t.simAccount(t.live, ib.login)) as { account: { Balance: string } }).account.Balance);
    const approved = await ok('POST', `/api/backoffice/ib-payouts/${payout.id}/decision`, finance, {
      decision: 'approve',
    });
    expect(approved.payout.status).toBe('approved');
    await t.engine.drain();
    const [row] = await t.database.db.select().from(ibPayouts).where(eq(ibPayouts.id, payout.id));
    expect(row).toMatchObject({ status: 'paid', login: ib.login });
    expect(row!.ticket).toBeTruthy();
    const after = Number(((await t.simAccount(t.live, ib.login)) as { account: { Balance: string } }).account.Balance);
    expect(Math.round((after - before) * 100)).toBe(450);
    // The ledger follows: owed 700 − 450, and the trading account's ledger balance is the server's.
    expect(await owed(partner.subsub)).toBe(250);
    expect(
      await clientVisibleBalance(t.database.db, { type: 'trading_account', ownerId: ib.accountId, currency: 'USD' }),
    ).toBe(Math.round(after * 100));
    const [op] = (
      (await t.database.db.execute(
        sql`select reference, status from operations where id = ${row!.operationId}`,
      )) as unknown as { rows: { reference: string; status: string }[] }
    ).rows;
    expect(op).toMatchObject({ status: 'succeeded', reference: expect.stringMatching(/^BD-IBP-/) });

    // On the partner's behalf: the staff member who asked cannot approve it; another can reject it.
    const onBehalf = await ok('POST', `/api/backoffice/partners/${partner.subsub}/payouts`, admin, {
      amountMinor: 100,
      currency: 'USD',
      destination: { type: 'wallet', method: 'bank_transfer', account: 'CY17002001280000001200527600' },
    });
    const self = await api('POST', `/api/backoffice/ib-payouts/${onBehalf.payout.id}/decision`, admin, {
      decision: 'approve',
    });
    expect(self).toMatchObject({ status: 403, body: { code: 'SELF_APPROVAL' } });
    const noReason = await api('POST', `/api/backoffice/ib-payouts/${onBehalf.payout.id}/decision`, finance, {
      decision: 'reject',
    });
    expect(noReason.body.code).toBe('VALIDATION_FAILED');
    const rejected = await ok('POST', `/api/backoffice/ib-payouts/${onBehalf.payout.id}/decision`, finance, {
      decision: 'reject',
      comment: 'asked twice',
    });
    expect(rejected.payout.status).toBe('rejected');

    // A wallet payout is recorded: owed → payouts pending for the external transfer.
    const wallet = await ok('POST', '/api/partner/payouts', partnerCookie, {
      amountMinor: 200,
      currency: 'USD',
      destination: { type: 'wallet', method: 'crypto', account: 'bc1qexampleaddress' },
    });
    const paid = await ok('POST', `/api/backoffice/ib-payouts/${wallet.payout.id}/decision`, finance, {
      decision: 'approve',
    });
    expect(paid.payout.status).toBe('paid');
    expect(await owed(partner.subsub)).toBe(50);
    expect(
      await clientVisibleBalance(t.database.db, { type: 'payouts_pending', ownerId: 'ib-wallet', currency: 'USD' }),
    ).toBe(200);
    const mine = await ok('GET', '/api/partner/payouts', partnerCookie);
    expect(mine.items.map((p: { status: string }) => p.status).sort()).toEqual(['paid', 'paid', 'rejected']);
    await expectLedgerBalanced(t.database);
  });

  it('refuses what the back office may not do, with codes', async () => {
    const bad = await api('POST', '/api/backoffice/commission-plans', pm, {
      code: 'Bad Code',
      name: 'x',
      currency: 'usd',
      rules: { perLot: [{ fromLots: '0', rates: { nope: '1' } }] },
    });
    expect(bad).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    const dup = await api('POST', '/api/backoffice/commission-plans', pm, {
      code: 'ib-api',
      name: 'again',
      currency: 'USD',
      rules: {},
    });
    expect(dup).toMatchObject({ status: 409, body: { code: 'PLAN_EXISTS' } });
    expect((await api('GET', `/api/backoffice/commission-plans/${randomUUID()}`, pm)).body.code).toBe('PLAN_NOT_FOUND');
    const again = await api('POST', `/api/backoffice/partners/${partner.subsub}/server-logins`, pm, {
      serverCode: LIVE,
      login: 123456,
    });
    expect(again).toMatchObject({ status: 409, body: { code: 'SERVER_LOGIN_EXISTS' } });
    const retro = await api('POST', `/api/backoffice/partners/${partner.subsub}/plan-assignments`, pm, {
      planId: null,
      effectiveFrom: FROM,
      reason: 'stop paying',
    });
    expect(retro).toMatchObject({ status: 409, body: { code: 'ASSIGNMENT_RETROACTIVE' } });
    // Support may not read commissions; finance may not manage plans.
    const support = await t.staffCookie(['support']);
    expect((await api('GET', '/api/backoffice/commission-plans', support)).status).toBe(403);
    expect((await api('POST', '/api/backoffice/commissions/calculate', finance)).status).toBe(403);
    // Another partner's payout is not found for this partner.
    const other = await t.database.db.select().from(ibPayouts).limit(1);
    const foreign = await api('POST', `/api/partner/payouts/${randomUUID()}/cancel`, partnerCookie);
    expect(foreign).toMatchObject({ status: 404, body: { code: 'PAYOUT_NOT_FOUND' } });
    expect(other.length).toBeGreaterThan(0);
  });
});
