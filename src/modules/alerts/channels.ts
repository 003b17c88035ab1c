/**
 * Where alerts go: a signed outbound webhook and email over SMTP. The webhook body is JSON; its signature header is
 * `Brokerdesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` so a receiver can check both origin
 * and freshness, as PSP webhooks do.
 */
import { createHmac } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Alert } from './service.ts';

export interface AlertMessage {
  event: 'raised' | 'resolved';
  alert: Pick<Alert, 'id' | 'kind' | 'severity' | 'title' | 'status' | 'occurrences' | 'details'> & {
    firstSeenAt: string;
    lastSeenAt: string;
  };
}

export interface AlertChannel {
  readonly name: 'webhook' | 'email';
  send(message: AlertMessage): Promise<void>;
}

export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export class WebhookChannel implements AlertChannel {
  readonly name = 'webhook' as const;
  constructor(
    private readonly url: string,
    private readonly secret: string,
    private readonly now: () => Date = () => new Date(),
    private readonly timeoutMs = 10_000,
  ) {}

  async send(message: AlertMessage): Promise<void> {
    const body = JSON.stringify(message);
    const timestamp = Math.floor(this.now().getTime() / 1000);
    const response = await fetch(this.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'brokerdesk-signature': signWebhook(this.secret, timestamp, body),
      },
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!response.ok) throw new Error(`alert webhook answered HTTP ${response.status}`);
  }
}

export interface SmtpSettings {
  host: string;
  port: number;
  secure?: boolean;
  user?: string;
  password?: string;
  from: string;
  to: string[];
}

export class EmailChannel implements AlertChannel {
  readonly name = 'email' as const;
  private readonly transport: Transporter;

  constructor(private readonly settings: SmtpSettings) {
    this.transport = nodemailer.createTransport({
      host: settings.host,
      port: settings.port,
      secure: settings.secure ?? false,
      auth: settings.user ? { user: settings.user, pass: settings.password } : undefined,
      // Local capturing servers in development and tests have no certificate; real relays negotiate STARTTLS.
      ignoreTLS: !settings.secure && (settings.host === '127.0.0.1' || settings.host === 'localhost'),
    });
  }

  async send(message: AlertMessage): Promise<void> {
    const { alert } = message;
    const subject = `[Brokerdesk ${alert.severity}] ${message.event === 'resolved' ? 'RESOLVED: ' : ''}${alert.title}`;
    await this.transport.sendMail({
      from: this.settings.from,
      to: this.settings.to,
      subject: subject.slice(0, 200),
      text: [
        alert.title,
        '',
        `kind: ${alert.kind}`,
        `severity: ${alert.severity}`,
        `status: ${alert.status}`,
        `occurrences: ${alert.occurrences}`,
        `first seen: ${alert.firstSeenAt}`,
        `last seen: ${alert.lastSeenAt}`,
        '',
        JSON.stringify(alert.details ?? {}, null, 2),
      ].join('\n'),
    });
  }

  close(): void {
    this.transport.close();
  }
}
