/**
 * Every Brokerdesk setting, in one zod schema.
 *
 * Settings come from an optional JSON config file (`BROKERDESK_CONFIG=path`) overlaid by environment variables.
 * A bad setting stops start-up with a `ConfigError` that names each setting and what is wrong with it, so an
 * operator can fix the file or variable without reading code.
 */
import { readFileSync } from 'node:fs';
import { IANAZone } from 'luxon';
import { z } from 'zod';

const isValidTimeZone = (zone: string) => IANAZone.isValidZone(zone);

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export const configSchema = z
  .object({
    /** PostgreSQL connection string. Absent: embedded PGlite in `dataDir`. */
    databaseUrl: z
      .string()
      .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL')
      .optional(),
    /** PostgreSQL connections each process keeps at most (the API's and the worker's each). */
    databasePoolSize: z.coerce.number().int().min(2).max(200).default(10),
    /** Folder for embedded-database files and other local state. */
    dataDir: z.string().min(1).default('./data'),
    logLevel: logLevel.default('info'),
    /**
     * 32 random bytes, base64: seals passwords an operation carries until it reaches the server. With embedded
     * PGlite one is generated into the data folder on first start; with PostgreSQL it must be set.
     */
    secretKey: z
      .string()
      .refine(
        (v) => Buffer.from(v, 'base64').length === 32,
        'must be 32 random bytes in base64 (openssl rand -base64 32)',
      )
      .optional(),
    worker: z
      .object({
        concurrency: z.coerce.number().int().min(1).max(512).default(16),
        /** How long a worker owns an operation it claimed; must exceed the slowest server call. */
        leaseMs: z.coerce.number().int().min(500).max(3_600_000).default(120_000),
        maxAttempts: z.coerce.number().int().min(1).max(1000).default(10),
        maxAgeMinutes: z.coerce.number().int().min(1).max(43_200).default(360),
        pollMs: z.coerce.number().int().min(10).max(60_000).default(500),
        /** Wait before looking up an operation whose reply was lost: longer than the servers' request timeouts. */
        verifyDelayMs: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
      })
      .strict()
      .default({
        concurrency: 16,
        leaseMs: 120_000,
        maxAttempts: 10,
        maxAgeMinutes: 360,
        pollMs: 500,
        verifyDelayMs: 30_000,
      }),
    alerts: z
      .object({
        webhookUrl: z.url('must be a URL').optional(),
        /** Secret reference (env:VAR or file:/path) of the webhook signing key. */
        webhookSecret: z.string().optional(),
        smtp: z
          .object({
            host: z.string().min(1),
            port: z.coerce.number().int().min(1).max(65535),
            secure: z.boolean().default(false),
            user: z.string().optional(),
            /** Secret reference of the SMTP password. */
            passwordSecret: z.string().optional(),
            from: z.string().min(3),
            to: z.array(z.string().min(3)).min(1, 'name at least one recipient'),
          })
          .strict()
          .optional(),
        /** An operation `unknown` for longer than this raises an alert. */
        unknownAfterMinutes: z.coerce.number().int().min(1).default(10),
        /** More operations ready to run than this raises a backlog alert. */
        backlogThreshold: z.coerce.number().int().min(1).default(1000),
      })
      .strict()
      .refine((a) => !a.webhookUrl || a.webhookSecret, {
        message: 'a webhook needs webhookSecret',
        path: ['webhookSecret'],
      })
      .default({ unknownAfterMinutes: 10, backlogThreshold: 1000 }),
    http: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        /** Send session cookies with Secure (behind HTTPS in production); off for plain-HTTP local use. */
        secureCookies: z.union([z.boolean(), z.stringbool()], { error: 'must be true or false' }).default(false),
        port: z.coerce
          .number({ error: 'must be a port number from 0 to 65535' })
          .int('must be a port number from 0 to 65535')
          .min(0, 'must be a port number from 0 to 65535')
          .max(65535, 'must be a port number from 0 to 65535')
          .default(8080),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080, secureCookies: false }),
    /** Where clients reach the portal: the base of links in emails (verification). */
    publicUrl: z
      .url('must be a URL such as https://portal.example.com')
      .transform((v) => v.replace(/\/+$/, ''))
      .default('http://127.0.0.1:8080'),
    /** Email to clients (verification links, notices), written to an outbox and sent by the worker. */
    mail: z
      .object({
        /** Absent: emails wait in the outbox, unsent, until an SMTP relay is configured. */
        smtp: z
          .object({
            host: z.string().min(1),
            port: z.coerce.number().int().min(1).max(65535),
            secure: z.union([z.boolean(), z.stringbool()], { error: 'must be true or false' }).default(false),
            user: z.string().optional(),
            /** Secret reference (env:VAR or file:/path) of the SMTP password. */
            passwordSecret: z.string().optional(),
            from: z.string().min(3),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({}),
    kyc: z
      .object({
        /** The largest KYC document a client may upload. */
        maxUploadBytes: z.coerce.number().int().min(1024).max(104_857_600).default(10_485_760),
        /** Where documents are stored (outside any web root). Default: `<dataDir>/kyc`. */
        storageDir: z.string().min(1).optional(),
        /** How long an approval lasts before the client must be reviewed again. */
        validityDays: z.coerce.number().int().min(1).max(3650).default(365),
      })
      .strict()
      .default({ maxUploadBytes: 10_485_760, validityDays: 365 }),
    /** Money movement: the payment provider and the approval rules. */
    funding: z
      .object({
        /** The PSP sandbox (or a PSP speaking its API). Absent: deposits and payouts are switched off. */
        psp: z
          .object({
            name: z
              .string()
              .regex(/^[a-z][a-z0-9_-]{1,31}$/, 'lower-case letters, digits, - and _')
              .default('sandbox'),
            url: z.url('must be the PSP API address, such as http://127.0.0.1:7400'),
            /** Secret reference (env:VAR or file:/path) of the merchant API key. */
            apiKeySecret: z.string().min(1, 'give env:VAR or file:/path of the PSP API key'),
            /** Secret reference (env:VAR or file:/path) of the webhook signing secret. */
            webhookSecret: z.string().min(1, 'give env:VAR or file:/path of the PSP webhook secret'),
            /** Webhooks older (or newer) than this are refused as replays. */
            webhookToleranceSeconds: z.coerce.number().int().min(30).max(3600).default(300),
            timeoutMs: z.coerce.number().int().min(500).max(120_000).default(10_000),
          })
          .strict()
          .optional(),
        /** Withdrawals of this many minor units or more need a second, different approver. */
        dualApprovalMinor: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).default(100_000),
        /** The largest deposit a client may start, in minor units. */
        maxDepositMinor: z.coerce.number().int().min(100).max(Number.MAX_SAFE_INTEGER).default(10_000_000),
      })
      .strict()
      .default({ dualApprovalMinor: 100_000, maxDepositMinor: 10_000_000 }),
    /** Daily reconciliation: the cut-off of each business day, and how far back a run re-examines open breaks. */
    reconciliation: z
      .object({
        /** HH:MM (24 h) in `timeZone`: the scheduled run compares everything up to this instant of each day. */
        cutoff: z
          .string()
          .regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'must be a time of day as HH:MM (24 h), such as 22:00')
          .default('22:00'),
        /** IANA zone of the business day, e.g. Europe/Nicosia (daylight saving included). */
        timeZone: z
          .string()
          .refine((v) => isValidTimeZone(v), 'must be an IANA time zone such as UTC or Europe/Nicosia')
          .default('UTC'),
        /** Breaks still open are re-examined (and so can clear) for at most this many days. */
        lookbackDays: z.coerce.number().int().min(1).max(366).default(31),
        /** The worker runs each day's reconciliation by itself after the cut-off. */
        schedule: z.union([z.boolean(), z.stringbool()], { error: 'must be true or false' }).default(true),
      })
      .strict()
      .default({ cutoff: '22:00', timeZone: 'UTC', lookbackDays: 31, schedule: true }),
    /** Trade sync from the servers. */
    sync: z
      .object({
        /** How often each server's history is read (MT4 pumping adds live records in between). */
        intervalMs: z.coerce.number().int().min(1000).max(3_600_000).default(15_000),
        /** A server whose history is older than this raises an alert. */
        lagAlertSeconds: z.coerce.number().int().min(10).max(86_400).default(300),
      })
      .strict()
      .default({ intervalMs: 15_000, lagAlertSeconds: 300 }),
    /**
     * The go-live checklist and the full-workflow rehearsal (src/modules/golive). The rehearsal runs only on a demo
     * server whose simulator control API is given here (it trades and injects a timeout through it) and on a PSP
     * sandbox whose control API is given here (which proves the configured PSP is a sandbox).
     */
    golive: z
      .object({
        /** The demo product (code) the rehearsal opens its account with; default: the first enabled demo product. */
        product: z.string().min(1).optional(),
        /** Control API of the simulator behind that product's demo server, e.g. http://127.0.0.1:7101. */
        simulatorControlUrl: z.url('must be a URL such as http://127.0.0.1:7101').optional(),
        /** Secret reference (env:VAR or file:/path) of that control API's bearer token. */
        simulatorControlTokenSecret: z.string().min(1).optional(),
        /** Control API of the PSP sandbox, e.g. http://127.0.0.1:7104. */
        pspControlUrl: z.url('must be a URL such as http://127.0.0.1:7104').optional(),
        /** Secret reference of the PSP sandbox control token. */
        pspControlTokenSecret: z.string().min(1).optional(),
        /** The rehearsal client's email; {run} becomes the run id (use a mailbox you read to see the email arrive). */
        clientEmail: z
          .string()
          .regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'must be an email address, e.g. ops+rehearsal-{run}@broker.com')
          .default('golive-rehearsal+{run}@example.com'),
        /** The rehearsal's deposit, in minor units of the product's currency (the withdrawal takes half back). */
        depositMinor: z.coerce.number().int().min(100).max(100_000_000).default(10_000),
        /** How long each rehearsal step may wait for the worker, the PSP or the server. */
        stepTimeoutSeconds: z.coerce.number().int().min(5).max(3600).default(180),
      })
      .strict()
      .default({ clientEmail: 'golive-rehearsal+{run}@example.com', depositMinor: 10_000, stepTimeoutSeconds: 180 }),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;

/** Environment variable → path in the config object. Only these variables are read. */
const envMap: Record<string, string[]> = {
  DATABASE_URL: ['databaseUrl'],
  DATABASE_POOL_SIZE: ['databasePoolSize'],
  BROKERDESK_DATA_DIR: ['dataDir'],
  LOG_LEVEL: ['logLevel'],
  HTTP_HOST: ['http', 'host'],
  HTTP_PORT: ['http', 'port'],
  HTTP_SECURE_COOKIES: ['http', 'secureCookies'],
  BROKERDESK_SECRET_KEY: ['secretKey'],
  WORKER_CONCURRENCY: ['worker', 'concurrency'],
  WORKER_LEASE_MS: ['worker', 'leaseMs'],
  WORKER_MAX_ATTEMPTS: ['worker', 'maxAttempts'],
  WORKER_POLL_MS: ['worker', 'pollMs'],
  WORKER_VERIFY_DELAY_MS: ['worker', 'verifyDelayMs'],
  ALERT_WEBHOOK_URL: ['alerts', 'webhookUrl'],
  ALERT_WEBHOOK_SECRET: ['alerts', 'webhookSecret'],
  PUBLIC_URL: ['publicUrl'],
  SMTP_HOST: ['mail', 'smtp', 'host'],
  SMTP_PORT: ['mail', 'smtp', 'port'],
  SMTP_SECURE: ['mail', 'smtp', 'secure'],
  SMTP_USER: ['mail', 'smtp', 'user'],
  SMTP_PASSWORD_SECRET: ['mail', 'smtp', 'passwordSecret'],
  MAIL_FROM: ['mail', 'smtp', 'from'],
  KYC_MAX_UPLOAD_BYTES: ['kyc', 'maxUploadBytes'],
  KYC_STORAGE_DIR: ['kyc', 'storageDir'],
  KYC_VALIDITY_DAYS: ['kyc', 'validityDays'],
  PSP_NAME: ['funding', 'psp', 'name'],
  PSP_URL: ['funding', 'psp', 'url'],
  PSP_API_KEY_SECRET: ['funding', 'psp', 'apiKeySecret'],
  PSP_WEBHOOK_SECRET: ['funding', 'psp', 'webhookSecret'],
  PSP_WEBHOOK_TOLERANCE_SECONDS: ['funding', 'psp', 'webhookToleranceSeconds'],
  PSP_TIMEOUT_MS: ['funding', 'psp', 'timeoutMs'],
  WITHDRAWAL_DUAL_APPROVAL_MINOR: ['funding', 'dualApprovalMinor'],
  DEPOSIT_MAX_MINOR: ['funding', 'maxDepositMinor'],
  SYNC_INTERVAL_MS: ['sync', 'intervalMs'],
  SYNC_LAG_ALERT_SECONDS: ['sync', 'lagAlertSeconds'],
  GOLIVE_PRODUCT: ['golive', 'product'],
  GOLIVE_SIM_CONTROL_URL: ['golive', 'simulatorControlUrl'],
  GOLIVE_SIM_CONTROL_TOKEN_SECRET: ['golive', 'simulatorControlTokenSecret'],
  GOLIVE_PSP_CONTROL_URL: ['golive', 'pspControlUrl'],
  GOLIVE_PSP_CONTROL_TOKEN_SECRET: ['golive', 'pspControlTokenSecret'],
  GOLIVE_REHEARSAL_EMAIL: ['golive', 'clientEmail'],
  GOLIVE_DEPOSIT_MINOR: ['golive', 'depositMinor'],
  GOLIVE_STEP_TIMEOUT_SECONDS: ['golive', 'stepTimeoutSeconds'],
  RECON_CUTOFF: ['reconciliation', 'cutoff'],
  RECON_TIME_ZONE: ['reconciliation', 'timeZone'],
  RECON_LOOKBACK_DAYS: ['reconciliation', 'lookbackDays'],
  RECON_SCHEDULE: ['reconciliation', 'schedule'],
};

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly problems: { setting: string; message: string }[],
    readonly source: string,
  ) {
    super(`Invalid configuration (${source}):\n${problems.map((p) => `  - ${p.setting}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** Name a setting the way the operator wrote it: the env variable if it came from one, else the file path. */
function settingName(path: PropertyKey[], fromEnv: Map<string, string>): string {
  const dotted = path.map(String).join('.');
  return fromEnv.get(dotted) ?? (dotted || '(root)');
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides applied last (used by tests and the CLI's flags). */
  overrides?: Record<string, unknown>;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const raw: Record<string, unknown> = {};
  const sources: string[] = [];
  const file = env.BROKERDESK_CONFIG;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(
        [{ setting: 'BROKERDESK_CONFIG', message: `cannot read ${file}: ${(err as Error).message}` }],
        file,
      );
    }
    try {
      Object.assign(raw, JSON.parse(text));
    } catch (err) {
      throw new ConfigError(
        [{ setting: 'BROKERDESK_CONFIG', message: `${file} is not valid JSON: ${(err as Error).message}` }],
        file,
      );
    }
    sources.push(`file ${file}`);
  }
  const fromEnv = new Map<string, string>();
  for (const [name, path] of Object.entries(envMap)) {
    const value = env[name];
    if (value !== undefined && value !== '') {
      setPath(raw, path, value);
      fromEnv.set(path.join('.'), name);
    }
  }
  if (fromEnv.size > 0) sources.push('environment');
  for (const [key, value] of Object.entries(options.overrides ?? {})) setPath(raw, key.split('.'), value);

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        setting: settingName(
          issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys.join(', ')] : issue.path,
          fromEnv,
        ),
        message: issue.code === 'unrecognized_keys' ? 'unknown setting' : issue.message,
      })),
      sources.join(' + ') || 'defaults',
    );
  }
  return parsed.data;
}
