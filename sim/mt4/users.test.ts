import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RET } from './codes.ts';
import { UserRecord } from './contract.ts';
import type { Mt4TestClient } from './test-client.ts';
import { Harness } from './test-support.ts';
import { cutToBytes, passwordProblem } from './users.ts';

describe('MT4 bridge accounts (UserRecord calls)', () => {
  let h: Harness;
  let crm: Mt4TestClient;

  beforeAll(async () => {
    h = await Harness.start({
      groups: [
        { group: 'real-std-usd', currency: 'USD', leverage_max: 500 },
        { group: 'real-pro-usd', currency: 'USD', leverage_max: 200 },
        { group: 'real-std-eur', currency: 'EUR' },
        { group: 'real-ib-usd', currency: 'USD', loginRange: { from: 9_000_000, to: 9_000_002 } },
      ],
    });
    crm = await h.client();
  });
  afterAll(async () => h.close());

  describe('UserRecordNew', () => {
    it('allocates the next login from the server range, with no balance and server-time dates', async () => {
      const { time } = await crm.ok('ServerTime');
      const reply = await crm.ok('UserRecordNew', {
        login: 0,
        group: 'real-std-usd',
        name: 'Maria Georgiou',
        email: 'maria@example.com',
        country: 'Cyprus',
        phone: '+35799000000',
        password: 'Secret123',
        password_investor: 'Invest123',
        agent_account: 4242,
        comment: 'crm:client-17',
      });
      expect(reply.login).toBeGreaterThanOrEqual(h.sim.loginRange.from);
      expect(reply.login).toBeLessThanOrEqual(h.sim.loginRange.to);
      expect(reply.user).toMatchObject({
        login: reply.login,
        group: 'real-std-usd',
        name: 'Maria Georgiou',
        email: 'maria@example.com',
        leverage: 100,
        enable: 1,
        enable_read_only: 0,
        agent_account: 4242,
        balance: 0,
        credit: 0,
        comment: 'crm:client-17',
      });
      expect(reply.user.regdate).toBeGreaterThanOrEqual(time);
      expect(reply.user.regdate - time).toBeLessThan(60);
      const next = await h.openAccount(crm, 'real-std-usd');
      expect(next).toBeGreaterThan(reply.login);
    });

    it('returns exactly the documented UserRecord fields and never a password', async () => {
      const login = await h.openAccount(crm, 'real-std-usd');
      const { user } = await crm.ok('UserRecordGet', { login });
      expect(Object.keys(user).sort()).toEqual(Object.keys(UserRecord.shape).sort());
      expect(JSON.stringify(user)).not.toContain('Secret123');
    });

    it('uses a group login range when the group has one, and says so when it is exhausted (2)', async () => {
      const logins = [];
      for (let i = 0; i < 3; i++) logins.push(await h.openAccount(crm, 'real-ib-usd'));
      expect(logins).toEqual([9_000_000, 9_000_001, 9_000_002]);
      const full = await crm.call('UserRecordNew', { group: 'real-ib-usd', name: 'Late', password: 'Secret123' });
      expect(full.ret).toBe(RET.ERROR);
      expect(full.message).toContain('exhausted');
    });

    it('takes an explicit free login, refuses a taken one (2) and skips it when allocating', async () => {
      const probe = await h.openAccount(crm, 'real-std-usd');
      const explicit = probe + 1;
      expect(
        (await crm.ok('UserRecordNew', { login: explicit, group: 'real-std-usd', name: 'Own', password: 'Secret123' }))
          .login,
      ).toBe(explicit);
      const taken = await crm.call('UserRecordNew', {
        login: explicit,
        group: 'real-std-usd',
        name: 'Dup',
        password: 'Secret123',
      });
      expect(taken.ret).toBe(RET.ERROR);
      const manager = await crm.call('UserRecordNew', {
        login: h.sim.manager.login,
        group: 'real-std-usd',
        name: 'M',
        password: 'Secret123',
      });
      expect(manager.ret).toBe(RET.ERROR);
      expect(await h.openAccount(crm, 'real-std-usd')).toBe(explicit + 1);
    });

    it('refuses a balance or credit at creation (3): a deposit is a separate operation', async () => {
      const withBalance = await crm.call('UserRecordNew', {
        group: 'real-std-usd',
        name: 'Rich',
        password: 'Secret123',
        balance: 100,
      });
      expect(withBalance.ret).toBe(RET.INVALID_DATA);
      expect(withBalance.message).toContain('TradeTransaction');
      const withCredit = await crm.call('UserRecordNew', {
        group: 'real-std-usd',
        name: 'Rich',
        password: 'Secret123',
        credit: 5,
      });
      expect(withCredit.ret).toBe(RET.INVALID_DATA);
      expect(
        (await crm.call('UserRecordNew', { group: 'real-std-usd', name: 'Zero', password: 'Secret123', balance: 0 }))
          .ret,
      ).toBe(RET.OK);
    });

    it('refuses an unknown group (3) instead of falling back to another one', async () => {
      const reply = await crm.call('UserRecordNew', { group: 'real-std-gbp', name: 'Nobody', password: 'Secret123' });
      expect(reply.ret).toBe(RET.INVALID_DATA);
      expect(reply.message).toContain('real-std-gbp');
      const caseVariant = await crm.call('UserRecordNew', {
        group: 'REAL-STD-USD',
        name: 'Nobody',
        password: 'Secret123',
      });
      expect(caseVariant.ret).toBe(RET.INVALID_DATA);
    });

    it('refuses oversized fields with 3 and cuts the comment at 63 bytes', async () => {
      const base = { group: 'real-std-usd', password: 'Secret123' };
      const cases: [Record<string, unknown>, string][] = [
        [{ name: 'n'.repeat(128) }, 'name'],
        [{ name: 'ok', email: `${'e'.repeat(40)}@x.cyprus` }, 'email'],
        [{ name: 'ok', group: 'g'.repeat(16) }, 'group'],
        [{ name: 'ok', country: 'c'.repeat(32) }, 'country'],
        [{ name: 'ok', phone: '1'.repeat(32) }, 'phone'],
        [{ name: 'é'.repeat(64) }, 'name'],
        [{ name: 'a\u0000b' }, 'name'],
        [{ name: '   ' }, 'name'],
      ];
      for (const [fields, field] of cases) {
        const reply = await crm.call('UserRecordNew', { ...base, ...fields });
        expect(reply.ret, JSON.stringify(fields)).toBe(RET.INVALID_DATA);
        expect(reply.message).toContain(field);
      }
      const fits = await crm.ok('UserRecordNew', { ...base, name: 'n'.repeat(127), comment: 'c'.repeat(100) });
      expect(fits.user.name).toHaveLength(127);
      expect(fits.user.comment).toBe('c'.repeat(63));
    });

    it('applies the group leverage limits and default', async () => {
      expect(
        (await crm.call('UserRecordNew', { group: 'real-pro-usd', name: 'L', password: 'Secret123', leverage: 500 }))
          .ret,
      ).toBe(RET.INVALID_DATA);
      const ok = await crm.ok('UserRecordNew', {
        group: 'real-pro-usd',
        name: 'L',
        password: 'Secret123',
        leverage: 200,
      });
      expect(ok.user.leverage).toBe(200);
      const defaulted = await crm.ok('UserRecordNew', {
        group: 'real-pro-usd',
        name: 'L',
        password: 'Secret123',
        leverage: 0,
      });
      expect(defaulted.user.leverage).toBe(100);
    });

    it('enforces the password rules on the main and investor passwords (3)', async () => {
      for (const password of ['abc12', 'abcdefgh', '12345678', 'Secret 123', 'Sécret123', 'Secret1234567890']) {
        const reply = await crm.call('UserRecordNew', { group: 'real-std-usd', name: 'P', password });
        expect(reply.ret, password).toBe(RET.INVALID_DATA);
      }
      const weakInvestor = await crm.call('UserRecordNew', {
        group: 'real-std-usd',
        name: 'P',
        password: 'Secret123',
        password_investor: 'abc',
      });
      expect(weakInvestor.ret).toBe(RET.INVALID_DATA);
      expect(weakInvestor.message).toContain('password_investor');
    });
  });

  describe('UserRecordUpdate', () => {
    it('changes only the given fields and keeps a concurrent dealer change to another field', async () => {
      const login = await h.openAccount(crm, 'real-std-usd', { email: 'old@example.com' });
      // A dealer disables trading directly on the server…
      await h.control.post('/control/dealer/trading', { login, readOnly: true });
      // …while the CRM updates the e-mail from its own (older) copy of the record.
      const reply = await crm.ok('UserRecordUpdate', { login, email: 'new@example.com' });
      expect(reply.user.email).toBe('new@example.com');
      expect(reply.user.enable_read_only).toBe(1);
      expect(reply.user.name).toBe((await crm.ok('UserRecordGet', { login })).user.name);
    });

    it('updates group, leverage, enable flags and the IB, and stamps the change', async () => {
      const login = await h.openAccount(crm, 'real-std-usd');
      await h.control.post('/control/clock', { advanceSeconds: 120 });
      const reply = await crm.ok('UserRecordUpdate', {
        login,
        group: 'real-pro-usd',
        leverage: 50,
        enable: 0,
        enable_read_only: 1,
        agent_account: 777,
        comment: 'x'.repeat(80),
      });
      expect(reply.user).toMatchObject({
        group: 'real-pro-usd',
        leverage: 50,
        enable: 0,
        enable_read_only: 1,
        agent_account: 777,
      });
      expect(reply.user.comment).toHaveLength(63);
      expect(reply.user.timestamp).toBeGreaterThanOrEqual(reply.user.regdate + 120);
    });

    it('answers 1 when nothing changes', async () => {
      const login = await h.openAccount(crm, 'real-std-usd', { leverage: 100 });
      const same = await crm.ok('UserRecordUpdate', { login, leverage: 100 }, RET.OK_NONE);
      expect(same.user.leverage).toBe(100);
    });

    it('refuses balance edits, unknown accounts, unknown groups and out-of-range leverage', async () => {
      const login = await h.openAccount(crm, 'real-std-usd');
      expect((await crm.call('UserRecordUpdate', { login, balance: 1000 })).ret).toBe(RET.INVALID_DATA);
      expect((await crm.call('UserRecordUpdate', { login: 4_999_998, leverage: 10 })).ret).toBe(RET.BAD_ACCOUNT_INFO);
      expect((await crm.call('UserRecordUpdate', { login, group: 'nope' })).ret).toBe(RET.INVALID_DATA);
      expect((await crm.call('UserRecordUpdate', { login, leverage: 501 })).ret).toBe(RET.INVALID_DATA);
      // Moving to a group whose limit is lower than the current leverage is refused too.
      await crm.ok('UserRecordUpdate', { login, leverage: 400 });
      const move = await crm.call('UserRecordUpdate', { login, group: 'real-pro-usd' });
      expect(move.ret).toBe(RET.INVALID_DATA);
      expect(move.message).toContain('leverage');
    });

    it('refuses a currency-changing group move while the account holds money (3), allows it when empty', async () => {
      const funded = await h.openAccount(crm, 'real-std-usd');
      await h.deposit(crm, funded, 100);
      const move = await crm.call('UserRecordUpdate', { login: funded, group: 'real-std-eur' });
      expect(move.ret).toBe(RET.INVALID_DATA);
      expect(move.message).toContain('EUR');
      const empty = await h.openAccount(crm, 'real-std-usd');
      expect((await crm.ok('UserRecordUpdate', { login: empty, group: 'real-std-eur' })).user.group).toBe(
        'real-std-eur',
      );
    });
  });

  describe('passwords', () => {
    it('sets and checks the main and investor passwords', async () => {
      const login = await h.openAccount(crm, 'real-std-usd');
      expect((await crm.call('UserPasswordCheck', { login, password: 'Secret123' })).ret).toBe(RET.OK);
      expect((await crm.call('UserPasswordCheck', { login, password: 'Invest123', investor: 1 })).ret).toBe(
        RET.BAD_ACCOUNT_INFO,
      );
      await crm.ok('UserPasswordSet', { login, password: 'NewMain42' });
      await crm.ok('UserPasswordSet', { login, password: 'Invest123', investor: 1 });
      expect((await crm.call('UserPasswordCheck', { login, password: 'Secret123' })).ret).toBe(RET.BAD_ACCOUNT_INFO);
      expect((await crm.call('UserPasswordCheck', { login, password: 'NewMain42' })).ret).toBe(RET.OK);
      expect((await crm.call('UserPasswordCheck', { login, password: 'Invest123', investor: 1 })).ret).toBe(RET.OK);
      expect((await crm.call('UserPasswordCheck', { login, password: 'NewMain42', investor: 1 })).ret).toBe(
        RET.BAD_ACCOUNT_INFO,
      );
    });

    it('refuses weak passwords (3), unknown accounts (65), and checks on disabled accounts (64)', async () => {
      const login = await h.openAccount(crm, 'real-std-usd');
      const weak = await crm.call('UserPasswordSet', { login, password: 'password' });
      expect(weak.ret).toBe(RET.INVALID_DATA);
      expect(weak.message).toContain('digit');
      expect((await crm.call('UserPasswordSet', { login: 4_999_997, password: 'Secret123' })).ret).toBe(
        RET.BAD_ACCOUNT_INFO,
      );
      await crm.ok('UserRecordUpdate', { login, enable: 0 });
      expect((await crm.call('UserPasswordCheck', { login, password: 'Secret123' })).ret).toBe(RET.ACCOUNT_DISABLED);
    });

    it('states its rules precisely', () => {
      expect(passwordProblem('Abc123')).toBeUndefined();
      expect(passwordProblem('Abc12')).toMatch(/6/);
      expect(passwordProblem('Abcdef1234567890')).toMatch(/15/);
      expect(passwordProblem('abcdef')).toMatch(/digit/);
      expect(passwordProblem('123456')).toMatch(/letter/);
    });
  });

  describe('reads', () => {
    it('gets one account (65 when unknown) and many by login in request order', async () => {
      const a = await h.openAccount(crm, 'real-std-usd');
      const b = await h.openAccount(crm, 'real-pro-usd');
      expect((await crm.call('UserRecordGet', { login: 4_999_996 })).ret).toBe(RET.BAD_ACCOUNT_INFO);
      const many = await crm.ok('UserRecordsRequest', { logins: [b, 4_999_996, a] });
      expect(many.users.map((u) => u.login)).toEqual([b, a]);
    });

    it('lists accounts by group mask (AdmUsersRequest) and all of them (UsersRequest), ordered by login', async () => {
      const pro = await h.openAccount(crm, 'real-pro-usd');
      const eur = await h.openAccount(crm, 'real-std-eur');
      const onlyPro = await crm.ok('AdmUsersRequest', { group: 'real-pro-*' });
      expect(onlyPro.users.length).toBeGreaterThan(0);
      expect(onlyPro.users.every((u) => u.group === 'real-pro-usd')).toBe(true);
      expect(onlyPro.users.map((u) => u.login)).toContain(pro);
      const notUsd = await crm.ok('AdmUsersRequest', { group: '*,!*-usd' });
      expect(notUsd.users.map((u) => u.login)).toContain(eur);
      expect(notUsd.users.every((u) => !u.group.endsWith('-usd'))).toBe(true);
      const all = (await crm.ok('UsersRequest')).users.map((u) => u.login);
      expect(all).toEqual([...all].sort((x, y) => x - y));
      expect(all).toEqual(expect.arrayContaining([pro, eur]));
      expect((await crm.call('AdmUsersRequest', { group: '!real-*' })).ret).toBe(RET.INVALID_DATA);
    });
  });

  it('cuts text at a byte limit without splitting a character', () => {
    expect(cutToBytes('abc', 31)).toBe('abc');
    expect(cutToBytes('é'.repeat(20), 31)).toBe('é'.repeat(15));
    expect(Buffer.byteLength(cutToBytes('€'.repeat(20), 31))).toBe(30);
  });
});
