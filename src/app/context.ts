/**
 * The composition root: builds, from the configuration, everything the API and the worker share: the database,
 * the server registry with its connectors, audit, alerts (and their channels), the sealer. Nothing else constructs
 * these, so every process wires the same product.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Clock, systemClock } from '../clock.ts';
import { type Config, ConfigError } from '../config.ts';
import { connect, type Database } from '../db/connect.ts';
import { createLogger, type Logger } from '../log.ts';
import { accountOperationHandlers } from '../modules/accounts/handlers.ts';
import { createKycPolicy } from '../modules/accounts/kyc-policy.ts';
import { type AlertChannel, EmailChannel, WebhookChannel } from '../modules/alerts/channels.ts';
import { AlertService } from '../modules/alerts/service.ts';
import { deferAudits, flushAudits, recordAudit } from '../modules/audit/service.ts';
import { ClientService } from '../modules/clients/service.ts';
import { commissionOperationHandlers } from '../modules/commissions/module.ts';
import { ExternalChangeService } from '../modules/external-changes/service.ts';
import { fundingOperationHandlers } from '../modules/funding/handlers.ts';
import { FundingService } from '../modules/funding/service.ts';
import { KycService } from '../modules/kyc/service.ts';
import { KycStorage } from '../modules/kyc/storage.ts';
import type { Mailer } from '../modules/mail/outbox.ts';
import { SmtpMailer } from '../modules/mail/smtp.ts';
import { PartnerService } from '../modules/partners/service.ts';
import { registerSyncGauges } from '../modules/trades/metrics.ts';
import { TradeSync } from '../modules/trades/sync.ts';
import type { AuditPort, OperationHandler, OperationsDeps } from '../operations/ports.ts';
import { Sealer } from '../operations/sealed.ts';
import { SandboxPaymentProvider } from '../payments/sandbox.ts';
import type { PaymentProvider } from '../payments/types.ts';
import { createMt4Connector } from '../platforms/mt4/connector.ts';
import { createMt5Connector } from '../platforms/mt5/connector.ts';
import { ServerRegistry } from '../platforms/registry.ts';
import { resolveSecret } from '../platforms/secrets.ts';

export interface AppContext {
  config: Config;
  logger: Logger;
  clock: Clock;
  database: Database;
  registry: ServerRegistry;
  audit: AuditPort;
  alerts: AlertService;
  alertChannels: AlertChannel[];
  sealer: Sealer;
  /** Sends client emails from the outbox; null when no SMTP relay is configured (emails wait in the outbox). */
  mailer: Mailer | null;
  clients: ClientService;
  /** KYC documents, review and status; other modules subscribe with `kyc.onStatusChange`. */
  kyc: KycService;
  /** Introducing brokers, their referral codes and referred clients. */
  partners: PartnerService;
  /** Deposits, withdrawals, credits, adjustments and transfers. */
  funding: FundingService;
  /** Changes made on the servers that the CRM did not make: recorded, reflected, alerted, reviewed. */
  externalChanges: ExternalChangeService;
  /** Trade and deal sync (the worker runs it: `start()`, then `tick()` every few seconds). */
  trades: TradeSync;
  operationsDeps(handlers?: Record<string, OperationHandler>): OperationsDeps;
  close(): Promise<void>;
}

/** The sealing key: configured, or (embedded database only) generated once into the data folder. */
function sealingKey(config: Config): string {
  if (config.secretKey) return config.secretKey;
  if (config.databaseUrl) {
    throw new ConfigError(
      [
        {
          setting: 'BROKERDESK_SECRET_KEY',
          message: 'is required with PostgreSQL: 32 random bytes in base64 (openssl rand -base64 32)',
        },
      ],
      'environment',
    );
  }
  const path = join(config.dataDir, 'secret.key');
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  mkdirSync(config.dataDir, { recursive: true });
  const key = Sealer.generateKey();
  writeFileSync(path, `${key}\n`, { mode: 0o600 });
  return key;
}

function alertChannels(config: Config, clock: Clock): AlertChannel[] {
  const channels: AlertChannel[] = [];
  if (config.alerts.webhookUrl && config.alerts.webhookSecret) {
    channels.push(
      new WebhookChannel(config.alerts.webhookUrl, resolveSecret(config.alerts.webhookSecret), () => clock.now()),
    );
  }
  const smtp = config.alerts.smtp;
  if (smtp) {
    channels.push(
      new EmailChannel({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        user: smtp.user,
        password: smtp.passwordSecret ? resolveSecret(smtp.passwordSecret) : undefined,
        from: smtp.from,
        to: smtp.to,
      }),
    );
  }
  return channels;
}

