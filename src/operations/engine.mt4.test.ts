/**
 * The operations lifecycle against the MT4 Manager bridge simulator: the same guarantees as on MT5, through the MT4
 * connector (TradeTransaction with the reference in the comment, TradesUserHistory to look it up).
 */
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { control, startMt4 } from '../../test/support/simulators.ts';
import { ManualClock } from '../clock.ts';
import { operations } from '../db/schema.ts';
import { AlertService } from '../modules/alerts/service.ts';
import { recordAudit } from '../modules/audit/service.ts';
import { createMt4Connector } from '../platforms/mt4/connector.ts';
import { parseReference } from '../platforms/reference.ts';
import { ServerRegistry } from '../platforms/registry.ts';
import { OperationsEngine } from './engine.ts';
import { enqueueOperation } from './enqueue.ts';
import type { OperationsDeps } from './ports.ts';
import { Sealer } from './sealed.ts';

describe('operations engine on MT4', () => {
  let database: TestDatabase;
  let sim: Awaited<ReturnType<typeof startMt4>>;
  let registry: ServerRegistry;
  let deps: OperationsDeps;
  let engine: OperationsEngine;
  const clock = new ManualClock(new Date());

  beforeAll(async () => {
    database = await createTestDatabase();
    sim = await startMt4({ name: 'mt4-live' });
    registry = new ServerRegistry({
      database,
      clock,
      factories: { mt4: createMt4Connector },
      env: { MT4_PW: sim.manager.password },
    });
    await registry.upsert({
      code: 'mt4-live',
      platform: 'mt4',
      environment: 'live',
      address: sim.url,
      managerLogin: sim.manager.login,
      passwordSecret: 'env:MT4_PW',
      caCertPath: sim.certPath ?? null,
      requestTimeoutMs: 1500,
      connectTimeoutMs: 1000,
    });
    deps = {
      database,
      platforms: registry,
      clock,
      sealer: new Sealer(Sealer.generateKey()),
      audit: { record: (tx, entry) => recordAudit(tx, entry, clock) },
      alerts: new AlertService({ clock }),
    };
    engine = new OperationsEngine(deps, { verifyDelayMs: 1000, random: () => 0.5, maxAttempts: 5 });
  });
  afterAll(async () => {
    await registry?.close();
    await sim?.close();
    await database?.drop();
  });
  afterEach(async () => {
    await control(sim, 'DELETE', '/control/faults');
  });

  async function account(): Promise<number> {
    const platform = await registry.platform('mt4-live');
    const opened = await platform.openAccount({
      group: 'real-std-usd',
      name: 'MT4 Client',
      leverage: 100,
      mainPassword: 'Main1pass',
      investorPassword: 'Invest1pass',
    });
    return opened.login;
  }

  const deposit = (login: number, amount: number) =>
    database.db.transaction((tx) =>
      enqueueOperation(tx, deps, {
        kind: 'balance',
        serverCode: 'mt4-live',
        login,
        payload: { amount, currency: 'USD' },
      }),
    );

  async function recordsWith(login: number, reference: string): Promise<unknown[]> {
    const trades = (await control(sim, 'GET', `/control/trades?login=${login}`)) as { cmd: number; comment: string }[];
    return trades.filter((t) => (t.cmd === 6 || t.cmd === 7) && parseReference(t.comment)?.reference === reference);
  }

  const statusOf = async (id: string) =>
    (await database.db.select().from(operations).where(eq(operations.id, id)))[0]!.status;

  it('apply-then-drop on TradeTransaction ends with exactly one balance record', async () => {
    const login = await account();
    await control(sim, 'POST', '/control/faults', { endpoint: '/v1/TradeTransaction', kind: 'drop_reply', count: 1 });
    const op = await deposit(login, 250_000);
    await engine.drain();
    expect(await statusOf(op.id)).toBe('unknown');
    expect(await recordsWith(login, op.reference)).toHaveLength(1);
    clock.advance(1000);
    await engine.drain();
    expect(await statusOf(op.id)).toBe('succeeded');
    expect(await recordsWith(login, op.reference)).toHaveLength(1);
    expect((await (await registry.platform('mt4-live')).getAccount(login)).balance).toBe(250_000);
  });

  it('a busy bridge is retried after backoff; a withdrawal beyond free margin fails with the reason', async () => {
    const login = await account();
    await control(sim, 'POST', '/control/faults', {
      endpoint: '/v1/TradeTransaction',
      kind: 'error',
      code: 137,
      count: 1,
    });
    const op = await deposit(login, 1_000);
    await engine.drain();
    expect(await statusOf(op.id)).toBe('pending');
    clock.advance(2000);
    await engine.drain();
    expect(await statusOf(op.id)).toBe('succeeded');
    const withdrawal = await deposit(login, -5_000);
    await engine.drain();
    const [row] = await database.db.select().from(operations).where(eq(operations.id, withdrawal.id));
    expect(row).toMatchObject({ status: 'failed', lastError: expect.objectContaining({ reason: 'not_enough_money' }) });
    expect(await recordsWith(login, withdrawal.reference)).toHaveLength(0);
  });

  it('a bridge restart in the middle of a batch loses nothing and doubles nothing', async () => {
    const logins = [await account(), await account()];
    const ops = [];
    for (let i = 0; i < 6; i++) ops.push(await deposit(logins[i % 2]!, 100 + i));
    await control(sim, 'POST', '/control/faults', {
      endpoint: '/v1/TradeTransaction',
      kind: 'down',
      downSeconds: 1,
      count: 1,
    });
    // The manual clock follows real time here: the bridge really is down for a second.
    const patient = new OperationsEngine(deps, { verifyDelayMs: 1000, random: () => 0.5 });
    for (let round = 0; round < 50; round++) {
      await patient.drain();
      const statuses = await Promise.all(ops.map((o) => statusOf(o.id)));
      if (statuses.every((s) => s === 'succeeded')) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
      clock.advance(250);
    }
    if (!(await Promise.all(ops.map((o) => statusOf(o.id)))).every((s) => s === 'succeeded')) {
      // Say why, rather than only that it did not finish.
      const rows = await database.db.select().from(operations);
      throw new Error(JSON.stringify(rows.map((r) => [r.status, r.attempts, r.lastError])));
    }
    for (const o of ops) {
      expect(await statusOf(o.id)).toBe('succeeded');
      expect(await recordsWith(o.login!, o.reference)).toHaveLength(1);
    }
  });
});
