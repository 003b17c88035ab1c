/**
 * Test support for the MT4 simulator's tests: start a quiet simulator on a free port, logged-in clients, and the few
 * account/money steps most tests begin with. Not product code.
 */

import type { Mt4SimulatorHandle, Mt4SimulatorOptions } from './server.ts';
import { startMt4Simulator } from './server.ts';
import { ControlClient, Mt4TestClient } from './test-client.ts';

export const FAR_FUTURE = 2_000_000_000;

export class Harness {
  readonly control: ControlClient;
  private readonly clients: Mt4TestClient[] = [];
  private counter = 0;

  private constructor(readonly sim: Mt4SimulatorHandle) {
    this.control = ControlClient.for(sim);
  }

  /** Port 0, quiet, no periodic pumping drops (tests drop on demand); anything else as given. */
  static async start(options: Mt4SimulatorOptions = {}): Promise<Harness> {
    const sim = await startMt4Simulator({ port: 0, quiet: true, pumpingDropIntervalMs: 0, ...options });
    return new Harness(sim);
  }

  /** A new client (own keep-alive connections), logged in as the CRM manager unless told otherwise. */
  async client(login = this.sim.manager.login, password = this.sim.manager.password): Promise<Mt4TestClient> {
    const client = this.anonymous();
    await client.login(login, password);
    return client;
  }

  anonymous(options: { timeoutMs?: number } = {}): Mt4TestClient {
    const client = Mt4TestClient.for(this.sim, options);
    this.clients.push(client);
    return client;
  }

  /** Opens an account in `group` and returns its login. */
  async openAccount(client: Mt4TestClient, group: string, fields: Record<string, unknown> = {}): Promise<number> {
    this.counter += 1;
    const reply = await client.ok('UserRecordNew', {
      group,
      name: `Client ${this.counter}`,
      password: 'Secret123',
      ...fields,
    });
    return reply.login;
  }

  /** Posts a balance operation and returns the new ticket. */
  async deposit(client: Mt4TestClient, login: number, amount: number, comment = `dep-${login}`): Promise<number> {
    const reply = await client.ok('TradeTransaction', { type: 83, cmd: 6, orderby: login, price: amount, comment });
    return reply.order!;
  }

  async history(client: Mt4TestClient, login: number) {
    return (await client.ok('TradesUserHistory', { login, from: 0, to: FAR_FUTURE })).trades;
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.close();
    await this.sim.close();
  }
}
