import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { type AppContext, createContext } from '../app/context.ts';
import { ManualClock } from '../clock.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { verifyAuditChain } from '../modules/audit/service.ts';
import { deliverOutboxEmails } from '../modules/mail/outbox.ts';
import { StaffService } from '../modules/staff/service.ts';
import { buildApp } from './app.ts';

const PASSWORD = 'a long client password';
const STAFF_PASSWORD = 'correct horse battery';
const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
  Buffer.from('IHDR'),
  Buffer.alloc(64, 1),
]);
const PDF = Buffer.from('%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');

/** A multipart/form-data body with text fields and files, as a browser would send it. */
function multipartBody(
  fields: Record<string, string>,
  files: { field: string; name: string; type: string; bytes: Buffer }[],
) {
  const boundary = `----bd${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  for (const f of files) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${f.field}"; filename="${f.name}"\r\nContent-Type: ${f.type}\r\n\r\n`,
      ),
      f.bytes,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

describe('client portal and KYC review', () => {
  let database: TestDatabase;
  let ctx: AppContext;
  let app: FastifyInstance;
  let staff: StaffService;
  let kycDir: string;
  const clock = new ManualClock(new Date());
  const mails: string[] = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, _session, callback) {
      let text = '';
      stream.on('data', (c) => {
        text += c;
      });
      stream.on('end', () => {
        mails.push(text);
        callback();
      });
    },
  });

  beforeAll(async () => {
    database = await createTestDatabase();
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    kycDir = mkdtempSync(join(tmpdir(), 'bd-kyc-'));
    const mail = {
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String((smtp.server.address() as AddressInfo).port),
      MAIL_FROM: 'Brokerdesk <no-reply@broker.example>',
      PUBLIC_URL: 'https://portal.broker.example/',
      KYC_STORAGE_DIR: kycDir,
      KYC_MAX_UPLOAD_BYTES: String(64 * 1024),
    };
    const env = database.url
      ? { ...mail, DATABASE_URL: database.url, BROKERDESK_SECRET_KEY: Buffer.alloc(32, 9).toString('base64') }
      : { ...mail, BROKERDESK_DATA_DIR: mkdtempSync(join(tmpdir(), 'bd-portal-')) };
    ctx = await createContext(loadConfig({ env }), { clock, logger: createLogger('silent') });
    staff = new StaffService(ctx.database, ctx.sealer, clock);
    app = await buildApp(ctx, { staff });
  });
  afterAll(async () => {
    await app?.close();
    await ctx?.close();
    await new Promise<void>((resolve) => smtp.close(resolve));
    await database?.drop();
  });

  const cookieOf = (response: { cookies: { name: string; value: string }[] }, name = 'bd_client') => {
    const c = response.cookies.find((x) => x.name === name);
    if (!c) throw new Error(`no ${name} cookie`);
    return `${name}=${c.value}`;
  };
  const register = (body: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: '/api/portal/auth/register', payload: body });
  const login = (email: string, password = PASSWORD) =>
    app.inject({ method: 'POST', url: '/api/portal/auth/login', payload: { email, password } });
  const count = async (table: string) =>
    Number((await ctx.database.query<{ n: string }>(`select count(*) as n from ${table}`))[0]!.n);

  async function signedInClient(email: string): Promise<{ cookie: string; id: string }> {
    const r = await register({ email, password: PASSWORD, name: 'Test Client', country: 'CY' });
    expect(r.statusCode).toBe(201);
    const l = await login(email);
    expect(l.statusCode).toBe(200);
    return { cookie: cookieOf(l), id: r.json().client.id };
  }
  async function staffCookie(role: 'compliance' | 'support' | 'finance'): Promise<string> {
    const email = `${role}-${Math.random().toString(36).slice(2, 8)}@broker.example`;
    await staff.create({ email, name: role, password: STAFF_PASSWORD, roles: [role] }, 'system');
    const r = await app.inject({
      method: 'POST',
      url: '/api/backoffice/auth/login',
      payload: { email, password: STAFF_PASSWORD },
    });
    expect(r.statusCode).toBe(200);
    return cookieOf(r, 'bd_staff');
  }
  const upload = (cookie: string, type: string, file: { name: string; type: string; bytes: Buffer }) => {
    const body = multipartBody({ type }, [{ field: 'file', ...file }]);
    return app.inject({
      method: 'POST',
      url: '/api/portal/kyc/documents',
      headers: { cookie, ...body.headers },
      payload: body.payload,
    });
  };

  it('registers, emails a verification link, verifies, signs in and edits the profile', async () => {
    const reg = await register({
      email: 'Alice@Example.com',
      password: PASSWORD,
      name: 'Alice Trader',
      country: 'gb',
      phone: '+44 20 7946 0000',
    });
    expect(reg.statusCode).toBe(201);
    expect(reg.json().client).toMatchObject({
      email: 'alice@example.com',
      country: 'GB',
      status: 'active',
      kycStatus: 'not_started',
      emailVerifiedAt: null,
    });
    expect(reg.body).not.toContain('password');

    // Unverified clients may sign in; `me` says so.
    const early = await login('alice@example.com');
    expect(early.statusCode).toBe(200);
    const setCookie = String(early.headers['set-cookie']);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    const me0 = await app.inject({ url: '/api/portal/me', headers: { cookie: cookieOf(early) } });
    expect(me0.json()).toMatchObject({ emailVerified: false, client: { email: 'alice@example.com' } });

    expect(await deliverOutboxEmails(ctx.database, ctx.mailer, { clock })).toMatchObject({ sent: 1 });
    const mail = mails.find((m) => /alice@example\.com/i.test(m));
    expect(mail).toBeDefined();
    expect(mail).not.toContain(PASSWORD);
    const unfolded = mail!.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
    const token = /https:\/\/portal\.broker\.example\/verify-email\?token=([A-Za-z0-9_-]+)/.exec(unfolded)?.[1];
    expect(token).toBeDefined();

    const verified = await app.inject({
      method: 'POST',
      url: '/api/portal/auth/verify-email',
      payload: { token },
    });
    expect(verified.statusCode).toBe(200);
    expect(verified.json()).toEqual({ emailVerified: true });
    const again = await app.inject({ method: 'POST', url: '/api/portal/auth/verify-email', payload: { token } });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('VERIFICATION_TOKEN_USED');

    const signedIn = await login('ALICE@example.com');
    expect(signedIn.statusCode).toBe(200);
    const cookie = cookieOf(signedIn);
    expect((await app.inject({ url: '/api/portal/me', headers: { cookie } })).json().emailVerified).toBe(true);

    const changed = await app.inject({
      method: 'PATCH',
      url: '/api/portal/profile',
      headers: { cookie },
      payload: { name: 'Alice T. Trader', phone: null, country: 'CY' },
    });
    expect(changed.statusCode).toBe(200);
    expect(changed.json()).toEqual({ email: 'alice@example.com', name: 'Alice T. Trader', phone: null, country: 'CY' });
    expect((await app.inject({ url: '/api/portal/profile', headers: { cookie } })).json().name).toBe('Alice T. Trader');

    const audit = await ctx.database.query<{ action: string }>(
      `select action from audit_events where entity_id = $1 order by id`,
      [reg.json().client.id],
    );
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(['client.registered', 'client.email_verified', 'client.login', 'client.profile_updated']),
    );

    await app.inject({ method: 'POST', url: '/api/portal/auth/logout', headers: { cookie } });
    expect((await app.inject({ url: '/api/portal/me', headers: { cookie } })).statusCode).toBe(401);
  });

  it('refuses wrong passwords and unknown emails alike, and expired verification links', async () => {
    await register({ email: 'bob@example.com', password: PASSWORD, name: 'Bob', country: 'DE' });
    for (const bad of [await login('bob@example.com', 'wrong password!'), await login('nobody@example.com')]) {
      expect(bad.statusCode).toBe(401);
      expect(bad.json()).toEqual({ code: 'INVALID_CREDENTIALS', message: 'wrong email or password' });
    }
    const dup = await register({ email: 'BOB@example.com', password: PASSWORD, name: 'Bob 2', country: 'DE' });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().code).toBe('CLIENT_EXISTS');

    await deliverOutboxEmails(ctx.database, ctx.mailer, { clock });
    const mail = mails.find((m) => /bob@example\.com/i.test(m))!;
    const token = /token=([A-Za-z0-9_-]+)/.exec(mail.replace(/=\r?\n/g, '').replace(/=3D/g, '='))![1];
    clock.advance(48 * 3600_000 + 1);
    const expired = await app.inject({ method: 'POST', url: '/api/portal/auth/verify-email', payload: { token } });
    expect(expired.statusCode).toBe(410);
    expect(expired.json().code).toBe('VERIFICATION_TOKEN_EXPIRED');
    const bogus = await app.inject({
      method: 'POST',
      url: '/api/portal/auth/verify-email',
      payload: { token: 'x'.repeat(43) },
    });
    expect(bogus.statusCode).toBe(400);
    expect(bogus.json().code).toBe('VERIFICATION_TOKEN_INVALID');
  });

  it('answers bad input with a clear 4xx and changes nothing', async () => {
    const { cookie } = await signedInClient('carol@example.com');
    const clientsBefore = await count('clients');
    const outboxBefore = await count('outbox_emails');
    const auditBefore = await count('audit_events');
    const cases = [
      await app.inject({
        method: 'POST',
        url: '/api/portal/auth/register',
        headers: { 'content-type': 'application/json' },
        payload: '{"email": "x@y.z", ',
      }),
      await register({ email: 42, password: ['x'], name: null, country: 1 }),
      await register({ email: 'd@example.com', password: PASSWORD, name: 'D', country: 'CY', isAdmin: true }),
      await register({ email: 'e@example.com', password: 'short', name: 'E', country: 'CY' }),
      await register({ email: 'f@example.com', password: PASSWORD, name: 'F', country: 'XX' }),
      await register({ email: 'g@example.com', password: PASSWORD, name: 'x'.repeat(500), country: 'CY' }),
      await register({ email: 'h@example.com', password: PASSWORD, name: 'H\r\nBcc: x', country: 'CY' }),
      await register({ email: 'not-an-email', password: PASSWORD, name: 'I', country: 'CY' }),
      await app.inject({
        method: 'PATCH',
        url: '/api/portal/profile',
        headers: { cookie },
        payload: { email: 'new@example.com' },
      }),
      await app.inject({ method: 'PATCH', url: '/api/portal/profile', headers: { cookie }, payload: {} }),
      await app.inject({ method: 'GET', url: '/api/portal/kyc/documents/not-an-id/file', headers: { cookie } }),
    ];
    expect(cases[0]!.json().code).toBe('MALFORMED_JSON');
    expect(cases[1]!.json().details.length).toBeGreaterThan(2);
    for (const r of cases) {
      expect(r.statusCode, r.body).toBe(400);
      expect(r.json()).toHaveProperty('code');
      expect(r.json()).toHaveProperty('message');
      expect(r.body).not.toMatch(/at .*\.ts:\d+/);
    }
    const oversized = await register({
      email: 'big@example.com',
      password: PASSWORD,
      name: 'x'.repeat(2_000_000),
      country: 'CY',
    });
    expect(oversized.statusCode).toBe(413);
    expect(await count('clients')).toBe(clientsBefore);
    expect(await count('outbox_emails')).toBe(outboxBefore);
    expect(await count('audit_events')).toBe(auditBefore);
    expect((await app.inject({ url: '/api/portal/profile', headers: { cookie } })).json().name).toBe('Test Client');
  });

  it('expires idle client sessions', async () => {
    const { cookie } = await signedInClient('dave@example.com');
    expect((await app.inject({ url: '/api/portal/me', headers: { cookie } })).statusCode).toBe(200);
    clock.advance(2 * 3600_000 + 1);
    const expired = await app.inject({ url: '/api/portal/me', headers: { cookie } });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().code).toBe('SESSION_INVALID');
    const anonymous = await app.inject({ url: '/api/portal/kyc/documents' });
    expect(anonymous.statusCode).toBe(401);
  });

  it('refuses KYC files that are not what they claim, too large, empty or not multipart, storing nothing', async () => {
    const { cookie } = await signedInClient('erin@example.com');
    const docsBefore = await count('kyc_documents');
    const filesBefore = readdirSync(kycDir).length;
    const html = await upload(cookie, 'passport', {
      name: 'passport.jpg',
      type: 'image/jpeg',
      bytes: Buffer.from('<!DOCTYPE html><html><script>alert(1)</script></html>'),
    });
    expect(html.statusCode).toBe(415);
    expect(html.json()).toMatchObject({ code: 'KYC_FILE_TYPE_NOT_ALLOWED' });
    expect(html.json().message).toContain('an HTML page');
    const exe = await upload(cookie, 'passport', {
      name: 'scan.pdf',
      type: 'application/pdf',
      bytes: Buffer.concat([Buffer.from('MZ'), Buffer.alloc(100)]),
    });
    expect(exe.statusCode).toBe(415);
    expect(exe.json().message).toContain('a Windows program');
    const big = await upload(cookie, 'passport', {
      name: 'big.png',
      type: 'image/png',
      bytes: Buffer.concat([PNG, Buffer.alloc(70 * 1024)]),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().code).toBe('KYC_FILE_TOO_LARGE');
    const empty = await upload(cookie, 'passport', {
      name: 'empty.pdf',
      type: 'application/pdf',
      bytes: Buffer.alloc(0),
    });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().code).toBe('KYC_FILE_EMPTY');
    const badType = await upload(cookie, 'bank_statement_selfie', {
      name: 'a.pdf',
      type: 'application/pdf',
      bytes: PDF,
    });
    expect(badType.statusCode).toBe(400);
    const json = await app.inject({
      method: 'POST',
      url: '/api/portal/kyc/documents',
      headers: { cookie },
      payload: { type: 'passport', file: 'JVBERi0=' },
    });
    expect(json.statusCode).toBe(415);
    expect(json.json().code).toBe('KYC_UPLOAD_NOT_MULTIPART');
    const twoFiles = multipartBody({ type: 'passport' }, [
      { field: 'file', name: 'a.pdf', type: 'application/pdf', bytes: PDF },
      { field: 'file', name: 'b.pdf', type: 'application/pdf', bytes: PDF },
    ]);
    const two = await app.inject({
      method: 'POST',
      url: '/api/portal/kyc/documents',
      headers: { cookie, ...twoFiles.headers },
      payload: twoFiles.payload,
    });
    expect(two.statusCode).toBeGreaterThanOrEqual(400);
    expect(two.statusCode).toBeLessThan(500);
    expect(await count('kyc_documents')).toBe(docsBefore);
    expect(readdirSync(kycDir).length).toBe(filesBefore);
    const me = (await app.inject({ url: '/api/portal/me', headers: { cookie } })).json();
    expect(me.client.kycStatus).toBe('not_started');
  });

  it('takes a document, queues the client, and lets compliance approve with history and audit', async () => {
    const { cookie, id: clientId } = await signedInClient('frank@example.com');
    const other = await signedInClient('grace@example.com');
    const up = await upload(cookie, 'passport', { name: '../../etc/passport.png', type: 'text/html', bytes: PNG });
    expect(up.statusCode, up.body).toBe(201);
    const doc = up.json().document;
    expect(doc).toMatchObject({ type: 'passport', contentType: 'image/png', status: 'pending', sizeBytes: PNG.length });
    expect(doc.originalName).toBe('passport.png');
    expect(doc).not.toHaveProperty('storageKey');
    const [stored] = await ctx.database.query<{ storage_key: string; sha256: string }>(
      'select storage_key, sha256 from kyc_documents where id = $1',
      [doc.id],
    );
    expect(stored!.storage_key).toMatch(/^[0-9a-f]{48}$/);
    expect(statSync(join(kycDir, stored!.storage_key)).mode & 0o777).toBe(0o600);

    const mine = await app.inject({ url: `/api/portal/kyc/documents/${doc.id}/file`, headers: { cookie } });
    expect(mine.statusCode).toBe(200);
    expect(mine.headers['content-type']).toBe('image/png');
    expect(mine.headers['content-disposition']).toMatch(/^attachment; filename="passport-[0-9a-f]{8}\.png"$/);
    expect(mine.headers['x-content-type-options']).toBe('nosniff');
    expect(mine.rawPayload.equals(PNG)).toBe(true);
    const theirs = await app.inject({
      url: `/api/portal/kyc/documents/${doc.id}/file`,
      headers: { cookie: other.cookie },
    });
    expect(theirs.statusCode).toBe(404);
    expect(theirs.json().code).toBe('KYC_DOCUMENT_NOT_FOUND');
    const list = (await app.inject({ url: '/api/portal/kyc/documents', headers: { cookie } })).json();
    expect(list).toMatchObject({ kycStatus: 'pending', items: [{ id: doc.id }] });

    const support = await staffCookie('support');
    const compliance = await staffCookie('compliance');
    const queue = await app.inject({ url: '/api/backoffice/kyc/queue', headers: { cookie: support } });
    expect(queue.statusCode).toBe(200);
    const entry = queue.json().items.find((i: { client: { id: string } }) => i.client.id === clientId);
    expect(entry).toMatchObject({ client: { email: 'frank@example.com' }, documents: [{ id: doc.id }] });
    const supportReview = await app.inject({
      method: 'POST',
      url: `/api/backoffice/kyc/documents/${doc.id}/review`,
      headers: { cookie: support },
      payload: { decision: 'approve' },
    });
    expect(supportReview.statusCode).toBe(403);

    const staffFile = await app.inject({
      url: `/api/backoffice/kyc/documents/${doc.id}/file`,
      headers: { cookie: support },
    });
    expect(staffFile.statusCode).toBe(200);
    expect(staffFile.headers['content-disposition']).toMatch(/^attachment;/);

    const tooEarly = await app.inject({
      method: 'POST',
      url: `/api/backoffice/clients/${clientId}/kyc/decision`,
      headers: { cookie: compliance },
      payload: { decision: 'approve' },
    });
    expect(tooEarly.statusCode).toBe(409);
    expect(tooEarly.json().code).toBe('KYC_DOCUMENTS_NOT_REVIEWED');
    const noReason = await app.inject({
      method: 'POST',
      url: `/api/backoffice/clients/${clientId}/kyc/decision`,
      headers: { cookie: compliance },
      payload: { decision: 'reject' },
    });
    expect(noReason.statusCode).toBe(400);

    const reviewed = await app.inject({
      method: 'POST',
      url: `/api/backoffice/kyc/documents/${doc.id}/review`,
      headers: { cookie: compliance },
      payload: { decision: 'approve', note: 'matches the selfie' },
    });
    expect(reviewed.statusCode).toBe(200);
    expect(reviewed.json().document).toMatchObject({ status: 'approved', reviewNote: 'matches the selfie' });
    const decided = await app.inject({
      method: 'POST',
      url: `/api/backoffice/clients/${clientId}/kyc/decision`,
      headers: { cookie: compliance },
      payload: { decision: 'approve' },
    });
    expect(decided.statusCode, decided.body).toBe(200);
    const client = decided.json().client;
    expect(client.kycStatus).toBe('approved');
    const validity = new Date(client.kycExpiresAt).getTime() - clock.now().getTime();
    expect(validity).toBe(365 * 86_400_000);

    const kyc = (
      await app.inject({ url: `/api/backoffice/clients/${clientId}/kyc`, headers: { cookie: compliance } })
    ).json();
    expect(kyc.history.map((h: { fromStatus: string; toStatus: string }) => `${h.fromStatus}>${h.toStatus}`)).toEqual([
      'not_started>pending',
      'pending>approved',
    ]);
    expect(kyc.history[1]).toMatchObject({ actorType: 'staff' });
    const audit = await ctx.database.query<{ action: string }>(
      `select action from audit_events where entity_id in ($1, $2) order by id`,
      [clientId, doc.id],
    );
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining([
        'kyc.document_uploaded',
        'kyc.status_changed',
        'kyc.document_viewed',
        'kyc.document_reviewed',
      ]),
    );
    expect((await verifyAuditChain(ctx.database.db)).ok).toBe(true);
    const again = await app.inject({
      method: 'POST',
      url: `/api/backoffice/clients/${clientId}/kyc/decision`,
      headers: { cookie: compliance },
      payload: { decision: 'request_more_info', reason: 'need proof of address' },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('KYC_TRANSITION_NOT_ALLOWED');
  });

  it('lets staff search clients and suspend one, which ends their sessions', async () => {
    const { cookie, id } = await signedInClient('heidi@example.com');
    const support = await staffCookie('support');
    const found = await app.inject({ url: '/api/backoffice/clients?q=heidi', headers: { cookie: support } });
    expect(found.json().items.map((c: { id: string }) => c.id)).toEqual([id]);
    expect(found.body).not.toContain('passwordHash');
    const byId = await app.inject({ url: `/api/backoffice/clients/${id}`, headers: { cookie: support } });
    expect(byId.json().client.email).toBe('heidi@example.com');
    const finance = await staffCookie('finance');
    const financeRead = await app.inject({ url: `/api/backoffice/clients/${id}`, headers: { cookie: finance } });
    expect([401, 200]).toContain(financeRead.statusCode); // finance must enrol in two-factor first
    const noReason = await app.inject({
      method: 'PATCH',
      url: `/api/backoffice/clients/${id}`,
      headers: { cookie: support },
      payload: { status: 'suspended' },
    });
    expect(noReason.statusCode).toBe(400);
    const suspended = await app.inject({
      method: 'PATCH',
      url: `/api/backoffice/clients/${id}`,
      headers: { cookie: support },
      payload: { status: 'suspended', reason: 'suspected account takeover' },
    });
    expect(suspended.statusCode).toBe(200);
    expect(suspended.json().client.status).toBe('suspended');
    expect((await app.inject({ url: '/api/portal/me', headers: { cookie } })).statusCode).toBe(401);
    const relogin = await login('heidi@example.com');
    expect(relogin.statusCode).toBe(403);
    expect(relogin.json().code).toBe('ACCOUNT_DISABLED');
  });
});
