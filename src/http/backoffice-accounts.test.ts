import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountsTestbed, rightsOf, staffCookie, type Testbed } from '../../test/support/accounts-testbed.ts';
import { StaffService } from '../modules/staff/service.ts';
import { buildApp } from './app.ts';

describe('back office: products and trading accounts', () => {
  let t: Testbed;
  let app: FastifyInstance;
  let admin: string;
  let dealing: string;
  let support: string;

  beforeAll(async () => {
    t = await accountsTestbed();
    const staff = new StaffService(t.database, t.ctx.sealer, t.clock);
    app = await buildApp(t.ctx, { staff });
    admin = await staffCookie(app, staff, t.clock, ['admin']);
    dealing = await staffCookie(app, staff, t.clock, ['dealing']);
    support = await staffCookie(app, staff, t.clock, ['support']);
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  const product = {
    code: 'bo-std',
    name: 'Standard',
    environment: 'live',
    serverCode: 'mt5-live',
    groupName: 'real\\standard-usd',
    currency: 'USD',
    allowedLeverages: [100, 200],
    defaultLeverage: 100,
    kycPolicy: 'none',
  };

  it('creates and changes products with their mapping checked, refusing bad ones with what to fix', async () => {
    const demoServer = await app.inject({
      method: 'POST',
      url: '/api/backoffice/products',
      headers: { cookie: admin },
      payload: { ...product, serverCode: 'mt5-demo', groupName: 'demo\\standard-usd' },
    });
    expect(demoServer.statusCode).toBe(422);
    expect(demoServer.json()).toMatchObject({
      code: 'PRODUCT_INVALID',
      details: { problems: [{ setting: 'environment' }] },
    });
    const unknownField = await app.inject({
      method: 'POST',
      url: '/api/backoffice/products',
      headers: { cookie: admin },
      payload: { ...product, group: 'x' },
    });
    expect(unknownField.statusCode).toBe(400);
    const forbidden = await app.inject({
      method: 'POST',
      url: '/api/backoffice/products',
      headers: { cookie: support },
      payload: product,
    });
    expect(forbidden.statusCode).toBe(403);

    const created = await app.inject({
      method: 'POST',
      url: '/api/backoffice/products',
      headers: { cookie: admin },
      payload: product,
    });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    const badPatch = await app.inject({
      method: 'PATCH',
      url: `/api/backoffice/products/${id}`,
      headers: { cookie: admin },
      payload: { currency: 'EUR' },
    });
    expect(badPatch.statusCode).toBe(422);
    const patch = await app.inject({
      method: 'PATCH',
      url: `/api/backoffice/products/${id}`,
      headers: { cookie: admin },
      payload: { name: 'Standard USD' },
    });
    expect(patch.json()).toMatchObject({ name: 'Standard USD', currency: 'USD' });
    const list = (await app.inject({ url: '/api/backoffice/products', headers: { cookie: support } })).json();
    expect(list.items.map((p: { code: string }) => p.code)).toContain('bo-std');
  });

  it('lists and shows accounts, and changes trading, leverage and group through operations', async () => {
    const clientId = await t.addClient({ kycStatus: 'approved' });
    const productId = await t.product({ allowedLeverages: [100, 200] });
    const { account } = await t.accounts.request(clientId, { productId });
    await t.engine.drain();

    const list = (
      await app.inject({ url: `/api/backoffice/accounts?clientId=${clientId}`, headers: { cookie: support } })
    ).json();
    expect(list.items).toHaveLength(1);
    expect(list.items[0]).toMatchObject({ id: account.id, status: 'open' });
    const login = list.items[0].login as number;
    const byLogin = (
      await app.inject({ url: `/api/backoffice/accounts?login=${login}&server=mt5-live`, headers: { cookie: support } })
    ).json();
    expect(byLogin.items.map((a: { id: string }) => a.id)).toEqual([account.id]);
    const shown = (
      await app.inject({ url: `/api/backoffice/accounts/${account.id}`, headers: { cookie: support } })
    ).json();
    expect(shown.operations.map((o: { kind: string }) => o.kind)).toEqual(['open_account']);
    const missing = await app.inject({
      url: '/api/backoffice/accounts/00000000-0000-4000-8000-000000000000',
      headers: { cookie: support },
    });
    expect(missing.statusCode).toBe(404);

    const supportCannot = await app.inject({
      method: 'POST',
      url: `/api/backoffice/accounts/${account.id}/trading`,
      headers: { cookie: support },
      payload: { enabled: false },
    });
    expect(supportCannot.statusCode).toBe(403);
    const disable = await app.inject({
      method: 'POST',
      url: `/api/backoffice/accounts/${account.id}/trading`,
      headers: { cookie: dealing },
      payload: { enabled: false },
    });
    expect(disable.statusCode).toBe(202);
    expect(disable.json().operation.reference).toMatch(/^BD-UPD-/);
    const leverage = await app.inject({
      method: 'POST',
      url: `/api/backoffice/accounts/${account.id}/leverage`,
      headers: { cookie: dealing },
      payload: { leverage: 200 },
    });
    expect(leverage.statusCode).toBe(202);
    const wrongLeverage = await app.inject({
      method: 'POST',
      url: `/api/backoffice/accounts/${account.id}/leverage`,
      headers: { cookie: dealing },
      payload: { leverage: 400 },
    });
    expect(wrongLeverage.json().code).toBe('LEVERAGE_NOT_ALLOWED');
    const group = await app.inject({
      method: 'POST',
      url: `/api/backoffice/accounts/${account.id}/group`,
      headers: { cookie: dealing },
      payload: { group: 'real\\restricted-usd' },
    });
    expect(group.statusCode).toBe(202);
    const noGroup = await app.inject({
      method: 'POST',
      url: `/api/backoffice/accounts/${account.id}/group`,
      headers: { cookie: dealing },
      payload: { group: 'real\\nowhere' },
    });
    expect(noGroup.statusCode).toBe(422);
    await t.engine.drain();
    const server = await t.simAccount(t.live, login);
    expect(server.user.Group).toBe('real\\restricted-usd');
    expect(Number(server.user.Leverage)).toBe(200);
    expect(rightsOf(server).tradingAllowed).toBe(false);
    const after = (
      await app.inject({ url: `/api/backoffice/accounts/${account.id}`, headers: { cookie: support } })
    ).json();
    expect(after.account).toMatchObject({ group: 'real\\restricted-usd', leverage: 200, tradingEnabled: false });
  });
});
