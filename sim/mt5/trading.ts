/**
 * The trade server's money logic: balance operations (the CRM's deposits and withdrawals, the dealer's corrections),
 * the account's trade state (equity, margin, free margin), and market execution for simulated clients in netting
 * and hedging groups. MT5 keeps these apart: an order (the request) produces deals (what happened), which open,
 * change or close positions (what is held). Every change is written through the state store before it is reported.
 */
import type { SimClock } from '../common/clock.ts';
import type { GroupBook, Mt5Group } from './config.ts';
import { type Market, roundTo, symbolSpec } from './market.ts';
import {
  BALANCE_TYPES,
  type BalanceType,
  DealAction,
  DealEntry,
  DealReason,
  type DealRecord,
  MarginMode,
  type OrderRecord,
  OrderState,
  OrderType,
  type PositionRecord,
  type UserRecord,
  volumeToLots,
} from './model.ts';
import { fail, Retcode } from './retcodes.ts';
import type { Mt5State } from './state.ts';

/** MT5 cuts comments to 31 characters (32 with the terminator) without telling anyone. */
export const COMMENT_MAX = 31;
/** One balance operation may move at most this much (retcode 4005 beyond). */
export const MAX_BALANCE_AMOUNT = 1_000_000_000;

export function cutComment(comment: string | undefined): string {
  return (comment ?? '').slice(0, COMMENT_MAX);
}

export interface AccountState {
  login: number;
  currencyDigits: number;
  balance: number;
  credit: number;
  /** Floating profit of open positions, without swaps. */
  profit: number;
  storage: number;
  /** profit + storage. */
  floating: number;
  equity: number;
  margin: number;
  marginFree: number;
  /** Equity / margin in percent; 0 when there is no margin. */
  marginLevel: number;
  marginLeverage: number;
}

export interface BalanceOperation {
  login: number;
  type: number;
  amount: number;
  comment?: string;
  /** Refuse a withdrawal beyond free margin (the Web API's default). */
  checkMargin: boolean;
  /** The manager or dealer login recorded on the deal. */
  dealer: number;
}

export interface MarketRequest {
  symbol: string;
  /** 0 buy, 1 sell. */
  action: 0 | 1;
  /** Lots × 10 000. */
  volume: number;
  /** Hedging: the position to close (partly or fully). Ignored in netting, where the symbol's position is used. */
  positionId?: number;
  reason: number;
  comment?: string;
}

export class TradingEngine {
  constructor(
    private readonly state: Mt5State,
    private readonly groups: GroupBook,
    private readonly market: Market,
    private readonly clock: SimClock,
  ) {}

  groupOf(user: UserRecord): Mt5Group {
    const group = this.groups.get(user.group);
    // A group that disappeared from the configuration between restarts: the account is unusable, not a crash.
    if (!group) fail(Retcode.ERR_PERMISSIONS, `account ${user.login} is in unconfigured group ${user.group}`);
    return group;
  }

  accountState(user: UserRecord): AccountState {
    const group = this.groupOf(user);
    const digits = group.currencyDigits;
    let profit = 0;
    let storage = 0;
    let margin = 0;
    for (const p of this.state.positionsOf(user.login)) {
      profit += this.positionProfit(p, group);
      storage += p.storage;
      const lots = volumeToLots(p.volume);
      margin += this.market.margin(
        p.symbol,
        lots,
        this.market.closePrice(p.symbol, p.action),
        user.leverage,
        group.currency,
      );
    }
    profit = roundTo(profit, digits);
    storage = roundTo(storage, digits);
    margin = roundTo(margin, digits);
    const floating = roundTo(profit + storage, digits);
    const equity = roundTo(user.balance + user.credit + floating, digits);
    return {
      login: user.login,
      currencyDigits: digits,
      balance: user.balance,
      credit: user.credit,
      profit,
      storage,
      floating,
      equity,
      margin,
      marginFree: roundTo(equity - margin, digits),
      marginLevel: margin > 0 ? roundTo((equity / margin) * 100, 2) : 0,
      marginLeverage: user.leverage,
    };
  }

  /** A position's floating profit in the account currency (rounded to its digits). */
  positionProfit(p: PositionRecord, group: Mt5Group): number {
    const spec = symbolSpec(p.symbol);
    const inQuote = this.market.profitInQuote(
      p.symbol,
      p.action,
      volumeToLots(p.volume),
      p.priceOpen,
      this.market.closePrice(p.symbol, p.action),
    );
    return roundTo(this.market.convert(inQuote, spec.quote, group.currency), group.currencyDigits);
  }

