/**
 * MT4 pumping: the bridge pushes account and trade changes as server-sent events (GET /v1/Pumping). Like MT4's own
 * pumping it is lossy by design: streams are dropped every few hours, on restarts and when a consumer is slow, with
 * no closing event, and nothing is ever replayed.
 *
 * This client keeps a stream open for as long as it runs: on a drop it waits a little (doubling up to a ceiling),
 * logs in again if the session went with the stream, re-subscribes and emits `resubscribed` once the bridge has
 * started the new stream. Anything that happened while it was down must be caught up by polling (UsersRequest,
 * TradesUserHistory from shortly before `lastEventAt`): the contract guarantees that every change after the new
 * `pumping_start` is delivered. Events are normalised like the connector's reads (records.ts) and handed to the
 * listener one at a time, in order; an event that cannot be normalised or handled ends the stream, so that the gap
 * is announced by `resubscribed` instead of being lost quietly.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../../log.ts';
import type { ConnectorConfig } from '../connector.ts';
import { serverSecondsToUtc } from '../server-time.ts';
import type { BalanceRecord, ClosedTrade, GroupInfo, OpenPosition, TradeOrder, TradingAccount } from '../types.ts';
import { Mt4Groups } from './groups.ts';
import {
  isMarketTrade,
  isMoneyRecord,
  isPendingOrder,
  num,
  type Obj,
  str,
  toAccount,
  toBalanceRecord,
  toClosedTrade,
  toOpenPosition,
  toOrder,
} from './records.ts';
import { Mt4Session } from './session.ts';

/** An account as pumped: the UserRecord after the change. Live figures (equity, margin) are not part of it. */
export type AccountSnapshot = Omit<TradingAccount, 'equity' | 'margin' | 'freeMargin' | 'marginLevel'>;

interface Change {
  /** The bridge's sequence number, for diagnostics only: gaps are normal and it is not a resume position. */
  seq: number;
  /** When the server made the change. */
  time: Date;
}

export type PumpingEvent =
  /** The first stream has started: everything from here on is delivered. */
  | { type: 'subscribed'; serverTime: Date }
  /**
   * A new stream has started after a drop. Changes between the drop and `serverTime` were not delivered: catch up
   * by polling from a little before `lastEventAt` (null: no change was received before the drop). `drops` counts
   * the times the stream went down (failed attempts to re-open it included) since the client started.
   */
  | { type: 'resubscribed'; serverTime: Date; lastEventAt: Date | null; drops: number }
  /** The stream is down (dropped, refused, session lost…); a new subscription is tried after `retryInMs`. */
  | { type: 'dropped'; reason: string; error: Error | null; retryInMs: number }
  | ({ type: 'account'; change: 'added' | 'updated'; account: AccountSnapshot } & Change)
  /** A balance or credit operation (cmd 6/7); `record.reference` null = not made by the CRM (a dealer's). */
  | ({ type: 'balance'; change: 'added' | 'updated'; record: BalanceRecord } & Change)
  /** An open market trade; upsert by ticket (a triggered pending order arrives as an update). */
  | ({ type: 'position'; change: 'opened' | 'updated'; position: OpenPosition } & Change)
  /** A closed market trade; `updated` = a correction of a trade already closed. */
  | ({ type: 'closed_trade'; change: 'closed' | 'updated'; trade: ClosedTrade } & Change)
  /**
   * A pending order (cmd 2–5): placed or changed (open), or `finished` (deleted or expired: `order.doneTime` set).
   * One that triggers arrives as a `position` of the same ticket.
   */
  | ({ type: 'order'; change: 'placed' | 'updated' | 'finished'; order: TradeOrder } & Change);

/** Awaited before the next event is handed over; a throw ends the stream (and is reported as the drop's reason). */
export type PumpingListener = (event: PumpingEvent) => void | Promise<void>;

export interface PumpingOptions {
  /** First wait before re-subscribing after a drop, doubled after each failed attempt. Default 250 ms. */
  retryDelayMs?: number;
  /** Ceiling of the wait. Default 30 s. */
  maxRetryDelayMs?: number;
  /** A stream silent this long is presumed dead (the bridge sends a keep-alive comment every 15 s). Default 45 s. */
  silenceTimeoutMs?: number;
  /** Group configurations (for currency digits); default: looked up through this client's own session. */
  groups?: (name: string) => Promise<GroupInfo>;
  logger?: Logger;
  /** Called once the client has stopped (the connector forgets it). */
  onStop?: () => void;
}

