/**
 * MT4 pumping and the catch-up poll feed one history: the stream is dropped in the middle of trading activity and
 * kept down for a while (the bridge refuses to re-subscribe), trading and a dealer correction go on meanwhile, and
 * once the stream is back the catch-up poll has stored what the stream missed. Every record is there exactly once.
 */

import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { externalChanges, tradeOpenOrders, tradePositions, tradeRecords } from '../../src/db/schema.ts';
import { AlertService } from '../../src/modules/alerts/service.ts';
import { recordAudit } from '../../src/modules/audit/service.ts';
import { ExternalChangeService } from '../../src/modules/external-changes/service.ts';
import { TradeSync } from '../../src/modules/trades/sync.ts';
import { createMt4Connector, Mt4Connector } from '../../src/platforms/mt4/connector.ts';
import { newReference } from '../../src/platforms/reference.ts';
import { ServerRegistry } from '../../src/platforms/registry.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { connectorConfig, control, startMt4 } from '../support/simulators.ts';

const SERVER = 'mt4-sync';
const POLL = { timeout: 15_000, interval: 50 };

interface SimTrade {
  order: number;
  login: number;
  cmd: number;
  close_time: number;
}

describe('MT4 sync: pumping with catch-up', () => {
  let database: TestDatabase;
  let sim: Awaited<ReturnType<typeof startMt4>>;
  let registry: ServerRegistry;
  let sync: TradeSync;
  let mt4: Mt4Connector;
  const clock = new ManualClock(new Date());
  const logins: number[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    sim = await startMt4({ name: SERVER, seed: 9, pumpingDropIntervalMs: 0 });
    const env = { SYNC_MT4_PASSWORD: sim.manager.password };
    registry = new ServerRegistry({ database, clock, factories: { mt4: createMt4Connector }, env });
    await registry.upsert({
      code: SERVER,
      platform: 'mt4',
      environment: 'live',
      address: sim.url,
      managerLogin: sim.manager.login,
      passwordSecret: 'env:SYNC_MT4_PASSWORD',
      caCertPath: sim.certPath ?? null,
      requestTimeoutMs: 2000,
      connectTimeoutMs: 1000,
    });
    const alerts = new AlertService({ clock });
    const audit = {
      record: (tx: Parameters<typeof recordAudit>[0], e: Parameters<typeof recordAudit>[1]) =>
        recordAudit(tx, e, clock),
    };
    sync = new TradeSync({
      database,
      platforms: registry,
      clock,
      audit,
      alerts,
      externalChanges: new ExternalChangeService({ database, clock, audit, alerts }),
      env,
    });
    // Accounts opened and funded as the CRM does it (references in the comments).
    mt4 = new Mt4Connector(connectorConfig(sim, { code: SERVER }));
    for (let i = 0; i < 8; i++) {
      const account = await mt4.openAccount({
        group: 'real-std-usd',
        name: `Trader ${i}`,
        leverage: 100,
        comment: newReference('open_account'),
        mainPassword: 'Main1pass',
        investorPassword: 'Inv2pass',
      });
      logins.push(account.login);
      await mt4.postBalanceOperation({
        login: account.login,
        kind: 'balance',
        amount: 5_000_000,
        reference: newReference('deposit'),
      });
    }
  });
  afterAll(async () => {
    await sync?.stop();
    await mt4?.close();
    await registry?.close();
    await sim?.close();
    await database?.drop();
  });

  /** The bridge's own history for our accounts: balance/credit records and closed market trades. */
  async function serverHistory(): Promise<Set<string>> {
    const trades = (await control(sim, 'GET', '/control/trades')) as SimTrade[];
    return new Set(
      trades
        .filter((t) => logins.includes(t.login))
        .filter((t) => t.cmd === 6 || t.cmd === 7 || ((t.cmd === 0 || t.cmd === 1) && t.close_time !== 0))
        .map((t) => String(t.order)),
    );
  }
  const storedTickets = async () =>
    (
      await database.db
        .select({ ticket: tradeRecords.ticket, source: tradeRecords.source })
        .from(tradeRecords)
        .where(eq(tradeRecords.serverCode, SERVER))
    ).map((r) => r);

  it('a dropped stream loses nothing: the catch-up poll stores what it missed, each record once', async () => {
    await sync.start();
    await expect.poll(() => sync.feedState(SERVER)?.live ?? false, POLL).toBe(true);
    // The first catch-up (no cursor yet) stored the deposits.
    expect((await storedTickets()).length).toBe(logins.length);

    // Trading while the stream is up: pushed records arrive by pumping.
    await control(sim, 'POST', '/control/activity/step', { steps: 25 });
    const live = await serverHistory();
    await expect.poll(async () => (await storedTickets()).length, POLL).toBe(live.size);
    expect((await storedTickets()).filter((r) => r.source === 'pumping').length).toBeGreaterThan(0);

    // Drop the stream and keep it down for a while; trading and a dealer's correction go on meanwhile.
    await control(sim, 'POST', '/control/faults', { endpoint: '/v1/Pumping', kind: 'refuse', count: 3 });
    await control(sim, 'POST', '/control/pumping/drop');
    await expect.poll(() => sync.feedState(SERVER)?.live, POLL).toBe(false);
    await control(sim, 'POST', '/control/activity/step', { steps: 25 });
    const { trade } = (await control(sim, 'POST', '/control/dealer/balance', {
      login: logins[0],
      amount: -12.34,
      comment: 'dealer fee',
    })) as { trade: { order: number } };
    const missed = [...(await serverHistory())].filter((t) => !live.has(t));
    expect(missed.length).toBeGreaterThan(1);

    // The stream comes back by itself; the catch-up runs; the server is live again.
    await expect
      .poll(() => {
        const s = sync.feedState(SERVER);
        return s !== null && s.drops >= 1 && s.live;
      }, POLL)
      .toBe(true);
    const all = await serverHistory();
    const rows = await storedTickets();
    expect(rows.length).toBe(all.size);
    expect(new Set(rows.map((r) => r.ticket))).toEqual(all);
    // What the stream missed came from the catch-up poll.
    const bySource = new Map(rows.map((r) => [r.ticket, r.source]));
    for (const ticket of missed) expect(bySource.get(ticket)).toBe('poll');

    // The dealer's fee is an external change (once), and the bridge's other records are not.
    const changes = await database.db.select().from(externalChanges).where(eq(externalChanges.serverCode, SERVER));
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ ticket: String(trade.order), amountMinor: -1_234, kind: 'balance_record' });

    // A full poll afterwards finds nothing new.
    clock.advance(60_000);
    expect(await sync.syncServer(SERVER)).toMatchObject({ status: 'ok', inserted: 0, changed: 0 });

    // Open trades: pumped as positions, and a listing agrees with the bridge.
    await sync.syncPositions(SERVER);
    const open = (await control(sim, 'GET', '/control/trades?open=1')) as { order: number; login: number }[];
    const positions = await database.db.select().from(tradePositions).where(eq(tradePositions.serverCode, SERVER));
    expect(new Set(positions.map((p) => p.ticket))).toEqual(
      new Set(open.filter((t) => logins.includes(t.login)).map((t) => String(t.order))),
    );
  });

  it('pending orders arrive by pumping: placed into the open book, deleted into the history, before any orders pass', async () => {
    await expect.poll(() => sync.feedState(SERVER)?.live ?? false, POLL).toBe(true);
    const { trade } = (await control(sim, 'POST', '/control/dealer/orders/place', {
      login: logins[1],
      symbol: 'EURUSD',
      cmd: 2,
      volume: 40,
      price: 0.8,
      comment: 'pumped order',
    })) as { trade: { order: number } };
    const ticket = String(trade.order);
    const openOrder = () =>
      database.db
        .select()
        .from(tradeOpenOrders)
        .where(and(eq(tradeOpenOrders.serverCode, SERVER), eq(tradeOpenOrders.ticket, ticket)));
    await expect.poll(async () => (await openOrder()).length, POLL).toBe(1);
    expect((await openOrder())[0]).toMatchObject({ login: logins[1], orderType: 'buy_limit', state: 'placed' });

    await control(sim, 'POST', '/control/dealer/orders/delete', { order: trade.order });
    const finished = async () =>
      (
        await database.db
          .select()
          .from(tradeRecords)
          .where(
            and(
              eq(tradeRecords.serverCode, SERVER),
              eq(tradeRecords.recordType, 'order'),
              eq(tradeRecords.ticket, ticket),
            ),
          )
      )[0];
    await expect.poll(async () => (await finished())?.orderState, POLL).toBe('canceled');
    expect(await finished()).toMatchObject({ source: 'pumping', orderType: 'buy_limit', login: logins[1] });
    expect(await openOrder()).toHaveLength(0);
    // The orders pass (the safety net) finds it in place.
    clock.advance(60_000);
    const pass = await sync.syncOrders(SERVER);
    expect(pass).toMatchObject({ status: 'ok', pass: 'orders', inserted: 0, changed: 0 });
    expect(pass.unchanged).toBeGreaterThan(0);
  });
});
