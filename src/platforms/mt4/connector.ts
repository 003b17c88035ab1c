/**
 * The MT4 connector: the Platform interface over the MT4 Manager bridge contract (docs/mt4-bridge.openapi.yaml). It
 * holds one bridge session (re-logged in transparently), converts every value at the boundary (records.ts) and maps
 * every return code to the CRM's three error classes (retcodes.ts, session.ts). Nothing outside this folder knows the
 * wire format. Pumping (server-pushed changes) is pumping.ts; `subscribe` starts it with this connector's settings.
 */
import type { Logger } from '../../log.ts';
import type { ConnectorConfig, ConnectorDeps } from '../connector.ts';
import { AmbiguousError, DefinitiveError, isPlatformError, type RefusalReason } from '../errors.ts';
import { fromMinorUnits } from '../money.ts';
import { buildComment, COMMENT_MAX, parseReference } from '../reference.ts';
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
  TradeOrder,
  TradingAccount,
} from '../types.ts';
import { Mt4Groups } from './groups.ts';
import { Mt4PumpingClient, type PumpingListener, type PumpingOptions } from './pumping.ts';
import {
  CMD,
  cutToBytes,
  isMarketTrade,
  isMoneyRecord,
  isPendingOrder,
  num,
  type Obj,
  str,
  toAccount,
  toBalanceRecord,
  toHistoryRecord,
  toOpenPosition,
  toOrder,
} from './records.ts';
import { RET } from './retcodes.ts';
import { type Mt4Request, Mt4Session } from './session.ts';

/** TradeTransaction type TT_BR_BALANCE: a balance (cmd 6) or credit (cmd 7) operation. */
export const TT_BR_BALANCE = 83;
/** The bridge refuses |amount| above this (ret 3); refused here first, with the precise reason. */
export const MAX_BALANCE_AMOUNT = 1e9;
const DAY_MS = 86_400_000;
const YEAR_MS = 365 * DAY_MS;

/**
 * The contract's password rules (UserPasswordSet): 6–15 printable ASCII characters without spaces, with a letter and
 * a digit. Checked before sending so that the refusal carries its reason (the bridge answers a bare ret 3).
 */
export function passwordProblem(password: string): string | undefined {
  if (password.length < 6) return 'at least 6 characters';
  if (password.length > 15) return 'at most 15 characters (MT4 keeps 15)';
  if (!/^[\x21-\x7e]+$/.test(password)) return 'printable ASCII characters only, without spaces';
  if (!/[A-Za-z]/.test(password)) return 'at least one letter';
  if (!/[0-9]/.test(password)) return 'at least one digit';
  return undefined;
}

export class Mt4Connector implements Platform {
  readonly kind = 'mt4' as const;
  private readonly session: Mt4Session;
  private readonly groups: Mt4Groups;
  private readonly logger: Logger | undefined;
  private readonly pumps = new Set<Mt4PumpingClient>();

  constructor(
    private readonly config: ConnectorConfig,
    deps: ConnectorDeps = {},
  ) {
    this.logger = deps.logger;
    // One session may carry concurrent calls (the contract); `sessions` sets how many connections carry them.
    this.session = new Mt4Session(config, deps.logger, Math.max(1, config.sessions ?? 4));
    this.groups = new Mt4Groups(this.session);
  }

  get server(): string {
    return this.config.code;
  }

  private get zone(): string {
    return this.config.timeZone;
  }

  private async call(request: Mt4Request): Promise<Obj> {
    return (await this.session.call(request)).data;
  }

  /** A field of a reply that must be an object; a write's reply without it is ambiguous (the call did succeed). */
  private field(request: Mt4Request, data: Obj, key: string): Obj {
    const value = data[key];
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Obj;
    throw this.malformed(request, `an object "${key}"`);
  }

  private list(request: Mt4Request, data: Obj, key: string): Obj[] {
    const value = data[key];
    if (Array.isArray(value)) return value as Obj[];
    throw this.malformed(request, `a list "${key}"`);
  }

