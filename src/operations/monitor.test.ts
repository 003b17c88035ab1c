import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, operationsHarness } from '../../test/support/operations.ts';
import { control } from '../../test/support/simulators.ts';
import { alerts } from '../db/schema.ts';
import { enqueueOperation } from './enqueue.ts';
import { checkOperationsHealth } from './monitor.ts';

describe('operations monitor', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await operationsHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  const thresholds = { unknownAfterMs: 10 * 60_000, backlogThreshold: 3 };
  const open = async (key: string) =>
    (await h.database.db.select().from(alerts).where(eq(alerts.dedupeKey, key))).filter((a) => a.status !== 'resolved');

  it('alerts on an operation unknown for too long, a backlog, and an unreachable server; each clears itself', async () => {
    const engine = h.engine();
    const user = (await control(h.sim, 'POST', '/control/accounts', {
      group: 'real\\standard-usd',
      name: 'M',
      leverage: 100,
    })) as { Login: string };
    const login = Number(user.Login);
    await control(h.sim, 'POST', '/control/faults', { endpoint: '/api/trade/balance', kind: 'drop_reply', count: 1 });
    const lost = await h.database.db.transaction((tx) =>
      enqueueOperation(tx, h.deps, { kind: 'balance', serverCode: 'mt5-live', login, payload: { amount: 100 } }),
    );
    await engine.drain();
    for (let i = 0; i < 4; i++) {
      await h.database.db.transaction((tx) =>
        enqueueOperation(tx, h.deps, { kind: 'balance', serverCode: 'mt5-live', login, payload: { amount: 1 } }),
      );
    }
    await checkOperationsHealth(h.deps, h.registry.health(), thresholds);
    expect(await open(`unknown:${lost.id}`)).toHaveLength(0);
    expect(await open('queue:backlog')).toHaveLength(1);

    h.clock.advance(10 * 60_000 + 1);
    await checkOperationsHealth(h.deps, h.registry.health(), thresholds);
    expect(await open(`unknown:${lost.id}`)).toMatchObject([{ kind: 'operation_unknown_stale', severity: 'warning' }]);

    // The server goes away: calls fail, the circuit opens, the monitor raises a critical alert.
    await control(h.sim, 'POST', '/control/restart', { seconds: 3 });
    const platform = await h.registry.platform('mt5-live');
    for (let i = 0; i < 5; i++) await platform.ping().catch(() => {});
    await checkOperationsHealth(h.deps, h.registry.health(), thresholds);
    expect(await open('server:mt5-live')).toMatchObject([{ kind: 'server_unreachable', severity: 'critical' }]);

    // Back up: the probe closes the circuit, the queue drains, and the alerts resolve themselves.
    await expect
      .poll(
        () => {
          h.clock.advance(30_000); // past the breaker's cool-down, so one probe is let through
          return platform.ping().then(
            () => 'up',
            () => 'down',
          );
        },
        { timeout: 15_000, interval: 250 },
      )
      .toBe('up');
    expect(h.registry.health()[0]!.circuit).toBe('closed');
    for (let i = 0; i < 5; i++) {
      await engine.drain();
      h.clock.advance(60_000);
    }
    await checkOperationsHealth(h.deps, h.registry.health(), thresholds);
    expect(await open('server:mt5-live')).toHaveLength(0);
    expect(await open('queue:backlog')).toHaveLength(0);
  });
});
