/**
 * Money and trades (MT4 TradeRecord): balance and credit operations, market trades opened and closed by the activity
 * generator or a dealer, storage at rollover, stop-out, margin figures, history and open-trade reads.
 *
 * Money stays an IEEE double end to end, as on the real server: each amount is rounded to the group's currency digits
 * (NormalizeDouble) but balances accumulate by plain float addition, so a balance can read 0.30000000000000004.
 * Connectors must normalise; the simulator must not do it for them.
 */
import { invalidData, Mt4Error, RET } from './codes.ts';
import type { ResolvedGroup } from './config.ts';
import { type MarginLevel, TRADE_CMD, type TradeRecord } from './contract.ts';
import { type Market, roundTo } from './market.ts';
import type { PumpingChange } from './pumping.ts';
import type { ServerClock } from './server-clock.ts';
import type { GroupScope } from './session.ts';
import type { Mt4State, StoredUser } from './state.ts';
import { cutToBytes, publicUser, type UserDirectory } from './users.ts';

export const TT_BR_BALANCE = 83;
export const MAX_BALANCE_AMOUNT = 1e9;

export interface BalanceOperation {
  login: number;
  cmd: 6 | 7;
  amount: number;
  comment: string;
  /** Server wall-clock seconds; required (in the future) for credit. */
  expiration?: number | undefined;
}

export interface MarketOrder {
  login: number;
  symbol: string;
  cmd: 0 | 1;
  /** Lots × 100. */
  volume: number;
  comment?: string;
  magic?: number;
}

export interface PendingOrder {
  login: number;
  symbol: string;
  cmd: 2 | 3 | 4 | 5;
  /** Lots × 100. */
  volume: number;
  price: number;
  /** Server wall-clock seconds; absent = good till deleted. */
  expiration?: number;
  comment?: string;
}

interface AccountFigures {
  equity: number;
  margin: number;
  volume: number;
}

export class TradingDesk {
  constructor(
    private readonly state: Mt4State,
    private readonly users: UserDirectory,
    private readonly market: Market,
    private readonly clock: ServerClock,
    private readonly publish: (change: PumpingChange) => void,
  ) {}

  private groupOf(user: StoredUser): ResolvedGroup {
    const group = this.users.group(user.group);
    if (!group)
      throw new Mt4Error(RET.ERROR, `account ${user.login} is in group "${user.group}", which no longer exists`);
    return group;
  }

  /**
   * TT_BR_BALANCE: a deposit/withdrawal (cmd 6) or credit in/out (cmd 7). Validation happens entirely before the
   * first write, so a refused operation leaves no trace; an accepted one is journaled (record, then balance) before
   * the caller can reply.
   */
  balanceOperation(op: BalanceOperation, scope: GroupScope): TradeRecord {
    const user = this.users.account(op.login, scope);
    const group = this.groupOf(user);
    if (!Number.isFinite(op.amount)) throw invalidData('price (the amount) must be a finite number');
    const amount = roundTo(op.amount, group.digits);
    if (amount === 0) throw invalidData(`the amount rounds to 0 at ${group.digits} digits`);
    if (Math.abs(amount) > MAX_BALANCE_AMOUNT) throw invalidData(`|amount| must not exceed ${MAX_BALANCE_AMOUNT}`);
    const now = this.clock.now();
    let expiration = 0;
    if (op.cmd === TRADE_CMD.OP_CREDIT) {
      if (op.expiration === undefined || op.expiration <= now) {
        throw invalidData('a credit operation needs an expiration in the future (server wall-clock seconds)');
      }
      expiration = op.expiration;
    }
    if (amount < 0) {
      const figures = this.figures(user, group);
      const free = figures.equity - figures.margin;
      const held = op.cmd === TRADE_CMD.OP_BALANCE ? user.balance : user.credit;
      // Compared at the currency's digits, as the server normalises: a balance the client sees as 0.30 (stored as
      // 0.29999999999999993 after float additions) can be withdrawn in full, leaving a tiny non-zero double behind.
      const available = roundTo(Math.min(held, free), group.digits);
      if (-amount > available) {
        throw new Mt4Error(
          RET.TRADE_NO_MONEY,
          `cannot take ${-amount} from account ${user.login}: at most ${Math.max(available, 0)} ` +
            `is available (${op.cmd === TRADE_CMD.OP_BALANCE ? 'balance' : 'credit'} ${held}, free margin ${roundTo(free, group.digits)})`,
        );
      }
    }

    const record: TradeRecord = {
      order: this.state.nextTicket(),
      login: user.login,
      symbol: '',
      digits: 0,
      cmd: op.cmd,
      volume: 0,
      open_time: now,
      open_price: 0,
      sl: 0,
      tp: 0,
      close_time: now,
      close_price: 0,
      expiration,
      commission: 0,
      commission_agent: 0,
      storage: 0,
      taxes: 0,
      profit: amount,
      comment: cutToBytes(op.comment, 31),
      magic: 0,
      timestamp: now,
    };
    this.state.saveTrade(record);
    const next: StoredUser =
      op.cmd === TRADE_CMD.OP_BALANCE
        ? { ...user, balance: user.balance + amount, timestamp: now }
        : { ...user, credit: user.credit + amount, timestamp: now };
    this.state.saveUser(next);
    this.publish({ type: 'trade_add', group: next.group, trade: record });
    this.publish({ type: 'user_update', group: next.group, user: publicUser(next) });
    return record;
  }

