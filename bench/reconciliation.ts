/**
 * Daily reconciliation at scale, on real PostgreSQL: 100 000 live accounts and a day of 1 000 000 deposits, each
 * present in all three sources (a money movement with its operation and two ledger transactions, a balance record
 * synced from the server, a PSP settlement line), with a few thousand planted breaks of every class. The rows are
 * generated with bulk SQL; then one `ReconciliationService.run` does what the scheduled run does: reads the 100 000
 * account balances (from an in-process server stand-in), fetches and stores the 1 000 000 PSP lines (from an
 * in-process PSP stand-in), compares set-based and merges the breaks. Prints each phase, the total and the ratio to
 * the target (< 30 s), and checks that exactly the planted breaks were found.
 *
 * Uses TEST_DATABASE_URL / DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) to create its own database;
 * skipped, saying so, when no PostgreSQL answers. `BENCH_RECON_DEPOSITS` and `BENCH_RECON_ACCOUNTS` scale it down.
 *   npm run bench -- reconciliation        or        node bin/run-ts.mjs bench/reconciliation.ts
 */
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ManualClock } from '../src/clock.ts';
import { connect, type Database } from '../src/db/connect.ts';
import { AlertService } from '../src/modules/alerts/service.ts';
import { recordAudit } from '../src/modules/audit/service.ts';
import { ReconciliationService, type ReconProgress } from '../src/modules/reconciliation/service.ts';
import type { PaymentProvider, PspSettlement } from '../src/payments/types.ts';
import type { Platform, TradingAccount } from '../src/platforms/types.ts';

const adminUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const TARGET_S = 30;
const SERVER = 'mt5-bench';
const PSP = 'benchpsp';
export const BENCH_DATE = '2026-03-02';
const WINDOW_START = new Date('2026-03-01T22:00:00Z');
const CUTOFF = new Date('2026-03-02T22:00:00Z');

export interface Scale {
  accounts: number;
  deposits: number;
}

/**
 * The planted breaks: deposit j is planted as `kind` when j % every = at (residues chosen so no deposit gets two).
 * About 0.3% of the deposits: missing on the server, recorded with 1.00 more, recorded twice; plus a dealer record
 * without a reference next to some deposits and a PSP line for a payment nobody in the CRM started.
 */
const PLANT = {
  missing: { every: 1000, at: 0 },
  amount: { every: 2000, at: 7 },
  duplicate: { every: 5000, at: 13 },
  dealer: { every: 2000, at: 17 },
  unknownPsp: { every: 2000, at: 19 },
} as const;
const planted = (kind: keyof typeof PLANT, j: number) => j % PLANT[kind].every === PLANT[kind].at;
const plantedSql = (kind: keyof typeof PLANT, j = 'j') => `(${j} % ${PLANT[kind].every} = ${PLANT[kind].at})`;

