/**
 * Commission calculation, set-based: each batch is one database transaction over a range of `trade_records` ids
 * (up to the highest settled id, and above the share's watermark unless corrected: see settledHighId, watermarks)
 * that (1) reverses the lines of trades a dealer corrected since (their `version` went up), (2) writes the level-0
 * line of every closing record not yet commissioned at its current version, (3) writes the override lines of each
 * master IB above, and (4) posts the ledger accrual of everything it wrote (broker_revenue debit, ib_payable credit
 * per partner) in the same transaction. A line exists once per (trade record, version, partner, level, kind): the
 * unique index makes a second run, or a concurrent one, a no-op; an advisory lock serialises batches so that the
 * month-to-date volume each line's tier was chosen by is exactly the sum of the partner's earlier lines.
 *
 * ## Counted volume (lots × 10 000)
 *
 * - MT4 closed trade: its volume (a partial close is its own closed record carrying only the closed lots). The
 *   record MT4 marks `close hedge by #…` (the order closed by an opposite one) counts 0: the close-by is counted
 *   once, on the other order.
 * - MT5 `in` deal: opens, no line. `out`: its volume (a partial close is an `out` deal of the closed part).
 *   `out_by` (hedging close-by): MT5 writes one deal per position, a sell closing the buy and a buy closing the sell,
 *   of the same volume; the sell counts its volume and the buy counts 0, so the close-by counts once. Both still
 *   carry revenue (each holds its own profit and commission). `inout` (netting reversal): only the closing part,
 *   the position's size before the deal: the absolute net of the account's earlier deals in that symbol (earlier by
 *   time, then ticket), capped at the deal's volume.
 *
 * ## Who earns
 *
 * The client's own partner earns the level-0 line (amount 0 and no plan when the partner has no plan then; the line
 * still records the volume for statements and tiers). The master `n` steps above earns a level-`n` override line
 * when its plan version in force at the close time has an override for level `n` (up to 10 levels). The tree used
 * is the one at calculation time. Which plan: the partner's assignment in force at the trade's close time, then that
 * plan's version in force at the close time; both are recorded on the line.
 */
import { sql } from 'drizzle-orm';
import type { Clock } from '../../clock.ts';
import type { Database, Executor } from '../../db/connect.ts';
import { type LedgerLine, postLedgerTransaction } from '../ledger/service.ts';
import { loadPlanData, type PlanData } from './plan-data.ts';
import { MAX_OVERRIDE_LEVELS } from './rules.ts';
import { normaliseSymbol } from './symbols.ts';

export interface CalculationOptions {
  /** Trade-record ids per batch (one transaction each). */
  chunkSize?: number;
  triggeredBy?: string;
}

export interface CalculationResult {
  batches: number;
  lines: number;
  reversals: number;
  /** Minor units accrued, by currency (reversals included). */
  totals: Record<string, number>;
  durationMs: number;
}

export interface CalculationDeps {
  database: Database;
  clock: Clock;
}

const LOCK_KEY = 727_311_001;
/**
 * Batches run at once on PostgreSQL, each over its own share of the partners (dealt round-robin in creation order),
 * each share under its own advisory lock. Fixed, so every run splits the partners the same way: a partner's lines are
 * only ever written by one transaction at a time, in trade order, which keeps its month-to-date chain exact. PGlite
 * has one connection: one share.
 */
const SHARES = 2;

/**
 * Waits for the batches running now and keeps new ones out until the caller's transaction ends: a plan version or
 * assignment is written under it, so its check against the lines already computed and the batches that read the
 * plans never interleave (a batch reads the plans after taking its share's lock).
 */
export async function lockCalculation(tx: Executor): Promise<void> {
  for (let share = 0; share < SHARES; share++) {
    await tx.execute(sql`select pg_advisory_xact_lock(${LOCK_KEY}, ${share})`);
  }
}

function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

/** SQL: the numeric expression `x` rounded half to even, as bigint. */
const halfEven = (x: string) =>
  `(case when abs(${x} - trunc(${x})) = 0.5 then 2 * round(${x} / 2) else round(${x}) end)::bigint`;

