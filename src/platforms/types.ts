/**
 * The one interface the CRM uses to talk to any trading server, MT4 or MT5, live or demo.
 *
 * Everything here is already normalised: money in integer minor units of the account's currency, volumes in lots,
 * instants in UTC. Nothing outside a connector knows a wire format, a return code or a server's time zone.
 */
export type PlatformKind = 'mt4' | 'mt5';
export type Environment = 'live' | 'demo';

export interface NewAccount {
  /** Ask for a specific login; absent = the server allocates one. */
  login?: number;
  group: string;
  name: string;
  email?: string;
  country?: string;
  comment?: string;
  leverage: number;
  /** Default true. A disabled account cannot even log in. */
  enabled?: boolean;
  /** Default true. False = the client can log in and see, but not trade. */
  tradingAllowed?: boolean;
  /** The introducing broker's login on this server. */
  agentLogin?: number | null;
  mainPassword: string;
  investorPassword: string;
}

export interface TradingAccount {
  login: number;
  group: string;
  name: string;
  email: string;
  country: string;
  comment: string;
  leverage: number;
  enabled: boolean;
  tradingAllowed: boolean;
  agentLogin: number | null;
  currency: string;
  /** Digits of the account currency: amounts below are in 10^-digits units. */
  currencyDigits: number;
  balance: number;
  credit: number;
  equity: number;
  margin: number;
  freeMargin: number;
  /** Percent; null when no margin is used. */
  marginLevel: number | null;
  registeredAt: Date;
  /** Values the server sent that could not be represented exactly (reported, never hidden). */
  anomalies: string[];
}

export interface AccountUpdate {
  group?: string;
  leverage?: number;
  enabled?: boolean;
  tradingAllowed?: boolean;
  agentLogin?: number | null;
  name?: string;
  email?: string;
  comment?: string;
}

export type PasswordKind = 'main' | 'investor';

/** Money kinds a CRM posts. MT5 also knows charge/correction/bonus; these are read back as such. */
export type BalanceKind = 'balance' | 'credit';

export interface BalanceOperationRequest {
  login: number;
  kind: BalanceKind;
  /** Signed, in minor units of the account currency: negative = withdrawal / credit out. */
  amount: number;
  /**
   * The currency the CRM believes the account is in. When given and the account's group is in another currency
   * (a dealer moved it), the operation is refused before anything is sent.
   */
  currency?: string | undefined;
  /** The operation's reference (see reference.ts); written first in the server comment. */
  reference: string;
  /** Free text after the reference; cut to fit the 31-character comment. */
  note?: string;
  /** Credits on MT4 need a future expiry; default one year from now. */
  creditExpiresAt?: Date;
}

export interface BalanceRecord {
  ticket: string;
  login: number;
  kind: 'balance' | 'credit' | 'charge' | 'correction' | 'bonus';
  /** Signed minor units. */
  amount: number;
  comment: string;
  /** The Brokerdesk reference parsed from the comment, or null: a change the CRM did not make. */
  reference: string | null;
  time: Date;
  anomalies: string[];
}

export interface BalanceOperationResult {
  /** The server's ticket/deal id, when it was told (MT4 bridges may not say; then found by reference). */
  ticket: string | null;
  record: BalanceRecord | null;
}

export type TradeSide = 'buy' | 'sell';

/** A trade execution: an MT5 deal, or one leg (open/close) of an MT4 trade record. */
export interface TradeDeal {
  type: 'deal';
  ticket: string;
  login: number;
  order: string | null;
  positionId: string | null;
  symbol: string;
  side: TradeSide;
  /** in: opens; out: closes; inout: reversal (netting); out_by: closed by an opposite position (hedging). */
  entry: 'in' | 'out' | 'inout' | 'out_by';
  volumeLots: number;
  price: number;
  profit: number;
  commission: number;
  swap: number;
  time: Date;
  comment: string;
  anomalies: string[];
}

/** An MT4 closed trade record (MT4 keeps one record per trade, opened and closed). */
export interface ClosedTrade {
  type: 'closed_trade';
  ticket: string;
  login: number;
  symbol: string;
  side: TradeSide;
  volumeLots: number;
  openTime: Date;
  closeTime: Date;
  openPrice: number;
  closePrice: number;
  profit: number;
  commission: number;
  swap: number;
  comment: string;
  anomalies: string[];
}

/** MT5 IMTOrder::EnOrderType; MT4 cmd 0–5 map onto the first six. */
export type OrderType =
  | 'buy'
  | 'sell'
  | 'buy_limit'
  | 'sell_limit'
  | 'buy_stop'
  | 'sell_stop'
  | 'buy_stop_limit'
  | 'sell_stop_limit'
  | 'close_by';

/** MT5 IMTOrder::EnOrderState (MT4: an open pending order is `placed`, a deleted one `canceled`). */
export type OrderState =
  | 'started'
  | 'placed'
  | 'canceled'
  | 'partial'
  | 'filled'
  | 'rejected'
  | 'expired'
  | 'request_add'
  | 'request_modify'
  | 'request_cancel';

