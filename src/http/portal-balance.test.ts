import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FundingTestbed, fundingTestbed } from '../../test/support/funding-testbed.ts';
import { control } from '../../test/support/simulators.ts';

describe('GET /api/portal/accounts/:id/balance', () => {
  let t: FundingTestbed;
  beforeAll(async () => {
    t = await fundingTestbed();
  });
  afterAll(async () => {
    await t?.close();
  });

  const balance = (cookie: string, accountId: string) =>
    t.app.inject({ url: `/api/portal/accounts/${accountId}/balance`, headers: { cookie } });

  it("answers the server's own figures in minor units, for the client's own open accounts only", async () => {
    const c = await t.fundedClient();
    const before = await balance(c.cookie, c.accountId);
    expect(before.statusCode, before.body).toBe(200);
    expect(before.headers['cache-control']).toBe('no-store');
    const start = before.json() as { balanceMinor: number };
    const { movementId } = await t.deposit(c.cookie, c.accountId, 12_345);
    await t.until(movementId, ['posted']);

    const after = await balance(c.cookie, c.accountId);
    expect(after.json()).toMatchObject({
      currency: 'USD',
      balanceMinor: start.balanceMinor + 12_345,
      creditMinor: 0,
      equityMinor: start.balanceMinor + 12_345,
      freeMarginMinor: start.balanceMinor + 12_345,
    });
    const server = Number((await t.simAccount(t.live, c.login)).account.Balance);
    expect(Math.round(server * 100)).toBe(after.json().balanceMinor);

    // Someone else's account is not there at all; no session is refused.
    const other = await t.fundedClient();
    expect((await balance(other.cookie, c.accountId)).statusCode).toBe(404);
    expect((await t.app.inject({ url: `/api/portal/accounts/${c.accountId}/balance` })).statusCode).toBe(401);
  });

  it('says so when the account is not open yet, or the server cannot answer', async () => {
    const clientId = await t.addClient({ kycStatus: 'approved' });
    const productId = await t.product();
    const { account } = await t.accounts.request(clientId, { productId });
    const cookie = await t.clientCookie(clientId);
    const early = await balance(cookie, account.id);
    expect(early.statusCode).toBe(409);
    expect(early.json()).toMatchObject({ code: 'ACCOUNT_NOT_OPEN' });

    await t.engine.drain();
    await control(t.live, 'POST', '/control/faults', { endpoint: '/api/user/*', kind: 'error', code: 1018, count: 5 });
    try {
      const down = await balance(cookie, account.id);
      expect(down.statusCode, down.body).toBe(503);
      expect(down.json()).toMatchObject({ code: 'SERVER_UNAVAILABLE' });
      expect(down.json().message).toContain('cannot be reached right now');
    } finally {
      await control(t.live, 'DELETE', '/control/faults');
    }
  });
});
