import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { type AppContext, createContext } from '../app/context.ts';
import { ManualClock } from '../clock.ts';
import { loadConfig } from '../config.ts';
import { type StaffRole, staffRoles } from '../db/schema.ts';
import { createLogger } from '../log.ts';
import { can, type Permission, requiresTwoFactor } from '../modules/staff/permissions.ts';
import { StaffService } from '../modules/staff/service.ts';
import { buildApp } from './app.ts';

const PASSWORD = 'correct horse battery';

describe('back-office API', () => {
  let database: TestDatabase;
  let ctx: AppContext;
  let app: FastifyInstance;
  let staff: StaffService;
  const clock = new ManualClock(new Date());

  beforeAll(async () => {
    database = await createTestDatabase();
    const env = database.url
      ? { DATABASE_URL: database.url, BROKERDESK_SECRET_KEY: Buffer.alloc(32, 9).toString('base64') }
      : { BROKERDESK_DATA_DIR: mkdtempSync(join(tmpdir(), 'bd-api-')) };
    ctx = await createContext(loadConfig({ env }), { clock, logger: createLogger('silent') });
    staff = new StaffService(ctx.database, ctx.sealer, clock);
    app = await buildApp(ctx, { staff });
  });
  afterAll(async () => {
    await app?.close();
    await ctx?.close();
    await database?.drop();
  });

  async function login(email: string, password = PASSWORD, totp?: string) {
    return app.inject({
      method: 'POST',
      url: '/api/backoffice/auth/login',
      payload: { email, password, ...(totp ? { totp } : {}) },
    });
  }

  function cookieOf(response: { cookies: { name: string; value: string }[] }): string {
    const c = response.cookies.find((x) => x.name === 'bd_staff');
    if (!c) throw new Error('no session cookie');
    return `bd_staff=${c.value}`;
  }

  /** A signed-in session for a new staff member with these roles (enrolled in two-factor when the roles need it). */
  async function sessionFor(roles: StaffRole[]): Promise<string> {
    const email = `${roles.join('-')}-${Math.random().toString(36).slice(2, 8)}@broker.example`;
    await staff.create({ email, name: roles.join(' '), password: PASSWORD, roles }, 'system');
    const first = await login(email);
    expect(first.statusCode).toBe(200);
    const cookie = cookieOf(first);
    if (requiresTwoFactor(roles)) {
      const setup = await app.inject({ method: 'POST', url: '/api/backoffice/auth/totp/setup', headers: { cookie } });
      const { secret } = setup.json() as { secret: string };
      const code = await generate({ secret, epoch: Math.floor(clock.now().getTime() / 1000) });
      const confirmed = await app.inject({
        method: 'POST',
        url: '/api/backoffice/auth/totp/confirm',
        headers: { cookie },
        payload: { code },
      });
      expect(confirmed.statusCode).toBe(200);
    }
    return cookie;
  }

  it('signs staff in with argon2id passwords, and refuses wrong ones without saying which part was wrong', async () => {
    await staff.create(
      { email: 'Support@Broker.example', name: 'Sam Support', password: PASSWORD, roles: ['support'] },
      'system',
    );
    const ok = await login('support@broker.example');
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({
      staff: { email: 'support@broker.example', roles: ['support'] },
      twoFactorEnrolmentRequired: false,
    });
    expect(JSON.stringify(ok.json())).not.toContain('password');
    const setCookie = String(ok.headers['set-cookie']);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    for (const bad of [await login('support@broker.example', 'wrong password'), await login('nobody@broker.example')]) {
      expect(bad.statusCode).toBe(401);
      expect(bad.json()).toEqual({ code: 'INVALID_CREDENTIALS', message: 'wrong email or password' });
    }
    const me = await app.inject({ url: '/api/backoffice/auth/me', headers: { cookie: cookieOf(ok) } });
    expect(me.json()).toMatchObject({ staff: { name: 'Sam Support' }, twoFactorPassed: true });
  });

  it('requires two-factor for roles that move money, from enrolment to every later sign-in', async () => {
    await staff.create(
      { email: 'fin@broker.example', name: 'Fay Finance', password: PASSWORD, roles: ['finance'] },
      'system',
    );
    const first = await login('fin@broker.example');
    expect(first.json()).toMatchObject({ twoFactorEnrolmentRequired: true });
    const cookie = cookieOf(first);
    const blocked = await app.inject({ url: '/api/backoffice/operations', headers: { cookie } });
    expect(blocked.statusCode).toBe(401);
    expect(blocked.json().code).toBe('TWO_FACTOR_REQUIRED');

    const { secret, uri } = (
      await app.inject({ method: 'POST', url: '/api/backoffice/auth/totp/setup', headers: { cookie } })
    ).json() as {
      secret: string;
      uri: string;
    };
    expect(uri).toMatch(/^otpauth:\/\/totp\/Brokerdesk:fin%40broker\.example\?/);
    const wrong = await app.inject({
      method: 'POST',
      url: '/api/backoffice/auth/totp/confirm',
      headers: { cookie },
      payload: { code: '000000' },
    });
    expect(wrong.json().code).toBe('TOTP_INVALID');
    const code = await generate({ secret, epoch: Math.floor(clock.now().getTime() / 1000) });
    await app.inject({
      method: 'POST',
      url: '/api/backoffice/auth/totp/confirm',
      headers: { cookie },
      payload: { code },
    });
    expect((await app.inject({ url: '/api/backoffice/operations', headers: { cookie } })).statusCode).toBe(200);

    const withoutCode = await login('fin@broker.example');
    expect(withoutCode.json().code).toBe('TOTP_REQUIRED');
    clock.advance(60_000);
    const fresh = await generate({ secret, epoch: Math.floor(clock.now().getTime() / 1000) });
    expect((await login('fin@broker.example', PASSWORD, fresh)).statusCode).toBe(200);
  });

  it('enforces the permission of every back-office route for every role', async () => {
    const routes = app.routeTable.filter((r) => r.url.startsWith('/api/backoffice'));
    const guarded = routes.filter((r) => r.permission && r.permission !== 'public' && r.permission !== 'authenticated');
    expect(guarded.length).toBeGreaterThanOrEqual(15);
    // No back-office route may be left without a declared permission.
    expect(routes.filter((r) => !r.permission)).toEqual([]);
    const sessions = new Map<StaffRole, string>();
    for (const role of staffRoles) sessions.set(role, await sessionFor([role]));
    const id = '00000000-0000-4000-8000-000000000000';
    for (const route of guarded) {
      const url = route.url.replace(':id', id);
      const anonymous = await app.inject({
        method: route.method as 'GET',
        url,
        payload: route.method === 'GET' ? undefined : {},
      });
      expect(anonymous.statusCode, `${route.method} ${route.url} without a session`).toBe(401);
      for (const role of staffRoles) {
        const response = await app.inject({
          method: route.method as 'GET',
          url,
          headers: { cookie: sessions.get(role)! },
          payload: route.method === 'GET' ? undefined : {},
        });
        const allowed = can([role], route.permission as Permission);
        const label = `${role} → ${route.method} ${route.url} (${route.permission})`;
        if (allowed) expect([401, 403], label).not.toContain(response.statusCode);
        else expect(response.statusCode, label).toBe(403);
      }
    }
  });

  it('answers bad input with a clear 4xx and changes nothing', async () => {
    const cookie = await sessionFor(['admin']);
    const before = (await app.inject({ url: '/api/backoffice/staff', headers: { cookie } })).json().items.length;
    const malformed = await app.inject({
      method: 'POST',
      url: '/api/backoffice/staff',
      headers: { cookie, 'content-type': 'application/json' },
      payload: '{"email": "x@y.z", ',
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().code).toBe('MALFORMED_JSON');

    const unknownField = await app.inject({
      method: 'POST',
      url: '/api/backoffice/staff',
      headers: { cookie },
      payload: { email: 'new@broker.example', name: 'N', password: PASSWORD, roles: ['support'], isRoot: true },
    });
    expect(unknownField.statusCode).toBe(400);
    expect(unknownField.json()).toMatchObject({ code: 'VALIDATION_FAILED' });

    const wrongTypes = await app.inject({
      method: 'POST',
      url: '/api/backoffice/staff',
      headers: { cookie },
      payload: { email: 42, roles: 'admin' },
    });
    expect(wrongTypes.statusCode).toBe(400);
    expect(wrongTypes.json().details.length).toBeGreaterThan(1);

    const oversized = await app.inject({
      method: 'POST',
      url: '/api/backoffice/staff',
      headers: { cookie },
      payload: { email: 'big@broker.example', name: 'x'.repeat(2_000_000), password: PASSWORD, roles: ['support'] },
    });
    expect(oversized.statusCode).toBe(413);

    const badRole = await app.inject({
      method: 'POST',
      url: '/api/backoffice/staff',
      headers: { cookie },
      payload: { email: 'r@broker.example', name: 'R', password: PASSWORD, roles: ['superuser'] },
    });
    expect(badRole.statusCode).toBe(400);
    const badId = await app.inject({ url: '/api/backoffice/operations/not-an-id', headers: { cookie } });
    expect(badId.statusCode).toBe(400);
    const missing = await app.inject({
      url: '/api/backoffice/operations/00000000-0000-4000-8000-000000000000',
      headers: { cookie },
    });
    expect(missing.statusCode).toBe(404);
    expect((await app.inject({ url: '/api/backoffice/staff', headers: { cookie } })).json().items.length).toBe(before);
    for (const r of [malformed, unknownField, wrongTypes, badRole, badId, missing])
      expect(r.body).not.toMatch(/at .*\.ts:\d+/);
  });

  it('expires idle sessions and honours sign-out', async () => {
    const cookie = await sessionFor(['compliance']);
    expect((await app.inject({ url: '/api/backoffice/audit/verify', headers: { cookie } })).json()).toMatchObject({
      ok: true,
    });
    clock.advance(8 * 3600_000 + 1);
    const expired = await app.inject({ url: '/api/backoffice/audit/verify', headers: { cookie } });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().code).toBe('SESSION_INVALID');

    const again = await sessionFor(['compliance']);
    await app.inject({ method: 'POST', url: '/api/backoffice/auth/logout', headers: { cookie: again } });
    expect((await app.inject({ url: '/api/backoffice/auth/me', headers: { cookie: again } })).statusCode).toBe(401);
  });

  it('limits the rate of sign-in attempts', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await login('nobody@broker.example', 'guess')).statusCode);
    expect(statuses).toContain(429);
  });

  it('serves its OpenAPI document', async () => {
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toContain('/api/backoffice/operations/{id}/retry');
  });
});
