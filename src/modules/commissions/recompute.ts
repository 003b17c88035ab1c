/**
 * Recomputation: an independent second implementation of the rules (TypeScript and BigInt, where the calculation is
 * set-based SQL) that recalculates a partner's lines for a period from `trade_records` and the plan versions, and
 * compares them with the stored lines, to the cent. It reads:
 * - the closing records, in the period, of accounts whose client belongs to the partner or to a sub-IB up to ten
 *   levels below (the tree as it is now: a partner moved after its trades were commissioned shows up here);
 * - the plan assignments and versions (which are never rewritten retroactively);
 * - the partner's level-0 lines of the months touched, only to check the month-to-date volume chain each tier was
 *   chosen by (`tier_volume_before` of each line = the volume of the partner's earlier lines that month).
 * For each trade and level it expects exactly one live line (the accrual at the trade's current version) and every
 * older version's accrual reversed.
 */
import { sql } from 'drizzle-orm';
import type { Executor } from '../../db/connect.ts';
import { loadPlanData, type PlanData, versionFor } from './plan-data.ts';
import {
  dec,
  decString,
  groupOf,
  lineAmount,
  MAX_OVERRIDE_LEVELS,
  OTHER_GROUP,
  percentOf,
  rateOf,
  revenueOf,
} from './rules.ts';
import type { Period } from './statements.ts';
import { normaliseSymbol } from './symbols.ts';

export interface Difference {
  tradeRecordId: number | null;
  ticket: string | null;
  level: number | null;
  problem: 'missing' | 'extra' | 'differs' | 'not_reversed' | 'tier_chain';
  field?: string;
  expected?: unknown;
  stored?: unknown;
}

export interface Recomputation {
  partnerId: string;
  from: Date;
  to: Date;
  trades: number;
  expected: { currency: string; amountMinor: number; lines: number }[];
  stored: { currency: string; amountMinor: number; lines: number }[];
  equal: boolean;
  differences: Difference[];
  /** More differences than listed. */
  truncated: boolean;
}

interface TradeRow {
  id: string;
  version: number;
  ticket: string;
  server_code: string;
  login: string;
  record_type: string;
  entry: string | null;
  side: string | null;
  symbol: string | null;
  volume: string;
  comment: string;
  time: Date | string;
  commission_minor: string | null;
  profit_minor: string | null;
  swap_minor: string | null;
  acc_cur: string;
  direct_partner: string;
}

interface LineRow {
  id: string;
  trade_record_id: string;
  trade_version: number;
  kind: 'accrual' | 'reversal';
  reverses_line_id: string | null;
  partner_id: string;
  level: number;
  trade_time: Date | string;
  base_symbol: string;
  symbol_group: string;
  volume: string;
  plan_version_id: string | null;
  tier_volume_before: string | null;
  per_lot_rate: string | null;
  amount_minor: string;
  currency: string;
}

interface Expected {
  trade: TradeRow;
  level: number;
  volume: number;
  baseSymbol: string;
  symbolGroup: string;
  planVersionId: string | null;
  perLotRate: string | null;
  amountMinor: number;
  currency: string;
}

function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

const MAX_DIFFERENCES = 1000;
const monthStart = (t: Date) => new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), 1));
const monthKey = (t: Date) => `${t.getUTCFullYear()}-${t.getUTCMonth()}`;
const canonical = (v: string | null) => (v === null ? null : decString(dec(v)));

