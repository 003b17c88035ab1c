import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { ManualClock } from '../../clock.ts';
import { outboxEmails } from '../../db/schema.ts';
import { deliverOutboxEmails, enqueueEmail, type Mailer, retryDelayMs } from './outbox.ts';
import { SmtpMailer } from './smtp.ts';

describe('email outbox', () => {
  let database: TestDatabase;
  const clock = new ManualClock('2026-05-04T08:00:00Z');
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
  let mailer: SmtpMailer;

  beforeAll(async () => {
    database = await createTestDatabase();
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    mailer = new SmtpMailer({
      host: '127.0.0.1',
      port: (smtp.server.address() as AddressInfo).port,
      from: 'no-reply@broker.example',
    });
  });
  afterAll(async () => {
    mailer.close();
    await new Promise<void>((resolve) => smtp.close(resolve));
    await database.drop();
  });

  const row = async (id: number) => (await database.db.select().from(outboxEmails).where(eq(outboxEmails.id, id)))[0]!;

  it('writes only with the transaction that causes it', async () => {
    await expect(
      database.db.transaction(async (tx) => {
        await enqueueEmail(tx, { kind: 'test', to: 'lost@example.com', subject: 'lost', text: 'x' }, clock);
        throw new Error('business change failed');
      }),
    ).rejects.toThrow('business change failed');
    const rows = await database.db.select().from(outboxEmails).where(eq(outboxEmails.to, 'lost@example.com'));
    expect(rows).toEqual([]);
  });

  it('keeps emails pending without SMTP, then sends them over SMTP once', async () => {
    const email = await database.db.transaction((tx) =>
      enqueueEmail(tx, { kind: 'test', to: 'ann@example.com', subject: 'Hello\r\nBcc: evil', text: 'Hi Ann' }, clock),
    );
    expect(email.subject).toBe('Hello Bcc: evil');
    expect(await deliverOutboxEmails(database, null, { clock })).toEqual({
      sent: 0,
      retrying: 0,
      failed: 0,
      skipped: true,
    });
    expect((await row(email.id)).status).toBe('pending');

    expect(await deliverOutboxEmails(database, mailer, { clock })).toMatchObject({ sent: 1, skipped: false });
    expect(await row(email.id)).toMatchObject({ status: 'sent', attempts: 1, lastError: null });
    expect(mails.filter((m) => m.includes('ann@example.com'))).toHaveLength(1);
    expect(mails.at(-1)).toContain('Hi Ann');
    expect(mails.at(-1)).toMatch(/^Subject: Hello Bcc: evil/m);
    expect(mails.at(-1)).not.toMatch(/^Bcc:/m);
    expect(await deliverOutboxEmails(database, mailer, { clock })).toMatchObject({ sent: 0 });
  });

  it('retries with backoff and gives up after the last attempt', async () => {
    let calls = 0;
    const broken: Mailer = {
      async send() {
        calls += 1;
        throw new Error('connect ECONNREFUSED');
      },
    };
    const email = await database.db.transaction((tx) =>
      enqueueEmail(tx, { kind: 'test', to: 'bo@example.com', subject: 's', text: 't' }, clock),
    );
    expect(await deliverOutboxEmails(database, broken, { clock, maxAttempts: 3 })).toMatchObject({ retrying: 1 });
    let r = await row(email.id);
    expect(r).toMatchObject({ status: 'pending', attempts: 1, lastError: 'connect ECONNREFUSED' });
    expect(r.nextAttemptAt.getTime() - clock.now().getTime()).toBe(retryDelayMs(1));
    // Not due yet: not tried again.
    await deliverOutboxEmails(database, broken, { clock, maxAttempts: 3 });
    expect(calls).toBe(1);
    clock.advance(retryDelayMs(1));
    await deliverOutboxEmails(database, broken, { clock, maxAttempts: 3 });
    clock.advance(retryDelayMs(2));
    expect(await deliverOutboxEmails(database, broken, { clock, maxAttempts: 3 })).toMatchObject({ failed: 1 });
    r = await row(email.id);
    expect(r).toMatchObject({ status: 'failed', attempts: 3 });
    expect(calls).toBe(3);
    expect(retryDelayMs(2)).toBe(2 * retryDelayMs(1));
    expect(retryDelayMs(50)).toBe(3600_000);
  });

  it('lets concurrent workers send each email once', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      const e = await database.db.transaction((tx) =>
        enqueueEmail(tx, { kind: 'test', to: `c${i}@example.com`, subject: 's', text: 't' }, clock),
      );
      ids.push(e.id);
    }
    const seen: string[] = [];
    const counting: Mailer = {
      async send(m) {
        seen.push(m.to);
        await new Promise((r) => setTimeout(r, 5));
      },
    };
    await Promise.all([1, 2, 3].map(() => deliverOutboxEmails(database, counting, { clock })));
    expect(seen.sort()).toEqual(ids.map((_, i) => `c${i}@example.com`).sort());
  });
});
