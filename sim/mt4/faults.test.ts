import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RET } from './codes.ts';
import { type Mt4TestClient, TransportError } from './test-client.ts';
import { Harness } from './test-support.ts';

/** Retries `attempt` until it stops throwing; for behaviour that depends on real time (latency, a restart's end). */
async function eventually<T>(attempt: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function transportFailure(promise: Promise<unknown>): Promise<TransportError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TransportError) return error;
    throw error;
  }
  throw new Error('expected the call to fail without a reply');
}

describe('MT4 bridge under injected faults', () => {
  let h: Harness;
  let crm: Mt4TestClient;

  beforeAll(async () => {
    h = await Harness.start({
      faults: [{ endpoint: '/v1/ServerTime', kind: 'error', code: RET.TECH_PROBLEM, count: 1 }],
    });
    crm = await h.client();
  });
  afterAll(async () => h.close());

  const addFault = (rule: Record<string, unknown>) => h.control.post<{ id: number }>('/control/faults', rule);
  const balance = async (login: number) => (await crm.ok('UserRecordGet', { login })).user.balance;

  it('starts with the rules given in the options', async () => {
    expect((await crm.call('ServerTime')).ret).toBe(RET.TECH_PROBLEM);
    expect((await crm.call('ServerTime')).ret).toBe(RET.OK);
  });

  it('drop_reply: the deposit IS applied although no reply came; the client finds it by comment', async () => {
    const login = await h.openAccount(crm, 'real-std-usd');
    await addFault({ endpoint: '/v1/TradeTransaction', kind: 'drop_reply', count: 1 });
    const lost = crm.call('TradeTransaction', { type: 83, cmd: 6, orderby: login, price: 2000, comment: 'BD-LOST-1' });
    await transportFailure(lost);
    // The connector's move: look the reference up before any retry. It is there, so it must not post again.
    const fresh = await h.client();
    const history = await h.history(fresh, login);
    expect(history.filter((t) => t.comment === 'BD-LOST-1')).toHaveLength(1);
    expect(history[0]).toMatchObject({ cmd: 6, profit: 2000 });
    expect(await balance(login)).toBe(2000);
    // The session survived: only the reply was lost.
    expect((await crm.call('Ping')).ret).toBe(RET.OK);
  });

  it('reset: the connection is cut before anything is applied', async () => {
    const login = await h.openAccount(crm, 'real-std-usd');
    await addFault({ endpoint: '/v1/TradeTransaction', kind: 'reset', count: 1 });
    await transportFailure(
      crm.call('TradeTransaction', { type: 83, cmd: 6, orderby: login, price: 50, comment: 'BD-RST' }),
    );
    expect(await h.history(crm, login)).toEqual([]);
    expect(await balance(login)).toBe(0);
  });

  it('refuse: answers 6 (or the rule code, e.g. 137) and applies nothing', async () => {
    const login = await h.openAccount(crm, 'real-std-usd');
    await addFault({ endpoint: '/v1/TradeTransaction', kind: 'refuse', count: 1 });
    await addFault({ endpoint: '/v1/UserRecordUpdate', kind: 'refuse', code: RET.BROKER_BUSY, count: 1 });
    const refused = await crm.call('TradeTransaction', { type: 83, cmd: 6, orderby: login, price: 50 });
    expect(refused.ret).toBe(RET.NO_CONNECT);
    expect(refused.order).toBeUndefined();
    const busy = await crm.call('UserRecordUpdate', { login, leverage: 50 });
    expect(busy.ret).toBe(RET.BROKER_BUSY);
    expect(busy.user).toBeUndefined();
    expect(await h.history(crm, login)).toEqual([]);
    expect((await crm.ok('UserRecordGet', { login })).user.leverage).toBe(100);
    // Only a refusal, not a dropped session: the same session carries on.
    expect((await crm.call('TradeTransaction', { type: 83, cmd: 6, orderby: login, price: 50 })).ret).toBe(RET.OK);
  });

  it('error: answers the rule code (128 trade timeout) and applies nothing', async () => {
    const login = await h.openAccount(crm, 'real-std-usd');
    await addFault({ endpoint: '/v1/TradeTransaction', kind: 'error', code: RET.TRADE_TIMEOUT, count: 1 });
    const reply = await crm.call('TradeTransaction', {
      type: 83,
      cmd: 6,
      orderby: login,
      price: 75,
      comment: 'BD-TMO',
    });
    expect(reply.ret).toBe(RET.TRADE_TIMEOUT);
    expect(reply.ret_text).toBe('Trade timeout');
    expect(await h.history(crm, login)).toEqual([]);
  });

  it('latency: a client that gives up early sees a timeout, yet the server applies the deposit afterwards', async () => {
    const login = await h.openAccount(crm, 'real-std-usd');
    await addFault({ endpoint: '/v1/TradeTransaction', kind: 'latency', latencyMs: 600, count: 1 });
    const impatient = await h.client();
    const started = Date.now();
    const failure = await transportFailure(
      impatient.call('TradeTransaction', { type: 83, cmd: 6, orderby: login, price: 30, comment: 'BD-SLOW' }, 100),
    );
    expect(failure.code).toBe('ETIMEDOUT');
    const applied = await eventually(async () => {
      const found = (await h.history(crm, login)).find((t) => t.comment === 'BD-SLOW');
      if (!found) throw new Error('not applied yet');
      return found;
    });
    expect(applied.profit).toBe(30);
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
  });

  it('latency without a client timeout only delays the answer', async () => {
    await addFault({ endpoint: '/v1/Ping', kind: 'latency', latencyMs: 300, count: 1 });
    const started = Date.now();
    expect((await crm.call('Ping')).ret).toBe(RET.OK);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it('rate_limit: requests beyond perSecond answer 8 (too frequent) and are not applied', async () => {
    const login = await h.openAccount(crm, 'real-std-usd');
    const rule = await addFault({ endpoint: '/v1/TradeTransaction', kind: 'rate_limit', perSecond: 1 });
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        crm.call('TradeTransaction', { type: 83, cmd: 6, orderby: login, price: 1, comment: `rl-${i}` }),
      ),
    );
    await h.control.request('DELETE', `/control/faults/${rule.id}`);
    const ok = replies.filter((r) => r.ret === RET.OK).length;
    const limited = replies.filter((r) => r.ret === RET.TOO_FREQUENT).length;
    expect(ok).toBeGreaterThanOrEqual(1);
    expect(limited).toBeGreaterThanOrEqual(1);
    expect(ok + limited).toBe(10);
    expect(await h.history(crm, login)).toHaveLength(ok);
  });

  it('counts and probabilities: a rule with count 2 fires twice, then is spent; prefixes match many calls', async () => {
    const rule = await addFault({ endpoint: '/v1/User*', kind: 'error', code: RET.MALFUNCTION, count: 2 });
    const login = await h.openAccount(crm, 'real-std-usd').catch(() => 0);
    expect(login).toBe(0);
    expect((await crm.call('UserRecordGet', { login: 1 })).ret).toBe(RET.MALFUNCTION);
    const rules = await h.control.get<{ id: number }[]>('/control/faults');
    expect(rules.map((r) => r.id)).not.toContain(rule.id);
    expect((await crm.call('UserRecordGet', { login: 1 })).ret).toBe(RET.BAD_ACCOUNT_INFO);
    const never = await addFault({ endpoint: '*', kind: 'error', code: RET.ERROR, probability: 0 });
    expect((await crm.call('Ping')).ret).toBe(RET.OK);
    await h.control.request('DELETE', `/control/faults/${never.id}`);
  });

  it('down: the server restarts, refuses connections, drops sessions, comes back with state intact', async () => {
    const login = await h.openAccount(crm, 'real-std-usd');
    await h.deposit(crm, login, 123);
    await addFault({ endpoint: '/v1/Ping', kind: 'down', downSeconds: 2, count: 1 });
    await transportFailure(crm.call('Ping'));
    const probe = h.anonymous({ timeoutMs: 2000 });
    const refused = await transportFailure(
      probe.call('Login', { login: h.sim.manager.login, password: h.sim.manager.password }),
    );
    expect(refused.code).toBe('ECONNREFUSED');
    const status = await h.control.get<{ listening: boolean }>('/control/status');
    expect(status.listening).toBe(false);

    await eventually(() => probe.login(h.sim.manager.login, h.sim.manager.password));
    // The restart ended the old session: ret 6 tells the client to log in again.
    expect((await crm.call('Ping')).ret).toBe(RET.NO_CONNECT);
    await crm.login(h.sim.manager.login, h.sim.manager.password);
    expect(await balance(login)).toBe(123);
  });

  it('restart through the control API behaves the same', async () => {
    await h.control.post('/control/restart', { seconds: 2 });
    await transportFailure(h.anonymous({ timeoutMs: 2000 }).call('Ping'));
    await eventually(() => crm.login(h.sim.manager.login, h.sim.manager.password));
    expect((await crm.call('Ping')).ret).toBe(RET.OK);
  });
});
