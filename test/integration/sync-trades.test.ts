/**
 * Trade sync against the MT5 simulator over its real protocol: every deal lands once, normalised (lots × 10 000,
 * minor units, entries and position ids); a server restart in the middle of a pass loses and doubles nothing; a
 * record changed on the server is updated, versioned and audited; the backfill resumes where it stopped; positions
 * are a fresh snapshot; the lag is a metric and an alert.
 */
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import {
  alerts,
  auditEvents,
  tradeOpenOrders,
  tradePositions,
  tradeRecords,
  tradeSyncCursors,
} from '../../src/db/schema.ts';
import { AlertService } from '../../src/modules/alerts/service.ts';
import { recordAudit } from '../../src/modules/audit/service.ts';
import { ExternalChangeService } from '../../src/modules/external-changes/service.ts';
import { registerSyncGauges } from '../../src/modules/trades/metrics.ts';
import { normaliseRecord } from '../../src/modules/trades/records.ts';
import { TradeSync } from '../../src/modules/trades/sync.ts';
import { registry as metricsRegistry } from '../../src/operations/metrics.ts';
import { createMt5Connector } from '../../src/platforms/mt5/connector.ts';
import { ServerRegistry } from '../../src/platforms/registry.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { expectLedgerBalanced } from '../support/ledger.ts';
import { control, startMt5 } from '../support/simulators.ts';

const SERVER = 'mt5-sync';
const ACCOUNTS = 12;

type WireDeal = Record<string, string>;

