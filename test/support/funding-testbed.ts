/**
 * Test support for money movement: the accounts testbed (MT5 live/demo, optionally MT4) with the PSP sandbox as the
 * context's payment provider, the HTTP app listening on a local port so the sandbox's signed webhooks really arrive,
 * and helpers to open funded accounts, sign clients in and pay on the hosted page.
 */
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { moneyMovements, tradingAccounts } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { ClientSessions } from '../../src/modules/clients/sessions.ts';
import type { Movement } from '../../src/modules/funding/movements.ts';
import { StaffService } from '../../src/modules/staff/service.ts';
import { accountsTestbed, staffCookie, type Testbed, type TestbedOptions } from './accounts-testbed.ts';
import { type PspTestbed, type PspTestbedOptions, startPsp, TEST_CARDS } from './psp.ts';

export interface FundingTestbed extends Testbed {
  psp: PspTestbed;
  app: FastifyInstance;
  staff: StaffService;
  /** A client with approved KYC, signed in, with an open live account of a USD product on `server`. */
  fundedClient(options?: { server?: string; group?: string }): Promise<{
    clientId: string;
    cookie: string;
    accountId: string;
    login: number;
  }>;
  /** Opens one more account of a product on `server` for the client. */
  openAccount(
    clientId: string,
    options?: { server?: string; group?: string; currency?: string },
  ): Promise<{
    accountId: string;
    login: number;
  }>;
  clientCookie(clientId: string): Promise<string>;
  staffCookie(roles: Parameters<typeof staffCookie>[3]): Promise<string>;
  /** Starts a deposit through the portal API and pays it on the hosted page with `card`. */
  deposit(
    cookie: string,
    accountId: string,
    amountMinor: number,
    card?: string,
  ): Promise<{ movementId: string; pspPaymentId: string }>;
  movement(id: string): Promise<Movement>;
  /** Polls (real time, bounded) until the movement is in one of `statuses`, draining the engine meanwhile. */
  until(id: string, statuses: Movement['status'][], timeoutMs?: number): Promise<Movement>;
}

export async function fundingTestbed(
  options: TestbedOptions & { pspOptions?: PspTestbedOptions } = {},
): Promise<FundingTestbed> {
  const psp = await startPsp({ frozenAt: false, pendingDelayMs: 60_000, payoutDelayMs: 60_000, ...options.pspOptions });
  const t = await accountsTestbed({ ...options, psp: psp.provider });
  const staff = new StaffService(t.ctx.database, t.ctx.sealer, t.clock);
  const app = await buildApp(t.ctx, { staff });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  await psp.control('POST', '/control/webhooks/url', { url: `${base}/api/webhooks/psp/${psp.provider.name}` });
  const sessions = new ClientSessions(t.ctx.database, t.clock);
  const products = new Map<string, string>();

  const productFor = async (server: string, group: string, currency: string) => {
    const key = `${server}|${group}`;
    if (!products.has(key)) products.set(key, await t.product({ serverCode: server, groupName: group, currency }));
    return products.get(key)!;
  };
  const openAccount: FundingTestbed['openAccount'] = async (clientId, o = {}) => {
    const server = o.server ?? 'mt5-live';
    const group = o.group ?? (server.startsWith('mt4') ? 'real-std-usd' : 'real\\standard-usd');
    const productId = await productFor(server, group, o.currency ?? 'USD');
    const { account } = await t.accounts.request(clientId, { productId });
    await t.engine.drain();
    const [row] = await t.database.db.select().from(tradingAccounts).where(eq(tradingAccounts.id, account.id));
    if (row?.status !== 'open' || row.login === null) throw new Error(`account did not open: ${JSON.stringify(row)}`);
    return { accountId: row.id, login: row.login };
  };
  const movement = async (id: string) => {
    const [row] = await t.database.db.select().from(moneyMovements).where(eq(moneyMovements.id, id));
    if (!row) throw new Error(`no movement ${id}`);
    return row;
  };
  const clientCookie = async (clientId: string) => `bd_client=${(await sessions.open(clientId)).token}`;

  return {
    ...t,
    psp,
    app,
    staff,
    openAccount,
    clientCookie,
    movement,
    staffCookie: (roles) => staffCookie(app, staff, t.clock, roles),
    async fundedClient(o = {}) {
      const clientId = await t.addClient({ kycStatus: 'approved' });
      const { accountId, login } = await openAccount(clientId, o);
      return { clientId, cookie: await clientCookie(clientId), accountId, login };
    },
    async deposit(cookie, accountId, amountMinor, card = TEST_CARDS.success) {
      const started = await app.inject({
        method: 'POST',
        url: '/api/portal/deposits',
        headers: { cookie },
        payload: { accountId, amountMinor },
      });
      if (started.statusCode !== 201) throw new Error(`deposit refused: ${started.body}`);
      const { movement: m } = started.json() as { movement: { id: string } };
      const row = await movement(m.id);
      await psp.pay(row.pspPaymentId!, card);
      return { movementId: m.id, pspPaymentId: row.pspPaymentId! };
    },
    async until(id, statuses, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await t.engine.drain();
        const row = await movement(id);
        if (statuses.includes(row.status)) return row;
        if (Date.now() > deadline) {
          throw new Error(`movement ${id} is ${row.status}, expected ${statuses.join(' or ')}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async close() {
      await app.close();
      await t.close();
      await psp.close();
    },
  };
}
