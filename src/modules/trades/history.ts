/**
 * Reading synced history: one client's records across all their accounts, MT4 and MT5 alike (scenario 6), one
 * account's records, open positions and open orders. Finished orders (record type `order`) are listed when asked for
 * by type: by default history is what moved money or positions (deals, closed trades, balance records), as the
 * platforms' own terminals keep orders in a tab of their own. Records are linked to accounts by (server, login), so history synced
 * before the CRM knew an account joins it as soon as the account row exists.
 */
import { and, asc, count, desc, eq, gte, inArray, lt, type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../../db/connect.ts';
import {
  type TradeRecordType,
  tradeOpenOrders,
  tradePositions,
  tradeRecords,
  tradingAccounts,
} from '../../db/schema.ts';
import { VOLUME_SCALE } from './records.ts';

export interface HistoryQuery {
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
  /** Default 100, at most 1000. */
  limit?: number;
  offset?: number;
  /** Only these record types (default deal, closed_trade and balance: orders only when named). */
  types?: TradeRecordType[];
}

/** One record of a client's history, the same shape for both platforms. Money in minor units of `currency`. */
export interface HistoryItem {
  id: number;
  tradingAccountId: string;
  server: string;
  platform: 'mt4' | 'mt5';
  login: number;
  currency: string;
  /** deal (MT5), closed_trade (MT4: open and close in one record), balance (both), order (a finished order). */
  type: TradeRecordType;
  ticket: string;
  /** Deal time, an MT4 trade's close time, a balance record's time, when an order finished. */
  time: Date;
  openTime: Date | null;
  symbol: string | null;
  side: 'buy' | 'sell' | null;
  entry: 'in' | 'out' | 'inout' | 'out_by' | null;
  orderTicket: string | null;
  positionId: string | null;
  /** Lots (volume / 10 000) and the stored integer. */
  volumeLots: number | null;
  volume: number | null;
  /** Deal price or an MT4 trade's open price. */
  price: number | null;
  closePrice: number | null;
  profitMinor: number | null;
  commissionMinor: number | null;
  swapMinor: number | null;
  /** Balance records: signed amount and kind. */
  amountMinor: number | null;
  balanceKind: 'balance' | 'credit' | 'charge' | 'correction' | 'bonus' | null;
  /** Orders: the order type (buy_limit …), its final state (filled, canceled, expired, rejected) and what was left. */
  orderType: string | null;
  orderState: string | null;
  volumeRemainingLots: number | null;
  stopLoss: number | null;
  takeProfit: number | null;
  reference: string | null;
  comment: string;
  /** Above 1 when the server corrected the record after it was first synced. */
  version: number;
}

export interface HistoryPage {
  items: HistoryItem[];
  total: number;
}

const MAX_LIMIT = 1000;
/** What history shows unless types are named. */
const DEFAULT_TYPES: TradeRecordType[] = ['deal', 'closed_trade', 'balance'];

function paging(q: HistoryQuery): { limit: number; offset: number } {
  const limit = q.limit ?? 100;
  const offset = q.offset ?? 0;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new RangeError(`limit must be an integer from 1 to ${MAX_LIMIT}`);
  }
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError('offset must be a non-negative integer');
  return { limit, offset };
}

const columns = {
  id: tradeRecords.id,
  tradingAccountId: tradingAccounts.id,
  server: tradeRecords.serverCode,
  platform: tradeRecords.platform,
  login: tradeRecords.login,
  currency: tradingAccounts.currency,
  type: tradeRecords.recordType,
  ticket: tradeRecords.ticket,
  time: tradeRecords.time,
  openTime: tradeRecords.openTime,
  symbol: tradeRecords.symbol,
  side: tradeRecords.side,
  entry: tradeRecords.entry,
  orderTicket: tradeRecords.orderTicket,
  positionId: tradeRecords.positionId,
  volume: tradeRecords.volume,
  price: tradeRecords.price,
  closePrice: tradeRecords.closePrice,
  profitMinor: tradeRecords.profitMinor,
  commissionMinor: tradeRecords.commissionMinor,
  swapMinor: tradeRecords.swapMinor,
  amountMinor: tradeRecords.amountMinor,
  balanceKind: tradeRecords.balanceKind,
  orderType: tradeRecords.orderType,
  orderState: tradeRecords.orderState,
  volumeRemaining: tradeRecords.volumeRemaining,
  stopLoss: tradeRecords.stopLoss,
  takeProfit: tradeRecords.takeProfit,
  reference: tradeRecords.reference,
  comment: tradeRecords.comment,
  version: tradeRecords.version,
};

