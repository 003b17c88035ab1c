/**
 * Operations engine, end to end on real PostgreSQL: enqueued (transactional insert) → claimed → posted to the MT5
 * simulator over HTTPS → confirmed (state change, audit event, commit). Prints:
 *   - throughput of a backlog of operations over many accounts (target ≥ 500 ops/s),
 *   - p50/p99 enqueue→succeeded latency at a steady 100 ops/s (target p99 < 250 ms),
 *   - the plain single-row INSERT + COMMIT rate of the same PostgreSQL, and the ratio.
 * Uses TEST_DATABASE_URL / DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) to create its own database.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startMt5Simulator } from '../sim/mt5/server.ts';
import { systemClock } from '../src/clock.ts';
import { connect } from '../src/db/connect.ts';
import { AlertService } from '../src/modules/alerts/service.ts';
import { recordAudit } from '../src/modules/audit/service.ts';
import { OperationsEngine } from '../src/operations/engine.ts';
import { enqueueOperation } from '../src/operations/enqueue.ts';
import { Sealer } from '../src/operations/sealed.ts';
import { createMt5Connector } from '../src/platforms/mt5/connector.ts';
import { ServerRegistry } from '../src/platforms/registry.ts';

const adminUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function insertCommitRate(url: string, seconds: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('CREATE TABLE bench_insert (id bigserial primary key, v text not null)');
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    await client.query('BEGIN');
    await client.query("INSERT INTO bench_insert (v) VALUES ('x')");
    await client.query('COMMIT');
    n++;
  }
  await client.end();
  return n / seconds;
}

export default async function bench(): Promise<void> {
  const name = `bd_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const database = await connect({ databaseUrl: url.toString(), maxConnections: 20 });
  const sim = await startMt5Simulator({ name: 'mt5-bench', quiet: true, port: 0, controlPort: 0 });
  try {
    await database.migrate();
    const registry = new ServerRegistry({
      database,
      factories: { mt5: (config, deps) => createMt5Connector({ ...config, sessions: 6 }, deps) },
      env: { BENCH_MT5_PASSWORD: sim.manager.password },
    });
    await registry.upsert({
      code: 'mt5-bench',
      platform: 'mt5',
      environment: 'live',
      address: sim.url,
      managerLogin: sim.manager.login,
      passwordSecret: 'env:BENCH_MT5_PASSWORD',
      caCertPath: sim.certPath ?? null,
    });
    const deps = {
      database,
      platforms: registry,
      clock: systemClock,
      sealer: new Sealer(Sealer.generateKey()),
      audit: {
        record: (tx: Parameters<typeof recordAudit>[0], e: Parameters<typeof recordAudit>[1]) => recordAudit(tx, e),
      },
      alerts: new AlertService(),
    };
    const logins: number[] = [];
    for (let i = 0; i < 200; i++) {
      const response = await fetch(`${sim.controlUrl}/control/accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sim.controlToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ group: 'real\\standard-usd', name: `Bench ${i}`, leverage: 100 }),
      });
      logins.push(Number(((await response.json()) as { Login: string }).Login));
    }
    const enqueue = (login: number) =>
      database.db.transaction((tx) =>
        enqueueOperation(tx, deps, { kind: 'balance', serverCode: 'mt5-bench', login, payload: { amount: 1000 } }),
      );
    const engine = new OperationsEngine(deps, { concurrency: 48, pollMs: 20 });
    // Warm up connections and caches.
    for (const login of logins) await enqueue(login);
    await engine.start();
    const waitAllDone = async () => {
      for (;;) {
        const [row] = await database.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM operations WHERE status <> 'succeeded'",
        );
        if (row!.n === 0) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await waitAllDone();

    // 1. Backlog throughput.
    await engine.stop();
    const backlog = 6000;
    const enqueueStart = performance.now();
    for (let i = 0; i < backlog; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => enqueue(logins[(i + j) % logins.length]!)));
    }
    const enqueueSeconds = (performance.now() - enqueueStart) / 1000;
    const start = performance.now();
    await engine.start();
    await waitAllDone();
    const seconds = (performance.now() - start) / 1000;
    const throughput = backlog / seconds;

    // 2. Steady 100 ops/s for 10 s: latency from enqueue commit to succeeded commit.
    const steadyStart = new Date();
    const rate = 100;
    const total = rate * 10;
    const t0 = performance.now();
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      pending.push(enqueue(logins[i % logins.length]!));
    }
    await Promise.all(pending);
    await waitAllDone();
    const latencies = (
      await database.query<{ ms: number }>(
        'SELECT extract(epoch from (finished_at - created_at)) * 1000 AS ms FROM operations WHERE created_at >= $1',
        [steadyStart],
      )
    )
      .map((r) => Number(r.ms))
      .sort((a, b) => a - b);
    await engine.stop();
    await registry.close();

    // 3. The physical reference.
    const insertRate = await insertCommitRate(url.toString(), 3);

    console.log(
      `backlog: ${backlog} operations enqueued in ${enqueueSeconds.toFixed(2)} s (${(backlog / enqueueSeconds).toFixed(0)}/s)`,
    );
    console.log(
      `end-to-end throughput: ${throughput.toFixed(0)} operations/s (enqueued → posted on MT5 sim → succeeded), target ≥ 500 → ${(throughput / 500).toFixed(2)}× target`,
    );
    console.log(
      `steady ${rate}/s for ${total / rate} s: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies.at(-1)?.toFixed(1)} ms (target p99 < 250 ms)`,
    );
    console.log(`plain INSERT + COMMIT on the same PostgreSQL: ${insertRate.toFixed(0)}/s`);
    console.log(
      `ratio: one operation costs ${(insertRate / throughput).toFixed(1)} plain commits (${((throughput / insertRate) * 100).toFixed(1)}% of the commit rate)`,
    );
  } finally {
    await database.close();
    await sim.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await bench();
  process.exit(0);
}