/** Closing records: MT4 closed trades and MT5 deals that close (out, inout, out_by). */
export const CLOSING_RECORD_SQL = `(r.record_type = 'closed_trade' or (r.record_type = 'deal' and r.entry in ('out','inout','out_by')))`;

/** Counted volume of a closing record `r` (see the module comment). */
const COUNTED_SQL = `(case
  when r.record_type = 'closed_trade' then case when r.comment ilike 'close hedge by%' then 0 else r.volume end
  when r.entry = 'out' then r.volume
  when r.entry = 'out_by' then case when r.side = 'sell' then r.volume else 0 end
  else least(r.volume, abs(coalesce((
    select sum(case when d.side = 'buy' then d.volume else -d.volume end)
    from trade_records d
    where d.server_code = r.server_code and d.login = r.login and d.record_type = 'deal' and d.symbol = r.symbol
      and d.volume is not null
      and (d.time < r.time or (d.time = r.time and (length(d.ticket), d.ticket) < (length(r.ticket), r.ticket)))), 0)))
end)::bigint`;

const LINE_COLUMNS = `batch_id, trade_record_id, trade_version, kind, reverses_line_id, partner_id, level, source_partner_id,
  trade_time, base_symbol, symbol_group, volume, plan_id, plan_version_id, tier_volume_before, per_lot_rate,
  revenue_minor, revenue_percent, override_base_minor, override_percent, amount_minor, currency, created_at`;

interface Sums {
  partner_id: string;
  currency: string;
  total: string;
  n: number;
}

/** The plan-assignment × version intervals [f, t) per partner, from the plan data. */
function intervals(data: PlanData) {
  const out: { partner_id: string; plan_id: string; version_id: string; f: string; t: string | null }[] = [];
  for (const [partnerId, assignments] of data.assignmentsByPartner) {
    assignments.forEach((a, i) => {
      if (!a.planId) return;
      const aFrom = a.effectiveFrom.getTime();
      const aTo = assignments[i + 1]?.effectiveFrom.getTime() ?? Number.POSITIVE_INFINITY;
      const versions = data.versionsByPlan.get(a.planId) ?? [];
      versions.forEach((v, j) => {
        const vFrom = v.effectiveFrom.getTime();
        const vTo = versions[j + 1]?.effectiveFrom.getTime() ?? Number.POSITIVE_INFINITY;
        const f = Math.max(aFrom, vFrom);
        const t = Math.min(aTo, vTo);
        if (f >= t) return;
        out.push({
          partner_id: partnerId,
          plan_id: a.planId!,
          version_id: v.id,
          f: new Date(f).toISOString(),
          t: Number.isFinite(t) ? new Date(t).toISOString() : null,
        });
      });
    });
  }
  return out;
}

interface SymbolBase {
  symbol: string;
  base: string;
}

/**
 * Every symbol of the closing records, with its base (normalised in TypeScript, the one implementation; a few
 * hundred names). A symbol first seen after this read waits for the next run (its trades are not joined yet).
 */
async function symbolBases(db: Executor, after: number, upTo: number): Promise<SymbolBase[]> {
  return rowsOf<{ symbol: string }>(
    await db.execute(sql`
      select distinct coalesce(symbol, '') as symbol from trade_records r
      where ${sql.raw(CLOSING_RECORD_SQL)} and r.id <= ${upTo} and (r.id > ${after} or r.version > 1)`),
  ).map((r) => ({ symbol: r.symbol, base: normaliseSymbol(r.symbol) }));
}

/**
 * The highest trade-record id below which every id is settled: the SHARE lock waits for the transactions writing
 * `trade_records` now (an id is taken inside an INSERT, under the ROW EXCLUSIVE lock this conflicts with) and keeps
 * new writers out only while the maximum is read. A run computes only up to it, so no record with a smaller id can
 * become visible after the run passed it.
 */
async function settledHighId(database: Database): Promise<number | null> {
  return database.db.transaction(async (tx) => {
    await tx.execute(sql.raw('lock table trade_records in share mode'));
    const [row] = rowsOf<{ hi: string | null }>(await tx.execute(sql`select max(id)::text as hi from trade_records`));
    return row?.hi == null ? null : Number(row.hi);
  });
}

