/**
 * What a partner sees of their commission: a statement per period (volume, lines by level, by symbol group and by
 * plan version, totals per currency), volume and commission in daily or monthly buckets for charts, the lines
 * themselves with their trades, and the balance owed. All read from the stored lines (recompute.ts checks them).
 */
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Executor } from '../../db/connect.ts';
import { ledgerBalances } from '../ledger/service.ts';
import { CommissionError } from './errors.ts';
import { VOLUME_PER_LOT } from './rules.ts';

export interface Period {
  from: Date;
  to: Date;
}

const MAX_PERIOD_DAYS = 400;

export const periodInput = z
  .object({
    from: z.iso.datetime({ offset: true, message: 'an ISO date-time such as 2025-01-01T00:00:00Z' }),
    to: z.iso.datetime({ offset: true, message: 'an ISO date-time such as 2025-02-01T00:00:00Z (exclusive)' }),
  })
  .strict();

export function toPeriod(input: { from: string | Date; to: string | Date }): Period {
  const from = new Date(input.from);
  const to = new Date(input.to);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) {
    throw new CommissionError('PERIOD_INVALID', 400, 'the period needs from before to (to is exclusive)');
  }
  if (to.getTime() - from.getTime() > MAX_PERIOD_DAYS * 86_400_000) {
    throw new CommissionError('PERIOD_INVALID', 400, `a period is at most ${MAX_PERIOD_DAYS} days`);
  }
  return { from, to };
}

function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

const lots = (volume: number | string) => Number(volume) / VOLUME_PER_LOT;

export interface StatementGroupRow {
  level: number;
  symbolGroup: string;
  currency: string;
  lines: number;
  reversals: number;
  volumeLots: number;
  amountMinor: number;
}

export interface Statement {
  partnerId: string;
  from: Date;
  to: Date;
  /** Own clients' counted volume (level 0) and sub-IB volume (levels ≥ 1), lots, net of reversals. */
  volumeLots: { direct: number; subIb: number };
  totals: { currency: string; amountMinor: number; lines: number; reversals: number }[];
  byLevel: { level: number; currency: string; volumeLots: number; amountMinor: number; lines: number }[];
  bySymbolGroup: StatementGroupRow[];
  byPlanVersion: {
    planId: string | null;
    planCode: string | null;
    planVersionId: string | null;
    version: number | null;
    currency: string;
    amountMinor: number;
    lines: number;
  }[];
}

