/**
 * The full-workflow rehearsal: one client's whole journey through the real services, on a demo server and the PSP
 * sandbox, each step timed and each checked where it lands (the server, the PSP, the database), then cleaned up.
 *
 *   partner → register (with the partner's referral code) → verify email (the link from the outbox) → KYC (document,
 *   review, approval) → open account (the worker opens it on the server) → deposit (paid on the sandbox's hosted page;
 *   the PSP's signed webhook must reach the API; the worker posts it) → trade (opened and closed through the
 *   simulator's dealer console, synced back) → partner commission (calculated from the synced trade) → withdrawal
 *   (approved, debited on the server, paid out by the sandbox) → deposit under an injected timeout (the server applies
 *   it late; the worker must verify by reference and post it exactly once) → cleanup.
 *
 * It refuses to start unless the product and its server are demo, the simulator behind that server answers its
 * control API as a demo server at the same address, and the PSP has a sandbox control API; it pays only after the
 * sandbox's control API knows the payment the configured PSP created (so a production PSP is never paid).
 *
 * Background work is done by whoever does it in production: the worker (operations, payouts, sync) and the API
 * (PSP webhooks). `tick` lets a caller do the worker's part in-process (tests, `--with-worker` runs the worker).
 *
 * What it leaves on purpose: the client (closed, flagged `golive_rehearsal`), the partner (suspended), the demo
 * account (trading disabled), and the immutable records (ledger entries, commission lines, audit events, PSP sandbox
 * payments) which are what a rehearsal is meant to prove.
 */
import { randomBytes } from 'node:crypto';
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { AppContext } from '../../app/context.ts';
import {
  clientFlags,
  clients,
  commissionLines,
  commissionPlans,
  moneyMovements,
  operationAttempts,
  operations,
  outboxEmails,
  products,
  tradeRecords,
  tradingAccounts,
} from '../../db/schema.ts';
import type { ServerView } from '../../platforms/registry.ts';
import { resolveSecret } from '../../platforms/secrets.ts';
import { AccountService } from '../accounts/service.ts';
import { recordAudit } from '../audit/service.ts';
import { commissionServices } from '../commissions/module.ts';
import { currencyDigits } from '../funding/fx.ts';
import { REHEARSAL_FINISHED } from './checks.ts';
import { ControlClient, type SimulatorStatus, sameAddress } from './control.ts';
import type { RehearsalReport, RehearsalStep } from './types.ts';

export type RehearsalContext = Pick<
  AppContext,
  | 'config'
  | 'database'
  | 'registry'
  | 'clock'
  | 'clients'
  | 'kyc'
  | 'partners'
  | 'funding'
  | 'trades'
  | 'audit'
  | 'alerts'
  | 'sealer'
>;

export interface RehearsalOptions {
  /** The staff member in whose name the rehearsal approves (KYC, withdrawal) and who is recorded as running it. */
  staffId: string;
  /** Who asked, for the record (e.g. `staff:<email>` or `cli:<email>`). */
  requestedBy: string;
  /** Does the worker's part in-process while a step waits (tests; the CLI's --with-worker runs the real worker). */
  tick?: () => Promise<void>;
  /** Called after every change of the report (the back office polls it). */
  onProgress?: (report: RehearsalReport) => void;
  /** Poll interval while waiting, ms (default 250). */
  pollMs?: number;
  /** Run id (default a random one). */
  id?: string;
}

/** The rehearsal's steps, in order. */
export const REHEARSAL_STEPS = [
  ['partner', 'Create a test partner (IB) on the rehearsal commission plan'],
  ['register', "Register a client with the partner's referral code"],
  ['verify_email', 'Verify the email address with the link from the outbox'],
  ['kyc', 'Upload a KYC document, review it and approve the client'],
  ['open_account', 'Open a demo account; the worker creates it on the server'],
  ['deposit', 'Deposit through the PSP sandbox; webhook, ledger and server balance operation'],
  ['trade', "Trade through the simulator's dealer console and sync the trade back"],
  ['commission', 'Calculate the partner commission on the synced trade'],
  ['withdrawal', 'Withdraw: approval, debit on the server, payout by the PSP sandbox'],
  ['deposit_timeout', 'Deposit while the server times out (injected): verified by reference, posted once'],
  ['cleanup', 'Clean up: account trading disabled, client closed and flagged, partner suspended'],
] as const;

export type RehearsalStepId = (typeof REHEARSAL_STEPS)[number][0];

/** A refusal before any step ran. */
export class RehearsalRefused extends Error {
  override readonly name = 'RehearsalRefused';
}

