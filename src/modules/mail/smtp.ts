/** Delivery of outbox emails over SMTP (nodemailer), with the settings from `config.mail.smtp`. */
import nodemailer, { type Transporter } from 'nodemailer';
import type { EmailMessage, Mailer } from './outbox.ts';

export interface SmtpMailerSettings {
  host: string;
  port: number;
  secure?: boolean;
  user?: string | undefined;
  password?: string | undefined;
  from: string;
  /** Give up on a connection or a reply after this long, so one stuck relay does not hold the worker. */
  timeoutMs?: number;
}

export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(private readonly settings: SmtpMailerSettings) {
    const timeout = settings.timeoutMs ?? 30_000;
    this.transport = nodemailer.createTransport({
      host: settings.host,
      port: settings.port,
      secure: settings.secure ?? false,
      auth: settings.user ? { user: settings.user, pass: settings.password } : undefined,
      // Local capturing servers in development and tests have no certificate; real relays negotiate STARTTLS.
      ignoreTLS: !settings.secure && (settings.host === '127.0.0.1' || settings.host === 'localhost'),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
    });
  }

  async send(message: EmailMessage): Promise<void> {
    await this.transport.sendMail({
      from: this.settings.from,
      to: message.to,
      subject: message.subject,
      text: message.text,
    });
  }

  close(): void {
    this.transport.close();
  }
}
