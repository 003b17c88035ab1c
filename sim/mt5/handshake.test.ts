/** The handshake, connection-bound sessions, the idle drop and manager fencing, over the real protocol. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { challengeAnswer, webApiPasswordHash } from './auth.ts';
import { field, Mt5ProtocolError } from './test-client.ts';
import { BLOCKED_MANAGER, READONLY_MANAGER, startTestSim, type TestSim } from './test-support.ts';

let t: TestSim;
beforeAll(async () => {
  t = await startTestSim();
});
afterAll(async () => {
  await t?.close();
});

describe('authentication handshake', () => {
  it('completes with the server proving it knows the password too', async () => {
    const c = t.client();
    const start = await c.start();
    expect(start.status).toBe(200);
    expect(start.body.retcode).toBe('0 Done');
    expect(String(field(start.body, 'srv_rand'))).toMatch(/^[0-9a-f]{32}$/);
    expect(String(field(start.body, 'version_access'))).toMatch(/^\d+$/);
    const { reply, cliRand } = await c.answer(start);
    expect(reply.body.retcode).toBe('0 Done');
    expect(field(reply.body, 'cli_rand_answer')).toBe(
      challengeAnswer(webApiPasswordHash(t.sim.manager.password), cliRand),
    );
    expect(String(field(reply.body, 'version_trade'))).toMatch(/^\d+$/);
    expect((await c.get('/api/test/access')).retcode).toBe(0);
  });

  it('refuses a wrong password with 1001 and leaves the connection unauthenticated', async () => {
    const c = t.client();
    const { reply } = await c.answer(await c.start(), 'Wrong-Pass1!');
    expect(reply.body.retcode).toBe('1001 Invalid account');
    const after = await c.get('/api/test/access');
    expect(after.status).toBe(403);
    expect(after.retcode).toBe(8);
  });

  it('gives an unknown login a challenge (no account enumeration) and then 1001', async () => {
    const c = t.client({ login: 4242, password: 'Whatever1!' });
    const start = await c.start();
    expect(start.retcode).toBe(0);
    expect((await c.answer(start)).reply.retcode).toBe(1001);
  });

  it('refuses clients older than build 484 with 1010', async () => {
    const c = t.client();
    expect((await c.start({ version: 483 })).body.retcode).toBe('1010 Client has old version');
    expect((await c.start({ version: 484 })).retcode).toBe(0);
  });

  it('checks the start parameters', async () => {
    const c = t.client();
    expect((await c.start({ agent: 'has space' })).retcode).toBe(3);
    expect((await c.start({ type: 'client' })).retcode).toBe(1000);
    expect((await c.start({ login: 'abc' })).retcode).toBe(3);
    expect((await c.get('/api/auth/start', { agent: 'x', login: 1000, type: 'manager' })).retcode).toBe(3);
  });

  it('accepts an answer without a start only as a protocol error', async () => {
    const c = t.client();
    const reply = await c.get('/api/auth/answer', { srv_rand_answer: '0'.repeat(32), cli_rand: '1'.repeat(32) });
    expect(reply.retcode).toBe(3);
  });

  it('uses each srv_rand once', async () => {
    const c = t.client();
    const start = await c.start();
    expect((await c.answer(start, 'Wrong-Pass1!')).reply.retcode).toBe(1001);
    // The right answer to the same (spent) challenge no longer works.
    expect((await c.answer(start)).reply.retcode).toBe(3);
  });

  it('allows 10 s between start and answer on the simulated clock, not more', async () => {
    const late = t.client();
    const start = await late.start();
    await t.advance(11);
    expect((await late.answer(start)).reply.body.retcode).toBe('9 Operation timeout');

    const inTime = t.client();
    const start2 = await inTime.start();
    await t.advance(8); // leaves 2 s of real time for the requests themselves on a loaded machine
    expect((await inTime.answer(start2)).reply.retcode).toBe(0);
  });

  it("proves the server's identity per client challenge", async () => {
    const hash = webApiPasswordHash(t.sim.manager.password);
    const answers = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const c = t.client();
      const { reply, cliRand } = await c.answer(await c.start());
      expect(field(reply.body, 'cli_rand_answer')).toBe(challengeAnswer(hash, cliRand));
      answers.add(String(field(reply.body, 'cli_rand_answer')));
    }
    expect(answers.size).toBe(2);
  });
});

describe('sessions belong to the connection', () => {
  it('does not authenticate a request on another connection', async () => {
    const a = await t.authed();
    expect((await a.get('/api/time/server')).retcode).toBe(0);
    const b = t.client();
    const reply = await b.get('/api/time/server');
    expect(reply.status).toBe(403);
    expect(reply.retcode).toBe(8);
    expect(a.connections).toBe(1);
    expect(b.connections).toBe(1);
  });

  it('closes a connection after 180 s of silence on the simulated clock', async () => {
    const c = await t.authed();
    const dropped = c.whenDisconnected();
    await t.advance(181);
    await dropped;
    const after = await c.get('/api/test/access');
    expect(c.connections).toBe(2);
    expect(after.status).toBe(403);
    await c.authenticate();
    expect((await c.get('/api/test/access')).retcode).toBe(0);
  });

  it('keeps a session that pings /api/test/access inside the limit', async () => {
    const c = await t.authed();
    let dropped = false;
    void c.whenDisconnected().then(() => {
      dropped = true;
    });
    for (let i = 0; i < 3; i++) {
      await t.advance(170);
      expect((await c.get('/api/test/access')).retcode).toBe(0);
    }
    expect(dropped).toBe(false);
    expect(c.connections).toBe(1);
  });

  it('ends the session on /api/quit and closes the connection', async () => {
    const c = await t.authed();
    const closed = c.whenDisconnected();
    const reply = await c.get('/api/quit');
    expect(reply.body.retcode).toBe('0 Done');
    await closed;
    expect((await c.get('/api/test/access')).status).toBe(403);
  });

  it('ends an old session when a new handshake starts on the connection', async () => {
    const c = await t.authed();
    await c.start();
    expect((await c.get('/api/test/access')).status).toBe(403);
  });

  it('reports connections and sessions on the control API', async () => {
    const c = await t.authed();
    const r = await t.control('GET', '/control/sessions');
    expect(r.status).toBe(200);
    expect(Number(r.json.sessions)).toBeGreaterThanOrEqual(1);
    expect(Number(r.json.connections)).toBeGreaterThanOrEqual(Number(r.json.sessions));
    c.close();
  });
});

describe('manager fencing', () => {
  it('blocks a manager whose IP allow-list excludes the client with 1012', async () => {
    const c = t.client(BLOCKED_MANAGER);
    const error = await c.authenticate().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Mt5ProtocolError);
    expect((error as Mt5ProtocolError).retcode).toBe(1012);
    expect((await c.get('/api/test/access')).status).toBe(403);
  });

  it('lets a read-only manager read but not write (8)', async () => {
    const crm = await t.authed();
    const ro = await t.authed(READONLY_MANAGER);
    const add = await crm.post(
      '/api/user/add',
      { group: 'real\\standard-usd', name: 'Fenced', leverage: 100 },
      { PassMain: 'Strong-Pass1', PassInvestor: 'Strong-Pass1' },
    );
    const login = Number(field(add.answer, 'login'));
    expect((await ro.get('/api/user/get', { login })).retcode).toBe(0);
    expect((await ro.get('/api/trade/balance', { login, type: 2, balance: 10 })).body.retcode).toBe(
      '8 Not enough permissions',
    );
    expect((await ro.get('/api/user/update', { login, name: 'x' })).retcode).toBe(8);
    expect((await ro.get('/api/user/delete', { login })).retcode).toBe(8);
    expect((await ro.get('/api/user/check_password', { login, type: 'main', password: 'Strong-Pass1' })).retcode).toBe(
      8,
    );
    expect((await crm.get('/api/user/get', { login })).answer).toMatchObject({ Name: 'Fenced' });
  });
});