class StepFailed extends Error {
  constructor(
    message: string,
    readonly evidence: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The simulators' fault endpoint for balance operations, per platform (their wire paths). */
const BALANCE_ENDPOINT = { mt5: '/api/trade/balance', mt4: '/v1/TradeTransaction' } as const;
const SANDBOX_CARD = '4242424242424242';
const PLAN_RATE_PER_LOT = '10';
const TRADE_LOTS = 0.1;

let running: string | null = null;

/** The id of the rehearsal running in this process, if any (one at a time). */
export function runningRehearsal(): string | null {
  return running;
}

function newReport(id: string, requestedBy: string, now: Date): RehearsalReport {
  return {
    id,
    status: 'running',
    startedAt: now,
    finishedAt: null,
    durationMs: null,
    requestedBy,
    server: null,
    product: null,
    steps: REHEARSAL_STEPS.map(([stepId, title]) => ({
      id: stepId,
      title,
      status: 'pending',
      startedAt: null,
      durationMs: null,
      detail: '',
      evidence: {},
    })),
    leftBehind: [],
    error: null,
  };
}

/** A deep copy with dates kept (for callers that hold a report while it changes). */
export function snapshot(report: RehearsalReport): RehearsalReport {
  return {
    ...report,
    steps: report.steps.map((s) => ({ ...s, evidence: { ...s.evidence } })),
    leftBehind: [...report.leftBehind],
  };
}

export interface Setup {
  product: typeof products.$inferSelect;
  server: ServerView;
  simulator: ControlClient;
  psp: ControlClient;
}

/** Everything that must hold before anything is created; throws RehearsalRefused with what to change. */
export async function preflight(ctx: RehearsalContext): Promise<Setup> {
  const g = ctx.config.golive;
  const missing = [
    ['GOLIVE_SIM_CONTROL_URL (golive.simulatorControlUrl)', g.simulatorControlUrl],
    ['GOLIVE_SIM_CONTROL_TOKEN_SECRET (golive.simulatorControlTokenSecret)', g.simulatorControlTokenSecret],
    ['GOLIVE_PSP_CONTROL_URL (golive.pspControlUrl)', g.pspControlUrl],
    ['GOLIVE_PSP_CONTROL_TOKEN_SECRET (golive.pspControlTokenSecret)', g.pspControlTokenSecret],
  ]
    .filter(([, v]) => !v)
    .map(([name]) => name);
  if (missing.length > 0) {
    throw new RehearsalRefused(
      `the rehearsal needs the control APIs of the demo server's simulator and of the PSP sandbox: set ${missing.join(', ')}`,
    );
  }
  if (!ctx.funding.deps.psp) {
    throw new RehearsalRefused(
      'no payment provider is configured (PSP_URL): the rehearsal deposits through the PSP sandbox',
    );
  }
  const offered = await ctx.database.db
    .select()
    .from(products)
    .where(eq(products.enabled, true))
    .orderBy(asc(products.code));
  const product = g.product ? offered.find((p) => p.code === g.product) : offered.find((p) => p.environment === 'demo');
  if (!product) {
    throw new RehearsalRefused(
      g.product
        ? `no enabled product "${g.product}" (GOLIVE_PRODUCT)`
        : 'no enabled demo product: create one on your demo server (the rehearsal never runs on a live product)',
    );
  }
  if (product.environment !== 'demo') {
    throw new RehearsalRefused(
      `product ${product.code} is live: the rehearsal runs only on a demo product and a demo server (GOLIVE_PRODUCT)`,
    );
  }
  const server = await ctx.registry.get(product.serverCode);
  if (server.environment !== 'demo') {
    throw new RehearsalRefused(
      `server ${server.code} of product ${product.code} is registered live: the rehearsal never runs on a live server`,
    );
  }
  if (!server.enabled) throw new RehearsalRefused(`server ${server.code} is disabled`);
  let simToken: string;
  let pspToken: string;
  try {
    simToken = resolveSecret(g.simulatorControlTokenSecret!);
    pspToken = resolveSecret(g.pspControlTokenSecret!);
  } catch (err) {
    throw new RehearsalRefused(`a control token cannot be read: ${(err as Error).message}`);
  }
  const simulator = new ControlClient(`simulator of ${server.code}`, g.simulatorControlUrl!, simToken);
  const psp = new ControlClient('PSP sandbox', g.pspControlUrl!, pspToken);
  let status: SimulatorStatus;
  try {
    status = await simulator.call<SimulatorStatus>('GET', '/control/status');
  } catch (err) {
    throw new RehearsalRefused((err as Error).message);
  }
  if (status.environment !== 'demo') {
    throw new RehearsalRefused(
      `the simulator at ${g.simulatorControlUrl} says it is ${status.environment ?? 'of no environment'}: the rehearsal injects faults only into a demo simulator`,
    );
  }
  if (status.platform && status.platform !== server.platform) {
    throw new RehearsalRefused(
      `the simulator at ${g.simulatorControlUrl} is ${status.platform}, server ${server.code} is ${server.platform}: the control API belongs to another server`,
    );
  }
  if (status.url && !sameAddress(status.url, server.address)) {
    throw new RehearsalRefused(
      `the simulator at ${g.simulatorControlUrl} serves ${status.url}, but server ${server.code} is at ${server.address}: the control API belongs to another server`,
    );
  }
  try {
    const pspStatus = await psp.call<{ platform?: string; url?: string }>('GET', '/control/status');
    const configured = ctx.config.funding.psp?.url;
    if (configured && pspStatus.url && !sameAddress(pspStatus.url, configured)) {
      throw new RehearsalRefused(
        `the PSP sandbox at ${g.pspControlUrl} serves ${pspStatus.url}, but PSP_URL is ${configured}: the configured PSP is not that sandbox`,
      );
    }
  } catch (err) {
    if (err instanceof RehearsalRefused) throw err;
    throw new RehearsalRefused((err as Error).message);
  }
  return { product, server, simulator, psp };
}

/** A test document the KYC module accepts (a minimal PDF). */
function testDocument(runId: string): Uint8Array {
  return new TextEncoder().encode(
    `%PDF-1.4\n% Brokerdesk go-live rehearsal ${runId}: not an identity document\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n`,
  );
}

/** MM/YY two years ahead. */
function cardExpiry(now: Date): string {
  return `${String(now.getUTCMonth() + 1).padStart(2, '0')}/${String((now.getUTCFullYear() + 2) % 100).padStart(2, '0')}`;
}

export async function rehearse(ctx: RehearsalContext, options: RehearsalOptions): Promise<RehearsalReport> {
  const id = options.id ?? `rh-${randomBytes(5).toString('hex')}`;
  const report = newReport(id, options.requestedBy, ctx.clock.now());
  const started = performance.now();
  const progress = () => options.onProgress?.(snapshot(report));
  if (running) {
    report.status = 'refused';
    report.error = `rehearsal ${running} is still running in this process; wait for it to finish`;
    report.finishedAt = ctx.clock.now();
    report.durationMs = 0;
    progress();
    return report;
  }
  running = id;
  let setup: Setup;
  try {
    setup = await preflight(ctx);
  } catch (err) {
    running = null;
    if (!(err instanceof RehearsalRefused)) throw err;
    // Nothing ran and nothing was created: the caller is told why; there is no rehearsal to put on the record.
    report.status = 'refused';
    report.error = err.message;
    report.finishedAt = ctx.clock.now();
    report.durationMs = Math.round(performance.now() - started);
    for (const s of report.steps) s.status = 'skipped';
    progress();
    return report;
  }
  try {
    report.server = setup.server.code;
    report.product = setup.product.code;
    progress();
    await new Journey(ctx, options, report, setup, progress).run();
    return report;
  } finally {
    if (report.status === 'running')
      report.status = report.steps.some((s) => s.status === 'failed') ? 'failed' : 'passed';
    report.finishedAt = ctx.clock.now();
    report.durationMs = Math.round(performance.now() - started);
    running = null;
    await recordFinished(ctx, options, report).catch((err) => {
      report.leftBehind.push(`the rehearsal's audit record could not be written: ${(err as Error).message}`);
    });
    progress();
  }
}

async function recordFinished(
  ctx: RehearsalContext,
  options: RehearsalOptions,
  report: RehearsalReport,
): Promise<void> {
  await ctx.database.db.transaction(async (tx) => {
    await recordAudit(
      tx,
      {
        actorType: 'staff',
        actorId: options.staffId,
        action: REHEARSAL_FINISHED,
        entityType: 'golive_rehearsal',
        entityId: report.id,
        after: {
          ...snapshot(report),
          failedStep: report.steps.find((s) => s.status === 'failed')?.id ?? null,
        },
      },
      ctx.clock,
    );
  });
}

/** The journey's state and steps. */
class Journey {
  private readonly accounts: AccountService;
  private readonly pollMs: number;
  private readonly timeoutMs: number;
  private readonly currency: string;
  private readonly digits: number;
  private readonly email: string;
  // What the steps created (for later steps and the cleanup).
  private partnerId: string | null = null;
  private planId: string | null = null;
  private clientId: string | null = null;
  private accountId: string | null = null;
  private login: number | null = null;
  private faultRuleId: number | null = null;
  private tradeRecordIds: number[] = [];

  constructor(
    private readonly ctx: RehearsalContext,
    private readonly options: RehearsalOptions,
    private readonly report: RehearsalReport,
    private readonly setup: Setup,
    private readonly progress: () => void,
  ) {
    this.accounts = new AccountService({
      database: ctx.database,
      registry: ctx.registry,
      clock: ctx.clock,
      sealer: ctx.sealer,
      audit: ctx.audit,
    });
    this.pollMs = options.pollMs ?? 250;
    this.timeoutMs = ctx.config.golive.stepTimeoutSeconds * 1000;
    this.currency = setup.product.currency;
    this.digits = currencyDigits(this.currency);
    this.email = ctx.config.golive.clientEmail.replace('{run}', report.id).toLowerCase();
  }

  private get db() {
    return this.ctx.database.db;
  }

  private step(id: RehearsalStepId): RehearsalStep {
    return this.report.steps.find((s) => s.id === id)!;
  }

  async run(): Promise<void> {
    const journey: [RehearsalStepId, () => Promise<string>][] = [
      ['partner', () => this.createPartner()],
      ['register', () => this.register()],
      ['verify_email', () => this.verifyEmail()],
      ['kyc', () => this.approveKyc()],
      ['open_account', () => this.openAccount()],
      ['deposit', () => this.deposit('deposit')],
      ['trade', () => this.trade()],
      ['commission', () => this.commission()],
      ['withdrawal', () => this.withdraw()],
      ['deposit_timeout', () => this.deposit('deposit_timeout')],
    ];
    let failed = false;
    for (const [id, work] of journey) {
      if (failed) {
        this.step(id).status = 'skipped';
        this.step(id).detail = 'not run: an earlier step failed';
        continue;
      }
      failed = !(await this.runStep(id, work));
    }
    this.report.status = failed ? 'failed' : 'running';
    await this.runStep('cleanup', () => this.cleanup());
    if (this.report.leftBehind.length > 0) this.step('cleanup').status = 'failed';
    this.report.status = this.report.steps.some((s) => s.status === 'failed') ? 'failed' : 'passed';
  }

  private async runStep(id: RehearsalStepId, work: () => Promise<string>): Promise<boolean> {
    const step = this.step(id);
    step.status = 'running';
    step.startedAt = this.ctx.clock.now();
    const t0 = performance.now();
    this.progress();
    try {
      step.detail = await work();
      step.status = 'passed';
    } catch (err) {
      step.status = 'failed';
      step.detail = (err as Error).message;
      if (err instanceof StepFailed) Object.assign(step.evidence, err.evidence);
    }
    step.durationMs = Math.round(performance.now() - t0);
    this.progress();
    return step.status === 'passed';
  }

  private evidence(id: RehearsalStepId, facts: Record<string, unknown>): void {
    Object.assign(this.step(id).evidence, facts);
  }

  /** Polls `probe` (doing the worker's part when asked to) until it returns a value, or fails with `what`. */
  private async until<T>(
    what: string,
    probe: () => Promise<T | null | undefined>,
    timeoutMs = this.timeoutMs,
  ): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      await this.options.tick?.();
      const value = await probe();
      if (value !== null && value !== undefined) return value;
      if (performance.now() > deadline) {
        throw new StepFailed(
          `${what} did not happen within ${Math.round(timeoutMs / 1000)} s${this.options.tick ? '' : ': is the worker running (brokerdesk worker)?'}`,
        );
      }
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }

  // --- steps -------------------------------------------------------------------------------------------------------

  private async createPartner(): Promise<string> {
    const commissions = commissionServices(this.ctx).commissions;
    const code = `golive-rehearsal-${this.currency.toLowerCase()}`;
    const [existing] = await this.db.select().from(commissionPlans).where(eq(commissionPlans.code, code));
    if (existing) {
      this.planId = existing.id;
      if (existing.status !== 'active') {
        await commissions.updatePlan(existing.id, { status: 'active' }, this.options.staffId);
      }
    } else {
      const created = await commissions.createPlan(
        {
          code,
          name: `Go-live rehearsal (${this.currency})`,
          currency: this.currency,
          rules: { perLot: [{ fromLots: '0', rates: { other: PLAN_RATE_PER_LOT } }] },
          note: 'Used by brokerdesk golive rehearse only; archived between rehearsals.',
        },
        this.options.staffId,
      );
      this.planId = created.plan.id;
    }
    const { partner } = await this.ctx.partners.create(
      {
        email: this.email.replace('@', '-ib@'),
        name: `Go-live rehearsal IB ${this.report.id}`,
      },
      this.options.staffId,
    );
    this.partnerId = partner.id;
    // From a little before now: a server clock slightly behind ours still puts the trade after the assignment.
    await commissions.assignPlan(
      partner.id,
      {
        planId: this.planId,
        effectiveFrom: new Date(this.ctx.clock.now().getTime() - 10 * 60_000).toISOString(),
        reason: `go-live rehearsal ${this.report.id}`,
      },
      this.options.staffId,
    );
    this.evidence('partner', { partnerId: partner.id, referralCode: partner.referralCode, planId: this.planId });
    return `partner ${partner.referralCode} (${partner.id}) on plan ${code}: ${PLAN_RATE_PER_LOT} ${this.currency} per lot`;
  }

  private async register(): Promise<string> {
    const partner = await this.ctx.partners.get(this.partnerId!);
    const client = await this.ctx.clients.register({
      email: this.email,
      password: randomBytes(18).toString('base64url'),
      name: `Go-live rehearsal ${this.report.id}`,
      country: 'CY',
      referralCode: partner.referralCode,
    });
    this.clientId = client.id;
    await this.db.transaction(async (tx) => {
      await tx.insert(clientFlags).values({
        clientId: client.id,
        kind: 'golive_rehearsal',
        reason: `test client of go-live rehearsal ${this.report.id}; closed when the rehearsal ends`,
        createdAt: this.ctx.clock.now(),
      });
    });
    if (client.partnerId !== partner.id) {
      throw new StepFailed(`the client was not attached to partner ${partner.referralCode} by its referral code`);
    }
    this.evidence('register', { clientId: client.id, email: client.email });
    return `client ${client.email} (${client.id}), referred by ${partner.referralCode}, flagged golive_rehearsal`;
  }

  private async verifyEmail(): Promise<string> {
    const email = await this.until('the verification email', async () => {
      const [row] = await this.db
        .select()
        .from(outboxEmails)
        .where(and(eq(outboxEmails.to, this.email), eq(outboxEmails.kind, 'client.verify_email')));
      return row ?? null;
    });
    const token = /[?&]token=([^\s&]+)/.exec(email.text)?.[1];
    if (!token) throw new StepFailed(`the verification email ${email.id} carries no link with a token`);
    const client = await this.ctx.clients.verifyEmail(decodeURIComponent(token));
    if (!client.emailVerifiedAt) throw new StepFailed('the email is still unverified after following the link');
    this.evidence('verify_email', { outboxEmailId: email.id, emailStatus: email.status });
    return `verification email ${email.id} (${email.status} in the outbox) followed; email verified`;
  }

  private async approveKyc(): Promise<string> {
    const doc = await this.ctx.kyc.upload(this.clientId!, {
      type: 'passport',
      originalName: `golive-rehearsal-${this.report.id}.pdf`,
      bytes: testDocument(this.report.id),
    });
    await this.ctx.kyc.reviewDocument(doc.id, { decision: 'approve', note: 'go-live rehearsal' }, this.options.staffId);
    await this.ctx.kyc.decide(
      this.clientId!,
      { decision: 'approve', reason: `go-live rehearsal ${this.report.id}` },
      this.options.staffId,
    );
    const [client] = await this.db.select().from(clients).where(eq(clients.id, this.clientId!));
    if (client?.kycStatus !== 'approved') throw new StepFailed(`KYC is ${client?.kycStatus} after approval`);
    this.evidence('kyc', { documentId: doc.id, kycExpiresAt: client.kycExpiresAt });
    return `document ${doc.id} approved; client KYC approved until ${client.kycExpiresAt?.toISOString() ?? '—'}`;
  }

  private async openAccount(): Promise<string> {
    const { account } = await this.accounts.request(this.clientId!, { productId: this.setup.product.id });
    this.accountId = account.id;
    const row = await this.until('the account opening (the worker runs the open_account operation)', async () => {
      const [r] = await this.db.select().from(tradingAccounts).where(eq(tradingAccounts.id, account.id));
      if (r?.status === 'failed') throw new StepFailed(`the account failed to open: ${r.failureReason}`);
      return r?.status === 'open' && r.login !== null ? r : null;
    });
    this.login = row.login!;
    const platform = await this.ctx.registry.platform(this.setup.server.code);
    const onServer = await platform.getAccount(row.login!);
    if (onServer.group !== this.setup.product.groupName) {
      throw new StepFailed(
        `account ${row.login} opened in group ${onServer.group}, not the product's ${this.setup.product.groupName}`,
      );
    }
    const [op] = row.openOperationId
      ? await this.db.select().from(operations).where(eq(operations.id, row.openOperationId))
      : [];
    this.evidence('open_account', {
      accountId: row.id,
      login: row.login,
      group: onServer.group,
      reference: op?.reference,
    });
    return `account ${row.login} open on ${this.setup.server.code} in ${onServer.group} (${onServer.currency}), operation ${op?.reference ?? '—'}`;
  }

  private async deposit(stepId: 'deposit' | 'deposit_timeout'): Promise<string> {
    const amount = this.ctx.config.golive.depositMinor;
    const since = new Date(this.ctx.clock.now().getTime() - 60_000);
    let injected = '';
    if (stepId === 'deposit_timeout') {
      // Slower than the connector waits: the request times out, and the server applies it a moment later.
      const latencyMs = this.setup.server.requestTimeoutMs + 500;
      const rule = await this.setup.simulator.call<{ id: number }>('POST', '/control/faults', {
        endpoint: BALANCE_ENDPOINT[this.setup.server.platform],
        kind: 'latency',
        latencyMs,
        count: 1,
      });
      this.faultRuleId = rule.id;
      injected = `fault ${rule.id}: the next balance operation on ${this.setup.server.code} answers after ${latencyMs} ms (request timeout ${this.setup.server.requestTimeoutMs} ms); `;
      this.evidence(stepId, { faultRuleId: rule.id, latencyMs });
    }
    const started = await this.ctx.funding.startDeposit(
      this.clientId!,
      { accountId: this.accountId!, amountMinor: amount },
      { allowDemo: true },
    );
    const movementId = started.movement.id;
    const [created] = await this.db.select().from(moneyMovements).where(eq(moneyMovements.id, movementId));
    const paymentId = created?.pspPaymentId;
    if (!paymentId) throw new StepFailed(`deposit ${movementId} has no PSP payment`);
    // The configured PSP must be the sandbox whose control API we hold: it must know this payment before we pay.
    try {
      await this.setup.psp.call('GET', `/control/payments/${encodeURIComponent(paymentId)}`);
    } catch (err) {
      throw new StepFailed(
        `the PSP sandbox's control API does not know payment ${paymentId} created by the configured PSP, so that PSP is not the sandbox: nothing was paid (${(err as Error).message})`,
      );
    }
    const form = new URLSearchParams({
      cardNumber: SANDBOX_CARD,
      expiry: cardExpiry(this.ctx.clock.now()),
      cvc: '123',
      holderName: `Rehearsal ${this.report.id}`,
    });
    const paid = await fetch(started.paymentUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      redirect: 'manual',
      signal: AbortSignal.timeout(15_000),
    });
    const back = paid.headers.get('location');
    const paidStatus = back ? new URL(back, started.paymentUrl).searchParams.get('status') : null;
    if (paid.status !== 303 || paidStatus !== 'succeeded') {
      throw new StepFailed(
        `the hosted payment page answered ${paid.status}${paidStatus ? ` (${paidStatus})` : ''} to the sandbox's test card`,
        { movementId, pspPaymentId: paymentId },
      );
    }
    const movement = await this.until(
      `deposit ${movementId} posted (the PSP webhook must reach the API at /api/webhooks/psp/${this.ctx.funding.deps.psp!.name}, then the worker posts it)`,
      async () => {
        const [m] = await this.db.select().from(moneyMovements).where(eq(moneyMovements.id, movementId));
        if (m && ['payment_failed', 'posting_failed', 'failed', 'rejected'].includes(m.status)) {
          throw new StepFailed(`deposit ${movementId} ended ${m.status}: ${m.failureReason ?? ''}`, {
            movementId,
          });
        }
        return m?.status === 'posted' ? m : null;
      },
      stepId === 'deposit_timeout' ? this.timeoutMs + this.ctx.config.worker.verifyDelayMs : this.timeoutMs,
    );
    const [op] = await this.db.select().from(operations).where(eq(operations.id, movement.operationId!));
    const attempts = await this.db
      .select()
      .from(operationAttempts)
      .where(eq(operationAttempts.operationId, op!.id))
      .orderBy(asc(operationAttempts.id));
    if (stepId === 'deposit_timeout' && attempts.some((a) => a.action === 'verify' && a.outcome === 'absent')) {
      // Sent again after a look-up found nothing: the timed-out request may still land (up to the injected latency
      // after it was sent). Wait that long before counting, so the second posting shows.
      const latencyMs = this.step(stepId).evidence.latencyMs as number;
      await new Promise((r) => setTimeout(r, latencyMs + 500));
    }
    const records = await this.serverRecords(op!.reference, since);
    const evidence = {
      movementId,
      pspPaymentId: paymentId,
      reference: op!.reference,
      ticket: movement.ticket,
      serverRecords: records.map((r) => r.ticket),
      attempts: attempts.map((a) => `${a.action}:${a.outcome}`),
    };
    this.evidence(stepId, evidence);
    if (records.length !== 1 || records[0]!.amount !== amount) {
      throw new StepFailed(
        `the server has ${records.length} balance record(s) with reference ${op!.reference} (${records.map((r) => r.amount).join(', ')}); exactly one of ${amount} was expected`,
        evidence,
      );
    }
    if (stepId === 'deposit_timeout') {
      const timedOut = attempts.some((a) => a.action === 'post' && a.outcome === 'ambiguous');
      const verified = attempts.some((a) => a.action === 'verify');
      if (!timedOut || !verified) {
        throw new StepFailed(
          `the injected timeout did not hit this deposit (attempts: ${evidence.attempts.join(', ')}): another request to ${this.setup.server.code} took it`,
          evidence,
        );
      }
      if (attempts.some((a) => a.action === 'verify' && a.outcome === 'absent')) {
        // Posted once after all, but only because the late request and the re-send did not both land: too close.
        throw new StepFailed(
          `the worker looked the timed-out deposit up before the server had applied it and sent it again (attempts: ${evidence.attempts.join(', ')}): set WORKER_VERIFY_DELAY_MS well above the servers' request timeouts`,
          evidence,
        );
      }
      await this.removeFault();
    }
    return `${injected}${movementId}: paid (${paymentId}), webhook applied, posted as ${op!.reference} (server ticket ${movement.ticket ?? records[0]!.ticket}); attempts ${evidence.attempts.join(' → ')}; exactly one balance record on the server`;
  }

