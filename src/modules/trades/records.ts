/**
 * The CRM's one model of trading history (table `trade_records`), built from what the connectors hand over: an MT5
 * deal keeps its entry (in/out/inout/out_by), order and position id; an MT4 closed trade keeps its open and close;
 * a balance record of either platform keeps its kind, signed amount and the Brokerdesk reference its comment carries
 * (null = not the CRM's); a finished order (MT5 history order, MT4 deleted pending order) keeps its type, final state,
 * volumes as placed and left, and is dated by when it finished. Open orders are a snapshot of their own. Volumes
 * become integers in lots × 10 000, money stays integer minor units as the connector read it. Pure functions: no
 * database, no clock.
 */
import { createHash } from 'node:crypto';
import type { tradeRecords } from '../../db/schema.ts';
import type { HistoryRecord, OpenPosition, PlatformKind, TradeOrder } from '../../platforms/types.ts';

/** Lots × this = the stored volume (0.01 lot = 100; MT5's own `Volume` unit). */
export const VOLUME_SCALE = 10_000;

export type TradeRecordRow = typeof tradeRecords.$inferSelect;
export type TradeRecordSource = 'poll' | 'pumping' | 'backfill';

/** The content of a record as synced: every column a server-side correction could change. */
export interface NormalisedRecord {
  serverCode: string;
  platform: PlatformKind;
  recordType: 'deal' | 'closed_trade' | 'balance' | 'order';
  ticket: string;
  login: number;
  time: Date;
  openTime: Date | null;
  symbol: string | null;
  side: 'buy' | 'sell' | null;
  entry: 'in' | 'out' | 'inout' | 'out_by' | null;
  orderTicket: string | null;
  positionId: string | null;
  volume: number | null;
  price: number | null;
  closePrice: number | null;
  profitMinor: number | null;
  commissionMinor: number | null;
  swapMinor: number | null;
  amountMinor: number | null;
  balanceKind: 'balance' | 'credit' | 'charge' | 'correction' | 'bonus' | null;
  orderType: TradeOrder['orderType'] | null;
  orderState: TradeOrder['state'] | null;
  volumeRemaining: number | null;
  stopLoss: number | null;
  takeProfit: number | null;
  reference: string | null;
  comment: string;
  anomalies: string[] | null;
  contentHash: string;
}

/** The fields compared (and audited) when a record is seen again. */
export const CONTENT_FIELDS = [
  'login',
  'time',
  'openTime',
  'symbol',
  'side',
  'entry',
  'orderTicket',
  'positionId',
  'volume',
  'price',
  'closePrice',
  'profitMinor',
  'commissionMinor',
  'swapMinor',
  'amountMinor',
  'balanceKind',
  'orderType',
  'orderState',
  'volumeRemaining',
  'stopLoss',
  'takeProfit',
  'reference',
  'comment',
] as const satisfies readonly (keyof NormalisedRecord)[];

/** Lots as the integer volume; a volume finer than 0.0001 lot is rounded and reported. */
export function toVolume(lots: number, anomalies: string[]): number {
  const scaled = lots * VOLUME_SCALE;
  const volume = Math.round(scaled);
  if (Math.abs(scaled - volume) > 1e-6)
    anomalies.push(`volume ${lots} lots is finer than 0.0001 lot; stored ${volume}`);
  return volume;
}

function comparable(value: unknown): unknown {
  return value instanceof Date ? value.getTime() : value;
}

function hashOf(r: NormalisedRecord): string {
  const content = [
    r.login,
    r.time.getTime(),
    r.openTime?.getTime() ?? null,
    r.symbol,
    r.side,
    r.entry,
    r.orderTicket,
    r.positionId,
    r.volume,
    r.price,
    r.closePrice,
    r.profitMinor,
    r.commissionMinor,
    r.swapMinor,
    r.amountMinor,
    r.balanceKind,
    r.reference,
    r.comment,
  ];
  // Order fields only for orders: the digest of every other record stays what it was before orders were synced
  // (a changed digest would read as a server-side correction of every stored record).
  if (r.recordType === 'order') {
    content.push(r.orderType, r.orderState, r.volumeRemaining, r.stopLoss, r.takeProfit);
  }
  return createHash('md5').update(JSON.stringify(content)).digest('base64');
}

/**
 * One object literal per record, every field set (no spreads): this runs for every record synced, and building the
 * object in one go keeps it a fast, fixed-shape object (spreading 30 fields three times cost ~30 µs a record).
 */