/** A frame larger than this is not pumping: the stream is broken (and memory is not spent waiting for its end). */
const MAX_FRAME_CHARS = 8 * 1024 * 1024;

interface Frame {
  event: string;
  data: string;
}

export class Mt4PumpingClient {
  private readonly session: Mt4Session;
  private readonly groups: (name: string) => Promise<GroupInfo>;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly silenceTimeoutMs: number;
  /** login → group, learnt from user events (trade events carry no group); forgotten on every drop. */
  private readonly groupOfLogin = new Map<number, string>();
  private running = false;
  private loop: Promise<void> | null = null;
  private stream: IncomingMessage | null = null;
  private wake: (() => void) | null = null;
  private lastEventAt: Date | null = null;
  private drops = 0;

  constructor(
    private readonly config: ConnectorConfig,
    private readonly listener: PumpingListener,
    private readonly options: PumpingOptions = {},
  ) {
    // Its own session: a stream lives and dies with the session that opened it.
    this.session = new Mt4Session(config, options.logger, 1);
    const own = new Mt4Groups(this.session);
    this.groups = options.groups ?? ((name) => own.get(name));
    this.retryDelayMs = options.retryDelayMs ?? 250;
    this.maxRetryDelayMs = Math.max(this.retryDelayMs, options.maxRetryDelayMs ?? 30_000);
    this.silenceTimeoutMs = options.silenceTimeoutMs ?? 45_000;
  }

  get subscribed(): boolean {
    return this.stream !== null;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Ends the stream and the session; resolves once no event will be delivered any more. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stream?.destroy();
    this.wake?.();
    await this.loop;
    await this.session.close();
    this.options.onStop?.();
  }

  private async run(): Promise<void> {
    let delay = this.retryDelayMs;
    let started = false;
    while (this.running) {
      let reason: string;
      let error: Error | null = null;
      try {
        const res = await this.session.openStream();
        if (!this.running) {
          res.destroy();
          break;
        }
        const outcome = await this.consume(res, started);
        if (outcome.started) {
          started = true;
          delay = this.retryDelayMs;
        }
        reason = outcome.reason;
        error = outcome.error;
      } catch (err) {
        error = err as Error;
        reason = error.message;
      }
      if (!this.running) break;
      this.drops += 1;
      this.groupOfLogin.clear();
      this.options.logger?.warn({ server: this.config.code, reason, retryInMs: delay }, 'mt4 pumping dropped');
      await this.emit({ type: 'dropped', reason, error, retryInMs: delay }).catch(() => {});
      await this.sleep(delay);
      delay = Math.min(delay * 2, this.maxRetryDelayMs);
    }
  }

