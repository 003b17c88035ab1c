/**
 * A client's whole journey through the HTTP API, on an MT5 and an MT4 server at once: register, verify the email,
 * sign in, open a live account on each platform (restricted until KYC), upload a document, compliance approves, and
 * the product policies lift the restrictions on the servers themselves: trading enabled on MT5, moved from the
 * restricted group to the live group on MT4. One client identity, two platforms.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultGroups } from '../../sim/mt5/config.ts';
import { type AppContext, createContext } from '../../src/app/context.ts';
import { ManualClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config.ts';
import { outboxEmails, tradingAccounts } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/log.ts';
import { ProductService } from '../../src/modules/products/service.ts';
import { StaffService } from '../../src/modules/staff/service.ts';
import { OperationsEngine } from '../../src/operations/engine.ts';
import { staffCookie } from '../support/accounts-testbed.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { control, startMt4, startMt5 } from '../support/simulators.ts';

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
  Buffer.from('IHDR'),
  Buffer.alloc(17, 1),
]);

async function multipart(fields: Record<string, string>, file: { name: string; type: string; bytes: Buffer }) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([new Uint8Array(file.bytes)], { type: file.type }), file.name);
  const request = new Request('http://localhost/', { method: 'POST', body: form });
  return { payload: Buffer.from(await request.arrayBuffer()), contentType: request.headers.get('content-type')! };
}

describe('a client from registration to live accounts on MT5 and MT4', () => {
  let database: TestDatabase;
  let mt5: Awaited<ReturnType<typeof startMt5>>;
  let mt4: Awaited<ReturnType<typeof startMt4>>;
  let ctx: AppContext;
  let app: FastifyInstance;
  let staff: StaffService;
  let engine: OperationsEngine;
  const clock = new ManualClock(new Date());

  beforeAll(async () => {
    database = await createTestDatabase();
    mt5 = await startMt5({
      name: 'mt5-live',
      groups: [...defaultGroups('live'), { name: 'real\\restricted-usd', currency: 'USD', leverageMax: 500 }],
    });
    mt4 = await startMt4({ name: 'mt4-live' });
    process.env.JOURNEY_MT5_PASSWORD = mt5.manager.password;
    process.env.JOURNEY_MT4_PASSWORD = mt4.manager.password;
    const env = database.url
      ? { DATABASE_URL: database.url, BROKERDESK_SECRET_KEY: Buffer.alloc(32, 3).toString('base64') }
      : { BROKERDESK_DATA_DIR: mkdtempSync(join(tmpdir(), 'bd-journey-')) };
    ctx = await createContext(loadConfig({ env }), { clock, logger: createLogger('silent') });
    for (const [sim, secret] of [
      [mt5, 'JOURNEY_MT5_PASSWORD'],
      [mt4, 'JOURNEY_MT4_PASSWORD'],
    ] as const) {
      await ctx.registry.upsert({
        code: sim.name,
        platform: sim.platform,
        environment: 'live',
        address: sim.url,
        managerLogin: sim.manager.login,
        passwordSecret: `env:${secret}`,
        caCertPath: sim.certPath ?? null,
        requestTimeoutMs: 3000,
        connectTimeoutMs: 1000,
      });
    }
    staff = new StaffService(ctx.database, ctx.sealer, clock);
    app = await buildApp(ctx, { staff });
    engine = new OperationsEngine(ctx.operationsDeps(), { verifyDelayMs: 1000, random: () => 0.5 });
  });
  afterAll(async () => {
    await app?.close();
    await ctx?.close();
    await mt5?.close();
    await mt4?.close();
    await database?.drop();
  });

  it('ends with both accounts on their servers, in the right groups, with trading allowed', async () => {
    const products = new ProductService({ database: ctx.database, registry: ctx.registry, clock, audit: ctx.audit });
    const mt5Product = await products.create(
      {
        code: 'std-mt5',
        name: 'Standard MT5',
        environment: 'live',
        serverCode: 'mt5-live',
        groupName: 'real\\standard-usd',
        currency: 'USD',
        allowedLeverages: [50, 100],
        defaultLeverage: 100,
        kycPolicy: 'enable_trading_on_approval',
      },
      'system',
    );
    const mt4Product = await products.create(
      {
        code: 'std-mt4',
        name: 'Standard MT4',
        environment: 'live',
        serverCode: 'mt4-live',
        groupName: 'real-std-usd',
        currency: 'USD',
        allowedLeverages: [100],
        defaultLeverage: 100,
        kycPolicy: 'move_group_on_approval',
        restrictedGroupName: 'real-pro-usd',
      },
      'system',
    );

    // Registration and email verification (the link is in the outgoing email).
    const email = 'ana.client@example.com';
    const registered = await app.inject({
      method: 'POST',
      url: '/api/portal/auth/register',
      payload: { email, password: 'a long client password', name: 'Ana Client', country: 'CY' },
    });
    expect(registered.statusCode, registered.body).toBe(201);
    const [mail] = await ctx.database.db.select().from(outboxEmails).where(eq(outboxEmails.to, email));
    const token = /token=([A-Za-z0-9_-]+)/.exec(mail!.text)![1]!;
    expect(
      (await app.inject({ method: 'POST', url: '/api/portal/auth/verify-email', payload: { token } })).statusCode,
    ).toBe(200);
    const login = await app.inject({
      method: 'POST',
      url: '/api/portal/auth/login',
      payload: { email, password: 'a long client password' },
    });
    const cookie = `bd_client=${login.cookies.find((c) => c.name === 'bd_client')!.value}`;

    // Accounts before KYC: opened restricted.
    for (const product of [mt5Product, mt4Product]) {
      const opened = await app.inject({
        method: 'POST',
        url: '/api/portal/accounts',
        headers: { cookie },
        payload: { productId: product.id },
      });
      expect(opened.statusCode, opened.body).toBe(201);
    }
    await engine.drain();
    let accounts = await ctx.database.db.select().from(tradingAccounts);
    expect(accounts.map((a) => a.status)).toEqual(['open', 'open']);
    const mt5Login = accounts.find((a) => a.serverCode === 'mt5-live')!.login!;
    const mt4Login = accounts.find((a) => a.serverCode === 'mt4-live')!.login!;
    const mt5Before = (await control(mt5, 'GET', `/control/accounts/${mt5Login}`)) as {
      user: { Group: string; Rights: string };
    };
    expect(mt5Before.user.Group).toBe('real\\standard-usd');
    expect(Number(mt5Before.user.Rights) & 0x4).toBe(0x4); // trading disabled until KYC
    const mt4Before = (await control(mt4, 'GET', `/control/users/${mt4Login}`)) as Record<string, unknown>;
    expect(JSON.stringify(mt4Before)).toContain('"group":"real-pro-usd"');

    // KYC: the client uploads, compliance reviews and approves.
    const { payload, contentType } = await multipart(
      { type: 'passport' },
      { name: 'passport.png', type: 'image/png', bytes: PNG },
    );
    const uploaded = await app.inject({
      method: 'POST',
      url: '/api/portal/kyc/documents',
      headers: { cookie, 'content-type': contentType },
      payload,
    });
    expect(uploaded.statusCode, uploaded.body).toBe(201);
    const documentId =
      (uploaded.json() as { id?: string; document?: { id: string } }).id ?? uploaded.json().document.id;
    const compliance = await staffCookie(app, staff, clock, ['compliance']);
    const clientId = (await app.inject({ url: '/api/portal/me', headers: { cookie } })).json().client.id;
    const review = await app.inject({
      method: 'POST',
      url: `/api/backoffice/kyc/documents/${documentId}/review`,
      headers: { cookie: compliance },
      payload: { decision: 'approve' },
    });
    expect(review.statusCode, review.body).toBe(200);
    const decision = await app.inject({
      method: 'POST',
      url: `/api/backoffice/clients/${clientId}/kyc/decision`,
      headers: { cookie: compliance },
      payload: { decision: 'approve' },
    });
    expect(decision.statusCode, decision.body).toBe(200);

    // The policies act through the operations engine, on the servers.
    await engine.drain();
    const mt5After = (await control(mt5, 'GET', `/control/accounts/${mt5Login}`)) as {
      user: { Group: string; Rights: string };
    };
    expect(Number(mt5After.user.Rights) & 0x4).toBe(0);
    expect(Number(mt5After.user.Rights) & 0x1).toBe(0x1);
    const mt4After = (await control(mt4, 'GET', `/control/users/${mt4Login}`)) as Record<string, unknown>;
    expect(JSON.stringify(mt4After)).toContain('"group":"real-std-usd"');
    accounts = await ctx.database.db.select().from(tradingAccounts);
    expect(accounts.every((a) => a.status === 'open' && a.tradingEnabled)).toBe(true);

    // One client identity holds both: the portal lists them together.
    const listed = (await app.inject({ url: '/api/portal/accounts', headers: { cookie } })).json() as
      | { items?: unknown[] }
      | unknown[];
    const items = Array.isArray(listed) ? listed : (listed.items ?? []);
    expect(items).toHaveLength(2);
  });
});