  /**
   * `/api/trade/balance` and the dealer's balance tool. Rules from the Web API reference: type 2–6 (else 3); at most
   * 1e9 per operation (4005); a withdrawal may not exceed the balance, a credit withdrawal the credit given, and, when
   * margin is checked, the free margin (10019). The amount is rounded to the group's currency digits first.
   */
  balanceOperation(op: BalanceOperation): DealRecord {
    const user = this.state.users.get(op.login) ?? fail(Retcode.ERR_NOTFOUND, `no account ${op.login}`);
    const group = this.groupOf(user);
    if (!(BALANCE_TYPES as readonly number[]).includes(op.type))
      fail(Retcode.ERR_PARAMS, `bad balance type ${op.type}`);
    const type = op.type as BalanceType;
    if (!Number.isFinite(op.amount)) fail(Retcode.ERR_PARAMS, 'amount must be a number');
    if (Math.abs(op.amount) > MAX_BALANCE_AMOUNT) fail(Retcode.TRADE_MAX_MONEY, `amount ${op.amount} is over 1e9`);
    const digits = group.currencyDigits;
    const amount = roundTo(op.amount, digits);
    if (amount === 0) fail(Retcode.ERR_PARAMS, `amount rounds to zero at ${digits} digits`);

    const isCredit = type === DealAction.CREDIT;
    if (amount < 0) {
      const minor = 10 ** digits;
      const left = Math.round(((isCredit ? user.credit : user.balance) + amount) * minor);
      if (left < 0)
        fail(Retcode.REQUEST_NO_MONEY, `withdrawal of ${-amount} exceeds the ${isCredit ? 'credit' : 'balance'}`);
      if (op.checkMargin) {
        const free = this.accountState(user).marginFree;
        if (Math.round((free + amount) * minor) < 0)
          fail(Retcode.REQUEST_NO_MONEY, `withdrawal of ${-amount} exceeds free margin ${free}`);
      }
    }

    const deal = this.state.addDeal({
      ...this.blankDeal(user, group),
      deal: this.state.dealTickets.next(),
      dealer: op.dealer,
      action: type,
      reason: DealReason.DEALER,
      profit: amount,
      comment: cutComment(op.comment),
    });
    this.state.putUser({
      ...user,
      balance: isCredit ? user.balance : roundTo(user.balance + amount, digits),
      credit: isCredit ? roundTo(user.credit + amount, digits) : user.credit,
    });
    return deal;
  }

  /**
   * A dealer edits a balance deal (DealUpdate): its amount and/or comment. The account's balance (or credit) moves by
   * the difference at once, as after the dealer's balance fix.
   */
  updateBalanceDeal(ticket: number, change: { amount?: number; comment?: string }): DealRecord {
    const deal = this.state.deals.get(ticket) ?? fail(Retcode.ERR_NOTFOUND, `no deal ${ticket}`);
    if (!(BALANCE_TYPES as readonly number[]).includes(deal.action)) {
      fail(Retcode.ERR_PARAMS, `deal ${ticket} is not a balance deal`);
    }
    const user = this.state.users.get(deal.login) ?? fail(Retcode.ERR_NOTFOUND, `no account ${deal.login}`);
    const digits = this.groupOf(user).currencyDigits;
    const amount = change.amount === undefined ? deal.profit : roundTo(change.amount, digits);
    if (amount === 0) fail(Retcode.ERR_PARAMS, `amount rounds to zero at ${digits} digits`);
    const difference = roundTo(amount - deal.profit, digits);
    const isCredit = deal.action === DealAction.CREDIT;
    const updated = this.state.replaceDeal({
      ...deal,
      profit: amount,
      comment: change.comment === undefined ? deal.comment : cutComment(change.comment),
    });
    this.state.putUser({
      ...user,
      balance: isCredit ? user.balance : roundTo(user.balance + difference, digits),
      credit: isCredit ? roundTo(user.credit + difference, digits) : user.credit,
    });
    return updated;
  }

  /** Margin a new position of this size would take, in the account currency (unrounded). */
  marginRequired(user: UserRecord, symbol: string, action: 0 | 1, volume: number): number {
    const group = this.groupOf(user);
    const price = action === 0 ? this.market.ask(symbol) : this.market.bid(symbol);
    return this.market.margin(symbol, volumeToLots(volume), price, user.leverage, group.currency);
  }

  /** Free margin covers this exposure (a conservative check: it ignores netting offsets). */
  canOpen(user: UserRecord, symbol: string, action: 0 | 1, volume: number): boolean {
    return this.accountState(user).marginFree - this.marginRequired(user, symbol, action, volume) >= 0;
  }

