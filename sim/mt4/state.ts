/**
 * The MT4 server's durable state on top of sim/common/store.ts: accounts, trade records, login and ticket counters,
 * and small metadata (the default manager's password, the activity generator's position). Every write goes through
 * the store's journal synchronously, so whatever a reply acknowledged survives a restart with the same stateDir.
 * The by-login and open-trade indexes are derived, rebuilt on open, never persisted.
 */
import type { Collection, Counter, StateStore } from '../common/store.ts';
import { Mt4Error, RET } from './codes.ts';
import type { LoginRange } from './config.ts';
import type { TradeRecord, UserRecord } from './contract.ts';

/** Passwords are kept as salted SHA-256: the simulator only ever needs to compare them. */
export interface StoredSecret {
  main: string;
  investor: string | null;
}

export interface StoredUser extends UserRecord {
  secret: StoredSecret;
}

/** Tickets start here on a fresh server, so they never look like logins. */
const FIRST_TICKET = 1_000_000;

export class Mt4State {
  readonly users: Collection<StoredUser>;
  readonly trades: Collection<TradeRecord>;
  readonly meta: Collection<unknown>;
  private readonly ticket: Counter;
  private readonly byLogin = new Map<number, number[]>();
  private readonly open = new Set<number>();

  constructor(readonly store: StateStore) {
    this.users = store.collection<StoredUser>('users');
    this.trades = store.collection<TradeRecord>('trades');
    this.meta = store.collection<unknown>('meta');
    this.ticket = store.counter('ticket');
    this.ticket.atLeast(FIRST_TICKET - 1);
    const all = [...this.trades.values()].sort((a, b) => a.order - b.order);
    for (const t of all) this.index(t, true);
  }

  user(login: number): StoredUser | undefined {
    return this.users.get(login);
  }

  saveUser(user: StoredUser): StoredUser {
    return this.users.put(user.login, user);
  }

  /** All accounts ordered by login. */
  allUsers(): StoredUser[] {
    return [...this.users.values()].sort((a, b) => a.login - b.login);
  }

  nextTicket(): number {
    return this.ticket.next();
  }

  /**
   * The next free login of a range. The counter only moves forward and is journaled, so a login handed out once is
   * never handed out again, even after a restart; logins taken explicitly inside the range are skipped.
   */
  allocateLogin(range: LoginRange, taken: (login: number) => boolean): number {
    const counter = this.store.counter(`login:${range.from}-${range.to}`);
    counter.atLeast(range.from - 1);
    while (counter.current < range.to) {
      const login = counter.next();
      if (!this.users.has(login) && !taken(login)) return login;
    }
    throw new Mt4Error(RET.ERROR, `login range ${range.from}-${range.to} is exhausted`);
  }

  trade(order: number): TradeRecord | undefined {
    return this.trades.get(order);
  }

  saveTrade(trade: TradeRecord): TradeRecord {
    const isNew = !this.trades.has(trade.order);
    this.trades.put(trade.order, trade);
    this.index(trade, isNew);
    return trade;
  }

  /** Every record of one account (open and closed), in ticket order. */
  tradesOf(login: number): TradeRecord[] {
    return (this.byLogin.get(login) ?? []).map((o) => this.trades.get(o)!);
  }

  /** Open market trades (cmd 0/1), in ticket order. */
  openTrades(): TradeRecord[] {
    return this.openRecords().filter((t) => t.cmd <= 1);
  }

  openTradesOf(login: number): TradeRecord[] {
    return this.tradesOf(login).filter((t) => this.open.has(t.order) && t.cmd <= 1);
  }

  /** Open pending orders (cmd 2–5), in ticket order. */
  pendingOrders(): TradeRecord[] {
    return this.openRecords().filter((t) => t.cmd > 1);
  }

  private openRecords(): TradeRecord[] {
    return [...this.open].sort((a, b) => a - b).map((o) => this.trades.get(o)!);
  }

  private index(trade: TradeRecord, isNew: boolean): void {
    if (isNew) {
      let list = this.byLogin.get(trade.login);
      if (!list) {
        list = [];
        this.byLogin.set(trade.login, list);
      }
      // Tickets only grow, so appending keeps each list in ticket order.
      list.push(trade.order);
    }
    if (trade.cmd <= 5 && trade.close_time === 0) this.open.add(trade.order);
    else this.open.delete(trade.order);
  }
}
