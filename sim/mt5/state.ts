/**
 * The MT5 server's data on top of the shared state store: users, deals, open orders, history orders and positions,
 * with ticket and login counters, plus in-memory per-login indexes rebuilt on start.
 *
 * Records are replaced, never mutated in place: every change goes through `put`, which journals it before the
 * caller can reply, so a restart with the same folder restores everything that was acknowledged.
 */
import type { Collection, Counter, StateStore } from '../common/store.ts';
import type { Mt5Group } from './config.ts';
import type { DealRecord, OrderRecord, PositionRecord, UserRecord } from './model.ts';

export class Mt5State {
  readonly users: Collection<UserRecord>;
  readonly deals: Collection<DealRecord>;
  /** Open (pending) orders. */
  readonly orders: Collection<OrderRecord>;
  /** Filled and canceled orders. */
  readonly history: Collection<OrderRecord>;
  readonly positions: Collection<PositionRecord>;
  /** Odds and ends that must survive a restart (generated passwords, activity generator state). */
  readonly meta: Collection<unknown>;
  readonly dealTickets: Counter;
  /** Orders and positions share this sequence: a position's id is the ticket of the order that opened it. */
  readonly orderTickets: Counter;

  private readonly dealsByLogin = new Map<number, DealRecord[]>();
  private readonly historyByLogin = new Map<number, number[]>();
  private readonly ordersByLogin = new Map<number, Set<number>>();
  private readonly positionsByLogin = new Map<number, Set<number>>();

  constructor(readonly store: StateStore) {
    this.users = store.collection('users');
    this.deals = store.collection('deals');
    this.orders = store.collection('orders');
    this.history = store.collection('history');
    this.positions = store.collection('positions');
    this.meta = store.collection('meta');
    this.dealTickets = store.counter('deal');
    this.orderTickets = store.counter('order');
    for (const d of this.deals.values()) this.indexDeal(d);
    for (const o of this.history.values()) push(this.historyByLogin, o.login, o.order);
    for (const o of this.orders.values()) add(this.ordersByLogin, o.login, o.order);
    for (const p of this.positions.values()) add(this.positionsByLogin, p.login, p.position);
  }

  /** The counter that allocates logins for a group's range (groups sharing a range share a counter). */
  loginCounter(group: Mt5Group): Counter {
    const counter = this.store.counter(`login.${group.loginFrom}`);
    counter.atLeast(group.loginFrom - 1);
    return counter;
  }

  putUser(user: UserRecord): UserRecord {
    return this.users.put(user.login, user);
  }

  addDeal(deal: DealRecord): DealRecord {
    this.deals.put(deal.deal, deal);
    this.indexDeal(deal);
    return deal;
  }

  /** Replaces a deal edited by a dealer (same ticket and login). */
  replaceDeal(deal: DealRecord): DealRecord {
    this.deals.put(deal.deal, deal);
    const list = this.dealsByLogin.get(deal.login) ?? [];
    const at = list.findIndex((d) => d.deal === deal.deal);
    if (at >= 0) list[at] = deal;
    else this.indexDeal(deal);
    return deal;
  }

  /** A login's deals, oldest first (by time, then ticket: a skewed clock can make times go backwards). */
  dealsOf(login: number): DealRecord[] {
    const list = this.dealsByLogin.get(login) ?? [];
    return [...list].sort((a, b) => a.time - b.time || a.deal - b.deal);
  }

  hasDeals(login: number): boolean {
    return (this.dealsByLogin.get(login)?.length ?? 0) > 0;
  }

  putPosition(position: PositionRecord): void {
    this.positions.put(position.position, position);
    add(this.positionsByLogin, position.login, position.position);
  }

  removePosition(position: PositionRecord): void {
    this.positions.delete(position.position);
    this.positionsByLogin.get(position.login)?.delete(position.position);
  }

  positionsOf(login: number): PositionRecord[] {
    return resolve(this.positionsByLogin.get(login), this.positions).sort((a, b) => a.position - b.position);
  }

  putOrder(order: OrderRecord): void {
    this.orders.put(order.order, order);
    add(this.ordersByLogin, order.login, order.order);
  }

  /** Moves a finished order (filled or canceled) from the open book to history. */
  archiveOrder(order: OrderRecord): void {
    if (this.orders.delete(order.order)) this.ordersByLogin.get(order.login)?.delete(order.order);
    const known = this.history.has(order.order);
    this.history.put(order.order, order);
    if (!known) push(this.historyByLogin, order.login, order.order);
  }

  ordersOf(login: number): OrderRecord[] {
    return resolve(this.ordersByLogin.get(login), this.orders).sort((a, b) => a.order - b.order);
  }

  historyOf(login: number): OrderRecord[] {
    return (this.historyByLogin.get(login) ?? [])
      .map((t) => this.history.get(t))
      .filter((o): o is OrderRecord => o !== undefined)
      .sort((a, b) => a.timeSetup - b.timeSetup || a.order - b.order);
  }

  private indexDeal(deal: DealRecord): void {
    let list = this.dealsByLogin.get(deal.login);
    if (!list) {
      list = [];
      this.dealsByLogin.set(deal.login, list);
    }
    list.push(deal);
  }
}

function add(map: Map<number, Set<number>>, login: number, ticket: number): void {
  let set = map.get(login);
  if (!set) {
    set = new Set();
    map.set(login, set);
  }
  set.add(ticket);
}

function push(map: Map<number, number[]>, login: number, ticket: number): void {
  let list = map.get(login);
  if (!list) {
    list = [];
    map.set(login, list);
  }
  list.push(ticket);
}

function resolve<T>(tickets: Set<number> | undefined, collection: Collection<T>): T[] {
  const out: T[] = [];
  for (const t of tickets ?? []) {
    const record = collection.get(t);
    if (record !== undefined) out.push(record);
  }
  return out;
}