/**
 * Per share, the trade-record id up to which a run has already been through every record of the share's partners
 * (the watermark): the largest trade_record_id of a line of the share (a line names its client's partner as
 * source). A share's batches go through the ids in ascending ranges, one at a time, only up to a settled id, so that
 * line's batch and the ones before it in its run had seen every record of the share at or below it. Records at or
 * below it are looked at again only when corrected (version > 1). Derived from the newest lines (a backward scan of
 * commission_lines_trade_idx, bounded); 0 (look at everything) for a share without a line among them.
 */
async function watermarks(db: Executor, of: number): Promise<number[]> {
  const rows = rowsOf<{ share: number; w: string | null }>(
    await db.execute(sql`
      with sh as (
        select id, ((row_number() over (order by created_at, id)) % ${of})::int as share from partners
      ),
      newest as (
        select trade_record_id, source_partner_id from commission_lines order by trade_record_id desc limit 20000
      )
      select sh.share, max(n.trade_record_id)::text as w
      from newest n join sh on sh.id = n.source_partner_id
      group by sh.share`),
  );
  return Array.from({ length: of }, (_, i) => Number(rows.find((r) => Number(r.share) === i)?.w ?? 0));
}

interface Share {
  index: number;
  of: number;
  /** The share's watermark: records up to it are looked at only when corrected. */
  doneUpTo: number;
}

async function createWorkTables(tx: Executor, data: PlanData, symbols: SymbolBase[], share: Share): Promise<void> {
  const groups: { version_id: string; base: string; grp: string }[] = [];
  const rates: { version_id: string; level: number; grp: string; from_v: number; to_v: number | null; rate: string }[] =
    [];
  const pcts: { version_id: string; level: number; percent: string; basis: string | null }[] = [];
  const levels: { version_id: string; level: number }[] = [];
  const versions: { version_id: string; plan_id: string; currency: string }[] = [];
  for (const v of data.versions.values()) {
    versions.push({ version_id: v.id, plan_id: v.planId, currency: v.currency });
    for (const g of v.flat.groups) groups.push({ version_id: v.id, base: g.base, grp: g.group });
    for (const r of v.flat.rates) {
      rates.push({
        version_id: v.id,
        level: r.level,
        grp: r.group,
        from_v: r.fromVolume,
        to_v: r.toVolume,
        rate: r.rate,
      });
    }
    for (const p of v.flat.percents)
      pcts.push({ version_id: v.id, level: p.level, percent: p.percent, basis: p.basis });
    for (const level of v.flat.levels) levels.push({ version_id: v.id, level });
  }
  const json = (rows: unknown[]) => JSON.stringify(rows);
  await tx.execute(sql`
    create temp table cm_symbol on commit drop as
      select * from jsonb_to_recordset(${json(symbols)}::jsonb) as x(symbol text, base text)`);
  await tx.execute(sql`
    create temp table cm_version on commit drop as
      select * from jsonb_to_recordset(${json(versions)}::jsonb) as x(version_id uuid, plan_id uuid, currency char(3))`);
  await tx.execute(sql`
    create temp table cm_group on commit drop as
      select * from jsonb_to_recordset(${json(groups)}::jsonb) as x(version_id uuid, base text, grp text)`);
  await tx.execute(sql`
    create temp table cm_rate on commit drop as
      select * from jsonb_to_recordset(${json(rates)}::jsonb)
        as x(version_id uuid, level int, grp text, from_v bigint, to_v bigint, rate numeric)`);
  await tx.execute(sql`
    create temp table cm_pct on commit drop as
      select * from jsonb_to_recordset(${json(pcts)}::jsonb) as x(version_id uuid, level int, percent numeric, basis text)`);
  await tx.execute(sql`
    create temp table cm_level on commit drop as
      select * from jsonb_to_recordset(${json(levels)}::jsonb) as x(version_id uuid, level int)`);
  await tx.execute(sql`
    create temp table cm_pv on commit drop as
      select partner_id, plan_id, version_id, f, coalesce(t, 'infinity'::timestamptz) as t
      from jsonb_to_recordset(${json(intervals(data))}::jsonb)
        as x(partner_id uuid, plan_id uuid, version_id uuid, f timestamptz, t timestamptz)`);
  // Every partner's masters, 1 to MAX_OVERRIDE_LEVELS steps up.
  await tx.execute(sql`
    create temp table cm_tree on commit drop as
      with recursive up(partner_id, ancestor_id, level) as (
        select p.id, p.parent_id, 1 from partners p where p.parent_id is not null
        union all
        select up.partner_id, p.parent_id, up.level + 1
        from up join partners p on p.id = up.ancestor_id
        where p.parent_id is not null and up.level < ${MAX_OVERRIDE_LEVELS}
      )
      select * from up`);
  if (share.of > 1) {
    // Partners dealt round-robin in the order they were created: shares of about the same number of partners, and a
    // partner keeps its share when partners are added (they come last), so two runs never split a partner differently.
    await tx.execute(sql`
      create temp table cm_share on commit drop as
        select id as partner_id, ((row_number() over (order by created_at, id)) % ${share.of})::int as share from partners`);
  }
  for (const table of ['cm_symbol', 'cm_pv', 'cm_group', 'cm_rate', 'cm_tree', 'cm_pct', 'cm_level', 'cm_version']) {
    await tx.execute(sql.raw(`analyze ${table}`));
  }
  if (share.of > 1) await tx.execute(sql.raw('analyze cm_share'));
}

