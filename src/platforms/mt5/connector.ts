/**
 * The MT5 connector: the Platform interface over the MT5 Web API. It holds a small pool of authenticated sessions,
 * converts every value at the boundary (strings to numbers, doubles to minor units, server wall-clock seconds to UTC,
 * Volume to lots) and pages through every list. Nothing outside this folder knows the wire format.
 */
import type { ConnectorConfig, ConnectorDeps } from '../connector.ts';
import { DefinitiveError } from '../errors.ts';
import { mergeListings } from '../merge.ts';
import { fromMinorUnits, readAmount } from '../money.ts';
import { buildComment, parseReference } from '../reference.ts';
import { serverSecondsToUtc, utcToServerSeconds, zoneOffsetMinutes } from '../server-time.ts';
import type {
  AccountUpdate,
  BalanceOperationRequest,
  BalanceOperationResult,
  BalanceRecord,
  GroupInfo,
  HistoryQuery,
  HistoryRecord,
  NewAccount,
  OpenPosition,
  PasswordKind,
  Platform,
  ServerClock,
  TradeDeal,
  TradeOrder,
  TradingAccount,
} from '../types.ts';
import { type Mt5Reply, type Mt5Request, Mt5Session } from './session.ts';

const PAGE = 100;
/** Accounts listed at once per session by `listHistory`. */
const LISTINGS_PER_SESSION = 2;
/** Pages a walk over every account holds for a slow consumer before the listings pause. */
const PAGES_WAITING = 20;
export const RIGHT_ENABLED = 0x1;
export const RIGHT_TRADE_DISABLED = 0x4;

type Obj = Record<string, unknown>;

const str = (o: Obj, key: string): string => (o[key] === undefined || o[key] === null ? '' : String(o[key]));
const num = (o: Obj, key: string): number => {
  const v = Number(o[key] ?? 0);
  return Number.isFinite(v) ? v : 0;
};

const balanceActions: Record<number, BalanceRecord['kind']> = {
  2: 'balance',
  3: 'credit',
  4: 'charge',
  5: 'correction',
  6: 'bonus',
};
const balanceTypes: Record<BalanceOperationRequest['kind'], number> = { balance: 2, credit: 3 };
const entries: Record<number, TradeDeal['entry']> = { 0: 'in', 1: 'out', 2: 'inout', 3: 'out_by' };
/** IMTOrder::EnOrderType, by value. */
const orderTypes: TradeOrder['orderType'][] = [
  'buy',
  'sell',
  'buy_limit',
  'sell_limit',
  'buy_stop',
  'sell_stop',
  'buy_stop_limit',
  'sell_stop_limit',
  'close_by',
];
/** IMTOrder::EnOrderState, by value. */
const orderStates: TradeOrder['state'][] = [
  'started',
  'placed',
  'canceled',
  'partial',
  'filled',
  'rejected',
  'expired',
  'request_add',
  'request_modify',
  'request_cancel',
];

export class Mt5Connector implements Platform {
  readonly kind = 'mt5' as const;
  private readonly sessions: Mt5Session[];
  private readonly groupDigits = new Map<string, GroupInfo>();
  private readonly loginGroup = new Map<number, string>();

  constructor(
    private readonly config: ConnectorConfig,
    deps: ConnectorDeps = {},
  ) {
    const count = Math.max(1, config.sessions ?? 2);
    this.sessions = Array.from({ length: count }, () => new Mt5Session(config, deps.logger));
  }

  get server(): string {
    return this.config.code;
  }

  /** The least busy session: commands on one session go one after another on its connection. */
  private call(request: Mt5Request): Promise<Mt5Reply> {
    let best = this.sessions[0]!;
    for (const s of this.sessions) if (s.inFlight < best.inFlight) best = s;
    return best.call(request);
  }

  private async object(request: Mt5Request): Promise<Obj> {
    const { answer } = await this.call(request);
    if (!answer || typeof answer !== 'object' || Array.isArray(answer)) {
      throw this.malformed(request, 'an object');
    }
    return answer as Obj;
  }

  private async list(request: Mt5Request): Promise<Obj[]> {
    const { answer } = await this.call(request);
    if (answer === undefined || answer === null || answer === '') return [];
    if (!Array.isArray(answer)) throw this.malformed(request, 'a list');
    return answer as Obj[];
  }

