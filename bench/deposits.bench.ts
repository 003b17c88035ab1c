/**
 * Deposits end to end on real PostgreSQL, as DOMAIN §2 scenario 1 at volume: N deposits wait for their payment
 * (`awaiting_payment`, with PSP payment ids, spread over many clients and accounts); then a signed `payment.succeeded`
 * webhook for each is POSTed over real HTTP to the app (bounded concurrency), which verifies it, stores the event,
 * approves the deposit, writes its ledger entries and enqueues its balance operation in one transaction; the
 * operations engine (running meanwhile, with the product's default worker settings) posts each one to the MT5
 * simulator over HTTPS, and the funding handler marks it `posted`. A warm-up burst (BENCH_WARMUP, default 1000
 * deposits) runs first, so the figures are those of running processes rather than of V8 still compiling them; its own
 * throughput is printed as the cold start. Prints:
 *   - webhook intake: webhooks accepted per second (signature checked, applied, committed),
 *   - end-to-end throughput: deposits per second from the first webhook to the last `posted` (target ≥ 300/s),
 *   - p50/p99 latency from a webhook's receipt to its deposit's `posted`, in the burst (mostly queueing) and at a
 *     steady 25/s afterwards (the path itself),
 *   - a consistency check: every deposit posted once, server balances = ledger = the deposits' sum.
 * It runs twice, each time on a fresh database, in the product's two shapes: in one process (the app and the engine
 * in this one, as the one-command demo runs them: one event loop for the API, the worker and the PSP's sender), then
 * as it is deployed, `brokerdesk api` and `brokerdesk worker` each in a process of its own, started by the command an
 * operator uses and configured by environment variables, this process being the PSP and the observer.
 * BENCH_TOPOLOGY=single or =processes runs only one. The MT5 simulator runs in a process of its own, as a trading
 * server is elsewhere (BENCH_SIM=inprocess runs it in this one, sharing its CPU).
 *
 * Uses TEST_DATABASE_URL / DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) to create and drop its own
 * database; skips with a message when no PostgreSQL answers. BENCH_DEPOSITS (default 2000), BENCH_ACCOUNTS (200),
 * BENCH_SENDERS (32 webhooks in flight), WORKER_CONCURRENCY and DATABASE_POOL_SIZE (the product's defaults, 16 and 10)
 * change the shape.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pg from 'pg';
import { startMt5Simulator } from '../sim/mt5/server.ts';
import { createContext } from '../src/app/context.ts';
import { loadConfig } from '../src/config.ts';
import { clients, moneyMovements, tradingAccounts } from '../src/db/schema.ts';
import { buildApp } from '../src/http/app.ts';
import { createLogger } from '../src/log.ts';
import { verifyAuditChain } from '../src/modules/audit/service.ts';
import { clientVisibleBalance } from '../src/modules/ledger/service.ts';
import { ProductService } from '../src/modules/products/service.ts';
import { OperationsEngine } from '../src/operations/engine.ts';
import { SandboxPaymentProvider } from '../src/payments/sandbox.ts';
import { type ChildBrokerdesk, freePort, startChildBrokerdesk } from './support/child-brokerdesk.ts';
import { startChildSimulator } from './support/child-sim.ts';
import { backendCpuSeconds, processCpuSeconds } from './support/cpu.ts';

const TARGET_PER_SECOND = 300;
const STEADY_PER_SECOND = 25;
const STEADY_SECONDS = 6;
const adminUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const positive = (value: string | undefined, fallback: number) => {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
};
const nonNegative = (value: string | undefined, fallback: number) =>
  value !== undefined && value !== '' && Number.isInteger(Number(value)) && Number(value) >= 0
    ? Number(value)
    : fallback;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function redacted(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/** A `Psp-Signature` header exactly as the sandbox makes it: HMAC-SHA256 over "<t>.<raw body>". */