/** Reverses the accrual lines of trades (in the id range) whose record changed since they were computed. */
async function reverseCorrected(
  tx: Executor,
  batchId: number,
  now: Date,
  lo: number,
  hi: number,
  share: Share,
): Promise<Sums[]> {
  return rowsOf<Sums>(
    await tx.execute(sql`
      with ins as (
        insert into commission_lines (${sql.raw(LINE_COLUMNS)})
        select ${batchId}, l.trade_record_id, l.trade_version, 'reversal', l.id, l.partner_id, l.level,
               l.source_partner_id, l.trade_time, l.base_symbol, l.symbol_group, -l.volume, l.plan_id,
               l.plan_version_id, l.tier_volume_before, l.per_lot_rate, l.revenue_minor, l.revenue_percent,
               l.override_base_minor, l.override_percent, -l.amount_minor, l.currency, ${now.toISOString()}::timestamptz
        from trade_records r
        join commission_lines l on l.trade_record_id = r.id
        where r.id >= ${lo} and r.id < ${hi} and r.version > 1
          and l.kind = 'accrual' and l.trade_version < r.version
          and not exists (select 1 from commission_lines x where x.reverses_line_id = l.id)
          ${share.of > 1 ? sql`and exists (select 1 from cm_share sh where sh.partner_id = l.source_partner_id and sh.share = ${share.index})` : sql``}
        order by l.id
        returning partner_id, currency, amount_minor
      )
      select partner_id, currency, sum(amount_minor)::text as total, count(*)::int as n from ins group by 1, 2`),
  );
}

/**
 * The lines of closing records (in the id range, of this share's partners) not yet commissioned at their current
 * version: the level-0 line of the client's own partner and the override line of each master above whose plan
 * version pays on that level. Inserted in trade order, so a partner's level-0 lines of a month are, in id order, the
 * order their tiers were counted in. The intermediate sets are temporary tables with fresh statistics: estimates
 * through an anti-join and a window function are too far off for the planner to join 10⁶ rows well otherwise.
 */