  /** Opens a market trade for a client (activity generator, dealer console). */
  openTrade(order: MarketOrder, scope: GroupScope): TradeRecord {
    const user = this.users.account(order.login, scope);
    const group = this.groupOf(user);
    const symbol = this.market.symbol(order.symbol);
    if (!symbol) throw invalidData(`symbol "${order.symbol}" does not exist`);
    if (!Number.isInteger(order.volume) || order.volume <= 0)
      throw invalidData('volume must be a positive integer (lots × 100)');
    if (user.enable === 0) throw new Mt4Error(RET.ACCOUNT_DISABLED, `account ${user.login} is disabled`);
    if (user.enable_read_only === 1 || group.enable === 0 || symbol.trade !== 2) {
      throw new Mt4Error(RET.TRADE_DISABLE, `trading is disabled for account ${user.login} on ${symbol.symbol}`);
    }
    const quote = this.market.quote(symbol.symbol);
    const openPrice = order.cmd === TRADE_CMD.OP_BUY ? quote.ask : quote.bid;
    const lots = order.volume / 100;
    const commission = roundTo(-group.commission_per_lot * lots, group.digits);
    const now = this.clock.now();
    const record: TradeRecord = {
      order: 0,
      login: user.login,
      symbol: symbol.symbol,
      digits: symbol.digits,
      cmd: order.cmd,
      volume: order.volume,
      open_time: now,
      open_price: openPrice,
      sl: 0,
      tp: 0,
      close_time: 0,
      close_price: 0,
      expiration: 0,
      commission,
      commission_agent: 0,
      storage: 0,
      taxes: 0,
      profit: 0,
      comment: cutToBytes(order.comment ?? '', 31),
      magic: order.magic ?? 0,
      timestamp: now,
    };
    const before = this.figures(user, group);
    const margin = this.tradeMargin(record, user, group);
    if (before.equity + commission - (before.margin + margin) < 0) {
      throw new Mt4Error(
        RET.TRADE_NO_MONEY,
        `not enough free margin on ${user.login} to open ${lots} lots ${symbol.symbol}`,
      );
    }
    record.order = this.state.nextTicket();
    this.state.saveTrade(record);
    this.publish({ type: 'trade_add', group: user.group, trade: this.withMarket(record, group) });
    return record;
  }

  /** Closes an open trade at the market; balance += profit + storage + commission + taxes (float addition). */
  closeTrade(orderNo: number, scope: GroupScope, comment?: string): TradeRecord {
    const trade = this.state.trade(orderNo);
    if (!trade) throw new Mt4Error(RET.ERROR, `order ${orderNo} does not exist`);
    const user = this.users.account(trade.login, scope);
    if (trade.cmd > TRADE_CMD.OP_SELL || trade.close_time !== 0) {
      throw invalidData(`order ${orderNo} is not an open market trade`);
    }
    const group = this.groupOf(user);
    const marked = this.withMarket(trade, group);
    const now = this.clock.now();
    const closed: TradeRecord = {
      ...marked,
      close_time: now,
      timestamp: now,
      ...(comment !== undefined ? { comment: cutToBytes(comment, 31) } : {}),
    };
    this.state.saveTrade(closed);
    let balance = user.balance;
    for (const part of [closed.profit, closed.storage, closed.commission, closed.taxes]) balance += part;
    const next: StoredUser = { ...user, balance, timestamp: now };
    this.state.saveUser(next);
    this.publish({ type: 'trade_close', group: next.group, trade: closed });
    this.publish({ type: 'user_update', group: next.group, user: publicUser(next) });
    return closed;
  }

