/**
 * The trades module owns the CRM's copy of every server's trading history (`trade_records`, `trade_positions`) and
 * the sync that keeps it: an incremental poll per server with a cursor, MT4 pumping with catch-up, a resumable
 * backfill, position snapshots, the periodic account check that finds changes the CRM did not make, and the sync lag
 * (metric and alert). What a change the CRM did not make means is the external-changes module's business.
 *
 * ## The cursor
 * `trade_sync_cursors.synced_to` is the instant up to which a server's history is known to be complete: the start of
 * the last successful pass (every record the server held then was listed). The next pass lists from `synced_to`
 * minus the overlap (records the server writes late, or with a clock a little behind ours, are not missed; those seen
 * again change nothing) to a day ahead (a server clock ahead of ours). A pass that fails leaves the cursor where it
 * was, so the next one starts again from there: a server restart mid-sync loses nothing and doubles nothing, since
 * every write is an idempotent upsert by (server, record type, ticket). A lease on the cursor row lets one worker at a
 * time run a server's pass (a crashed worker's lease expires).
 *
 * ## Finished orders: a pass of their own
 * Finished orders (MT5 history orders, MT4 deleted pending orders) are about as many as deals but carry no money, so
 * they are a separate, lower-priority pass with its own cursor (`orders_synced_to`), overlap and lease on the same
 * row: the deals and balance pass (what reconciliation and external changes read, and what the lag alert watches)
 * never lists, stores or waits for them. The worker starts an orders pass after a server's deals pass, without
 * waiting for it; between pages it lets this process's deals passes finish first. Same idempotent upsert, same
 * correction audit; the orders lag is a metric of its own (`brokerdesk_sync_orders_lag_seconds`).
 *
 * ## MT4 pumping
 * With pumping, records are stored as the server pushes them. After each (re)subscription a catch-up pass runs from
 * before the gap; once it has succeeded the server is live and its cursor follows the clock (lag ~0). Ordinary polls
 * then run only every `catchUpIntervalMs`, as a safety net.
 */
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { type Clock, systemClock } from '../../clock.ts';
import type { Database, Executor } from '../../db/connect.ts';
import { tradeSyncCursors, tradingAccounts } from '../../db/schema.ts';
import type { Logger } from '../../log.ts';
import type { AlertPort, AuditPort } from '../../operations/ports.ts';
import { DefinitiveError } from '../../platforms/errors.ts';
import type { PumpingEvent } from '../../platforms/mt4/pumping.ts';
import type { Platform, PlatformKind } from '../../platforms/types.ts';
import type { ExternalChangeService, ServerAccountState } from '../external-changes/service.ts';
import { syncMetrics } from './metrics.ts';
import {
  defaultPumpingFactory,
  type FeedState,
  Mt4Feed,
  type PumpingFactory,
  serverConnectorConfig,
} from './pumping.ts';
import {
  type NormalisedRecord,
  normaliseOpenOrder,
  normalisePosition,
  normaliseRecord,
  type TradeRecordSource,
} from './records.ts';
import {
  type IngestResult,
  ingestRecords,
  removeOpenOrder,
  removePosition,
  replaceOpenOrders,
  replacePositions,
  upsertOpenOrders,
  upsertPositions,
} from './store.ts';

const MINUTE = 60_000;
/** Batches being written at once during a listing. */
const WRITES_IN_FLIGHT = 2;
const DAY = 24 * 60 * MINUTE;

/** Where platforms come from: the server registry (or anything that lists servers and hands out connectors). */
export interface SyncPlatforms {
  list(): Promise<{ code: string; platform: PlatformKind; enabled: boolean }[]>;
  platform(code: string): Promise<Platform>;
}

export interface TradeSyncOptions {
  database: Database;
  platforms: SyncPlatforms;
  audit: AuditPort;
  alerts: AlertPort;
  externalChanges: ExternalChangeService;
  clock?: Clock;
  logger?: Logger;
  /** Identifies this process in cursor leases. */
  workerId?: string;
  /** How often each server is polled. Default 15 s. */
  intervalMs?: number;
  /** How far before the cursor each pass starts reading. Default 10 min. */
  overlapMs?: number;
  /** A server's first pass reads this far back (older history is the backfill's). Default 1 day. */
  initialLookbackMs?: number;
  /** With live MT4 pumping, the safety-net poll runs this often. Default 5 min. */
  catchUpIntervalMs?: number;
  /** Open positions are re-listed this often. Default 60 s. */
  positionsIntervalMs?: number;
  /** Every CRM account is compared with the server this often. Default 10 min. */
  accountCheckIntervalMs?: number;
  /** Server calls in parallel during the account check. Default 8. */
  accountCheckConcurrency?: number;
  /** Alert when a server's history is older than this (env SYNC_LAG_ALERT_SECONDS). Default 300. */
  lagAlertSeconds?: number;
  /** Records per database transaction. Default 2000. */
  batchSize?: number;
  /** How long a pass owns a server's cursor. Default 10 min (renewed as batches are written). */
  leaseMs?: number;
  /** Subscribe to MT4 pumping in `start()`. Default true. */
  pumping?: boolean;
  /** Builds pumping clients (tests); default the MT4 pumping client. */
  pumpingFactory?: PumpingFactory;
  /** Where server secrets are resolved for pumping sessions (default process.env, as the registry). */
  env?: NodeJS.ProcessEnv;
  /** At most this many unknown logins are looked up on the server per pass. Default 200. */
  unknownAccountsPerPass?: number;
  /**
   * Sync finished orders (MT5 history orders, MT4 deleted pending orders) in their own pass. Default true. Open orders
   * are snapshotted with positions either way.
   */
  historyOrders?: boolean;
  /** How often each server's finished orders are listed (their own pass and cursor). Default 60 s. */
  ordersIntervalMs?: number;
  /** How far before the orders cursor each orders pass starts reading. Default: `overlapMs`. */
  ordersOverlapMs?: number;
}