  /** Executes a market order at the current price; returns the deals it produced. */
  executeMarket(login: number, request: MarketRequest, existingOrder?: OrderRecord): DealRecord[] {
    const user = this.state.users.get(login) ?? fail(Retcode.ERR_NOTFOUND, `no account ${login}`);
    const group = this.groupOf(user);
    const spec = symbolSpec(request.symbol);
    const price = request.action === 0 ? this.market.ask(request.symbol) : this.market.bid(request.symbol);
    const now = this.clock.now();
    const orderTicket = existingOrder?.order ?? this.state.orderTickets.next();

    const deals: DealRecord[] = [];
    let balanceChange = 0;
    const deal = (entry: number, volume: number, positionId: number, extra: Partial<DealRecord> = {}): DealRecord => {
      const lots = volumeToLots(volume);
      const commission = -roundTo(
        this.market.convert(spec.commissionPerLotUsd * lots, 'USD', group.currency),
        group.currencyDigits,
      );
      const record: DealRecord = {
        ...this.blankDeal(user, group),
        deal: this.state.dealTickets.next(),
        order: orderTicket,
        action: request.action,
        entry,
        reason: request.reason,
        symbol: request.symbol,
        digits: spec.digits,
        contractSize: spec.contractSize,
        volume,
        volumeExt: volume * 10_000,
        price,
        commission,
        positionId,
        comment: cutComment(request.comment),
        ...extra,
      };
      balanceChange += record.profit + record.commission + record.storage;
      deals.push(this.state.addDeal(record));
      return record;
    };
    const closing = (p: PositionRecord, volume: number): Partial<DealRecord> => {
      const lots = volumeToLots(volume);
      const inQuote = this.market.profitInQuote(p.symbol, p.action, lots, p.priceOpen, price);
      return {
        profit: roundTo(this.market.convert(inQuote, spec.quote, group.currency), group.currencyDigits),
        storage: roundTo((p.storage * volume) / p.volume, group.currencyDigits),
        pricePosition: p.priceOpen,
      };
    };
    const open = (volume: number): void => {
      this.state.putPosition({
        position: orderTicket,
        login,
        symbol: request.symbol,
        action: request.action,
        digits: spec.digits,
        digitsCurrency: group.currencyDigits,
        contractSize: spec.contractSize,
        reason: request.reason,
        timeCreate: now,
        timeUpdate: now,
        priceOpen: price,
        volume,
        storage: 0,
        comment: cutComment(request.comment),
      });
    };
    const reduce = (p: PositionRecord, volume: number, storageTaken: number): void => {
      if (volume >= p.volume) this.state.removePosition(p);
      else {
        this.state.putPosition({
          ...p,
          volume: p.volume - volume,
          storage: roundTo(p.storage - storageTaken, group.currencyDigits),
          timeUpdate: now,
        });
      }
    };

    const target = this.positionToOffset(login, group, request);
    if (!target) {
      deal(DealEntry.IN, request.volume, orderTicket);
      open(request.volume);
    } else if (target.action === request.action) {
      // Netting: same direction adds to the symbol's one position at the volume-weighted price.
      deal(DealEntry.IN, request.volume, target.position);
      const volume = target.volume + request.volume;
      this.state.putPosition({
        ...target,
        volume,
        priceOpen: roundTo((target.priceOpen * target.volume + price * request.volume) / volume, spec.digits),
        timeUpdate: now,
      });
    } else if (request.volume <= target.volume || group.marginMode === MarginMode.HEDGING) {
      const volume = Math.min(request.volume, target.volume);
      const d = deal(DealEntry.OUT, volume, target.position, closing(target, volume));
      reduce(target, volume, d.storage);
    } else {
      // Netting reversal: one in/out deal closes the position and opens the remainder the other way; the new
      // position takes the reversing order's ticket as its id.
      const d = deal(DealEntry.INOUT, request.volume, target.position, closing(target, target.volume));
      reduce(target, target.volume, d.storage);
      open(request.volume - target.volume);
    }

    this.state.putUser({ ...user, balance: roundTo(user.balance + balanceChange, group.currencyDigits) });
    this.state.archiveOrder({
      ...(existingOrder ?? this.blankOrder(user, group, request, orderTicket, now)),
      state: OrderState.FILLED,
      timeDone: now,
      priceCurrent: price,
      volumeCurrent: 0,
      positionId: deals[0]?.positionId ?? orderTicket,
    });
    return deals;
  }

  /** Places a buy or sell limit order (pending; it fills when the market reaches its price). */
  placeLimit(login: number, request: MarketRequest, priceOrder: number, expiresAtStep: number): OrderRecord {
    const user = this.state.users.get(login) ?? fail(Retcode.ERR_NOTFOUND, `no account ${login}`);
    const group = this.groupOf(user);
    const order: OrderRecord = {
      ...this.blankOrder(user, group, request, this.state.orderTickets.next(), this.clock.now()),
      type: request.action === 0 ? OrderType.BUY_LIMIT : OrderType.SELL_LIMIT,
      state: OrderState.PLACED,
      priceOrder,
      expiresAtStep,
    };
    this.state.putOrder(order);
    return order;
  }

