/** Each injected fault kind, as a connector meets it over the wire. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { field, Mt5TestClient } from './test-client.ts';
import { allDeals, deposit, openAccount, startTestSim, type TestSim } from './test-support.ts';

let t: TestSim;
let c: Mt5TestClient;
let login: number;

beforeAll(async () => {
  t = await startTestSim();
  c = await t.authed();
  login = await openAccount(c, 'real\\standard-usd');
  await deposit(c, login, 1000, 'seed');
});
afterEach(async () => {
  await t.control('DELETE', '/control/faults');
});
afterAll(async () => {
  await t?.close();
});

async function addFault(rule: Record<string, unknown>): Promise<void> {
  const r = await t.control('POST', '/control/faults', rule);
  expect(r.status, JSON.stringify(r.json)).toBe(201);
}

async function balance(): Promise<string> {
  const probe = await t.authed();
  const reply = await probe.get('/api/user/get', { login });
  probe.close();
  return String(field(reply.answer, 'balance'));
}

async function dealComments(): Promise<string[]> {
  const probe = await t.authed();
  const deals = await allDeals(probe, login);
  probe.close();
  return deals.map((d) => d.Comment!);
}

describe('fault kinds', () => {
  it('drop_reply: applies the operation, then drops the connection without a reply', async () => {
    await addFault({ endpoint: '/api/trade/balance', kind: 'drop_reply', count: 1 });
    const before = await balance();
    const client = await t.authed();
    await expect(
      client.get('/api/trade/balance', { login, type: 2, balance: 250, comment: 'ref:DROP1' }),
    ).rejects.toThrow();
    // The client cannot know, but the server applied it: the reference is in the history and the money is there.
    expect(await dealComments()).toContain('ref:DROP1');
    expect(Number(await balance())).toBeCloseTo(Number(before) + 250, 2);
    // The fault is spent: the next operation gets its reply.
    expect(
      (await (await t.authed()).get('/api/trade/balance', { login, type: 2, balance: 1, comment: 'after' })).retcode,
    ).toBe(0);
  });

  it('reset: drops the connection before applying anything', async () => {
    await addFault({ endpoint: '/api/trade/balance', kind: 'reset', count: 1 });
    const before = await balance();
    const client = await t.authed();
    await expect(
      client.get('/api/trade/balance', { login, type: 2, balance: 75, comment: 'ref:RESET1' }),
    ).rejects.toThrow();
    expect(await dealComments()).not.toContain('ref:RESET1');
    expect(await balance()).toBe(before);
  });

  it('refuse: answers "no connection" (10) to commands and "server busy" (1018) to the handshake, applying nothing', async () => {
    await addFault({ endpoint: '/api/trade/balance', kind: 'refuse', count: 1 });
    const reply = await c.get('/api/trade/balance', { login, type: 2, balance: 33, comment: 'ref:REFUSE1' });
    expect(reply.body).toEqual({ retcode: '10 No connection' });
    expect(await dealComments()).not.toContain('ref:REFUSE1');

    await addFault({ endpoint: '/api/auth/start', kind: 'refuse', count: 1 });
    const fresh = t.client();
    expect((await fresh.start()).body.retcode).toBe('1018 Server is busy');
    await fresh.authenticate();
  });

  it('error: answers the given retcode without applying', async () => {
    await addFault({ endpoint: '/api/trade/balance', kind: 'error', code: 15, count: 1 });
    const reply = await c.get('/api/trade/balance', { login, type: 2, balance: 44, comment: 'ref:ERR15' });
    expect(reply.body.retcode).toBe('15 Server shutdown in progress');
    expect(await dealComments()).not.toContain('ref:ERR15');
  });

  it('rate_limit: beyond perSecond requests get 12 and are not applied', async () => {
    await addFault({ endpoint: '/api/trade/balance', kind: 'rate_limit', perSecond: 1 });
    const codes: number[] = [];
    const started = performance.now();
    for (let i = 0; i < 10; i++) {
      codes.push((await c.get('/api/trade/balance', { login, type: 2, balance: 1, comment: `ref:RL${i}` })).retcode);
    }
    const seconds = (performance.now() - started) / 1000;
    const ok = codes.filter((x) => x === 0).length;
    expect(codes.filter((x) => x !== 0 && x !== 12)).toEqual([]);
    expect(codes).toContain(12);
    // One request per (simulated-clock) second gets through: at most one per second boundary crossed, plus one.
    expect(ok).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    const applied = (await dealComments()).filter((x) => x.startsWith('ref:RL'));
    expect(applied.length).toBe(codes.filter((x) => x === 0).length);
  });

  it('latency: the reply comes late (a slow server), then things are normal again', async () => {
    await addFault({ endpoint: '/api/time/server', kind: 'latency', latencyMs: 300, count: 1 });
    const started = performance.now();
    expect((await c.get('/api/time/server')).retcode).toBe(0);
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
  });

  it('latency beyond the client timeout: the client gives up, the server still applies it', async () => {
    await addFault({ endpoint: '/api/trade/balance', kind: 'latency', latencyMs: 400, count: 1 });
    const impatient = new Mt5TestClient({ url: t.sim.url, ca: t.ca, ...t.sim.manager, timeoutMs: 100 });
    try {
      await impatient.authenticate();
      await expect(
        impatient.get('/api/trade/balance', { login, type: 2, balance: 9, comment: 'ref:SLOW1' }),
      ).rejects.toThrow(/timeout/);
    } finally {
      impatient.close();
    }
    const deadline = Date.now() + 10_000;
    while (!(await dealComments()).includes('ref:SLOW1')) {
      if (Date.now() > deadline) throw new Error('the slow operation was never applied');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  it('matches endpoints by prefix and counts how often a rule fired', async () => {
    await addFault({ endpoint: '/api/user/*', kind: 'error', code: 1018, count: 2 });
    expect((await c.get('/api/user/get', { login })).retcode).toBe(1018);
    expect((await c.get('/api/time/server')).retcode).toBe(0);
    expect((await c.get('/api/user/account/get', { login })).retcode).toBe(1018);
    expect((await c.get('/api/user/get', { login })).retcode).toBe(0);
  });

  it('down: drops every connection, refuses new ones for a while, then comes back by itself', async () => {
    await addFault({ endpoint: '/api/trade/balance', kind: 'down', downSeconds: 1.5, count: 1 });
    const other = await t.authed();
    const otherDropped = other.whenDisconnected();
    await expect(c.get('/api/trade/balance', { login, type: 2, balance: 5, comment: 'ref:DOWN1' })).rejects.toThrow();
    await otherDropped;
    const refused = await t
      .client()
      .start()
      .then(
        () => 'answered',
        (err: NodeJS.ErrnoException) => err.code,
      );
    expect(refused).toBe('ECONNREFUSED');
    c = await waitUntilUp();
    expect(await dealComments()).not.toContain('ref:DOWN1');
  });
});

describe('faults from the start', () => {
  it('applies rules given in the options before any control call', async () => {
    const s = await startTestSim({ faults: [{ endpoint: '/api/test/access', kind: 'error', code: 7, count: 1 }] });
    try {
      const client = await s.authed();
      expect((await client.get('/api/test/access')).body.retcode).toBe('7 Network error');
      expect((await client.get('/api/test/access')).retcode).toBe(0);
    } finally {
      await s.close();
    }
  });
});

describe('restart through the control API', () => {
  it('drops sessions, refuses connections, comes back on the same port with the same data', async () => {
    const client = await t.authed();
    const dropped = client.whenDisconnected();
    const r = await t.control('POST', '/control/restart', { seconds: 0.3 });
    expect(r.status).toBe(200);
    await dropped;
    c = await waitUntilUp();
    expect(field((await c.get('/api/user/get', { login })).answer, 'login')).toBe(String(login));
  });
});

/** Polls with fresh connections until the simulator accepts a handshake again (it was down on purpose). */
async function waitUntilUp(): Promise<Mt5TestClient> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const client = t.client();
    try {
      await client.authenticate();
      return client;
    } catch (err) {
      client.close();
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