export async function statement(db: Executor, partnerId: string, period: Period): Promise<Statement> {
  const rows = rowsOf<{
    level: number;
    symbol_group: string;
    currency: string;
    plan_id: string | null;
    plan_version_id: string | null;
    lines: string;
    reversals: string;
    volume: string;
    amount: string;
  }>(
    await db.execute(sql`
      select level, symbol_group, currency, plan_id, plan_version_id,
             count(*) filter (where kind = 'accrual')::text as lines,
             count(*) filter (where kind = 'reversal')::text as reversals,
             sum(volume)::text as volume, sum(amount_minor)::text as amount
      from commission_lines
      where partner_id = ${partnerId} and trade_time >= ${period.from.toISOString()}::timestamptz
        and trade_time < ${period.to.toISOString()}::timestamptz
      group by 1, 2, 3, 4, 5`),
  );
  const versions = new Map(
    rowsOf<{ id: string; version: number; code: string }>(
      await db.execute(sql`
        select v.id, v.version, p.code from commission_plan_versions v join commission_plans p on p.id = v.plan_id`),
    ).map((v) => [v.id, v]),
  );
  const add = <K>(map: Map<string, K>, key: string, make: () => K, update: (k: K) => void) => {
    const item = map.get(key) ?? make();
    update(item);
    map.set(key, item);
  };
  const totals = new Map<string, Statement['totals'][number]>();
  const byLevel = new Map<string, Statement['byLevel'][number]>();
  const byGroup = new Map<string, StatementGroupRow>();
  const byVersion = new Map<string, Statement['byPlanVersion'][number]>();
  let direct = 0;
  let subIb = 0;
  for (const r of rows) {
    const amount = Number(r.amount);
    const volume = Number(r.volume);
    const n = Number(r.lines);
    const reversals = Number(r.reversals);
    if (r.level === 0) direct += volume;
    else subIb += volume;
    add(
      totals,
      r.currency,
      () => ({ currency: r.currency, amountMinor: 0, lines: 0, reversals: 0 }),
      (t) => {
        t.amountMinor += amount;
        t.lines += n;
        t.reversals += reversals;
      },
    );
    add(
      byLevel,
      `${r.level}|${r.currency}`,
      () => ({ level: r.level, currency: r.currency, volumeLots: 0, amountMinor: 0, lines: 0 }),
      (t) => {
        t.volumeLots += volume;
        t.amountMinor += amount;
        t.lines += n;
      },
    );
    add(
      byGroup,
      `${r.level}|${r.symbol_group}|${r.currency}`,
      () => ({
        level: r.level,
        symbolGroup: r.symbol_group,
        currency: r.currency,
        lines: 0,
        reversals: 0,
        volumeLots: 0,
        amountMinor: 0,
      }),
      (t) => {
        t.lines += n;
        t.reversals += reversals;
        t.volumeLots += volume;
        t.amountMinor += amount;
      },
    );
    const v = r.plan_version_id ? versions.get(r.plan_version_id) : undefined;
    add(
      byVersion,
      `${r.plan_version_id}|${r.currency}`,
      () => ({
        planId: r.plan_id,
        planCode: v?.code ?? null,
        planVersionId: r.plan_version_id,
        version: v?.version ?? null,
        currency: r.currency,
        amountMinor: 0,
        lines: 0,
      }),
      (t) => {
        t.amountMinor += amount;
        t.lines += n;
      },
    );
  }
  const sorted = <T>(m: Map<string, T>, key: (t: T) => string) =>
    [...m.values()].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return {
    partnerId,
    from: period.from,
    to: period.to,
    volumeLots: { direct: lots(direct), subIb: lots(subIb) },
    totals: sorted(totals, (t) => t.currency),
    byLevel: sorted(byLevel, (t) => `${String(t.level).padStart(2, '0')}|${t.currency}`).map((t) => ({
      ...t,
      volumeLots: lots(t.volumeLots),
    })),
    bySymbolGroup: sorted(byGroup, (t) => `${String(t.level).padStart(2, '0')}|${t.symbolGroup}|${t.currency}`).map(
      (t) => ({ ...t, volumeLots: lots(t.volumeLots) }),
    ),
    byPlanVersion: sorted(byVersion, (t) => `${t.planCode}|${String(t.version).padStart(6, '0')}|${t.currency}`),
  };
}

export interface Bucket {
  start: Date;
  currency: string;
  directVolumeLots: number;
  subIbVolumeLots: number;
  amountMinor: number;
  lines: number;
}

/** Volume and commission per day or month (UTC) for charts. */
export async function buckets(
  db: Executor,
  partnerId: string,
  period: Period,
  size: 'day' | 'month',
): Promise<Bucket[]> {
  const rows = rowsOf<{ start: string; currency: string; direct: string; sub: string; amount: string; n: string }>(
    await db.execute(sql`
      select to_char(date_trunc(${size}, trade_time at time zone 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as start,
             currency,
             coalesce(sum(volume) filter (where level = 0), 0)::text as direct,
             coalesce(sum(volume) filter (where level > 0), 0)::text as sub,
             sum(amount_minor)::text as amount, count(*)::text as n
      from commission_lines
      where partner_id = ${partnerId} and trade_time >= ${period.from.toISOString()}::timestamptz
        and trade_time < ${period.to.toISOString()}::timestamptz
      group by 1, 2 order by 1, 2`),
  );
  return rows.map((r) => ({
    start: new Date(r.start),
    currency: r.currency,
    directVolumeLots: lots(r.direct),
    subIbVolumeLots: lots(r.sub),
    amountMinor: Number(r.amount),
    lines: Number(r.n),
  }));
}

