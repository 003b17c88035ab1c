/** Restarting with the same state folder restores everything acknowledged, and counters never go back. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { field, Mt5TestClient } from './test-client.ts';
import { allDeals, deposit, openAccount, startTestSim } from './test-support.ts';

const runTs = fileURLToPath(new URL('../../bin/run-ts.mjs', import.meta.url));
const childSim = fileURLToPath(new URL('./child-sim.ts', import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mt5-state-'));
  dirs.push(d);
  return d;
}

describe('restart with the same state folder', () => {
  it('restores accounts, money, deals, positions, the manager password, the certificate and the counters', async () => {
    const dir = stateDir();
    const first = await startTestSim({ stateDir: dir, seed: 7 });
    const c1 = await first.authed();
    const usd = await openAccount(c1, 'real\\standard-usd', { email: 'keep@example.com' });
    const eur = await openAccount(c1, 'real\\pro-eur');
    const gone = await openAccount(c1, 'real\\standard-usd');
    await deposit(c1, usd, 5000, 'ref:P1');
    await deposit(c1, eur, 3000, 'ref:P2');
    await c1.get('/api/trade/balance', { login: usd, type: 3, balance: 200, comment: 'bonus credit' });
    await c1.get('/api/user/update', { login: usd, name: 'Renamed Before Restart' });
    await c1.get('/api/user/delete', { login: gone });
    await first.control('POST', '/control/dealer/trade', { login: usd, symbol: 'GBPUSD', side: 'sell', lots: 0.3 });
    await first.control('POST', '/control/activity/step', { steps: 25 });

    const before = {
      user: (await c1.get('/api/user/get', { login: usd })).answer,
      account: (await c1.get('/api/user/account/get', { login: usd })).answer,
      deals: [...(await allDeals(c1, usd)), ...(await allDeals(c1, eur))],
      positions: (await c1.get('/api/position/get_page', { login: usd, offset: 0, total: 100 })).answer,
      history: (await c1.get('/api/history/get_page', { login: eur, from: 0, to: 2e9, offset: 0, total: 100 })).answer,
      password: first.sim.manager.password,
      cert: readFileSync(first.sim.certPath!, 'utf8'),
      step: (await first.control('GET', '/control/status')).json.activityStep,
    };
    await first.close();

    const second = await startTestSim({ stateDir: dir, seed: 7 });
    try {
      expect(second.sim.manager.password).toBe(before.password);
      expect(readFileSync(second.sim.certPath!, 'utf8')).toBe(before.cert);
      const c2 = await second.authed();
      expect((await c2.get('/api/user/get', { login: usd })).answer).toEqual(before.user);
      expect(field(before.user, 'name')).toBe('Renamed Before Restart');
      expect((await c2.get('/api/user/account/get', { login: usd })).answer).toEqual(before.account);
      expect([...(await allDeals(c2, usd)), ...(await allDeals(c2, eur))]).toEqual(before.deals);
      expect((await c2.get('/api/position/get_page', { login: usd, offset: 0, total: 100 })).answer).toEqual(
        before.positions,
      );
      expect(
        (await c2.get('/api/history/get_page', { login: eur, from: 0, to: 2e9, offset: 0, total: 100 })).answer,
      ).toEqual(before.history);
      expect((await c2.get('/api/user/get', { login: gone })).retcode).toBe(13);
      expect((await second.control('GET', '/control/status')).json.activityStep).toBe(before.step);

      // Counters continue: no login (not even the deleted one) and no ticket is handed out twice.
      const fresh = await openAccount(c2, 'real\\standard-usd');
      expect(fresh).toBeGreaterThan(Math.max(usd, eur, gone));
      const ticket = Number(field((await deposit(c2, fresh, 1)).answer, 'ticket'));
      expect(ticket).toBeGreaterThan(Math.max(...before.deals.map((d) => Number(d.Deal))));
      const [trade] = (
        await second.control('POST', '/control/dealer/trade', { login: usd, symbol: 'EURUSD', side: 'buy', lots: 0.01 })
      ).json.deals as Record<string, string>[];
      const orders = before.deals.map((d) => Number(d.Order));
      expect(Number(trade!.Order)).toBeGreaterThan(Math.max(...orders));
    } finally {
      await second.close();
    }
  });

  it('keeps what was acknowledged when the process is killed without warning', async () => {
    const dir = stateDir();
    const child = spawn(process.execPath, [runTs, childSim, JSON.stringify({ stateDir: dir })], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    try {
      const line = await new Promise<string>((done, fail) => {
        createInterface({ input: child.stdout! }).once('line', done);
        child.once('exit', (code) => fail(new Error(`child simulator exited early (${code})`)));
      });
      const info = JSON.parse(line) as { url: string; certPath: string; manager: { login: number; password: string } };
      const client = new Mt5TestClient({ url: info.url, ca: readFileSync(info.certPath, 'utf8'), ...info.manager });
      await client.authenticate();
      const login = await openAccount(client, 'real\\standard-usd');
      const acknowledged: string[] = [];
      for (let i = 0; i < 20; i++) {
        const comment = `ref:K${i}`;
        await deposit(client, login, 10 + i, comment);
        acknowledged.push(comment);
      }
      client.close();
      child.kill('SIGKILL');
      await exited;

      const again = await startTestSim({ stateDir: dir });
      try {
        expect(again.sim.manager.password).toBe(info.manager.password);
        const c = await again.authed();
        expect((await allDeals(c, login)).map((d) => d.Comment)).toEqual(acknowledged);
        expect(field((await c.get('/api/user/get', { login })).answer, 'balance')).toBe('390.00');
      } finally {
        await again.close();
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    }
  });
});
