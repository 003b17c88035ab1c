import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { type AppContext, createContext } from '../app/context.ts';
import { ManualClock } from '../clock.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { verifyAuditChain } from '../modules/audit/service.ts';
import { StaffService } from '../modules/staff/service.ts';
import { buildApp } from './app.ts';

const STAFF_PASSWORD = 'correct horse battery';

describe('partner area and back-office partners', () => {
  let database: TestDatabase;
  let ctx: AppContext;
  let app: FastifyInstance;
  let staff: StaffService;
  const clock = new ManualClock(new Date('2026-11-02T09:00:00Z'));

  beforeAll(async () => {
    database = await createTestDatabase();
    const base = { PUBLIC_URL: 'https://portal.broker.example/' };
    const env = database.url
      ? { ...base, DATABASE_URL: database.url, BROKERDESK_SECRET_KEY: Buffer.alloc(32, 9).toString('base64') }
      : { ...base, BROKERDESK_DATA_DIR: mkdtempSync(join(tmpdir(), 'bd-partner-')) };
    ctx = await createContext(loadConfig({ env }), { clock, logger: createLogger('silent') });
    staff = new StaffService(ctx.database, ctx.sealer, clock);
    app = await buildApp(ctx, { staff });
  });
  afterAll(async () => {
    await app?.close();
    await ctx?.close();
    await database?.drop();
  });

  const cookieOf = (response: { cookies: { name: string; value: string }[] }, name: string) => {
    const c = response.cookies.find((x) => x.name === name);
    if (!c) throw new Error(`no ${name} cookie`);
    return `${name}=${c.value}`;
  };
  async function staffCookie(role: 'partner_manager' | 'support'): Promise<string> {
    const email = `${role}-${Math.random().toString(36).slice(2, 8)}@broker.example`.replace('_', '-');
    await staff.create({ email, name: role, password: STAFF_PASSWORD, roles: [role] }, 'system');
    const r = await app.inject({
      method: 'POST',
      url: '/api/backoffice/auth/login',
      payload: { email, password: STAFF_PASSWORD },
    });
    expect(r.statusCode).toBe(200);
    return cookieOf(r, 'bd_staff');
  }
  async function createPartner(cookie: string, body: Record<string, unknown>) {
    const r = await app.inject({ method: 'POST', url: '/api/backoffice/partners', headers: { cookie }, payload: body });
    expect(r.statusCode, r.body).toBe(201);
    return r.json() as {
      partner: { id: string; referralCode: string };
      initialPassword: string;
      referralLink: string;
    };
  }
  const partnerLogin = (email: string, password: string) =>
    app.inject({ method: 'POST', url: '/api/partner/auth/login', payload: { email, password } });

  it('a partner is created by a partner manager, signs in, shares the link, and sees referred clients without contact details', async () => {
    const manager = await staffCookie('partner_manager');
    const created = await createPartner(manager, { email: 'IB.One@partners.example', name: 'IB One' });
    expect(created.partner.referralCode).toMatch(/^[A-Z2-9]{8}$/);
    expect(created.referralLink).toBe(`https://portal.broker.example/register?ref=${created.partner.referralCode}`);
    expect(JSON.stringify(created)).not.toContain('passwordHash');

    const referred = await app.inject({
      method: 'POST',
      url: '/api/portal/auth/register',
      payload: {
        email: 'referred@clients.example',
        password: 'a long client password',
        name: 'Referred Client',
        country: 'CY',
        phone: '+357 22 123456',
        referralCode: created.partner.referralCode.toLowerCase(),
      },
    });
    expect(referred.statusCode, referred.body).toBe(201);
    expect(referred.json().client.partnerId).toBe(created.partner.id);
    await app.inject({
      method: 'POST',
      url: '/api/portal/auth/register',
      payload: { email: 'direct@clients.example', password: 'a long client password', name: 'Direct', country: 'GB' },
    });

    const login = await partnerLogin('ib.one@partners.example', created.initialPassword);
    expect(login.statusCode, login.body).toBe(200);
    const cookie = cookieOf(login, 'bd_partner');
    const me = await app.inject({ url: '/api/partner/me', headers: { cookie } });
    expect(me.json().partner).toMatchObject({ name: 'IB One', referralLink: created.referralLink });

    const list = await app.inject({ url: '/api/partner/clients', headers: { cookie } });
    expect(list.statusCode).toBe(200);
    expect(list.json().total).toBe(1);
    expect(list.json().items[0]).toMatchObject({ name: 'Referred Client', country: 'CY', kycStatus: 'not_started' });
    expect(list.body).not.toContain('referred@clients.example');
    expect(list.body).not.toContain('22 123456');

    // A staff cookie is not a partner session, and a partner cookie does not open the back office.
    expect((await app.inject({ url: '/api/partner/me', headers: { cookie: manager } })).statusCode).toBe(401);
    expect((await app.inject({ url: '/api/backoffice/partners', headers: { cookie } })).statusCode).toBe(401);

    // Back office sees the partner with its referred clients.
    const support = await staffCookie('support');
    const search = await app.inject({ url: '/api/backoffice/partners?q=IB%20One', headers: { cookie: support } });
    expect(search.json().items).toEqual([expect.objectContaining({ id: created.partner.id, referredClients: 1 })]);
    const theirs = await app.inject({
      url: `/api/backoffice/partners/${created.partner.id}/clients`,
      headers: { cookie: support },
    });
    expect(theirs.json().items).toHaveLength(1);
    // Support may read but not create partners.
    const refused = await app.inject({
      method: 'POST',
      url: '/api/backoffice/partners',
      headers: { cookie: support },
      payload: { email: 'x@partners.example', name: 'X' },
    });
    expect(refused.statusCode).toBe(403);

    const out = await app.inject({ method: 'POST', url: '/api/partner/auth/logout', headers: { cookie } });
    expect(out.statusCode).toBe(200);
    expect((await app.inject({ url: '/api/partner/me', headers: { cookie } })).statusCode).toBe(401);
    expect((await verifyAuditChain(ctx.database.db)).ok).toBe(true);
  });

  it('refuses an unknown referral code at registration and creates nothing', async () => {
    const before = await ctx.database.query<{ n: string }>('select count(*) as n from clients');
    const r = await app.inject({
      method: 'POST',
      url: '/api/portal/auth/register',
      payload: {
        email: 'nobody@clients.example',
        password: 'a long client password',
        name: 'Nobody',
        country: 'CY',
        referralCode: 'NOSUCHCODE',
      },
    });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'REFERRAL_CODE_UNKNOWN' });
    const after = await ctx.database.query<{ n: string }>('select count(*) as n from clients');
    expect(after[0]!.n).toBe(before[0]!.n);
  });

  it('builds IB trees without cycles, and suspension ends the partner’s sessions', async () => {
    const manager = await staffCookie('partner_manager');
    const master = await createPartner(manager, { email: 'master@partners.example', name: 'Master IB' });
    const sub = await createPartner(manager, {
      email: 'sub@partners.example',
      name: 'Sub IB',
      parentId: master.partner.id,
      referralCode: 'SUBIB2026',
    });
    expect(sub.partner.referralCode).toBe('SUBIB2026');
    const taken = await app.inject({
      method: 'POST',
      url: '/api/backoffice/partners',
      headers: { cookie: manager },
      payload: { email: 'other@partners.example', name: 'Other', referralCode: 'subib2026' },
    });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().message).toContain('referral code');

    const cycle = await app.inject({
      method: 'PATCH',
      url: `/api/backoffice/partners/${master.partner.id}`,
      headers: { cookie: manager },
      payload: { parentId: sub.partner.id, reason: 'restructure' },
    });
    expect(cycle.statusCode).toBe(409);
    expect(cycle.json().code).toBe('PARTNER_TREE_CYCLE');
    const subs = await app.inject({
      url: `/api/backoffice/partners?parentId=${master.partner.id}`,
      headers: { cookie: manager },
    });
    expect(subs.json().items.map((p: { id: string }) => p.id)).toEqual([sub.partner.id]);

    const login = await partnerLogin('sub@partners.example', sub.initialPassword);
    const cookie = cookieOf(login, 'bd_partner');
    const suspend = await app.inject({
      method: 'PATCH',
      url: `/api/backoffice/partners/${sub.partner.id}`,
      headers: { cookie: manager },
      payload: { status: 'suspended', reason: 'compliance hold' },
    });
    expect(suspend.statusCode).toBe(200);
    expect((await app.inject({ url: '/api/partner/me', headers: { cookie } })).statusCode).toBe(401);
    const again = await partnerLogin('sub@partners.example', sub.initialPassword);
    expect(again.statusCode).toBe(403);
    const wrong = await partnerLogin('master@partners.example', 'not the password');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('INVALID_CREDENTIALS');
  });

  it('lets a partner change the password, ending other sessions', async () => {
    const manager = await staffCookie('partner_manager');
    const p = await createPartner(manager, { email: 'pw@partners.example', name: 'PW' });
    const first = cookieOf(await partnerLogin('pw@partners.example', p.initialPassword), 'bd_partner');
    const second = cookieOf(await partnerLogin('pw@partners.example', p.initialPassword), 'bd_partner');
    const change = await app.inject({
      method: 'POST',
      url: '/api/partner/auth/password',
      headers: { cookie: first },
      payload: { currentPassword: p.initialPassword, newPassword: 'a brand new partner password' },
    });
    expect(change.statusCode, change.body).toBe(200);
    expect((await app.inject({ url: '/api/partner/me', headers: { cookie: second } })).statusCode).toBe(401);
    const fresh = cookieOf(change, 'bd_partner');
    expect((await app.inject({ url: '/api/partner/me', headers: { cookie: fresh } })).statusCode).toBe(200);
    expect((await partnerLogin('pw@partners.example', 'a brand new partner password')).statusCode).toBe(200);
    const weak = await app.inject({
      method: 'POST',
      url: '/api/partner/auth/password',
      headers: { cookie: fresh },
      payload: { currentPassword: 'a brand new partner password', newPassword: 'short' },
    });
    expect(weak.statusCode).toBe(400);
  });

  it('guards every API route: each declares a staff permission, a client session or a partner session', () => {
    const unguarded = app.routeTable.filter((r) => r.url.startsWith('/api/') && !r.permission);
    // Routes without a staff permission must be client or partner routes (their hooks return 401 without a cookie).
    for (const r of unguarded) expect(r.url, `${r.method} ${r.url}`).toMatch(/^\/api\/(portal|partner)\//);
  });
});
