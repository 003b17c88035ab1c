/** Whatever arrives, the answer is a protocol reply (never a crash, never a stack trace); plus plain HTTP and demo. */
import { connect as tlsConnect } from 'node:tls';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { field, type Mt5TestClient } from './test-client.ts';
import { deposit, openAccount, startTestSim, type TestSim } from './test-support.ts';

let t: TestSim;
let c: Mt5TestClient;
let login: number;

beforeAll(async () => {
  t = await startTestSim();
  c = await t.authed();
  login = await openAccount(c, 'real\\standard-usd');
  await deposit(c, login, 100);
});
afterAll(async () => {
  await t?.close();
});

/** Sends raw bytes over a TLS connection that pins the simulator's certificate; resolves with all it answers. */
function rawTls(bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: t.sim.port, ca: t.ca }, () => socket.end(bytes));
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('utf8');
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('bad requests get the protocol error', () => {
  it('unknown endpoints: 404 with retcode 3, authenticated or not', async () => {
    for (const client of [c, t.client()]) {
      const reply = await client.get('/api/no/such/thing', { login });
      expect(reply.status).toBe(404);
      expect(reply.body).toEqual({ retcode: '3 Invalid parameters' });
    }
    expect((await c.get('/')).status).toBe(404);
  });

  it('accepts paths in any case and with a trailing slash', async () => {
    expect((await c.get('/API/User/Get/', { login })).retcode).toBe(0);
  });

  it('other HTTP methods: 405 with retcode 3', async () => {
    const reply = await c.request('PUT', '/api/user/get', { login });
    expect(reply.status).toBe(405);
    expect(reply.retcode).toBe(3);
    expect((await c.request('DELETE', '/api/user/delete', { login })).retcode).toBe(3);
    expect(field((await c.get('/api/user/get', { login })).answer, 'login')).toBe(String(login));
  });

  it('malformed values, encodings and bodies: retcode 3', async () => {
    expect((await c.get('/api/user/get', { login: '%ZZ' })).retcode).toBe(3);
    expect((await c.get('/api/user/get', { login: '99999999999999999999' })).retcode).toBe(3);
    expect((await c.get('/api/user/get', { login: '1e3' })).retcode).toBe(3);
    expect((await c.get('/api/trade/balance', { login, type: 2, balance: 'NaN' })).retcode).toBe(3);
    expect((await c.get('/api/trade/balance', { login, type: 2, balance: 'Infinity' })).retcode).toBe(3);
    expect((await c.post('/api/user/update', { login }, '{"Name":')).retcode).toBe(3);
    expect((await c.post('/api/user/update', { login }, 'null')).retcode).toBe(0);
    expect((await c.post('/api/user/update', { login }, '"just a string"')).retcode).toBe(3);
  });

  it('a body over 1 MB: 413 with retcode 3, and the connection is closed', async () => {
    const big = t.client();
    const reply = await big.post('/api/user/add', {}, { Name: 'x'.repeat(1_100_000) });
    expect(reply.status).toBe(413);
    expect(reply.retcode).toBe(3);
  });

  it('headers too large or bytes that are not HTTP: 400 with retcode 3', async () => {
    const huge = await t.client().get('/api/test/access', { pad: 'y'.repeat(20_000) });
    expect(huge.status).toBe(400);
    expect(huge.retcode).toBe(3);
    const garbage = await rawTls('\u0000\u0001NOT HTTP AT ALL\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400/);
    expect(garbage).toContain('"retcode":"3 Invalid parameters"');
  });

  it('random parameters on every endpoint never produce a 500 or a non-protocol answer', async () => {
    const endpoints = [
      '/api/auth/start',
      '/api/user/add',
      '/api/user/update',
      '/api/user/get',
      '/api/user/get_batch',
      '/api/user/logins',
      '/api/user/delete',
      '/api/user/change_password',
      '/api/user/check_password',
      '/api/user/account/get',
      '/api/trade/balance',
      '/api/deal/get',
      '/api/deal/get_total',
      '/api/deal/get_page',
      '/api/position/get_page',
      '/api/order/get_page',
      '/api/history/get_page',
      '/api/group/get',
      '/api/group/next',
      '/api/time/server',
    ];
    const key = fc.constantFrom(
      'login',
      'group',
      'type',
      'balance',
      'from',
      'to',
      'offset',
      'total',
      'ticket',
      'index',
      'name',
      'leverage',
      'password',
      'rights',
      'comment',
      'junk',
    );
    const value = fc.oneof(
      fc.string(),
      fc.integer().map(String),
      fc.double().map(String),
      fc.constantFrom('', '-1', '0', String(login), 'real\\*', '!x,*'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...endpoints),
        fc.dictionary(key, value, { maxKeys: 6 }),
        fc.boolean(),
        async (path, params, asBody) => {
          if (path === '/api/auth/start') return; // would end the session this property relies on
          const reply = asBody ? await c.post(path, {}, params) : await c.get(path, params);
          expect(reply.status).toBe(200);
          expect(String(reply.body.retcode)).toMatch(/^\d+ \S/);
          expect(JSON.stringify(reply.body)).not.toMatch(/at .*\.ts:\d+/);
        },
      ),
      { numRuns: 250, seed: 20240601 },
    );
    expect((await c.get('/api/test/access')).retcode).toBe(0);
  });
});

describe('plain HTTP, only when asked', () => {
  it('speaks the same protocol without TLS and has no certificate', async () => {
    const s = await startTestSim({ plainHttp: true });
    try {
      expect(s.sim.url).toMatch(/^http:\/\//);
      expect(s.sim.certPath).toBeUndefined();
      const client = await s.authed();
      expect((await client.get('/api/time/server')).retcode).toBe(0);
    } finally {
      await s.close();
    }
  });

  it('serves HTTPS whose certificate validates for 127.0.0.1 when pinned', async () => {
    expect(t.sim.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    await expect(rawTls('GET /api/test/access HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).resolves.toMatch(
      /403/,
    );
  });
});

describe('environments', () => {
  it('demo has demo groups and logins that can never collide with live ones', async () => {
    const demo = await startTestSim({ environment: 'demo' });
    try {
      expect(demo.sim.groups.map((g) => g.name)).toEqual([
        'demo\\standard-usd',
        'demo\\pro-eur',
        'demo\\standard-jpy',
        'demo\\vip-usd',
      ]);
      const client = await demo.authed();
      const demoLogin = await openAccount(client, 'demo\\standard-usd');
      expect(demoLogin).toBeGreaterThanOrEqual(5_000_000);
      expect(login).toBeLessThan(5_000_000);
      expect(
        (await client.post('/api/user/add', { group: 'real\\standard-usd', name: 'x', leverage: 100 }, {})).retcode,
      ).toBe(8);
      expect(demo.sim.banner()).toContain('demo\\standard-usd');
    } finally {
      await demo.close();
    }
  });

  it('prints a banner with address, certificate, manager, control and groups', () => {
    const banner = t.sim.banner();
    for (const part of [
      t.sim.url,
      t.sim.certPath!,
      String(t.sim.manager.login),
      t.sim.manager.password,
      t.sim.controlUrl,
      t.sim.controlToken,
      'real\\pro-eur',
    ]) {
      expect(banner).toContain(part);
    }
  });
});