  /** Fills limit orders the market has reached, cancels expired ones; returns the deals produced. */
  processPendingOrders(step: number): DealRecord[] {
    const deals: DealRecord[] = [];
    const open = [...this.state.orders.values()].sort((a, b) => a.order - b.order);
    for (const order of open) {
      const user = this.state.users.get(order.login);
      const action: 0 | 1 = order.type === OrderType.BUY_LIMIT ? 0 : 1;
      const reached =
        action === 0
          ? this.market.ask(order.symbol) <= order.priceOrder
          : this.market.bid(order.symbol) >= order.priceOrder;
      const expired = (order.expiresAtStep ?? Number.POSITIVE_INFINITY) <= step;
      if (!user || !this.groups.get(user.group)) {
        this.cancelOrder(order);
      } else if (reached && this.canOpen(user, order.symbol, action, order.volumeCurrent)) {
        const request: MarketRequest = {
          symbol: order.symbol,
          action,
          volume: order.volumeCurrent,
          reason: order.reason,
        };
        deals.push(...this.executeMarket(order.login, request, order));
      } else if (expired) {
        // Real servers mark an order that reached its expiration as expired, not canceled.
        this.state.archiveOrder({ ...order, state: OrderState.EXPIRED, timeDone: this.clock.now() });
      } else if (reached) {
        this.cancelOrder(order);
      }
    }
    return deals;
  }

  cancelOrder(order: OrderRecord): void {
    this.state.archiveOrder({ ...order, state: OrderState.CANCELED, timeDone: this.clock.now() });
  }

  /** The daily rollover: swap accrues on every open position (in the account currency). */
  rollover(): void {
    const all = [...this.state.positions.values()].sort((a, b) => a.position - b.position);
    for (const p of all) {
      const user = this.state.users.get(p.login);
      const group = user ? this.groups.get(user.group) : undefined;
      if (!group) continue;
      const spec = symbolSpec(p.symbol);
      const perLot = p.action === 0 ? spec.swapLongUsd : spec.swapShortUsd;
      const swap = roundTo(
        this.market.convert(perLot * volumeToLots(p.volume), 'USD', group.currency),
        group.currencyDigits,
      );
      this.state.putPosition({ ...p, storage: roundTo(p.storage + swap, group.currencyDigits) });
    }
  }

  /** Netting: the symbol's position; hedging: the position named in the request (closing), else none (opening). */
  private positionToOffset(login: number, group: Mt5Group, request: MarketRequest): PositionRecord | undefined {
    if (group.marginMode === MarginMode.NETTING) {
      return this.state.positionsOf(login).find((p) => p.symbol === request.symbol);
    }
    if (request.positionId === undefined) return undefined;
    const p = this.state.positions.get(request.positionId);
    if (!p || p.login !== login || p.symbol !== request.symbol || p.action === request.action) {
      fail(Retcode.ERR_PARAMS, `position ${request.positionId} cannot be closed by this request`);
    }
    return p;
  }

  private blankDeal(user: UserRecord, group: Mt5Group): DealRecord {
    return {
      deal: 0,
      login: user.login,
      dealer: 0,
      order: 0,
      action: DealAction.BALANCE,
      entry: DealEntry.IN,
      reason: DealReason.CLIENT,
      symbol: '',
      digits: 0,
      digitsCurrency: group.currencyDigits,
      contractSize: 0,
      volume: 0,
      volumeExt: 0,
      price: 0,
      profit: 0,
      commission: 0,
      storage: 0,
      time: this.clock.now(),
      positionId: 0,
      comment: '',
      externalId: '',
      pricePosition: 0,
    };
  }

  private blankOrder(
    user: UserRecord,
    group: Mt5Group,
    request: MarketRequest,
    ticket: number,
    now: number,
  ): OrderRecord {
    const spec = symbolSpec(request.symbol);
    return {
      order: ticket,
      login: user.login,
      symbol: request.symbol,
      digits: spec.digits,
      digitsCurrency: group.currencyDigits,
      contractSize: spec.contractSize,
      type: request.action,
      state: OrderState.STARTED,
      reason: request.reason,
      timeSetup: now,
      timeDone: 0,
      priceOrder: 0,
      priceCurrent: request.action === 0 ? this.market.ask(request.symbol) : this.market.bid(request.symbol),
      volumeInitial: request.volume,
      volumeCurrent: request.volume,
      positionId: 0,
      comment: cutComment(request.comment),
    };
  }
}