  private malformed(request: Mt4Request, expected: string): DefinitiveError | AmbiguousError {
    const message = `${this.server} /v1/${request.call}: the reply has no ${expected}`;
    const details = {
      server: this.server,
      platform: 'mt4' as const,
      code: RET.OK,
      serverText: 'malformed reply',
      request: { method: 'POST', path: `/v1/${request.call}` },
    };
    // The bridge said OK to a write: it happened, whatever the reply looks like. Let the caller verify.
    if (request.write) return new AmbiguousError(message, details);
    return new DefinitiveError(message, details, 'other');
  }

  /** A refusal decided here, before anything is sent. */
  private refuse(call: string, reason: RefusalReason, text: string): DefinitiveError {
    return new DefinitiveError(
      `${this.server} /v1/${call}: ${text}`,
      {
        server: this.server,
        platform: 'mt4',
        code: null,
        serverText: text,
        request: { method: 'POST', path: `/v1/${call}` },
      },
      reason,
    );
  }

  private async user(login: number): Promise<Obj> {
    const request: Mt4Request = { call: 'UserRecordGet', body: { login }, write: false };
    return this.field(request, await this.call(request), 'user');
  }

  private async accountAndGroup(login: number): Promise<{ user: Obj; group: GroupInfo }> {
    const user = await this.user(login);
    return { user, group: await this.groups.get(str(user, 'group')) };
  }

  // --- groups -----------------------------------------------------------------------------------------------------

  getGroup(name: string): Promise<GroupInfo> {
    return this.groups.get(name);
  }

  listGroups(): Promise<GroupInfo[]> {
    return this.groups.list();
  }

  // --- accounts ---------------------------------------------------------------------------------------------------

  async openAccount(account: NewAccount): Promise<TradingAccount> {
    // An unknown group fails here, by name, before anything is sent (the bridge would answer a bare ret 3).
    const group = await this.groups.get(account.group);
    for (const [kind, password] of [
      ['main', account.mainPassword],
      ['investor', account.investorPassword],
    ] as const) {
      const problem = passwordProblem(password);
      if (problem) throw this.refuse('UserRecordNew', 'weak_password', `the ${kind} password needs ${problem}`);
    }
    const request: Mt4Request = {
      call: 'UserRecordNew',
      body: {
        // 0 = the server allocates the login.
        login: account.login ?? 0,
        group: account.group,
        name: account.name,
        email: account.email ?? '',
        country: account.country ?? '',
        // The comment carries the operation's reference (first, so the cut at 63 bytes cannot remove it).
        comment: account.comment ?? '',
        leverage: account.leverage,
        enable: account.enabled === false ? 0 : 1,
        enable_read_only: account.tradingAllowed === false ? 1 : 0,
        agent_account: account.agentLogin ?? 0,
        password: account.mainPassword,
        password_investor: account.investorPassword,
      },
      write: true,
      // ret 2 to a requested login: that login exists already.
      reasonFor: (ret) => (ret === RET.ERROR && account.login ? 'already_exists' : undefined),
    };
    const user = this.field(request, await this.call(request), 'user');
    return toAccount(user, null, group, this.zone);
  }

  async findAccountByReference(group: string, reference: string): Promise<TradingAccount | null> {
    const info = await this.groups.get(group);
    const request: Mt4Request = { call: 'AdmUsersRequest', body: { group }, write: false };
    const users = this.list(request, await this.call(request), 'users');
    // Newest first: an opening being verified is almost always among the last accounts created.
    const match = users
      .filter((u) => str(u, 'group') === group)
      .sort((a, b) => num(b, 'login') - num(a, 'login'))
      .find((u) => parseReference(str(u, 'comment'))?.reference === reference);
    return match ? toAccount(match, null, info, this.zone) : null;
  }