export function normaliseRecord(serverCode: string, platform: PlatformKind, record: HistoryRecord): NormalisedRecord {
  const anomalies = record.anomalies.length > 0 ? [...record.anomalies] : [];
  let out: NormalisedRecord;
  switch (record.type) {
    case 'deal':
      out = {
        serverCode,
        platform,
        recordType: 'deal',
        ticket: record.ticket,
        login: record.login,
        time: record.time,
        openTime: null,
        symbol: record.symbol,
        side: record.side,
        entry: record.entry,
        orderTicket: record.order,
        positionId: record.positionId,
        volume: toVolume(record.volumeLots, anomalies),
        price: record.price,
        closePrice: null,
        profitMinor: record.profit,
        commissionMinor: record.commission,
        swapMinor: record.swap,
        amountMinor: null,
        balanceKind: null,
        orderType: null,
        orderState: null,
        volumeRemaining: null,
        stopLoss: null,
        takeProfit: null,
        reference: null,
        comment: record.comment,
        anomalies: null,
        contentHash: '',
      };
      break;
    case 'closed_trade':
      out = {
        serverCode,
        platform,
        recordType: 'closed_trade',
        ticket: record.ticket,
        login: record.login,
        time: record.closeTime,
        openTime: record.openTime,
        symbol: record.symbol,
        side: record.side,
        entry: null,
        // MT4: the order, the position and the trade are one ticket.
        orderTicket: record.ticket,
        positionId: record.ticket,
        volume: toVolume(record.volumeLots, anomalies),
        price: record.openPrice,
        closePrice: record.closePrice,
        profitMinor: record.profit,
        commissionMinor: record.commission,
        swapMinor: record.swap,
        amountMinor: null,
        balanceKind: null,
        orderType: null,
        orderState: null,
        volumeRemaining: null,
        stopLoss: null,
        takeProfit: null,
        reference: null,
        comment: record.comment,
        anomalies: null,
        contentHash: '',
      };
      break;
    case 'balance':
      out = {
        serverCode,
        platform,
        recordType: 'balance',
        ticket: record.ticket,
        login: record.login,
        time: record.time,
        openTime: null,
        symbol: null,
        side: null,
        entry: null,
        orderTicket: null,
        positionId: null,
        volume: null,
        price: null,
        closePrice: null,
        profitMinor: null,
        commissionMinor: null,
        swapMinor: null,
        amountMinor: record.amount,
        balanceKind: record.kind,
        orderType: null,
        orderState: null,
        volumeRemaining: null,
        stopLoss: null,
        takeProfit: null,
        reference: record.reference,
        comment: record.comment,
        anomalies: null,
        contentHash: '',
      };
      break;
    case 'order':
      out = {
        serverCode,
        platform,
        recordType: 'order',
        ticket: record.ticket,
        login: record.login,
        // A finished order is dated by when it finished (what a window over recent activity wants to see).
        time: record.doneTime ?? record.setupTime,
        openTime: record.setupTime,
        symbol: record.symbol,
        side: record.side,
        entry: null,
        orderTicket: record.ticket,
        positionId: record.positionId,
        volume: toVolume(record.volumeLots, anomalies),
        price: record.price,
        closePrice: null,
        profitMinor: null,
        commissionMinor: null,
        swapMinor: null,
        amountMinor: null,
        balanceKind: null,
        orderType: record.orderType,
        orderState: record.state,
        volumeRemaining: toVolume(record.volumeRemainingLots, anomalies),
        stopLoss: record.stopLoss,
        takeProfit: record.takeProfit,
        reference: null,
        comment: record.comment,
        anomalies: null,
        contentHash: '',
      };
      break;
  }
  if (anomalies.length > 0) out.anomalies = anomalies;
  out.contentHash = hashOf(out);
  return out;
}

/** The fields whose values differ between a stored row and a record seen again: {field: [old, new]}. */
export function differences(
  stored: Pick<TradeRecordRow, (typeof CONTENT_FIELDS)[number]>,
  seen: NormalisedRecord,
): { before: Record<string, unknown>; after: Record<string, unknown> } {
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  for (const field of CONTENT_FIELDS) {
    const a = comparable(stored[field]) ?? null;
    const b = comparable(seen[field]) ?? null;
    if (a !== b) {
      before[field] = stored[field] ?? null;
      after[field] = seen[field] ?? null;
    }
  }
  return { before, after };
}

export interface NormalisedPosition {
  serverCode: string;
  ticket: string;
  platform: PlatformKind;
  login: number;
  symbol: string;
  side: 'buy' | 'sell';
  volume: number;
  openPrice: number;
  currentPrice: number;
  openTime: Date;
  profitMinor: number;
  swapMinor: number;
  commissionMinor: number;
}

export function normalisePosition(serverCode: string, platform: PlatformKind, p: OpenPosition): NormalisedPosition {
  return {
    serverCode,
    ticket: p.ticket,
    platform,
    login: p.login,
    symbol: p.symbol,
    side: p.side,
    volume: toVolume(p.volumeLots, []),
    openPrice: p.openPrice,
    currentPrice: p.currentPrice,
    openTime: p.openTime,
    profitMinor: p.profit,
    swapMinor: p.swap,
    commissionMinor: p.commission,
  };
}

export interface NormalisedOpenOrder {
  serverCode: string;
  ticket: string;
  platform: PlatformKind;
  login: number;
  symbol: string;
  orderType: TradeOrder['orderType'];
  side: 'buy' | 'sell';
  state: TradeOrder['state'];
  volume: number;
  volumeRemaining: number;
  price: number;
  triggerPrice: number;
  stopLoss: number;
  takeProfit: number;
  setupTime: Date;
  expiration: Date | null;
  positionId: string | null;
  comment: string;
}

export function normaliseOpenOrder(serverCode: string, platform: PlatformKind, o: TradeOrder): NormalisedOpenOrder {
  return {
    serverCode,
    ticket: o.ticket,
    platform,
    login: o.login,
    symbol: o.symbol,
    orderType: o.orderType,
    side: o.side,
    state: o.state,
    volume: toVolume(o.volumeLots, []),
    volumeRemaining: toVolume(o.volumeRemainingLots, []),
    price: o.price,
    triggerPrice: o.triggerPrice,
    stopLoss: o.stopLoss,
    takeProfit: o.takeProfit,
    setupTime: o.setupTime,
    expiration: o.expiration,
    positionId: o.positionId,
    comment: o.comment,
  };
}
