/**
 * The MT4 pumping feed of trade sync: one stream per MT4 server, whose events are stored as they come (balance
 * records, closed trades, open positions, account changes). Pumping is lossy by design, so the feed keeps track of
 * what a drop may have lost: after every (re)subscription trade sync runs a catch-up poll from a little before the
 * last event received (or the start of the previous stream), and only after that poll succeeds is the server "live"
 * (its history counted complete up to now). Until then the ordinary polls run.
 */
import { readFileSync } from 'node:fs';
import { eq } from 'drizzle-orm';
import type { Database } from '../../db/connect.ts';
import { tradingServers } from '../../db/schema.ts';
import type { Logger } from '../../log.ts';
import type { ConnectorConfig } from '../../platforms/connector.ts';
import { Mt4PumpingClient, type PumpingEvent } from '../../platforms/mt4/pumping.ts';
import { resolveSecret } from '../../platforms/secrets.ts';

/** A pumping client as the feed uses it (tests may substitute one). */
export interface PumpingHandle {
  readonly subscribed: boolean;
  stop(): Promise<void>;
}

export type PumpingFactory = (
  config: ConnectorConfig,
  listener: (event: PumpingEvent) => Promise<void>,
  logger: Logger | undefined,
) => PumpingHandle;

export const defaultPumpingFactory: PumpingFactory = (config, listener, logger) => {
  const client = new Mt4PumpingClient(config, listener, { logger });
  client.start();
  return client;
};

/** The connector settings of a configured server (as the registry builds them), for a pumping session of its own. */
export async function serverConnectorConfig(
  database: Database,
  code: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ConnectorConfig> {
  const [row] = await database.db.select().from(tradingServers).where(eq(tradingServers.code, code));
  if (!row) throw new Error(`no trading server "${code}" is configured`);
  return {
    code: row.code,
    platform: row.platform,
    environment: row.environment,
    address: row.address,
    managerLogin: row.managerLogin,
    password: resolveSecret(row.passwordSecret, env),
    ca: row.caCertPath ? readFileSync(row.caCertPath, 'utf8') : undefined,
    timeZone: row.timeZone,
    connectTimeoutMs: row.connectTimeoutMs,
    requestTimeoutMs: row.requestTimeoutMs,
  };
}

/** What trade sync knows of one server's stream. */
export interface FeedState {
  server: string;
  /** A stream is open. */
  subscribed: boolean;
  /** The stream is open and the catch-up poll after its start has finished: history is complete up to now. */
  live: boolean;
  /** A catch-up poll is owed (since the last (re)subscription). */
  catchUpOwed: boolean;
  /** Where it must start; null = the ordinary rule (the cursor minus the overlap, or the initial look-back). */
  catchUpFrom: Date | null;
  /** Counts (re)subscriptions: a catch-up counts only for the stream it was started for. */
  generation: number;
  /** Server time the current (or last) stream started. */
  streamStartedAt: Date | null;
  /** Server time of the last change received. */
  lastEventAt: Date | null;
  drops: number;
  events: number;
}

export class Mt4Feed {
  readonly state: FeedState;
  private handle: PumpingHandle | null = null;

  constructor(
    readonly server: string,
    private readonly overlapMs: number,
  ) {
    this.state = {
      server,
      subscribed: false,
      live: false,
      catchUpOwed: false,
      catchUpFrom: null,
      generation: 0,
      streamStartedAt: null,
      lastEventAt: null,
      drops: 0,
      events: 0,
    };
  }

  attach(handle: PumpingHandle): void {
    this.handle = handle;
  }

  /**
   * Bookkeeping for stream events; returns true when a catch-up poll is now owed. After a drop the poll must reach
   * back before anything the gap may have swallowed: the last change received, or the start of the stream that
   * dropped (whichever is later: that stream delivered everything up to its last event), minus the overlap, and
   * never later than where the ordinary rule (the cursor minus the overlap) would start.
   */
  onStreamEvent(event: PumpingEvent): boolean {
    switch (event.type) {
      case 'subscribed':
      case 'resubscribed': {
        const previousStart = this.state.streamStartedAt;
        const lastEvent = event.type === 'resubscribed' ? event.lastEventAt : null;
        const candidates = [lastEvent, previousStart].filter((d): d is Date => d !== null);
        this.state.catchUpFrom =
          candidates.length > 0 ? new Date(Math.max(...candidates.map((d) => d.getTime())) - this.overlapMs) : null;
        this.state.subscribed = true;
        this.state.live = false;
        this.state.catchUpOwed = true;
        this.state.generation += 1;
        this.state.streamStartedAt = event.serverTime;
        if (event.type === 'resubscribed') this.state.drops = event.drops;
        return true;
      }
      case 'dropped':
        this.state.subscribed = false;
        this.state.live = false;
        return false;
      default:
        this.state.events += 1;
        if (this.state.lastEventAt === null || event.time > this.state.lastEventAt) this.state.lastEventAt = event.time;
        return false;
    }
  }

  /** The catch-up poll started for `generation` succeeded: if that stream is still up, the server is live. */
  caughtUp(generation: number): void {
    if (generation === this.state.generation && this.state.subscribed) {
      this.state.catchUpOwed = false;
      this.state.catchUpFrom = null;
      this.state.live = true;
    }
  }

  async stop(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    this.state.subscribed = false;
    this.state.live = false;
    await handle?.stop();
  }
}