  private malformed(request: Mt5Request, expected: string): DefinitiveError {
    return new DefinitiveError(
      `${this.server} ${request.path}: the answer is not ${expected}`,
      {
        server: this.server,
        platform: 'mt5',
        code: null,
        serverText: 'malformed answer',
        request: { method: 'GET', path: request.path },
      },
      'other',
    );
  }

  // --- groups and money digits ------------------------------------------------------------------------------------

  private toGroup(o: Obj): GroupInfo {
    const mode = num(o, 'marginmode');
    return {
      name: str(o, 'group'),
      currency: str(o, 'currency'),
      currencyDigits: num(o, 'currencydigits'),
      // MarginMode: 0 retail netting, 1 exchange, 2 retail hedging.
      marginMode: mode === 2 ? 'hedging' : mode === 1 ? 'exchange' : 'netting',
      leverageMin: o.leveragemin === undefined ? null : num(o, 'leveragemin'),
      leverageMax: o.leveragemax === undefined ? null : num(o, 'leveragemax'),
    };
  }

  async getGroup(name: string): Promise<GroupInfo> {
    const group = this.toGroup(await this.object({ path: '/api/group/get', params: { group: name }, write: false }));
    this.groupDigits.set(group.name, group);
    return group;
  }

  async listGroups(): Promise<GroupInfo[]> {
    const total = num(await this.object({ path: '/api/group/total', write: false }), 'total');
    const groups: GroupInfo[] = [];
    for (let index = 0; index < total; index++) {
      const group = this.toGroup(await this.object({ path: '/api/group/next', params: { index }, write: false }));
      this.groupDigits.set(group.name, group);
      groups.push(group);
    }
    return groups;
  }

  private async groupOf(name: string): Promise<GroupInfo> {
    return this.groupDigits.get(name) ?? (await this.getGroup(name));
  }

  private async groupOfLogin(login: number): Promise<GroupInfo> {
    let name = this.loginGroup.get(login);
    if (!name) {
      name = str(await this.object({ path: '/api/user/get', params: { login }, write: false }), 'group');
      this.loginGroup.set(login, name);
    }
    return this.groupOf(name);
  }

  // --- accounts ---------------------------------------------------------------------------------------------------

  private async toAccount(user: Obj, account: Obj | null): Promise<TradingAccount> {
    const group = await this.groupOf(str(user, 'group'));
    const digits = group.currencyDigits;
    const anomalies: string[] = [];
    const rights = num(user, 'rights');
    const source = account ?? user;
    const marginLevel = account ? num(account, 'marginlevel') : 0;
    const login = num(user, 'login');
    this.loginGroup.set(login, group.name);
    return {
      login,
      group: group.name,
      name: str(user, 'name'),
      email: str(user, 'email'),
      country: str(user, 'country'),
      comment: str(user, 'comment'),
      leverage: num(user, 'leverage'),
      enabled: (rights & RIGHT_ENABLED) !== 0,
      tradingAllowed: (rights & RIGHT_TRADE_DISABLED) === 0,
      agentLogin: num(user, 'agent') || null,
      currency: group.currency,
      currencyDigits: digits,
      balance: readAmount(str(source, 'balance') || '0', digits, 'balance', anomalies),
      credit: readAmount(str(source, 'credit') || '0', digits, 'credit', anomalies),
      equity: account ? readAmount(str(account, 'equity') || '0', digits, 'equity', anomalies) : 0,
      margin: account ? readAmount(str(account, 'margin') || '0', digits, 'margin', anomalies) : 0,
      freeMargin: account ? readAmount(str(account, 'marginfree') || '0', digits, 'free margin', anomalies) : 0,
      marginLevel: marginLevel > 0 ? marginLevel : null,
      registeredAt: serverSecondsToUtc(num(user, 'registration'), this.config.timeZone),
      anomalies,
    };
  }

  async openAccount(account: NewAccount): Promise<TradingAccount> {
    let rights = RIGHT_ENABLED;
    if (account.enabled === false) rights &= ~RIGHT_ENABLED;
    if (account.tradingAllowed === false) rights |= RIGHT_TRADE_DISABLED;
    const user = await this.object({
      path: '/api/user/add',
      params: { group: account.group, name: account.name, leverage: account.leverage, login: account.login ?? 0 },
      body: {
        PassMain: account.mainPassword,
        PassInvestor: account.investorPassword,
        Email: account.email ?? '',
        Country: account.country ?? '',
        Comment: account.comment ?? '',
        Agent: String(account.agentLogin ?? 0),
        Rights: String(rights),
      },
      write: true,
    });
    return this.toAccount(user, null);
  }

