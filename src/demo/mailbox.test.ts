/**
 * The demo mailbox: messages sent over SMTP (by nodemailer, as the product sends them) are stored, parsed (encoded
 * headers, quoted-printable and base64 bodies, multipart), kept across a restart, and shown HTML-escaped with their
 * links clickable.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';
import { linkify, type Mailbox, parseMessage, startMailbox } from './mailbox.ts';

describe('demo mailbox', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bd-mailbox-'));
  let mailbox: Mailbox | null = null;
  afterAll(async () => {
    await mailbox?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const send = (message: SendMailOptions) =>
    nodemailer
      .createTransport({ host: '127.0.0.1', port: mailbox!.smtpPort, secure: false, ignoreTLS: true })
      .sendMail({ from: 'Brokerdesk Demo <no-reply@brokerdesk.demo>', ...message });

  it('stores what arrives over SMTP, decoded, and shows it escaped with clickable links', async () => {
    mailbox = await startMailbox({ dir, smtpPort: 0, webPort: 0 });
    const link = 'http://127.0.0.1:8080/verify-email?token=abc_DEF-123';
    await send({
      to: 'zoë@example.com',
      subject: 'Bestätigen Sie Ihre E-Mail-Adresse ✓',
      text: `Hallo Zoë,\n\nbitte öffnen Sie: ${link}.\n\n<script>alert(1)</script> ${'lang '.repeat(40)}`,
    });
    const { items, total } = mailbox.list({ to: 'zoë@example.com' });
    expect(total).toBe(1);
    expect(items[0]).toMatchObject({
      subject: 'Bestätigen Sie Ihre E-Mail-Adresse ✓',
      envelopeTo: ['zoë@example.com'],
    });
    const message = mailbox.get(items[0]!.id)!;
    expect(message.text).toContain(`bitte öffnen Sie: ${link}.`);
    expect(message.text).toContain('<script>alert(1)</script>');

    const page = await (await fetch(`${mailbox.webUrl}/messages/${message.id}`)).text();
    expect(page).toContain(`<a href="${link}">${link}</a>.`);
    expect(page).not.toContain('<script>');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    const list = await (await fetch(`${mailbox.webUrl}/`)).text();
    expect(list).toContain(`href="/messages/${message.id}"`);
    const json = await (await fetch(`${mailbox.webUrl}/api/messages?to=nobody@example.com`)).json();
    expect(json).toEqual({ items: [], total: 0 });
    expect((await fetch(`${mailbox.webUrl}/messages/../../etc/passwd`)).status).toBe(404);
    expect((await fetch(`${mailbox.webUrl}/api/messages/nope`)).status).toBe(404);
  });

  it('keeps the messages across a restart and waits for the next one', async () => {
    await mailbox!.close();
    mailbox = await startMailbox({ dir, smtpPort: 0, webPort: 0 });
    expect(mailbox.list().total).toBe(1);
    const waiting = mailbox.waitFor((m) => m.subject === 'second', 5000);
    await send({ to: 'ops@example.com', subject: 'second', text: 'plain', html: '<p>rich <b>text</b></p>' });
    const second = await waiting;
    expect(second).toMatchObject({ text: 'plain', html: '<p>rich <b>text</b></p>' });
    expect(mailbox.list().items.map((m) => m.subject)).toEqual(['second', 'Bestätigen Sie Ihre E-Mail-Adresse ✓']);
    const frame = await fetch(`${mailbox.webUrl}/messages/${second.id}/html`);
    expect(frame.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('parses base64 parts and encoded words; links cannot break out of the attribute', () => {
    const raw = [
      'From: =?UTF-8?B?w5xiZXI=?= <a@example.com>',
      'To: b@example.com',
      'Subject: =?utf-8?Q?Caf=C3=A9_=E2=82=AC?=',
      'Content-Type: multipart/alternative; boundary="xyz"',
      '',
      '--xyz',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('Grüße').toString('base64'),
      '--xyz--',
      '',
    ].join('\r\n');
    expect(parseMessage(Buffer.from(raw))).toMatchObject({
      from: 'Über <a@example.com>',
      subject: 'Café €',
      text: 'Grüße',
    });
    expect(linkify('see https://x.example/a?b=1&c="><img src=x>')).toBe(
      'see <a href="https://x.example/a?b=1&amp;c=">https://x.example/a?b=1&amp;c=</a>&quot;&gt;&lt;img src=x&gt;',
    );
  });
});
