/**
 * MT5 simulator throughput: balance operations per second over authenticated keep-alive HTTPS connections on
 * loopback, with p50/p99 latency and the ratio to the 2,000 ops/s target. The target run keeps state in memory; a
 * second run journals every operation to a state folder (the durable mode), for information. The load comes from
 * several connections in this process, each sending its next operation as soon as the previous one is answered.
 *
 * Run alone: `node bin/run-ts.mjs bench/sim-mt5.bench.ts`, or with the others: `npm run bench -- sim-mt5`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startMt5Simulator } from '../sim/mt5/server.ts';
import { field, Mt5TestClient } from '../sim/mt5/test-client.ts';

const TARGET_OPS_PER_SECOND = 2_000;
const CONNECTIONS = 8;
const ACCOUNTS = 16;
const DURATION_MS = 4_000;
const MAX_OPERATIONS = 40_000;
const WARMUP_OPERATIONS = 400;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export default async function bench(): Promise<void> {
  await measure('in-memory state', undefined, true);
  const dir = mkdtempSync(join(tmpdir(), 'bench-mt5-'));
  try {
    await measure('journaled to a state folder', dir, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(label: string, stateDir: string | undefined, isTarget: boolean): Promise<void> {
  const sim = await startMt5Simulator({ quiet: true, port: 0, ...(stateDir ? { stateDir } : {}) });
  const clients: Mt5TestClient[] = [];
  try {
    const ca = readFileSync(sim.certPath!, 'utf8');
    const control = async (path: string, body: unknown) => {
      const res = await fetch(`${sim.controlUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sim.controlToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as Record<string, string>;
    };
    const logins: number[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const user = await control('/control/accounts', {
        group: 'real\\standard-usd',
        name: `Bench ${i}`,
        leverage: 100,
      });
      logins.push(Number(user.Login));
    }
    for (let i = 0; i < CONNECTIONS; i++) {
      const client = new Mt5TestClient({ url: sim.url, ca, ...sim.manager, agentName: 'brokerdesk-bench' });
      await client.authenticate();
      clients.push(client);
    }

    let sequence = 0;
    const operate = async (client: Mt5TestClient): Promise<number> => {
      const n = sequence++;
      const login = logins[n % logins.length]!;
      const started = performance.now();
      const reply = await client.get('/api/trade/balance', { login, type: 2, balance: '1.00', comment: `bench-${n}` });
      const elapsed = performance.now() - started;
      if (reply.retcode !== 0 || !field(reply.answer, 'ticket')) {
        throw new Error(`trade/balance failed: ${reply.retcode} ${reply.retcodeText}`);
      }
      return elapsed;
    };

    // Warm-up: JIT, TLS session state, socket buffers.
    await Promise.all(
      clients.map(async (client) => {
        for (let i = 0; i < WARMUP_OPERATIONS / CONNECTIONS; i++) await operate(client);
      }),
    );

    const latencies: number[] = [];
    const deadline = performance.now() + DURATION_MS;
    const started = performance.now();
    await Promise.all(
      clients.map(async (client) => {
        while (performance.now() < deadline && latencies.length < MAX_OPERATIONS) latencies.push(await operate(client));
      }),
    );
    const seconds = (performance.now() - started) / 1000;

    // Every acknowledged operation must be on the server: balances add up to the number of 1.00 deposits.
    let total = 0;
    for (const login of logins) {
      const res = await fetch(`${sim.controlUrl}/control/accounts/${login}`, {
        headers: { authorization: `Bearer ${sim.controlToken}` },
      });
      const view = (await res.json()) as { user: Record<string, string> };
      total += Math.round(Number(view.user.Balance) * 100);
    }
    const expected = (latencies.length + WARMUP_OPERATIONS) * 100;
    if (total !== expected) throw new Error(`balances hold ${total / 100}, expected ${expected / 100}`);

    latencies.sort((a, b) => a - b);
    const opsPerSecond = latencies.length / seconds;
    console.log(`MT5 simulator: /api/trade/balance over keep-alive HTTPS on loopback, ${label}`);
    console.log(`  connections          ${CONNECTIONS}`);
    console.log(
      `  operations           ${latencies.length} in ${seconds.toFixed(2)} s (after ${WARMUP_OPERATIONS} warm-up)`,
    );
    console.log(`  throughput           ${opsPerSecond.toFixed(0)} balance ops/s`);
    console.log(`  latency p50          ${percentile(latencies, 50).toFixed(2)} ms`);
    console.log(`  latency p99          ${percentile(latencies, 99).toFixed(2)} ms`);
    const verdict = opsPerSecond >= TARGET_OPS_PER_SECOND ? 'meets target' : 'BELOW TARGET';
    console.log(
      `  ratio to target      ${(opsPerSecond / TARGET_OPS_PER_SECOND).toFixed(2)} × ${TARGET_OPS_PER_SECOND} ops/s` +
        (isTarget ? `  (${verdict})` : '  (for information)'),
    );
  } finally {
    for (const c of clients) c.close();
    await sim.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await bench();
}