async function newLines(
  tx: Executor,
  batchId: number,
  now: Date,
  lo: number,
  hi: number,
  share: Share,
): Promise<Sums[]> {
  await tx.execute(sql`
    create temp table cm_cand on commit drop as
    select r.id, r.version, r.time, r.commission_minor, r.profit_minor, r.swap_minor, s.base,
           ta.currency as acc_cur, c.partner_id, ${sql.raw(COUNTED_SQL)} as counted,
           date_trunc('month', r.time at time zone 'UTC') as month
    from trade_records r
    join trading_accounts ta on ta.server_code = r.server_code and ta.login = r.login
    join trading_servers sv on sv.code = r.server_code
    join clients c on c.id = ta.client_id
    ${share.of > 1 ? sql`join cm_share sh on sh.partner_id = c.partner_id and sh.share = ${share.index}` : sql``}
    join cm_symbol s on s.symbol = coalesce(r.symbol, '')
    where r.id >= ${lo} and r.id < ${hi} and (r.id > ${share.doneUpTo} or r.version > 1)
      and ${sql.raw(CLOSING_RECORD_SQL)} and r.volume is not null and c.partner_id is not null
      -- Only real money earns commission: trades on demo servers never do, except the go-live rehearsal's client
      -- (flagged), whose demo trade proves the commission pipeline before launch.
      and (sv.environment = 'live' or exists (
        select 1 from client_flags f where f.client_id = c.id and f.kind = 'golive_rehearsal'))
      and not exists (
        select 1 from commission_lines l
        where l.trade_record_id = r.id and l.trade_version = r.version and l.level = 0 and l.kind = 'accrual')`);
  await tx.execute(sql.raw('analyze cm_cand'));
  await tx.execute(sql`
    create temp table cm_direct on commit drop as
    with prior as materialized (
      select pm.partner_id, pm.month, coalesce((
        select sum(l.volume) from commission_lines l
        where l.partner_id = pm.partner_id and l.level = 0
          and l.trade_time >= (pm.month at time zone 'UTC')
          and l.trade_time < ((pm.month + interval '1 month') at time zone 'UTC')), 0) as v
      from (select distinct partner_id, month from cm_cand) pm
    ),
    tiered as (
      select cand.*, pv.plan_id, pv.version_id, v.currency as plan_cur, coalesce(g.grp, 'other') as grp,
             (prior.v + coalesce(sum(cand.counted) over (
                partition by cand.partner_id, cand.month order by cand.id
                rows between unbounded preceding and 1 preceding), 0))::bigint as tier_before
      from cm_cand cand
      join prior on prior.partner_id = cand.partner_id and prior.month = cand.month
      left join cm_pv pv on pv.partner_id = cand.partner_id and cand.time >= pv.f and cand.time < pv.t
      left join cm_version v on v.version_id = pv.version_id
      left join cm_group g on g.version_id = pv.version_id and g.base = cand.base
    ),
    priced as (
      select tiered.*, rt.rate,
             case when p.percent is not null and tiered.acc_cur = tiered.plan_cur then
               case p.basis
                 when 'commission' then -coalesce(tiered.commission_minor, 0)
                 else -coalesce(tiered.commission_minor, 0)
                      + greatest(0, -(coalesce(tiered.profit_minor, 0) + coalesce(tiered.swap_minor, 0)))
               end
             end as revenue,
             case when tiered.acc_cur = tiered.plan_cur then p.percent end as pct
      from tiered
      left join cm_rate rt on rt.version_id = tiered.version_id and rt.level = 0 and rt.grp = tiered.grp
        and rt.from_v <= tiered.tier_before and (rt.to_v is null or tiered.tier_before < rt.to_v)
      left join cm_pct p on p.version_id = tiered.version_id and p.level = 0
    ),
    exact as (
      select priced.*,
             (coalesce(rate, 0) * counted * 0.0001 + coalesce(revenue, 0) * coalesce(pct, 0) * 0.01)::numeric as x
      from priced
      offset 0 -- a fence: x is computed once per row, not once per use in the rounding below
    )
    select id, version, partner_id, time, base, grp, counted, plan_id, version_id, tier_before, rate, revenue, pct,
           ${sql.raw(halfEven('x'))} as amount, coalesce(plan_cur, acc_cur) as cur
    from exact`);
  await tx.execute(sql.raw('analyze cm_direct'));
  // Level 0 in trade order (the tier chain), then the overrides, also in trade order (the unique index's order).
  const direct = rowsOf<Sums>(
    await tx.execute(sql`
      with ins as (
        insert into commission_lines (${sql.raw(LINE_COLUMNS)})
        select ${batchId}, id, version, 'accrual', null, partner_id, 0, partner_id, time, base, grp, counted, plan_id,
               version_id, tier_before, rate, revenue, pct, null, null, amount, cur, ${now.toISOString()}::timestamptz
        from cm_direct
        order by id
        returning partner_id, currency, amount_minor
      )
      select partner_id, currency, sum(amount_minor)::text as total, count(*)::int as n from ins group by 1, 2`),
  );
  const overrides = rowsOf<Sums>(
    await tx.execute(sql`
      with over as (
        select d.id, d.version, d.partner_id as source, d.time, d.base, d.counted, d.amount as direct_amount,
               t.ancestor_id, t.level, pv.plan_id, pv.version_id, v.currency as plan_cur,
               coalesce(g.grp, 'other') as grp, rt.rate, case when d.cur = v.currency then p.percent end as pct
        from cm_direct d
        join cm_tree t on t.partner_id = d.partner_id
        join cm_pv pv on pv.partner_id = t.ancestor_id and d.time >= pv.f and d.time < pv.t
        join cm_level lv on lv.version_id = pv.version_id and lv.level = t.level
        join cm_version v on v.version_id = pv.version_id
        left join cm_group g on g.version_id = pv.version_id and g.base = d.base
        left join cm_rate rt on rt.version_id = pv.version_id and rt.level = t.level and rt.grp = coalesce(g.grp, 'other')
        left join cm_pct p on p.version_id = pv.version_id and p.level = t.level
      ),
      over_exact as (
        select over.*,
               (coalesce(rate, 0) * counted * 0.0001
                 + case when pct is null then 0 else direct_amount * pct * 0.01 end)::numeric as x
        from over
        offset 0 -- computed once per row (see above)
      ),
      ins as (
        insert into commission_lines (${sql.raw(LINE_COLUMNS)})
        select ${batchId}, id, version, 'accrual', null, ancestor_id, level, source, time, base, grp, counted,
               plan_id, version_id, null, rate, null, null, case when pct is null then null else direct_amount end,
               pct, ${sql.raw(halfEven('x'))}, plan_cur, ${now.toISOString()}::timestamptz
        from over_exact
        order by id, level
        returning partner_id, currency, amount_minor
      )
      select partner_id, currency, sum(amount_minor)::text as total, count(*)::int as n from ins group by 1, 2`),
  );
  return [...direct, ...overrides];
}

