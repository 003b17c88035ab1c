/**
 * The PSP sandbox: a payment service provider the CRM can integrate with end to end — merchant API, hosted card page,
 * signed webhooks with retries and delivery modes (duplicate, late, out of order), refunds, chargebacks, payouts and a
 * settlement report — with journaled state, a seeded id sequence, the simulator clock and a control API. A separate
 * program (`brokerdesk sim psp`); product code never imports it, it only speaks its HTTP protocol.
 *
 * Module map: api.ts (merchant API) · hosted-page.ts (card form) · engine.ts (payments, payouts, settlements) ·
 * webhooks.ts (signing, delivery, retries, modes) · control-routes.ts (control API) · cards.ts (test cards) ·
 * state.ts / model.ts (records) · timer.ts (due work on the simulator clock).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { SimClock } from '../common/clock.ts';
import { startControlServer } from '../common/control.ts';
import { FaultInjector, type FaultRuleInput } from '../common/faults.ts';
import { ListenerControl } from '../common/listener.ts';
import { Rng } from '../common/rng.ts';
import { StateStore } from '../common/store.ts';
import { ensureCertificate } from '../common/tls.ts';
import { BODY_LIMIT_BYTES, registerErrorHandling, registerMerchantApi } from './api.ts';
import { FAILING_PAYOUT_LAST4, formatCardNumber, TEST_CARDS } from './cards.ts';
import { registerPspControlRoutes } from './control-routes.ts';
import { PspEngine } from './engine.ts';
import { registerHostedPage } from './hosted-page.ts';
import type { WebhookModeSetting } from './model.ts';
import { PspState } from './state.ts';
import { defaultRetryPolicy, SIGNATURE_HEADER, WebhookDispatcher, type WebhookRetryPolicy } from './webhooks.ts';

export interface PspSandboxOptions {
  /** A name for banners and logs. Default "psp-sandbox". */
  name?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 = any free port (default). */
  port?: number;
  /** 0 = any free port (default). */
  controlPort?: number;
  /** Bearer token for the control API; default random, printed in the banner. */
  controlToken?: string;
  /** Folder for durable state (and the certificate with `tls`); absent = memory only. */
  stateDir?: string;
  /** Seed for ids and faults. Default 1. */
  seed?: number;
  /** The merchant's API key. Default: random once per state folder, printed in the banner. */
  apiKey?: string;
  /** The webhook signing secret. Default: random once per state folder, printed in the banner. */
  webhookSecret?: string;
  /** Where webhooks go. Default: none (events are recorded, not sent) until set here or through the control API. */
  webhookUrl?: string;
  /** Shown on the hosted page. Default "Brokerdesk Sandbox Merchant". */
  merchantName?: string;
  /** How long a pending card payment waits before it resolves (simulator clock). Default 10000. */
  pendingDelayMs?: number;
  /** How long a payout waits before it completes (simulator clock). Default 10000. */
  payoutDelayMs?: number;
  webhookRetry?: Partial<WebhookRetryPolicy>;
  /** Real time one webhook attempt may take. Default 5000. */
  webhookTimeoutMs?: number;
  /** Webhook delivery mode from the start (otherwise as kept in the state, else normal). */
  webhookMode?: Partial<WebhookModeSetting> & Pick<WebhookModeSetting, 'mode'>;
  /** Fault rules on the merchant API from the start (as with --fault). */
  faults?: FaultRuleInput[];
  /** Serve HTTPS with a self-signed certificate (kept in the state folder). Default: plain HTTP on loopback. */
  tls?: boolean;
  /** An injected simulator clock (tests); default a fresh one on real time. */
  clock?: SimClock;
  /** fsync each journal write. */
  fsync?: boolean;
  /** Suppress the banner (tests). */
  quiet?: boolean;
  /** Where diagnostics go (default stderr; silenced by `quiet`). */
  log?: (line: string) => void;
}