/** The deals and balance pass (money), or the finished-orders pass. */
export type PassKind = 'deals' | 'orders';

/** Each pass's fields on the cursor row. */
const CURSOR_FIELDS = {
  deals: {
    syncedTo: 'syncedTo',
    leaseOwner: 'leaseOwner',
    leaseUntil: 'leaseUntil',
    lastPassStartedAt: 'lastPassStartedAt',
    lastSuccessAt: 'lastSuccessAt',
    lastError: 'lastError',
    lastErrorAt: 'lastErrorAt',
    consecutiveFailures: 'consecutiveFailures',
  },
  orders: {
    syncedTo: 'ordersSyncedTo',
    leaseOwner: 'ordersLeaseOwner',
    leaseUntil: 'ordersLeaseUntil',
    lastPassStartedAt: 'ordersLastPassStartedAt',
    lastSuccessAt: 'ordersLastSuccessAt',
    lastError: 'ordersLastError',
    lastErrorAt: 'ordersLastErrorAt',
    consecutiveFailures: 'ordersConsecutiveFailures',
  },
} as const satisfies Record<PassKind, Record<string, keyof typeof tradeSyncCursors.$inferSelect>>;

type CursorField = keyof (typeof CURSOR_FIELDS)['deals'];
type CursorUpdate = Partial<typeof tradeSyncCursors.$inferInsert>;

/** A pass's fields under their column names on the cursor row. */
function cursorSet(kind: PassKind, values: Partial<Record<CursorField, unknown>>): CursorUpdate {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(values)) out[CURSOR_FIELDS[kind][field as CursorField]] = value;
  return out as CursorUpdate;
}

function cursorColumn(kind: PassKind, field: CursorField) {
  return tradeSyncCursors[CURSOR_FIELDS[kind][field]];
}

export interface PassResult extends IngestResult {
  server: string;
  pass: PassKind;
  status: 'ok' | 'failed' | 'skipped';
  from: Date | null;
  to: Date | null;
  records: number;
  error?: string;
  durationMs: number;
}

export interface BackfillProgress {
  server: string;
  from: Date;
  to: Date;
  /** Where the backfill has got to (the start of the next chunk). */
  position: Date;
  /** Share of the window done, 0–1. */
  fraction: number;
  records: number;
  inserted: number;
  resumed: boolean;
}

export interface BackfillResult extends IngestResult {
  server: string;
  from: Date;
  to: Date;
  records: number;
  resumedFrom: Date | null;
  durationMs: number;
}

export interface ServerSyncStatus {
  server: string;
  syncedTo: Date | null;
  lagSeconds: number | null;
  lastSuccessAt: Date | null;
  lastError: string | null;
  consecutiveFailures: number;
  recordsIngested: number;
  recordsChanged: number;
  feed: FeedState | null;
  /** The finished-orders pass (its own cursor); null lag when never run. */
  orders: {
    syncedTo: Date | null;
    lagSeconds: number | null;
    lastSuccessAt: Date | null;
    lastError: string | null;
    consecutiveFailures: number;
  };
  backfill: { from: Date | null; to: Date | null; next: Date | null; finishedAt: Date | null };
}

