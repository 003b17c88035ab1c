import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureCertificate } from '../../../sim/common/tls.ts';
import { connectorConfig, control, startMt4 } from '../../../test/support/simulators.ts';
import { AmbiguousError, NotSentError } from '../errors.ts';
import { newReference } from '../reference.ts';
import { Mt4Connector } from './connector.ts';
import { RET } from './retcodes.ts';
import { Mt4Session } from './session.ts';

type Sim = Awaited<ReturnType<typeof startMt4>>;

const passwords = { mainPassword: 'Main1pass', investorPassword: 'Inv2pass' };
const USD = 'real-std-usd';

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'up',
    () => 'down',
  );

describe('MT4 connector under bridge faults', () => {
  let sim: Sim;
  let mt4: Mt4Connector;
  let login: number;
  const since = () => new Date(Date.now() - 10 * 60_000);
  const fault = (rule: Record<string, unknown>) => control(sim, 'POST', '/control/faults', rule);
  const records = async () => ((await control(sim, 'GET', `/control/trades?login=${login}`)) as unknown[]).length;
  const deposit = (amount: number, reference = newReference('deposit')) =>
    mt4.postBalanceOperation({ login, kind: 'balance', amount, reference });

  beforeAll(async () => {
    sim = await startMt4({ name: 'mt4-faults', seed: 7 });
    mt4 = new Mt4Connector(connectorConfig(sim));
    login = (await mt4.openAccount({ group: USD, name: 'Faulty', leverage: 100, ...passwords })).login;
    await deposit(100_000);
  });
  afterAll(async () => {
    await mt4.close();
    await sim.close();
  });
  afterEach(async () => {
    await control(sim, 'DELETE', '/control/faults');
  });

  it('a lost reply after the deposit was applied is ambiguous, and the reference then finds it, once', async () => {
    const before = (await mt4.getAccount(login)).balance;
    await fault({ endpoint: '/v1/TradeTransaction', kind: 'drop_reply', count: 1 });
    const reference = newReference('deposit');
    const error = await deposit(777, reference).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AmbiguousError);
    expect(error).toMatchObject({ code: null, request: { path: '/v1/TradeTransaction' } });
    expect(await mt4.findBalanceOperation(login, reference, since())).toMatchObject({ amount: 777, anomalies: [] });
    expect((await mt4.getAccount(login)).balance).toBe(before + 777);
  });

  it('a reset is ambiguous for a write (the client cannot know), although nothing was applied', async () => {
    const count = await records();
    await fault({ endpoint: '/v1/TradeTransaction', kind: 'reset', count: 1 });
    const reference = newReference('deposit');
    await expect(deposit(5, reference)).rejects.toBeInstanceOf(AmbiguousError);
    expect(await mt4.findBalanceOperation(login, reference, since())).toBeNull();
    expect(await records()).toBe(count);
  });

  it('a read cut in transport is repeated once on a fresh connection', async () => {
    await fault({ endpoint: '/v1/UserRecordGet', kind: 'reset', count: 1 });
    await expect(mt4.getAccount(login)).resolves.toMatchObject({ login });
    await fault({ endpoint: '/v1/UserRecordGet', kind: 'reset', count: 2 });
    await expect(mt4.getAccount(login)).rejects.toMatchObject({ errorClass: 'not_sent', code: null });
  });

  it('a busy refusal is not sent and applies nothing', async () => {
    const count = await records();
    await fault({ endpoint: '/v1/TradeTransaction', kind: 'refuse', code: RET.BROKER_BUSY, count: 1 });
    await expect(deposit(5)).rejects.toMatchObject({ errorClass: 'not_sent', code: 137 });
    expect(await records()).toBe(count);
  });

  it('ret 6 on a read logs in again and repeats it; on a deposit it is left to verification', async () => {
    await fault({ endpoint: '/v1/MarginLevelRequest', kind: 'refuse', count: 1 });
    await expect(mt4.getAccount(login)).resolves.toMatchObject({ login });
    const count = await records();
    await fault({ endpoint: '/v1/TradeTransaction', kind: 'refuse', count: 1 });
    const reference = newReference('deposit');
    await expect(deposit(5, reference)).rejects.toMatchObject({ errorClass: 'ambiguous', code: 6 });
    expect(await mt4.findBalanceOperation(login, reference, since())).toBeNull();
    expect(await records()).toBe(count);
  });

  it.each([
    [RET.ERROR, 'definitive', 'other'],
    [RET.INVALID_DATA, 'definitive', 'bad_data'],
    [RET.TECH_PROBLEM, 'ambiguous', undefined],
    [RET.OLD_VERSION, 'definitive', 'not_configured'],
    [RET.NOT_ENOUGH_RIGHTS, 'definitive', 'no_rights'],
    [RET.TOO_FREQUENT, 'not_sent', undefined],
    [RET.MALFUNCTION, 'ambiguous', undefined],
    [RET.ACCOUNT_DISABLED, 'definitive', 'account_disabled'],
    [RET.BAD_ACCOUNT_INFO, 'definitive', 'not_found'],
    [RET.TRADE_TIMEOUT, 'ambiguous', undefined],
    [RET.TRADE_DISABLE, 'definitive', 'trade_disabled'],
    [RET.TRADE_NO_MONEY, 'definitive', 'not_enough_money'],
    [RET.BROKER_BUSY, 'not_sent', undefined],
    [RET.TOO_MANY_REQ, 'not_sent', undefined],
    [77, 'ambiguous', undefined],
  ])('a deposit answered ret %i is %s (%s)', async (code, errorClass, reason) => {
    await fault({ endpoint: '/v1/TradeTransaction', kind: 'error', code, count: 1 });
    const error = await deposit(5).catch((e: unknown) => e);
    expect(error).toMatchObject({ errorClass, code, platform: 'mt4', server: 'mt4-faults' });
    if (reason) expect(error).toMatchObject({ reason });
  });

  it.each([RET.TECH_PROBLEM, RET.MALFUNCTION, RET.TRADE_TIMEOUT, 77])(
    'a read answered ret %i changed nothing: not sent',
    async (code) => {
      await fault({ endpoint: '/v1/ServerTime', kind: 'error', code, count: 1 });
      await expect(mt4.serverTime()).rejects.toMatchObject({ errorClass: 'not_sent', code });
    },
  );

  it('too frequent requests are not sent (back off and retry)', async () => {
    await fault({ endpoint: '/v1/UserRecordGet', kind: 'rate_limit', perSecond: 1 });
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => mt4.getAccount(login)));
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const e of refused) expect(e).toMatchObject({ errorClass: 'not_sent', code: 8 });
  });

  it('a reply slower than the timeout is ambiguous for a write; the server applies it afterwards', async () => {
    const impatient = new Mt4Connector(connectorConfig(sim, { requestTimeoutMs: 1_000 }));
    try {
      await impatient.ping();
      await fault({ endpoint: '/v1/TradeTransaction', kind: 'latency', latencyMs: 2_000, count: 1 });
      const reference = newReference('deposit');
      const error = await impatient
        .postBalanceOperation({ login, kind: 'balance', amount: 9, reference })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AmbiguousError);
      expect((error as AmbiguousError).serverText).toContain('no reply within 1000 ms');
      await expect
        .poll(() => impatient.findBalanceOperation(login, reference, since()), { timeout: 15_000, interval: 200 })
        .toMatchObject({ amount: 9 });
    } finally {
      await impatient.close();
    }
  });

  it('a slow read is repeated once; a slow call within the timeout just takes longer', async () => {
    const impatient = new Mt4Connector(connectorConfig(sim, { requestTimeoutMs: 1_000 }));
    try {
      await fault({ endpoint: '/v1/UserRecordGet', kind: 'latency', latencyMs: 2_000, count: 1 });
      await expect(impatient.getAccount(login)).resolves.toMatchObject({ login });
    } finally {
      await impatient.close();
    }
    // Longer than the idle-connection limit (4 s): an active request is never cut by it.
    const patient = new Mt4Connector(connectorConfig(sim, { requestTimeoutMs: 10_000 }));
    try {
      await fault({ endpoint: '/v1/TradeTransaction', kind: 'latency', latencyMs: 4_500, count: 1 });
      await expect(
        patient.postBalanceOperation({ login, kind: 'balance', amount: 3, reference: newReference('deposit') }),
      ).resolves.toMatchObject({ ticket: expect.stringMatching(/^\d+$/) });
    } finally {
      await patient.close();
    }
  });

  it('a server-side session drop is transparent: the connector logs in again', async () => {
    await mt4.ping();
    expect(await control(sim, 'POST', '/control/sessions/drop', {})).toMatchObject({ dropped: expect.any(Number) });
    await expect(mt4.getAccount(login)).resolves.toMatchObject({ login });
    await control(sim, 'POST', '/control/sessions/drop', {});
    await expect(mt4.updateAccount(login, { name: 'Faulty Renamed' })).resolves.toMatchObject({
      name: 'Faulty Renamed',
    });
    await control(sim, 'POST', '/control/sessions/drop', {});
    await expect(mt4.setPassword(login, 'investor', 'Again1pass')).resolves.toBeUndefined();
    // A deposit reads the account first (for its group's digits); that read logs in again, so the deposit itself goes
    // out on the new session. (Ret 6 to the deposit itself is left to verification: see the refusal test above.)
    await control(sim, 'POST', '/control/sessions/drop', {});
    const reference = newReference('deposit');
    await expect(mt4.postBalanceOperation({ login, kind: 'balance', amount: 11, reference })).resolves.toBeDefined();
    expect(await mt4.findBalanceOperation(login, reference, since())).toMatchObject({ amount: 11 });
    expect(((await control(sim, 'GET', '/control/sessions')) as unknown[]).length).toBe(1);
  });

  it('after a transport failure the session is checked before a deposit, so a lost session does not make it ambiguous', async () => {
    const session = new Mt4Session(connectorConfig(sim));
    try {
      await session.call({ call: 'Ping', write: false });
      await fault({ endpoint: '/v1/Ping', kind: 'reset', count: 2 });
      await expect(session.call({ call: 'Ping', write: false })).rejects.toBeInstanceOf(NotSentError);
      // The bridge restarted meanwhile, as far as this session can tell: its token is gone.
      await control(sim, 'POST', '/control/sessions/drop', {});
      const comment = newReference('deposit');
      const reply = await session.call({
        call: 'TradeTransaction',
        body: { type: 83, cmd: 6, orderby: login, price: 0.14, comment },
        write: true,
      });
      expect(reply.ret).toBe(0);
      expect(await mt4.findBalanceOperation(login, comment, since())).toMatchObject({ amount: 14 });
    } finally {
      await session.close();
    }
  });

  it('a restart is not sent while the bridge is down, then the connector recovers by itself', async () => {
    await mt4.ping();
    await control(sim, 'POST', '/control/restart', { seconds: 1 });
    await expect(mt4.ping()).rejects.toBeInstanceOf(NotSentError);
    await expect(
      mt4.postBalanceOperation({ login, kind: 'balance', amount: 1, reference: newReference('deposit') }),
    ).rejects.toMatchObject({ errorClass: 'not_sent', serverText: expect.stringContaining('refused') });
    await expect.poll(() => outcome(mt4.ping()), { timeout: 15_000, interval: 200 }).toBe('up');
    // The restart ended the session; after the transport failures the connector checks it before a deposit, so the
    // deposit goes through without becoming ambiguous.
    const reference = newReference('deposit');
    await expect(mt4.postBalanceOperation({ login, kind: 'balance', amount: 12, reference })).resolves.toBeDefined();
    expect(await mt4.findBalanceOperation(login, reference, since())).toMatchObject({ amount: 12 });
  });

  it('a restart in the middle of a deposit is ambiguous; nothing is applied; a later deposit goes through', async () => {
    await fault({ endpoint: '/v1/TradeTransaction', kind: 'down', downSeconds: 1, count: 1 });
    const reference = newReference('deposit');
    await expect(deposit(13, reference)).rejects.toBeInstanceOf(AmbiguousError);
    await expect
      .poll(() => outcome(mt4.findBalanceOperation(login, reference, since())), { timeout: 15_000 })
      .toBe('up');
    expect(await mt4.findBalanceOperation(login, reference, since())).toBeNull();
    await expect(deposit(13, reference)).resolves.toBeDefined();
  });
});

