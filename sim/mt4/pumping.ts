/**
 * Pumping: the server pushes user and trade changes to subscribed managers as Server-Sent Events.
 *
 * Like MT4's pumping it is lossy by design. Streams are dropped every `dropIntervalMs`, on demand (control API), on a
 * restart and when a consumer falls too far behind; nothing is buffered for a dropped subscriber and nothing is ever
 * replayed. A connector re-subscribes, waits for `pumping_start`, then catches up by polling (UsersRequest,
 * TradesRequest, TradesUserHistory) — everything it may have missed happened before that event.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimClock } from '../common/clock.ts';
import type { PumpingEvent, PumpingEventType, TradeRecord, UserRecord } from './contract.ts';
import type { Session } from './session.ts';

/** A subscriber this far behind (bytes not yet flushed) is dropped, as MT4 drops a pumping client that cannot keep up. */
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;
/** SSE comment lines keep idle streams alive through proxies. */
const HEARTBEAT_MS = 15_000;

interface Stream {
  session: Session;
  res: ServerResponse;
}

export type PumpingChange =
  | {
      type: 'user_add' | 'user_update';
      group: string;
      /** Set when a group move changed it: a manager who saw the account before the move sees the move itself. */
      previousGroup?: string;
      user: UserRecord;
    }
  | { type: 'trade_add' | 'trade_update' | 'trade_close'; group: string; trade: TradeRecord };

export class PumpingHub {
  private readonly streams = new Set<Stream>();
  private seq = 0;
  private dropTimer: NodeJS.Timeout | undefined;
  private unsubscribeClock: (() => void) | undefined;
  private readonly heartbeat: NodeJS.Timeout;
  private delivered = 0;

  private nextDropAt = Number.POSITIVE_INFINITY;

  /**
   * Periodic drops follow the simulator's clock (real time plus the control API's offset): advancing the clock past
   * the interval drops the streams at once, so a test sees a drop without waiting hours or sleeping.
   */
  constructor(
    private readonly serverNow: () => number,
    private readonly clock: SimClock,
    private readonly dropIntervalMs: number,
  ) {
    if (dropIntervalMs > 0) {
      this.nextDropAt = clock.now() + dropIntervalMs;
      this.dropTimer = setInterval(() => this.dropIfDue(), Math.min(dropIntervalMs, 1000));
      this.dropTimer.unref();
      this.unsubscribeClock = clock.onChange(() => this.dropIfDue());
    }
    this.heartbeat = setInterval(() => {
      for (const s of this.streams) s.res.write(': keep-alive\n\n');
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Takes over the response: headers, the `pumping_start` event, then every change the manager may see. */
  subscribe(session: Session, req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const stream: Stream = { session, res };
    this.streams.add(stream);
    // The response's 'close' covers both ends: the client going away and the server dropping the stream.
    res.on('close', () => this.streams.delete(stream));
    req.socket.setNoDelay(true);
    res.write(`event: pumping_start\ndata: ${JSON.stringify({ time: this.serverNow() })}\n\n`);
  }

  publish(change: PumpingChange): void {
    this.seq += 1;
    const event: PumpingEvent =
      'user' in change
        ? { type: change.type, seq: this.seq, time: this.serverNow(), user: change.user }
        : { type: change.type, seq: this.seq, time: this.serverNow(), trade: change.trade };
    if (this.streams.size === 0) return;
    const frame = `event: ${change.type satisfies PumpingEventType}\ndata: ${JSON.stringify(event)}\n\n`;
    for (const stream of [...this.streams]) {
      const mask = stream.session.manager.mask;
      const previous = 'previousGroup' in change ? change.previousGroup : undefined;
      if (!mask.matches(change.group) && !(previous !== undefined && mask.matches(previous))) continue;
      if (stream.res.writableLength > MAX_BACKLOG_BYTES) {
        this.drop(stream);
        continue;
      }
      stream.res.write(frame);
      this.delivered += 1;
    }
  }

  /** Drops every stream now (the periodic drop, a restart, the control API). Returns how many were dropped. */
  dropAll(): number {
    const streams = [...this.streams];
    for (const s of streams) this.drop(s);
    return streams.length;
  }

  /** Drops the streams opened with one session (the session ended). */
  dropSession(token: string): number {
    const streams = [...this.streams].filter((s) => s.session.token === token);
    for (const s of streams) this.drop(s);
    return streams.length;
  }

  get subscribers(): number {
    return this.streams.size;
  }

  stats(): { subscribers: number; published: number; delivered: number } {
    return { subscribers: this.streams.size, published: this.seq, delivered: this.delivered };
  }

  close(): void {
    if (this.dropTimer) clearInterval(this.dropTimer);
    this.unsubscribeClock?.();
    clearInterval(this.heartbeat);
    this.dropAll();
  }

  private dropIfDue(): void {
    const now = this.clock.now();
    if (now < this.nextDropAt) return;
    this.nextDropAt = now + this.dropIntervalMs;
    this.dropAll();
  }

  /** Abrupt, like a lost pumping connection: no closing event, the socket just goes away. */
  private drop(stream: Stream): void {
    this.streams.delete(stream);
    stream.res.destroy();
  }
}
