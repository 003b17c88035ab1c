/**
 * The one-command demo (`npm start` = `brokerdesk demo`): the whole product on one machine with no database server.
 *
 *  1. web/dist is built when missing or older than web/src;
 *  2. the local mailbox (SMTP capture + viewer) and the simulator fleet (MT5 live/demo, MT4 live/demo with trading
 *     activity, the PSP sandbox; a child process, state under the data folder) start;
 *  3. the product is configured through its own services, idempotently: the four servers (manager passwords as
 *     `file:` secret references in the data folder), one product per server mapped to its USD group, the PSP sandbox
 *     (webhooks to this API's real port), SMTP to the mailbox, PUBLIC_URL to the API;
 *  4. the API (serving the web application) and the worker run in this process, on embedded PGlite (or PostgreSQL);
 *  5. the demo data is seeded once (see seed.ts); later starts find it and keep it.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type AppContext, createContext } from '../app/context.ts';
import { type RunningWorker, startWorker } from '../app/worker.ts';
import { loadConfig } from '../config.ts';
import { buildApp } from '../http/app.ts';
import { createLogger } from '../log.ts';
import { type Product, ProductService } from '../modules/products/service.ts';
import { type Fleet, type FleetServer, startFleet } from './fleet.ts';
import { type Mailbox, startMailbox } from './mailbox.ts';
import { type DemoCredentials, readCredentials, scheduleReconciliation, seedDemo } from './seed.ts';
import { ensureWebBuild, type WebBuildResult } from './web-build.ts';

export interface DemoOptions {
  /** Embedded database, simulator state, mailbox, secrets (default ./data). */
  dataDir: string;
  /** The API and web application (default 8080; 0 = any free port). */
  port?: number;
  /** First simulator port: MT5 live P, MT5 demo P+1, MT4 live P+2, MT4 demo P+3, PSP P+4, controls P+100…P+104. */
  basePort?: number;
  /** The mailbox viewer (default P+5) and its SMTP port (default P+6). */
  mailboxPort?: number;
  smtpPort?: number;
  /** PostgreSQL instead of embedded PGlite (BROKERDESK_SECRET_KEY must then be set). */
  databaseUrl?: string;
  /** Trading activity on every simulator: a step this often (default 3000 ms). */
  activityIntervalMs?: number;
  /** Skip building web/dist (serve whatever is there). */
  skipWebBuild?: boolean;
  /** No progress lines. */
  quiet?: boolean;
  /** Where progress lines go (default stderr). */
  onProgress?: (message: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface DemoUrls {
  portal: string;
  partner: string;
  backoffice: string;
  docs: string;
  health: string;
  mailbox: string;
  psp: string;
  pspControl: string;
}

export interface DemoStack {
  urls: DemoUrls;
  /** Who can sign in (null when the seed's credentials file is missing, e.g. a reused PostgreSQL database). */
  credentials: DemoCredentials | null;
  seed: 'seeded_now' | 'already_seeded';
  /** Settles when the seeded day's reconciliation has run (at once when it ran on an earlier start). */
  reconciliation: Promise<void>;
  web: WebBuildResult;
  servers: FleetServer[];
  pspTestCards: { number: string; description: string }[];
  dataDir: string;
  database: string;
  ctx: AppContext;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/** One product per server, mapped to its USD group (codes are stable: the demo finds them again on restart). */
export const DEMO_PRODUCTS = [
  {
    code: 'mt5-standard',
    name: 'MT5 Standard (USD)',
    environment: 'live',
    serverCode: 'mt5-live',
    groupName: 'real\\standard-usd',
    kycPolicy: 'enable_trading_on_approval',
  },
  {
    code: 'mt5-demo',
    name: 'MT5 Demo (USD)',
    environment: 'demo',
    serverCode: 'mt5-demo',
    groupName: 'demo\\standard-usd',
    kycPolicy: 'none',
    demoDeposit: 10_000_00,
  },
  {
    code: 'mt4-standard',
    name: 'MT4 Standard (USD)',
    environment: 'live',
    serverCode: 'mt4-live',
    groupName: 'real-std-usd',
    kycPolicy: 'enable_trading_on_approval',
  },
  {
    code: 'mt4-demo',
    name: 'MT4 Demo (USD)',
    environment: 'demo',
    serverCode: 'mt4-demo',
    groupName: 'demo-std-usd',
    kycPolicy: 'none',
    demoDeposit: 10_000_00,
  },
] as const;

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Fails early, with the setting to change, when a port is taken (rather than half-starting). */
async function assertPortFree(port: number, what: string, option: string): Promise<void> {
  await new Promise<void>((resolveFree, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `port ${port} (${what}) is in use: stop what uses it, or choose another with ${option}`
            : `cannot listen on port ${port} (${what}): ${err.message}`,
        ),
      ),
    );
    server.listen(port, HOST, () => server.close(() => resolveFree()));
  });
}