  /** The account's balance records carrying `reference`, read from the server. */
  private async serverRecords(reference: string, since: Date) {
    const platform = await this.ctx.registry.platform(this.setup.server.code);
    const found: { ticket: string; amount: number }[] = [];
    for await (const r of platform.listHistory({
      login: this.login!,
      from: new Date(since.getTime() - 86_400_000),
      to: new Date(Date.now() + 86_400_000),
    })) {
      if (r.type === 'balance' && r.reference === reference) found.push({ ticket: r.ticket, amount: r.amount });
    }
    return found;
  }

  private async trade(): Promise<string> {
    const sim = this.setup.simulator;
    const tickets: string[] = [];
    if (this.setup.server.platform === 'mt5') {
      const opened = await sim.call<{ deals: { Deal: string; PositionID: string }[] }>(
        'POST',
        '/control/dealer/trade',
        {
          login: this.login,
          symbol: 'EURUSD',
          side: 'buy',
          lots: TRADE_LOTS,
          comment: 'go-live rehearsal',
        },
      );
      const position = Number(opened.deals[0]?.PositionID);
      const closed = await sim.call<{ deals: { Deal: string }[] }>('POST', '/control/dealer/trade', {
        login: this.login,
        symbol: 'EURUSD',
        side: 'sell',
        lots: TRADE_LOTS,
        positionId: position,
        comment: 'go-live rehearsal',
      });
      tickets.push(...opened.deals.map((d) => d.Deal), ...closed.deals.map((d) => d.Deal));
    } else {
      const opened = await sim.call<{ trade: { order: number } }>('POST', '/control/dealer/trades/open', {
        login: this.login,
        symbol: 'EURUSD',
        cmd: 0,
        volume: Math.round(TRADE_LOTS * 100),
        comment: 'go-live rehearsal',
      });
      await sim.call('POST', '/control/dealer/trades/close', { order: opened.trade.order });
      tickets.push(String(opened.trade.order));
    }
    const code = this.setup.server.code;
    const closing = this.setup.server.platform === 'mt5' ? 'deal' : 'closed_trade';
    const rows = await this.until(`the trade's records synced from ${code}`, async () => {
      const pass = await this.ctx.trades.syncServer(code);
      if (pass.status === 'failed') throw new StepFailed(`the sync pass of ${code} failed: ${pass.error}`);
      const found = await this.db
        .select()
        .from(tradeRecords)
        .where(
          and(
            eq(tradeRecords.serverCode, code),
            eq(tradeRecords.login, this.login!),
            eq(tradeRecords.recordType, closing),
            inArray(tradeRecords.ticket, tickets),
          ),
        );
      return found.length === tickets.length ? found : null;
    });
    this.tradeRecordIds = rows.map((r) => r.id);
    this.evidence('trade', { tickets, tradeRecordIds: this.tradeRecordIds });
    const profit = rows.reduce((n, r) => n + (r.profitMinor ?? 0), 0);
    return `${TRADE_LOTS} lot EURUSD bought and sold on account ${this.login} (${closing} ${tickets.join(', ')}); synced into trade_records, profit ${profit} minor units`;
  }

