/**
 * A worker process is killed with SIGKILL while calls are in flight; a new one takes over. Every operation must end
 * `succeeded` (with exactly one record on the server) or visibly `needs_review`; none may be doubled.
 * Needs PostgreSQL (two processes share the database).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { operationAttempts, operations } from '../../src/db/schema.ts';
import { recordAudit } from '../../src/modules/audit/service.ts';
import { enqueueOperation } from '../../src/operations/enqueue.ts';
import { Sealer } from '../../src/operations/sealed.ts';
import { parseReference } from '../../src/platforms/reference.ts';
import { ServerRegistry } from '../../src/platforms/registry.ts';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from '../support/db.ts';
import { control, startMt5 } from '../support/simulators.ts';

const root = new URL('../..', import.meta.url).pathname;

describe.skipIf(!testDatabaseUrl())('a worker killed mid-call', () => {
  let database: TestDatabase;
  let sim: Awaited<ReturnType<typeof startMt5>>;
  const key = Sealer.generateKey();
  const workers: ChildProcess[] = [];

  /** Starts `brokerdesk worker` against the test database; `ready` resolves once it has started claiming. */
  function spawnWorker(): ChildProcess & { ready: Promise<void> } {
    const child = spawn(process.execPath, ['bin/brokerdesk.mjs', 'worker'], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: database.url!,
        BROKERDESK_SECRET_KEY: key,
        SIM_MANAGER_PASSWORD: sim.manager.password,
        WORKER_LEASE_MS: '3000',
        WORKER_POLL_MS: '50',
        WORKER_VERIFY_DELAY_MS: '1500',
        WORKER_CONCURRENCY: '8',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    workers.push(child);
    const ready = new Promise<void>((resolve, reject) => {
      let seen = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('"worker started"')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`worker exited with ${code} before starting`)));
    });
    return Object.assign(child, { ready });
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    sim = await startMt5({ name: 'mt5-live' });
    const registry = new ServerRegistry({ database, factories: {} });
    await registry.upsert({
      code: 'mt5-live',
      platform: 'mt5',
      environment: 'live',
      address: sim.url,
      managerLogin: sim.manager.login,
      passwordSecret: 'env:SIM_MANAGER_PASSWORD',
      caCertPath: sim.certPath ?? null,
      requestTimeoutMs: 1000,
      connectTimeoutMs: 1000,
    });
  });
  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await sim.close();
    await database.drop();
  });

  const deps = () => ({
    clock: systemClock,
    sealer: new Sealer(key),
    audit: {
      record: (tx: Parameters<typeof recordAudit>[0], e: Parameters<typeof recordAudit>[1]) => recordAudit(tx, e),
    },
  });

  async function accounts(n: number): Promise<number[]> {
    const logins: number[] = [];
    for (let i = 0; i < n; i++) {
      const user = (await control(sim, 'POST', '/control/accounts', {
        group: 'real\\standard-usd',
        name: `Client ${i}`,
        leverage: 100,
      })) as { Login: string };
      logins.push(Number(user.Login));
    }
    return logins;
  }

  it('two worker processes share the work without doubling it', async () => {
    const logins = await accounts(6);
    const a = spawnWorker();
    const b = spawnWorker();
    await Promise.all([a.ready, b.ready]);
    // Each call takes a little while, so both workers find work while the other is busy.
    await control(sim, 'POST', '/control/faults', { endpoint: '/api/trade/balance', kind: 'latency', latencyMs: 20 });
    const ids: string[] = [];
    for (let round = 0; round < 10; round++) {
      for (const login of logins) {
        const op = await database.db.transaction((tx) =>
          enqueueOperation(tx, deps(), {
            kind: 'balance',
            serverCode: 'mt5-live',
            login,
            payload: { amount: 10 + round },
          }),
        );
        ids.push(op.id);
      }
    }
    await expect
      .poll(
        async () => {
          const rows = await database.db.select().from(operations).where(inArray(operations.id, ids));
          return rows.filter((r) => r.status === 'succeeded').length;
        },
        { timeout: 60_000, interval: 200 },
      )
      .toBe(ids.length);
    a.kill('SIGTERM');
    b.kill('SIGTERM');
    await control(sim, 'DELETE', '/control/faults');
    const rows = await database.db.select().from(operations).where(inArray(operations.id, ids));
    for (const login of logins) {
      const deals = (await control(sim, 'GET', `/control/accounts/${login}/deals`)) as { Comment: string }[];
      const refs = deals.map((d) => parseReference(d.Comment)?.reference);
      for (const row of rows.filter((r) => r.login === login)) {
        expect(refs.filter((r) => r === row.reference)).toHaveLength(1);
      }
    }
    const attempts = await database.db
      .select()
      .from(operationAttempts)
      .where(inArray(operationAttempts.operationId, ids));
    expect(new Set(attempts.map((x) => x.worker)).size).toBe(2);
  }, 120_000);

  it('a worker killed mid-call leaves nothing stuck and nothing doubled', async () => {
    const logins = await accounts(5);
    const ids: string[] = [];
    for (let round = 0; round < 6; round++) {
      for (const login of logins) {
        const op = await database.db.transaction((tx) =>
          enqueueOperation(tx, deps(), {
            kind: 'balance',
            serverCode: 'mt5-live',
            login,
            payload: { amount: 1000 + round },
          }),
        );
        ids.push(op.id);
      }
    }
    // Slow replies keep calls in flight; some replies are lost after the server applied them.
    await control(sim, 'POST', '/control/faults', { endpoint: '/api/trade/balance', kind: 'latency', latencyMs: 300 });
    await control(sim, 'POST', '/control/faults', {
      endpoint: '/api/trade/balance',
      kind: 'drop_reply',
      probability: 0.2,
    });

    const first = spawnWorker();
    await expect
      .poll(
        async () => {
          const started = await database.db
            .select()
            .from(operationAttempts)
            .where(and(eq(operationAttempts.outcome, 'started'), inArray(operationAttempts.operationId, ids)));
          const done = await database.db
            .select()
            .from(operations)
            .where(and(eq(operations.status, 'succeeded'), inArray(operations.id, ids)));
          return started.length > 0 && done.length >= 3;
        },
        { timeout: 30_000, interval: 50 },
      )
      .toBe(true);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const orphaned = await database.db.select().from(operations).where(eq(operations.status, 'in_flight'));
    expect(orphaned.length).toBeGreaterThan(0);

    await control(sim, 'DELETE', '/control/faults');
    await control(sim, 'POST', '/control/faults', {
      endpoint: '/api/trade/balance',
      kind: 'drop_reply',
      probability: 0.1,
    });
    const second = spawnWorker();
    await expect
      .poll(
        async () => {
          const rows = await database.db.select().from(operations).where(inArray(operations.id, ids));
          return rows.every((r) => r.status === 'succeeded' || r.status === 'needs_review');
        },
        { timeout: 60_000, interval: 200 },
      )
      .toBe(true);
    second.kill('SIGTERM');

    const rows = await database.db.select().from(operations).where(inArray(operations.id, ids));
    for (const login of logins) {
      const deals = (await control(sim, 'GET', `/control/accounts/${login}/deals`)) as {
        Comment: string;
        Profit: string;
      }[];
      const refs = deals.map((d) => parseReference(d.Comment)?.reference);
      for (const row of rows.filter((r) => r.login === login)) {
        const count = refs.filter((r) => r === row.reference).length;
        if (row.status === 'succeeded') expect(count, `${row.reference} must be on the server exactly once`).toBe(1);
        else expect(count, `${row.reference} must not be doubled`).toBeLessThanOrEqual(1);
      }
    }
    // Operations the dead worker held were verified before anything was re-sent.
    const orphanIds = new Set(orphaned.map((o) => o.id));
    const verifications = await database.db
      .select()
      .from(operationAttempts)
      .where(eq(operationAttempts.action, 'verify'));
    expect(verifications.some((v) => orphanIds.has(v.operationId))).toBe(true);
    expect(rows.filter((r) => r.status === 'succeeded').length).toBeGreaterThan(0);
  }, 120_000);
});