export interface LineView {
  id: number;
  kind: 'accrual' | 'reversal';
  reversesLineId: number | null;
  level: number;
  sourcePartnerId: string;
  tradeRecordId: number;
  tradeVersion: number;
  serverCode: string;
  platform: string;
  ticket: string;
  login: number;
  entry: string | null;
  side: string | null;
  symbol: string;
  baseSymbol: string;
  symbolGroup: string;
  tradeTime: Date;
  volumeLots: number;
  planId: string | null;
  planVersionId: string | null;
  planVersion: number | null;
  tierVolumeBeforeLots: number | null;
  perLotRate: string | null;
  revenueMinor: number | null;
  revenuePercent: string | null;
  overrideBaseMinor: number | null;
  overridePercent: string | null;
  amountMinor: number;
  currency: string;
  createdAt: Date;
}

export async function lines(
  db: Executor,
  partnerId: string,
  query: { period: Period; level?: number | undefined; limit: number; offset: number },
): Promise<{ items: LineView[]; total: number; next: number | null }> {
  const where = sql`l.partner_id = ${partnerId} and l.trade_time >= ${query.period.from.toISOString()}::timestamptz
    and l.trade_time < ${query.period.to.toISOString()}::timestamptz
    ${query.level === undefined ? sql`` : sql`and l.level = ${query.level}`}`;
  const rows = rowsOf<Record<string, unknown>>(
    await db.execute(sql`
      select l.*, r.server_code, r.platform, r.ticket, r.login::text as login, r.entry, r.side, r.symbol,
             v.version as plan_version
      from commission_lines l
      join trade_records r on r.id = l.trade_record_id
      left join commission_plan_versions v on v.id = l.plan_version_id
      where ${where}
      order by l.trade_time desc, l.id desc
      limit ${query.limit} offset ${query.offset}`),
  );
  const [count] = rowsOf<{ n: string }>(
    await db.execute(sql`select count(*)::text as n from commission_lines l where ${where}`),
  );
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  const items = rows.map(
    (r): LineView => ({
      id: Number(r.id),
      kind: r.kind as LineView['kind'],
      reversesLineId: num(r.reverses_line_id),
      level: Number(r.level),
      sourcePartnerId: String(r.source_partner_id),
      tradeRecordId: Number(r.trade_record_id),
      tradeVersion: Number(r.trade_version),
      serverCode: String(r.server_code),
      platform: String(r.platform),
      ticket: String(r.ticket),
      login: Number(r.login),
      entry: text(r.entry),
      side: text(r.side),
      symbol: String(r.symbol ?? ''),
      baseSymbol: String(r.base_symbol),
      symbolGroup: String(r.symbol_group),
      tradeTime: new Date(r.trade_time as string),
      volumeLots: lots(r.volume as string),
      planId: text(r.plan_id),
      planVersionId: text(r.plan_version_id),
      planVersion: num(r.plan_version),
      tierVolumeBeforeLots: r.tier_volume_before === null ? null : lots(r.tier_volume_before as string),
      perLotRate: text(r.per_lot_rate),
      revenueMinor: num(r.revenue_minor),
      revenuePercent: text(r.revenue_percent),
      overrideBaseMinor: num(r.override_base_minor),
      overridePercent: text(r.override_percent),
      amountMinor: Number(r.amount_minor),
      currency: String(r.currency),
      createdAt: new Date(r.created_at as string),
    }),
  );
  const total = Number(count?.n ?? 0);
  return { items, total, next: query.offset + items.length < total ? query.offset + items.length : null };
}

/** What the broker owes the partner (ib_payable, in the partner's sign), per currency. */
export async function balances(db: Executor, partnerId: string): Promise<{ currency: string; balanceMinor: number }[]> {
  const rows = await ledgerBalances(db, { type: 'ib_payable', ownerId: partnerId });
  return rows.map((r) => ({ currency: r.account.currency, balanceMinor: r.balanceMinor === 0 ? 0 : -r.balanceMinor }));
}