function signature(secret: string, body: string, at: number): string {
  const t = Math.floor(at / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

type Topology = 'single' | 'processes';

/** Both topologies, one after the other, each on a database of its own (BENCH_TOPOLOGY=single|processes: one). */
export default async function bench(): Promise<void> {
  const chosen = process.env.BENCH_TOPOLOGY;
  const topologies: Topology[] = chosen === 'single' || chosen === 'processes' ? [chosen] : ['single', 'processes'];
  for (const topology of topologies) {
    console.log(`--- ${topology === 'single' ? 'one process' : 'api + worker processes'}`);
    if (!(await benchTopology(topology))) return;
  }
}

/** One run; false when no PostgreSQL answers (the run is skipped). */
async function benchTopology(topology: Topology): Promise<boolean> {
  const deposits = positive(process.env.BENCH_DEPOSITS, 2000);
  const warmup = nonNegative(process.env.BENCH_WARMUP, 1000);
  const accountCount = Math.min(positive(process.env.BENCH_ACCOUNTS, 200), deposits);
  const senders = positive(process.env.BENCH_SENDERS, 32);
  const steadyCount = STEADY_PER_SECOND * STEADY_SECONDS;

  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (err) {
    console.log(
      `skipped: no PostgreSQL answers at ${redacted(adminUrl)} (${(err as Error).message}); set TEST_DATABASE_URL to run this benchmark`,
    );
    await admin.end().catch(() => {});
    return false;
  }
  const name = `bd_bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  // Diagnostics: statements slower than this many ms go to the PostgreSQL server log (its own connections only).
  if (process.env.BENCH_LOG_STATEMENTS_MS) {
    await admin.query(
      `ALTER DATABASE ${name} SET log_min_duration_statement = ${Number(process.env.BENCH_LOG_STATEMENTS_MS)}`,
    );
  }
  // Diagnostics: per-database settings for this run's own database, `;`-separated `name=value` pairs, e.g.
  // BENCH_DB_SETTINGS="session_preload_libraries=auto_explain;auto_explain.log_min_duration=0" (the server's own
  // configuration is left alone). BENCH_KEEP_DB=1 keeps the database afterwards, to EXPLAIN against bench-sized tables.
  for (const pair of (process.env.BENCH_DB_SETTINGS ?? '').split(';').filter((p) => p.includes('='))) {
    const [setting, ...value] = pair.split('=');
    await admin.query(`ALTER DATABASE ${name} SET ${setting!.trim()} = ${pg.escapeLiteral(value.join('=').trim())}`);
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  // The simulator in a process of its own by default, as a trading server is (BENCH_SIM=inprocess: in this one).
  const simInProcess = process.env.BENCH_SIM === 'inprocess';
  const sim = simInProcess
    ? await startMt5Simulator({ name: 'mt5-bench', quiet: true, port: 0, controlPort: 0 })
    : await startChildSimulator({ name: 'mt5-bench', port: 0, controlPort: 0 });
  const webhookSecret = `whsec_${randomBytes(24).toString('base64url')}`;
  // The adapter only verifies webhooks here: the deposits are created directly, so the PSP's API is never called.
  const pspUrl = 'http://127.0.0.1:9';
  const psp = new SandboxPaymentProvider({ baseUrl: pspUrl, apiKey: 'bench', webhookSecret });
  const single = topology === 'single';
  const env: Record<string, string> = {
    DATABASE_URL: url.toString(),
    BROKERDESK_SECRET_KEY: randomBytes(32).toString('base64'),
    ...(process.env.WORKER_CONCURRENCY ? { WORKER_CONCURRENCY: process.env.WORKER_CONCURRENCY } : {}),
    ...(process.env.DATABASE_POOL_SIZE ? { DATABASE_POOL_SIZE: process.env.DATABASE_POOL_SIZE } : {}),
  };
  // This process's context sets the data up (and migrates the database) and reads the results.
  const ctx = await createContext(loadConfig({ env }), { logger: createLogger('silent'), psp });
  const app = single ? await buildApp(ctx) : null;
  let engine: OperationsEngine | null = null;
  const children: ChildBrokerdesk[] = [];
  try {
    process.env.BENCH_DEPOSITS_MT5_PASSWORD = sim.manager.password;
    await ctx.registry.upsert({
      code: 'mt5-bench',
      platform: 'mt5',
      environment: 'live',
      address: sim.url,
      managerLogin: sim.manager.login,
      passwordSecret: 'env:BENCH_DEPOSITS_MT5_PASSWORD',
      caCertPath: sim.certPath ?? null,
    });
    const products = new ProductService({
      database: ctx.database,
      registry: ctx.registry,
      clock: ctx.clock,
      audit: ctx.audit,
    });
    const product = await products.create(
      {
        code: 'bench-usd',
        name: 'Bench USD',
        environment: 'live',
        serverCode: 'mt5-bench',
        groupName: 'real\\standard-usd',
        currency: 'USD',
        allowedLeverages: [100],
        defaultLeverage: 100,
        kycPolicy: 'none',
      },
      'bench',
    );

    // Clients with one open account each, opened on the simulator by its dealer console (not what is measured).
    const now = new Date();
    const accounts: { id: string; clientId: string; login: number }[] = [];
    for (let i = 0; i < accountCount; i++) {
      const response = await fetch(`${sim.controlUrl}/control/accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sim.controlToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ group: 'real\\standard-usd', name: `Bench ${i}`, leverage: 100 }),
      });
      const login = Number(((await response.json()) as { Login: string }).Login);
      const [client] = await ctx.database.db
        .insert(clients)
        .values({
          email: `bench${i}@example.com`,
          emailVerifiedAt: now,
          passwordHash: 'not-used',
          name: `Bench ${i}`,
          country: 'CY',
          status: 'active',
          kycStatus: 'approved',
          createdAt: now,
          updatedAt: now,
        })
        .returning({ id: clients.id });
      const [account] = await ctx.database.db
        .insert(tradingAccounts)
        .values({
          clientId: client!.id,
          productId: product.id,
          serverCode: 'mt5-bench',
          login,
          groupName: 'real\\standard-usd',
          currency: 'USD',
          leverage: 100,
          status: 'open',
          tradingEnabled: true,
          createdAt: now,
          updatedAt: now,
        })
        .returning({ id: tradingAccounts.id });
      accounts.push({ id: account!.id, clientId: client!.id, login });
    }

    // N deposits waiting for their payment, as startDeposit leaves them once the PSP session exists.
    // In index order: the warm-up's deposits, the measured burst's, then the steady trickle's.
    const total = warmup + deposits + steadyCount;
    const planned = Array.from({ length: total }, (_, i) => ({
      account: accounts[i % accounts.length]!,
      amountMinor: 10_000 + (i % 97) * 100,
      pspPaymentId: `pay_bench_${i.toString().padStart(6, '0')}`,
    }));
    const movementIds: string[] = [];
    for (let i = 0; i < planned.length; i += 500) {
      const rows = await ctx.database.db
        .insert(moneyMovements)
        .values(
          planned.slice(i, i + 500).map((p) => ({
            kind: 'deposit' as const,
            direction: 'in' as const,
            status: 'awaiting_payment' as const,
            clientId: p.account.clientId,
            tradingAccountId: p.account.id,
            amountMinor: p.amountMinor,
            currency: 'USD',
            psp: psp.name,
            pspPaymentId: p.pspPaymentId,
            paymentUrl: `http://127.0.0.1:9/pay/${p.pspPaymentId}`,
            requestedByType: 'client' as const,
            requestedById: p.account.clientId,
            createdAt: now,
            updatedAt: now,
          })),
        )
        .returning({ id: moneyMovements.id });
      movementIds.push(...rows.map((r) => r.id));
    }
    const bodies = planned.map((p, i) => {
      const at = new Date().toISOString();
      return JSON.stringify({
        id: `evt_bench_${i.toString().padStart(6, '0')}`,
        type: 'payment.succeeded',
        createdAt: at,
        data: {
          object: 'payment',
          id: p.pspPaymentId,
          status: 'succeeded',
          amount: p.amountMinor,
          refundedAmount: 0,
          chargedBackAmount: 0,
          currency: 'USD',
          merchantReference: movementIds[i],
          description: `Deposit to trading account ${p.account.login}`,
          card: { last4: '4242', brand: 'visa' },
          failureReason: null,
          refunds: [],
          chargeback: null,
          createdAt: at,
          updatedAt: at,
        },
      });
    });

    const concurrency = ctx.config.worker.concurrency;
    let apiUrl: string;
    if (app) {
      await app.listen({ host: '127.0.0.1', port: 0 });
      apiUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      engine = new OperationsEngine(ctx.operationsDeps(), {
        concurrency,
        pollMs: ctx.config.worker.pollMs,
        leaseMs: ctx.config.worker.leaseMs,
        verifyDelayMs: ctx.config.worker.verifyDelayMs,
      });
      await engine.start();
    } else {
      // `brokerdesk api` and `brokerdesk worker` as an operator runs them: the configuration in the environment, the
      // secrets as references to it. The daily reconciliation is off (it would start after a minute, on this
      // database's first day); everything else the worker does runs on its defaults.
      const productEnv = {
        ...env,
        LOG_LEVEL: 'info',
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(await freePort()),
        PSP_URL: pspUrl,
        PSP_API_KEY_SECRET: 'env:BENCH_PSP_API_KEY',
        PSP_WEBHOOK_SECRET: 'env:BENCH_PSP_WEBHOOK_SECRET',
        BENCH_PSP_API_KEY: 'bench',
        BENCH_PSP_WEBHOOK_SECRET: webhookSecret,
        BENCH_DEPOSITS_MT5_PASSWORD: sim.manager.password,
        RECON_SCHEDULE: 'false',
      };
      const [api, worker] = await Promise.all([
        startChildBrokerdesk('api', productEnv, /brokerdesk api listening on http:\/\/\S+/),
        startChildBrokerdesk('worker', productEnv, /"msg":"worker started"/),
      ]);
      children.push(api!, worker!);
      apiUrl = /listening on (http:\/\/\S+)/.exec(api!.readyLine)![1]!;
    }
    const webhookUrl = `${apiUrl}/api/webhooks/psp/${psp.name}`;

    const receivedAt = new Array<number>(total);
    const index = new Map(movementIds.map((id, i) => [id, i]));
    const refused: string[] = [];
    /** POSTs deposit i's signed webhook (signed at sending, as the sandbox signs each attempt). */
    // The PSP's side is plain HTTP/1.1 over keep-alive connections, one per sender: node:http rather than fetch,
    // whose per-request machinery (web streams, undici) cost this shared process ~1 ms of CPU per webhook.
    const senderAgent = new http.Agent({ keepAlive: true, maxSockets: senders });
    const post = (body: string, headers: Record<string, string>) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const request = http.request(
          webhookUrl,
          { method: 'POST', agent: senderAgent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () =>
              resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
            );
            response.on('error', reject);
          },
        );
        request.on('error', reject);
        request.end(body);
      });
    const deliver = async (i: number) => {
      receivedAt[i] = Date.now();
      const response = await post(bodies[i]!, {
        'content-type': 'application/json',
        'psp-signature': signature(webhookSecret, bodies[i]!, Date.now()),
      });
      if (response.status !== 200 || !response.text.includes('"applied"')) {
        refused.push(`${response.status} ${response.text}`);
      }
    };
    /** Waits (bounded) until deposits [from, to) are posted; answers how many are and when the last one was. */
    const settle = async (from: number, to: number, deadline: number) => {
      const ids = movementIds.slice(from, to);
      for (;;) {
        const [row] = await ctx.database.query<{ n: number; last: Date | null }>(
          "SELECT count(*)::int AS n, max(completed_at) AS last FROM money_movements WHERE id = ANY($1::uuid[]) AND status = 'posted'",
          [ids],
        );
        if (row!.n === ids.length || Date.now() > deadline) {
          return { posted: row!.n, last: row!.last ? new Date(row!.last).getTime() : Date.now() };
        }
        // The end is read from the rows (max completed_at), so the poll interval costs no precision; each poll
        // looks up every id of the batch, which at 20 ms took ~0.3-0.6 ms of PostgreSQL CPU per deposit.
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const latenciesOf = async (from: number, to: number) =>
      (
        await ctx.database.query<{ id: string; completed_at: Date }>(
          "SELECT id, completed_at FROM money_movements WHERE id = ANY($1::uuid[]) AND status = 'posted'",
          [movementIds.slice(from, to)],
        )
      )
        .map((r) => new Date(r.completed_at).getTime() - receivedAt[index.get(r.id)!]!)
        .sort((a, b) => a - b);

    /** Deposits [from, to) as one burst: every webhook POSTed, `senders` at a time, while the engine works. */
    const sendBurst = async (from: number, to: number) => {
      let next = from;
      await Promise.all(
        Array.from({ length: senders }, async () => {
          for (let i = next++; i < to; i = next++) await deliver(i);
        }),
      );
    };

    // 0. The warm-up: the processes have just started; their code is still being compiled by V8's optimising tiers
    // (a third of the worker's CPU in the first thousand deposits, measured with perf) and their connections are
    // being opened. A broker's API and worker run for days, so the figures below are taken after it; the warm-up's
    // own throughput is printed as the cold start.
    const warmStart = Date.now();
    await sendBurst(0, warmup);
    const warmed = warmup > 0 ? await settle(0, warmup, warmStart + 60_000) : { posted: 0, last: warmStart };
    const warmSeconds = (warmed.last - warmStart) / 1000;

    // 1. The burst, measured.
    const counter = (globalThis as { __benchQueryCounts?: () => { total: number } }).__benchQueryCounts;
    const statementsBefore = counter?.().total ?? 0;
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    loopDelay.enable();
    const cpuBefore = process.cpuUsage();
    const childCpuBefore = children.map((c) => processCpuSeconds(c.pid));
    const pgCpuBefore = backendCpuSeconds(name);
    const simPid = 'pid' in sim ? sim.pid : undefined;
    const simCpuBefore = processCpuSeconds(simPid);
    const loadBefore = loadavg()[0]!;
    // Diagnostics: BENCH_BURST_MARKER=<file> exists while the measured burst runs (to start a profiler on it).
    const marker = process.env.BENCH_BURST_MARKER;
    if (marker) writeFileSync(marker, `${process.pid}\n`);
    const t0 = Date.now();
    await sendBurst(warmup, warmup + deposits);
    const intakeSeconds = (Date.now() - t0) / 1000;
    const burst = await settle(warmup, warmup + deposits, t0 + 60_000);
    const seconds = (burst.last - t0) / 1000;
    if (marker) rmSync(marker, { force: true });
    loopDelay.disable();
    const cpu = process.cpuUsage(cpuBefore);
    const childCpuAfter = children.map((c) => processCpuSeconds(c.pid));
    const pgCpuAfter = backendCpuSeconds(name);
    const simCpuAfter = processCpuSeconds(simPid);
    const burstWall = (Date.now() - t0) / 1000;
    const statements = counter ? counter().total - statementsBefore : null;
    const latencies = await latenciesOf(warmup, warmup + deposits);

    // 2. A steady trickle well below capacity: the latency of the path itself, without a queue in front of it.
    const steadyStart = Date.now();
    const sent: Promise<void>[] = [];
    for (let k = 0; k < steadyCount; k++) {
      const wait = steadyStart + (k * 1000) / STEADY_PER_SECOND - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      sent.push(deliver(warmup + deposits + k));
    }
    await Promise.all(sent);
    const steady = await settle(warmup + deposits, total, Date.now() + 15_000);
    const steadyLatencies = await latenciesOf(warmup + deposits, total);
    await engine?.stop();
    engine = null;
    // The worker stops (SIGTERM) before the checks, as the in-process engine does.
    for (const child of children.splice(0).reverse()) await child.close();
    senderAgent.destroy();

    // Consistency: one succeeded operation per deposit, and server = ledger = what was deposited, account by account.
    const [ops] = await ctx.database.query<{ ok: number; other: number; attempts: number }>(
      `SELECT count(*) FILTER (WHERE status = 'succeeded')::int AS ok, count(*) FILTER (WHERE status <> 'succeeded')::int AS other,
              coalesce(sum(attempts), 0)::int AS attempts
       FROM operations WHERE kind = 'balance'`,
    );
    const expected = new Map<string, number>();
    for (const p of planned) expected.set(p.account.id, (expected.get(p.account.id) ?? 0) + p.amountMinor);
    let mismatches = 0;
    for (const a of accounts) {
      const response = await fetch(`${sim.controlUrl}/control/accounts/${a.login}`, {
        headers: { authorization: `Bearer ${sim.controlToken}` },
      });
      const server = Math.round(
        Number(((await response.json()) as { account: { Balance: string } }).account.Balance) * 100,
      );
      const ledger = await clientVisibleBalance(ctx.database.db, {
        type: 'trading_account',
        ownerId: a.id,
        currency: 'USD',
      });
      if (server !== expected.get(a.id) || ledger !== server) mismatches++;
    }

    if (process.env.BENCH_PLANS === '1') {
      // Diagnostics: how one pooled connection planned its prepared statements (custom plans are planned per use).
      for (const r of await ctx.database.query<{ name: string; generic_plans: number; custom_plans: number }>(
        'select name, generic_plans, custom_plans from pg_prepared_statements order by custom_plans desc',
      )) {
        console.log(`plans: ${r.name.padEnd(48)} generic ${r.generic_plans}, custom ${r.custom_plans}`);
      }
    }
    const chain = await verifyAuditChain(ctx.database.db);
    const throughput = burst.posted / seconds;
    console.log(
      `setup: ${warmup} + ${deposits} + ${steadyCount} deposits (warm-up, burst, steady) awaiting payment on ${accountCount} accounts (one client each); worker concurrency ${concurrency}, ${senders} webhooks in flight; ${single ? 'app and engine in this process' : '`brokerdesk api` and `brokerdesk worker` in processes of their own, this one sends the webhooks'}, the MT5 simulator ${simInProcess ? 'in this one (BENCH_SIM=inprocess)' : 'in its own'}`,
    );
    if (warmup > 0) {
      console.log(
        `warm-up, just after the processes started (not in the figures below): ${warmed.posted}/${warmup} posted in ${warmSeconds.toFixed(2)} s → ${(warmed.posted / warmSeconds).toFixed(0)} deposits/s cold`,
      );
    }
    console.log(
      `webhook intake: ${deposits} signed webhooks accepted in ${intakeSeconds.toFixed(2)} s (${(deposits / intakeSeconds).toFixed(0)}/s), ${refused.length} refused${refused.length ? ` (first: ${refused[0]})` : ''}`,
    );
    console.log(
      `end-to-end throughput: ${throughput.toFixed(0)} deposits/s (signed webhook → approved → posted on MT5 sim → posted), ${burst.posted}/${deposits} posted in ${seconds.toFixed(2)} s; target ≥ ${TARGET_PER_SECOND}/s → ${(throughput / TARGET_PER_SECOND).toFixed(2)}× target`,
    );
    console.log(
      `latency webhook receipt → posted, burst of ${deposits}: p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms, max ${latencies.at(-1)?.toFixed(0)} ms (mostly waiting in the queue)`,
    );
    console.log(
      `latency webhook receipt → posted, steady ${STEADY_PER_SECOND}/s for ${STEADY_SECONDS} s: p50 ${percentile(steadyLatencies, 50).toFixed(0)} ms, p99 ${percentile(steadyLatencies, 99).toFixed(0)} ms, max ${steadyLatencies.at(-1)?.toFixed(0)} ms (${steady.posted}/${steadyCount} posted)`,
    );
    const share = (before: number | null, after: number | null, label: string) => {
      if (before === null || after === null) return;
      console.log(
        `${label} during the burst: ${(((after - before) / burstWall) * 100).toFixed(0)} % of one core (${(((after - before) * 1000) / deposits).toFixed(1)} ms per deposit)`,
      );
    };
    if (!single) {
      share(childCpuBefore[0]!, childCpuAfter[0]!, '`brokerdesk api` process');
      share(childCpuBefore[1]!, childCpuAfter[1]!, '`brokerdesk worker` process');
    }
    console.log(
      `${single ? 'this process (API, worker and the PSP sender)' : 'this process (the PSP sender)'} during the burst: CPU ${(((cpu.user + cpu.system) / 1e6 / burstWall) * 100).toFixed(0)} % of one core (${((cpu.user + cpu.system) / 1000 / deposits).toFixed(1)} ms per deposit), event-loop delay p50 ${(loopDelay.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms${statements === null ? '' : `; ${(statements / deposits).toFixed(1)} round trips per deposit (node --import ./bench/support/count-queries.mjs)`}`,
    );
    share(pgCpuBefore, pgCpuAfter, 'PostgreSQL backends');
    console.log(
      `machine: ${cpus().length} CPUs, load average (1 min) ${loadBefore.toFixed(2)} at the burst's start, ${loadavg()[0]!.toFixed(2)} at the end of the run (the figures above share the CPUs with whatever else runs)`,
    );
    share(simCpuBefore, simCpuAfter, 'MT5 simulator process');
    console.log(
      `checks: ${ops!.ok} balance operations succeeded, ${ops!.other} not, ${ops!.attempts} server attempts for ${total} deposits; ${accountCount - mismatches}/${accountCount} accounts with server = ledger = deposited${mismatches ? ' (MISMATCH)' : ''}; audit chain of ${chain.checked} events ${chain.ok ? 'verifies' : `BROKEN at ${chain.brokenAt?.id}`}`,
    );
  } finally {
    await engine?.stop().catch(() => {});
    for (const child of children) await child.close().catch(() => {});
    await app?.close();
    await ctx.close();
    await sim.close();
    if (process.env.BENCH_KEEP_DB === '1') console.log(`kept database ${name} (BENCH_KEEP_DB=1)`);
    else await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
  return true;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await bench();
  process.exit(0);
}