function writeSecret(dir: string, name: string, value: string): string {
  const path = join(dir, name);
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return `file:${path}`;
}

/** Servers and products through the product's own services; run on every start (addresses or secrets may change). */
function serverSettings(server: FleetServer, secretsDir: string, enabled = true) {
  return {
    code: server.name,
    platform: server.platform,
    environment: server.environment,
    address: server.url,
    managerLogin: server.managerLogin,
    passwordSecret: `file:${join(secretsDir, `${server.name}.manager-password`)}`,
    caCertPath: server.certPath,
    timeZone: 'Europe/Nicosia',
    enabled,
  };
}

async function configureProduct(ctx: AppContext, fleet: Fleet, secretsDir: string): Promise<Product[]> {
  for (const server of fleet.servers) {
    writeSecret(secretsDir, `${server.name}.manager-password`, server.managerPassword);
    await ctx.registry.upsert(serverSettings(server, secretsDir));
  }
  const products = new ProductService({
    database: ctx.database,
    registry: ctx.registry,
    clock: ctx.clock,
    audit: ctx.audit,
  });
  const existing = new Map((await products.list()).map((p) => [p.code, p]));
  for (const p of DEMO_PRODUCTS) {
    if (existing.has(p.code)) continue;
    const created = await products.create(
      {
        ...p,
        currency: 'USD',
        allowedLeverages: [50, 100, 200, 500],
        defaultLeverage: 100,
      },
      'system',
    );
    existing.set(created.code, created);
  }
  return [...existing.values()];
}