  async getAccount(login: number): Promise<TradingAccount> {
    const marginRequest: Mt4Request = { call: 'MarginLevelRequest', body: { login }, write: false };
    const [{ user, group }, marginData] = await Promise.all([this.accountAndGroup(login), this.call(marginRequest)]);
    return toAccount(user, this.field(marginRequest, marginData, 'margin'), group, this.zone);
  }

  async updateAccount(login: number, update: AccountUpdate): Promise<TradingAccount> {
    // A move to an unknown group fails here, by name, before anything is sent.
    if (update.group !== undefined) await this.groups.get(update.group);
    // Only the fields to change are sent: the bridge does the read-modify-write in one step on the server, so a
    // dealer's concurrent change to another field survives (a client-side read-modify-write would overwrite it).
    const body: Obj = { login };
    if (update.group !== undefined) body.group = update.group;
    if (update.leverage !== undefined) body.leverage = update.leverage;
    if (update.enabled !== undefined) body.enable = update.enabled ? 1 : 0;
    if (update.tradingAllowed !== undefined) body.enable_read_only = update.tradingAllowed ? 0 : 1;
    if (update.agentLogin !== undefined) body.agent_account = update.agentLogin ?? 0;
    if (update.name !== undefined) body.name = update.name;
    if (update.email !== undefined) body.email = update.email;
    if (update.comment !== undefined) body.comment = update.comment;
    // Setting values is idempotent: safe to send again after a dropped session. ret 1 (nothing changed) is success.
    const request: Mt4Request = { call: 'UserRecordUpdate', body, write: true, idempotent: true };
    const user = this.field(request, await this.call(request), 'user');
    return toAccount(user, null, await this.groups.get(str(user, 'group')), this.zone);
  }

  async setPassword(login: number, kind: PasswordKind, password: string): Promise<void> {
    const problem = passwordProblem(password);
    if (problem) throw this.refuse('UserPasswordSet', 'weak_password', `the ${kind} password needs ${problem}`);
    await this.call({
      call: 'UserPasswordSet',
      body: { login, password, investor: kind === 'investor' ? 1 : 0 },
      write: true,
      idempotent: true,
      // Should the bridge's rules be stricter than the contract's: ret 3 here is a password it does not accept.
      reasonFor: (ret) => (ret === RET.INVALID_DATA ? 'weak_password' : undefined),
    });
  }

  // --- money ------------------------------------------------------------------------------------------------------

  async postBalanceOperation(op: BalanceOperationRequest): Promise<BalanceOperationResult> {
    const call = 'TradeTransaction';
    if (!Number.isSafeInteger(op.amount) || op.amount === 0) {
      throw this.refuse(call, 'bad_data', `amount ${op.amount} is not a non-zero whole number of minor units`);
    }
    // The account's group is read now, not from a cache: the digits that turn minor units into the server's double
    // must be those of the group the account is in at this moment (a dealer may have moved it).
    const { group } = await this.accountAndGroup(op.login);
    if (op.currency && op.currency !== group.currency) {
      throw this.refuse(
        call,
        'currency_mismatch',
        `account ${op.login} is in ${group.currency} (group ${group.name}), the operation is in ${op.currency}`,
      );
    }
    const amount = fromMinorUnits(op.amount, group.currencyDigits);
    // A decimal string with at most 8 digits → the nearest double; the bridge rounds it back to exactly these digits.
    const price = Number(amount);
    if (Math.abs(price) > MAX_BALANCE_AMOUNT) {
      throw this.refuse(call, 'amount_too_large', `|${amount}| ${group.currency} exceeds ${MAX_BALANCE_AMOUNT}`);
    }
    const body: Obj = {
      type: TT_BR_BALANCE,
      cmd: op.kind === 'credit' ? CMD.CREDIT : CMD.BALANCE,
      orderby: op.login,
      price,
      // MT4 cuts at 31 bytes, not characters: cut here so the server keeps exactly what was sent.
      comment: cutToBytes(buildComment(op.reference, op.note), COMMENT_MAX),
    };
    if (op.kind === 'credit') {
      // MT4 refuses a credit without a future expiration (ret 3), credit out included.
      const expiresAt = op.creditExpiresAt ?? new Date(Date.now() + YEAR_MS);
      body.expiration = utcToServerSeconds(expiresAt, this.zone);
    }
    // Never repeated here: after an unknown outcome the caller looks the reference up first.
    const data = await this.call({ call, body, write: true });
    const order = data.order;
    // The DLL does not reliably return the ticket; when absent the record is found by its reference.
    return { ticket: typeof order === 'number' && order > 0 ? String(order) : null, record: null };
  }

