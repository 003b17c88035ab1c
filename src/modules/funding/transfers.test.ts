import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FundingTestbed, fundingTestbed } from '../../../test/support/funding-testbed.ts';
import { expectLedgerBalanced } from '../../../test/support/ledger.ts';
import { control } from '../../../test/support/simulators.ts';
import { clientVisibleBalance } from '../ledger/service.ts';

describe('transfers between a client’s own accounts, credits and adjustments', () => {
  let t: FundingTestbed;
  let finance: string;
  let approver: string;
  const staffA = randomUUID();
  const staffB = randomUUID();
  beforeAll(async () => {
    t = await fundingTestbed({ mt4: true });
    finance = await t.staffCookie(['finance']);
    approver = await t.staffCookie(['finance']);
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(async () => {
    await expectLedgerBalanced(t.database.db);
    await control(t.mt4!, 'DELETE', '/control/faults');
  });

  const mt5Account = async (login: number) => (await t.simAccount(t.live, login)).account as Record<string, string>;
  const minor = (value: string | number | undefined) => Math.round(Number(value) * 100);
  const mt4Balance = async (login: number) => {
    const user = (await control(t.mt4!, 'GET', `/control/users/${login}`)) as { balance: number };
    return minor(user.balance);
  };
  const ledger = (
    accountId: string,
    currency = 'USD',
    type: 'trading_account' | 'trading_credit' = 'trading_account',
  ) => clientVisibleBalance(t.database.db, { type, ownerId: accountId, currency });
  const transfer = (cookie: string, body: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: '/api/portal/transfers', headers: { cookie }, payload: body });
  const funded = async (amountMinor: number) => {
    const c = await t.fundedClient();
    const { movementId } = await t.deposit(c.cookie, c.accountId, amountMinor);
    await t.until(movementId, ['posted']);
    return c;
  };

  it('moves money from MT5 to MT4 in two legs; both servers and the ledger agree', async () => {
    const c = await funded(100_000);
    const target = await t.openAccount(c.clientId, { server: 'mt4-live' });
    const r = await transfer(c.cookie, {
      fromAccountId: c.accountId,
      toAccountId: target.accountId,
      amountMinor: 30_000,
    });
    expect(r.statusCode, r.body).toBe(201);
    const done = await t.until(r.json().movement.id, ['posted']);
    expect(done.counterAmountMinor).toBe(30_000);
    expect(minor((await mt5Account(c.login)).Balance)).toBe(70_000);
    expect(await mt4Balance(target.login)).toBe(30_000);
    expect(await ledger(c.accountId)).toBe(70_000);
    expect(await ledger(target.accountId)).toBe(30_000);
  });

  it('converts across currencies at the rate finance set, and records it', async () => {
    const c = await funded(100_000);
    const eur = await t.openAccount(c.clientId, { group: 'real\\pro-eur', currency: 'EUR' });
    const missing = await transfer(c.cookie, {
      fromAccountId: c.accountId,
      toAccountId: eur.accountId,
      amountMinor: 10_000,
    });
    expect(missing.statusCode).toBe(422);
    expect(missing.json().code).toBe('FX_RATE_MISSING');
    const rate = await t.app.inject({
      method: 'PUT',
      url: '/api/backoffice/fx-rates',
      headers: { cookie: finance },
      payload: { base: 'USD', quote: 'EUR', rate: '0.9213' },
    });
    expect(rate.statusCode, rate.body).toBe(200);
    const r = await transfer(c.cookie, { fromAccountId: c.accountId, toAccountId: eur.accountId, amountMinor: 10_000 });
    expect(r.statusCode, r.body).toBe(201);
    const done = await t.until(r.json().movement.id, ['posted']);
    expect(done).toMatchObject({ fxRate: '0.9213', counterAmountMinor: 9_213, counterCurrency: 'EUR' });
    expect(minor((await mt5Account(eur.login)).Balance)).toBe(9_213);
    expect(await ledger(eur.accountId, 'EUR')).toBe(9_213);
    expect(await ledger(c.accountId)).toBe(90_000);
  });

  it('compensates the first leg when the second fails, and tells the client', async () => {
    const c = await funded(50_000);
    const target = await t.openAccount(c.clientId, { server: 'mt4-live' });
    await control(t.mt4!, 'POST', '/control/faults', {
      endpoint: '/v1/TradeTransaction',
      kind: 'error',
      code: 3,
      count: 1,
    });
    const r = await transfer(c.cookie, {
      fromAccountId: c.accountId,
      toAccountId: target.accountId,
      amountMinor: 20_000,
    });
    expect(r.statusCode, r.body).toBe(201);
    const failed = await t.until(r.json().movement.id, ['failed']);
    expect(failed.failureReason).toContain('returned');
    expect(minor((await mt5Account(c.login)).Balance)).toBe(50_000);
    expect(await mt4Balance(target.login)).toBe(0);
    expect(await ledger(c.accountId)).toBe(50_000);
    expect(await ledger(target.accountId)).toBe(0);
    const view = await t.app.inject({ url: `/api/portal/movements/${failed.id}`, headers: { cookie: c.cookie } });
    const types = view.json().entries.map((e: { type: string }) => e.type);
    expect(types).toEqual(
      expect.arrayContaining(['transfer.out_posted', 'transfer.in_failed', 'transfer.compensated']),
    );
  });

  it('refuses a transfer beyond free margin, to the same account, or to another client’s account', async () => {
    const c = await funded(10_000);
    const other = await t.fundedClient();
    const mine = await t.openAccount(c.clientId);
    expect(
      (
        await transfer(c.cookie, { fromAccountId: c.accountId, toAccountId: mine.accountId, amountMinor: 10_001 })
      ).json().code,
    ).toBe('INSUFFICIENT_FREE_MARGIN');
    expect(
      (await transfer(c.cookie, { fromAccountId: c.accountId, toAccountId: c.accountId, amountMinor: 100 })).json()
        .code,
    ).toBe('SAME_ACCOUNT');
    const foreign = await transfer(c.cookie, {
      fromAccountId: c.accountId,
      toAccountId: other.accountId,
      amountMinor: 100,
    });
    expect(foreign.statusCode).toBe(404);
  });

  it('posts a bonus credit only after a second staff member approves it, and takes it out the same way', async () => {
    const c = await t.fundedClient();
    const request = await t.app.inject({
      method: 'POST',
      url: '/api/backoffice/credits',
      headers: { cookie: finance },
      payload: { accountId: c.accountId, amountMinor: 5_000, direction: 'in', reason: 'welcome bonus' },
    });
    expect(request.statusCode, request.body).toBe(201);
    const id = request.json().movement.id;
    const self = await t.app.inject({
      method: 'POST',
      url: `/api/backoffice/movements/${id}/decision`,
      headers: { cookie: finance },
      payload: { decision: 'approve' },
    });
    expect(self.statusCode).toBe(403);
    expect(self.json().code).toBe('SELF_APPROVAL');
    const ok = await t.app.inject({
      method: 'POST',
      url: `/api/backoffice/movements/${id}/decision`,
      headers: { cookie: approver },
      payload: { decision: 'approve' },
    });
    expect(ok.statusCode, ok.body).toBe(200);
    await t.until(id, ['posted']);
    expect(minor((await mt5Account(c.login)).Credit!)).toBe(5_000);
    expect(minor((await mt5Account(c.login)).Balance)).toBe(0);
    expect(await ledger(c.accountId, 'USD', 'trading_credit')).toBe(5_000);

    const out = await t.ctx.funding.requestStaffMovement('credit', staffA, {
      accountId: c.accountId,
      amountMinor: 2_000,
      direction: 'out',
      reason: 'bonus conditions not met',
    });
    await t.ctx.funding.decide(out.id, staffB, { decision: 'approve' });
    await t.until(out.id, ['posted']);
    expect(minor((await mt5Account(c.login)).Credit!)).toBe(3_000);
    expect(await ledger(c.accountId, 'USD', 'trading_credit')).toBe(3_000);
  });

  it('posts a manual adjustment with its reason after approval; a rejection moves nothing', async () => {
    const c = await funded(10_000);
    const adj = await t.ctx.funding.requestStaffMovement('adjustment', staffA, {
      accountId: c.accountId,
      amountMinor: 1_250,
      direction: 'in',
      reason: 'slippage compensation, ticket 4411',
    });
    await t.ctx.funding.decide(adj.id, staffB, { decision: 'approve' });
    const posted = await t.until(adj.id, ['posted']);
    expect(posted.ticket).toBeTruthy();
    expect(minor((await mt5Account(c.login)).Balance)).toBe(11_250);
    expect(await ledger(c.accountId)).toBe(11_250);

    const rejected = await t.ctx.funding.requestStaffMovement('adjustment', staffA, {
      accountId: c.accountId,
      amountMinor: 500,
      direction: 'out',
      reason: 'fee',
    });
    await expect(t.ctx.funding.decide(rejected.id, staffB, { decision: 'reject' })).rejects.toThrow(/why/);
    const after = await t.ctx.funding.decide(rejected.id, staffB, { decision: 'reject', comment: 'no fee applies' });
    expect(after.status).toBe('rejected');
    expect(minor((await mt5Account(c.login)).Balance)).toBe(11_250);
  });
});