async function page(db: Executor, accountFilter: SQL, q: HistoryQuery): Promise<HistoryPage> {
  const { limit, offset } = paging(q);
  const conditions: SQL[] = [accountFilter];
  if (q.from) conditions.push(gte(tradeRecords.time, q.from));
  if (q.to) conditions.push(lt(tradeRecords.time, q.to));
  conditions.push(inArray(tradeRecords.recordType, q.types && q.types.length > 0 ? q.types : DEFAULT_TYPES));
  const where = and(...conditions);
  const join = and(
    eq(tradingAccounts.serverCode, tradeRecords.serverCode),
    eq(tradingAccounts.login, tradeRecords.login),
  );
  const rows = await db
    .select(columns)
    .from(tradeRecords)
    .innerJoin(tradingAccounts, join)
    .where(where)
    .orderBy(desc(tradeRecords.time), desc(tradeRecords.id))
    .limit(limit)
    .offset(offset);
  const [total] = await db.select({ n: count() }).from(tradeRecords).innerJoin(tradingAccounts, join).where(where);
  return {
    items: rows.map(({ volumeRemaining, ...r }) => ({
      ...r,
      volumeLots: r.volume === null ? null : r.volume / VOLUME_SCALE,
      volumeRemainingLots: volumeRemaining === null ? null : volumeRemaining / VOLUME_SCALE,
    })),
    total: Number(total?.n ?? 0),
  };
}

/** A client's history across every trading account (MT4 and MT5, live and demo), newest first. */
export function clientHistory(db: Executor, clientId: string, query: HistoryQuery = {}): Promise<HistoryPage> {
  return page(db, eq(tradingAccounts.clientId, clientId), query);
}

/** One trading account's history, newest first. */
export function accountHistory(db: Executor, tradingAccountId: string, query: HistoryQuery = {}): Promise<HistoryPage> {
  return page(db, eq(tradingAccounts.id, tradingAccountId), query);
}

export interface PositionItem {
  tradingAccountId: string;
  server: string;
  platform: 'mt4' | 'mt5';
  login: number;
  currency: string;
  ticket: string;
  symbol: string;
  side: 'buy' | 'sell';
  volumeLots: number;
  openPrice: number;
  currentPrice: number;
  openTime: Date;
  profitMinor: number;
  swapMinor: number;
  commissionMinor: number;
  updatedAt: Date;
}

/** A client's open positions on every account, as last synced. */
export async function clientPositions(db: Executor, clientId: string): Promise<PositionItem[]> {
  const rows = await db
    .select({
      tradingAccountId: tradingAccounts.id,
      server: tradePositions.serverCode,
      platform: tradePositions.platform,
      login: tradePositions.login,
      currency: tradingAccounts.currency,
      ticket: tradePositions.ticket,
      symbol: tradePositions.symbol,
      side: tradePositions.side,
      volume: tradePositions.volume,
      openPrice: tradePositions.openPrice,
      currentPrice: tradePositions.currentPrice,
      openTime: tradePositions.openTime,
      profitMinor: tradePositions.profitMinor,
      swapMinor: tradePositions.swapMinor,
      commissionMinor: tradePositions.commissionMinor,
      updatedAt: tradePositions.updatedAt,
    })
    .from(tradePositions)
    .innerJoin(
      tradingAccounts,
      and(eq(tradingAccounts.serverCode, tradePositions.serverCode), eq(tradingAccounts.login, tradePositions.login)),
    )
    .where(eq(tradingAccounts.clientId, clientId))
    .orderBy(asc(tradePositions.openTime), asc(tradePositions.ticket));
  return rows.map(({ volume, ...r }) => ({ ...r, volumeLots: volume / VOLUME_SCALE }));
}