  /** Rollover: every open trade is charged (or paid) its symbol's swap per lot; each change is pumped. */
  rollover(): number {
    let charged = 0;
    for (const trade of this.state.openTrades()) {
      const user = this.state.user(trade.login);
      const symbol = this.market.symbol(trade.symbol);
      const group = user && this.users.group(user.group);
      if (!user || !symbol || !group) continue;
      const perLot = trade.cmd === TRADE_CMD.OP_BUY ? symbol.swap_long : symbol.swap_short;
      const swap = roundTo(
        this.market.convert(perLot * (trade.volume / 100), symbol.currency, group.currency),
        group.digits,
      );
      if (swap === 0) continue;
      const next: TradeRecord = { ...trade, storage: trade.storage + swap, timestamp: this.clock.now() };
      this.state.saveTrade(next);
      this.publish({ type: 'trade_update', group: user.group, trade: this.withMarket(next, group) });
      charged += 1;
    }
    return charged;
  }

  /**
   * Stop-out: while an account's margin level is below its group's stop-out level, its most losing trade is closed
   * with MT4's comment `so: <level>%/<equity>/<margin>`. Returns the trades closed.
   */
  stopOuts(): TradeRecord[] {
    const closed: TradeRecord[] = [];
    const logins = [...new Set(this.state.openTrades().map((t) => t.login))].sort((a, b) => a - b);
    for (const login of logins) {
      for (;;) {
        const user = this.state.user(login);
        const group = user && this.users.group(user.group);
        if (!user || !group) break;
        const open = this.state.openTradesOf(login);
        if (open.length === 0) break;
        const { equity, margin } = this.figures(user, group);
        const level = margin > 0 ? (equity / margin) * 100 : Number.POSITIVE_INFINITY;
        const limit = group.margin_type === 0 ? level : equity;
        if (limit >= group.margin_stopout) break;
        const worst = open.map((t) => this.withMarket(t, group)).reduce((a, b) => (b.profit < a.profit ? b : a));
        const comment = `so: ${level.toFixed(1)}%/${equity.toFixed(2)}/${margin.toFixed(2)}`;
        closed.push(this.closeTrade(worst.order, () => true, comment));
      }
    }
    return closed;
  }

  /** Closed trades and balance/credit records with close_time in [from, to], by close_time then ticket. */
  history(login: number, from: number, to: number, scope: GroupScope): TradeRecord[] {
    if (from > to) throw invalidData('from must not be after to');
    this.users.account(login, scope);
    return this.state
      .tradesOf(login)
      .filter((t) => t.close_time !== 0 && t.close_time >= from && t.close_time <= to)
      .sort((a, b) => a.close_time - b.close_time || a.order - b.order);
  }

  /** Open trades with their current close_price and floating profit, then pending orders (as placed). */
  openTrades(filter: (user: StoredUser) => boolean): TradeRecord[] {
    const out: TradeRecord[] = [];
    for (const trade of this.state.openTrades()) {
      const user = this.state.user(trade.login);
      const group = user && this.users.group(user.group);
      if (user && group && filter(user)) out.push(this.withMarket(trade, group));
    }
    for (const order of this.state.pendingOrders()) {
      const user = this.state.user(order.login);
      if (user && filter(user)) out.push(order);
    }
    return out;
  }

  /**
   * Places a pending order (cmd 2–5: buy limit, sell limit, buy stop, sell stop) at `price` for a client (dealer
   * console). It holds no margin here and never triggers by itself: the simulator keeps it until it is deleted.
   */
  placePending(order: PendingOrder, scope: GroupScope): TradeRecord {
    const user = this.users.account(order.login, scope);
    const symbol = this.market.symbol(order.symbol);
    if (!symbol) throw invalidData(`symbol "${order.symbol}" does not exist`);
    if (!Number.isInteger(order.volume) || order.volume <= 0)
      throw invalidData('volume must be a positive integer (lots × 100)');
    if (!(order.price > 0)) throw invalidData('price must be positive');
    const now = this.clock.now();
    if (order.expiration !== undefined && order.expiration <= now)
      throw invalidData('expiration must be in the future');
    const record: TradeRecord = {
      order: this.state.nextTicket(),
      login: user.login,
      symbol: symbol.symbol,
      digits: symbol.digits,
      cmd: order.cmd,
      volume: order.volume,
      open_time: now,
      open_price: order.price,
      sl: 0,
      tp: 0,
      close_time: 0,
      close_price: 0,
      expiration: order.expiration ?? 0,
      commission: 0,
      commission_agent: 0,
      storage: 0,
      taxes: 0,
      profit: 0,
      comment: cutToBytes(order.comment ?? '', 31),
      magic: 0,
      timestamp: now,
    };
    this.state.saveTrade(record);
    this.publish({ type: 'trade_add', group: user.group, trade: record });
    return record;
  }

