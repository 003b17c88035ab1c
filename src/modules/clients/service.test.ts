import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { ManualClock } from '../../clock.ts';
import { emailVerificationTokens, outboxEmails } from '../../db/schema.ts';
import { ClientError, ClientService, isCountryCode } from './service.ts';

describe('clients', () => {
  let database: TestDatabase;
  let service: ClientService;
  const clock = new ManualClock('2026-05-04T08:00:00Z');

  beforeAll(async () => {
    database = await createTestDatabase();
    service = new ClientService({ database, clock, publicUrl: 'https://portal.example/' });
  });
  afterAll(async () => {
    await database.drop();
  });

  it('knows ISO 3166-1 alpha-2 codes', () => {
    for (const code of ['GB', 'CY', 'US', 'AE', 'ZA']) expect(isCountryCode(code)).toBe(true);
    for (const code of ['XX', 'EU', 'UN', 'gb', 'GBR', '', '12']) expect(isCountryCode(code)).toBe(false);
  });

  it('stores only the hash of the 48-hour verification token, and the email with its link', async () => {
    const client = await service.register({
      email: 'Zoe@Example.com',
      password: 'long enough password',
      name: 'Zoe',
      country: 'cy',
    });
    const [token] = await database.db
      .select()
      .from(emailVerificationTokens)
      .where(eq(emailVerificationTokens.clientId, client.id));
    expect(token!.expiresAt.getTime() - clock.now().getTime()).toBe(48 * 3600_000);
    const [mail] = await database.db.select().from(outboxEmails).where(eq(outboxEmails.to, 'zoe@example.com'));
    expect(mail).toMatchObject({ kind: 'client.verify_email', status: 'pending' });
    const raw = /https:\/\/portal\.example\/verify-email\?token=([A-Za-z0-9_-]+)/.exec(mail!.text)![1]!;
    expect(createHash('sha256').update(raw).digest('hex')).toBe(token!.tokenHash);
    expect(mail!.text).not.toContain(token!.tokenHash);
    expect(mail!.text).not.toContain('long enough password');

    const verified = await service.verifyEmail(raw);
    expect(verified.emailVerifiedAt).toEqual(clock.now());
    await expect(service.resendVerification(client.id)).rejects.toMatchObject({ code: 'EMAIL_ALREADY_VERIFIED' });
  });

  it('treats emails case-insensitively, even when two registrations race', async () => {
    const input = { password: 'long enough password', name: 'R', country: 'GB' };
    const results = await Promise.allSettled([
      service.register({ ...input, email: 'race@example.com' }),
      service.register({ ...input, email: 'RACE@example.com' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(failed.reason).toBeInstanceOf(ClientError);
    expect(failed.reason.code).toBe('CLIENT_EXISTS');
  });

  it('gives one answer for an unknown email and a wrong password', async () => {
    await service.register({ email: 'p@example.com', password: 'long enough password', name: 'P', country: 'GB' });
    const a = await service.authenticate({ email: 'p@example.com', password: 'nope' }).catch((e) => e);
    const b = await service.authenticate({ email: 'q@example.com', password: 'nope' }).catch((e) => e);
    expect([a.code, a.message]).toEqual(['INVALID_CREDENTIALS', 'wrong email or password']);
    expect([b.code, b.message]).toEqual([a.code, a.message]);
    expect((await service.authenticate({ email: ' P@example.com', password: 'long enough password' })).email).toBe(
      'p@example.com',
    );
  });
});
