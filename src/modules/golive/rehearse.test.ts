/**
 * The full-workflow rehearsal on the demo MT5 simulator, the PSP sandbox (webhooks over real HTTP to the API) and
 * PostgreSQL, with an operations engine doing the worker's part. Each step is checked where it landed (the simulator's
 * own state, the sandbox's, the database), then the cleanup; and it refuses live products, live servers and a
 * control API that belongs to another server.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rightsOf } from '../../../test/support/accounts-testbed.ts';
import { type FundingTestbed, fundingTestbed } from '../../../test/support/funding-testbed.ts';
import { control, startMt4 } from '../../../test/support/simulators.ts';
import { systemClock } from '../../clock.ts';
import type { Config } from '../../config.ts';
import {
  auditEvents,
  clientFlags,
  clients,
  commissionLines,
  commissionPlans,
  moneyMovements,
  partners,
  tradingAccounts,
} from '../../db/schema.ts';
import { OperationsEngine } from '../../operations/engine.ts';
import { verifyAuditChain } from '../audit/service.ts';
import { runChecklist } from './checks.ts';
import { type RehearsalContext, rehearse } from './rehearse.ts';
import type { RehearsalReport } from './types.ts';

describe('go-live rehearsal', () => {
  let t: FundingTestbed;
  let engine: OperationsEngine;
  let lastTick = Date.now();
  let staffId: string;
  let mt4Demo: Awaited<ReturnType<typeof startMt4>>;

  const context = (golive: Partial<Config['golive']> = {}): RehearsalContext => ({
    ...t.ctx,
    config: {
      ...t.ctx.config,
      funding: {
        ...t.ctx.config.funding,
        psp: {
          name: t.psp.provider.name,
          url: t.psp.psp.url,
          apiKeySecret: 'env:GL_R_PSP_KEY',
          webhookSecret: 'env:GL_R_PSP_WEBHOOK',
          webhookToleranceSeconds: 300,
          timeoutMs: 3000,
        },
      },
      golive: {
        ...t.ctx.config.golive,
        simulatorControlUrl: t.demo.controlUrl,
        simulatorControlTokenSecret: 'env:GL_R_SIM_TOKEN',
        pspControlUrl: t.psp.psp.controlUrl,
        pspControlTokenSecret: 'env:GL_R_PSP_TOKEN',
        product: 'demo-std',
        clientEmail: 'ops+rehearsal-{run}@broker.example',
        stepTimeoutSeconds: 30,
        ...golive,
      },
    },
  });
  /** The worker's part: operations (with a verify delay longer than the injected lateness) and payouts. */
  const tick = async () => {
    const now = Date.now();
    t.clock.advance(now - lastTick);
    lastTick = now;
    await engine.drain();
    await t.ctx.funding.dispatchPayouts();
  };

  beforeAll(async () => {
    t = await fundingTestbed();
    t.clock.set(new Date());
    lastTick = Date.now();
    // On real time, as a worker is: the verify delay must run while a slow server call is still out.
    engine = new OperationsEngine(
      { ...t.ctx.operationsDeps(), clock: systemClock },
      { verifyDelayMs: 2000, random: () => 0.5 },
    );
    process.env.GL_R_PSP_KEY = t.psp.psp.apiKey;
    process.env.GL_R_PSP_WEBHOOK = t.psp.psp.webhookSecret;
    process.env.GL_R_SIM_TOKEN = t.demo.controlToken;
    process.env.GL_R_PSP_TOKEN = t.psp.psp.controlToken;
    staffId = (
      await t.staff.create(
        { email: 'ops-lead@broker.example', name: 'Olga Ops', password: 'correct horse battery', roles: ['admin'] },
        'system',
      )
    ).id;
    mt4Demo = await startMt4({ name: 'mt4-demo', environment: 'demo' });
    process.env.GL_R_MT4_DEMO = mt4Demo.manager.password;
    process.env.GL_R_MT4_TOKEN = mt4Demo.controlToken;
    await t.ctx.registry.upsert({
      code: 'mt4-demo',
      platform: 'mt4',
      environment: 'demo',
      address: mt4Demo.url,
      managerLogin: mt4Demo.manager.login,
      passwordSecret: 'env:GL_R_MT4_DEMO',
      caCertPath: mt4Demo.certPath ?? null,
      requestTimeoutMs: 3000,
      connectTimeoutMs: 1000,
    });
    await t.product({
      code: 'demo-mt4',
      environment: 'demo',
      serverCode: 'mt4-demo',
      groupName: 'demo-std-usd',
      demoDeposit: 500_000,
    });
    await t.product({ code: 'live-std', kycPolicy: 'create_on_approval' });
    await t.product({
      code: 'demo-std',
      environment: 'demo',
      serverCode: 'mt5-demo',
      groupName: 'demo\\standard-usd',
      demoDeposit: 500_000,
    });
  });
  afterAll(async () => {
    await engine?.stop();
    await t?.close();
    await mt4Demo?.close();
  });

  it('runs the whole journey on the demo server and the PSP sandbox, each step proven where it landed, then cleans up', async () => {
    const progress: RehearsalReport[] = [];
    const report = await rehearse(context(), {
      staffId,
      requestedBy: 'test',
      tick,
      pollMs: 25,
      onProgress: (r) => progress.push(r),
    });
    const summary = report.steps.map((s) => `${s.id}: ${s.status} ${s.status === 'passed' ? '' : s.detail}`.trim());
    expect(summary, JSON.stringify(report, null, 2)).toEqual([
      'partner: passed',
      'register: passed',
      'verify_email: passed',
      'kyc: passed',
      'open_account: passed',
      'deposit: passed',
      'trade: passed',
      'commission: passed',
      'withdrawal: passed',
      'deposit_timeout: passed',
      'cleanup: passed',
    ]);
    expect(report).toMatchObject({ status: 'passed', server: 'mt5-demo', product: 'demo-std', leftBehind: [] });
    for (const s of report.steps) {
      expect(s.durationMs, s.id).toBeGreaterThanOrEqual(0);
      expect(s.startedAt, s.id).toBeInstanceOf(Date);
    }
    expect(progress.some((r) => r.steps.some((s) => s.status === 'running'))).toBe(true);
    const ev = (step: string, key: string) => report.steps.find((s) => s.id === step)!.evidence[key] as string;
    const evList = (step: string, key: string) => report.steps.find((s) => s.id === step)!.evidence[key] as string[];

    // The client: registered through the partner's link, verified, KYC approved, then closed and flagged.
    const [client] = await t.database.db
      .select()
      .from(clients)
      .where(eq(clients.id, ev('register', 'clientId')));
    expect(client).toMatchObject({ status: 'closed', kycStatus: 'approved', partnerId: ev('partner', 'partnerId') });
    expect(client!.emailVerifiedAt).toBeInstanceOf(Date);
    expect(client!.email).toBe(`ops+rehearsal-${report.id}@broker.example`);
    const flags = await t.database.db.select().from(clientFlags).where(eq(clientFlags.clientId, client!.id));
    expect(flags.map((f) => f.kind)).toEqual(['golive_rehearsal']);
    const [partner] = await t.database.db
      .select()
      .from(partners)
      .where(eq(partners.id, ev('partner', 'partnerId')));
    expect(partner!.status).toBe('suspended');
    const [plan] = await t.database.db
      .select()
      .from(commissionPlans)
      .where(eq(commissionPlans.id, ev('partner', 'planId')));
    expect(plan!.status).toBe('archived');

    // The account on the demo server: in the product's group, trading now disabled.
    const [account] = await t.database.db
      .select()
      .from(tradingAccounts)
      .where(eq(tradingAccounts.id, ev('open_account', 'accountId')));
    expect(account).toMatchObject({ status: 'open', tradingEnabled: false, serverCode: 'mt5-demo' });
    const onServer = await t.simAccount(t.demo, account!.login!);
    expect(onServer.user.Group).toBe('demo\\standard-usd');
    expect(rightsOf(onServer).tradingAllowed).toBe(false);

    // On the server: exactly one balance deal per reference (two deposits, one withdrawal), and the trade's deals.
    const deals = (await control(t.demo, 'GET', `/control/accounts/${account!.login}/deals`)) as {
      Deal: string;
      Action: string;
      Profit: string;
      Comment: string;
    }[];
    for (const [step, amount] of [
      ['deposit', '100.00'],
      ['deposit_timeout', '100.00'],
      ['withdrawal', '-50.00'],
    ] as const) {
      const reference = ev(step, 'reference');
      const matching = deals.filter((d) => d.Comment.startsWith(reference));
      expect(matching, `${step} ${reference}`).toHaveLength(1);
      expect(matching[0]!.Profit).toBe(amount);
    }
    const tradeTickets = evList('trade', 'tickets');
    expect(deals.filter((d) => tradeTickets.includes(d.Deal)).map((d) => d.Action)).toEqual(['0', '1']);
    // The timeout really happened: the post was ambiguous, then verified by reference (found), never re-sent.
    expect(evList('deposit_timeout', 'attempts')).toEqual(['post:ambiguous', 'verify:found']);
    expect(await control(t.demo, 'GET', '/control/faults')).toEqual([]);

    // The PSP sandbox: both payments succeeded, the payout was paid.
    for (const step of ['deposit', 'deposit_timeout'] as const) {
      const payment = await t.psp.control<{ status: string; amount: number }>(
        'GET',
        `/control/payments/${ev(step, 'pspPaymentId')}`,
      );
      expect(payment).toMatchObject({ status: 'succeeded', amount: 10_000 });
    }
    const payout = await t.psp.control<{ status: string; amount: number }>(
      'GET',
      `/control/payouts/${ev('withdrawal', 'pspPayoutId')}`,
    );
    expect(payout).toMatchObject({ status: 'succeeded', amount: 5_000 });
    const movements = await t.database.db.select().from(moneyMovements).where(eq(moneyMovements.clientId, client!.id));
    expect(movements.map((m) => `${m.kind}:${m.status}`).sort()).toEqual([
      'deposit:posted',
      'deposit:posted',
      'withdrawal:completed',
    ]);

    // The partner's commission on the synced trade: 0.1 lot × 10 USD.
    const lines = await t.database.db
      .select()
      .from(commissionLines)
      .where(eq(commissionLines.partnerId, ev('partner', 'partnerId')));
    expect(lines.map((l) => l.amountMinor)).toEqual([100]);

    // On the record: the finished rehearsal in the (intact) audit chain, and the checklist sees it.
    const [finished] = await t.database.db.select().from(auditEvents).where(eq(auditEvents.entityId, report.id));
    expect(finished).toMatchObject({ action: 'golive.rehearsal_finished', after: { status: 'passed' } });
    expect((await verifyAuditChain(t.database.db)).ok).toBe(true);
    const checklist = await runChecklist(t.ctx);
    expect(checklist.checks.find((c) => c.id === 'rehearsal:last')).toMatchObject({ status: 'pass' });
  }, 120_000);

  it('runs on an MT4 demo server too: closed trade synced, the timed-out deposit verified and posted once', async () => {
    const report = await rehearse(
      context({
        product: 'demo-mt4',
        simulatorControlUrl: mt4Demo.controlUrl,
        simulatorControlTokenSecret: 'env:GL_R_MT4_TOKEN',
      }),
      { staffId, requestedBy: 'test', tick, pollMs: 25 },
    );
    expect(
      report.steps.filter((s) => s.status !== 'passed').map((s) => `${s.id}: ${s.detail}`),
      JSON.stringify(report, null, 2),
    ).toEqual([]);
    expect(report).toMatchObject({ status: 'passed', server: 'mt4-demo', product: 'demo-mt4' });
    const step = (id: string) => report.steps.find((s) => s.id === id)!;
    expect(step('trade').detail).toMatch(/closed_trade \d+/);
    expect(step('deposit_timeout').evidence.attempts).toEqual(['post:ambiguous', 'verify:found']);
    const login = step('open_account').evidence.login as number;
    // Trading disabled by the cleanup: MT4's read-only flag.
    const user = (await control(mt4Demo, 'GET', `/control/users/${login}`)) as { enable_read_only: number };
    expect(user.enable_read_only).toBe(1);
    const history = (await control(mt4Demo, 'GET', `/control/trades?login=${login}`)) as unknown;
    const comments = JSON.stringify(history);
    for (const id of ['deposit', 'deposit_timeout', 'withdrawal']) {
      const reference = step(id).evidence.reference as string;
      expect(comments.split(reference).length - 1, `${id} ${reference}`).toBe(1);
    }
  }, 120_000);

  it('fails at the timeout step when the worker looks a timed-out deposit up too early and sends it twice, and still cleans up', async () => {
    // A worker whose verify delay (50 ms) is shorter than the server's lateness (500 ms after the timeout).
    const hasty = new OperationsEngine(
      { ...t.ctx.operationsDeps(), clock: systemClock },
      { verifyDelayMs: 50, random: () => 0.5 },
    );
    const report = await rehearse(context(), {
      staffId,
      requestedBy: 'test',
      pollMs: 25,
      tick: async () => {
        t.clock.set(new Date());
        await hasty.drain();
        await t.ctx.funding.dispatchPayouts();
      },
    });
    const step = report.steps.find((s) => s.id === 'deposit_timeout')!;
    expect(report.status).toBe('failed');
    expect(step.status).toBe('failed');
    expect(step.detail).toMatch(/2 balance record\(s\) with reference BD-DEP-\w+/);
    expect(step.evidence.attempts).toEqual(['post:ambiguous', 'verify:absent', 'post:ok']);
    expect(report.steps.find((s) => s.id === 'cleanup')!.status).toBe('passed');
    expect(report.leftBehind).toEqual([]);
    expect(await control(t.demo, 'GET', '/control/faults')).toEqual([]);
  }, 120_000);

  it('refuses a live product, a control API of another server and missing settings, before creating anything', async () => {
    const clientsBefore = (await t.database.db.select().from(clients)).length;
    const live = await rehearse(context({ product: 'live-std' }), { staffId, requestedBy: 'test', tick });
    expect(live.status).toBe('refused');
    expect(live.error).toMatch(/product live-std is live: the rehearsal runs only on a demo product/);
    expect(live.steps.every((s) => s.status === 'skipped')).toBe(true);

    process.env.GL_R_LIVE_TOKEN = t.live.controlToken;
    const wrongSim = await rehearse(
      context({ simulatorControlUrl: t.live.controlUrl, simulatorControlTokenSecret: 'env:GL_R_LIVE_TOKEN' }),
      { staffId, requestedBy: 'test', tick },
    );
    expect(wrongSim.status).toBe('refused');
    expect(wrongSim.error).toMatch(/says it is live: the rehearsal injects faults only into a demo simulator/);

    const unset = await rehearse(context({ pspControlUrl: undefined }), { staffId, requestedBy: 'test', tick });
    expect(unset.error).toMatch(/set GOLIVE_PSP_CONTROL_URL/);
    expect((await t.database.db.select().from(clients)).length).toBe(clientsBefore);
    // Refusals are not rehearsals: the checklist still judges the last one that ran (the failed one above).
    const checklist = await runChecklist(t.ctx);
    expect(checklist.checks.find((c) => c.id === 'rehearsal:last')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/failed at step deposit_timeout/),
    });
  });
});
