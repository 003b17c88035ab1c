/**
 * Commission calculation over 1 000 000 closed trades in a four-level IB tree, on real PostgreSQL (target < 30 s).
 * Seeds its own database: 85 partners (1 master, 4 under it, 16 under those, 64 direct IBs), 10 000 referred
 * clients with one account each (MT5 and MT4), plans of every rule kind (per lot by symbol group with volume tiers,
 * revenue share, per-lot and percent overrides on three levels above), and 1 000 000 closing records inserted
 * set-based (MT5 out, out_by pairs and inout deals; MT4 closed trades; suffixed symbols) over one month. Prints:
 *   - the calculation time (4 000 000 lines and their ledger accrual) and the ratio to the 30 s target,
 *   - a second run with nothing to do, and a run after 1 000 dealer corrections (reversal + new lines),
 *   - one direct IB's recomputation for the month, and whether it equals the stored lines.
 * Uses TEST_DATABASE_URL / DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) to create its own
 * database; without a reachable PostgreSQL it says so and skips.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { ManualClock } from '../src/clock.ts';
import { connect, type Database } from '../src/db/connect.ts';
import { AlertService } from '../src/modules/alerts/service.ts';
import { recordAudit } from '../src/modules/audit/service.ts';
import { recompute } from '../src/modules/commissions/recompute.ts';
import { CommissionService } from '../src/modules/commissions/service.ts';
import { Sealer } from '../src/operations/sealed.ts';
import { backendCpuSeconds } from './support/cpu.ts';

const adminUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const TRADES = Number(process.env.BENCH_COMMISSION_TRADES ?? 1_000_000);
const CLIENTS = 10_000;
const TARGET_S = 30;
const FROM = '2025-01-01T00:00:00Z';

async function seed(database: Database, service: CommissionService): Promise<{ directIb: string }> {
  const q = (text: string) => database.query(text);
  await q(`insert into trading_servers (code, platform, environment, address, manager_login, password_secret)
           values ('mt5-bench', 'mt5', 'live', 'https://127.0.0.1:1', 1, 'env:UNUSED'),
                  ('mt4-bench', 'mt4', 'live', 'https://127.0.0.1:2', 1, 'env:UNUSED')`);
  await q(`insert into products (code, name, environment, server_code, group_name, currency, allowed_leverages,
             default_leverage, kyc_policy, created_at, updated_at)
           values ('b5', 'MT5', 'live', 'mt5-bench', 'real\\std', 'USD', '{100}', 100, 'none', now(), now()),
                  ('b4', 'MT4', 'live', 'mt4-bench', 'real-std', 'USD', '{100}', 100, 'none', now(), now())`);
  // The tree: level 3 (1) ← level 2 (4) ← level 1 (16) ← level 0, the direct IBs (64).
  await q(`insert into partners (email, name, password_hash, referral_code, status, parent_id, created_at, updated_at)
           values ('l3@ib.example', 'L3', 'x', 'BL3', 'active', null, now(), now())`);
  for (const [level, count, fanout] of [
    [2, 4, 4],
    [1, 16, 4],
    [0, 64, 4],
  ] as const) {
    await q(`insert into partners (email, name, password_hash, referral_code, status, parent_id, created_at, updated_at)
             select 'l${level}-' || g || '@ib.example', 'L${level}-' || g, 'x', 'BL${level}X' || g, 'active',
                    (select id from partners where name = 'L${level + 1}' || case when ${level + 1} = 3 then '' else '-' || ((g - 1) / ${fanout} + 1) end),
                    now(), now()
             from generate_series(1, ${count}) g`);
  }
  await q(`insert into clients (email, password_hash, name, country, status, kyc_status, partner_id, created_at, updated_at)
           select 'c' || g || '@bench.example', 'x', 'Client ' || g, 'CY', 'active', 'approved',
                  (select id from partners where name = 'L0-' || (g % 64 + 1)), now(), now()
           from generate_series(0, ${CLIENTS - 1}) g`);
  await q(`insert into trading_accounts (client_id, product_id, server_code, login, group_name, currency, leverage,
             status, trading_enabled, created_at, updated_at)
           select c.id, p.id, p.server_code, 100000 + n, p.group_name, 'USD', 100, 'open', true, now(), now()
           from (select id, (regexp_replace(email, '\\D', '', 'g'))::int as n from clients) c
           join products p on p.code = case when c.n < ${CLIENTS * 0.8} then 'b5' else 'b4' end`);

  const plan = async (code: string, rules: Parameters<CommissionService['createPlan']>[0]['rules']) =>
    (await service.createPlan({ code, name: code, currency: 'USD', effectiveFrom: FROM, rules }, 'bench')).plan.id;
  const direct = await plan('direct', {
    symbolGroups: { fx_majors: ['EURUSD', 'GBPUSD', 'USDJPY'], metals: ['XAUUSD'], indices: ['US30'] },
    perLot: [
      { fromLots: '0', rates: { fx_majors: '5', metals: '8', indices: '2', other: '1' } },
      { fromLots: '500', rates: { fx_majors: '6', metals: '9.5' } },
      { fromLots: '2000', rates: { fx_majors: '7.25' } },
    ],
    revenueShare: { percent: '12.5', basis: 'commission_and_client_loss' },
  });
  const l1 = await plan('l1', { overrides: [{ level: 1, perLot: { other: '1.5' }, percentOfDirect: '5' }] });
  const l2 = await plan('l2', { overrides: [{ level: 2, percentOfDirect: '10' }] });
  const l3 = await plan('l3', {
    symbolGroups: { metals: ['XAUUSD'] },
    overrides: [{ level: 3, perLot: { metals: '0.5', other: '0.25' } }],
  });
  const ids = (await database.query<{ id: string; name: string }>('select id, name from partners')).map((r) => ({
    id: r.id,
    level: Number(r.name.slice(1, 2)),
    name: r.name,
  }));
  for (const p of ids) {
    const planId = [direct, l1, l2, l3][p.level]!;
    await service.assignPlan(p.id, { planId, effectiveFrom: FROM, reason: 'bench' }, 'bench');
  }

  // 1 000 000 closing records over March 2025: 80% MT5 deals (out; out_by pairs; some inout), 20% MT4 trades.
  const started = performance.now();
  await q(`
    insert into trade_records (server_code, platform, record_type, ticket, login, time, symbol, side, entry,
      position_id, order_ticket, volume, price, profit_minor, commission_minor, swap_minor, comment, content_hash,
      version, source, first_seen_at, updated_at)
    select case when mt4 then 'mt4-bench' else 'mt5-bench' end,
           case when mt4 then 'mt4' else 'mt5' end,
           case when mt4 then 'closed_trade' else 'deal' end,
           g::text, 100000 + acct,
           '2025-03-01T00:00:00Z'::timestamptz + (g * interval '2.5 seconds'),
           (array['EURUSD','EURUSD.m','GBPUSD','XAUUSD-ECN','XAUUSD','US30.cash','USDJPY','microEURUSD'])[g % 8 + 1],
           case when g % 2 = 0 then 'buy' else 'sell' end,
           case when mt4 then null when g % 50 = 1 then 'inout' when g % 10 in (3, 4) then 'out_by' else 'out' end,
           g::text, g::text, ((g * 7919) % 200 + 1) * 100, 1.1,
           ((g * 31) % 2001 - 1000) * 10, -(((g * 7919) % 200 + 1) * 7), 0,
           case when mt4 and g % 97 = 0 then 'close hedge by #' || (g - 1) else '' end,
           md5(g::text), 1, 'backfill', now(), now()
    from (select g, g % ${CLIENTS} as acct, (g % ${CLIENTS}) >= ${CLIENTS * 0.8} as mt4
          from generate_series(1::bigint, ${TRADES}) g) s`);
  await q('analyze');
  console.log(
    `seeded ${TRADES.toLocaleString('en')} closing records in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return { directIb: ids.find((p) => p.name === 'L0-1')!.id };
}

export default async function bench(): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (err) {
    console.log(`commissions: skipped — no PostgreSQL at ${adminUrl} (${(err as Error).message})`);
    return;
  }
  const name = `bd_bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const database = await connect({ databaseUrl: url.toString(), maxConnections: 4 });
  try {
    await database.migrate();
    const clock = new ManualClock(new Date('2025-04-02T00:00:00Z'));
    const service = new CommissionService({
      database,
      clock,
      audit: { record: (tx, entry) => recordAudit(tx, entry, clock) },
      alerts: new AlertService({ clock }),
      sealer: new Sealer(Sealer.generateKey()),
    });
    const { directIb } = await seed(database, service);

    const [walBefore] = await database.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
    const cpuBefore = backendCpuSeconds(name);
    const first = await service.calculate({ triggeredBy: 'bench' });
    const cpuAfter = backendCpuSeconds(name);
    const [wal] = await database.query<{ mb: string }>(
      `select (pg_wal_lsn_diff(pg_current_wal_lsn(), '${walBefore!.lsn}') / 1048576)::int::text as mb`,
    );
    const seconds = first.durationMs / 1000;
    console.log(
      `calculation: ${TRADES.toLocaleString('en')} closed trades → ${first.lines.toLocaleString('en')} lines in ` +
        `${first.batches} batches, ${seconds.toFixed(1)} s (${Math.round(TRADES / seconds).toLocaleString('en')} trades/s); ` +
        `target < ${TARGET_S} s: ${(seconds / TARGET_S).toFixed(2)} of the budget`,
    );
    if (cpuBefore !== null && cpuAfter !== null) {
      console.log(
        `  PostgreSQL CPU time for it: ${(cpuAfter - cpuBefore).toFixed(1)} s over the ${first.batches > 1 ? 'parallel ' : ''}` +
          `batches (wall time on an otherwise idle 2-core machine ≈ CPU / 2 + commit waits); WAL written by the server meanwhile (other sessions included): ${wal!.mb} MB`,
      );
    }
    const idle = await service.calculate({ triggeredBy: 'bench' });
    console.log(`second run, nothing to do: ${(idle.durationMs / 1000).toFixed(1)} s (${idle.lines} lines)`);

    await database.db.execute(sql`
      update trade_records set volume = volume + 100, content_hash = md5(content_hash), version = version + 1
      where id in (select id from trade_records where record_type = 'deal' and entry = 'out' order by id limit 1000)`);
    const corrected = await service.calculate({ triggeredBy: 'bench' });
    console.log(
      `after 1,000 dealer corrections: ${corrected.reversals} reversals + ${corrected.lines} lines in ` +
        `${(corrected.durationMs / 1000).toFixed(1)} s`,
    );

    const t0 = performance.now();
    const r = await recompute(database.db, directIb, {
      from: new Date('2025-03-01T00:00:00Z'),
      to: new Date('2025-04-01T00:00:00Z'),
    });
    console.log(
      `recompute of one direct IB's month (${r.trades.toLocaleString('en')} trades): ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s, equal to the stored lines: ${r.equal}` +
        (r.equal ? '' : ` (${r.differences.length} differences, first: ${JSON.stringify(r.differences[0])})`),
    );
  } finally {
    await database.close();
    if (process.env.BENCH_KEEP) console.log(`kept database ${name}`);
    else await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}