  async findAccountByReference(group: string, reference: string): Promise<TradingAccount | null> {
    const reply = await this.call({ path: '/api/user/logins', params: { group }, write: false });
    const logins = Array.isArray(reply.answer) ? (reply.answer as unknown[]).map(Number).filter(Number.isFinite) : [];
    // Newest first: an opening being verified is almost always among the last accounts created.
    logins.sort((a, b) => b - a);
    for (let i = 0; i < logins.length; i += PAGE) {
      const batch = logins.slice(i, i + PAGE);
      const users = await this.list({ path: '/api/user/get_batch', params: { login: batch.join(',') }, write: false });
      const match = users.find((u) => parseReference(str(u, 'comment'))?.reference === reference);
      if (match) return this.toAccount(match, null);
    }
    return null;
  }

  async getAccount(login: number): Promise<TradingAccount> {
    const [user, account] = await Promise.all([
      this.object({ path: '/api/user/get', params: { login }, write: false }),
      this.object({ path: '/api/user/account/get', params: { login }, write: false }),
    ]);
    return this.toAccount(user, account);
  }

  async updateAccount(login: number, update: AccountUpdate): Promise<TradingAccount> {
    // Read-modify-write: the Web API replaces what it is given, so send the whole record with our changes.
    const current = await this.object({ path: '/api/user/get', params: { login }, write: false });
    let rights = num(current, 'rights');
    if (update.enabled !== undefined) rights = update.enabled ? rights | RIGHT_ENABLED : rights & ~RIGHT_ENABLED;
    if (update.tradingAllowed !== undefined) {
      rights = update.tradingAllowed ? rights & ~RIGHT_TRADE_DISABLED : rights | RIGHT_TRADE_DISABLED;
    }
    const body: Obj = {
      Group: update.group ?? str(current, 'group'),
      Name: update.name ?? str(current, 'name'),
      Email: update.email ?? str(current, 'email'),
      Comment: update.comment ?? str(current, 'comment'),
      Leverage: String(update.leverage ?? num(current, 'leverage')),
      Agent: String(update.agentLogin === undefined ? num(current, 'agent') : (update.agentLogin ?? 0)),
      Rights: String(rights),
    };
    const user = await this.object({ path: '/api/user/update', params: { login }, body, write: true });
    this.loginGroup.delete(login);
    return this.toAccount(user, null);
  }

  async setPassword(login: number, kind: PasswordKind, password: string): Promise<void> {
    await this.call({ path: '/api/user/change_password', params: { login, type: kind, password }, write: true });
  }

  // --- money ------------------------------------------------------------------------------------------------------

  async postBalanceOperation(op: BalanceOperationRequest): Promise<BalanceOperationResult> {
    // The account's group is read now, not from a cache: the digits that turn minor units into the amount sent must
    // be those of the group the account is in at this moment (a dealer may have moved it, e.g. from USD to JPY).
    this.loginGroup.delete(op.login);
    const group = await this.groupOfLogin(op.login);
    if (op.currency && op.currency !== group.currency) {
      throw new DefinitiveError(
        `${this.server}: account ${op.login} is in ${group.currency} (group ${group.name}), the operation is in ${op.currency}: nothing was sent`,
        {
          server: this.server,
          platform: 'mt5',
          code: null,
          serverText: 'currency mismatch',
          request: { method: 'GET', path: '/api/trade/balance' },
        },
        'currency_mismatch',
      );
    }
    const comment = buildComment(op.reference, op.note);
    const answer = await this.object({
      path: '/api/trade/balance',
      params: {
        login: op.login,
        type: balanceTypes[op.kind],
        balance: fromMinorUnits(op.amount, group.currencyDigits),
        comment,
        check_margin: op.amount < 0 ? 1 : 0,
      },
      write: true,
    });
    const ticket = str(answer, 'ticket') || null;
    return { ticket, record: null };
  }

  async findBalanceOperation(login: number, reference: string, since: Date): Promise<BalanceRecord | null> {
    // Allow a day either side: the server's clock may be skewed and its zone may be misconfigured.
    const from = new Date(since.getTime() - 86_400_000);
    const to = new Date(Date.now() + 86_400_000);
    for await (const record of this.dealsOf(login, from, to)) {
      if (record.type === 'balance' && record.reference === reference) return record;
    }
    return null;
  }