  private async commission(): Promise<string> {
    const commissions = commissionServices(this.ctx).commissions;
    const lines = await this.until(`the commission line of partner ${this.partnerId}`, async () => {
      await commissions.calculate({ triggeredBy: `golive-rehearsal:${this.report.id}` });
      const found = await this.db
        .select()
        .from(commissionLines)
        .where(
          and(
            eq(commissionLines.partnerId, this.partnerId!),
            inArray(commissionLines.tradeRecordId, this.tradeRecordIds),
          ),
        );
      return found.length > 0 ? found : null;
    });
    const expected = Math.round(Number(PLAN_RATE_PER_LOT) * TRADE_LOTS * 10 ** this.digits);
    const total = lines.reduce((n, l) => n + l.amountMinor, 0);
    this.evidence('commission', { lines: lines.map((l) => l.id), amountMinor: total });
    if (total !== expected) {
      throw new StepFailed(
        `partner commission is ${total} minor units for ${TRADE_LOTS} lot at ${PLAN_RATE_PER_LOT} ${this.currency}/lot; ${expected} expected`,
      );
    }
    return `${lines.length} line(s), ${total} minor units ${this.currency} (${TRADE_LOTS} lot × ${PLAN_RATE_PER_LOT} ${this.currency}/lot), accrued to the partner`;
  }