const md5uuid = (text: string) => {
  const h = createHash('md5').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
const amountOf = (j: number) => 1000 + ((j * 7919) % 5000) * 10;
const timeOf = (j: number, n: number) => new Date(WINDOW_START.getTime() + Math.floor((j / n) * 23 * 3600_000));

/** The planted breaks, by class, for a scale (what a correct run must find, exactly). */
export function expectedBreaks(scale: Scale): Record<string, number> {
  const counts = { missing_on_server: 0, amount_mismatch: 0, duplicate: 0, server_not_in_crm: 0, psp_not_in_crm: 0 };
  // Each server-side plant moves the account's server balance away from its ledger balance.
  const drift = new Map<number, number>();
  const add = (j: number, delta: number) => {
    const account = j % scale.accounts;
    drift.set(account, (drift.get(account) ?? 0) + delta);
  };
  for (let j = 1; j <= scale.deposits; j++) {
    if (planted('missing', j)) {
      counts.missing_on_server += 1;
      add(j, -amountOf(j));
    } else if (planted('amount', j)) {
      counts.amount_mismatch += 1;
      add(j, 100);
    } else if (planted('duplicate', j)) {
      counts.duplicate += 1;
      add(j, amountOf(j));
    }
    if (planted('dealer', j)) {
      counts.server_not_in_crm += 1;
      add(j, 500);
    }
    if (planted('unknownPsp', j)) counts.psp_not_in_crm += 1;
  }
  const balance_drift = [...drift.values()].filter((d) => d !== 0).length;
  return Object.fromEntries(Object.entries({ ...counts, balance_drift }).filter(([, n]) => n > 0));
}

/** Generates the day with bulk SQL. Deposit j goes to account (j mod accounts); the plants are above. */
export async function generate(url: string, scale: Scale, log: (line: string) => void): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const step = async (label: string, text: string) => {
    const t = performance.now();
    await client.query(text);
    log(`  ${label.padEnd(40)} ${((performance.now() - t) / 1000).toFixed(1)} s`);
  };
  const N = scale.accounts;
  const M = scale.deposits;
  const W = `'${WINDOW_START.toISOString()}'::timestamptz`;
  // The j-th deposit's time: spread over 23 hours of the window.
  const T = (j: string) =>
    `(${W} + ((${j})::double precision / ${M} * 23 * 3600000)::bigint * interval '1 millisecond')`;
  const AMOUNT = (j: string) => `(1000 + ((${j})::bigint * 7919 % 5000) * 10)`;
  try {
    // Bulk generation: no triggers and no foreign-key checks (the rows are consistent by construction).
    await client.query(`SET session_replication_role = replica`);
    await client.query(`SET work_mem = '256MB'`);
    await client.query(`SET maintenance_work_mem = '512MB'`);
    await step(
      'servers, products, cursors',
      `INSERT INTO trading_servers (code, platform, environment, address, manager_login, password_secret)
         VALUES ('${SERVER}', 'mt5', 'live', 'https://127.0.0.1:1', 1000, 'env:NONE');
       INSERT INTO trade_sync_cursors (server_code, synced_to, updated_at)
         VALUES ('${SERVER}', '${CUTOFF.toISOString()}'::timestamptz + interval '1 hour', now());
       INSERT INTO products (id, code, name, environment, server_code, group_name, currency, allowed_leverages,
           default_leverage, kyc_policy, created_at, updated_at)
         VALUES (md5('product')::uuid, 'bench', 'Bench', 'live', '${SERVER}', 'real\\std', 'USD', '{100}', 100, 'none',
           now(), now());`,
    );
    await step(
      `${N.toLocaleString('en')} clients and accounts`,
      `INSERT INTO clients (id, email, password_hash, name, country, status, kyc_status, created_at, updated_at)
         SELECT md5('c' || i)::uuid, 'c' || i || '@bench.example', 'x', 'Client ' || i, 'CY', 'active', 'approved',
           now(), now() FROM generate_series(0, ${N - 1}) i;
       INSERT INTO trading_accounts (id, client_id, product_id, server_code, login, group_name, currency, leverage,
           status, trading_enabled, created_at, updated_at)
         SELECT md5('a' || i)::uuid, md5('c' || i)::uuid, md5('product')::uuid, '${SERVER}', 100000 + i, 'real\\std',
           'USD', 100, 'open', true, now(), now() FROM generate_series(0, ${N - 1}) i;`,
    );
    await step(
      `${M.toLocaleString('en')} deposits (movements)`,
      `INSERT INTO money_movements (id, kind, direction, status, client_id, trading_account_id, amount_minor, currency,
           psp, psp_payment_id, operation_id, ticket, requested_by_type, requested_by_id, created_at, updated_at,
           completed_at)
         SELECT md5('m' || j)::uuid, 'deposit', 'in', 'posted', md5('c' || (j % ${N}))::uuid,
           md5('a' || (j % ${N}))::uuid, ${AMOUNT('j')}, 'USD', '${PSP}', 'pay_' || j, md5('o' || j)::uuid, j::text,
           'client', md5('c' || (j % ${N}))::text, ${T('j')}, ${T('j')}, ${T('j')}
         FROM generate_series(1, ${M}) j;`,
    );
    await step(
      'operations',
      `INSERT INTO operations (id, seq, reference, kind, server_code, login, account_key, payload, status, attempts,
           next_attempt_at, ticket, handler, requested_by, correlation_id, created_at, updated_at, finished_at)
         SELECT md5('o' || j)::uuid, j, 'BD-DEP-' || lpad(j::text, 13, '0'), 'balance', '${SERVER}',
           100000 + (j % ${N}), '${SERVER}:' || (100000 + (j % ${N})),
           jsonb_build_object('amount', ${AMOUNT('j')}, 'currency', 'USD', 'note', 'deposit'), 'succeeded', 1,
           ${T('j')}, j::text, 'funding.deposit', 'psp:${PSP}', md5('m' || j)::uuid::text,
           ${T('j')}, ${T('j')} + interval '200 milliseconds', ${T('j')} + interval '200 milliseconds'
         FROM generate_series(1, ${M}) j;
       SELECT setval(pg_get_serial_sequence('operations', 'seq'), ${M});`,
    );
    await step(
      'server balance records',
      `INSERT INTO trade_records (server_code, platform, record_type, ticket, login, time, amount_minor, balance_kind,
           reference, comment, content_hash, source, first_seen_at, updated_at)
         SELECT '${SERVER}', 'mt5', 'balance', j::text, 100000 + (j % ${N}), ${T('j')} + interval '100 milliseconds',
           ${AMOUNT('j')} + CASE WHEN ${plantedSql('amount')} THEN 100 ELSE 0 END,
           'balance', 'BD-DEP-' || lpad(j::text, 13, '0'), 'BD-DEP-' || lpad(j::text, 13, '0') || ' deposit', 'h',
           'poll', now(), now()
         FROM generate_series(1, ${M}) j WHERE NOT ${plantedSql('missing')};
       -- A second record with the same reference (a dealer re-posted the deposit by hand).
       INSERT INTO trade_records (server_code, platform, record_type, ticket, login, time, amount_minor, balance_kind,
           reference, comment, content_hash, source, first_seen_at, updated_at)
         SELECT '${SERVER}', 'mt5', 'balance', 'dup' || j, 100000 + (j % ${N}), ${T('j')} + interval '1 minute',
           ${AMOUNT('j')}, 'balance', 'BD-DEP-' || lpad(j::text, 13, '0'), 'BD-DEP-' || lpad(j::text, 13, '0'), 'h',
           'poll', now(), now()
         FROM generate_series(1, ${M}) j
         WHERE ${plantedSql('duplicate')};
       -- A dealer's correction without any reference.
       INSERT INTO trade_records (server_code, platform, record_type, ticket, login, time, amount_minor, balance_kind,
           reference, comment, content_hash, source, first_seen_at, updated_at)
         SELECT '${SERVER}', 'mt5', 'balance', 'dlr' || j, 100000 + (j % ${N}), ${T('j')} + interval '2 minutes',
           500, 'correction', NULL, 'dealer comp', 'h', 'poll', now(), now()
         FROM generate_series(1, ${M}) j WHERE ${plantedSql('dealer')};`,
    );
    await step(
      'ledger accounts',
      `INSERT INTO ledger_accounts (id, code, type, owner_id, currency, created_at)
         VALUES (md5('L-psp')::uuid, 'psp_clearing:${PSP}:USD', 'psp_clearing', '${PSP}', 'USD', now());
       INSERT INTO ledger_accounts (id, code, type, owner_id, currency, created_at)
         SELECT md5('L-cf' || i)::uuid, 'client_funds:' || md5('c' || i)::uuid || ':USD', 'client_funds',
           md5('c' || i)::uuid::text, 'USD', now() FROM generate_series(0, ${N - 1}) i;
       INSERT INTO ledger_accounts (id, code, type, owner_id, currency, created_at)
         SELECT md5('L-ta' || i)::uuid, 'trading_account:' || md5('a' || i)::uuid || ':USD', 'trading_account',
           md5('a' || i)::uuid::text, 'USD', now() FROM generate_series(0, ${N - 1}) i;`,
    );
    await step(
      'ledger transactions (2 per deposit)',
      `INSERT INTO ledger_transactions (id, kind, description, idempotency_key, correlation, created_at, created_by,
           created_xid)
         SELECT md5('r' || j)::uuid, 'deposit.received', 'deposit', md5('m' || j)::uuid || ':deposit.received:received',
           jsonb_build_object('movementId', md5('m' || j)::uuid), ${T('j')} - interval '50 milliseconds', 'funding', 1
         FROM generate_series(1, ${M}) j
         UNION ALL
         SELECT md5('p' || j)::uuid, 'deposit.posted', 'deposit', md5('m' || j)::uuid || ':deposit.posted:' || md5('o' || j)::uuid,
           jsonb_build_object('movementId', md5('m' || j)::uuid, 'operationId', md5('o' || j)::uuid),
           ${T('j')} + interval '200 milliseconds', 'funding', 1
         FROM generate_series(1, ${M}) j;`,
    );
    await step(
      'ledger entries (4 per deposit)',
      `INSERT INTO ledger_entries (transaction_id, account_id, currency, amount_minor, created_at)
         SELECT md5('r' || j)::uuid, md5('L-psp')::uuid, 'USD', ${AMOUNT('j')}, ${T('j')} FROM generate_series(1, ${M}) j
         UNION ALL
         SELECT md5('r' || j)::uuid, md5('L-cf' || (j % ${N}))::uuid, 'USD', -${AMOUNT('j')}, ${T('j')}
           FROM generate_series(1, ${M}) j
         UNION ALL
         SELECT md5('p' || j)::uuid, md5('L-cf' || (j % ${N}))::uuid, 'USD', ${AMOUNT('j')}, ${T('j')}
           FROM generate_series(1, ${M}) j
         UNION ALL
         SELECT md5('p' || j)::uuid, md5('L-ta' || (j % ${N}))::uuid, 'USD', -${AMOUNT('j')}, ${T('j')}
           FROM generate_series(1, ${M}) j;`,
    );
    // As a day's data would be by the cut-off: vacuumed (hint bits, visibility map) and analysed.
    await step('vacuum analyze', 'VACUUM ANALYZE');
  } finally {
    await client.end();
  }
}