  // --- history ----------------------------------------------------------------------------------------------------

  private toRecord(deal: Obj, digits: number): HistoryRecord | null {
    const action = num(deal, 'action');
    const anomalies: string[] = [];
    const timeMsc = num(deal, 'timemsc');
    const time = serverSecondsToUtc(timeMsc > 0 ? timeMsc / 1000 : num(deal, 'time'), this.config.timeZone);
    const comment = str(deal, 'comment');
    const balanceKind = balanceActions[action];
    if (balanceKind) {
      return {
        type: 'balance',
        ticket: str(deal, 'deal'),
        login: num(deal, 'login'),
        kind: balanceKind,
        amount: readAmount(str(deal, 'profit') || '0', digits, 'amount', anomalies),
        comment,
        reference: parseReference(comment)?.reference ?? null,
        time,
        anomalies,
      };
    }
    if (action !== 0 && action !== 1) return null;
    const volumeExt = num(deal, 'volumeext');
    return {
      type: 'deal',
      ticket: str(deal, 'deal'),
      login: num(deal, 'login'),
      order: str(deal, 'order') || null,
      positionId: str(deal, 'positionid') || null,
      symbol: str(deal, 'symbol'),
      side: action === 0 ? 'buy' : 'sell',
      entry: entries[num(deal, 'entry')] ?? 'in',
      volumeLots: volumeExt > 0 ? volumeExt / 1e8 : num(deal, 'volume') / 1e4,
      price: num(deal, 'price'),
      profit: readAmount(str(deal, 'profit') || '0', digits, 'profit', anomalies),
      commission: readAmount(str(deal, 'commission') || '0', digits, 'commission', anomalies),
      swap: readAmount(str(deal, 'storage') || '0', digits, 'swap', anomalies),
      time,
      comment,
      anomalies,
    };
  }

  /**
   * The pages of a windowed list (`/api/deal/…`, `/api/history/…`) of one account. `counted`: ask `get_total` first
   * (one round trip more, and the count bounds the walk); otherwise pages are read until one comes back short, which
   * for most accounts (under 100 records in a window) is a single request: what a walk over every account does.
   */
  private async *pagesOf(
    base: '/api/deal' | '/api/history',
    login: number,
    from: Date,
    to: Date,
    counted: boolean,
  ): AsyncGenerator<Obj[]> {
    const window = {
      login,
      from: utcToServerSeconds(from, this.config.timeZone),
      to: utcToServerSeconds(to, this.config.timeZone),
    };
    const total = counted
      ? num(await this.object({ path: `${base}/get_total`, params: window, write: false }), 'total')
      : Number.POSITIVE_INFINITY;
    for (let offset = 0; offset < total; offset += PAGE) {
      const page = await this.list({
        path: `${base}/get_page`,
        params: { ...window, offset, total: PAGE },
        write: false,
      });
      yield page;
      if (page.length === 0 || (!counted && page.length < PAGE)) break;
    }
  }

  private async *dealsOf(login: number, from: Date, to: Date): AsyncGenerator<HistoryRecord> {
    for await (const page of this.dealPagesOf(login, from, to)) yield* page;
  }

  private async *dealPagesOf(login: number, from: Date, to: Date): AsyncGenerator<HistoryRecord[]> {
    const digits = (await this.groupOfLogin(login)).currencyDigits;
    for await (const page of this.pagesOf('/api/deal', login, from, to, true)) {
      const records: HistoryRecord[] = [];
      for (const deal of page) {
        const record = this.toRecord(deal, digits);
        if (record) records.push(record);
      }
      if (records.length > 0) yield records;
    }
  }