type CursorRow = typeof tradeSyncCursors.$inferSelect;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class TradeSync {
  private readonly database: Database;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly workerId: string;
  private readonly o: Required<
    Pick<
      TradeSyncOptions,
      | 'intervalMs'
      | 'overlapMs'
      | 'initialLookbackMs'
      | 'catchUpIntervalMs'
      | 'positionsIntervalMs'
      | 'accountCheckIntervalMs'
      | 'accountCheckConcurrency'
      | 'lagAlertSeconds'
      | 'batchSize'
      | 'leaseMs'
      | 'unknownAccountsPerPass'
      | 'ordersIntervalMs'
      | 'ordersOverlapMs'
    >
  >;
  private readonly feeds = new Map<string, Mt4Feed>();
  /** One pass per server at a time in this process (the lease covers other processes). */
  private readonly running = new Map<string, Promise<PassResult>>();
  /** One orders pass per server at a time in this process. */
  private readonly ordersRunning = new Map<string, Promise<PassResult>>();
  private stopped = false;
  /** `start()` was called: pumping is wanted on MT4 servers. */
  private started = false;

  constructor(private readonly options: TradeSyncOptions) {
    this.database = options.database;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
    this.workerId = options.workerId ?? `trades-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    this.o = {
      intervalMs: options.intervalMs ?? 15_000,
      overlapMs: options.overlapMs ?? 10 * MINUTE,
      initialLookbackMs: options.initialLookbackMs ?? DAY,
      catchUpIntervalMs: options.catchUpIntervalMs ?? 5 * MINUTE,
      positionsIntervalMs: options.positionsIntervalMs ?? MINUTE,
      accountCheckIntervalMs: options.accountCheckIntervalMs ?? 10 * MINUTE,
      accountCheckConcurrency: options.accountCheckConcurrency ?? 8,
      lagAlertSeconds: options.lagAlertSeconds ?? 300,
      batchSize: options.batchSize ?? 2000,
      leaseMs: options.leaseMs ?? 10 * MINUTE,
      unknownAccountsPerPass: options.unknownAccountsPerPass ?? 200,
      ordersIntervalMs: options.ordersIntervalMs ?? MINUTE,
      ordersOverlapMs: options.ordersOverlapMs ?? options.overlapMs ?? 10 * MINUTE,
    };
  }

  // --- scheduling --------------------------------------------------------------------------------------------------

  /**
   * Does whatever is due on every enabled server: owed catch-ups, polls, position listings, account checks; keeps
   * live MT4 cursors at the clock; raises or resolves lag alerts. Due-ness is read from the cursor rows, so several
   * workers share the work instead of repeating it. Call it every few seconds (the worker does).
   */
  async tick(): Promise<void> {
    const servers = (await this.options.platforms.list()).filter((s) => s.enabled);
    await Promise.all(
      servers.map(async (s) => {
        try {
          // A server added (or whose pumping failed to start) since `start()`.
          if (s.platform === 'mt4' && this.started && this.options.pumping !== false && !this.feeds.has(s.code)) {
            await this.subscribe(s.code).catch((err) => {
              this.feeds.delete(s.code);
              this.logger?.warn({ server: s.code, err: errorText(err) }, 'mt4 pumping could not be started');
            });
          }
          await this.tickServer(s.code);
        } catch (err) {
          this.logger?.warn({ server: s.code, err: errorText(err) }, 'trade sync tick failed');
        }
      }),
    );
    await this.checkLag();
  }

  private async tickServer(code: string): Promise<void> {
    const cursor = await this.cursor(code);
    const now = this.clock.now().getTime();
    const feed = this.feeds.get(code);
    const due = (at: Date | null, every: number) => at === null || now - at.getTime() >= every;
    if (feed?.state.catchUpOwed) {
      await this.catchUp(code);
    } else if (due(cursor.lastPassStartedAt, feed?.state.live ? this.o.catchUpIntervalMs : this.o.intervalMs)) {
      await this.syncServer(code);
    }
    if (feed?.state.live) await this.advanceCursor(this.database.db, code, this.clock.now());
    // Finished orders after the deals, not awaited: the next tick's deals pass never waits for them. MT4 pumping does
    // not carry pending orders, so this poll runs whether or not the server is live.
    if (
      this.options.historyOrders !== false &&
      !this.ordersRunning.has(code) &&
      due(cursor.ordersLastPassStartedAt, this.o.ordersIntervalMs)
    ) {
      void this.syncOrders(code).catch((err) =>
        this.logger?.warn({ server: code, err: errorText(err) }, 'orders sync pass failed'),
      );
    }
    if (due(cursor.positionsSyncedAt, this.o.positionsIntervalMs)) await this.syncPositions(code);
    if (due(cursor.accountsCheckedAt, this.o.accountCheckIntervalMs)) await this.checkAccounts(code);
  }

  /** Subscribes to pumping on every enabled MT4 server (no-op with `pumping: false`). */
  async start(): Promise<void> {
    this.stopped = false;
    this.started = true;
    if (this.options.pumping === false) return;
    for (const s of await this.options.platforms.list()) {
      if (!s.enabled || s.platform !== 'mt4') continue;
      try {
        await this.subscribe(s.code);
      } catch (err) {
        // Polls still run; the next start (or `subscribe`) tries again.
        this.feeds.delete(s.code);
        this.logger?.warn({ server: s.code, err: errorText(err) }, 'mt4 pumping could not be started');
      }
    }
  }

  /** Ends pumping and waits for passes in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.started = false;
    await Promise.all([...this.feeds.values()].map((f) => f.stop()));
    this.feeds.clear();
    await this.idle();
  }

  /** Resolves when no pass (deals or orders) of this process is running. */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.ordersRunning.size > 0) {
      await Promise.allSettled([...this.running.values(), ...this.ordersRunning.values()]);
    }
  }

  /** Starts pumping for one MT4 server. */
  async subscribe(code: string): Promise<FeedState> {
    const existing = this.feeds.get(code);
    if (existing) return existing.state;
    const feed = new Mt4Feed(code, this.o.overlapMs);
    this.feeds.set(code, feed);
    const config = await serverConnectorConfig(this.database, code, this.options.env);
    const factory = this.options.pumpingFactory ?? defaultPumpingFactory;
    feed.attach(factory(config, (event) => this.onPumpingEvent(feed, event), this.logger));
    return feed.state;
  }

  feedState(code: string): FeedState | null {
    return this.feeds.get(code)?.state ?? null;
  }

  // --- incremental passes ------------------------------------------------------------------------------------------

  /**
   * Every enabled server, in parallel: its deals pass, then its orders pass (unless `historyOrders: false`). The
   * results hold both (`pass` tells them apart).
   */
  async syncAll(): Promise<PassResult[]> {
    const servers = (await this.options.platforms.list()).filter((s) => s.enabled);
    const results = await Promise.all(
      servers.map(async (s) => {
        const deals = await this.syncServer(s.code);
        return this.options.historyOrders === false ? [deals] : [deals, await this.syncOrders(s.code)];
      }),
    );
    return results.flat();
  }

  /**
   * One incremental deals pass over a server (deals, closed trades, balance records): everything from the cursor
   * (minus the overlap), or from `from` when given. Never throws for a server failure: the result says `failed` and
   * the cursor records the error.
   */
  syncServer(code: string, options: { from?: Date; source?: TradeRecordSource } = {}): Promise<PassResult> {
    const inFlight = this.running.get(code);
    if (inFlight) return inFlight.then(() => this.syncServer(code, options));
    const pass = this.runPass(code, 'deals', options).finally(() => this.running.delete(code));
    this.running.set(code, pass);
    return pass;
  }

  /**
   * One incremental finished-orders pass over a server, from its own cursor (minus `ordersOverlapMs`), or from `from`.
   * Lower priority than deals: between pages it waits for this process's deals passes in progress. Never throws for
   * a server failure.
   */
  syncOrders(code: string, options: { from?: Date } = {}): Promise<PassResult> {
    const inFlight = this.ordersRunning.get(code);
    if (inFlight) return inFlight.then(() => this.syncOrders(code, options));
    const pass = this.runPass(code, 'orders', options).finally(() => this.ordersRunning.delete(code));
    this.ordersRunning.set(code, pass);
    return pass;
  }

  /**
   * Lets the deals passes running in this process go first (once per page, so orders are slowed, never starved).
   */
  private async yieldToDeals(): Promise<void> {
    if (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  private async runPass(
    code: string,
    kind: PassKind,
    options: { from?: Date; source?: TradeRecordSource },
  ): Promise<PassResult> {
    const started = performance.now();
    const result: PassResult = {
      server: code,
      pass: kind,
      status: 'skipped',
      from: null,
      to: null,
      records: 0,
      inserted: 0,
      changed: 0,
      unchanged: 0,
      durationMs: 0,
    };
    const cursor = await this.claim(code, kind);
    if (!cursor) {
      result.durationMs = performance.now() - started;
      return result;
    }
    const passStart = this.clock.now();
    const syncedTo = cursor[CURSOR_FIELDS[kind].syncedTo];
    const overlap = kind === 'orders' ? this.o.ordersOverlapMs : this.o.overlapMs;
    const from =
      options.from ??
      (syncedTo ? new Date(syncedTo.getTime() - overlap) : new Date(passStart.getTime() - this.o.initialLookbackMs));
    const to = new Date(passStart.getTime() + DAY);
    result.from = from;
    result.to = to;
    const logins = new Set<number>();
    try {
      const platform = await this.options.platforms.platform(code);
      await this.ingestWindow(platform, code, from, to, options.source ?? 'poll', result, logins, {
        orders: kind === 'orders' ? 'only' : false,
        lease: kind,
        beforePage: kind === 'orders' ? () => this.yieldToDeals() : undefined,
      });
      const ours = and(eq(tradeSyncCursors.serverCode, code), eq(cursorColumn(kind, 'leaseOwner'), this.workerId));
      await this.database.db
        .update(tradeSyncCursors)
        .set({
          ...cursorSet(kind, {
            // Only forward: a catch-up from far back must not move the cursor behind where it was.
            syncedTo: sql`greatest(${cursorColumn(kind, 'syncedTo')}, ${passStart.toISOString()}::timestamptz)`,
            lastSuccessAt: this.clock.now(),
            lastError: null,
            consecutiveFailures: 0,
            leaseOwner: null,
            leaseUntil: null,
          }),
          recordsIngested: sql`${tradeSyncCursors.recordsIngested} + ${result.inserted}`,
          recordsChanged: sql`${tradeSyncCursors.recordsChanged} + ${result.changed}`,
          updatedAt: this.clock.now(),
        })
        .where(ours);
      result.status = 'ok';
      syncMetrics.passes.inc({ server: code, pass: kind, outcome: 'ok' });
    } catch (err) {
      result.status = 'failed';
      result.error = errorText(err);
      syncMetrics.passes.inc({ server: code, pass: kind, outcome: 'failed' });
      this.logger?.warn(
        { server: code, pass: kind, err: result.error, records: result.records },
        'trade sync pass failed',
      );
      await this.database.db
        .update(tradeSyncCursors)
        .set({
          ...cursorSet(kind, {
            lastError: result.error,
            lastErrorAt: this.clock.now(),
            consecutiveFailures: sql`${cursorColumn(kind, 'consecutiveFailures')} + 1`,
            leaseOwner: null,
            leaseUntil: null,
          }),
          recordsIngested: sql`${tradeSyncCursors.recordsIngested} + ${result.inserted}`,
          recordsChanged: sql`${tradeSyncCursors.recordsChanged} + ${result.changed}`,
          updatedAt: this.clock.now(),
        })
        .where(and(eq(tradeSyncCursors.serverCode, code), eq(cursorColumn(kind, 'leaseOwner'), this.workerId)))
        .catch(() => {});
    }
    if (result.status === 'ok') await this.lookAtUnknownLogins(code, logins);
    result.durationMs = performance.now() - started;
    return result;
  }

  /** Lists [from, to] and stores it in batches; the next batch is fetched while the previous one is written. */
  private async ingestWindow(
    platform: Platform,
    code: string,
    from: Date,
    to: Date,
    source: TradeRecordSource,
    totals: IngestResult & { records: number },
    logins: Set<number>,
    options: {
      /** Which records (see `HistoryQuery.orders`). */
      orders: boolean | 'only';
      /** The lease renewed while writing (a backfill holds none). */
      lease?: PassKind;
      onBatch?: () => Promise<void>;
      /** Awaited before each page is taken (the orders pass yields to deals there). */
      beforePage?: () => Promise<void>;
    },
  ): Promise<void> {
    const { onBatch, beforePage, lease } = options;
    let batch: NormalisedRecord[] = [];
    let failure: unknown = null;
    let renewedAt = this.clock.now().getTime();
    // Up to two batches are written (each in its own transaction, on its own connection) while the next is listed:
    // the listing, the JSON work and the database overlap. Order does not matter: every write is an upsert by key.
    const inFlight = new Set<Promise<void>>();
    const write = (records: NormalisedRecord[]) => {
      const p = (async () => {
        try {
          const r = await this.ingest(code, records, source);
          totals.inserted += r.inserted;
          totals.changed += r.changed;
          totals.unchanged += r.unchanged;
          // The lease is renewed when a third of it has gone (not on every batch: that would be a commit each).
          if (lease && this.clock.now().getTime() - renewedAt > this.o.leaseMs / 3) {
            renewedAt = this.clock.now().getTime();
            await this.renewLease(code, lease);
          }
          await onBatch?.();
        } catch (err) {
          failure ??= err;
        }
      })();
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    };
    // Page by page: the asynchronous hand-over is paid once per page (up to 100 records), not per record.
    for await (const page of platform.listHistoryPages({ from, to, orders: options.orders })) {
      if (failure) break;
      if (beforePage) {
        await beforePage();
        // A pass that waited long still owns its lease.
        if (lease && this.clock.now().getTime() - renewedAt > this.o.leaseMs / 3) {
          renewedAt = this.clock.now().getTime();
          await this.renewLease(code, lease);
        }
      }
      for (const record of page) {
        batch.push(normaliseRecord(code, platform.kind, record));
        logins.add(record.login);
      }
      totals.records += page.length;
      if (batch.length >= this.o.batchSize) {
        while (inFlight.size >= WRITES_IN_FLIGHT) await Promise.race(inFlight);
        write(batch);
        batch = [];
      }
    }
    if (batch.length > 0 && !failure) write(batch);
    await Promise.all(inFlight);
    if (failure) throw failure;
  }

  /** Stores records of one server (pumping, polls, backfill, tests). */
  ingest(code: string, records: NormalisedRecord[], source: TradeRecordSource): Promise<IngestResult> {
    return ingestRecords(
      {
        database: this.database,
        clock: this.clock,
        audit: this.options.audit,
        onNewBalanceRecord: (tx, record) => this.options.externalChanges.recordBalanceRecord(tx, record),
        onChangedBalanceRecord: (tx, before, after, version) =>
          this.options.externalChanges.recordBalanceRecordChange(tx, before, after, version),
      },
      code,
      records,
      source,
    ).then((r) => {
      if (r.inserted > 0) syncMetrics.records.inc({ server: code, outcome: 'inserted' }, r.inserted);
      if (r.changed > 0) syncMetrics.records.inc({ server: code, outcome: 'changed' }, r.changed);
      return r;
    });
  }

  private async catchUp(code: string): Promise<PassResult | null> {
    const feed = this.feeds.get(code);
    if (!feed?.state.catchUpOwed) return null;
    const generation = feed.state.generation;
    const result = await this.syncServer(code, { from: feed.state.catchUpFrom ?? undefined });
    if (result.status === 'ok') feed.caughtUp(generation);
    return result;
  }

  // --- pumping -----------------------------------------------------------------------------------------------------

  private async onPumpingEvent(feed: Mt4Feed, event: PumpingEvent): Promise<void> {
    if (this.stopped) return;
    const code = feed.server;
    if (feed.onStreamEvent(event)) {
      // Not awaited: the stream must keep flowing while the catch-up lists history (events and the poll are both
      // idempotent). A failed catch-up stays owed and is retried by the next tick.
      void this.catchUp(code).catch((err) =>
        this.logger?.warn({ server: code, err: errorText(err) }, 'pumping catch-up failed'),
      );
      return;
    }
    const platform: PlatformKind = 'mt4';
    switch (event.type) {
      case 'balance':
        await this.ingest(code, [normaliseRecord(code, platform, { type: 'balance', ...event.record })], 'pumping');
        return;
      case 'closed_trade':
        await this.ingest(code, [normaliseRecord(code, platform, event.trade)], 'pumping');
        await removePosition(this.database.db, code, event.trade.ticket);
        return;
      case 'position':
        await upsertPositions(this.database.db, [normalisePosition(code, platform, event.position)], this.clock.now());
        // A pending order that triggered: the same ticket, now a position.
        await removeOpenOrder(this.database.db, code, event.position.ticket);
        return;
      case 'order':
        // Pending orders as pushed (the orders pass and the open-order snapshot remain the safety net).
        if (event.order.doneTime !== null) {
          await this.ingest(code, [normaliseRecord(code, platform, event.order)], 'pumping');
          await removeOpenOrder(this.database.db, code, event.order.ticket);
        } else {
          await upsertOpenOrders(this.database.db, [normaliseOpenOrder(code, platform, event.order)], this.clock.now());
        }
        return;
      case 'account':
        await this.onAccountEvent(code, event.account, event.time);
        return;
      default:
        return;
    }
  }

  /**
   * A pushed account change. The snapshot may be older than the CRM's row (events queue), so a difference is only a
   * reason to look: the account is read afresh and compared as the periodic check would.
   */
  private async onAccountEvent(code: string, account: ServerAccountState, at: Date): Promise<void> {
    const [row] = await this.database.db
      .select()
      .from(tradingAccounts)
      .where(and(eq(tradingAccounts.serverCode, code), eq(tradingAccounts.login, account.login)));
    if (!row) {
      await this.options.externalChanges.recordUnknownAccount(code, account);
      return;
    }
    if (
      row.status === 'open' &&
      (row.groupName !== account.group ||
        row.leverage !== account.leverage ||
        row.tradingEnabled !== account.tradingAllowed) &&
      row.updatedAt.getTime() <= at.getTime()
    ) {
      await this.checkAccount(code, await this.options.platforms.platform(code), account.login);
    }
  }

  // --- positions ---------------------------------------------------------------------------------------------------

  /**
   * Re-lists a server's open positions (MT5 positions, MT4 open trades) and open orders (MT5 pending and partly
   * filled orders, MT4 pending orders). An order that left the open book has finished: its final state is read by
   * ticket and stored in the history at once, since a history window may not list it (an order placed long before
   * it was filled or canceled).
   */
  async syncPositions(
    code: string,
  ): Promise<{ open: number; removed: number; openOrders: number; finishedOrders: number } | null> {
    const listedAt = this.clock.now();
    try {
      const platform = await this.options.platforms.platform(code);
      const [listed, listedOrders] = await Promise.all([platform.listOpenPositions(), platform.listOpenOrders()]);
      const positions = listed.map((p) => normalisePosition(code, platform.kind, p));
      const orders = listedOrders.map((o) => normaliseOpenOrder(code, platform.kind, o));
      const result = await replacePositions(this.database, code, positions, listedAt, this.clock.now());
      const orderResult = await replaceOpenOrders(this.database, code, orders, listedAt, this.clock.now());
      let finishedOrders = 0;
      if (orderResult.removed.length > 0) {
        const finished = (await platform.getOrders(orderResult.removed.map((o) => o.ticket))).filter(
          (o) => o.doneTime !== null,
        );
        if (finished.length > 0) {
          const r = await this.ingest(
            code,
            finished.map((o) => normaliseRecord(code, platform.kind, o)),
            'poll',
          );
          finishedOrders = r.inserted + r.changed;
        }
      }
      await this.touchCursor(code, { positionsSyncedAt: listedAt });
      await this.lookAtUnknownLogins(code, new Set([...positions, ...orders].map((p) => p.login)));
      return { ...result, openOrders: orderResult.open, finishedOrders };
    } catch (err) {
      this.logger?.warn({ server: code, err: errorText(err) }, 'position sync failed');
      await this.touchCursor(code, { positionsSyncedAt: listedAt });
      return null;
    }
  }

  // --- account check -----------------------------------------------------------------------------------------------

  /**
   * Compares every open CRM account on the server with the server's own view (scenario 2: group and leverage), and
   * lists every login the manager may see so that an account the CRM does not know is found even when it has no
   * activity (recorded once as an external change, bounded per pass).
   */
  async checkAccounts(code: string): Promise<{ checked: number; changes: number; failed: number; unknown: number }> {
    const started = this.clock.now();
    const rows = await this.database.db
      .select({ login: tradingAccounts.login })
      .from(tradingAccounts)
      .where(and(eq(tradingAccounts.serverCode, code), eq(tradingAccounts.status, 'open')));
    const logins = rows.map((r) => r.login).filter((l): l is number => l !== null);
    const totals = { checked: 0, changes: 0, failed: 0, unknown: 0 };
    let platform: Platform;
    try {
      platform = await this.options.platforms.platform(code);
    } catch (err) {
      this.logger?.warn({ server: code, err: errorText(err) }, 'account check: server unavailable');
      await this.touchCursor(code, { accountsCheckedAt: started });
      return totals;
    }
    let next = 0;
    const worker = async () => {
      while (next < logins.length && !this.stopped) {
        const login = logins[next++]!;
        try {
          totals.changes += await this.checkAccount(code, platform, login);
          totals.checked += 1;
        } catch (err) {
          totals.failed += 1;
          this.logger?.warn({ server: code, login, err: errorText(err) }, 'account check failed for an account');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.accountCheckConcurrency, logins.length) }, worker));
    try {
      totals.unknown = await this.lookAtUnknownLogins(code, new Set(await platform.listLogins()), true);
    } catch (err) {
      this.logger?.warn({ server: code, err: errorText(err) }, 'account check: logins could not be listed');
    }
    await this.touchCursor(code, { accountsCheckedAt: started });
    return totals;
  }

  private async checkAccount(code: string, platform: Platform, login: number): Promise<number> {
    const readAt = this.clock.now();
    let account: Awaited<ReturnType<Platform['getAccount']>>;
    try {
      account = await platform.getAccount(login);
    } catch (err) {
      // The manager may no longer see the account: a dealer moved it to a group outside the manager's masks.
      if (err instanceof DefinitiveError && err.reason === 'no_rights') {
        const change = await this.options.externalChanges.recordUnreachable(code, login, err.message, readAt);
        return change ? 1 : 0;
      }
      throw err;
    }
    return (await this.options.externalChanges.compareAccount(code, account, readAt)).length;
  }

  /**
   * Logins seen on the server that the CRM has no account for: looked at once each (bounded per pass); returns how
   * many were recorded. With `rethrow`, a failure is the caller's to report.
   */
  private async lookAtUnknownLogins(code: string, logins: Set<number>, rethrow = false): Promise<number> {
    if (logins.size === 0 || this.o.unknownAccountsPerPass <= 0) return 0;
    let recorded = 0;
    try {
      const unknown = await this.options.externalChanges.unknownLogins(code, logins);
      if (unknown.length === 0) return 0;
      const platform = await this.options.platforms.platform(code);
      for (const login of unknown.slice(0, this.o.unknownAccountsPerPass)) {
        let account: Awaited<ReturnType<Platform['getAccount']>>;
        try {
          account = await platform.getAccount(login);
        } catch (err) {
          // Deleted, or moved out of the manager's groups, since the logins were listed: nothing to record.
          if (err instanceof DefinitiveError) continue;
          throw err;
        }
        if (await this.options.externalChanges.recordUnknownAccount(code, account)) recorded += 1;
      }
    } catch (err) {
      if (rethrow) throw err;
      this.logger?.warn({ server: code, err: errorText(err) }, 'unknown-account check failed');
    }
    return recorded;
  }

  // --- backfill ----------------------------------------------------------------------------------------------------

  /**
   * Reads a server's history from `from` to `to` (default now) in chunks and stores it. Resumable: the position is
   * kept on the cursor row after each chunk, and a backfill of the same window continues where it stopped. On a
   * server never synced, the cursor starts where the backfill ends.
   */
  async backfill(
    code: string,
    options: {
      from: Date;
      to?: Date;
      /** Time per listing window. Default one day. */
      chunkMs?: number;
      /** Windows listed at once (each its own walk over the server's accounts). Default 1. */
      parallel?: number;
      onProgress?: (p: BackfillProgress) => void;
    },
  ): Promise<BackfillResult> {
    const started = performance.now();
    const from = options.from;
    const to = options.to ?? this.clock.now();
    if (!(from < to))
      throw new RangeError(`backfill window is empty: from ${from.toISOString()} is not before to ${to.toISOString()}`);
    const chunkMs = Math.max(1000, options.chunkMs ?? DAY);
    const cursor = await this.cursor(code);
    const sameWindow =
      cursor.backfillFrom?.getTime() === from.getTime() &&
      cursor.backfillTo?.getTime() === to.getTime() &&
      cursor.backfillFinishedAt === null &&
      cursor.backfillNext !== null;
    const resumedFrom = sameWindow ? cursor.backfillNext : null;
    let position = resumedFrom ?? from;
    await this.touchCursor(code, {
      backfillFrom: from,
      backfillTo: to,
      backfillNext: position,
      backfillFinishedAt: null,
    });
    const platform = await this.options.platforms.platform(code);
    // Deals and finished orders in one walk over the window (the progress covers both); each cursor starts at its end.
    const withOrders = this.options.historyOrders !== false;
    const totals = { records: 0, inserted: 0, changed: 0, unchanged: 0 };
    const logins = new Set<number>();
    const span = to.getTime() - from.getTime();
    const report = (at: Date) =>
      options.onProgress?.({
        server: code,
        from,
        to,
        position: at,
        fraction: Math.min(1, (at.getTime() - from.getTime()) / span),
        records: totals.records,
        inserted: totals.inserted,
        resumed: resumedFrom !== null,
      });
    report(position);
    // Chunks run `parallel` at a time (each listing every account for its slice of time); the resume position is the
    // start of the earliest chunk not yet stored, so an interruption never skips a chunk that was still running.
    const chunks: { start: Date; end: Date; done: boolean }[] = [];
    for (let at = position.getTime(); at < to.getTime(); at += chunkMs) {
      chunks.push({ start: new Date(at), end: new Date(Math.min(at + chunkMs, to.getTime())), done: false });
    }
    const frontier = () => chunks.find((c) => !c.done)?.start ?? to;
    let next = 0;
    let failure: unknown = null;
    const runner = async () => {
      while (next < chunks.length && failure === null) {
        const chunk = chunks[next++]!;
        try {
          await this.ingestWindow(platform, code, chunk.start, chunk.end, 'backfill', totals, logins, {
            orders: withOrders,
            onBatch: async () => report(frontier()),
          });
          chunk.done = true;
          const reached = frontier();
          if (reached > position) {
            position = reached;
            await this.touchCursor(code, { backfillNext: position });
          }
          report(position);
        } catch (err) {
          failure ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.parallel ?? 1, chunks.length)) }, runner));
    if (failure !== null) throw failure;
    const now = this.clock.now();
    const end = new Date(Math.min(to.getTime(), now.getTime())).toISOString();
    await this.database.db
      .update(tradeSyncCursors)
      .set({
        backfillFinishedAt: now,
        syncedTo: sql`coalesce(${tradeSyncCursors.syncedTo}, ${end}::timestamptz)`,
        ...(withOrders
          ? { ordersSyncedTo: sql`coalesce(${tradeSyncCursors.ordersSyncedTo}, ${end}::timestamptz)` }
          : {}),
        recordsIngested: sql`${tradeSyncCursors.recordsIngested} + ${totals.inserted}`,
        recordsChanged: sql`${tradeSyncCursors.recordsChanged} + ${totals.changed}`,
        updatedAt: now,
      })
      .where(eq(tradeSyncCursors.serverCode, code));
    await this.lookAtUnknownLogins(code, logins);
    return { server: code, from, to, ...totals, resumedFrom, durationMs: performance.now() - started };
  }

  // --- lag ---------------------------------------------------------------------------------------------------------

  /** Every enabled server's sync state, lag included (for the back office and `brokerdesk trades status`). */
  async status(): Promise<ServerSyncStatus[]> {
    const servers = (await this.options.platforms.list()).filter((s) => s.enabled);
    const rows = await this.database.db.select().from(tradeSyncCursors);
    const byCode = new Map(rows.map((r) => [r.serverCode, r]));
    const now = this.clock.now().getTime();
    const lag = (at: Date | null | undefined) => (at ? Math.max(0, (now - at.getTime()) / 1000) : null);
    return servers.map((s) => {
      const c = byCode.get(s.code);
      return {
        server: s.code,
        syncedTo: c?.syncedTo ?? null,
        lagSeconds: c?.syncedTo ? Math.max(0, (now - c.syncedTo.getTime()) / 1000) : null,
        lastSuccessAt: c?.lastSuccessAt ?? null,
        lastError: c?.lastError ?? null,
        consecutiveFailures: c?.consecutiveFailures ?? 0,
        recordsIngested: c?.recordsIngested ?? 0,
        recordsChanged: c?.recordsChanged ?? 0,
        feed: this.feedState(s.code),
        orders: {
          syncedTo: c?.ordersSyncedTo ?? null,
          lagSeconds: lag(c?.ordersSyncedTo),
          lastSuccessAt: c?.ordersLastSuccessAt ?? null,
          lastError: c?.ordersLastError ?? null,
          consecutiveFailures: c?.ordersConsecutiveFailures ?? 0,
        },
        backfill: {
          from: c?.backfillFrom ?? null,
          to: c?.backfillTo ?? null,
          next: c?.backfillNext ?? null,
          finishedAt: c?.backfillFinishedAt ?? null,
        },
      };
    });
  }

  /**
   * Raises `sync_lag:<server>` (deduplicated) for each server whose history is older than the threshold, or never
   * synced while passes fail; resolves it once the server has caught up.
   */
  async checkLag(): Promise<void> {
    const threshold = this.o.lagAlertSeconds;
    for (const s of await this.status()) {
      const key = `sync_lag:${s.server}`;
      const lag = s.lagSeconds ?? (s.consecutiveFailures > 0 ? Number.POSITIVE_INFINITY : null);
      if (lag !== null && lag > threshold) {
        await this.options.alerts.raise(this.database.db, {
          kind: 'sync_lag',
          dedupeKey: key,
          severity: 'warning',
          title: `${s.server}: trade history is ${Number.isFinite(lag) ? `${Math.round(lag)} s` : 'not'} synced${Number.isFinite(lag) ? ' behind' : ''} (threshold ${threshold} s)`,
          details: {
            server: s.server,
            lagSeconds: Number.isFinite(lag) ? Math.round(lag) : null,
            syncedTo: s.syncedTo?.toISOString() ?? null,
            lastError: s.lastError,
            consecutiveFailures: s.consecutiveFailures,
          },
        });
      } else if (lag !== null) {
        await this.options.alerts.resolve(this.database.db, key, 'system', 'trade sync caught up');
      }
    }
  }

  // --- cursor rows -------------------------------------------------------------------------------------------------

  private async cursor(code: string): Promise<CursorRow> {
    await this.database.db
      .insert(tradeSyncCursors)
      .values({ serverCode: code, updatedAt: this.clock.now() })
      .onConflictDoNothing({ target: tradeSyncCursors.serverCode });
    const [row] = await this.database.db.select().from(tradeSyncCursors).where(eq(tradeSyncCursors.serverCode, code));
    return row!;
  }

  /**
   * Takes the server's lease for one pass (free, expired or already ours); null when another worker holds it. The
   * deals and orders passes have a lease each, so neither waits for the other.
   */
  private async claim(code: string, kind: PassKind): Promise<CursorRow | null> {
    await this.cursor(code);
    const now = this.clock.now();
    const [row] = await this.database.db
      .update(tradeSyncCursors)
      .set({
        ...cursorSet(kind, {
          leaseOwner: this.workerId,
          leaseUntil: new Date(now.getTime() + this.o.leaseMs),
          lastPassStartedAt: now,
        }),
        updatedAt: now,
      })
      .where(
        and(
          eq(tradeSyncCursors.serverCode, code),
          or(
            isNull(cursorColumn(kind, 'leaseUntil')),
            lt(cursorColumn(kind, 'leaseUntil'), now),
            eq(cursorColumn(kind, 'leaseOwner'), this.workerId),
          ),
        ),
      )
      .returning();
    return row ?? null;
  }

  private async renewLease(code: string, kind: PassKind): Promise<void> {
    await this.database.db
      .update(tradeSyncCursors)
      .set(cursorSet(kind, { leaseUntil: new Date(this.clock.now().getTime() + this.o.leaseMs) }))
      .where(and(eq(tradeSyncCursors.serverCode, code), eq(cursorColumn(kind, 'leaseOwner'), this.workerId)));
  }

  private async touchCursor(code: string, set: Partial<typeof tradeSyncCursors.$inferInsert>): Promise<void> {
    await this.cursor(code);
    await this.database.db
      .update(tradeSyncCursors)
      .set({ ...set, updatedAt: this.clock.now() })
      .where(eq(tradeSyncCursors.serverCode, code));
  }

  /** Live pumping: history is complete up to now (only forward). */
  private async advanceCursor(db: Executor, code: string, to: Date): Promise<void> {
    await db
      .update(tradeSyncCursors)
      .set({ syncedTo: to, updatedAt: to })
      .where(
        and(
          eq(tradeSyncCursors.serverCode, code),
          or(isNull(tradeSyncCursors.syncedTo), lt(tradeSyncCursors.syncedTo, to)),
        ),
      );
  }
}