export interface PspSandboxHandle {
  kind: 'psp';
  name: string;
  /** Base URL of the merchant API and the hosted page (http://127.0.0.1:PORT). */
  url: string;
  host: string;
  port: number;
  controlUrl: string;
  controlToken: string;
  apiKey: string;
  webhookSecret: string;
  /** The current webhook URL (null = events are recorded, not sent). */
  readonly webhookUrl: string | null;
  setWebhookUrl(url: string | null): void;
  merchantName: string;
  /** PEM file clients pin as their CA (only with `tls`). */
  certPath?: string;
  /** The sandbox's clock: read it, or advance it (pending payments, payouts and webhook retries fall due). */
  clock: { now(): Date; advance(ms: number): void; setSkew(ms: number): void };
  /** Resolves once no webhook is being sent and none is due now (tests wait on this instead of sleeping). */
  webhooksIdle(): Promise<void>;
  banner(): string;
  close(): Promise<void>;
}

const META_API_KEY = 'apiKey';
const META_WEBHOOK_SECRET = 'webhookSecret';
const META_WEBHOOK_URL = 'webhookUrl';

function urlHost(host: string): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return h.includes(':') ? `[${h}]` : h;
}

/** A value from the options, else the one kept in the state, else a new random one (kept for the next start). */
function keptSecret(state: PspState, key: string, given: string | undefined, make: () => string): string {
  if (given) {
    if (state.meta.get(key) !== given) state.meta.put(key, given);
    return given;
  }
  const kept = state.meta.get(key) as string | undefined;
  if (kept) return kept;
  const fresh = make();
  state.meta.put(key, fresh);
  return fresh;
}