/** Counted volume of a closing record (the same rules as calculate.ts, written again). */
async function countedVolume(db: Executor, r: TradeRow): Promise<number> {
  const volume = Number(r.volume);
  if (r.record_type === 'closed_trade') return /^close hedge by/i.test(r.comment) ? 0 : volume;
  if (r.entry === 'out') return volume;
  if (r.entry === 'out_by') return r.side === 'sell' ? volume : 0;
  // inout: the position before the deal = the net of the account's earlier deals in the symbol.
  const [net] = rowsOf<{ net: string | null }>(
    await db.execute(sql`
      select sum(case when side = 'buy' then volume else -volume end)::text as net
      from trade_records
      where server_code = ${r.server_code} and login = ${Number(r.login)} and record_type = 'deal'
        and symbol = ${r.symbol} and volume is not null
        and (time < ${new Date(r.time).toISOString()}::timestamptz
             or (time = ${new Date(r.time).toISOString()}::timestamptz
                 and (length(ticket), ticket) < (${r.ticket.length}, ${r.ticket})))`),
  );
  return Math.min(volume, Math.abs(Number(net?.net ?? 0)));
}

export async function recompute(db: Executor, partnerId: string, period: Period): Promise<Recomputation> {
  const data: PlanData = await loadPlanData(db);
  const subtree = rowsOf<{ id: string; depth: number }>(
    await db.execute(sql`
      with recursive down(id, depth) as (
        select ${partnerId}::uuid, 0
        union all
        select p.id, down.depth + 1 from partners p join down on p.parent_id = down.id
        where down.depth < ${MAX_OVERRIDE_LEVELS}
      )
      select id, depth from down`),
  );
  const depthOf = new Map(subtree.map((s) => [s.id, Number(s.depth)]));
  const from = period.from.toISOString();
  const to = period.to.toISOString();
  const trades = rowsOf<TradeRow>(
    await db.execute(sql`
      select r.id::text, r.version, r.ticket, r.server_code, r.login::text, r.record_type, r.entry, r.side, r.symbol,
             r.volume::text, r.comment, r.time, r.commission_minor::text, r.profit_minor::text, r.swap_minor::text,
             ta.currency as acc_cur, c.partner_id as direct_partner
      from trade_records r
      join trading_accounts ta on ta.server_code = r.server_code and ta.login = r.login
      join trading_servers sv on sv.code = r.server_code
      join clients c on c.id = ta.client_id
      where c.partner_id in (select (jsonb_array_elements_text(${JSON.stringify([...depthOf.keys()])}::jsonb))::uuid)
        and r.time >= ${from}::timestamptz and r.time < ${to}::timestamptz
        and (r.record_type = 'closed_trade' or (r.record_type = 'deal' and r.entry in ('out','inout','out_by')))
        and r.volume is not null
        -- As the calculation: live servers only, and the go-live rehearsal's flagged client.
        and (sv.environment = 'live' or exists (
          select 1 from client_flags f where f.client_id = c.id and f.kind = 'golive_rehearsal'))
      order by r.id`),
  );
  // The partner's own level-0 lines of every month the period touches (for the tier chain), and all its lines in
  // the period.
  const chainFrom = monthStart(period.from).toISOString();
  const chainTo = new Date(Date.UTC(period.to.getUTCFullYear(), period.to.getUTCMonth() + 1, 1)).toISOString();
  const chain = rowsOf<LineRow>(
    await db.execute(sql`
      select * from commission_lines
      where partner_id = ${partnerId} and level = 0
        and trade_time >= ${chainFrom}::timestamptz and trade_time < ${chainTo}::timestamptz
      order by id`),
  );
  const stored = rowsOf<LineRow>(
    await db.execute(sql`
      select * from commission_lines
      where partner_id = ${partnerId} and trade_time >= ${from}::timestamptz and trade_time < ${to}::timestamptz
      order by id`),
  );
  // The direct partners' current level-0 lines of the sub-IB trades (their tier decides the amount an override
  // percent applies to).
  const subTradeIds = trades.filter((t) => t.direct_partner !== partnerId).map((t) => t.id);
  const directLines = subTradeIds.length
    ? rowsOf<LineRow>(
        await db.execute(sql`
          select l.* from commission_lines l
          where l.level = 0 and l.kind = 'accrual'
            and l.trade_record_id in (select (jsonb_array_elements_text(${JSON.stringify(subTradeIds)}::jsonb))::bigint)`),
      )
    : [];
  const directLineOf = new Map(directLines.map((l) => [`${l.trade_record_id}|${l.trade_version}`, l]));

  const differences: Difference[] = [];
  let truncated = false;
  const differ = (d: Difference) => {
    if (differences.length < MAX_DIFFERENCES) differences.push(d);
    else truncated = true;
  };

  // The month-to-date chain: each accrual's tier volume = the partner's earlier level-0 lines that month.
  const running = new Map<string, number>();
  for (const line of chain) {
    const key = monthKey(new Date(line.trade_time));
    const before = running.get(key) ?? 0;
    if (line.kind === 'accrual' && Number(line.tier_volume_before) !== before) {
      differ({
        tradeRecordId: Number(line.trade_record_id),
        ticket: null,
        level: 0,
        problem: 'tier_chain',
        field: 'tierVolumeBefore',
        expected: before,
        stored: Number(line.tier_volume_before),
      });
    }
    running.set(key, before + Number(line.volume));
  }

  const live = new Map<string, LineRow>();
  const reversed = new Set(stored.filter((l) => l.kind === 'reversal').map((l) => String(l.reverses_line_id)));
  const storedByTrade = new Map<string, LineRow[]>();
  for (const l of stored) {
    const key = `${l.trade_record_id}|${l.level}`;
    storedByTrade.set(key, [...(storedByTrade.get(key) ?? []), l]);
  }

  const level0 = (trade: TradeRow, partner: string, tierBefore: number, volume: number, base: string) => {
    const time = new Date(trade.time);
    const v = versionFor(data, partner, time);
    const group = v ? groupOf(v.flat, base) : OTHER_GROUP;
    const rate = v ? rateOf(v.flat, 0, group, tierBefore) : null;
    const share = v && trade.acc_cur === v.currency ? percentOf(v.flat, 0) : null;
    const revenue = share?.basis
      ? revenueOf(share.basis, {
          commissionMinor: trade.commission_minor === null ? null : Number(trade.commission_minor),
          profitMinor: trade.profit_minor === null ? null : Number(trade.profit_minor),
          swapMinor: trade.swap_minor === null ? null : Number(trade.swap_minor),
        })
      : null;
    return {
      version: v,
      group,
      rate,
      amount: lineAmount({ rate, volume, base: revenue, percent: share?.percent ?? null }),
      currency: v?.currency ?? trade.acc_cur,
    };
  };

  const expected: Expected[] = [];
  for (const trade of trades) {
    const level = depthOf.get(trade.direct_partner);
    if (level === undefined) continue;
    const volume = await countedVolume(db, trade);
    const base = normaliseSymbol(trade.symbol);
    const time = new Date(trade.time);
    const mine = (storedByTrade.get(`${trade.id}|${level}`) ?? []).find(
      (l) => l.kind === 'accrual' && l.trade_version === trade.version,
    );
    if (level === 0) {
      // Tier: as recorded on the line (its chain is checked above); a missing line would come after every line.
      const tierBefore = mine ? Number(mine.tier_volume_before) : (running.get(monthKey(time)) ?? 0);
      const r = level0(trade, partnerId, tierBefore, volume, base);
      expected.push({
        trade,
        level,
        volume,
        baseSymbol: base,
        symbolGroup: r.group,
        planVersionId: r.version?.id ?? null,
        perLotRate: r.rate,
        amountMinor: r.amount,
        currency: r.currency,
      });
      continue;
    }
    const v = versionFor(data, partnerId, time);
    if (!v?.flat.levels.includes(level)) continue;
    const direct = directLineOf.get(`${trade.id}|${trade.version}`);
    if (!direct) {
      differ({
        tradeRecordId: Number(trade.id),
        ticket: trade.ticket,
        level: 0,
        problem: 'missing',
        field: 'directLine',
      });
      continue;
    }
    const d = level0(trade, trade.direct_partner, Number(direct.tier_volume_before), volume, base);
    const group = groupOf(v.flat, base);
    const rate = rateOf(v.flat, level, group, 0);
    const pct = d.currency === v.currency ? percentOf(v.flat, level) : null;
    expected.push({
      trade,
      level,
      volume,
      baseSymbol: base,
      symbolGroup: group,
      planVersionId: v.id,
      perLotRate: rate,
      amountMinor: lineAmount({ rate, volume, base: pct ? d.amount : null, percent: pct?.percent ?? null }),
      currency: v.currency,
    });
  }

  const seen = new Set<string>();
  for (const e of expected) {
    const key = `${e.trade.id}|${e.level}`;
    seen.add(key);
    const lines = storedByTrade.get(key) ?? [];
    for (const old of lines) {
      if (old.kind === 'accrual' && old.trade_version < e.trade.version && !reversed.has(String(old.id))) {
        differ({ tradeRecordId: Number(e.trade.id), ticket: e.trade.ticket, level: e.level, problem: 'not_reversed' });
      }
    }
    const line = lines.find((l) => l.kind === 'accrual' && l.trade_version === e.trade.version);
    if (!line) {
      differ({
        tradeRecordId: Number(e.trade.id),
        ticket: e.trade.ticket,
        level: e.level,
        problem: 'missing',
        expected: e.amountMinor,
      });
      continue;
    }
    live.set(key, line);
    const compare: [string, unknown, unknown][] = [
      ['amountMinor', e.amountMinor, Number(line.amount_minor)],
      ['volume', e.volume, Number(line.volume)],
      ['currency', e.currency, line.currency],
      ['planVersionId', e.planVersionId, line.plan_version_id],
      ['baseSymbol', e.baseSymbol, line.base_symbol],
      ['symbolGroup', e.symbolGroup, line.symbol_group],
      ['perLotRate', canonical(e.perLotRate), canonical(line.per_lot_rate)],
    ];
    for (const [field, want, got] of compare) {
      if (want !== got) {
        differ({
          tradeRecordId: Number(e.trade.id),
          ticket: e.trade.ticket,
          level: e.level,
          problem: 'differs',
          field,
          expected: want,
          stored: got,
        });
      }
    }
  }
  for (const [key, lines] of storedByTrade) {
    if (seen.has(key)) continue;
    // Lines of trades this partner no longer earns on must net to zero.
    const net = lines.reduce((n, l) => n + Number(l.amount_minor), 0);
    if (net !== 0 || lines.some((l) => l.kind === 'accrual' && !reversed.has(String(l.id)))) {
      const [tradeRecordId, level] = key.split('|');
      differ({
        tradeRecordId: Number(tradeRecordId),
        ticket: null,
        level: Number(level),
        problem: 'extra',
        stored: net,
      });
    }
  }

  const totals = (items: { currency: string; amountMinor: number }[]) => {
    const map = new Map<string, { currency: string; amountMinor: number; lines: number }>();
    for (const i of items) {
      const t = map.get(i.currency) ?? { currency: i.currency, amountMinor: 0, lines: 0 };
      t.amountMinor += i.amountMinor;
      t.lines += 1;
      map.set(i.currency, t);
    }
    return [...map.values()].sort((a, b) => (a.currency < b.currency ? -1 : 1));
  };
  const storedTotals = totals(stored.map((l) => ({ currency: l.currency, amountMinor: Number(l.amount_minor) })));
  const expectedTotals = totals(expected.map((e) => ({ currency: e.currency, amountMinor: e.amountMinor })));
  const sameTotals =
    JSON.stringify(storedTotals.map((t) => [t.currency, t.amountMinor])) ===
    JSON.stringify(expectedTotals.map((t) => [t.currency, t.amountMinor]));
  return {
    partnerId,
    from: period.from,
    to: period.to,
    trades: expected.length,
    expected: expectedTotals,
    stored: storedTotals,
    equal: differences.length === 0 && sameTotals,
    differences,
    truncated,
  };
}
