import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StepReport } from './activity.ts';
import { ROLLOVER_EVERY_STEPS } from './activity.ts';
import type { TradeRecord } from './contract.ts';
import type { Mt4SimulatorOptions } from './server.ts';
import { Harness } from './test-support.ts';

/** Everything but the times, which come from the server clock rather than the seed. */
function timeless(trades: TradeRecord[]) {
  return trades.map(({ open_time: _o, close_time: _c, timestamp: _t, ...rest }) => rest);
}

interface Population {
  traders: number[];
  readOnly: number;
  disabled: number;
  empty: number;
}

/** The same accounts, opened in the same order, on any simulator. */
async function populate(h: Harness): Promise<Population> {
  const crm = await h.client();
  const traders = [];
  for (const [group, amount] of [
    ['real-std-usd', 5000],
    ['real-pro-usd', 20_000],
    ['real-std-eur', 8000],
    ['real-std-usd', 1500],
  ] as const) {
    const login = await h.openAccount(crm, group);
    await h.deposit(crm, login, amount);
    traders.push(login);
  }
  const readOnly = await h.openAccount(crm, 'real-std-usd', { enable_read_only: 1 });
  await h.deposit(crm, readOnly, 5000);
  const disabled = await h.openAccount(crm, 'real-std-usd', { enable: 0 });
  await h.deposit(crm, disabled, 5000);
  const empty = await h.openAccount(crm, 'real-std-usd');
  return { traders, readOnly, disabled, empty };
}

async function run(options: Mt4SimulatorOptions, steps: number) {
  const h = await Harness.start(options);
  try {
    const population = await populate(h);
    const report = await h.control.post<StepReport>('/control/activity/step', { steps });
    const trades = await h.control.get<TradeRecord[]>('/control/trades');
    return { population, report, trades };
  } finally {
    await h.close();
  }
}

describe('MT4 trading activity generator', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('is deterministic: same seed, accounts and steps give the same trades', async () => {
    const a = await run({ seed: 42 }, 120);
    const b = await run({ seed: 42 }, 120);
    const marketTrades = a.trades.filter((t) => t.cmd <= 1);
    expect(marketTrades.length).toBeGreaterThan(20);
    expect(timeless(b.trades)).toEqual(timeless(a.trades));
    expect(b.report).toEqual(a.report);

    // The generator covers what connectors must handle: suffixed symbols, both directions, EAs, storage, commission.
    expect(new Set(marketTrades.map((t) => t.symbol))).toEqual(new Set(['EURUSD', 'GBPUSD', 'USDJPY', 'XAUUSD.m']));
    expect(new Set(marketTrades.map((t) => t.cmd))).toEqual(new Set([0, 1]));
    expect(marketTrades.some((t) => t.magic !== 0 && t.comment === 'EA grid v2')).toBe(true);
    expect(marketTrades.some((t) => t.storage !== 0)).toBe(true);
    expect(marketTrades.filter((t) => t.commission !== 0).every((t) => t.login === a.population.traders[1])).toBe(true);
    expect(marketTrades.some((t) => t.close_time !== 0 && t.profit !== 0)).toBe(true);

    // Only enabled, tradable accounts with money trade.
    const traders = new Set(marketTrades.map((t) => t.login));
    for (const login of [a.population.readOnly, a.population.disabled, a.population.empty]) {
      expect(traders.has(login)).toBe(false);
    }
  });

  it('differs with another seed', async () => {
    const a = await run({ seed: 1 }, 60);
    const b = await run({ seed: 2 }, 60);
    expect(timeless(b.trades)).not.toEqual(timeless(a.trades));
  });

  it('continues the same sequence after a restart with the same state folder', async () => {
    const whole = await run({ seed: 7 }, 2 * ROLLOVER_EVERY_STEPS + 10);

    const dir = mkdtempSync(join(tmpdir(), 'mt4-activity-'));
    dirs.push(dir);
    const first = await Harness.start({ seed: 7, stateDir: dir });
    await populate(first);
    await first.control.post('/control/activity/step', { steps: ROLLOVER_EVERY_STEPS + 3 });
    await first.close();
    const second = await Harness.start({ seed: 7, stateDir: dir });
    try {
      const report = await second.control.post<StepReport>('/control/activity/step', {
        steps: ROLLOVER_EVERY_STEPS + 7,
      });
      expect(report.step).toBe(2 * ROLLOVER_EVERY_STEPS + 10);
      const trades = await second.control.get<TradeRecord[]>('/control/trades');
      expect(timeless(trades)).toEqual(timeless(whole.trades));
    } finally {
      await second.close();
    }
  });

  it('pumps the trades it makes, and they reach history and the open-trade list', async () => {
    const h = await Harness.start({ seed: 3 });
    try {
      const crm = await h.client();
      const { traders } = await populate(h);
      const stream = await crm.pumping();
      const report = await h.control.post<StepReport>('/control/activity/step', { steps: ROLLOVER_EVERY_STEPS });
      expect(report.opened.length).toBeGreaterThan(0);
      expect(report.closed.length).toBeGreaterThan(0);

      const firstOpen = report.opened[0]!;
      const added = await stream.nextChange('trade_add', (e) => e.trade?.order === firstOpen);
      expect(added.trade!.close_time).toBe(0);
      expect(added.trade!.volume).toBeGreaterThan(0);
      const firstClose = report.closed[0]!;
      const closed = await stream.nextChange('trade_close', (e) => e.trade?.order === firstClose);
      expect(closed.trade!.close_time).toBeGreaterThan(0);
      await stream.nextChange('user_update', (e) => e.user?.login === closed.trade!.login);
      expect(report.storageCharged).toBeGreaterThan(0);
      await stream.nextChange('trade_update', (e) => (e.trade?.storage ?? 0) !== 0);

      const history = (await crm.ok('TradesUserHistory', { login: closed.trade!.login, from: 0, to: 2e9 })).trades;
      expect(history.find((t) => t.order === firstClose)).toMatchObject({ profit: closed.trade!.profit });
      const open = (await crm.ok('TradesRequest')).trades;
      const stillOpen = report.opened.filter((o) => !report.closed.includes(o) && !report.stoppedOut.includes(o));
      expect(open.map((t) => t.order).sort()).toEqual([...stillOpen].sort());
      expect(open.every((t) => traders.includes(t.login))).toBe(true);
      stream.close();
    } finally {
      await h.close();
    }
  });

  it('runs on its own timer only when activityIntervalMs is set', async () => {
    const manual = await Harness.start({});
    const timed = await Harness.start({ activityIntervalMs: 20 });
    try {
      const deadline = Date.now() + 20_000;
      let step = 0;
      while (step < 3 && Date.now() < deadline) {
        step = (await timed.control.get<{ activityStep: number }>('/control/status')).activityStep;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(step).toBeGreaterThanOrEqual(3);
      expect((await manual.control.get<{ activityStep: number }>('/control/status')).activityStep).toBe(0);
    } finally {
      await manual.close();
      await timed.close();
    }
  });
});