export async function startPspSandbox(options: PspSandboxOptions = {}): Promise<PspSandboxHandle> {
  const name = options.name ?? 'psp-sandbox';
  const host = options.host ?? '127.0.0.1';
  const seed = options.seed ?? 1;
  const merchantName = options.merchantName ?? 'Brokerdesk Sandbox Merchant';
  const log = options.log ?? ((line: string) => (options.quiet ? undefined : console.error(line)));
  const clock = options.clock ?? new SimClock();

  const store = StateStore.open({ dir: options.stateDir, ...(options.fsync ? { fsync: true } : {}) });
  const cleanups: (() => Promise<void> | void)[] = [() => store.close()];
  const cleanUp = async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  };

  try {
    const state = new PspState(store, seed);
    const apiKey = keptSecret(
      state,
      META_API_KEY,
      options.apiKey,
      () => `sk_sandbox_${randomBytes(18).toString('hex')}`,
    );
    const webhookSecret = keptSecret(
      state,
      META_WEBHOOK_SECRET,
      options.webhookSecret,
      () => `whsec_${randomBytes(24).toString('base64url')}`,
    );
    if (options.webhookUrl !== undefined) state.meta.put(META_WEBHOOK_URL, options.webhookUrl);
    let webhookUrl = (state.meta.get(META_WEBHOOK_URL) as string | null | undefined) ?? null;

    const faults = new FaultInjector(new Rng(seed), () => clock.now());
    for (const rule of options.faults ?? []) faults.add(rule);

    const webhooks = new WebhookDispatcher({
      state,
      clock,
      secret: () => webhookSecret,
      url: () => webhookUrl,
      retry: { ...defaultRetryPolicy, ...options.webhookRetry },
      timeoutMs: options.webhookTimeoutMs ?? 5000,
      log,
    });
    cleanups.push(() => webhooks.close());
    if (options.webhookMode) webhooks.setMode(options.webhookMode);
    const engine = new PspEngine({
      state,
      clock,
      webhooks,
      pendingDelayMs: options.pendingDelayMs ?? 10_000,
      payoutDelayMs: options.payoutDelayMs ?? 10_000,
      log,
    });
    cleanups.push(() => engine.close());

    let tlsDir = options.stateDir;
    if (options.tls && !tlsDir) {
      const temp = mkdtempSync(join(tmpdir(), 'brokerdesk-psp-'));
      tlsDir = temp;
      cleanups.push(() => rmSync(temp, { recursive: true, force: true }));
    }
    const identity = options.tls ? await ensureCertificate(tlsDir!, `brokerdesk-${name}`) : undefined;

    const fastifyOptions = { logger: false, bodyLimit: BODY_LIMIT_BYTES, forceCloseConnections: true } as const;
    const app = (identity
      ? Fastify({ ...fastifyOptions, https: { key: identity.key, cert: identity.cert } })
      : Fastify(fastifyOptions)) as unknown as FastifyInstance;
    cleanups.push(() => app.close());

    let listener: ListenerControl | undefined;
    const restart = async (seconds: number) => {
      await listener?.goDown(seconds);
    };
    let baseUrl = '';
    registerErrorHandling(app, log);
    registerMerchantApi(app, { engine, faults, apiKey: () => apiKey, baseUrl: () => baseUrl, goDown: restart, log });
    registerHostedPage(app, { engine, clock, merchantName: () => merchantName });

    await app.listen({ host, port: options.port ?? 0 });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
    baseUrl = `${identity ? 'https' : 'http'}://${urlHost(host)}:${port}`;
    listener = new ListenerControl(app.server as unknown as Server, port, host);
    app.server.on('error', (error) => log(`psp sandbox ${name}: listener error: ${error.message}`));
    const listenerControl = listener;
    cleanups.push(() => listenerControl.dispose());

    const controlToken = options.controlToken ?? randomBytes(18).toString('base64url');
    const control = await startControlServer({
      host: '127.0.0.1',
      port: options.controlPort ?? 0,
      token: controlToken,
      platform: 'psp',
      clock,
      faults,
      restart,
      status: () => ({ name, url: baseUrl, webhookUrl, ...engine.stats, webhooks: webhooks.stats }),
      routes: (controlApp) =>
        registerPspControlRoutes(controlApp, {
          engine,
          webhooks,
          webhookUrl: () => webhookUrl,
          setWebhookUrl: (url) => setWebhookUrl(url),
        }),
    });
    cleanups.push(() => control.close());

    function setWebhookUrl(url: string | null): void {
      webhookUrl = url;
      state.meta.put(META_WEBHOOK_URL, url);
    }

    // Whatever fell due while the sandbox was stopped happens now.
    engine.start();
    webhooks.start();

    const banner = (): string =>
      [
        `PSP sandbox "${name}"`,
        `  merchant API  ${baseUrl}/v1   (Authorization: Bearer <api key>)${identity ? '' : '  (plain HTTP)'}`,
        ...(identity ? [`  certificate   ${identity.certPath}  (pin as CA)`] : []),
        `  hosted page   ${baseUrl}/pay/<session id>`,
        `  merchant      ${merchantName}`,
        `  api key       ${apiKey}`,
        `  webhook       ${webhookUrl ?? 'none (set --webhook-url or POST /control/webhooks/url)'}`,
        `  signing       ${SIGNATURE_HEADER}: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">  secret ${webhookSecret}`,
        `  control       ${control.url}  token ${controlToken}`,
        `  state         ${options.stateDir ?? 'memory only'}`,
        `  crm settings  PSP_URL=${baseUrl}  PSP_API_KEY_SECRET / PSP_WEBHOOK_SECRET: env:VAR holding the values above`,
        '  test cards (any future expiry, any CVC):',
        ...Object.entries(TEST_CARDS).map(([digits, b]) => `    ${formatCardNumber(digits)}  ${b.description}`),
        `  payouts       a destination ending in ${FAILING_PAYOUT_LAST4} fails (destination_declined); others succeed`,
      ].join('\n');

    let closed = false;
    const handle: PspSandboxHandle = {
      kind: 'psp',
      name,
      url: baseUrl,
      host,
      port,
      controlUrl: control.url,
      controlToken,
      apiKey,
      webhookSecret,
      get webhookUrl() {
        return webhookUrl;
      },
      setWebhookUrl,
      merchantName,
      ...(identity ? { certPath: identity.certPath } : {}),
      clock: {
        now: () => new Date(clock.now()),
        advance: (ms) => clock.advance(ms),
        setSkew: (ms) => clock.setSkew(ms),
      },
      webhooksIdle: () => webhooks.idle(),
      banner,
      async close() {
        if (closed) return;
        closed = true;
        await cleanUp();
      },
    };
    if (!options.quiet) console.log(banner());
    return handle;
  } catch (error) {
    await cleanUp();
    throw error;
  }
}