  /**
   * Reads one stream until it ends. Frames are handled strictly one after another; the stream's end is reported only
   * after every frame received before it has been handed over.
   */
  private consume(
    res: IncomingMessage,
    resubscribing: boolean,
  ): Promise<{ started: boolean; reason: string; error: Error | null }> {
    this.stream = res;
    let started = false;
    let broken: { reason: string; error: Error | null } | null = null;
    let chain: Promise<void> = Promise.resolve();
    let buffer = '';
    let silence: NodeJS.Timeout | undefined;

    const breakWith = (reason: string, error: Error | null) => {
      broken ??= { reason, error };
      res.destroy();
    };
    const watch = () => {
      clearTimeout(silence);
      silence = setTimeout(
        () => breakWith(`no data for ${this.silenceTimeoutMs} ms (stream presumed dead)`, null),
        this.silenceTimeoutMs,
      );
      silence.unref();
    };
    const handle = async (frame: Frame) => {
      if (broken || !this.running) return;
      try {
        if (frame.event === 'pumping_start') {
          const serverTime = this.time(JSON.parse(frame.data) as Obj, 'time');
          started = true;
          await this.emit(
            resubscribing
              ? { type: 'resubscribed', serverTime, lastEventAt: this.lastEventAt, drops: this.drops }
              : { type: 'subscribed', serverTime },
          );
        } else {
          await this.change(frame);
        }
      } catch (err) {
        breakWith(`pumping event "${frame.event}" could not be handled: ${(err as Error).message}`, err as Error);
      }
    };

    return new Promise((resolve) => {
      watch();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        watch();
        buffer += chunk.replace(/\r\n?/g, '\n');
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const frame = parseFrame(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (frame) chain = chain.then(() => handle(frame));
        }
        if (buffer.length > MAX_FRAME_CHARS) breakWith(`a frame exceeded ${MAX_FRAME_CHARS} characters`, null);
      });
      let ended = false;
      const end = (reason: string, error: Error | null) => {
        if (ended) return;
        ended = true;
        clearTimeout(silence);
        void chain.then(() => {
          if (this.stream === res) this.stream = null;
          resolve({ started, ...(broken ?? { reason, error }) });
        });
      };
      res.on('error', (err) => end(`stream failed: ${err.message}`, err));
      res.on('end', () => end('the bridge ended the stream', null));
      res.on('close', () => end('the stream was closed', null));
    });
  }

  private async change(frame: Frame): Promise<void> {
    const type = frame.event;
    const event = JSON.parse(frame.data) as Obj;
    const change = { seq: num(event, 'seq'), time: this.time(event, 'time') };
    if (type === 'user_add' || type === 'user_update') {
      const user = record(event, 'user');
      this.groupOfLogin.set(num(user, 'login'), str(user, 'group'));
      const group = await this.groups(str(user, 'group'));
      const {
        equity: _e,
        margin: _m,
        freeMargin: _f,
        marginLevel: _l,
        ...account
      } = toAccount(user, null, group, this.config.timeZone);
      await this.emit({ type: 'account', change: type === 'user_add' ? 'added' : 'updated', account, ...change });
    } else if (type === 'trade_add' || type === 'trade_update' || type === 'trade_close') {
      const trade = record(event, 'trade');
      if (isPendingOrder(trade)) {
        // Pending orders (cmd 2–5) move no money and hold no position: the CRM keeps them as orders.
        const order = toOrder(trade, this.config.timeZone);
        const kind = order.doneTime !== null ? 'finished' : type === 'trade_add' ? 'placed' : 'updated';
        await this.emit({ type: 'order', change: kind, order, ...change });
        this.lastEventAt = change.time;
        return;
      }
      if (!isMoneyRecord(trade) && !isMarketTrade(trade)) return;
      const digits = (await this.groupForLogin(num(trade, 'login'))).currencyDigits;
      const zone = this.config.timeZone;
      if (isMoneyRecord(trade)) {
        const balance = toBalanceRecord(trade, digits, zone);
        await this.emit({
          type: 'balance',
          change: type === 'trade_add' ? 'added' : 'updated',
          record: balance,
          ...change,
        });
      } else if (num(trade, 'close_time') === 0) {
        const position = toOpenPosition(trade, digits, zone);
        await this.emit({ type: 'position', change: type === 'trade_add' ? 'opened' : 'updated', position, ...change });
      } else {
        const closed = toClosedTrade(trade, digits, zone);
        await this.emit({
          type: 'closed_trade',
          change: type === 'trade_close' ? 'closed' : 'updated',
          trade: closed,
          ...change,
        });
      }
    } else {
      // A newer bridge may add event types; the contract says to ignore what is not known.
      this.options.logger?.debug({ server: this.config.code, event: type }, 'mt4 pumping event ignored');
      return;
    }
    this.lastEventAt = change.time;
  }

  private async groupForLogin(login: number): Promise<GroupInfo> {
    let name = this.groupOfLogin.get(login);
    if (name === undefined) {
      const { data } = await this.session.call({ call: 'UserRecordGet', body: { login }, write: false });
      name = str(record(data, 'user'), 'group');
      this.groupOfLogin.set(login, name);
    }
    return this.groups(name);
  }

  private time(o: Obj, key: string): Date {
    const seconds = o[key];
    if (typeof seconds !== 'number' || !Number.isFinite(seconds)) throw new Error(`"${key}" is not a server time`);
    return serverSecondsToUtc(seconds, this.config.timeZone);
  }

  private async emit(event: PumpingEvent): Promise<void> {
    await this.listener(event);
  }

  /** The wait before re-subscribing; `stop()` cuts it short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}

function record(event: Obj, key: string): Obj {
  const value = event[key];
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`the event carries no "${key}"`);
  return value as Obj;
}

/** One SSE frame (lines up to a blank line): `event:` names it, `data:` lines carry it; `:` lines are comments. */
function parseFrame(text: string): Frame | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length === 0 ? null : { event, data: data.join('\n') };
}
