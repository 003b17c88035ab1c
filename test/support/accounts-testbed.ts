/**
 * Test support for the products and accounts modules (imported by tests only): an isolated database, a live and a
 * demo MT5 simulator registered as servers, the application context (so the operation handlers are wired as in
 * production), an operations engine driven by a manual clock, and a log whose every line is captured.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { eq } from 'drizzle-orm';
import pino from 'pino';
import { defaultGroups } from '../../sim/mt5/config.ts';
import { type AppContext, createContext } from '../../src/app/context.ts';
import { ManualClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config.ts';
import type { Database } from '../../src/db/connect.ts';
import { clients, type KycStatus } from '../../src/db/schema.ts';
import { redactPaths } from '../../src/log.ts';
import { createKycPolicy } from '../../src/modules/accounts/kyc-policy.ts';
import { AccountService } from '../../src/modules/accounts/service.ts';
import { type ProductInput, ProductService } from '../../src/modules/products/service.ts';
import { OperationsEngine } from '../../src/operations/engine.ts';
import type { PaymentProvider } from '../../src/payments/types.ts';
import { createTestDatabase } from './db.ts';
import { control, startMt4, startMt5 } from './simulators.ts';

export const LIVE = 'mt5-live';
export const DEMO = 'mt5-demo';
export const MT4_LIVE = 'mt4-live';

export type Sim = Awaited<ReturnType<typeof startMt5>>;
export type Mt4Sim = Awaited<ReturnType<typeof startMt4>>;

export interface TestbedOptions {
  /** The PSP adapter the context uses (default none). */
  psp?: PaymentProvider | null;
  /** Also start an MT4 live simulator, registered as `mt4-live`. */
  mt4?: boolean;
  /** Options for the MT5 live simulator (faults, seed…). */
  liveOptions?: Parameters<typeof startMt5>[0];
}

export interface Testbed {
  /** The context's database (with PGlite the context opens its own, so tests must read this one). */
  database: Database;
  ctx: AppContext;
  clock: ManualClock;
  live: Sim;
  demo: Sim;
  /** Present with `mt4: true`. */
  mt4: Mt4Sim | null;
  engine: OperationsEngine;
  products: ProductService;
  accounts: AccountService;
  /** Every log line written so far. */
  logs: string[];
  addClient(options?: { kycStatus?: KycStatus; verified?: boolean }): Promise<string>;
  /** Changes a client's KYC status and applies the product policies, in one transaction (as the KYC module does). */
  setKyc(clientId: string, to: KycStatus): Promise<void>;
  product(overrides?: Partial<ProductInput>): Promise<string>;
  simAccount(sim: Sim, login: number): Promise<SimAccount>;
  close(): Promise<void>;
}

export interface SimAccount {
  user: { Login: string; Group: string; Leverage: string; Rights: string };
  account: { Balance: string };
}

let counter = 0;

