/** Simulated client trading: deterministic by seed, realistic in shape, consistent in money. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { field, type Mt5TestClient } from './test-client.ts';
import { allDeals, startTestSim, type TestSim } from './test-support.ts';

type Row = Record<string, string>;
const opened: TestSim[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The same accounts, with explicit logins, on any simulator. */
const ACCOUNTS = [
  { login: 1_100_001, group: 'real\\standard-usd', deposit: 20_000 },
  { login: 1_100_002, group: 'real\\pro-eur', deposit: 15_000 },
  { login: 1_100_003, group: 'real\\standard-jpy', deposit: 3_000_000 },
  { login: 1_100_004, group: 'real\\standard-usd', deposit: 5_000 },
];

async function simWithAccounts(options: Parameters<typeof startTestSim>[0] = {}): Promise<TestSim> {
  const s = await startTestSim(options);
  opened.push(s);
  for (const a of ACCOUNTS) {
    const r = await s.control('POST', '/control/accounts', { ...a, name: `Trader ${a.login}`, leverage: 100 });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
  }
  return s;
}

async function step(s: TestSim, steps: number): Promise<void> {
  const r = await s.control('POST', '/control/activity/step', { steps });
  expect(r.status).toBe(200);
}

/** Everything a connector would sync, minus the wall-clock fields that differ between two runs. */
async function snapshot(c: Mt5TestClient): Promise<unknown> {
  const strip = (rows: Row[]) =>
    rows.map((r) =>
      Object.fromEntries(
        Object.entries(r).filter(
          ([k]) => !/^Time/.test(k) && !['Registration', 'LastAccess', 'LastPassChange'].includes(k),
        ),
      ),
    );
  const out: Record<number, unknown> = {};
  for (const { login } of ACCOUNTS) {
    out[login] = {
      deals: strip(await allDeals(c, login)),
      positions: strip((await c.get('/api/position/get_page', { login, offset: 0, total: 100 })).answer as Row[]),
      orders: strip((await c.get('/api/order/get_page', { login, offset: 0, total: 100 })).answer as Row[]),
      account: (await c.get('/api/user/account/get', { login })).answer,
    };
  }
  return out;
}

