/** Accounts over the Web API: add, update, get, lists, delete, passwords, groups and time. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toServerTime } from '../common/timezone.ts';
import { field, type Mt5TestClient } from './test-client.ts';
import { deposit, openAccount, READONLY_MANAGER, STRONG_PASSWORD, startTestSim, type TestSim } from './test-support.ts';

let t: TestSim;
let c: Mt5TestClient;
const USD = 'real\\standard-usd';
const EUR = 'real\\pro-eur';
const JPY = 'real\\standard-jpy';
const VIP = 'real\\vip-usd';
const passwords = { PassMain: STRONG_PASSWORD, PassInvestor: STRONG_PASSWORD };

beforeAll(async () => {
  t = await startTestSim();
  c = await t.authed();
});
afterAll(async () => {
  await t?.close();
});

describe('/api/user/add', () => {
  it('creates an account in the group with a server-allocated login and answers the user (all strings)', async () => {
    const before = Date.now();
    const reply = await c.post(
      '/api/user/add',
      { group: USD, name: 'Ada Lovelace', leverage: 200, agent: 777 },
      { ...passwords, Email: 'ada@example.com', Country: 'Cyprus', Comment: 'crm:client-1' },
    );
    expect(reply.body.retcode).toBe('0 Done');
    const user = reply.answer as Record<string, string>;
    for (const value of Object.values(user)) expect(typeof value).toBe('string');
    expect(Number(user.Login)).toBeGreaterThanOrEqual(1_000_000);
    expect(Number(user.Login)).toBeLessThanOrEqual(4_999_999);
    expect(user).toMatchObject({
      Group: USD,
      Name: 'Ada Lovelace',
      Email: 'ada@example.com',
      Country: 'Cyprus',
      Comment: 'crm:client-1',
      Leverage: '200',
      Agent: '777',
      Balance: '0.00',
      Credit: '0.00',
    });
    expect(Number(user.Rights) & 0x1).toBe(1);
    expect(Number(user.Rights) & 0x4).toBe(0);
    // Registration is server wall-clock time (Europe/Nicosia), not UTC.
    const registered = Number(user.Registration);
    expect(registered).toBeGreaterThanOrEqual(Math.floor(toServerTime(before, 'Europe/Nicosia') / 1000) - 1);
    expect(registered).toBeLessThanOrEqual(Math.floor(toServerTime(Date.now(), 'Europe/Nicosia') / 1000) + 1);
    expect(user).not.toHaveProperty('PassMain');
  });

  it('allocates increasing logins and never hands out a manager login', async () => {
    const a = await openAccount(c, USD);
    const b = await openAccount(c, EUR);
    expect(b).toBeGreaterThan(a);
    const taken = await c.post(
      '/api/user/add',
      { group: USD, name: 'X', leverage: 100, login: t.sim.manager.login },
      passwords,
    );
    expect(taken.body.retcode).toBe('3004 Account already exists');
  });

  it('takes an explicit login and refuses it twice with 3004', async () => {
    const first = await c.post(
      '/api/user/add',
      { group: USD, name: 'Explicit', leverage: 100, login: 2_500_000 },
      passwords,
    );
    expect(field(first.answer, 'login')).toBe('2500000');
    const again = await c.post(
      '/api/user/add',
      { group: USD, name: 'Explicit', leverage: 100, login: 2_500_000 },
      passwords,
    );
    expect(again.retcode).toBe(3004);
  });

  it('accepts everything in the query string too, keys in any case', async () => {
    const reply = await c.get('/api/user/add', {
      GROUP: USD,
      Name: 'Query Only',
      leverage: 50,
      pass_main: STRONG_PASSWORD,
      PASS_INVESTOR: STRONG_PASSWORD,
    });
    expect(reply.retcode).toBe(0);
    expect(field(reply.answer, 'name')).toBe('Query Only');
  });

  it('lets the body win over the query (MetaQuotes rule)', async () => {
    const reply = await c.post(
      '/api/user/add',
      { group: USD, name: 'From Query', leverage: 100 },
      { ...passwords, Name: 'From Body' },
    );
    expect(field(reply.answer, 'name')).toBe('From Body');
  });

  it.each([
    ['too short', 'Aa1!aaa'],
    ['too long', 'Aa1!aaaaaaaaaaaaa'],
    ['no special character', 'Aa1aaaaaa'],
    ['no digit', 'Aab!aaaaa'],
    ['no upper case', 'aa1!aaaaa'],
    ['missing', ''],
  ])('refuses a weak main password (%s) with 3006', async (_case, weak) => {
    const reply = await c.post(
      '/api/user/add',
      { group: USD, name: 'Weak', leverage: 100 },
      { PassMain: weak, PassInvestor: STRONG_PASSWORD },
    );
    expect(reply.body.retcode).toBe('3006 Invalid account password');
  });

  it('refuses a weak investor password with 3006', async () => {
    const reply = await c.post(
      '/api/user/add',
      { group: USD, name: 'Weak', leverage: 100 },
      { PassMain: STRONG_PASSWORD, PassInvestor: 'weak' },
    );
    expect(reply.retcode).toBe(3006);
  });

  it('answers 8 for an unknown group, a group outside the manager, a demo group on live, and a read-only manager', async () => {
    for (const group of ['real\\nope', VIP, 'demo\\standard-usd']) {
      const reply = await c.post('/api/user/add', { group, name: 'Nope', leverage: 100 }, passwords);
      expect(reply.body.retcode, group).toBe('8 Not enough permissions');
    }
    const ro = await t.authed(READONLY_MANAGER);
    expect((await ro.post('/api/user/add', { group: USD, name: 'Nope', leverage: 100 }, passwords)).retcode).toBe(8);
  });

  it('answers 3 for bad data', async () => {
    const cases: Record<string, string | number>[] = [
      { group: USD, leverage: 100 }, // no name
      { group: USD, name: 'No Leverage' },
      { group: USD, name: 'Over', leverage: 501 }, // above the group's maximum
      { group: USD, name: 'Zero', leverage: 0 },
      { group: USD, name: 'Bad Login', leverage: 100, login: 'abc' },
      { group: USD, name: 'Negative', leverage: 100, login: -5 },
      { name: 'No Group', leverage: 100 },
    ];
    for (const params of cases) {
      const reply = await c.post('/api/user/add', params, passwords);
      expect(reply.retcode, JSON.stringify(params)).toBe(3);
    }
  });

  it('refuses a body that is not a JSON object with 3', async () => {
    expect((await c.post('/api/user/add', { group: USD, name: 'x', leverage: 100 }, '{not json')).retcode).toBe(3);
    expect((await c.post('/api/user/add', { group: USD, name: 'x', leverage: 100 }, [1, 2])).retcode).toBe(3);
  });

  it('ignores a Balance field: money only arrives by balance operation', async () => {
    const reply = await c.post(
      '/api/user/add',
      { group: USD, name: 'Rich', leverage: 100 },
      { ...passwords, Balance: '1000000' },
    );
    expect(field(reply.answer, 'balance')).toBe('0.00');
  });
});

describe('/api/user/update', () => {
  it('changes only the fields given (read-modify-write) and answers the user', async () => {
    const login = await openAccount(c, USD, { email: 'old@example.com' });
    const reply = await c.post('/api/user/update', { login }, { Name: 'Renamed', Leverage: '300', Agent: '55' });
    expect(reply.retcode).toBe(0);
    expect(reply.answer).toMatchObject({
      Name: 'Renamed',
      Leverage: '300',
      Agent: '55',
      Email: 'old@example.com',
      Group: USD,
    });
    const fresh = await c.get('/api/user/get', { login });
    expect(fresh.answer).toMatchObject({ Name: 'Renamed', Leverage: '300', Email: 'old@example.com' });
  });

  it('sets and clears rights bits: disable, no trading, read-only', async () => {
    const login = await openAccount(c, USD);
    const rights = Number(field((await c.get('/api/user/get', { login })).answer, 'rights'));
    const updated = await c.get('/api/user/update', { login, rights: (rights & ~0x1) | 0x4 | 0x200 });
    const now = Number(field(updated.answer, 'rights'));
    expect(now & 0x1).toBe(0);
    expect(now & 0x4).toBe(0x4);
    expect(now & 0x200).toBe(0x200);
  });

  it('leaves a field unchanged when its value is unusable (MetaQuotes rule), instead of failing', async () => {
    const login = await openAccount(c, USD);
    const reply = await c.get('/api/user/update', { login, leverage: 100000, rights: 'lots', name: 'Still Updated' });
    expect(reply.retcode).toBe(0);
    expect(reply.answer).toMatchObject({ Leverage: '100', Name: 'Still Updated' });
  });

  it('answers 13 for an unknown login and 3 without one', async () => {
    expect((await c.get('/api/user/update', { login: 4_999_998, name: 'Ghost' })).body.retcode).toBe('13 Not found');
    expect((await c.get('/api/user/update', { name: 'Ghost' })).retcode).toBe(3);
  });

  it('moves an account between groups of the same currency, even with money', async () => {
    const login = await openAccount(c, USD);
    await deposit(c, login, 100);
    const reply = await c.get('/api/user/update', { login, group: 'REAL\\Standard-USD' });
    expect(reply.retcode).toBe(0);
    expect(field(reply.answer, 'group')).toBe(USD);
  });

  it('refuses a move to another currency while the account holds money (3010), allows it when empty', async () => {
    const funded = await openAccount(c, USD);
    await deposit(c, funded, 100);
    const refused = await c.get('/api/user/update', { login: funded, group: EUR });
    expect(refused.body.retcode).toBe('3010 Attempt to move account to different currency group');
    expect(field((await c.get('/api/user/get', { login: funded })).answer, 'group')).toBe(USD);

    const empty = await openAccount(c, USD);
    expect(field((await c.get('/api/user/update', { login: empty, group: JPY })).answer, 'group')).toBe(JPY);
  });

  it('refuses a move to an unknown or restricted group with 8', async () => {
    const login = await openAccount(c, USD);
    expect((await c.get('/api/user/update', { login, group: VIP })).retcode).toBe(8);
    expect((await c.get('/api/user/update', { login, group: 'real\\nope' })).retcode).toBe(8);
  });

  it('refuses a change of margin mode while positions are open (3008)', async () => {
    // The default groups have no USD netting group, so this needs its own configuration.
    const custom = await startTestSim({
      groups: [
        { name: 'real\\hedge', currency: 'USD', marginMode: 'hedging' },
        { name: 'real\\net', currency: 'USD', marginMode: 'netting' },
      ],
      manager: { password: 'Crm-Manager1!' },
    });
    try {
      const cc = await custom.authed();
      const l = await openAccount(cc, 'real\\hedge');
      await custom.control('POST', '/control/dealer/trade', { login: l, symbol: 'EURUSD', side: 'buy', lots: 0.01 });
      expect((await cc.get('/api/user/update', { login: l, group: 'real\\net' })).body.retcode).toBe(
        '3008 Account has open trades',
      );
    } finally {
      await custom.close();
    }
  });
});

describe('reading accounts', () => {
  it('gets one user; 13 when absent, 8 when outside the manager groups', async () => {
    const login = await openAccount(c, USD);
    expect(field((await c.get('/api/user/get', { login })).answer, 'login')).toBe(String(login));
    expect((await c.get('/api/user/get', { login: 4_999_997 })).retcode).toBe(13);
    const vip = await t.control('POST', '/control/accounts', { group: VIP, name: 'VIP', leverage: 100 });
    const vipLogin = Number(vip.json.Login);
    expect((await c.get('/api/user/get', { login: vipLogin })).retcode).toBe(8);
    expect((await c.get('/api/user/get', { login: 'x' })).retcode).toBe(3);
  });

  it('answers user/group and user/total', async () => {
    const login = await openAccount(c, JPY);
    expect((await c.get('/api/user/group', { login })).answer).toEqual({ Group: JPY });
    const totalReply = await c.get('/api/user/total');
    expect(Number(field(totalReply.answer, 'total'))).toBeGreaterThan(0);
  });

  it('lists logins by group masks with negation, within the manager groups', async () => {
    const eur = await openAccount(c, EUR);
    const jpy = await openAccount(c, JPY);
    const usd = await openAccount(c, USD);
    const all = (await c.get('/api/user/logins', { group: 'real\\*' })).answer as string[];
    expect(all).toEqual(expect.arrayContaining([String(eur), String(jpy), String(usd)]));
    expect(all).toEqual([...all].sort((a, b) => Number(a) - Number(b)));
    const noEur = (await c.get('/api/user/logins', { group: 'real\\*,!real\\pro*' })).answer as string[];
    expect(noEur).not.toContain(String(eur));
    expect(noEur).toContain(String(jpy));
    // VIP accounts exist but this manager cannot see them, even with a mask that names them.
    const vip = (await c.get('/api/user/logins', { group: VIP })).answer as string[];
    expect(vip).toEqual([]);
    expect((await c.get('/api/user/logins')).retcode).toBe(3);
  });

  it('gets a batch by logins and by groups, skipping what is absent', async () => {
    const a = await openAccount(c, USD);
    const b = await openAccount(c, EUR);
    const reply = await c.get('/api/user/get_batch', { login: `${a},${b},4999996` });
    expect((reply.answer as Record<string, string>[]).map((u) => u.Login)).toEqual([String(a), String(b)]);
    const byGroup = (await c.get('/api/user/get_batch', { group: EUR })).answer as Record<string, string>[];
    expect(byGroup.every((u) => u.Group === EUR)).toBe(true);
    expect(byGroup.map((u) => u.Login)).toContain(String(b));
    expect((await c.get('/api/user/get_batch')).retcode).toBe(3);
  });

  it('reports the trade state with user/account/get and account/get_batch', async () => {
    const login = await openAccount(c, EUR);
    await deposit(c, login, 250.5);
    const reply = await c.get('/api/user/account/get', { login });
    expect(reply.answer).toMatchObject({
      Login: String(login),
      CurrencyDigits: '2',
      Balance: '250.50',
      Credit: '0.00',
      Equity: '250.50',
      Margin: '0.00',
      MarginFree: '250.50',
      MarginLevel: '0.00',
      MarginLeverage: '100',
    });
    const batch = (await c.get('/api/user/account/get_batch', { login: String(login) })).answer as unknown[];
    expect(batch).toHaveLength(1);
  });
});

describe('/api/user/delete', () => {
  it('deletes an account without open trades; its login is then not found and not reused', async () => {
    const login = await openAccount(c, USD);
    expect((await c.get('/api/user/delete', { login })).body.retcode).toBe('0 Done');
    expect((await c.get('/api/user/get', { login })).retcode).toBe(13);
    expect((await c.get('/api/user/delete', { login })).retcode).toBe(13);
    expect(await openAccount(c, USD)).toBeGreaterThan(login);
  });

  it('refuses while positions are open with 3008', async () => {
    const login = await openAccount(c, USD);
    await deposit(c, login, 1000);
    const trade = await t.control('POST', '/control/dealer/trade', {
      login,
      symbol: 'EURUSD',
      side: 'buy',
      lots: 0.01,
    });
    expect(trade.status).toBe(200);
    expect((await c.get('/api/user/delete', { login })).body.retcode).toBe('3008 Account has open trades');
  });
});

describe('passwords', () => {
  it('changes and checks main, investor and API passwords', async () => {
    const login = await openAccount(c, USD);
    expect(
      (await c.post('/api/user/check_password', {}, { Login: login, Type: 'main', Password: STRONG_PASSWORD })).retcode,
    ).toBe(0);
    expect(
      (await c.get('/api/user/change_password', { login, type: 'investor', password: 'New-Invest2' })).retcode,
    ).toBe(0);
    expect(
      (await c.get('/api/user/check_password', { login, type: 'investor', password: 'New-Invest2' })).retcode,
    ).toBe(0);
    expect(
      (await c.get('/api/user/check_password', { login, type: 'main', password: 'New-Invest2' })).body.retcode,
    ).toBe('3006 Invalid account password');
    // No API password until one is set.
    expect((await c.get('/api/user/check_password', { login, type: 'api', password: STRONG_PASSWORD })).retcode).toBe(
      3006,
    );
    expect(
      (await c.post('/api/user/change_password', { login, type: 'api' }, { Password: 'Api-Secret3' })).retcode,
    ).toBe(0);
    expect((await c.get('/api/user/check_password', { login, type: 'API', password: 'Api-Secret3' })).retcode).toBe(0);
  });

  it('refuses a weak new password (3006), an unknown type (3) and an unknown login (13)', async () => {
    const login = await openAccount(c, USD);
    expect((await c.get('/api/user/change_password', { login, type: 'main', password: 'weak' })).retcode).toBe(3006);
    expect((await c.get('/api/user/change_password', { login, type: 'phone', password: 'New-Pass1!' })).retcode).toBe(
      3,
    );
    expect(
      (await c.get('/api/user/change_password', { login: 4_999_995, type: 'main', password: 'New-Pass1!' })).retcode,
    ).toBe(13);
    expect((await c.get('/api/user/check_password', { login, type: 'main', password: STRONG_PASSWORD })).retcode).toBe(
      0,
    );
  });
});

describe('groups and time', () => {
  it('describes a group with Currency, CurrencyDigits and MarginMode', async () => {
    const usd = await c.get('/api/group/get', { group: USD });
    expect(usd.answer).toMatchObject({ Group: USD, Currency: 'USD', CurrencyDigits: '2', MarginMode: '2' });
    expect((await c.get('/api/group/get', { group: EUR })).answer).toMatchObject({ Currency: 'EUR', MarginMode: '0' });
    expect((await c.get('/api/group/get', { group: JPY })).answer).toMatchObject({
      Currency: 'JPY',
      CurrencyDigits: '0',
    });
    expect((await c.get('/api/group/get', { group: 'real\\nope' })).retcode).toBe(13);
    expect((await c.get('/api/group/get', { group: VIP })).retcode).toBe(8);
  });

  it('walks the visible groups with group/total and group/next', async () => {
    const total = Number(field((await c.get('/api/group/total')).answer, 'total'));
    expect(total).toBe(3); // the VIP group is outside the CRM manager's masks
    const names: string[] = [];
    for (let index = 0; index < total; index++) {
      names.push(String(field((await c.get('/api/group/next', { index })).answer, 'group')));
    }
    expect(names).toEqual([USD, EUR, JPY]);
    expect((await c.get('/api/group/next', { index: total })).retcode).toBe(13);
  });

  it('tells server time as wall-clock epoch seconds plus text, and the zone settings', async () => {
    const before = Math.floor(toServerTime(Date.now(), 'Europe/Nicosia') / 1000);
    const reply = await c.get('/api/time/server');
    const [seconds, date, time] = String(field(reply.answer, 'time')).split(' ');
    expect(Number(seconds)).toBeGreaterThanOrEqual(before);
    expect(Number(seconds)).toBeLessThanOrEqual(before + 2);
    const iso = new Date(Number(seconds) * 1000).toISOString();
    expect(`${date} ${time}`).toBe(`${iso.slice(0, 10).replaceAll('-', '.')} ${iso.slice(11, 19)}`);
    const zone = await c.get('/api/time/get');
    expect(zone.answer).toMatchObject({ TimeZone: '120', Daylight: '1' });
    expect((field(zone.answer, 'days') as unknown[]).length).toBe(7);
  });

  it('follows a skewed server clock (a jump of an hour also ends idle sessions)', async () => {
    const s = await startTestSim({ manager: { password: 'Crm-Manager1!' } });
    try {
      const cc = await s.authed();
      const before = Number(String(field((await cc.get('/api/time/server')).answer, 'time')).split(' ')[0]);
      const dropped = cc.whenDisconnected();
      await s.control('POST', '/control/clock', { skewSeconds: 3600 });
      await dropped;
      await cc.authenticate();
      const after = Number(String(field((await cc.get('/api/time/server')).answer, 'time')).split(' ')[0]);
      expect(after - before).toBeGreaterThanOrEqual(3599);
      expect(after - before).toBeLessThanOrEqual(3605);
    } finally {
      await s.close();
    }
  });
});