/** The configured PSP's adapter (the sandbox's API is the only one so far); null when none is configured. */
function paymentProvider(config: Config): PaymentProvider | null {
  const psp = config.funding.psp;
  if (!psp) return null;
  return new SandboxPaymentProvider({
    name: psp.name,
    baseUrl: psp.url,
    apiKey: resolveSecret(psp.apiKeySecret),
    webhookSecret: resolveSecret(psp.webhookSecret),
    timeoutMs: psp.timeoutMs,
    toleranceSeconds: psp.webhookToleranceSeconds,
  });
}

export async function createContext(
  config: Config,
  options: { clock?: Clock; logger?: Logger; psp?: PaymentProvider | null } = {},
): Promise<AppContext> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config.logLevel);
  const sealer = new Sealer(sealingKey(config));
  const channels = alertChannels(config, clock);
  const database = await connect({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    maxConnections: config.databasePoolSize,
  });
  await database.migrate();
  const registry = new ServerRegistry({
    database,
    clock,
    logger,
    factories: { mt4: createMt4Connector, mt5: createMt5Connector },
  });
  const alerts = new AlertService({ clock, channels: channels.map((c) => c.name) });
  const audit: AuditPort = {
    record: (tx, entry) => recordAudit(tx, entry, clock),
    hold: (tx) => deferAudits(tx, clock),
    flush: (tx, options) => flushAudits(tx, options),
  };
  const accountHandlers = accountOperationHandlers({ clock, sealer, audit, groups: (code) => registry.groups(code) });
  const mailSmtp = config.mail.smtp;
  const mailer = mailSmtp
    ? new SmtpMailer({
        host: mailSmtp.host,
        port: mailSmtp.port,
        secure: mailSmtp.secure,
        user: mailSmtp.user,
        password: mailSmtp.passwordSecret ? resolveSecret(mailSmtp.passwordSecret) : undefined,
        from: mailSmtp.from,
      })
    : null;
  const clientService = new ClientService({ database, clock, publicUrl: config.publicUrl });
  const kyc = new KycService({
    database,
    clock,
    storage: new KycStorage(config.kyc.storageDir ?? join(config.dataDir, 'kyc')),
    maxUploadBytes: config.kyc.maxUploadBytes,
    validityDays: config.kyc.validityDays,
  });
  // KYC decisions drive trading permissions (each product's policy), in the same transaction as the decision.
  kyc.onStatusChange(createKycPolicy({ clock, sealer, audit }));
  const funding = new FundingService({
    database,
    clock,
    sealer,
    audit,
    alerts,
    platforms: registry,
    psp: options.psp !== undefined ? options.psp : paymentProvider(config),
    dualApprovalMinor: config.funding.dualApprovalMinor,
    maxDepositMinor: config.funding.maxDepositMinor,
    publicUrl: config.publicUrl,
    logger,
  });
  const fundingHandlers = fundingOperationHandlers(funding);
  const externalChanges = new ExternalChangeService({ database, clock, audit, alerts, logger });
  const trades = new TradeSync({
    database,
    platforms: registry,
    clock,
    audit,
    alerts,
    externalChanges,
    logger,
    intervalMs: config.sync.intervalMs,
    lagAlertSeconds: config.sync.lagAlertSeconds,
  });
  registerSyncGauges(database, clock);
  return {
    config,
    logger,
    clock,
    database,
    registry,
    audit,
    alerts,
    alertChannels: channels,
    sealer,
    mailer,
    clients: clientService,
    kyc,
    partners: new PartnerService({ database, clock, publicUrl: config.publicUrl }),
    funding,
    externalChanges,
    trades,
    operationsDeps: (handlers = {}) => ({
      database,
      platforms: registry,
      clock,
      sealer,
      audit,
      alerts,
      handlers: {
        ...accountHandlers,
        ...fundingHandlers,
        ...commissionOperationHandlers({ database, clock, audit, alerts, sealer }),
        ...handlers,
      },
      logger,
    }),
    async close() {
      await trades.stop();
      await registry.close();
      for (const c of channels) if (c instanceof EmailChannel) c.close();
      mailer?.close?.();
      await database.close();
    },
  };
}