  private async withdraw(): Promise<string> {
    const deposit = this.ctx.config.golive.depositMinor;
    // Under the dual-approval threshold: the rehearsal is one approver.
    const amount = Math.max(1, Math.min(Math.floor(deposit / 2), this.ctx.config.funding.dualApprovalMinor - 1));
    const since = new Date(this.ctx.clock.now().getTime() - 60_000);
    const requested = await this.ctx.funding.requestWithdrawal(
      this.clientId!,
      { accountId: this.accountId!, amountMinor: amount, destination: { type: 'card', last4: SANDBOX_CARD.slice(-4) } },
      { allowDemo: true },
    );
    const movementId = requested.id;
    await this.ctx.funding.decide(movementId, this.options.staffId, {
      decision: 'approve',
      comment: `go-live rehearsal ${this.report.id}`,
    });
    let resolved = false;
    const done = await this.until(
      `withdrawal ${movementId} paid out (the worker debits the account, then sends the payout)`,
      async () => {
        const [m] = await this.db.select().from(moneyMovements).where(eq(moneyMovements.id, movementId));
        if (
          m &&
          ['payout_failed', 'returned', 'returning', 'failed', 'rejected', 'posting_failed'].includes(m.status)
        ) {
          throw new StepFailed(`withdrawal ${movementId} ended ${m.status}: ${m.failureReason ?? ''}`, { movementId });
        }
        if (m?.status === 'payout_pending' && m.pspPayoutId && !resolved) {
          // The sandbox settles payouts after a delay: settle this one now.
          resolved = true;
          await this.setup.psp
            .call('POST', `/control/payouts/${encodeURIComponent(m.pspPayoutId)}/resolve`, { outcome: 'success' })
            .catch(() => undefined);
        }
        return m?.status === 'completed' ? m : null;
      },
    );
    const [op] = await this.db.select().from(operations).where(eq(operations.id, done.operationId!));
    const records = await this.serverRecords(op!.reference, since);
    const evidence = {
      movementId,
      pspPayoutId: done.pspPayoutId,
      reference: op!.reference,
      serverRecords: records.map((r) => r.ticket),
    };
    this.evidence('withdrawal', evidence);
    if (records.length !== 1 || records[0]!.amount !== -amount) {
      throw new StepFailed(
        `the server has ${records.length} record(s) with reference ${op!.reference}; exactly one of ${-amount} was expected`,
        evidence,
      );
    }
    return `${movementId}: ${amount} minor units approved, debited as ${op!.reference} (ticket ${records[0]!.ticket}), paid out by the PSP (${done.pspPayoutId})`;
  }

