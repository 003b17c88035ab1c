import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RET } from './codes.ts';
import { calls, callsNeeding } from './contract.ts';
import { Harness } from './test-support.ts';

const managers = [
  {
    login: 10,
    password: 'crm-pass',
    name: 'CRM',
    rights: ['admin', 'money', 'see_trades'],
    groups: 'real-*,!real-vip*',
  },
  { login: 11, password: 'read-pass', name: 'Reporting', rights: ['see_trades'], groups: 'real-*' },
  {
    login: 12,
    password: 'office-pass',
    name: 'Office only',
    rights: ['see_trades'],
    groups: '*',
    ipAllow: ['10.0.0.0/8'],
  },
  { login: 13, password: 'local-pass', name: 'Loopback', rights: ['see_trades'], groups: '*', ipAllow: ['127.0.0.1'] },
  { login: 14, password: 'gone-pass', name: 'Disabled', rights: ['see_trades'], groups: '*', enabled: false },
  { login: 15, password: 'money-pass', name: 'Cashier', rights: ['money'], groups: 'real-*' },
  { login: 16, password: 'vip-pass', name: 'VIP desk', rights: ['admin', 'money', 'see_trades'], groups: 'real-vip*' },
] as const;

describe('MT4 bridge sessions, rights, group masks and IP filter', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await Harness.start({ managers: managers.map((m) => ({ ...m, rights: [...m.rights] })) });
  });
  afterAll(async () => h.close());

  it('logs in and reports the manager it logged in as', async () => {
    const client = h.anonymous();
    const reply = await client.ok('Login', { login: 10, password: 'crm-pass' });
    expect(reply.session).toMatch(/^[0-9a-f]{48}$/);
    expect(reply.manager).toEqual({
      login: 10,
      name: 'CRM',
      admin: 1,
      money: 1,
      see_trades: 1,
      groups: 'real-*,!real-vip*',
      ip_filter: ['0.0.0.0/0', '::/0'],
    });
    client.session = reply.session;
    expect((await client.ok('ManagerRights')).manager.login).toBe(10);
    expect((await client.call('Ping')).ret).toBe(RET.OK);
  });

  it('answers 65 for a wrong password and for an unknown manager alike', async () => {
    const client = h.anonymous();
    const wrong = await client.call('Login', { login: 10, password: 'nope' });
    const unknown = await client.call('Login', { login: 99, password: 'crm-pass' });
    expect(wrong.ret).toBe(RET.BAD_ACCOUNT_INFO);
    expect(unknown.ret).toBe(RET.BAD_ACCOUNT_INFO);
    expect(wrong.message).toBe(unknown.message);
    expect(wrong.session).toBeUndefined();
  });

  it('refuses a disabled manager with 64', async () => {
    expect((await h.anonymous().call('Login', { login: 14, password: 'gone-pass' })).ret).toBe(RET.ACCOUNT_DISABLED);
  });

  it('applies the IP allow-list: a manager limited to 10.0.0.0/8 cannot log in from loopback (7)', async () => {
    const blocked = await h.anonymous().call('Login', { login: 12, password: 'office-pass' });
    expect(blocked.ret).toBe(RET.NOT_ENOUGH_RIGHTS);
    expect(blocked.message).toContain('127.0.0.1');
    expect((await h.anonymous().call('Login', { login: 13, password: 'local-pass' })).ret).toBe(RET.OK);
  });

  it('answers 6 without a session, with an unknown session, and after Logout', async () => {
    const client = h.anonymous();
    expect((await client.call('Ping')).ret).toBe(RET.NO_CONNECT);
    client.session = 'f'.repeat(48);
    expect((await client.call('UsersRequest')).ret).toBe(RET.NO_CONNECT);
    await client.login(10, 'crm-pass');
    expect((await client.call('Logout')).ret).toBe(RET.OK);
    expect((await client.call('Ping')).ret).toBe(RET.NO_CONNECT);
  });

  it('ends sessions dropped through the control API (6) and accepts a new login', async () => {
    const a = await h.client(10, 'crm-pass');
    const b = await h.client(11, 'read-pass');
    const dropped = await h.control.post<{ dropped: number }>('/control/sessions/drop', { manager: 10 });
    expect(dropped.dropped).toBeGreaterThanOrEqual(1);
    expect((await a.call('Ping')).ret).toBe(RET.NO_CONNECT);
    expect((await b.call('Ping')).ret).toBe(RET.OK);
    await h.control.post('/control/sessions/drop', {});
    expect((await b.call('Ping')).ret).toBe(RET.NO_CONNECT);
    await a.login(10, 'crm-pass');
    expect((await a.call('Ping')).ret).toBe(RET.OK);
  });

  it('requires the right each call documents (7 without it)', async () => {
    const reader = await h.client(11, 'read-pass');
    const cashier = await h.client(15, 'money-pass');
    const crm = await h.client(10, 'crm-pass');
    const login = await h.openAccount(crm, 'real-std-usd');
    expect(callsNeeding('admin')).toEqual([
      'UserRecordNew',
      'UserRecordUpdate',
      'UserPasswordSet',
      'UserPasswordCheck',
    ]);
    expect(callsNeeding('money')).toEqual(['TradeTransaction']);

    expect((await reader.call('UserRecordNew', { group: 'real-std-usd', name: 'X', password: 'Secret123' })).ret).toBe(
      RET.NOT_ENOUGH_RIGHTS,
    );
    expect((await reader.call('UserRecordUpdate', { login, leverage: 50 })).ret).toBe(RET.NOT_ENOUGH_RIGHTS);
    expect((await reader.call('UserPasswordSet', { login, password: 'Other123' })).ret).toBe(RET.NOT_ENOUGH_RIGHTS);
    expect((await reader.call('TradeTransaction', { type: 83, cmd: 6, orderby: login, price: 10 })).ret).toBe(
      RET.NOT_ENOUGH_RIGHTS,
    );
    // The cashier moves money but may not read accounts or history.
    expect((await cashier.call('TradeTransaction', { type: 83, cmd: 6, orderby: login, price: 10 })).ret).toBe(RET.OK);
    expect((await cashier.call('UserRecordGet', { login })).ret).toBe(RET.NOT_ENOUGH_RIGHTS);
    expect((await cashier.call('TradesUserHistory', { login, from: 0, to: 2e9 })).ret).toBe(RET.NOT_ENOUGH_RIGHTS);
    // Reading works for the reporting manager; config calls need only a session.
    expect((await reader.ok('UserRecordGet', { login })).user.balance).toBe(10);
    expect((await cashier.ok('CfgRequestGroup')).groups.length).toBeGreaterThan(0);
    expect(Object.keys(calls)).toContain('CfgRequestGroup');
  });

  it('confines a manager to its group masks: excluded groups are invisible to lists and 7 to single calls', async () => {
    const crm = await h.client(10, 'crm-pass');
    const vipDesk = await h.client(16, 'vip-pass');
    const reader = await h.client(11, 'read-pass');

    const refused = await crm.call('UserRecordNew', { group: 'real-vip-usd', name: 'VIP', password: 'Secret123' });
    expect(refused.ret).toBe(RET.NOT_ENOUGH_RIGHTS);
    expect(refused.message).toContain('real-vip-usd');

    const vip = await h.openAccount(vipDesk, 'real-vip-usd');
    const std = await h.openAccount(crm, 'real-std-usd');
    expect((await crm.call('UserRecordGet', { login: vip })).ret).toBe(RET.NOT_ENOUGH_RIGHTS);
    expect((await crm.call('TradeTransaction', { type: 83, cmd: 6, orderby: vip, price: 5 })).ret).toBe(
      RET.NOT_ENOUGH_RIGHTS,
    );
    expect((await crm.call('UserRecordUpdate', { login: std, group: 'real-vip-usd' })).ret).toBe(RET.NOT_ENOUGH_RIGHTS);

    const crmLogins = (await crm.ok('UsersRequest')).users.map((u) => u.login);
    expect(crmLogins).toContain(std);
    expect(crmLogins).not.toContain(vip);
    const byLogins = await crm.ok('UserRecordsRequest', { logins: [vip, std] });
    expect(byLogins.users.map((u) => u.login)).toEqual([std]);
    // `real-*` alone includes the VIP group.
    expect((await reader.ok('UsersRequest')).users.map((u) => u.login)).toEqual(expect.arrayContaining([vip, std]));
    // The VIP desk sees only VIP accounts.
    expect((await vipDesk.ok('UsersRequest')).users.every((u) => u.group.startsWith('real-vip'))).toBe(true);
  });
});