/** The accrual of a batch: per currency, broker_revenue debit and each partner's ib_payable credit. */
async function postAccrual(tx: Executor, clock: Clock, batchId: number, sums: Sums[]): Promise<string[]> {
  const byCurrency = new Map<string, Map<string, bigint>>();
  for (const s of sums) {
    const partners = byCurrency.get(s.currency) ?? new Map<string, bigint>();
    partners.set(s.partner_id, (partners.get(s.partner_id) ?? 0n) + BigInt(s.total));
    byCurrency.set(s.currency, partners);
  }
  const ids: string[] = [];
  for (const [currency, partners] of [...byCurrency].sort(([a], [b]) => (a < b ? -1 : 1))) {
    let total = 0n;
    const lines: LedgerLine[] = [];
    for (const [partnerId, amount] of [...partners].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (amount === 0n) continue;
      total += amount;
      lines.push({ account: { type: 'ib_payable', ownerId: partnerId, currency }, amountMinor: -Number(amount) });
    }
    if (total !== 0n) lines.push({ account: { type: 'broker_revenue', currency }, amountMinor: Number(total) });
    if (lines.length < 2) continue;
    const posted = await postLedgerTransaction(
      tx,
      {
        kind: 'commission.accrual',
        description: `IB commission accrued by calculation batch ${batchId}`,
        lines,
        idempotencyKey: `commission:batch:${batchId}:${currency}`,
        correlation: { commissionBatchId: String(batchId) },
        createdBy: 'commissions',
      },
      clock,
    );
    ids.push(posted.transactionId);
  }
  return ids;
}

