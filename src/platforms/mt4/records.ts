/**
 * MT4 records (UserRecord, MarginLevel, TradeRecord, ConGroup as the bridge sends them) → the CRM's normalised
 * types. Pure functions, shared by the connector and the pumping client: money doubles to integer minor units at
 * the group's currency digits (a value that does not fit is rounded AND reported in `anomalies`), volume lots×100 to
 * lots, server wall-clock seconds to UTC instants in the server's zone.
 */
import { readAmount } from '../money.ts';
import { parseReference } from '../reference.ts';
import { serverSecondsToUtc } from '../server-time.ts';
import type {
  BalanceRecord,
  ClosedTrade,
  GroupInfo,
  HistoryRecord,
  OpenPosition,
  TradeOrder,
  TradingAccount,
} from '../types.ts';

export type Obj = Record<string, unknown>;

export const CMD = {
  BUY: 0,
  SELL: 1,
  BUY_LIMIT: 2,
  SELL_LIMIT: 3,
  BUY_STOP: 4,
  SELL_STOP: 5,
  BALANCE: 6,
  CREDIT: 7,
} as const;

const pendingTypes: Record<number, TradeOrder['orderType']> = {
  [CMD.BUY_LIMIT]: 'buy_limit',
  [CMD.SELL_LIMIT]: 'sell_limit',
  [CMD.BUY_STOP]: 'buy_stop',
  [CMD.SELL_STOP]: 'sell_stop',
};

export const str = (o: Obj, key: string): string => (typeof o[key] === 'string' ? (o[key] as string) : '');

export const num = (o: Obj, key: string): number => {
  const v = o[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
};

/**
 * A money field. A missing or non-numeric value is not silently zero: it is reported like any other value that
 * could not be represented.
 */
function money(o: Obj, key: string, digits: number, label: string, anomalies: string[]): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    anomalies.push(`${label} is missing or not a number (${JSON.stringify(v) ?? 'undefined'}); read as 0`);
    return 0;
  }
  return readAmount(v, digits, label, anomalies);
}

/** MT4 volume is lots × 100 (0.01 lot = 1). */
const lots = (o: Obj): number => num(o, 'volume') / 100;

const utc = (seconds: number, zone: string): Date => serverSecondsToUtc(seconds, zone);

export function toGroup(g: Obj): GroupInfo {
  return {
    name: str(g, 'group'),
    currency: str(g, 'currency'),
    currencyDigits: num(g, 'digits'),
    // MT4 keeps every trade as its own position: hedging, in MT5's terms.
    marginMode: 'hedging',
    // leverage_min/max are a bridge extension; a bridge over an older DLL may not send them.
    leverageMin: typeof g.leverage_min === 'number' ? g.leverage_min : null,
    leverageMax: typeof g.leverage_max === 'number' ? g.leverage_max : null,
  };
}

/**
 * A UserRecord (and, when read, its MarginLevel) as a TradingAccount. Without a MarginLevel the live figures are
 * unknown and left at 0 with `marginLevel` null, as the MT5 connector does: only getAccount reads them.
 */
export function toAccount(user: Obj, margin: Obj | null, group: GroupInfo, zone: string): TradingAccount {
  const digits = group.currencyDigits;
  const anomalies: string[] = [];
  const level = margin ? num(margin, 'margin_level') : 0;
  return {
    login: num(user, 'login'),
    group: str(user, 'group'),
    name: str(user, 'name'),
    email: str(user, 'email'),
    country: str(user, 'country'),
    comment: str(user, 'comment'),
    leverage: num(user, 'leverage'),
    enabled: num(user, 'enable') === 1,
    tradingAllowed: num(user, 'enable_read_only') !== 1,
    agentLogin: num(user, 'agent_account') || null,
    currency: group.currency,
    currencyDigits: digits,
    balance: money(user, 'balance', digits, 'balance', anomalies),
    credit: money(user, 'credit', digits, 'credit', anomalies),
    equity: margin ? money(margin, 'equity', digits, 'equity', anomalies) : 0,
    margin: margin ? money(margin, 'margin', digits, 'margin', anomalies) : 0,
    freeMargin: margin ? money(margin, 'margin_free', digits, 'free margin', anomalies) : 0,
    marginLevel: level > 0 ? level : null,
    registeredAt: utc(num(user, 'regdate'), zone),
    anomalies,
  };
}

/** A cmd 6/7 record: profit is the signed amount; it is born closed, so close_time is when it was posted. */
export function toBalanceRecord(trade: Obj, digits: number, zone: string): BalanceRecord {
  const anomalies: string[] = [];
  const comment = str(trade, 'comment');
  return {
    ticket: String(num(trade, 'order')),
    login: num(trade, 'login'),
    kind: num(trade, 'cmd') === CMD.CREDIT ? 'credit' : 'balance',
    amount: money(trade, 'profit', digits, 'amount', anomalies),
    comment,
    reference: parseReference(comment)?.reference ?? null,
    time: utc(num(trade, 'close_time') || num(trade, 'open_time'), zone),
    anomalies,
  };
}

