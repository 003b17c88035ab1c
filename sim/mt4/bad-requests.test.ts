import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimClock } from '../common/clock.ts';
import { FaultInjector } from '../common/faults.ts';
import { Rng } from '../common/rng.ts';
import { RET } from './codes.ts';
import { resolveConfig } from './config.ts';
import type { ManagerApi } from './manager-api.ts';
import { PumpingHub } from './pumping.ts';
import { registerBridgeRoutes } from './routes.ts';
import { SessionRegistry } from './session.ts';
import type { Mt4TestClient, RawResponse } from './test-client.ts';
import { Harness } from './test-support.ts';

const JSON_HEADERS = { 'content-type': 'application/json' };

function expectEnvelope(res: RawResponse, status: number, ret: number): { message?: string } {
  expect(res.status, res.text).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.body as { ret: number; ret_text: string; message?: string };
  expect(body.ret).toBe(ret);
  expect(typeof body.ret_text).toBe('string');
  // Nothing internal leaks: no stack frames, no source paths.
  expect(res.text).not.toMatch(/\bat \S+ \(|node_modules|\.ts:\d+/);
  return body;
}

describe('MT4 bridge answers to bad requests', () => {
  let h: Harness;
  let crm: Mt4TestClient;

  beforeAll(async () => {
    h = await Harness.start();
    crm = await h.client();
  });
  afterAll(async () => h.close());

  const post = (path: string, body: string, headers: Record<string, string> = JSON_HEADERS) =>
    crm.raw('POST', path, body, { ...headers, 'x-mt4-session': crm.session! });

  it('malformed JSON: 400, ret 3', async () => {
    const body = expectEnvelope(await post('/v1/UserRecordGet', '{"login": 1000'), 400, RET.INVALID_DATA);
    expect(body.message).toContain('not valid JSON');
  });

  it('a body that is not a JSON object: 400, ret 3', async () => {
    for (const text of ['[1,2]', '42', '"login"', 'null', 'true']) {
      expectEnvelope(await post('/v1/UserRecordGet', text), 400, RET.INVALID_DATA);
    }
  });

  it('wrong types and values: 200, ret 3, naming the field', async () => {
    const cases: [string, object, string][] = [
      ['UserRecordGet', { login: '100000' }, 'login'],
      ['UserRecordGet', { login: 1.5 }, 'login'],
      ['UserRecordGet', { login: -1 }, 'login'],
      ['UserRecordGet', {}, 'login'],
      ['UserRecordNew', { group: 'real-std-usd', name: 'X', password: 'Secret123', enable: true }, 'enable'],
      ['TradeTransaction', { type: 83, cmd: 6, orderby: 100000, price: '10' }, 'price'],
      ['TradeTransaction', { type: 83, cmd: 8, orderby: 100000, price: 10 }, 'cmd'],
      ['TradesUserHistory', { login: 100000, from: '2024-01-01', to: 0 }, 'from'],
      ['UserRecordsRequest', { logins: [] }, 'logins'],
      ['UserRecordsRequest', { logins: 'all' }, 'logins'],
    ];
    for (const [call, args, field] of cases) {
      const res = await post(`/v1/${call}`, JSON.stringify(args));
      const body = expectEnvelope(res, 200, RET.INVALID_DATA);
      expect(body.message, `${call} ${JSON.stringify(args)}`).toContain(field);
    }
  });

  it('unknown fields are refused (3), so a misspelt field never passes silently', async () => {
    const body = expectEnvelope(
      await post('/v1/UserRecordUpdate', JSON.stringify({ login: 100000, enableReadOnly: 1 })),
      200,
      RET.INVALID_DATA,
    );
    expect(body.message).toContain('enableReadOnly');
    expectEnvelope(await post('/v1/Ping', '{"__proto__": {"admin": 1}}'), 200, RET.INVALID_DATA);
    expectEnvelope(await post('/v1/Ping', '{"constructor": {"prototype": {"x": 1}}}'), 200, RET.INVALID_DATA);
  });

  it('numbers JSON cannot hold as doubles are refused', async () => {
    const login = await h.openAccount(crm, 'real-std-usd');
    const res = await post('/v1/TradeTransaction', `{"type":83,"cmd":6,"orderby":${login},"price":1e400}`);
    expectEnvelope(res, 200, RET.INVALID_DATA);
    expect(await h.history(crm, login)).toEqual([]);
  });

  it('unknown endpoint: 404, ret 2; wrong method: 405 with Allow', async () => {
    expectEnvelope(await post('/v1/UserRecordDelete', '{}'), 404, RET.ERROR);
    expectEnvelope(await crm.raw('GET', '/'), 404, RET.ERROR);
    expectEnvelope(await crm.raw('GET', '/control/status'), 404, RET.ERROR);
    const get = await crm.raw('GET', '/v1/Login');
    expectEnvelope(get, 405, RET.ERROR);
    expect(get.headers.allow).toBe('POST');
    const postPumping = await post('/v1/Pumping', '{}');
    expectEnvelope(postPumping, 405, RET.ERROR);
    expect(postPumping.headers.allow).toBe('GET');
  });

  it('not JSON: 415; too large: 413; both ret 3', async () => {
    expectEnvelope(await post('/v1/Ping', 'login=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 3);
    expectEnvelope(await post('/v1/Ping', '{}', { 'content-type': 'text/plain' }), 415, RET.INVALID_DATA);
    const huge = JSON.stringify({ logins: Array.from({ length: 200_000 }, (_, i) => i + 1) });
    expectEnvelope(await post('/v1/UserRecordsRequest', huge), 413, RET.INVALID_DATA);
  });

  it('an empty body is an empty argument list', async () => {
    expectEnvelope(await post('/v1/ServerTime', ''), 200, RET.OK);
    expectEnvelope(await crm.raw('POST', '/v1/Ping', undefined, { 'x-mt4-session': crm.session! }), 200, RET.OK);
  });

  it('is still serving after all of that', async () => {
    expect((await crm.call('Ping')).ret).toBe(RET.OK);
    expect((await h.control.get<{ listening: boolean }>('/control/status')).listening).toBe(true);
  });

  it('an internal failure is 500 / ret 9 with no stack trace, and is reported to the operator', async () => {
    const clock = new SimClock();
    const config = resolveConfig({}, 'pw-for-test');
    const sessions = new SessionRegistry(config.managers, () => 0);
    const pumping = new PumpingHub(() => 0, clock, 0);
    const reported: string[] = [];
    const app = Fastify({ logger: false });
    const api = {
      Login: () => {
        throw new TypeError('secret internals at /srv/bridge/db.ts:42');
      },
    } as unknown as ManagerApi;
    registerBridgeRoutes(app, {
      api,
      sessions,
      faults: new FaultInjector(new Rng(1)),
      pumping,
      goDown: async () => {},
      logError: (message, error) => reported.push(`${message}: ${(error as Error).message}`),
    });
    try {
      const res = await app.inject({ method: 'POST', url: '/v1/Login', payload: { login: 1000, password: 'x' } });
      expect(res.statusCode).toBe(500);
      expect(res.json()).toEqual({
        ret: RET.MALFUNCTION,
        ret_text: 'Malfunction',
        message: 'internal error in the bridge; the call may or may not have been applied',
      });
      expect(reported).toEqual(['Login failed: secret internals at /srv/bridge/db.ts:42']);
    } finally {
      pumping.close();
      await app.close();
    }
  });
});