async function runBatch(
  deps: CalculationDeps,
  symbols: SymbolBase[],
  lo: number,
  hi: number,
  share: Share,
  triggeredBy: string,
): Promise<{ lines: number; reversals: number; totals: Map<string, bigint> } | null> {
  return deps.database.db.transaction(async (tx) => {
    // One batch per share at a time: a partner's lines are written in trade order by one transaction at a time.
    await tx.execute(sql`select pg_advisory_xact_lock(${LOCK_KEY}, ${share.index})`);
    // Sorts of a batch (the tier window, the overrides in trade order) fit in memory instead of spilling to disk.
    await tx.execute(sql.raw(`set local work_mem = '256MB'`));
    // The plans as of now, under the lock: a version or assignment is written only while no batch runs.
    const data = await loadPlanData(tx);
    const startedAt = deps.clock.now();
    const [{ id: batchId }] = rowsOf<{ id: string }>(
      await tx.execute(sql`select nextval(pg_get_serial_sequence('commission_batches', 'id'))::text as id`),
    ) as [{ id: string }];
    const batch = Number(batchId);
    await createWorkTables(tx, data, symbols, share);
    const reversed = await reverseCorrected(tx, batch, startedAt, lo, hi, share);
    const created = await newLines(tx, batch, startedAt, lo, hi, share);
    const all = [...reversed, ...created];
    const reversals = reversed.reduce((n, s) => n + s.n, 0);
    const lines = created.reduce((n, s) => n + s.n, 0);
    if (reversals + lines === 0) return null;
    const ledgerIds = await postAccrual(tx, deps.clock, batch, all);
    const totals = new Map<string, bigint>();
    for (const s of all) totals.set(s.currency, (totals.get(s.currency) ?? 0n) + BigInt(s.total));
    await tx.execute(sql`
      insert into commission_batches (id, started_at, finished_at, lines, reversals, totals, ledger_transaction_ids, triggered_by)
      values (${batch}, ${startedAt.toISOString()}::timestamptz, ${deps.clock.now().toISOString()}::timestamptz,
              ${lines}, ${reversals},
              ${JSON.stringify(Object.fromEntries([...totals].map(([c, v]) => [c, v.toString()])))}::jsonb,
              ${JSON.stringify(ledgerIds)}::jsonb, ${triggeredBy})`);
    return { lines, reversals, totals };
  });
}

/**
 * Computes every commission line due: for new closing records, and reversals plus new lines for corrected ones.
 * Safe to run at any time, repeatedly and concurrently (a second run finds nothing to do).
 */
export async function calculateCommissions(
  deps: CalculationDeps,
  options: CalculationOptions = {},
): Promise<CalculationResult> {
  const started = performance.now();
  const chunk = options.chunkSize ?? 500_000;
  const [range] = rowsOf<{ lo: string | null }>(
    await deps.database.db.execute(sql`select min(id)::text as lo from trade_records`),
  );
  const result: CalculationResult = { batches: 0, lines: 0, reversals: 0, totals: {}, durationMs: 0 };
  const hi = await settledHighId(deps.database);
  if (range?.lo != null && hi !== null) {
    const totals = new Map<string, bigint>();
    const of = deps.database.kind === 'pglite' ? 1 : SHARES;
    const marks = await watermarks(deps.database.db, of);
    const symbols = await symbolBases(deps.database.db, Math.min(...marks), hi);
    await Promise.all(
      Array.from({ length: of }, async (_, index) => {
        for (let lo = Number(range.lo); lo <= hi; lo += chunk) {
          const share = { index, of, doneUpTo: marks[index]! };
          const done = await runBatch(
            deps,
            symbols,
            lo,
            Math.min(lo + chunk, hi + 1),
            share,
            options.triggeredBy ?? 'system',
          );
          if (!done) continue;
          result.batches += 1;
          result.lines += done.lines;
          result.reversals += done.reversals;
          for (const [c, v] of done.totals) totals.set(c, (totals.get(c) ?? 0n) + v);
        }
      }),
    );
    result.totals = Object.fromEntries([...totals].map(([c, v]) => [c, Number(v)]));
  }
  result.durationMs = Math.round(performance.now() - started);
  return result;
}