  /** An IMTOrder (open or history) as a TradeOrder; unknown type or state values are kept as anomalies. */
  private toOrder(o: Obj): TradeOrder {
    const anomalies: string[] = [];
    const typeValue = num(o, 'type');
    const stateValue = num(o, 'state');
    const orderType = orderTypes[typeValue];
    if (!orderType) anomalies.push(`order type ${typeValue} is unknown; stored as buy`);
    const state = orderStates[stateValue];
    if (!state) anomalies.push(`order state ${stateValue} is unknown; stored as started`);
    const type = orderType ?? 'buy';
    const lots = (ext: string, plain: string) => {
      const v = num(o, ext);
      return v > 0 ? v / 1e8 : num(o, plain) / 1e4;
    };
    const time = (msc: string, seconds: string): Date | null => {
      const m = num(o, msc);
      const s = m > 0 ? m / 1000 : num(o, seconds);
      return s > 0 ? serverSecondsToUtc(s, this.config.timeZone) : null;
    };
    const open =
      state === undefined ||
      state === 'started' ||
      state === 'placed' ||
      state === 'partial' ||
      state.startsWith('request_');
    const setup = time('timesetupmsc', 'timesetup');
    return {
      type: 'order',
      ticket: str(o, 'order'),
      login: num(o, 'login'),
      symbol: str(o, 'symbol'),
      orderType: type,
      // close_by closes a position by an opposite one: it has no side of its own (buy is stored).
      side: type === 'sell' || type.startsWith('sell_') ? 'sell' : 'buy',
      state: state ?? 'started',
      volumeLots: lots('volumeinitialext', 'volumeinitial'),
      volumeRemainingLots: lots('volumecurrentext', 'volumecurrent'),
      price: num(o, 'priceorder'),
      triggerPrice: num(o, 'pricetrigger'),
      stopLoss: num(o, 'pricesl'),
      takeProfit: num(o, 'pricetp'),
      setupTime: setup ?? new Date(0),
      doneTime: open ? null : time('timedonemsc', 'timedone'),
      expiration: time('', 'timeexpiration'),
      positionId: str(o, 'positionid') && str(o, 'positionid') !== '0' ? str(o, 'positionid') : null,
      comment: str(o, 'comment'),
      anomalies,
    };
  }

  /** One account's history orders (filled, canceled, expired, rejected) in a window, page by page. */
  private async *historyOrderPagesOf(
    login: number,
    from: Date,
    to: Date,
    counted: boolean,
  ): AsyncGenerator<TradeOrder[]> {
    for await (const page of this.pagesOf('/api/history', login, from, to, counted)) {
      if (page.length > 0) yield page.map((o) => this.toOrder(o));
    }
  }

  /**
   * Deals, then (when asked) history orders of one account (with `orders: 'only'`, history orders alone). Deals always ask their total first (what a listing that
   * fails is known by, e.g. in reconciliation's tests); orders, in a walk over every account (`counted` false), do
   * not: for most accounts that is one request instead of two.
   */
  private async *accountHistoryPages(
    login: number,
    query: HistoryQuery,
    counted: boolean,
  ): AsyncGenerator<HistoryRecord[]> {
    if (query.orders !== 'only') yield* this.dealPagesOf(login, query.from, query.to);
    if (query.orders) yield* this.historyOrderPagesOf(login, query.from, query.to, counted);
  }

  async listOpenOrders(login?: number): Promise<TradeOrder[]> {
    const logins = login === undefined ? await this.allLogins() : [login];
    const orders: TradeOrder[] = [];
    // A few accounts at a time: most have no open order, so each costs one round trip.
    await forEachLimited(logins, this.sessions.length * LISTINGS_PER_SESSION, async (l) => {
      const total = num(
        await this.object({ path: '/api/order/get_total', params: { login: l }, write: false }),
        'total',
      );
      for (let offset = 0; offset < total; offset += PAGE) {
        const page = await this.list({
          path: '/api/order/get_page',
          params: { login: l, offset, total: PAGE },
          write: false,
        });
        for (const o of page) orders.push(this.toOrder(o));
        if (page.length === 0) break;
      }
    });
    return orders.sort((a, b) => Number(a.ticket) - Number(b.ticket));
  }

  async getOrders(tickets: string[]): Promise<TradeOrder[]> {
    const wanted = tickets.filter((t) => /^\d+$/.test(t));
    const orders: TradeOrder[] = [];
    for (let i = 0; i < wanted.length; i += PAGE) {
      const page = await this.list({
        path: '/api/history/get_batch',
        params: { ticket: wanted.slice(i, i + PAGE).join(',') },
        write: false,
      });
      for (const o of page) orders.push(this.toOrder(o));
    }
    return orders;
  }

  async listLogins(): Promise<number[]> {
    return (await this.allLogins()).sort((a, b) => a - b);
  }

  private async allLogins(): Promise<number[]> {
    const logins = await this.call({ path: '/api/user/logins', params: { group: '*' }, write: false });
    return Array.isArray(logins.answer) ? (logins.answer as unknown[]).map(Number).filter(Number.isFinite) : [];
  }