  /** Deletes a pending order: it stays in history with close_time = now (a closed record of its cmd). */
  deletePending(orderNo: number, scope: GroupScope): TradeRecord {
    const order = this.state.trade(orderNo);
    if (!order) throw new Mt4Error(RET.ERROR, `order ${orderNo} does not exist`);
    const user = this.users.account(order.login, scope);
    if (order.cmd < TRADE_CMD.OP_BUY_LIMIT || order.cmd > TRADE_CMD.OP_SELL_STOP || order.close_time !== 0) {
      throw invalidData(`order ${orderNo} is not an open pending order`);
    }
    const now = this.clock.now();
    const deleted: TradeRecord = { ...order, close_time: now, close_price: order.open_price, timestamp: now };
    this.state.saveTrade(deleted);
    this.publish({ type: 'trade_close', group: user.group, trade: deleted });
    return deleted;
  }

  /** One record by ticket; open trades are marked to market. */
  record(orderNo: number, scope: GroupScope): TradeRecord {
    const trade = this.state.trade(orderNo);
    if (!trade) throw new Mt4Error(RET.ERROR, `order ${orderNo} does not exist`);
    const user = this.users.account(trade.login, scope);
    const group = this.users.group(user.group);
    return group && trade.close_time === 0 && trade.cmd <= TRADE_CMD.OP_SELL ? this.withMarket(trade, group) : trade;
  }

  marginLevel(login: number, scope: GroupScope): MarginLevel {
    const user = this.users.account(login, scope);
    const group = this.groupOf(user);
    const { equity, margin, volume } = this.figures(user, group);
    const level = margin > 0 ? (equity / margin) * 100 : 0;
    const check = group.margin_type === 0 ? level : equity;
    const levelType = margin === 0 ? 0 : check < group.margin_stopout ? 2 : check < group.margin_call ? 1 : 0;
    return {
      login: user.login,
      group: user.group,
      leverage: user.leverage,
      updated: this.clock.now(),
      balance: user.balance,
      equity: roundTo(equity, group.digits),
      volume,
      margin: roundTo(margin, group.digits),
      margin_free: roundTo(equity - margin, group.digits),
      margin_level: roundTo(level, 2),
      margin_type: group.margin_type,
      level_type: levelType,
    };
  }

  /** An open trade as MT4 reports it: close_price at the current market, profit floating. */
  private withMarket(trade: TradeRecord, group: ResolvedGroup): TradeRecord {
    const symbol = this.market.symbol(trade.symbol);
    if (!symbol || trade.close_time !== 0) return trade;
    const quote = this.market.quote(trade.symbol);
    const closePrice = trade.cmd === TRADE_CMD.OP_BUY ? quote.bid : quote.ask;
    const direction = trade.cmd === TRADE_CMD.OP_BUY ? 1 : -1;
    const raw = (closePrice - trade.open_price) * direction * symbol.contract_size * (trade.volume / 100);
    const profit = roundTo(this.market.convert(raw, symbol.currency, group.currency), group.digits);
    return { ...trade, close_price: closePrice, profit };
  }

  private tradeMargin(trade: TradeRecord, user: StoredUser, group: ResolvedGroup): number {
    const symbol = this.market.symbol(trade.symbol);
    if (!symbol) return 0;
    const units = symbol.contract_size * (trade.volume / 100);
    return this.market.convert(units / Math.max(user.leverage, 1), symbol.margin_currency, group.currency);
  }

  private figures(user: StoredUser, group: ResolvedGroup): AccountFigures {
    let equity = user.balance + user.credit;
    let margin = 0;
    let volume = 0;
    for (const trade of this.state.openTradesOf(user.login)) {
      const marked = this.withMarket(trade, group);
      equity += marked.profit + marked.storage + marked.commission + marked.taxes;
      margin += this.tradeMargin(trade, user, group);
      volume += trade.volume;
    }
    return { equity, margin, volume };
  }
}