describe('MT4 connector trust and configuration', () => {
  let sim: Sim;
  beforeAll(async () => {
    sim = await startMt4({
      name: 'mt4-trust',
      managers: [
        { login: 1000, password: 'Crm-pass-1', rights: ['admin', 'money', 'see_trades'], groups: 'real-*,!real-vip*' },
        {
          login: 1001,
          password: 'Far-pass-1',
          rights: ['admin', 'money', 'see_trades'],
          groups: 'real-*',
          ipAllow: ['10.0.0.0/8'],
        },
        { login: 1002, password: 'Read-pass-1', rights: ['admin', 'see_trades'], groups: 'real-*' },
        { login: 1003, password: 'Off-pass-1', rights: ['see_trades'], groups: 'real-*', enabled: false },
      ],
    });
  });
  afterAll(async () => sim.close());

  const as = (managerLogin: number, password: string) =>
    new Mt4Connector(connectorConfig(sim, { managerLogin, password }));

  it('refuses a bridge whose certificate it does not trust, without sending anything, a write included', async () => {
    const other = await ensureCertificate(mkdtempSync(join(tmpdir(), 'bd-mt4-other-ca-')));
    const config = connectorConfig(sim, { managerLogin: 1000, password: 'Crm-pass-1', ca: other.cert });
    const connector = new Mt4Connector(config);
    const session = new Mt4Session(config);
    try {
      await expect(connector.ping()).rejects.toMatchObject({
        errorClass: 'not_sent',
        serverText: expect.stringContaining('not trusted'),
      });
      await expect(
        session.call({
          call: 'TradeTransaction',
          body: { type: 83, cmd: 6, orderby: 100_000, price: 1, comment: 'x' },
          write: true,
        }),
      ).rejects.toBeInstanceOf(NotSentError);
    } finally {
      await connector.close();
      await session.close();
    }
  });

  it('reports wrong credentials and a disabled manager as not sent (fix the configuration, nothing is lost)', async () => {
    for (const connector of [as(1000, 'Wrong-pass-1'), as(1003, 'Off-pass-1')]) {
      try {
        await expect(connector.ping()).rejects.toMatchObject({
          errorClass: 'not_sent',
          code: expect.any(Number),
          request: { path: '/v1/Login', params: { password: '[redacted]' } },
        });
      } finally {
        await connector.close();
      }
    }
  });

  it('an IP outside the manager allow-list is definitive (ip_blocked)', async () => {
    const connector = as(1001, 'Far-pass-1');
    try {
      await expect(connector.getGroup(USD)).rejects.toMatchObject({
        errorClass: 'definitive',
        reason: 'ip_blocked',
        code: 7,
      });
    } finally {
      await connector.close();
    }
  });

  it('a manager without the money right gets a definitive no_rights for a deposit', async () => {
    const connector = as(1002, 'Read-pass-1');
    try {
      const { login } = await connector.openAccount({ group: USD, name: 'No Money', leverage: 100, ...passwords });
      await expect(
        connector.postBalanceOperation({ login, kind: 'balance', amount: 100, reference: newReference('deposit') }),
      ).rejects.toMatchObject({ errorClass: 'definitive', reason: 'no_rights', code: 7 });
    } finally {
      await connector.close();
    }
  });

  it('an address where nothing answers is not sent', async () => {
    const connector = new Mt4Connector(
      connectorConfig(sim, { address: 'https://127.0.0.1:9', connectTimeoutMs: 500, requestTimeoutMs: 1_000 }),
    );
    try {
      await expect(connector.ping()).rejects.toBeInstanceOf(NotSentError);
    } finally {
      await connector.close();
    }
  });

  it('a closed connector sends nothing', async () => {
    const connector = as(1000, 'Crm-pass-1');
    await connector.ping();
    await connector.close();
    await expect(connector.ping()).rejects.toMatchObject({ errorClass: 'not_sent' });
    expect((await control(sim, 'GET', '/control/sessions')) as unknown[]).toEqual([]);
  });
});