/**
 * An order: MT5 keeps orders apart from the deals they produce (an open order is pending or being filled; a history
 * order is filled, canceled, expired or rejected); MT4 has pending orders as trade records with cmd 2–5 (a deleted
 * one is a closed record of that cmd; a filled one becomes the market trade, same ticket).
 */
export interface TradeOrder {
  type: 'order';
  ticket: string;
  login: number;
  symbol: string;
  orderType: OrderType;
  side: TradeSide;
  state: OrderState;
  /** Lots as placed. */
  volumeLots: number;
  /** Lots still to fill (0 when filled; what was left when canceled). */
  volumeRemainingLots: number;
  /** The order's price (limit/stop level; the requested price of a market order). */
  price: number;
  /** Stop-limit orders: the price that places the limit order; else 0. */
  triggerPrice: number;
  stopLoss: number;
  takeProfit: number;
  setupTime: Date;
  /** When it was filled, canceled, expired or rejected; null while open. */
  doneTime: Date | null;
  expiration: Date | null;
  /** The position it opened or closed (MT5), null when none. */
  positionId: string | null;
  comment: string;
  anomalies: string[];
}

export type HistoryRecord = TradeDeal | ClosedTrade | ({ type: 'balance' } & BalanceRecord) | TradeOrder;

export interface OpenPosition {
  ticket: string;
  login: number;
  symbol: string;
  side: TradeSide;
  volumeLots: number;
  openPrice: number;
  currentPrice: number;
  openTime: Date;
  profit: number;
  swap: number;
  commission: number;
  anomalies: string[];
}

export interface GroupInfo {
  name: string;
  currency: string;
  currencyDigits: number;
  marginMode: 'netting' | 'hedging' | 'exchange';
  leverageMin: number | null;
  leverageMax: number | null;
}

export interface ServerClock {
  /** The server's wall clock, converted to a UTC instant with the configured zone. */
  now: Date;
  zone: string;
  /** The zone's offset from UTC at that moment, minutes. */
  offsetMinutes: number;
  /** The offset the server's own wall clock implies right now (to catch a misconfigured zone). */
  observedOffsetMinutes: number;
}

export interface HistoryQuery {
  /** One account, or every account the manager may see. */
  login?: number;
  from: Date;
  to: Date;
  /**
   * Finished orders (MT5 history orders, MT4 deleted pending orders): `true` lists them too, `'only'` lists them and
   * nothing else (the sync's orders pass). Default false: deals, closed trades and balance records only.
   */
  orders?: boolean | 'only';
}

export interface Platform {
  readonly kind: PlatformKind;
  /** The configured server's code (for logs, errors and the attempt log). */
  readonly server: string;

  /** Opens an account; its comment should start with the operation's reference (see reference.ts). */
  openAccount(account: NewAccount): Promise<TradingAccount>;
  /** Looks for an account in `group` whose comment carries `reference` (to verify an opening that timed out). */
  findAccountByReference(group: string, reference: string): Promise<TradingAccount | null>;
  getAccount(login: number): Promise<TradingAccount>;
  updateAccount(login: number, update: AccountUpdate): Promise<TradingAccount>;
  setPassword(login: number, kind: PasswordKind, password: string): Promise<void>;

  postBalanceOperation(op: BalanceOperationRequest): Promise<BalanceOperationResult>;
  /** Looks for a balance/credit record carrying `reference` on the account since `since`. */
  findBalanceOperation(login: number, reference: string, since: Date): Promise<BalanceRecord | null>;

  /** Closed trade activity and balance records in a window, page by page. */
  listHistory(query: HistoryQuery): AsyncIterable<HistoryRecord>;
  /**
   * The same records as `listHistory`, handed on a page at a time (what a server returned in one reply, or one
   * account's records): a bulk reader (the sync) pays the asynchronous hand-over once per page, not per record.
   */
  listHistoryPages(query: HistoryQuery): AsyncIterable<HistoryRecord[]>;
  listOpenPositions(login?: number): Promise<OpenPosition[]>;
  /** Open orders (MT5 pending or partly filled orders, MT4 pending orders cmd 2–5). */
  listOpenOrders(login?: number): Promise<TradeOrder[]>;
  /**
   * Finished orders by ticket, wherever their times lie (an order placed long before it was filled or canceled can
   * fall outside a history window); tickets the server does not have are left out.
   */
  getOrders(tickets: string[]): Promise<TradeOrder[]>;
  /** Every account login the manager may see (MT5 `/api/user/logins`, MT4 `UsersRequest`), ascending. */
  listLogins(): Promise<number[]>;

  listGroups(): Promise<GroupInfo[]>;
  getGroup(name: string): Promise<GroupInfo>;
  serverTime(): Promise<ServerClock>;
  /** A cheap round trip; resolves with the latency in milliseconds. */
  ping(): Promise<number>;
  close(): Promise<void>;
}
