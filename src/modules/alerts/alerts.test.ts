import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { ManualClock } from '../../clock.ts';
import { verifyAuditChain } from '../audit/service.ts';
import { EmailChannel, signWebhook, WebhookChannel } from './channels.ts';
import { deliverAlerts } from './delivery.ts';
import { AlertService, AlertStateError } from './service.ts';

describe('alerts', () => {
  let database: TestDatabase;
  const clock = new ManualClock('2026-05-04T08:00:00Z');
  const webhookCalls: { headers: IncomingHttpHeaders; body: string }[] = [];
  let webhookStatus = 200;
  const mails: string[] = [];
  const webhook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      webhookCalls.push({ headers: req.headers, body });
      res.statusCode = webhookStatus;
      res.end();
    });
  });
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
  let webhookUrl = '';
  let smtpPort = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/alerts`;
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    smtpPort = (smtp.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    webhook.close();
    await new Promise<void>((resolve) => smtp.close(resolve));
    await database.drop();
  });

  it('deduplicates open alerts by key, and a new one opens after resolution', async () => {
    const service = new AlertService({ clock });
    const input = {
      kind: 'server_unreachable',
      dedupeKey: 'server:mt4-live',
      severity: 'critical' as const,
      title: 'mt4-live down',
    };
    const a = await database.db.transaction((tx) => service.raise(tx, input));
    clock.advance(60_000);
    const b = await database.db.transaction((tx) => service.raise(tx, { ...input, title: 'mt4-live still down' }));
    expect(b.id).toBe(a.id);
    expect(b).toMatchObject({ occurrences: 2, title: 'mt4-live still down' });
    expect(b.lastSeenAt.getTime() - b.firstSeenAt.getTime()).toBe(60_000);

    await Promise.all([1, 2, 3].map(() => database.db.transaction((tx) => service.raise(tx, input))));
    expect(
      (await service.list(database.db, { status: 'open' })).filter((x) => x.dedupeKey === input.dedupeKey),
    ).toHaveLength(1);

    const acked = await database.db.transaction((tx) => service.acknowledge(tx, a.id, 'dealer-1'));
    expect(acked).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'dealer-1' });
    const resolved = await database.db.transaction((tx) =>
      service.resolveAlert(tx, a.id, 'dealer-1', 'bridge restarted'),
    );
    expect(resolved).toMatchObject({ status: 'resolved', resolution: 'bridge restarted' });
    await expect(database.db.transaction((tx) => service.acknowledge(tx, a.id, 'x'))).rejects.toBeInstanceOf(
      AlertStateError,
    );

    const again = await database.db.transaction((tx) => service.raise(tx, input));
    expect(again.id).not.toBe(a.id);
    expect((await verifyAuditChain(database.db)).ok).toBe(true);
  });

  it('delivers through a signed webhook and email, and retries a failed delivery', async () => {
    const service = new AlertService({ clock, channels: ['webhook', 'email'] });
    const channels = [
      new WebhookChannel(webhookUrl, 'whsec-test', () => clock.now()),
      new EmailChannel({ host: '127.0.0.1', port: smtpPort, from: 'brokerdesk@example.com', to: ['ops@example.com'] }),
    ];
    webhookStatus = 500;
    await database.db.transaction((tx) =>
      service.raise(tx, {
        kind: 'operation_needs_review',
        dedupeKey: 'operation:x1',
        severity: 'critical',
        title: 'BD-DEP-1 needs review',
      }),
    );
    const first = await deliverAlerts(database, channels, { clock });
    expect(first).toEqual({ delivered: 1, failed: 1 });
    expect(mails).toHaveLength(1);
    expect(mails[0]).toContain('Subject: [Brokerdesk critical] BD-DEP-1 needs review');

    webhookStatus = 200;
    expect(await deliverAlerts(database, channels, { clock })).toEqual({ delivered: 0, failed: 0 });
    clock.advance(5_000);
    expect(await deliverAlerts(database, channels, { clock })).toEqual({ delivered: 1, failed: 0 });
    const call = webhookCalls.at(-1)!;
    const signature = String(call.headers['brokerdesk-signature']);
    const timestamp = Number(/t=(\d+)/.exec(signature)![1]);
    expect(signature).toBe(signWebhook('whsec-test', timestamp, call.body));
    expect(JSON.parse(call.body)).toMatchObject({
      event: 'raised',
      alert: { kind: 'operation_needs_review', severity: 'critical' },
    });
    for (const c of channels) if (c instanceof EmailChannel) c.close();
  });
});
