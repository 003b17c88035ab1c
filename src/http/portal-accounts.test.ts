import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountsTestbed, type Testbed } from '../../test/support/accounts-testbed.ts';
import { isValidTradingPassword } from '../modules/accounts/password.ts';
import { ClientSessions } from '../modules/clients/sessions.ts';
import { buildApp } from './app.ts';

describe('client portal: accounts', () => {
  let t: Testbed;
  let app: FastifyInstance;
  let sessions: ClientSessions;

  beforeAll(async () => {
    t = await accountsTestbed();
    sessions = new ClientSessions(t.database, t.clock);
    app = await buildApp(t.ctx, { clientSessions: sessions });
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  async function signedIn(kycStatus: 'approved' | 'pending' = 'approved') {
    const clientId = await t.addClient({ kycStatus });
    const session = await sessions.open(clientId);
    return { clientId, cookie: `bd_client=${session.token}` };
  }

  it('lists enabled products and opens an account of one, only for signed-in clients', async () => {
    const productId = await t.product();
    const hidden = await t.product();
    await t.products.update(hidden, { enabled: false }, 'staff');
    const { cookie } = await signedIn();
    expect((await app.inject({ url: '/api/portal/products' })).statusCode).toBe(401);
    const list = (await app.inject({ url: '/api/portal/products', headers: { cookie } })).json();
    expect(list.items.map((p: { id: string }) => p.id)).toContain(productId);
    expect(list.items.map((p: { id: string }) => p.id)).not.toContain(hidden);
    expect(JSON.stringify(list)).not.toContain('groupName');

    const refusedHidden = await app.inject({
      method: 'POST',
      url: '/api/portal/accounts',
      headers: { cookie },
      payload: { productId: hidden },
    });
    expect(refusedHidden.statusCode).toBe(404);
    const badLeverage = await app.inject({
      method: 'POST',
      url: '/api/portal/accounts',
      headers: { cookie },
      payload: { productId, leverage: 1000 },
    });
    expect(badLeverage.statusCode).toBe(400);
    expect(badLeverage.json()).toMatchObject({ code: 'LEVERAGE_NOT_ALLOWED', details: { allowed: [50, 100, 200] } });
    const extra = await app.inject({
      method: 'POST',
      url: '/api/portal/accounts',
      headers: { cookie },
      payload: { productId, clientId: '00000000-0000-4000-8000-000000000000' },
    });
    expect(extra.statusCode).toBe(400);

    const created = await app.inject({
      method: 'POST',
      url: '/api/portal/accounts',
      headers: { cookie },
      payload: { productId },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ account: { status: 'opening', leverage: 100 } });
    await t.engine.drain();
    const mine = (await app.inject({ url: '/api/portal/accounts', headers: { cookie } })).json();
    expect(mine.items).toHaveLength(1);
    expect(mine.items[0]).toMatchObject({ status: 'open', group: 'real\\standard-usd' });
  });

  it("answers 404 for another client's account", async () => {
    const owner = await signedIn();
    const productId = await t.product();
    const created = await app.inject({
      method: 'POST',
      url: '/api/portal/accounts',
      headers: { cookie: owner.cookie },
      payload: { productId },
    });
    const id = created.json().account.id as string;
    await t.engine.drain();
    const intruder = await signedIn();
    for (const [method, url, payload] of [
      ['GET', `/api/portal/accounts/${id}`, undefined],
      ['POST', `/api/portal/accounts/${id}/leverage`, { leverage: 50 }],
      ['POST', `/api/portal/accounts/${id}/password-reset`, undefined],
    ] as const) {
      const r = await app.inject({ method, url, headers: { cookie: intruder.cookie }, payload });
      expect(r.statusCode, url).toBe(404);
      expect(r.json().code).toBe('ACCOUNT_NOT_FOUND');
    }
    const theirs = (await app.inject({ url: '/api/portal/accounts', headers: { cookie: intruder.cookie } })).json();
    expect(theirs.items).toEqual([]);
    const leverage = await app.inject({
      method: 'POST',
      url: `/api/portal/accounts/${id}/leverage`,
      headers: { cookie: owner.cookie },
      payload: { leverage: 200 },
    });
    expect(leverage.statusCode).toBe(202);
    await t.engine.drain();
    const after = (await app.inject({ url: `/api/portal/accounts/${id}`, headers: { cookie: owner.cookie } })).json();
    expect(after.account.leverage).toBe(200);
  });

  it('resets the trading password: shown once, on the server, and nowhere in the database or the logs', async () => {
    const { cookie } = await signedIn();
    const productId = await t.product();
    const created = await app.inject({
      method: 'POST',
      url: '/api/portal/accounts',
      headers: { cookie },
      payload: { productId },
    });
    const id = created.json().account.id as string;
    await t.engine.drain();
    const reset = await app.inject({
      method: 'POST',
      url: `/api/portal/accounts/${id}/password-reset`,
      headers: { cookie },
    });
    expect(reset.statusCode).toBe(202);
    expect(reset.headers['cache-control']).toBe('no-store');
    const { password, operation } = reset.json() as { password: string; operation: { reference: string } };
    expect(password).toSatisfy(isValidTradingPassword);
    expect(operation.reference).toMatch(/^BD-PWD-/);

    // Before the worker runs, the only copy is sealed; afterwards the sealed copy is erased.
    const search = async () => {
      const rows = await t.database.query<{ hits: string | number }>(
        `SELECT (SELECT count(*) FROM operations o WHERE o::text LIKE $1)
              + (SELECT count(*) FROM operation_attempts a WHERE a::text LIKE $1)
              + (SELECT count(*) FROM audit_events e WHERE e::text LIKE $1)
              + (SELECT count(*) FROM trading_accounts ta WHERE ta::text LIKE $1) AS hits`,
        [`%${password}%`],
      );
      return Number(rows[0]!.hits);
    };
    expect(await search()).toBe(0);
    await t.engine.drain();
    const [op] = await t.database.query<{ status: string; sealed_secret: string | null }>(
      'SELECT status, sealed_secret FROM operations WHERE reference = $1',
      [operation.reference],
    );
    expect(op).toMatchObject({ status: 'succeeded', sealed_secret: null });
    expect(await search()).toBe(0);
    expect(t.logs.length).toBeGreaterThan(0);
    expect(t.logs.join('\n')).not.toContain(password);
    expect(reset.body).toContain(password);
  });
});
