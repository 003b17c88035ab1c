/**
 * MT4 bridge simulator throughput: balance TradeTransactions (deposits) over several keep-alive HTTPS connections,
 * each with its own manager session, for a bounded time. Prints ops/s and latency percentiles, then checks that every
 * acknowledged operation is in history (a fast server that loses operations is not a result).
 *
 *   node bin/run-ts.mjs bench/sim-mt4.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startMt4Simulator } from '../sim/mt4/server.ts';
import { Mt4TestClient } from '../sim/mt4/test-client.ts';

const CONNECTIONS = 8;
const ACCOUNTS = 64;
const WARMUP_OPS = 300;
const DURATION_MS = 3000;
const MAX_OPS = 250_000;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export default async function bench(): Promise<void> {
  await measure('state in memory');
  // The same load with every mutation journaled to disk before the reply, as a simulator with --state-dir runs.
  const dir = mkdtempSync(join(tmpdir(), 'bench-sim-mt4-'));
  try {
    await measure('state journaled to disk', dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(label: string, stateDir?: string): Promise<void> {
  const sim = await startMt4Simulator({
    port: 0,
    quiet: true,
    pumpingDropIntervalMs: 0,
    ...(stateDir ? { stateDir } : {}),
  });
  const clients: Mt4TestClient[] = [];
  try {
    const admin = Mt4TestClient.for(sim, { maxSockets: 1 });
    clients.push(admin);
    await admin.login(sim.manager.login, sim.manager.password);
    const logins: number[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const reply = await admin.ok('UserRecordNew', {
        group: 'real-std-usd',
        name: `Bench ${i}`,
        password: 'Bench1234',
      });
      logins.push(reply.login);
    }
    for (let c = 0; c < CONNECTIONS; c++) {
      const client = Mt4TestClient.for(sim, { maxSockets: 1 });
      await client.login(sim.manager.login, sim.manager.password);
      clients.push(client);
    }
    const workers = clients.slice(1);

    let sequence = 0;
    const deposit = async (client: Mt4TestClient): Promise<void> => {
      const n = sequence++;
      const reply = await client.call('TradeTransaction', {
        type: 83,
        cmd: 6,
        orderby: logins[n % logins.length],
        price: 10 + (n % 7) * 0.01,
        comment: `BD-BENCH-${n}`,
      });
      if (reply.ret !== 0) throw new Error(`TradeTransaction answered ret ${reply.ret}: ${reply.message ?? ''}`);
    };

    // Warm-up: TLS sessions, JIT, Fastify's route caches.
    await Promise.all(
      workers.map(async (w) => {
        for (let i = 0; i < WARMUP_OPS / workers.length; i++) await deposit(w);
      }),
    );

    const latencies: number[] = [];
    const started = performance.now();
    const deadline = started + DURATION_MS;
    await Promise.all(
      workers.map(async (w) => {
        while (performance.now() < deadline && latencies.length < MAX_OPS) {
          const t0 = performance.now();
          await deposit(w);
          latencies.push(performance.now() - t0);
        }
      }),
    );
    const elapsedMs = performance.now() - started;

    // Every acknowledged deposit must be in history: count records across the accounts.
    let recorded = 0;
    for (const login of logins) {
      recorded += (await admin.ok('TradesUserHistory', { login, from: 0, to: 2_147_483_647 })).trades.length;
    }
    const acknowledged = sequence;
    latencies.sort((a, b) => a - b);
    const opsPerSecond = (latencies.length / elapsedMs) * 1000;
    const lines = [
      `sim-mt4: TradeTransaction (TT_BR_BALANCE) over ${CONNECTIONS} keep-alive HTTPS connections, ${(elapsedMs / 1000).toFixed(1)} s, ${label}`,
      `  operations  ${latencies.length} measured (${acknowledged} in total with warm-up)`,
      `  throughput  ${opsPerSecond.toFixed(0)} ops/s`,
      `  latency     p50 ${percentile(latencies, 50).toFixed(2)} ms  p99 ${percentile(latencies, 99).toFixed(2)} ms  max ${latencies.at(-1)?.toFixed(2)} ms`,
      `  verified    ${recorded} of ${acknowledged} acknowledged deposits found in history`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (recorded !== acknowledged) throw new Error(`${acknowledged - recorded} acknowledged deposits are missing`);
  } finally {
    for (const c of clients) c.close();
    await sim.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  bench().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