export interface OpenOrderItem {
  tradingAccountId: string;
  server: string;
  platform: 'mt4' | 'mt5';
  login: number;
  ticket: string;
  symbol: string;
  orderType: string;
  side: 'buy' | 'sell';
  state: string;
  volumeLots: number;
  volumeRemainingLots: number;
  price: number;
  triggerPrice: number;
  stopLoss: number;
  takeProfit: number;
  setupTime: Date;
  expiration: Date | null;
  positionId: string | null;
  comment: string;
  updatedAt: Date;
}

/** A client's open orders (pending or partly filled) on every account, as last synced, oldest first. */
export async function clientOpenOrders(db: Executor, clientId: string): Promise<OpenOrderItem[]> {
  const rows = await db
    .select({
      tradingAccountId: tradingAccounts.id,
      server: tradeOpenOrders.serverCode,
      platform: tradeOpenOrders.platform,
      login: tradeOpenOrders.login,
      ticket: tradeOpenOrders.ticket,
      symbol: tradeOpenOrders.symbol,
      orderType: tradeOpenOrders.orderType,
      side: tradeOpenOrders.side,
      state: tradeOpenOrders.state,
      volume: tradeOpenOrders.volume,
      volumeRemaining: tradeOpenOrders.volumeRemaining,
      price: tradeOpenOrders.price,
      triggerPrice: tradeOpenOrders.triggerPrice,
      stopLoss: tradeOpenOrders.stopLoss,
      takeProfit: tradeOpenOrders.takeProfit,
      setupTime: tradeOpenOrders.setupTime,
      expiration: tradeOpenOrders.expiration,
      positionId: tradeOpenOrders.positionId,
      comment: tradeOpenOrders.comment,
      updatedAt: tradeOpenOrders.updatedAt,
    })
    .from(tradeOpenOrders)
    .innerJoin(
      tradingAccounts,
      and(eq(tradingAccounts.serverCode, tradeOpenOrders.serverCode), eq(tradingAccounts.login, tradeOpenOrders.login)),
    )
    .where(eq(tradingAccounts.clientId, clientId))
    .orderBy(asc(tradeOpenOrders.setupTime), asc(tradeOpenOrders.ticket));
  return rows.map(({ volume, volumeRemaining, ...r }) => ({
    ...r,
    volumeLots: volume / VOLUME_SCALE,
    volumeRemainingLots: volumeRemaining / VOLUME_SCALE,
  }));
}

/**
 * Net trading result (profit + commission + swap) of one account's synced deals and closed trades in a window, in
 * minor units: what moved the server balance besides balance records (for reconciliation's balance-drift check).
 */
export async function tradingResult(
  db: Executor,
  serverCode: string,
  login: number,
  window: { from?: Date; to?: Date } = {},
): Promise<{ profitMinor: number; commissionMinor: number; swapMinor: number; totalMinor: number }> {
  const conditions: SQL[] = [
    eq(tradeRecords.serverCode, serverCode),
    eq(tradeRecords.login, login),
    inArray(tradeRecords.recordType, ['deal', 'closed_trade']),
  ];
  if (window.from) conditions.push(gte(tradeRecords.time, window.from));
  if (window.to) conditions.push(lt(tradeRecords.time, window.to));
  const [row] = await db
    .select({
      profit: sql<string>`coalesce(sum(${tradeRecords.profitMinor}), 0)::text`,
      commission: sql<string>`coalesce(sum(${tradeRecords.commissionMinor}), 0)::text`,
      swap: sql<string>`coalesce(sum(${tradeRecords.swapMinor}), 0)::text`,
    })
    .from(tradeRecords)
    .where(and(...conditions));
  const profitMinor = Number(row?.profit ?? 0);
  const commissionMinor = Number(row?.commission ?? 0);
  const swapMinor = Number(row?.swap ?? 0);
  return { profitMinor, commissionMinor, swapMinor, totalMinor: profitMinor + commissionMinor + swapMinor };
}