describe('trading activity', () => {
  it('is identical for two simulators with the same seed and accounts', async () => {
    const a = await simWithAccounts({ seed: 42 });
    const b = await simWithAccounts({ seed: 42 });
    await step(a, 80);
    await step(b, 40);
    await step(b, 40);
    const ca = await a.authed();
    const cb = await b.authed();
    const left = await snapshot(ca);
    expect(await snapshot(cb)).toEqual(left);
    const deals = Object.values(left as Record<string, { deals: Row[] }>).flatMap((x) => x.deals);
    expect(deals.filter((d) => d.Action === '0' || d.Action === '1').length).toBeGreaterThan(20);
  });

  it('differs for another seed', async () => {
    const a = await simWithAccounts({ seed: 1 });
    const b = await simWithAccounts({ seed: 2 });
    await step(a, 40);
    await step(b, 40);
    expect(await snapshot(await b.authed())).not.toEqual(await snapshot(await a.authed()));
  });

  it('continues the same sequence after a restart with the same state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt5-activity-'));
    dirs.push(dir);
    const first = await simWithAccounts({ seed: 9, stateDir: dir });
    await step(first, 30);
    opened.splice(opened.indexOf(first), 1);
    await first.close();
    const resumed = await startTestSim({ seed: 9, stateDir: dir });
    opened.push(resumed);
    await step(resumed, 30);
    const straight = await simWithAccounts({ seed: 9 });
    await step(straight, 60);
    expect(await snapshot(await resumed.authed())).toEqual(await snapshot(await straight.authed()));
  });

  it('produces in and out deals, commission, swaps, pending orders, netting and hedging positions', async () => {
    const s = await simWithAccounts({ seed: 5 });
    const c = await s.authed();
    let sawPending = false;
    let sawNettingViolation = false;
    for (let i = 0; i < 12; i++) {
      await step(s, 10);
      for (const { login } of ACCOUNTS) {
        if (Number(field((await c.get('/api/order/get_total', { login })).answer, 'total')) > 0) sawPending = true;
      }
      const netting = (await c.get('/api/position/get_page', { login: 1_100_002, offset: 0, total: 100 }))
        .answer as Row[];
      if (new Set(netting.map((p) => p.Symbol)).size !== netting.length) sawNettingViolation = true;
    }
    const deals = (await Promise.all(ACCOUNTS.map((a) => allDeals(c, a.login)))).flat();
    const trades = deals.filter((d) => d.Action === '0' || d.Action === '1');
    expect(trades.some((d) => d.Entry === '0')).toBe(true);
    expect(trades.some((d) => d.Entry === '1')).toBe(true);
    expect(trades.every((d) => Number(d.Commission) < 0)).toBe(true);
    expect(trades.some((d) => d.Entry !== '0' && Number(d.Storage) !== 0)).toBe(true);
    expect(new Set(trades.map((d) => d.Symbol)).size).toBeGreaterThanOrEqual(3);
    for (const d of trades) {
      expect(Number(d.Volume) * 10_000).toBe(Number(d.VolumeExt));
      expect(Number(d.PositionID)).toBeGreaterThan(0);
    }
    const history = (
      await Promise.all(
        ACCOUNTS.map(
          async (a) =>
            (
              await c.get('/api/history/get_page', { login: a.login, from: 0, to: 2e9, offset: 0, total: 100 })
            ).answer as Row[],
        ),
      )
    ).flat();
    expect(history.some((o) => o.State === '4')).toBe(true);
    expect(sawPending || history.some((o) => o.State === '2' || o.Type === '2' || o.Type === '3')).toBe(true);
    expect(sawNettingViolation).toBe(false);
  });

  it('keeps every balance equal to the sum of its deals', async () => {
    const s = await simWithAccounts({ seed: 11 });
    await step(s, 120);
    const c = await s.authed();
    for (const { login } of ACCOUNTS) {
      const deals = await allDeals(c, login);
      const digits = Number(deals[0]!.DigitsCurrency);
      const minor = 10 ** digits;
      let balance = 0;
      let credit = 0;
      for (const d of deals) {
        const cents = (x: string) => Math.round(Number(x) * minor);
        if (d.Action === '3') credit += cents(d.Profit!);
        else balance += cents(d.Profit!) + cents(d.Commission!) + cents(d.Storage!);
      }
      const user = (await c.get('/api/user/get', { login })).answer as Row;
      expect(Math.round(Number(user.Balance) * minor), String(login)).toBe(balance);
      expect(Math.round(Number(user.Credit) * minor)).toBe(credit);
    }
  });

  it('leaves alone accounts that are disabled, may not trade, are read-only or have no money', async () => {
    const s = await simWithAccounts({ seed: 3 });
    const [a, b, c3] = ACCOUNTS;
    await s.control('POST', '/control/dealer/rights', { login: a!.login, enabled: false });
    await s.control('POST', '/control/dealer/rights', { login: b!.login, trading: false });
    await s.control('POST', '/control/dealer/rights', { login: c3!.login, readOnly: true });
    const empty = await s.control('POST', '/control/accounts', {
      group: 'real\\standard-usd',
      name: 'Empty',
      leverage: 100,
    });
    await step(s, 60);
    const c = await s.authed();
    for (const login of [a!.login, b!.login, c3!.login, Number(empty.json.Login)]) {
      const deals = await allDeals(c, login);
      expect(
        deals.filter((d) => d.Action === '0' || d.Action === '1'),
        String(login),
      ).toEqual([]);
    }
    const active = await allDeals(c, ACCOUNTS[3]!.login);
    expect(active.some((d) => d.Action === '0' || d.Action === '1')).toBe(true);
  });

  it('skips an account too poor for the smallest lot instead of looping', async () => {
    const s = await startTestSim({ seed: 4 });
    opened.push(s);
    const poor = await s.control('POST', '/control/accounts', {
      group: 'real\\standard-jpy',
      name: 'Poor',
      leverage: 1,
      deposit: 150,
    });
    await step(s, 50);
    const c = await s.authed();
    const trades = (await allDeals(c, Number(poor.json.Login))).filter((d) => d.Action === '0' || d.Action === '1');
    expect(trades).toEqual([]);
  });

  it('runs by itself only when an interval is configured', async () => {
    const idle = await simWithAccounts({ seed: 4 });
    expect((await idle.control('GET', '/control/status')).json.activityStep).toBe(0);
    const busy = await simWithAccounts({ seed: 4, activityIntervalMs: 10 });
    const deadline = Date.now() + 10_000;
    let steps = 0;
    while (steps < 3 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      steps = Number((await busy.control('GET', '/control/status')).json.activityStep);
    }
    expect(steps).toBeGreaterThanOrEqual(3);
    expect((await idle.control('GET', '/control/status')).json.activityStep).toBe(0);
  });
});