  /**
   * Every deal and balance record in the window (and, with `orders`, every history order after each account's
   * deals). Without a login, the server's accounts are listed several at a time (two per session, so each connection
   * has the next request queued while a reply is read): one account's pages follow one another, the accounts'
   * records interleave; history orders are read without asking their total first (most accounts fit in one page).
   */
  async *listHistory(query: HistoryQuery): AsyncIterable<HistoryRecord> {
    for await (const page of this.listHistoryPages(query)) yield* page;
  }

  async *listHistoryPages(query: HistoryQuery): AsyncIterable<HistoryRecord[]> {
    if (query.login !== undefined) {
      yield* this.accountHistoryPages(query.login, query, true);
      return;
    }
    const logins = await this.allLogins();
    // At most about `PAGES_WAITING` pages (of up to 100 records) wait for the consumer.
    yield* mergeListings(
      logins,
      this.sessions.length * LISTINGS_PER_SESSION,
      (login) => this.accountHistoryPages(login, query, false),
      PAGES_WAITING,
    );
  }

  async listOpenPositions(login?: number): Promise<OpenPosition[]> {
    const logins = login === undefined ? await this.allLogins() : [login];
    const positions: OpenPosition[] = [];
    await forEachLimited(logins, this.sessions.length * LISTINGS_PER_SESSION, async (l) => {
      const digits = (await this.groupOfLogin(l)).currencyDigits;
      const total = num(
        await this.object({ path: '/api/position/get_total', params: { login: l }, write: false }),
        'total',
      );
      for (let offset = 0; offset < total; offset += PAGE) {
        const page = await this.list({
          path: '/api/position/get_page',
          params: { login: l, offset, total: PAGE },
          write: false,
        });
        for (const p of page) {
          const anomalies: string[] = [];
          const volumeExt = num(p, 'volumeext');
          positions.push({
            ticket: str(p, 'position'),
            login: num(p, 'login'),
            symbol: str(p, 'symbol'),
            side: num(p, 'action') === 0 ? 'buy' : 'sell',
            volumeLots: volumeExt > 0 ? volumeExt / 1e8 : num(p, 'volume') / 1e4,
            openPrice: num(p, 'priceopen'),
            currentPrice: num(p, 'pricecurrent'),
            openTime: serverSecondsToUtc(num(p, 'timecreate'), this.config.timeZone),
            profit: readAmount(str(p, 'profit') || '0', digits, 'profit', anomalies),
            swap: readAmount(str(p, 'storage') || '0', digits, 'swap', anomalies),
            commission: 0,
            anomalies,
          });
        }
        if (page.length === 0) break;
      }
    });
    return positions.sort((a, b) => Number(a.ticket) - Number(b.ticket));
  }

  // --- server -----------------------------------------------------------------------------------------------------

  async serverTime(): Promise<ServerClock> {
    const reply = await this.call({ path: '/api/time/server', write: false });
    // "Time": "<wall seconds> YYYY.MM.DD HH:MM:SS" (some builds send the bare string).
    const answer = reply.answer as Obj | string;
    const raw = typeof answer === 'object' && answer !== null ? answer.time : answer;
    const wallSeconds = Number(
      String(raw ?? '')
        .trim()
        .split(/\s+/)[0],
    );
    if (!Number.isFinite(wallSeconds) || wallSeconds <= 0) {
      throw this.malformed({ path: '/api/time/server', write: false }, 'a server time');
    }
    const now = serverSecondsToUtc(wallSeconds, this.config.timeZone);
    const observed = Math.round((wallSeconds * 1000 - Date.now()) / 60_000);
    return {
      now,
      zone: this.config.timeZone,
      offsetMinutes: zoneOffsetMinutes(now, this.config.timeZone),
      observedOffsetMinutes: observed,
    };
  }

  async ping(): Promise<number> {
    const started = performance.now();
    await this.call({ path: '/api/test/access', write: false });
    return performance.now() - started;
  }

  async close(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.close()));
  }
}

/** Runs `work` for every item, at most `limit` at once; the first failure is thrown once all have stopped. */
async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (failure === null && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw (failure as { error: unknown }).error;
}

export function createMt5Connector(config: ConnectorConfig, deps: ConnectorDeps = {}): Platform {
  return new Mt5Connector(config, deps);
}
