import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staffCookie } from '../../test/support/accounts-testbed.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { type AppContext, createContext } from '../app/context.ts';
import { ManualClock } from '../clock.ts';
import { loadConfig } from '../config.ts';
import { auditEvents, clients, outboxEmails } from '../db/schema.ts';
import { createLogger } from '../log.ts';
import { verifyAuditChain } from '../modules/audit/service.ts';
import { StaffService } from '../modules/staff/service.ts';
import { buildApp } from './app.ts';

const PASSWORD = 'a long client password';

describe('client two-factor sign-in', () => {
  let database: TestDatabase;
  let ctx: AppContext;
  let app: FastifyInstance;
  const clock = new ManualClock(new Date('2026-03-02T10:00:00Z'));

  beforeAll(async () => {
    database = await createTestDatabase();
    const env = database.url
      ? { DATABASE_URL: database.url, BROKERDESK_SECRET_KEY: Buffer.alloc(32, 5).toString('base64') }
      : { BROKERDESK_DATA_DIR: mkdtempSync(join(tmpdir(), 'bd-2fa-')) };
    ctx = await createContext(loadConfig({ env }), { clock, logger: createLogger('silent') });
    app = await buildApp(ctx);
  });
  afterAll(async () => {
    await app?.close();
    await ctx?.close();
    await database?.drop();
  });

  const code = (secret: string) => generate({ secret, epoch: Math.floor(clock.now().getTime() / 1000) });
  const login = (email: string, totp?: string) =>
    app.inject({
      method: 'POST',
      url: '/api/portal/auth/login',
      payload: { email, password: PASSWORD, ...(totp !== undefined ? { totp } : {}) },
    });
  const cookieOf = (reply: Awaited<ReturnType<typeof login>>) =>
    `bd_client=${reply.cookies.find((c) => c.name === 'bd_client')!.value}`;
  const post = (cookie: string, url: string, payload: Record<string, unknown> = {}) =>
    app.inject({ method: 'POST', url: `/api/portal/security${url}`, headers: { cookie }, payload });

  async function registered(email: string): Promise<string> {
    const reply = await app.inject({
      method: 'POST',
      url: '/api/portal/auth/register',
      payload: { email, password: PASSWORD, name: 'Two Factor', country: 'CY' },
    });
    expect(reply.statusCode, reply.body).toBe(201);
    const signedIn = await login(email);
    expect(signedIn.statusCode, signedIn.body).toBe(200);
    return cookieOf(signedIn);
  }

  it('sets up, confirms, asks for the code at sign-in, refuses wrong and reused codes, and turns off with a code', async () => {
    const email = 'tf.client@example.com';
    const cookie = await registered(email);
    expect((await app.inject({ url: '/api/portal/security/two-factor', headers: { cookie } })).json()).toEqual({
      enabled: false,
      pending: false,
    });

    // Confirm before setup: nothing to confirm.
    const early = await post(cookie, '/two-factor/confirm', { code: '123456' });
    expect(early.statusCode).toBe(409);
    expect(early.json().code).toBe('TOTP_NOT_STARTED');

    const setup = await post(cookie, '/two-factor/setup');
    expect(setup.statusCode, setup.body).toBe(200);
    expect(setup.headers['cache-control']).toBe('no-store');
    const { secret, uri } = setup.json() as { secret: string; uri: string };
    expect(uri).toMatch(/^otpauth:\/\/totp\/Brokerdesk:tf\.client%40example\.com\?/);
    expect(uri).toContain(`secret=${secret}`);
    expect((await app.inject({ url: '/api/portal/security/two-factor', headers: { cookie } })).json()).toEqual({
      enabled: false,
      pending: true,
    });
    // Until confirmed, sign-in does not ask for a code.
    const passwordOnly = await login(email);
    expect(passwordOnly.statusCode).toBe(200);
    const earlierSession = cookieOf(passwordOnly);

    // The secret is sealed at rest and never in the client's own view.
    const [row] = await ctx.database.db.select().from(clients).where(eq(clients.email, email));
    expect(row!.totpSecretSealed).toBeTruthy();
    expect(row!.totpSecretSealed).not.toContain(secret);
    const me = await app.inject({ url: '/api/portal/me', headers: { cookie } });
    expect(me.body).not.toContain('totpSecretSealed');
    expect(me.json().client.totpEnabled).toBe(false);

    const badFormat = await post(cookie, '/two-factor/confirm', { code: '12ab' });
    expect(badFormat.statusCode).toBe(400);
    expect(badFormat.json().message).toContain('6-digit code');
    const wrong = await post(cookie, '/two-factor/confirm', {
      code: (Number(await code(secret)) + 1).toString().padStart(6, '0').slice(-6),
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('TOTP_INVALID');

    const first = await code(secret);
    const confirmed = await post(cookie, '/two-factor/confirm', { code: first.replace(/(\d{3})/, '$1 ') });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    expect(confirmed.json()).toEqual({ enabled: true, pending: false });
    // The session opened with the password alone ends; the one that confirmed stays.
    expect((await app.inject({ url: '/api/portal/me', headers: { cookie: earlierSession } })).statusCode).toBe(401);
    expect((await app.inject({ url: '/api/portal/me', headers: { cookie } })).statusCode).toBe(200);
    // A second setup would silently move the key: refused while on.
    expect((await post(cookie, '/two-factor/setup')).json().code).toBe('TOTP_ALREADY_ENABLED');

    // Sign-in now needs the code: missing, wrong, and the one just used are refused, with no session cookie.
    const missing = await login(email);
    expect(missing.statusCode).toBe(401);
    expect(missing.json()).toMatchObject({ code: 'TOTP_REQUIRED', message: expect.stringContaining('authenticator') });
    expect(missing.cookies.find((c) => c.name === 'bd_client')).toBeUndefined();
    const wrongAtLogin = await login(email, '000000' === first ? '111111' : '000000');
    expect(wrongAtLogin.statusCode).toBe(401);
    expect(wrongAtLogin.json().code).toBe('TOTP_INVALID');
    expect(wrongAtLogin.cookies.find((c) => c.name === 'bd_client')).toBeUndefined();
    const replayed = await login(email, first);
    expect(replayed.statusCode).toBe(401);
    expect(replayed.json().message).toContain('already used');
    // A wrong password is still a wrong password, whatever the code.
    const wrongPassword = await app.inject({
      method: 'POST',
      url: '/api/portal/auth/login',
      payload: { email, password: 'not the password at all', totp: first },
    });
    expect(wrongPassword.json().code).toBe('INVALID_CREDENTIALS');

    clock.advance(30_000);
    const next = await code(secret);
    const ok = await login(email, next);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().client.totpEnabled).toBe(true);
    const session = cookieOf(ok);
    expect((await app.inject({ url: '/api/portal/me', headers: { cookie: session } })).statusCode).toBe(200);

    // Turning it off takes a fresh code.
    expect((await post(session, '/two-factor/disable', { code: next })).json().code).toBe('TOTP_INVALID');
    clock.advance(30_000);
    const off = await post(session, '/two-factor/disable', { code: await code(secret) });
    expect(off.statusCode, off.body).toBe(200);
    expect(off.json()).toEqual({ enabled: false, pending: false });
    const [offMail] = await ctx.database.db
      .select()
      .from(outboxEmails)
      .where(and(eq(outboxEmails.to, email), eq(outboxEmails.kind, 'client.totp_off')));
    expect(offMail!.text).toContain('turned off from your profile');
    expect((await login(email)).statusCode).toBe(200);
    expect((await post(session, '/two-factor/disable', { code: await code(secret) })).json().code).toBe(
      'TOTP_NOT_ENABLED',
    );

    const actions = (await ctx.database.db.select().from(auditEvents).where(eq(auditEvents.entityId, row!.id))).map(
      (e) => e.action,
    );
    expect(actions).toEqual(
      expect.arrayContaining(['client.totp_setup_started', 'client.totp_enabled', 'client.totp_disabled']),
    );
    expect(actions.filter((a) => a === 'client.login_failed').length).toBeGreaterThanOrEqual(2);
    expect((await verifyAuditChain(ctx.database.db)).ok).toBe(true);
  });

  it('support resets it for a client who lost the app: off, sessions ended, reason audited; others may not', async () => {
    const email = 'tf.lost@example.com';
    const cookie = await registered(email);
    const { secret } = (await post(cookie, '/two-factor/setup')).json() as { secret: string };
    clock.advance(30_000);
    expect((await post(cookie, '/two-factor/confirm', { code: await code(secret) })).statusCode).toBe(200);
    const [client] = await ctx.database.db.select().from(clients).where(eq(clients.email, email));
    const url = `/api/backoffice/clients/${client!.id}/two-factor/reset`;
    const reason = 'called from the registered phone, passport number matched';

    const finance = await staffCookie(app, new StaffService(ctx.database, ctx.sealer, clock), clock, ['finance']);
    const refused = await app.inject({ method: 'POST', url, headers: { cookie: finance }, payload: { reason } });
    expect(refused.statusCode).toBe(403);
    const support = await staffCookie(app, new StaffService(ctx.database, ctx.sealer, clock), clock, ['support']);
    const short = await app.inject({ method: 'POST', url, headers: { cookie: support }, payload: { reason: 'asked' } });
    expect(short.statusCode).toBe(400);
    expect(short.json().message).toContain('how the client was identified');

    const reset = await app.inject({ method: 'POST', url, headers: { cookie: support }, payload: { reason } });
    expect(reset.statusCode, reset.body).toBe(200);
    expect(reset.json()).toEqual({ enabled: false, pending: false });
    // Every session of the client ended; the password alone signs in again, and the client can enrol a new app.
    expect((await app.inject({ url: '/api/portal/me', headers: { cookie } })).statusCode).toBe(401);
    const again = await login(email);
    expect(again.statusCode, again.body).toBe(200);
    const [after] = await ctx.database.db.select().from(clients).where(eq(clients.id, client!.id));
    expect(after!.totpSecretSealed).toBeNull();
    // The client hears of it by email, in case it was not them who asked.
    const mails = await ctx.database.db
      .select()
      .from(outboxEmails)
      .where(and(eq(outboxEmails.to, email), eq(outboxEmails.kind, 'client.totp_off')));
    expect(mails).toHaveLength(1);
    expect(mails[0]!.text).toContain('reset by our support team');
    expect(mails[0]!.text).toContain('contact support');
    // Nothing left to reset.
    const twice = await app.inject({ method: 'POST', url, headers: { cookie: support }, payload: { reason } });
    expect(twice.statusCode).toBe(409);
    expect(twice.json().code).toBe('TOTP_NOT_ENABLED');

    const [event] = await ctx.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.entityId, client!.id), eq(auditEvents.action, 'client.totp_reset')));
    expect(event!.actorType).toBe('staff');
    expect(event!.after).toMatchObject({ totpEnabled: false, reason, sessionsEnded: 1 });
    expect((await verifyAuditChain(ctx.database.db)).ok).toBe(true);
  });

  it('needs a signed-in client and refuses unknown fields', async () => {
    expect((await app.inject({ url: '/api/portal/security/two-factor' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/api/portal/security/two-factor/setup' })).statusCode).toBe(401);
    const cookie = await registered('tf.other@example.com');
    const extra = await post(cookie, '/two-factor/confirm', { code: '123456', secret: 'x' });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().code).toBe('VALIDATION_FAILED');
  });
});