  async findBalanceOperation(login: number, reference: string, since: Date): Promise<BalanceRecord | null> {
    // Allow a day either side: the server's clock may be skewed and its zone may be misconfigured.
    const from = new Date(since.getTime() - DAY_MS);
    const to = new Date(Date.now() + DAY_MS);
    const { group } = await this.accountAndGroup(login);
    const matches = (await this.history(login, from, to))
      .filter(isMoneyRecord)
      .map((t) => toBalanceRecord(t, group.currencyDigits, this.zone))
      .filter((r) => r.reference === reference);
    const [first, ...others] = matches;
    if (!first) return null;
    // The same reference twice means an operation was applied twice: the caller must see it, not just one of them.
    if (others.length > 0) {
      first.anomalies.push(
        `reference ${reference} appears ${matches.length} times (tickets ${matches.map((r) => r.ticket).join(', ')})`,
      );
    }
    return first;
  }

  // --- history ----------------------------------------------------------------------------------------------------

  /** TradesUserHistory: records whose close_time lies in [from, to], both ends in server wall-clock seconds. */
  private async history(login: number, from: Date, to: Date): Promise<Obj[]> {
    const request: Mt4Request = {
      call: 'TradesUserHistory',
      body: { login, from: utcToServerSeconds(from, this.zone), to: utcToServerSeconds(to, this.zone) },
      write: false,
    };
    return this.list(request, await this.call(request), 'trades');
  }

  /** Every account the manager may see (UsersRequest: the manager's group masks apply). */
  private async allUsers(): Promise<Obj[]> {
    const request: Mt4Request = { call: 'UsersRequest', write: false };
    return this.list(request, await this.call(request), 'users');
  }

  async *listHistory(query: HistoryQuery): AsyncIterable<HistoryRecord> {
    for await (const page of this.listHistoryPages(query)) yield* page;
  }

  /** One account's records at a time (TradesUserHistory answers an account's window in one reply). */
  async *listHistoryPages(query: HistoryQuery): AsyncIterable<HistoryRecord[]> {
    if (query.login !== undefined) {
      const { group } = await this.accountAndGroup(query.login);
      const records = await this.recordsOf(query.login, group, query.from, query.to, query.orders);
      if (records.length > 0) yield records;
      return;
    }
    for (const user of await this.allUsers()) {
      const login = num(user, 'login');
      let records: HistoryRecord[];
      try {
        records = await this.recordsOf(
          login,
          await this.groups.get(str(user, 'group')),
          query.from,
          query.to,
          query.orders,
        );
      } catch (err) {
        // Moved out of the manager's groups (7) or deleted (65) since the list was read: no longer this server's
        // business. Said in the log, because a sync that skips accounts quietly would hide a misconfiguration.
        if (isPlatformError(err) && (err.code === RET.NOT_ENOUGH_RIGHTS || err.code === RET.BAD_ACCOUNT_INFO)) {
          this.logger?.warn({ server: this.server, login, code: err.code }, 'mt4 history skipped an account');
          continue;
        }
        throw err;
      }
      if (records.length > 0) yield records;
    }
  }

  private async recordsOf(
    login: number,
    group: GroupInfo,
    from: Date,
    to: Date,
    orders: HistoryQuery['orders'] = false,
  ): Promise<HistoryRecord[]> {
    const records: HistoryRecord[] = [];
    // TradesUserHistory answers every kind at once: an orders-only listing keeps the deleted pending orders.
    const only = orders === 'only';
    for (const trade of await this.history(login, from, to)) {
      if (only && !isPendingOrder(trade)) continue;
      const record = toHistoryRecord(trade, group.currencyDigits, this.zone, orders !== false);
      if (record) records.push(record);
    }
    return records;
  }