/** The PSP's day: one settlement line per deposit, and a few for payments nobody in the CRM started. */
function pspLines(scale: Scale): PspSettlement[] {
  const lines: PspSettlement[] = [];
  const M = scale.deposits;
  for (let j = 1; j <= M; j++) {
    const at = new Date(timeOf(j, M).getTime() - 100);
    lines.push({
      pspTransactionId: `st_${j}`,
      type: 'payment',
      sourceId: `pay_${j}`,
      pspPaymentId: `pay_${j}`,
      merchantReference: md5uuid(`m${j}`),
      amountMinor: amountOf(j),
      currency: 'USD',
      status: 'settled',
      occurredAt: at,
    });
    if (planted('unknownPsp', j)) {
      lines.push({
        pspTransactionId: `st_x${j}`,
        type: 'payment',
        sourceId: `pay_x${j}`,
        pspPaymentId: `pay_x${j}`,
        merchantReference: `website-order-${j}`,
        amountMinor: 2500,
        currency: 'USD',
        status: 'settled',
        occurredAt: at,
      });
    }
  }
  return lines;
}

/** The server's balances: what its records add up to per account (so each planted server break also drifts). */
async function serverBalances(url: string): Promise<Map<number, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ login: string; balance: string }>(
      `SELECT login, sum(amount_minor) AS balance FROM trade_records WHERE server_code = $1 GROUP BY login`,
      [SERVER],
    );
    return new Map(rows.map((r) => [Number(r.login), Number(r.balance)]));
  } finally {
    await client.end();
  }
}

