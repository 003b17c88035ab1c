/** The dealer console: manual changes on the server that a CRM must notice through the Web API. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { field, type Mt5TestClient } from './test-client.ts';
import { allDeals, deposit, openAccount, startTestSim, type TestSim } from './test-support.ts';

let t: TestSim;
let c: Mt5TestClient;
const USD = 'real\\standard-usd';

beforeAll(async () => {
  t = await startTestSim();
  c = await t.authed();
});
afterAll(async () => {
  await t?.close();
});

async function user(login: number): Promise<Record<string, string>> {
  return (await c.get('/api/user/get', { login })).answer as Record<string, string>;
}

describe('dealer balance operations', () => {
  it('posts a correction with the dealer’s own comment, visible in the Web API history', async () => {
    const login = await openAccount(c, USD);
    await deposit(c, login, 500, 'ref:CRM1');
    const r = await t.control('POST', '/control/dealer/balance', {
      login,
      amount: -42.5,
      comment: 'fee refund reversal',
    });
    expect(r.status).toBe(200);
    const deals = await allDeals(c, login);
    expect(deals).toHaveLength(2);
    expect(deals[1]).toMatchObject({ Action: '5', Profit: '-42.50', Comment: 'fee refund reversal', Dealer: '10' });
    expect(deals[1]!.Deal).toBe((r.json.deal as Record<string, string>).Deal);
    expect((await user(login)).Balance).toBe('457.50');
  });

  it('takes a named type, or no comment at all', async () => {
    const login = await openAccount(c, USD);
    await t.control('POST', '/control/dealer/balance', { login, amount: 100, type: 'credit' });
    await t.control('POST', '/control/dealer/balance', { login, amount: 20, type: 'bonus' });
    const deals = await allDeals(c, login);
    expect(deals.map((d) => [d.Action, d.Comment])).toEqual([
      ['3', ''],
      ['6', ''],
    ]);
    expect(await user(login)).toMatchObject({ Balance: '20.00', Credit: '100.00' });
  });

  it('answers the server’s refusal with a status and the retcode in the message', async () => {
    const login = await openAccount(c, USD);
    const r = await t.control('POST', '/control/dealer/balance', { login, amount: -1, type: 'balance' });
    expect(r.status).toBe(409);
    expect(String(r.json.error)).toMatch(/^10019 Not enough money/);
    expect((await t.control('POST', '/control/dealer/balance', { login: 4_999_999, amount: 5 })).status).toBe(404);
    expect((await t.control('POST', '/control/dealer/balance', { login, amount: 5, type: 9 })).status).toBe(400);
    expect((await t.control('POST', '/control/dealer/balance', { login, amount: 0 })).status).toBe(400);
    expect((await t.control('POST', '/control/dealer/balance', { login })).status).toBe(400);
  });
});

describe('dealer account changes', () => {
  it('moves an account to another group (here one the CRM manager cannot see)', async () => {
    const login = await openAccount(c, USD);
    await deposit(c, login, 10);
    const r = await t.control('POST', '/control/dealer/move', { login, group: 'real\\vip-usd' });
    expect(r.status).toBe(200);
    expect(r.json.Group).toBe('real\\vip-usd');
    expect((await c.get('/api/user/get', { login })).retcode).toBe(8);
    expect((await c.get('/api/user/logins', { group: 'real\\*' })).answer as string[]).not.toContain(String(login));
  });

  it('is held to the same currency rule as the Web API (3010)', async () => {
    const login = await openAccount(c, USD);
    await deposit(c, login, 10);
    const r = await t.control('POST', '/control/dealer/move', { login, group: 'real\\pro-eur' });
    expect(r.status).toBe(409);
    expect(String(r.json.error)).toMatch(/^3010 /);
    expect((await user(login)).Group).toBe(USD);
    expect((await t.control('POST', '/control/dealer/move', { login, group: 'real\\nope' })).status).toBe(404);
  });

  it('disables and enables trading, the account and read-only mode through the rights bits', async () => {
    const login = await openAccount(c, USD);
    const base = Number((await user(login)).Rights);
    await t.control('POST', '/control/dealer/rights', { login, trading: false });
    expect(Number((await user(login)).Rights)).toBe(base | 0x4);
    await t.control('POST', '/control/dealer/rights', { login, trading: true, enabled: false, readOnly: true });
    const rights = Number((await user(login)).Rights);
    expect(rights & 0x4).toBe(0);
    expect(rights & 0x1).toBe(0);
    expect(rights & 0x200).toBe(0x200);
  });

  it('changes leverage within the group limits only', async () => {
    const login = await openAccount(c, USD);
    expect((await t.control('POST', '/control/dealer/leverage', { login, leverage: 250 })).status).toBe(200);
    expect((await user(login)).Leverage).toBe('250');
    expect((await t.control('POST', '/control/dealer/leverage', { login, leverage: 5000 })).status).toBe(400);
    expect((await user(login)).Leverage).toBe('250');
  });

  it('opens accounts with an initial deposit and shows the whole account state', async () => {
    const r = await t.control('POST', '/control/accounts', {
      group: 'real\\pro-eur',
      name: 'Walk-in',
      leverage: 50,
      deposit: 1234.5,
    });
    expect(r.status).toBe(201);
    const login = Number(r.json.Login);
    await t.control('POST', '/control/dealer/trade', { login, symbol: 'EURUSD', side: 'sell', lots: 0.1 });
    const view = await t.control('GET', `/control/accounts/${login}`);
    expect(view.status).toBe(200);
    expect(field(view.json.user, 'group')).toBe('real\\pro-eur');
    expect(field(view.json.account, 'balance')).not.toBe('1234.50'); // commission charged
    expect((view.json.positions as unknown[]).length).toBe(1);
    expect((await t.control('GET', `/control/accounts/${login}/deals`)).json).toHaveLength(2);
    expect((await t.control('GET', '/control/accounts/4999999')).status).toBe(404);
    expect((await t.control('GET', '/control/accounts/abc')).status).toBe(400);
  });
});

describe('control API guard', () => {
  it('wants its bearer token and a well-formed body', async () => {
    const res = await fetch(`${t.sim.controlUrl}/control/status`);
    expect(res.status).toBe(401);
    const bad = await t.control('POST', '/control/dealer/move', { login: 'x' });
    expect(bad.status).toBe(400);
    expect((await t.control('POST', '/control/dealer/rights', { login: 1, extra: true })).status).toBe(400);
  });
});