export async function startDemo(options: DemoOptions): Promise<DemoStack> {
  const progress = (message: string) => {
    if (!options.quiet)
      (options.onProgress ?? ((m: string) => process.stderr.write(`brokerdesk demo: ${m}\n`)))(message);
  };
  const dataDir = resolve(options.dataDir);
  const demoDir = join(dataDir, 'demo');
  const secretsDir = join(demoDir, 'secrets');
  mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
  const basePort = options.basePort ?? 18_400;
  const port = options.port === 0 ? await freePort() : (options.port ?? 8080);
  const mailboxPort = options.mailboxPort ?? basePort + 5;
  const smtpPort = options.smtpPort ?? basePort + 6;
  const apiUrl = `http://${HOST}:${port}`;

  await assertPortFree(port, 'the API', '--port');
  for (const [p, what] of [
    [basePort, 'the MT5 live simulator'],
    [basePort + 1, 'the MT5 demo simulator'],
    [basePort + 2, 'the MT4 live simulator'],
    [basePort + 3, 'the MT4 demo simulator'],
    [basePort + 4, 'the PSP sandbox'],
    [mailboxPort, 'the mailbox viewer'],
    [smtpPort, 'the mailbox SMTP server'],
    ...[0, 1, 2, 3, 4].map((i) => [basePort + 100 + i, 'a simulator control API'] as const),
  ] as const) {
    await assertPortFree(p, what, '--base-port');
  }

  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    // The web build (CPU) and the simulators (mostly waiting) start together.
    progress('starting the simulators (MT5 live/demo, MT4 live/demo, PSP sandbox) and the mailbox');
    const webPromise: Promise<WebBuildResult> = options.skipWebBuild
      ? Promise.resolve({ status: 'up_to_date', message: 'web build skipped', durationMs: 0, available: true })
      : ensureWebBuild();
    const mailbox: Mailbox = await startMailbox({
      dir: join(dataDir, 'mailbox'),
      host: HOST,
      smtpPort,
      webPort: mailboxPort,
    });
    cleanups.push(() => mailbox.close());
    const fleet = await startFleet({
      stateDir: join(dataDir, 'simulators'),
      basePort,
      activityIntervalMs: options.activityIntervalMs ?? 3000,
      pspWebhookUrl: `${apiUrl}/api/webhooks/psp/sandbox`,
    });
    cleanups.push(() => fleet.stop());
    const web = await webPromise;
    if (web.status === 'built') progress(`web application built in ${(web.durationMs / 1000).toFixed(1)} s`);
    if (web.status === 'failed')
      progress(`WARNING: ${web.message}${web.available ? ' (serving the previous build)' : ''}`);

    const config = loadConfig({
      env: options.env ?? process.env,
      overrides: {
        dataDir,
        ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
        'http.host': HOST,
        'http.port': port,
        publicUrl: apiUrl,
        'mail.smtp': {
          host: HOST,
          port: mailbox.smtpPort,
          secure: false,
          from: 'Brokerdesk Demo <no-reply@brokerdesk.demo>',
        },
        'alerts.smtp': {
          host: HOST,
          port: mailbox.smtpPort,
          secure: false,
          from: 'Brokerdesk alerts <alerts@brokerdesk.demo>',
          to: ['operations@brokerdesk.demo'],
        },
        'funding.psp': {
          name: 'sandbox',
          url: fleet.psp.url,
          apiKeySecret: writeSecret(secretsDir, 'psp-api-key', fleet.psp.apiKey),
          webhookSecret: writeSecret(secretsDir, 'psp-webhook-secret', fleet.psp.webhookSecret),
        },
        // The go-live rehearsal (back office → Go-live, `brokerdesk golive rehearse`) runs on the MT5 demo server
        // and the PSP sandbox, injecting its timeout through their control APIs.
        'golive.product': 'mt5-demo',
        'golive.simulatorControlUrl': fleet.server('mt5-demo').controlUrl,
        'golive.simulatorControlTokenSecret': writeSecret(
          secretsDir,
          'mt5-demo-control-token',
          fleet.server('mt5-demo').controlToken,
        ),
        'golive.pspControlUrl': fleet.psp.controlUrl,
        'golive.pspControlTokenSecret': writeSecret(secretsDir, 'psp-control-token', fleet.psp.controlToken),
      },
    });
    progress(config.databaseUrl ? 'connecting to PostgreSQL' : `preparing the embedded database in ${dataDir}`);
    const logger = createLogger((options.env ?? process.env).LOG_LEVEL ? config.logLevel : 'warn');
    const ctx = await createContext(config, { logger });
    cleanups.push(() => ctx.close());
    await configureProduct(ctx, fleet, secretsDir);

    const app: FastifyInstance = await buildApp(ctx);
    await app.listen({ host: HOST, port });
    cleanups.push(() => app.close());
    const worker: RunningWorker = await startWorker(ctx);
    cleanups.push(() => worker.stop());

    const credentialsPath = join(demoDir, 'credentials.json');
    const seed = await seedDemo({
      ctx,
      apiUrl,
      mailbox,
      fleet,
      credentialsPath,
      progress,
      setServerEnabled: (code, enabled) => ctx.registry.upsert(serverSettings(fleet.server(code), secretsDir, enabled)),
    });
    const reconciliation = scheduleReconciliation({ ctx, credentialsPath, progress });
    cleanups.push(async () => {
      reconciliation.cancel();
      // A run already under way finishes before the database closes.
      await reconciliation.done;
    });

    const urls: DemoUrls = {
      portal: `${apiUrl}/`,
      partner: `${apiUrl}/partner`,
      backoffice: `${apiUrl}/backoffice`,
      docs: `${apiUrl}/docs`,
      health: `${apiUrl}/health`,
      mailbox: `${mailbox.webUrl}/`,
      psp: fleet.psp.url,
      pspControl: fleet.psp.controlUrl,
    };
    let stopped: Promise<void> | null = null;
    return {
      urls,
      credentials: existsSync(credentialsPath) ? readCredentials(credentialsPath) : null,
      seed: seed.seeded ? 'seeded_now' : 'already_seeded',
      reconciliation: reconciliation.done,
      web,
      servers: fleet.servers,
      pspTestCards: fleet.psp.testCards,
      dataDir,
      database: config.databaseUrl ? 'PostgreSQL' : `embedded PGlite in ${join(dataDir, 'pglite')}`,
      ctx,
      stop() {
        stopped ??= cleanup();
        return stopped;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