  private async removeFault(): Promise<void> {
    if (this.faultRuleId === null) return;
    const rules = await this.setup.simulator.call<{ id: number }[]>('GET', '/control/faults');
    if (rules.some((r) => r.id === this.faultRuleId)) {
      await this.setup.simulator.call('DELETE', `/control/faults/${this.faultRuleId}`);
    }
    this.faultRuleId = null;
  }

  private async cleanup(): Promise<string> {
    const done: string[] = [];
    const left = this.report.leftBehind;
    const attempt = async (what: string, work: () => Promise<string | null>) => {
      try {
        const said = await work();
        if (said) done.push(said);
      } catch (err) {
        left.push(`${what}: ${(err as Error).message}`);
      }
    };
    await attempt(`fault rule ${this.faultRuleId} on ${this.setup.server.code}'s simulator`, async () => {
      if (this.faultRuleId === null) return null;
      const id = this.faultRuleId;
      await this.removeFault();
      return `fault rule ${id} removed`;
    });
    if (this.accountId) {
      await attempt(`trading on account ${this.login ?? this.accountId}`, async () => {
        const [row] = await this.db.select().from(tradingAccounts).where(eq(tradingAccounts.id, this.accountId!));
        if (row?.status !== 'open') return `account ${this.accountId} is ${row?.status}: nothing to disable`;
        const op = await this.accounts.setTrading(this.accountId!, false, this.options.staffId);
        await this.until(`trading disabled on account ${row.login}`, async () => {
          const [o] = await this.db.select().from(operations).where(eq(operations.id, op.id));
          if (o && ['failed', 'needs_review', 'cancelled'].includes(o.status)) {
            throw new Error(`operation ${o.reference} is ${o.status}`);
          }
          return o?.status === 'succeeded' ? o : null;
        });
        return `trading disabled on account ${row.login} (${op.reference})`;
      });
    }
    if (this.clientId) {
      await attempt(`client ${this.clientId}`, async () => {
        await this.ctx.clients.setStatus(
          this.clientId!,
          'closed',
          `go-live rehearsal ${this.report.id} finished`,
          this.options.staffId,
        );
        return `client ${this.email} closed (flag golive_rehearsal)`;
      });
    }
    if (this.partnerId) {
      await attempt(`partner ${this.partnerId}`, async () => {
        await this.ctx.partners.update(
          this.partnerId!,
          { status: 'suspended', reason: `go-live rehearsal ${this.report.id} finished` },
          this.options.staffId,
        );
        return 'partner suspended';
      });
    }
    if (this.planId) {
      await attempt(`commission plan ${this.planId}`, async () => {
        await commissionServices(this.ctx).commissions.updatePlan(
          this.planId!,
          { status: 'archived' },
          this.options.staffId,
        );
        return 'rehearsal plan archived';
      });
    }
    this.evidence('cleanup', { done, leftBehind: [...left] });
    const kept =
      'kept as records: ledger entries, commission lines, audit events and the sandbox payments (immutable by design)';
    if (left.length > 0) {
      throw new StepFailed(`${done.join('; ')}; NOT cleaned up: ${left.join('; ')}; ${kept}`);
    }
    return `${done.join('; ')}; ${kept}`;
  }
}

/** For the CLI: one line per step with its timing, then the outcome and anything left behind. */
export function formatRehearsal(report: RehearsalReport): string {
  const mark: Record<RehearsalStep['status'], string> = {
    pending: '    ',
    running: ' .. ',
    passed: 'PASS',
    failed: 'FAIL',
    skipped: 'SKIP',
  };
  const lines = [`rehearsal ${report.id} on ${report.server ?? '—'} (product ${report.product ?? '—'})`];
  if (report.error) lines.push(`  REFUSED: ${report.error}`);
  else {
    for (const s of report.steps) {
      const ms = s.durationMs === null ? '' : `${(s.durationMs / 1000).toFixed(1)} s`;
      lines.push(`  ${mark[s.status]}  ${s.id.padEnd(16)} ${ms.padStart(7)}  ${s.title}`);
      if (s.detail) lines.push(`        ${s.detail}`);
    }
  }
  lines.push(
    `${report.status}${report.durationMs === null ? '' : ` in ${(report.durationMs / 1000).toFixed(1)} s`}; left behind: ${report.leftBehind.length === 0 ? 'nothing to clean up by hand' : report.leftBehind.join('; ')}`,
  );
  return lines.join('\n');
}
