import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectorConfig, control, startMt4 } from '../../../test/support/simulators.ts';
import { newReference } from '../reference.ts';
import { Mt4Connector } from './connector.ts';
import { Mt4PumpingClient, type PumpingEvent } from './pumping.ts';

type Sim = Awaited<ReturnType<typeof startMt4>>;

const passwords = { mainPassword: 'Main1pass', investorPassword: 'Inv2pass' };
const USD = 'real-std-usd';
const POLL = { timeout: 15_000, interval: 50 };

/** Collects a client's events; `next` waits (by polling, no sleeps) for the first one after `from` that matches. */
class Recorder {
  readonly events: PumpingEvent[] = [];
  readonly listener = (event: PumpingEvent) => {
    this.events.push(event);
  };

  get size(): number {
    return this.events.length;
  }

  async next<T extends PumpingEvent['type']>(
    type: T,
    match: (e: Extract<PumpingEvent, { type: T }>) => boolean = () => true,
    from = 0,
  ): Promise<Extract<PumpingEvent, { type: T }>> {
    const find = () =>
      this.events
        .slice(from)
        .find((e): e is Extract<PumpingEvent, { type: T }> => e.type === type && match(e as never));
    await expect.poll(() => find() !== undefined, POLL).toBe(true);
    return find()!;
  }
}

