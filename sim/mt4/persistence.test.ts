import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { RET } from './codes.ts';
import { Mt4TestClient, TransportError } from './test-client.ts';
import { Harness } from './test-support.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

interface Ready {
  url: string;
  certPath: string;
  controlUrl: string;
  controlToken: string;
  manager: { login: number; password: string };
}

/** Starts the simulator as a separate process, so the test can kill it like a crashed server. */
function startChild(stateDir: string): Promise<{ child: ChildProcess; ready: Ready }> {
  const options = { stateDir, port: 0, quiet: true, pumpingDropIntervalMs: 0 };
  const child = spawn(process.execPath, ['bin/run-ts.mjs', 'sim/mt4/main.ts', '--options', JSON.stringify(options)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`simulator process did not start: ${err}`));
    }, 30_000);
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.startsWith('READY '));
      if (line) {
        clearTimeout(timer);
        resolve({ child, ready: JSON.parse(line.slice(6)) as Ready });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`simulator process exited (${code}): ${err}`));
    });
  });
}

describe('MT4 simulator state across restarts', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt4-state-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('restores accounts, money, history, credentials and certificate; never reuses logins or tickets', async () => {
    const dir = tempDir();
    const first = await Harness.start({ stateDir: dir });
    const crm = await first.client();
    const a = await first.openAccount(crm, 'real-std-usd', { email: 'a@example.com' });
    const b = await first.openAccount(crm, 'real-pro-usd');
    const t1 = await first.deposit(crm, a, 0.1, 'BD-P1');
    const t2 = await first.deposit(crm, a, 0.2, 'BD-P2');
    await crm.ok('UserRecordUpdate', { login: b, leverage: 50 });
    await crm.ok('UserPasswordSet', { login: b, password: 'Changed99' });
    await first.deposit(crm, b, 100, 'BD-P3');
    await first.control.post('/control/dealer/trades/open', { login: b, symbol: 'EURUSD', cmd: 1, volume: 1 });
    const manager = first.sim.manager;
    const cert = readFileSync(first.sim.certPath!, 'utf8');
    const session = crm.session;
    await first.close();

    const second = await Harness.start({ stateDir: dir });
    try {
      expect(second.sim.manager).toEqual(manager);
      expect(readFileSync(second.sim.certPath!, 'utf8')).toBe(cert);
      // Sessions do not survive a restart: the old one answers 6.
      const stale = second.anonymous();
      stale.session = session;
      expect((await stale.call('Ping')).ret).toBe(RET.NO_CONNECT);

      const client = await second.client();
      const { user } = await client.ok('UserRecordGet', { login: a });
      expect(user).toMatchObject({ email: 'a@example.com', balance: 0.30000000000000004 });
      expect((await client.ok('UserRecordGet', { login: b })).user.leverage).toBe(50);
      expect((await client.call('UserPasswordCheck', { login: b, password: 'Changed99' })).ret).toBe(RET.OK);
      expect((await second.history(client, a)).map((t) => [t.order, t.comment])).toEqual([
        [t1, 'BD-P1'],
        [t2, 'BD-P2'],
      ]);
      const open = (await client.ok('TradesRequest', { login: b })).trades;
      expect(open).toHaveLength(1);
      expect(open[0]).toMatchObject({ symbol: 'EURUSD', cmd: 1, volume: 1, commission: -0.07 });

      const c = await second.openAccount(client, 'real-std-usd');
      expect(c).toBeGreaterThan(b);
      const t3 = await second.deposit(client, c, 1);
      expect(t3).toBeGreaterThan(open[0]!.order);
    } finally {
      await second.close();
    }
  });

  it('keeps every acknowledged change when the process is killed, including a deposit whose reply was lost', async () => {
    const dir = tempDir();
    const { child, ready } = await startChild(dir);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let acknowledged: { login: number; order: number };
    try {
      const client = Mt4TestClient.for(ready);
      await client.login(ready.manager.login, ready.manager.password);
      const login = (
        await client.ok('UserRecordNew', { group: 'real-std-usd', name: 'Crash Test', password: 'Secret123' })
      ).login;
      const reply = await client.ok('TradeTransaction', {
        type: 83,
        cmd: 6,
        orderby: login,
        price: 700,
        comment: 'BD-K1',
      });
      acknowledged = { login, order: reply.order! };
      const res = await fetch(`${ready.controlUrl}/control/faults`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ready.controlToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ endpoint: '/v1/TradeTransaction', kind: 'drop_reply', count: 1 }),
      });
      expect(res.status).toBe(201);
      await expect(
        client.call('TradeTransaction', { type: 83, cmd: 6, orderby: login, price: 300, comment: 'BD-K2' }),
      ).rejects.toBeInstanceOf(TransportError);
      client.close();
    } finally {
      child.kill('SIGKILL');
      await exited;
    }

    const restarted = await Harness.start({ stateDir: dir });
    try {
      const client = await restarted.client();
      expect(restarted.sim.manager).toEqual(ready.manager);
      const history = await restarted.history(client, acknowledged.login);
      expect(history.map((t) => [t.comment, t.profit])).toEqual([
        ['BD-K1', 700],
        ['BD-K2', 300],
      ]);
      expect(history[0]!.order).toBe(acknowledged.order);
      expect((await client.ok('UserRecordGet', { login: acknowledged.login })).user.balance).toBe(1000);
      expect(await restarted.openAccount(client, 'real-std-usd')).toBeGreaterThan(acknowledged.login);
    } finally {
      await restarted.close();
    }
  });
});