describe('trade sync from MT5', () => {
  let database: TestDatabase;
  let sim: Awaited<ReturnType<typeof startMt5>>;
  let registry: ServerRegistry;
  let sync: TradeSync;
  let alertService: AlertService;
  const clock = new ManualClock(new Date());
  const logins: number[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    sim = await startMt5({ name: SERVER, seed: 11 });
    registry = new ServerRegistry({
      database,
      clock,
      factories: { mt5: createMt5Connector },
      env: { SYNC_MT5_PASSWORD: sim.manager.password },
    });
    await registry.upsert({
      code: SERVER,
      platform: 'mt5',
      environment: 'live',
      address: sim.url,
      managerLogin: sim.manager.login,
      passwordSecret: 'env:SYNC_MT5_PASSWORD',
      caCertPath: sim.certPath ?? null,
      requestTimeoutMs: 2000,
      connectTimeoutMs: 1000,
    });
    alertService = new AlertService({ clock });
    const audit = {
      record: (tx: Parameters<typeof recordAudit>[0], e: Parameters<typeof recordAudit>[1]) =>
        recordAudit(tx, e, clock),
    };
    const externalChanges = new ExternalChangeService({ database, clock, audit, alerts: alertService });
    sync = new TradeSync({
      database,
      platforms: registry,
      clock,
      audit,
      alerts: alertService,
      externalChanges,
      pumping: false,
      batchSize: 200,
      lagAlertSeconds: 300,
    });
    registerSyncGauges(database, clock);
    for (let i = 0; i < ACCOUNTS; i++) {
      const user = (await control(sim, 'POST', '/control/accounts', {
        group: i % 2 === 0 ? 'real\\standard-usd' : 'real\\standard-jpy',
        name: `Trader ${i}`,
        leverage: 100,
        deposit: i % 2 === 0 ? 10_000 : 1_500_000,
      })) as { Login: string };
      logins.push(Number(user.Login));
    }
    await control(sim, 'POST', '/control/activity/step', { steps: 40 });
  });
  afterAll(async () => {
    await sync?.stop();
    await registry?.close();
    await sim?.close();
    await database?.drop();
  });
  afterEach(async () => {
    await control(sim, 'DELETE', '/control/faults');
    await expectLedgerBalanced(database.db);
  });

  /** The server's own deals (those the CRM keeps: trades and balance records), by ticket. */
  async function serverDeals(): Promise<Map<string, WireDeal>> {
    const all = new Map<string, WireDeal>();
    for (const login of logins) {
      for (const d of (await control(sim, 'GET', `/control/accounts/${login}/deals`)) as WireDeal[]) {
        if (Number(d.Action) <= 6) all.set(d.Deal!, d);
      }
    }
    return all;
  }

  /** The server's history orders (filled, canceled, expired), by ticket. */
  async function serverOrders(): Promise<Map<string, WireDeal>> {
    const all = new Map<string, WireDeal>();
    for (const login of logins) {
      for (const o of (await control(sim, 'GET', `/control/accounts/${login}/history`)) as WireDeal[]) {
        all.set(o.Order!, o);
      }
    }
    return all;
  }

  /** Everything a pass stores: deals and balance records (`deal:<ticket>`) and finished orders (`order:<ticket>`). */
  async function serverRecords(): Promise<Set<string>> {
    return new Set([
      ...[...(await serverDeals()).keys()].map((t) => `deal:${t}`),
      ...[...(await serverOrders()).keys()].map((t) => `order:${t}`),
    ]);
  }

  const stored = () =>
    database.db.select().from(tradeRecords).where(eq(tradeRecords.serverCode, SERVER)).orderBy(tradeRecords.ticket);

  async function expectExactlyTheServersDeals(): Promise<void> {
    const records = await serverRecords();
    const rows = await stored();
    expect(rows.length).toBe(records.size);
    expect(new Set(rows.map((r) => `${r.recordType === 'order' ? 'order' : 'deal'}:${r.ticket}`))).toEqual(records);
  }

  const cursorRow = async () =>
    (await database.db.select().from(tradeSyncCursors).where(eq(tradeSyncCursors.serverCode, SERVER)))[0]!;

  it('stores every deal once, normalised, and a second pass changes nothing', async () => {
    // The deals pass lists no finished orders and leaves the orders cursor alone.
    const first = await sync.syncServer(SERVER);
    expect(first).toMatchObject({ status: 'ok', pass: 'deals' });
    const deals = await serverDeals();
    expect(deals.size).toBeGreaterThan(ACCOUNTS * 3);
    expect(first.inserted).toBe(deals.size);
    expect((await stored()).filter((r) => r.recordType === 'order')).toHaveLength(0);
    expect(await cursorRow()).toMatchObject({ syncedTo: clock.now(), ordersSyncedTo: null });

    // The orders pass: its own cursor, the deals cursor untouched.
    clock.advance(500);
    const ordersPass = await sync.syncOrders(SERVER);
    expect(ordersPass).toMatchObject({ status: 'ok', pass: 'orders' });
    const orders = await serverOrders();
    expect(orders.size).toBeGreaterThan(ACCOUNTS);
    expect(ordersPass.inserted).toBe(orders.size);
    expect(ordersPass.records).toBe(orders.size);
    expect(await cursorRow()).toMatchObject({
      syncedTo: new Date(clock.now().getTime() - 500),
      ordersSyncedTo: clock.now(),
    });
    await expectExactlyTheServersDeals();

    const rows = await stored();
    const trade = rows.find((r) => r.recordType === 'deal' && r.entry === 'out')!;
    const wire = deals.get(trade.ticket)!;
    // MT5's Volume is already lots × 10 000; money is minor units at the group's digits (JPY: 0 digits).
    expect(trade.volume).toBe(Number(wire.Volume));
    const digits = Number(wire.DigitsCurrency);
    expect(trade.profitMinor).toBe(Math.round(Number(wire.Profit) * 10 ** digits));
    expect(trade.positionId).toBe(wire.PositionID);
    expect(trade.orderTicket).toBe(wire.Order);
    expect(trade.side).toBe(wire.Action === '0' ? 'buy' : 'sell');
    expect(new Set(rows.filter((r) => r.recordType === 'deal').map((r) => r.entry))).toContain('in');
    const deposit = rows.find((r) => r.recordType === 'balance' && r.login === logins[1])!;
    expect(deposit).toMatchObject({ amountMinor: 1_500_000, balanceKind: 'balance', reference: null, version: 1 });

    clock.advance(1_000);
    const second = await sync.syncServer(SERVER);
    expect(second).toMatchObject({ status: 'ok', inserted: 0, changed: 0 });
    expect(second.unchanged).toBe(deals.size);
    expect(await sync.syncOrders(SERVER)).toMatchObject({ status: 'ok', inserted: 0, changed: 0 });
    const [cursor] = await database.db.select().from(tradeSyncCursors).where(eq(tradeSyncCursors.serverCode, SERVER));
    expect(cursor).toMatchObject({
      recordsIngested: deals.size + orders.size,
      consecutiveFailures: 0,
      lastError: null,
    });
    expect(cursor!.syncedTo!.getTime()).toBe(clock.now().getTime());
    expect(cursor!.ordersSyncedTo!.getTime()).toBe(clock.now().getTime());
  });

  it('an order finished while only deals passes ran is stored by the next orders pass, from its own cursor', async () => {
    const ordersBefore = (await cursorRow()).ordersSyncedTo!;
    const known = new Set((await stored()).filter((r) => r.recordType === 'order').map((r) => r.ticket));
    await control(sim, 'POST', '/control/activity/step', { steps: 10 });
    const finished = [...(await serverOrders()).keys()].filter((t) => !known.has(t));
    expect(finished.length).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) {
      clock.advance(15_000);
      expect((await sync.syncServer(SERVER)).status).toBe('ok');
    }
    // Deals are in; the orders are not, and their cursor has not moved.
    expect(await cursorRow()).toMatchObject({ syncedTo: clock.now(), ordersSyncedTo: ordersBefore });
    const storedOrders = async () =>
      new Set((await stored()).filter((r) => r.recordType === 'order').map((r) => r.ticket));
    const afterDeals = await storedOrders();
    expect(finished.filter((t) => afterDeals.has(t))).toEqual([]);

    clock.advance(1_000);
    const pass = await sync.syncOrders(SERVER);
    expect(pass).toMatchObject({ status: 'ok', pass: 'orders', inserted: finished.length });
    expect(pass.from).toEqual(new Date(ordersBefore.getTime() - 10 * 60_000));
    const now = await storedOrders();
    expect(finished.every((t) => now.has(t))).toBe(true);
    expect((await cursorRow()).ordersSyncedTo).toEqual(clock.now());
    await expectExactlyTheServersDeals();
  });

  it('a failed orders pass keeps its cursor (persisted), deals go on, and a restarted worker continues from it', async () => {
    await control(sim, 'POST', '/control/activity/step', { steps: 10 });
    const before = await cursorRow();
    await control(sim, 'POST', '/control/faults', {
      endpoint: '/api/history/get_page',
      kind: 'error',
      code: 3,
    });
    clock.advance(1_000);
    const broken = await sync.syncOrders(SERVER);
    expect(broken).toMatchObject({ status: 'failed', pass: 'orders' });
    // The deals pass does not depend on it.
    expect(await sync.syncServer(SERVER)).toMatchObject({ status: 'ok', pass: 'deals' });
    const after = await cursorRow();
    expect(after).toMatchObject({
      ordersSyncedTo: before.ordersSyncedTo,
      ordersConsecutiveFailures: 1,
      ordersLeaseOwner: null,
      syncedTo: clock.now(),
      consecutiveFailures: 0,
    });
    expect(after.ordersLastError).toBeTruthy();
    const status = (await sync.status()).find((s) => s.server === SERVER)!;
    expect(status.orders).toMatchObject({ consecutiveFailures: 1, syncedTo: before.ordersSyncedTo });
    await control(sim, 'DELETE', '/control/faults');

    // A worker restart: a new TradeSync reads the persisted orders cursor and stores what was missed.
    await sync.stop();
    const restarted = new TradeSync({
      database,
      platforms: registry,
      clock,
      audit: { record: (tx, e) => recordAudit(tx, e, clock) },
      alerts: alertService,
      externalChanges: new ExternalChangeService({
        database,
        clock,
        audit: { record: (tx, e) => recordAudit(tx, e, clock) },
        alerts: alertService,
      }),
      pumping: false,
      batchSize: 200,
    });
    let result = broken;
    const deadline = Date.now() + 20_000;
    while (result.status !== 'ok' && Date.now() < deadline) {
      clock.advance(60_000);
      result = await restarted.syncOrders(SERVER);
    }
    expect(result.status, result.error).toBe('ok');
    expect(result.from).toEqual(new Date(before.ordersSyncedTo!.getTime() - 10 * 60_000));
    expect(result.inserted).toBeGreaterThan(0);
    await expectExactlyTheServersDeals();
    sync = restarted;
  });

  it('the scheduled tick runs the deals pass and leaves the orders pass running behind it, never waiting for it', async () => {
    await control(sim, 'POST', '/control/activity/step', { steps: 10 });
    // Slow history orders: each page takes 0.7 s (two queued on a session stay within the 2 s request timeout).
    await control(sim, 'POST', '/control/faults', {
      endpoint: '/api/history/get_page',
      kind: 'latency',
      latencyMs: 700,
    });
    clock.advance(120_000);
    const tickAt = clock.now();
    // Only the history passes are due (positions and the account check share the server's sessions).
    const notDue = async () =>
      database.query(
        'update trade_sync_cursors set positions_synced_at = $2, accounts_checked_at = $2 where server_code = $1',
        [SERVER, clock.now()],
      );
    await notDue();
    const before = await cursorRow();
    await sync.tick();
    // The tick has returned with the deals synced up to it; the orders pass is still listing, its cursor where it was.
    expect(await cursorRow()).toMatchObject({ syncedTo: tickAt, ordersSyncedTo: before.ordersSyncedTo });
    await sync.idle();
    expect(await cursorRow()).toMatchObject({ ordersSyncedTo: tickAt, ordersLastError: null });
    await expectExactlyTheServersDeals();
    // Not due again before its own interval (60 s), whatever the deals interval.
    await control(sim, 'DELETE', '/control/faults');
    clock.advance(20_000);
    await notDue();
    await sync.tick();
    await sync.idle();
    expect(await cursorRow()).toMatchObject({ syncedTo: clock.now(), ordersSyncedTo: tickAt });
  });

  it('a server restart in the middle of a pass loses nothing and doubles nothing', async () => {
    await control(sim, 'POST', '/control/activity/step', { steps: 30 });
    const [before] = await database.db.select().from(tradeSyncCursors).where(eq(tradeSyncCursors.serverCode, SERVER));
    await control(sim, 'POST', '/control/faults', {
      endpoint: '/api/deal/get_page',
      kind: 'down',
      probability: 0.4,
      count: 1,
      downSeconds: 1,
    });
    clock.advance(1_000);
    const broken = await sync.syncServer(SERVER);
    expect(broken.status).toBe('failed');
    const [after] = await database.db.select().from(tradeSyncCursors).where(eq(tradeSyncCursors.serverCode, SERVER));
    expect(after!.syncedTo).toEqual(before!.syncedTo);
    expect(after).toMatchObject({ consecutiveFailures: 1, leaseOwner: null });
    expect(after!.lastError).toBeTruthy();

    // The server comes back by itself; passes are retried (the breaker's cool-down runs on the injected clock).
    const deadline = Date.now() + 20_000;
    let result = broken;
    while (result.status !== 'ok' && Date.now() < deadline) {
      clock.advance(60_000);
      await new Promise((r) => setTimeout(r, 200));
      result = await sync.syncServer(SERVER);
    }
    expect(result.status, result.error).toBe('ok');
    expect((await sync.syncOrders(SERVER)).status).toBe('ok');
    await expectExactlyTheServersDeals();
    const [dupes] = await database.query<{ n: number }>(
      `select count(*)::int as n from (select ticket from trade_records where server_code = $1
       group by record_type, ticket having count(*) > 1) d`,
      [SERVER],
    );
    expect(dupes!.n).toBe(0);
  });

  it('a record corrected on the server is updated, versioned and audited (old and new values)', async () => {
    const rows = await stored();
    const row = rows.find((r) => r.recordType === 'deal' && r.entry === 'out' && r.version === 1)!;
    // The server's correction, as the connector would hand it over (the simulator has no route to edit a deal).
    const corrected = normaliseRecord(SERVER, 'mt5', {
      type: 'deal',
      ticket: row.ticket,
      login: row.login,
      order: row.orderTicket,
      positionId: row.positionId,
      symbol: row.symbol!,
      side: row.side!,
      entry: row.entry!,
      volumeLots: row.volume! / 10_000,
      price: row.price!,
      profit: row.profitMinor! + 1_234,
      commission: row.commissionMinor!,
      swap: row.swapMinor!,
      time: row.time,
      comment: row.comment,
      anomalies: [],
    });
    clock.advance(1_000);
    expect(await sync.ingest(SERVER, [corrected], 'pumping')).toMatchObject({ inserted: 0, changed: 1 });
    const [updated] = await database.db.select().from(tradeRecords).where(eq(tradeRecords.id, row.id));
    expect(updated).toMatchObject({ version: 2, profitMinor: row.profitMinor! + 1_234 });
    const [event] = await database.db
      .select()
      .from(auditEvents)
      .where(
        and(eq(auditEvents.action, 'trade_record.changed'), eq(auditEvents.entityId, `${SERVER}:deal:${row.ticket}`)),
      );
    expect(event).toMatchObject({
      actorType: 'server',
      actorId: SERVER,
      before: { version: 1, profitMinor: row.profitMinor },
      after: { version: 2, profitMinor: row.profitMinor! + 1_234 },
    });
    // Seen again as is: nothing. The server's own value on the next pass: the server is the truth, version 3.
    expect(await sync.ingest(SERVER, [corrected], 'poll')).toMatchObject({ changed: 0, unchanged: 1 });
    clock.advance(1_000);
    expect((await sync.syncServer(SERVER)).changed).toBe(1);
    const [restored] = await database.db.select().from(tradeRecords).where(eq(tradeRecords.id, row.id));
    expect(restored).toMatchObject({ version: 3, profitMinor: row.profitMinor });
  });

  it('stores finished orders with type, state and volumes; open orders are a snapshot; one that leaves the book is stored at once', async () => {
    clock.advance(1_000);
    expect((await sync.syncOrders(SERVER)).status).toBe('ok');
    const orders = await serverOrders();
    const rows = (await stored()).filter((r) => r.recordType === 'order');
    expect(rows.length).toBe(orders.size);
    const filled = rows.find((r) => r.orderState === 'filled')!;
    const wire = orders.get(filled.ticket)!;
    expect(filled).toMatchObject({
      login: Number(wire.Login),
      symbol: wire.Symbol,
      orderType: wire.Type === '0' ? 'buy' : wire.Type === '1' ? 'sell' : expect.any(String),
      volume: Number(wire.VolumeInitial),
      volumeRemaining: 0,
      orderTicket: wire.Order,
      positionId: wire.PositionID,
      price: Number(wire.PriceOrder),
      version: 1,
    });
    expect(filled.time.getTime()).toBeGreaterThanOrEqual(filled.openTime!.getTime());

    // A limit order far from the market stays open: it is in the snapshot, not in the history.
    const placed = (await control(sim, 'POST', '/control/dealer/order', {
      login: logins[0],
      symbol: 'EURUSD',
      side: 'buy',
      lots: 0.3,
      price: 0.5,
    })) as { order: { Order: string } };
    const ticket = placed.order.Order;
    const first = await sync.syncPositions(SERVER);
    expect(first?.openOrders).toBeGreaterThanOrEqual(1);
    const [open] = await database.db
      .select()
      .from(tradeOpenOrders)
      .where(and(eq(tradeOpenOrders.serverCode, SERVER), eq(tradeOpenOrders.ticket, ticket)));
    expect(open).toMatchObject({ login: logins[0], orderType: 'buy_limit', state: 'placed', volume: 3000, price: 0.5 });

    // Canceled on the server: the next snapshot drops it and stores its final state by ticket, with no history pass
    // (a history window may not list an order placed long before it finished).
    await control(sim, 'POST', '/control/dealer/order/cancel', { order: Number(ticket) });
    clock.advance(1_000);
    const second = await sync.syncPositions(SERVER);
    expect(second?.finishedOrders).toBe(1);
    expect(
      await database.db
        .select()
        .from(tradeOpenOrders)
        .where(and(eq(tradeOpenOrders.serverCode, SERVER), eq(tradeOpenOrders.ticket, ticket))),
    ).toEqual([]);
    const [finished] = await database.db
      .select()
      .from(tradeRecords)
      .where(
        and(eq(tradeRecords.serverCode, SERVER), eq(tradeRecords.recordType, 'order'), eq(tradeRecords.ticket, ticket)),
      );
    expect(finished).toMatchObject({
      orderState: 'canceled',
      orderType: 'buy_limit',
      volume: 3000,
      volumeRemaining: 3000,
    });
    // Seen again by the orders pass: nothing changes.
    clock.advance(1_000);
    expect(await sync.syncOrders(SERVER)).toMatchObject({ status: 'ok', changed: 0 });
  });

  it('the backfill resumes where it stopped and stores what is missing', async () => {
    await database.db.delete(tradeRecords).where(eq(tradeRecords.serverCode, SERVER));
    const day = 86_400_000;
    const from = new Date(clock.now().getTime() - 3 * day);
    const to = new Date(clock.now().getTime() + 60_000);
    const seen: number[] = [];
    await expect(
      sync.backfill(SERVER, {
        from,
        to,
        chunkMs: day,
        onProgress: (p) => {
          seen.push(p.fraction);
          if (p.position.getTime() >= from.getTime() + 2 * day) throw new Error('interrupted (Ctrl-C)');
        },
      }),
    ).rejects.toThrow(/interrupted/);
    const [cursor] = await database.db.select().from(tradeSyncCursors).where(eq(tradeSyncCursors.serverCode, SERVER));
    expect(cursor!.backfillNext).toEqual(new Date(from.getTime() + 2 * day));
    expect(cursor!.backfillFinishedAt).toBeNull();

    const progress: number[] = [];
    const done = await sync.backfill(SERVER, { from, to, chunkMs: day, onProgress: (p) => progress.push(p.fraction) });
    expect(done.resumedFrom).toEqual(new Date(from.getTime() + 2 * day));
    expect(progress.at(-1)).toBe(1);
    expect(progress[0]).toBeCloseTo(2 / 3, 2);
    await expectExactlyTheServersDeals();
    expect(done.inserted).toBe((await serverRecords()).size);
    const [finished] = await database.db.select().from(tradeSyncCursors).where(eq(tradeSyncCursors.serverCode, SERVER));
    expect(finished!.backfillFinishedAt).not.toBeNull();
    // A new backfill of the same window starts over (the previous one finished) and finds everything in place.
    const again = await sync.backfill(SERVER, { from, to, chunkMs: day });
    expect(again).toMatchObject({ resumedFrom: null, inserted: 0, changed: 0 });
    // Windows listed in parallel store the same, once.
    await database.db.delete(tradeRecords).where(eq(tradeRecords.serverCode, SERVER));
    const parallel = await sync.backfill(SERVER, { from, to, chunkMs: 6 * 3_600_000, parallel: 4 });
    expect(parallel.inserted).toBe((await serverRecords()).size);
    await expectExactlyTheServersDeals();
  });

  it('open positions are a fresh snapshot of the server', async () => {
    const serverPositions = async () => {
      const tickets = new Set<string>();
      for (const login of logins) {
        const view = (await control(sim, 'GET', `/control/accounts/${login}`)) as { positions: { Position: string }[] };
        for (const p of view.positions) tickets.add(p.Position);
      }
      return tickets;
    };
    const storedPositions = async () =>
      new Set(
        (
          await database.db
            .select({ ticket: tradePositions.ticket })
            .from(tradePositions)
            .where(eq(tradePositions.serverCode, SERVER))
        ).map((r) => r.ticket),
      );
    expect(await sync.syncPositions(SERVER)).not.toBeNull();
    const first = await serverPositions();
    expect(first.size).toBeGreaterThan(0);
    expect(await storedPositions()).toEqual(first);
    await control(sim, 'POST', '/control/activity/step', { steps: 20 });
    clock.advance(1_000);
    await sync.syncPositions(SERVER);
    expect(await storedPositions()).toEqual(await serverPositions());
  });

  it('reports the lag per server and alerts above the threshold (once), resolving when caught up', async () => {
    clock.advance(1_000);
    expect((await sync.syncServer(SERVER)).status).toBe('ok');
    const lagOf = async () => {
      const metric = await metricsRegistry.getSingleMetric('brokerdesk_sync_lag_seconds')!.get();
      return metric.values.find((v) => v.labels.server === SERVER)?.value;
    };
    expect(await lagOf()).toBe(0);
    // The orders lag is a metric of its own (not alerted): it follows the orders cursor.
    const ordersLagOf = async () => {
      const metric = await metricsRegistry.getSingleMetric('brokerdesk_sync_orders_lag_seconds')!.get();
      return metric.values.find((v) => v.labels.server === SERVER)?.value;
    };
    const ordersSyncedTo = (await sync.status())[0]!.orders.syncedTo!;
    expect(await ordersLagOf()).toBe((clock.now().getTime() - ordersSyncedTo.getTime()) / 1000);
    clock.advance(301_000);
    expect(await lagOf()).toBe(301);
    await sync.checkLag();
    await sync.checkLag();
    const raised = await database.db
      .select()
      .from(alerts)
      .where(eq(alerts.dedupeKey, `sync_lag:${SERVER}`));
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({ status: 'open', occurrences: 2, kind: 'sync_lag' });
    expect((await sync.status())[0]).toMatchObject({ server: SERVER, lagSeconds: 301 });

    expect((await sync.syncServer(SERVER)).status).toBe('ok');
    await sync.checkLag();
    const [resolved] = await database.db.select().from(alerts).where(eq(alerts.id, raised[0]!.id));
    expect(resolved!.status).toBe('resolved');
    const [{ n }] = (await database.db
      .select({ n: sql<number>`count(*)::int` })
      .from(alerts)
      .where(eq(alerts.kind, 'sync_lag'))) as [{ n: number }];
    expect(n).toBe(1);
  });
});