describe('MT4 pumping client', () => {
  let sim: Sim;
  let mt4: Mt4Connector;
  let login: number;
  const pumps: Mt4PumpingClient[] = [];
  const subscribers = async () =>
    ((await control(sim, 'GET', '/control/pumping')) as { subscribers: number }).subscribers;

  /** Subscribes and waits until the first stream is open. */
  async function subscribe(options = {}): Promise<{ pump: Mt4PumpingClient; recorder: Recorder }> {
    const recorder = new Recorder();
    const pump = mt4.subscribe(recorder.listener, { retryDelayMs: 20, maxRetryDelayMs: 200, ...options });
    pumps.push(pump);
    await recorder.next('subscribed');
    return { pump, recorder };
  }

  beforeAll(async () => {
    sim = await startMt4({ name: 'mt4-pumping', seed: 3, pumpingDropIntervalMs: 0 });
    mt4 = new Mt4Connector(connectorConfig(sim));
    login = (await mt4.openAccount({ group: USD, name: 'Pumped', leverage: 100, ...passwords })).login;
    await mt4.postBalanceOperation({ login, kind: 'balance', amount: 1_000_000, reference: newReference('deposit') });
  });
  afterEach(async () => {
    await Promise.all(pumps.splice(0).map((p) => p.stop()));
    await control(sim, 'DELETE', '/control/faults');
  });
  afterAll(async () => {
    await mt4.close();
    await sim.close();
  });

  it('delivers a dealer balance correction, normalised, with no CRM reference, then the account change', async () => {
    const { recorder } = await subscribe();
    const { trade } = (await control(sim, 'POST', '/control/dealer/balance', {
      login,
      amount: -45.5,
      comment: 'fee refund reversal',
    })) as { trade: { order: number } };
    const balance = await recorder.next('balance', (e) => e.record.ticket === String(trade.order));
    expect(balance).toMatchObject({
      change: 'added',
      record: {
        login,
        kind: 'balance',
        amount: -4_550,
        comment: 'fee refund reversal',
        reference: null,
        anomalies: [],
      },
    });
    expect(Math.abs(balance.time.getTime() - Date.now())).toBeLessThan(120_000);
    const account = await recorder.next('account', (e) => e.account.login === login, recorder.events.indexOf(balance));
    expect(account).toMatchObject({ change: 'updated', account: { currency: 'USD', currencyDigits: 2 } });
    expect(account.account.balance).toBe((await mt4.getAccount(login)).balance);
    expect(account.seq).toBeGreaterThan(balance.seq);
  });

  it("carries the CRM's own operations with their reference, and new accounts", async () => {
    const { recorder } = await subscribe();
    const reference = newReference('open_account');
    const opened = await mt4.openAccount({
      group: USD,
      name: 'Fresh',
      leverage: 100,
      comment: reference,
      ...passwords,
    });
    expect((await recorder.next('account', (e) => e.account.login === opened.login)).account).toMatchObject({
      comment: reference,
      group: USD,
      balance: 0,
    });
    const deposit = newReference('deposit');
    await mt4.postBalanceOperation({ login: opened.login, kind: 'balance', amount: 2_500, reference: deposit });
    expect(await recorder.next('balance', (e) => e.record.reference === deposit)).toMatchObject({
      record: { amount: 2_500, login: opened.login },
    });
  });

  it('delivers positions as they open and trades as they close, in lots and minor units', async () => {
    const { recorder } = await subscribe();
    const { trade } = (await control(sim, 'POST', '/control/dealer/trades/open', {
      login,
      symbol: 'GBPUSD',
      cmd: 1,
      volume: 30,
    })) as { trade: { order: number } };
    const ticket = String(trade.order);
    expect(await recorder.next('position', (e) => e.position.ticket === ticket)).toMatchObject({
      change: 'opened',
      position: { login, symbol: 'GBPUSD', side: 'sell', volumeLots: 0.3 },
    });
    await control(sim, 'POST', '/control/dealer/trades/close', { order: trade.order });
    const closed = await recorder.next('closed_trade', (e) => e.trade.ticket === ticket);
    expect(closed).toMatchObject({ change: 'closed', trade: { symbol: 'GBPUSD', side: 'sell', volumeLots: 0.3 } });
    expect(Number.isInteger(closed.trade.profit)).toBe(true);
  });

  it('re-subscribes by itself after the bridge drops the stream, says so, and receives later events', async () => {
    const { recorder, pump } = await subscribe();
    await control(sim, 'POST', '/control/dealer/balance', { login, amount: 1, comment: 'before the drop' });
    const before = await recorder.next('balance', (e) => e.record.comment === 'before the drop');
    expect(await control(sim, 'POST', '/control/pumping/drop')).toMatchObject({ dropped: 1 });
    const dropped = await recorder.next('dropped');
    expect(dropped.retryInMs).toBe(20);
    const resubscribed = await recorder.next('resubscribed');
    expect(resubscribed).toMatchObject({ drops: 1, lastEventAt: before.time });
    expect(recorder.events.indexOf(resubscribed)).toBeGreaterThan(recorder.events.indexOf(dropped));
    expect(pump.subscribed).toBe(true);
    const mark = recorder.size;
    await control(sim, 'POST', '/control/dealer/balance', { login, amount: 2, comment: 'after the drop' });
    expect(await recorder.next('balance', (e) => e.record.comment === 'after the drop', mark)).toMatchObject({
      record: { amount: 200 },
    });
  });

  it('logs in again when the session went with the stream', async () => {
    const { recorder } = await subscribe();
    await control(sim, 'POST', '/control/sessions/drop', {});
    await recorder.next('resubscribed');
    const mark = recorder.size;
    await control(sim, 'POST', '/control/dealer/balance', { login, amount: 3, comment: 'new session' });
    await recorder.next('balance', (e) => e.record.comment === 'new session', mark);
  });

  it('keeps trying while the bridge restarts, backing off, and resumes when it is back', async () => {
    const { recorder } = await subscribe();
    await control(sim, 'POST', '/control/restart', { seconds: 1 });
    const resubscribed = await recorder.next('resubscribed');
    const drops = recorder.events.filter((e) => e.type === 'dropped');
    expect(drops.length).toBeGreaterThanOrEqual(2);
    // Each failed attempt waits longer, up to the ceiling.
    const waits = drops.map((e) => (e.type === 'dropped' ? e.retryInMs : 0));
    expect(waits.slice(0, 3)).toEqual([20, 40, 80].slice(0, Math.min(3, waits.length)));
    expect(Math.max(...waits)).toBeLessThanOrEqual(200);
    expect(drops.some((e) => e.type === 'dropped' && e.error?.name === 'NotSentError')).toBe(true);
    const mark = recorder.events.indexOf(resubscribed);
    await control(sim, 'POST', '/control/dealer/balance', { login, amount: 4, comment: 'after restart' });
    await recorder.next('balance', (e) => e.record.comment === 'after restart', mark);
  });

  it('a listener that fails ends the stream, so the gap is announced instead of lost', async () => {
    const recorder = new Recorder();
    let failOnce = true;
    const pump = mt4.subscribe(
      (event) => {
        if (event.type === 'balance' && failOnce) {
          failOnce = false;
          throw new Error('ledger unavailable');
        }
        recorder.listener(event);
      },
      { retryDelayMs: 20 },
    );
    pumps.push(pump);
    await recorder.next('subscribed');
    await control(sim, 'POST', '/control/dealer/balance', { login, amount: 5, comment: 'not handled' });
    const dropped = await recorder.next('dropped');
    expect(dropped.reason).toContain('ledger unavailable');
    await recorder.next('resubscribed');
  });

  it('notices a stream that has gone silent and replaces it', async () => {
    // The simulator's keep-alive comes every 15 s; a silence limit below that makes the client give up on it.
    const { recorder } = await subscribe({ silenceTimeoutMs: 300 });
    const dropped = await recorder.next('dropped');
    expect(dropped.reason).toContain('no data for 300 ms');
    await recorder.next('resubscribed');
  });

  it('a stream refused for lack of rights is reported and retried, not given up silently', async () => {
    const limited = await startMt4({
      name: 'mt4-norights',
      managers: [{ login: 1000, password: 'Cash-pass-1', rights: ['money'], groups: 'real-*' }],
    });
    const recorder = new Recorder();
    const pump = new Mt4PumpingClient(
      connectorConfig(limited, { managerLogin: 1000, password: 'Cash-pass-1' }),
      recorder.listener,
      { retryDelayMs: 20, maxRetryDelayMs: 50 },
    );
    try {
      pump.start();
      const dropped = await recorder.next('dropped');
      expect(dropped.error).toMatchObject({ errorClass: 'definitive', reason: 'no_rights', code: 7 });
      await expect.poll(() => recorder.events.filter((e) => e.type === 'dropped').length, POLL).toBeGreaterThan(2);
    } finally {
      await pump.stop();
      await limited.close();
    }
  });

  it('stops cleanly: no stream, no session, no more events', async () => {
    const { pump, recorder } = await subscribe();
    await expect.poll(subscribers, POLL).toBe(1);
    await pump.stop();
    expect(pump.subscribed).toBe(false);
    await expect.poll(subscribers, POLL).toBe(0);
    const mark = recorder.size;
    await control(sim, 'POST', '/control/dealer/balance', { login, amount: 6, comment: 'after stop' });
    // The connector's own call proves the change was published; the stopped client must not have seen it.
    expect((await mt4.getAccount(login)).balance).toBeGreaterThan(0);
    expect(recorder.events.slice(mark)).toEqual([]);
    await pump.stop();
  });
});