export async function accountsTestbed(options: TestbedOptions = {}): Promise<Testbed> {
  const testDatabase = await createTestDatabase();
  const live = await startMt5({
    name: LIVE,
    environment: 'live',
    // A second USD group: where move_group_on_approval accounts wait for KYC.
    groups: [...defaultGroups('live'), { name: 'real\\restricted-usd', currency: 'USD', leverageMax: 500 }],
    ...options.liveOptions,
  });
  const demo = await startMt5({ name: DEMO, environment: 'demo' });
  const mt4 = options.mt4 ? await startMt4({ name: MT4_LIVE }) : null;
  process.env.BD_TEST_LIVE_MANAGER = live.manager.password;
  process.env.BD_TEST_DEMO_MANAGER = demo.manager.password;
  if (mt4) process.env.BD_TEST_MT4_MANAGER = mt4.manager.password;
  const clock = new ManualClock(new Date());
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: 'trace', redact: { paths: redactPaths, censor: '[redacted]' } }, sink);
  const env = testDatabase.url
    ? { DATABASE_URL: testDatabase.url, BROKERDESK_SECRET_KEY: Buffer.alloc(32, 7).toString('base64') }
    : { BROKERDESK_DATA_DIR: mkdtempSync(join(tmpdir(), 'bd-accounts-')) };
  const ctx = await createContext(loadConfig({ env }), { clock, logger, psp: options.psp ?? null });
  for (const [code, sim, environment, secret] of [
    [LIVE, live, 'live', 'BD_TEST_LIVE_MANAGER'],
    [DEMO, demo, 'demo', 'BD_TEST_DEMO_MANAGER'],
  ] as const) {
    await ctx.registry.upsert({
      code,
      platform: 'mt5',
      environment,
      address: sim.url,
      managerLogin: sim.manager.login,
      passwordSecret: `env:${secret}`,
      caCertPath: sim.certPath ?? null,
      requestTimeoutMs: 3000,
      connectTimeoutMs: 1000,
    });
  }
  if (mt4) {
    await ctx.registry.upsert({
      code: MT4_LIVE,
      platform: 'mt4',
      environment: 'live',
      address: mt4.url,
      managerLogin: mt4.manager.login,
      passwordSecret: 'env:BD_TEST_MT4_MANAGER',
      caCertPath: mt4.certPath ?? null,
      requestTimeoutMs: 3000,
      connectTimeoutMs: 1000,
    });
  }
  const engine = new OperationsEngine(ctx.operationsDeps(), { verifyDelayMs: 1000, random: () => 0.5 });
  const products = new ProductService({
    database: ctx.database,
    registry: ctx.registry,
    clock,
    audit: ctx.audit,
  });
  const accounts = new AccountService({
    database: ctx.database,
    registry: ctx.registry,
    clock,
    sealer: ctx.sealer,
    audit: ctx.audit,
  });
  const kycPolicy = createKycPolicy({ clock, sealer: ctx.sealer, audit: ctx.audit });

  return {
    database: ctx.database,
    ctx,
    clock,
    live,
    demo,
    mt4,
    engine,
    products,
    accounts,
    logs,
    async addClient(options = {}) {
      const now = clock.now();
      counter += 1;
      const [row] = await ctx.database.db
        .insert(clients)
        .values({
          email: `client${counter}-${Math.random().toString(36).slice(2, 8)}@example.com`,
          emailVerifiedAt: options.verified === false ? null : now,
          passwordHash: 'not-used-here',
          name: `Client ${counter}`,
          country: 'CY',
          status: 'active',
          kycStatus: options.kycStatus ?? 'pending',
          createdAt: now,
          updatedAt: now,
        })
        .returning();
      return row!.id;
    },
    async setKyc(clientId, to) {
      await ctx.database.db.transaction(async (tx) => {
        const [client] = await tx.select().from(clients).where(eq(clients.id, clientId)).for('update');
        await tx.update(clients).set({ kycStatus: to, updatedAt: clock.now() }).where(eq(clients.id, clientId));
        await kycPolicy(tx, { clientId, from: client!.kycStatus, to });
      });
    },
    async product(overrides = {}) {
      counter += 1;
      const created = await products.create(
        {
          code: `p${counter}-${Math.random().toString(36).slice(2, 6)}`,
          name: `Product ${counter}`,
          environment: 'live',
          serverCode: LIVE,
          groupName: 'real\\standard-usd',
          currency: 'USD',
          allowedLeverages: [50, 100, 200],
          defaultLeverage: 100,
          kycPolicy: 'none',
          ...overrides,
        },
        'test-staff',
      );
      return created.id;
    },
    async simAccount(sim, login) {
      return (await control(sim, 'GET', `/control/accounts/${login}`)) as SimAccount;
    },
    async close() {
      await engine.stop();
      await ctx.close();
      await live.close();
      await demo.close();
      await mt4?.close();
      await testDatabase.drop();
    },
  };
}

/** MT5 user rights bits (see DOMAIN.md). */
export const RIGHT_ENABLED = 0x1;
export const RIGHT_TRADE_DISABLED = 0x4;

export function rightsOf(account: SimAccount): { enabled: boolean; tradingAllowed: boolean } {
  const rights = Number(account.user.Rights);
  return { enabled: (rights & RIGHT_ENABLED) !== 0, tradingAllowed: (rights & RIGHT_TRADE_DISABLED) === 0 };
}

/** A signed-in back-office session for a new staff member with these roles (enrolled in two-factor when needed). */
export async function staffCookie(
  app: import('fastify').FastifyInstance,
  staff: import('../../src/modules/staff/service.ts').StaffService,
  clock: ManualClock,
  roles: import('../../src/db/schema.ts').StaffRole[],
): Promise<string> {
  const { generate } = await import('otplib');
  const { requiresTwoFactor } = await import('../../src/modules/staff/permissions.ts');
  const email = `${roles.join('-')}-${Math.random().toString(36).slice(2, 8)}@broker.example`;
  const password = 'correct horse battery';
  await staff.create({ email, name: roles.join(' '), password, roles }, 'system');
  const login = await app.inject({ method: 'POST', url: '/api/backoffice/auth/login', payload: { email, password } });
  const c = login.cookies.find((x) => x.name === 'bd_staff');
  if (!c) throw new Error(`sign-in failed: ${login.body}`);
  const cookie = `bd_staff=${c.value}`;
  if (requiresTwoFactor(roles)) {
    const setup = await app.inject({ method: 'POST', url: '/api/backoffice/auth/totp/setup', headers: { cookie } });
    const { secret } = setup.json() as { secret: string };
    const code = await generate({ secret, epoch: Math.floor(clock.now().getTime() / 1000) });
    await app.inject({
      method: 'POST',
      url: '/api/backoffice/auth/totp/confirm',
      headers: { cookie },
      payload: { code },
    });
  }
  return cookie;
}