export interface Measured {
  totalS: number;
  phases: { phase: string; seconds: number }[];
  byClass: Record<string, number>;
  breaks: number;
}

/** One reconciliation run of the generated day, timed. */
export async function measure(database: Database, url: string, scale: Scale): Promise<Measured> {
  const balances = await serverBalances(url);
  const lines = pspLines(scale);
  const platform = {
    kind: 'mt5',
    server: SERVER,
    async getAccount(login: number): Promise<TradingAccount> {
      return { login, balance: balances.get(login) ?? 0, credit: 0 } as TradingAccount;
    },
  } as unknown as Platform;
  const psp = {
    name: PSP,
    async listSettlements(from: Date, to: Date) {
      return lines.filter((l) => l.occurredAt >= from && l.occurredAt < to);
    },
  } as unknown as PaymentProvider;
  const clock = new ManualClock(new Date(CUTOFF.getTime() + 30 * 60_000));
  const alerts = new AlertService({ clock });
  const audit = {
    record: (tx: Parameters<typeof recordAudit>[0], e: Parameters<typeof recordAudit>[1]) => recordAudit(tx, e, clock),
  };
  const service = new ReconciliationService({
    database,
    clock,
    audit,
    alerts,
    psp,
    servers: {
      list: async () => [{ code: SERVER, platform: 'mt5', environment: 'live', enabled: true }],
      platform: async () => platform,
    },
    sync: null,
    operations: { database, clock, audit, alerts },
    settings: { cutoff: '22:00', timeZone: 'UTC', lookbackDays: 31, balanceConcurrency: 64 },
  });
  // Reading the sources (balances and PSP lines, side by side), comparing (two lanes), merging: when each began.
  const began = new Map<string, number>();
  const onProgress = (p: ReconProgress) => {
    const stage = p.phase === 'balances' || p.phase === 'psp' ? 'sources' : p.phase;
    if (!began.has(stage)) began.set(stage, performance.now());
  };
  const t0 = performance.now();
  const run = await service.run({ date: BENCH_DATE, requestedBy: 'bench', onProgress });
  const end = performance.now();
  const totalS = (end - t0) / 1000;
  const order = ['start', 'sources', 'compare', 'merge', 'done'].filter((s) => began.has(s));
  const labels: Record<string, string> = {
    start: 'run recorded, horizon',
    sources: 'balances read (100 000) and PSP lines stored, side by side',
    compare: 'comparisons (set-based SQL, two lanes on one snapshot)',
    merge: 'merge into breaks, summary, alert, audit',
  };
  const phases = order
    .filter((s) => s !== 'done')
    .map((s, i) => ({
      phase: labels[s] ?? s,
      seconds: ((began.get(order[i + 1]!) ?? end) - began.get(s)!) / 1000,
    }));
  const summary = run.summary as { breaks: number; byClass: Record<string, number> };
  return { totalS, phases, byClass: summary.byClass, breaks: summary.breaks };
}

