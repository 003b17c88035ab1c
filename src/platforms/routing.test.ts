import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { startMt5 } from '../../test/support/simulators.ts';
import { ManualClock } from '../clock.ts';
import { RoutingError } from './errors.ts';
import { createMt5Connector } from './mt5/connector.ts';
import { ServerRegistry } from './registry.ts';
import { resolveRoute } from './routing.ts';

describe('routing a product to a server and group', () => {
  let database: TestDatabase;
  let live: Awaited<ReturnType<typeof startMt5>>;
  let demo: Awaited<ReturnType<typeof startMt5>>;
  let registry: ServerRegistry;
  const clock = new ManualClock(new Date());

  beforeAll(async () => {
    database = await createTestDatabase();
    live = await startMt5({ name: 'mt5-live', environment: 'live' });
    demo = await startMt5({ name: 'mt5-demo', environment: 'demo' });
    registry = new ServerRegistry({
      database,
      clock,
      factories: { mt5: createMt5Connector },
      env: { LIVE_PW: live.manager.password, DEMO_PW: demo.manager.password },
      groupCacheMs: 60_000,
    });
    for (const [sim, env, secret] of [
      [live, 'live', 'env:LIVE_PW'],
      [demo, 'demo', 'env:DEMO_PW'],
    ] as const) {
      await registry.upsert({
        code: sim.name,
        platform: 'mt5',
        environment: env,
        address: sim.url,
        managerLogin: sim.manager.login,
        passwordSecret: secret,
        caCertPath: sim.certPath ?? null,
      });
    }
  });
  afterAll(async () => {
    await registry.close();
    await live.close();
    await demo.close();
    await database.drop();
  });

  const standard = {
    product: 'Standard USD',
    environment: 'live' as const,
    serverCode: 'mt5-live',
    group: 'real\\standard-usd',
    currency: 'USD',
  };

  it('resolves a correct mapping to the server, its connector and the group', async () => {
    const route = await resolveRoute(registry, standard);
    expect(route.server.code).toBe('mt5-live');
    expect(route.group).toMatchObject({ name: 'real\\standard-usd', currency: 'USD', currencyDigits: 2 });
    expect(await route.platform.ping()).toBeGreaterThanOrEqual(0);
  });

  it('refuses a live product on a demo server, and the reverse', async () => {
    const err = await resolveRoute(registry, {
      ...standard,
      serverCode: 'mt5-demo',
      group: 'demo\\standard-usd',
    }).catch((e) => e);
    expect(err).toBeInstanceOf(RoutingError);
    expect(err).toMatchObject({ code: 'environment_mismatch' });
    expect(err.message).toContain('"Standard USD" is live but server "mt5-demo" is demo');
    await expect(
      resolveRoute(registry, { ...standard, product: 'Demo USD', environment: 'demo', serverCode: 'mt5-live' }),
    ).rejects.toMatchObject({ code: 'environment_mismatch' });
  });

  it('refuses a group the server does not have, naming the groups it has', async () => {
    const err = await resolveRoute(registry, { ...standard, group: 'real\\standard' }).catch((e) => e);
    expect(err).toMatchObject({ code: 'group_not_on_server' });
    expect(err.message).toContain('real\\standard-usd');
  });

  it('refuses a group outside the manager’s reach, and a currency mismatch', async () => {
    // The CRM manager may not see vip groups: to Brokerdesk they do not exist on that server.
    await expect(resolveRoute(registry, { ...standard, group: 'real\\vip-usd' })).rejects.toMatchObject({
      code: 'group_not_on_server',
    });
    await expect(resolveRoute(registry, { ...standard, group: 'real\\pro-eur' })).rejects.toMatchObject({
      code: 'currency_mismatch',
    });
  });

  it('refuses an unknown or disabled server', async () => {
    await expect(resolveRoute(registry, { ...standard, serverCode: 'mt5-elsewhere' })).rejects.toMatchObject({
      code: 'server_unknown',
    });
    const current = await registry.get('mt5-demo');
    await registry.upsert({
      code: current.code,
      platform: 'mt5',
      environment: 'demo',
      address: current.address,
      managerLogin: current.managerLogin,
      passwordSecret: 'env:DEMO_PW',
      caCertPath: current.caCertPath,
      enabled: false,
    });
    await expect(
      resolveRoute(registry, { ...standard, environment: 'demo', serverCode: 'mt5-demo', group: 'demo\\standard-usd' }),
    ).rejects.toMatchObject({ code: 'server_disabled' });
  });

  it('caches the server’s own group list for its age, then asks the server again', async () => {
    await resolveRoute(registry, standard);
    const groupsBefore = await registry.groups('mt5-live');
    expect(groupsBefore.length).toBeGreaterThan(0);
    // A cached list is reused within the cache age…
    expect(await registry.groups('mt5-live')).toBe(groupsBefore);
    clock.advance(60_001);
    expect(await registry.groups('mt5-live')).not.toBe(groupsBefore);
  });
});