function tradeMoney(trade: Obj, digits: number, anomalies: string[]) {
  const taxes = money(trade, 'taxes', digits, 'taxes', anomalies);
  // The CRM's trade types have no taxes field; a non-zero value must not vanish.
  if (taxes !== 0) anomalies.push(`taxes ${String(trade.taxes)} are not carried by this record`);
  return {
    profit: money(trade, 'profit', digits, 'profit', anomalies),
    commission: money(trade, 'commission', digits, 'commission', anomalies),
    swap: money(trade, 'storage', digits, 'swap', anomalies),
  };
}

export function toClosedTrade(trade: Obj, digits: number, zone: string): ClosedTrade {
  const anomalies: string[] = [];
  return {
    type: 'closed_trade',
    ticket: String(num(trade, 'order')),
    login: num(trade, 'login'),
    symbol: str(trade, 'symbol'),
    side: num(trade, 'cmd') === CMD.BUY ? 'buy' : 'sell',
    volumeLots: lots(trade),
    openTime: utc(num(trade, 'open_time'), zone),
    closeTime: utc(num(trade, 'close_time'), zone),
    openPrice: num(trade, 'open_price'),
    closePrice: num(trade, 'close_price'),
    ...tradeMoney(trade, digits, anomalies),
    comment: str(trade, 'comment'),
    anomalies,
  };
}

/** An open trade: close_price is the current market price and profit is floating. */
export function toOpenPosition(trade: Obj, digits: number, zone: string): OpenPosition {
  const anomalies: string[] = [];
  return {
    ticket: String(num(trade, 'order')),
    login: num(trade, 'login'),
    symbol: str(trade, 'symbol'),
    side: num(trade, 'cmd') === CMD.BUY ? 'buy' : 'sell',
    volumeLots: lots(trade),
    openPrice: num(trade, 'open_price'),
    currentPrice: num(trade, 'close_price'),
    openTime: utc(num(trade, 'open_time'), zone),
    ...tradeMoney(trade, digits, anomalies),
    anomalies,
  };
}

export const isMarketTrade = (trade: Obj): boolean => {
  const cmd = num(trade, 'cmd');
  return cmd === CMD.BUY || cmd === CMD.SELL;
};

export const isMoneyRecord = (trade: Obj): boolean => {
  const cmd = num(trade, 'cmd');
  return cmd === CMD.BALANCE || cmd === CMD.CREDIT;
};

export const isPendingOrder = (trade: Obj): boolean => pendingTypes[num(trade, 'cmd')] !== undefined;

/**
 * A pending order (cmd 2–5) as an order: open while close_time is 0 (`placed`); a closed one was deleted (by the
 * client or a dealer: `canceled`) or reached its expiration (`expired`). A pending order that triggers becomes the
 * market trade of the same ticket, so MT4 has no "filled" order record.
 */
export function toOrder(trade: Obj, zone: string): TradeOrder {
  const orderType = pendingTypes[num(trade, 'cmd')]!;
  const closed = num(trade, 'close_time');
  const expiration = num(trade, 'expiration');
  const volumeLots = lots(trade);
  return {
    type: 'order',
    ticket: String(num(trade, 'order')),
    login: num(trade, 'login'),
    symbol: str(trade, 'symbol'),
    orderType,
    side: orderType.startsWith('buy') ? 'buy' : 'sell',
    state: closed === 0 ? 'placed' : expiration > 0 && closed >= expiration ? 'expired' : 'canceled',
    volumeLots,
    volumeRemainingLots: volumeLots,
    price: num(trade, 'open_price'),
    triggerPrice: 0,
    stopLoss: num(trade, 'sl'),
    takeProfit: num(trade, 'tp'),
    setupTime: utc(num(trade, 'open_time'), zone),
    doneTime: closed === 0 ? null : utc(closed, zone),
    expiration: expiration > 0 ? utc(expiration, zone) : null,
    positionId: null,
    comment: str(trade, 'comment'),
    anomalies: [],
  };
}

/**
 * A TradesUserHistory record as history: balance/credit records and closed market trades; with `orders`, deleted or
 * expired pending orders (cmd 2–5 with a close time) as orders too (they moved no money).
 */
export function toHistoryRecord(trade: Obj, digits: number, zone: string, orders = false): HistoryRecord | null {
  if (isMoneyRecord(trade)) return { type: 'balance', ...toBalanceRecord(trade, digits, zone) };
  const closed = num(trade, 'close_time') !== 0;
  if (isMarketTrade(trade) && closed) return toClosedTrade(trade, digits, zone);
  if (orders && closed && isPendingOrder(trade)) return toOrder(trade, zone);
  return null;
}

/** Cuts text to at most `maxBytes` UTF-8 bytes without splitting a character (MT4 fields are byte arrays). */
export function cutToBytes(value: string, maxBytes: number): string {
  if (Buffer.byteLength(value, 'utf8') <= maxBytes) return value;
  let out = '';
  let used = 0;
  for (const ch of value) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (used + size > maxBytes) break;
    out += ch;
    used += size;
  }
  return out;
}