async function postgresAnswers(): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export default async function bench(): Promise<void> {
  const scale: Scale = {
    accounts: Number(process.env.BENCH_RECON_ACCOUNTS ?? 100_000),
    deposits: Number(process.env.BENCH_RECON_DEPOSITS ?? 1_000_000),
  };
  if (!(await postgresAnswers())) {
    console.log(`reconciliation: SKIPPED — no PostgreSQL answers at ${adminUrl} (set TEST_DATABASE_URL)`);
    return;
  }
  const name = `bd_bench_recon_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const database = await connect({ databaseUrl: url.toString(), maxConnections: 4 });
  try {
    await database.migrate();
    console.log(
      `generating ${scale.accounts.toLocaleString('en')} accounts and ${scale.deposits.toLocaleString('en')} deposits (movement, operation, 2 ledger transactions, server record, PSP line each):`,
    );
    const g0 = performance.now();
    await generate(url.toString(), scale, (line) => console.log(line));
    console.log(`  generated in ${((performance.now() - g0) / 1000).toFixed(1)} s`);
    const result = await measure(database, url.toString(), scale);
    for (const p of result.phases) console.log(`  ${p.phase.padEnd(62)} ${p.seconds.toFixed(2)} s`);
    const expected = expectedBreaks(scale);
    const ok = Object.entries(expected).every(([cls, n]) => (result.byClass[cls] ?? 0) === n);
    console.log(
      `  breaks found: ${result.breaks} ${JSON.stringify(result.byClass)}; planted ${JSON.stringify(expected)} → ${ok ? 'exactly the planted ones' : 'MISMATCH'}`,
    );
    console.log(
      `reconciliation of ${scale.accounts.toLocaleString('en')} accounts and ${scale.deposits.toLocaleString('en')} records: ${result.totalS.toFixed(1)} s (target < ${TARGET_S} s; ratio ${(result.totalS / TARGET_S).toFixed(2)} of the target)`,
    );
    if (!ok) process.exitCode = 1;
  } finally {
    await database.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await bench();
  process.exit(process.exitCode ?? 0);
}
