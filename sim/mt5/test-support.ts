/**
 * Test support: starts a simulator on random ports with the managers tests need, and gives typed access to its
 * control API and authenticated protocol clients. Everything it opens is closed by `close()`.
 */
import { readFileSync } from 'node:fs';
import { type Mt5SimulatorHandle, type Mt5SimulatorOptions, startMt5Simulator } from './server.ts';
import { field, type Mt5Reply, Mt5TestClient } from './test-client.ts';

export const READONLY_MANAGER = {
  login: 1001,
  password: 'Read-Only1!',
  rights: ['accounts_read', 'trades_read'] as const,
};
export const BLOCKED_MANAGER = { login: 1002, password: 'Blocked-Ip1!', ipAllow: ['10.0.0.0/8'] };
/** A password every group accepts. */
export const STRONG_PASSWORD = 'Strong-Pass1';

export interface ControlReply {
  status: number;
  json: Record<string, unknown> & Record<number, unknown>;
}

export interface TestSim {
  sim: Mt5SimulatorHandle;
  ca: string | undefined;
  control(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<ControlReply>;
  /** Advances the simulator's clock (never sleep in tests). */
  advance(seconds: number): Promise<void>;
  /** A client for a manager (default: the CRM manager), not yet authenticated. */
  client(manager?: { login: number; password: string }): Mt5TestClient;
  /** A client that has completed the handshake. */
  authed(manager?: { login: number; password: string }): Promise<Mt5TestClient>;
  close(): Promise<void>;
}

export async function startTestSim(options: Mt5SimulatorOptions = {}): Promise<TestSim> {
  const sim = await startMt5Simulator({
    quiet: true,
    port: 0,
    managers: [
      { ...READONLY_MANAGER, rights: [...READONLY_MANAGER.rights], description: 'read-only' },
      { ...BLOCKED_MANAGER, description: 'IP-blocked' },
    ],
    ...options,
  });
  const ca = sim.certPath ? readFileSync(sim.certPath, 'utf8') : undefined;
  const clients: Mt5TestClient[] = [];
  const control = async (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<ControlReply> => {
    const res = await fetch(`${sim.controlUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${sim.controlToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as ControlReply['json'] };
  };
  const client = (manager = sim.manager): Mt5TestClient => {
    const c = new Mt5TestClient({ url: sim.url, ca, login: manager.login, password: manager.password });
    clients.push(c);
    return c;
  };
  return {
    sim,
    ca,
    control,
    async advance(seconds) {
      const r = await control('POST', '/control/clock', { advanceSeconds: seconds });
      if (r.status !== 200) throw new Error(`clock advance failed: ${JSON.stringify(r.json)}`);
    },
    client,
    async authed(manager) {
      const c = client(manager);
      await c.authenticate();
      return c;
    },
    async close() {
      for (const c of clients) c.close();
      await sim.close();
    },
  };
}

/** Opens an account through the Web API and returns its login (fails the test on any refusal). */
export async function openAccount(
  client: Mt5TestClient,
  group: string,
  extra: Record<string, string | number> = {},
): Promise<number> {
  const reply = await client.post(
    '/api/user/add',
    { group, name: 'Test Client', leverage: 100, ...extra },
    { PassMain: STRONG_PASSWORD, PassInvestor: STRONG_PASSWORD },
  );
  if (reply.retcode !== 0) throw new Error(`user/add refused: ${reply.retcode} ${reply.retcodeText}`);
  return Number(field(reply.answer, 'login'));
}

export async function deposit(
  client: Mt5TestClient,
  login: number,
  amount: number,
  comment = 'deposit',
): Promise<Mt5Reply> {
  const reply = await client.get('/api/trade/balance', { login, type: 2, balance: amount, comment });
  if (reply.retcode !== 0) throw new Error(`trade/balance refused: ${reply.retcode} ${reply.retcodeText}`);
  return reply;
}

/** Every deal of a login through the Web API (all time, page by page). */
export async function allDeals(client: Mt5TestClient, login: number): Promise<Record<string, string>[]> {
  const out: Record<string, string>[] = [];
  for (let offset = 0; ; offset += 100) {
    const reply = await client.get('/api/deal/get_page', { login, from: 0, to: 2_000_000_000, offset, total: 100 });
    if (reply.retcode !== 0) throw new Error(`deal/get_page refused: ${reply.retcode} ${reply.retcodeText}`);
    const page = reply.answer as Record<string, string>[];
    out.push(...page);
    if (page.length < 100) return out;
  }
}
