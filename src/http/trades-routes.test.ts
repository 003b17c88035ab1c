import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FundingTestbed, fundingTestbed } from '../../test/support/funding-testbed.ts';
import { control } from '../../test/support/simulators.ts';

describe('trading history and external changes over HTTP (scenario 6 and scenario 2 through the API)', () => {
  let t: FundingTestbed;
  let client: { clientId: string; cookie: string; accountId: string; login: number };
  let mt4: { accountId: string; login: number };
  let other: { clientId: string; cookie: string; accountId: string; login: number };

  const fund = async (accountId: string) => {
    const adj = await t.ctx.funding.requestStaffMovement('adjustment', randomUUID(), {
      accountId,
      amountMinor: 500_000,
      direction: 'in',
      reason: 'test funds',
    });
    await t.ctx.funding.decide(adj.id, randomUUID(), { decision: 'approve' });
    await t.until(adj.id, ['posted']);
  };

  beforeAll(async () => {
    t = await fundingTestbed({ mt4: true });
    client = await t.fundedClient();
    mt4 = await t.openAccount(client.clientId, { server: 'mt4-live' });
    other = await t.fundedClient();
    for (const id of [client.accountId, mt4.accountId, other.accountId]) await fund(id);
    await control(t.live, 'POST', '/control/dealer/trade', {
      login: client.login,
      symbol: 'EURUSD',
      side: 'buy',
      lots: 0.1,
    });
    await control(t.live, 'POST', '/control/dealer/trade', {
      login: other.login,
      symbol: 'EURUSD',
      side: 'buy',
      lots: 0.2,
    });
    const { trade } = (await control(t.mt4!, 'POST', '/control/dealer/trades/open', {
      login: mt4.login,
      symbol: 'EURUSD',
      cmd: 0,
      volume: 20,
    })) as { trade: { order: number } };
    await control(t.mt4!, 'POST', '/control/dealer/trades/close', { order: trade.order });
    for (const result of await t.ctx.trades.syncAll()) expect(result.status, result.error).toBe('ok');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('gives a client one history across MT5 and MT4, only their own', async () => {
    const r = await t.app.inject({ url: '/api/portal/history?limit=50', headers: { cookie: client.cookie } });
    expect(r.statusCode, r.body).toBe(200);
    const items = r.json().items as { platform: string; type: string; login: number; tradingAccountId: string }[];
    expect(new Set(items.map((i) => i.platform))).toEqual(new Set(['mt4', 'mt5']));
    expect(items.some((i) => i.type === 'closed_trade' && i.login === mt4.login)).toBe(true);
    expect(items.some((i) => i.type === 'deal' && i.login === client.login)).toBe(true);
    expect(items.every((i) => i.tradingAccountId !== other.accountId)).toBe(true);

    const mine = await t.app.inject({
      url: `/api/portal/accounts/${mt4.accountId}/history?type=closed_trade`,
      headers: { cookie: client.cookie },
    });
    expect(mine.json().items).toHaveLength(1);
    const foreign = await t.app.inject({
      url: `/api/portal/accounts/${other.accountId}/history`,
      headers: { cookie: client.cookie },
    });
    expect(foreign.statusCode).toBe(404);
    const bad = await t.app.inject({ url: '/api/portal/history?from=yesterday', headers: { cookie: client.cookie } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('VALIDATION_FAILED');
    expect((await t.app.inject({ url: '/api/portal/history' })).statusCode).toBe(401);

    // Finished orders when asked by type (MT5 keeps each market trade's order apart from its deals); open orders apart.
    const orders = await t.app.inject({ url: '/api/portal/history?type=order', headers: { cookie: client.cookie } });
    expect(orders.statusCode, orders.body).toBe(200);
    const orderItems = orders.json().items as { type: string; orderState: string; login: number }[];
    expect(orderItems.length).toBeGreaterThan(0);
    expect(orderItems.every((i) => i.type === 'order' && i.orderState === 'filled')).toBe(true);
    expect(items.some((i) => i.type === 'order')).toBe(false);
    const open = await t.app.inject({ url: '/api/portal/orders', headers: { cookie: client.cookie } });
    expect(open.statusCode, open.body).toBe(200);
    expect(open.json()).toEqual({ items: [] });
    expect((await t.app.inject({ url: '/api/portal/orders' })).statusCode).toBe(401);
  });

  it('gives support the same one history for any client', async () => {
    const support = await t.staffCookie(['support']);
    const r = await t.app.inject({
      url: `/api/backoffice/clients/${client.clientId}/history`,
      headers: { cookie: support },
    });
    expect(r.statusCode, r.body).toBe(200);
    expect(new Set((r.json().items as { platform: string }[]).map((i) => i.platform))).toEqual(new Set(['mt4', 'mt5']));
    const open = await t.app.inject({
      url: `/api/backoffice/clients/${client.clientId}/orders`,
      headers: { cookie: support },
    });
    expect(open.statusCode, open.body).toBe(200);
    expect(open.json()).toEqual({ items: [] });
    const unknown = await t.app.inject({
      url: `/api/backoffice/clients/${randomUUID()}/history`,
      headers: { cookie: support },
    });
    expect(unknown.statusCode).toBe(404);
  });

  it('lists a dealer’s balance correction as an external change that dealing can acknowledge and support cannot', async () => {
    await control(t.live, 'POST', '/control/dealer/balance', {
      login: client.login,
      amount: 25,
      type: 'balance',
      comment: 'goodwill by phone',
    });
    for (const result of await t.ctx.trades.syncAll()) expect(result.status, result.error).toBe('ok');
    const dealing = await t.staffCookie(['dealing']);
    const list = await t.app.inject({
      url: `/api/backoffice/external-changes?status=open&clientId=${client.clientId}`,
      headers: { cookie: dealing },
    });
    expect(list.statusCode, list.body).toBe(200);
    const [change] = list.json().items as { id: string; kind: string; amountMinor: number }[];
    expect(change).toMatchObject({ amountMinor: 2_500 });

    const support = await t.staffCookie(['support']);
    const refused = await t.app.inject({
      method: 'POST',
      url: `/api/backoffice/external-changes/${change!.id}/acknowledge`,
      headers: { cookie: support },
      payload: {},
    });
    expect(refused.statusCode).toBe(403);
    const ack = await t.app.inject({
      method: 'POST',
      url: `/api/backoffice/external-changes/${change!.id}/acknowledge`,
      headers: { cookie: dealing },
      payload: { note: 'confirmed with the dealing desk' },
    });
    expect(ack.statusCode, ack.body).toBe(200);
    expect(ack.json().change.status).toBe('acknowledged');
    const explained = await t.app.inject({
      method: 'POST',
      url: `/api/backoffice/external-changes/${change!.id}/explain`,
      headers: { cookie: dealing },
      payload: { explanation: 'goodwill after a platform outage, ticket 8812' },
    });
    expect(explained.statusCode, explained.body).toBe(200);
    expect(explained.json().change.status).toBe('explained');
    const again = await t.app.inject({
      method: 'POST',
      url: `/api/backoffice/external-changes/${change!.id}/acknowledge`,
      headers: { cookie: dealing },
      payload: {},
    });
    expect(again.statusCode).toBe(409);
    const sync = await t.app.inject({ url: '/api/backoffice/sync', headers: { cookie: dealing } });
    expect(sync.statusCode).toBe(200);
    expect((sync.json().items as unknown[]).length).toBeGreaterThanOrEqual(2);
  });
});