  async listOpenPositions(login?: number): Promise<OpenPosition[]> {
    const request: Mt4Request = { call: 'TradesRequest', body: login === undefined ? {} : { login }, write: false };
    // Pending orders (cmd 2–5) hold no position.
    const trades = this.list(request, await this.call(request), 'trades').filter(isMarketTrade);
    if (trades.length === 0) return [];
    const groupOf = new Map<number, string>();
    if (login !== undefined) groupOf.set(login, str(await this.user(login), 'group'));
    else for (const u of await this.allUsers()) groupOf.set(num(u, 'login'), str(u, 'group'));
    const positions: OpenPosition[] = [];
    for (const trade of trades) {
      const owner = num(trade, 'login');
      // An account opened after the user list was read.
      if (!groupOf.has(owner)) groupOf.set(owner, str(await this.user(owner), 'group'));
      const group = await this.groups.get(groupOf.get(owner)!);
      positions.push(toOpenPosition(trade, group.currencyDigits, this.zone));
    }
    return positions;
  }

  /** Pending orders (cmd 2–5) among the open trade records (TradesRequest). */
  async listOpenOrders(login?: number): Promise<TradeOrder[]> {
    const request: Mt4Request = { call: 'TradesRequest', body: login === undefined ? {} : { login }, write: false };
    return this.list(request, await this.call(request), 'trades')
      .filter(isPendingOrder)
      .map((trade) => toOrder(trade, this.zone));
  }

  /**
   * MT4 needs no lookup by ticket: a deleted pending order is a history record dated by its close (deletion) time, so
   * the history window that covers the deletion lists it; a triggered one is the market trade of the same ticket.
   */
  async getOrders(_tickets: string[]): Promise<TradeOrder[]> {
    return [];
  }

  async listLogins(): Promise<number[]> {
    return (await this.allUsers()).map((u) => num(u, 'login')).sort((a, b) => a - b);
  }

  // --- server -----------------------------------------------------------------------------------------------------

  async serverTime(): Promise<ServerClock> {
    const request: Mt4Request = { call: 'ServerTime', write: false };
    const wallSeconds = (await this.call(request)).time;
    if (typeof wallSeconds !== 'number' || !Number.isFinite(wallSeconds) || wallSeconds <= 0) {
      throw this.malformed(request, 'server time');
    }
    const now = serverSecondsToUtc(wallSeconds, this.zone);
    return {
      now,
      zone: this.zone,
      offsetMinutes: zoneOffsetMinutes(now, this.zone),
      // What the server's wall clock implies: differs from offsetMinutes when the configured zone is wrong.
      observedOffsetMinutes: Math.round((wallSeconds * 1000 - Date.now()) / 60_000),
    };
  }

  async ping(): Promise<number> {
    const started = performance.now();
    await this.call({ call: 'Ping', write: false });
    return performance.now() - started;
  }

  /**
   * Starts a pumping client with this connector's settings: its own bridge session (a stream ends with its session),
   * this connector's group cache for normalising. It re-subscribes by itself until `stop()` or `close()`.
   */
  subscribe(listener: PumpingListener, options: PumpingOptions = {}): Mt4PumpingClient {
    const pump = new Mt4PumpingClient(this.config, listener, {
      ...options,
      groups: (name) => this.groups.get(name),
      logger: options.logger ?? this.logger,
      onStop: () => this.pumps.delete(pump),
    });
    this.pumps.add(pump);
    pump.start();
    return pump;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pumps].map((p) => p.stop()));
    await this.session.close();
  }
}

export function createMt4Connector(config: ConnectorConfig, deps: ConnectorDeps = {}): Platform {
  return new Mt4Connector(config, deps);
}
