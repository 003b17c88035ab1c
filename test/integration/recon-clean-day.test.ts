/**
 * The PSP side of the reconciliation and a clean day. A day of ordinary business (deposits, a bonus credit, a
 * withdrawal paid out through the PSP) reconciles with no break, that day and the next. A payment nobody in the CRM
 * started, and a deposit whose webhook never arrived, are "in the PSP but not in the CRM"; once the lost webhook is
 * delivered, the next run clears that one by itself, while the stranger's payment stays open.
 */
import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alerts, reconBreaks } from '../../src/db/schema.ts';
import { runReport } from '../../src/modules/reconciliation/report.ts';
import type { RunSources } from '../../src/modules/reconciliation/service.ts';
import { LIVE } from '../support/accounts-testbed.ts';
import { type FundingTestbed, fundingTestbed } from '../support/funding-testbed.ts';
import { expectLedgerBalanced } from '../support/ledger.ts';
import { TEST_CARDS } from '../support/psp.ts';
import { reconDay } from '../support/recon.ts';

describe('a clean day', () => {
  let t: FundingTestbed;
  beforeAll(async () => {
    t = await fundingTestbed();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('deposits, a bonus credit and a paid-out withdrawal reconcile with no break, that day and the next', async () => {
    const finance = await t.staffCookie(['finance']);
    const a = await t.fundedClient();
    const b = await t.fundedClient();
    for (const [c, amount] of [
      [a, 120_000],
      [a, 5_000],
      [b, 64_321],
    ] as const) {
      const d = await t.deposit(c.cookie, c.accountId, amount);
      await t.until(d.movementId, ['posted']);
    }
    const credit = await t.ctx.funding.requestStaffMovement('credit', randomUUID(), {
      accountId: b.accountId,
      amountMinor: 10_000,
      direction: 'in',
      reason: 'welcome bonus',
    });
    await t.ctx.funding.decide(credit.id, randomUUID(), { decision: 'approve' });
    await t.until(credit.id, ['posted']);

    const requested = await t.app.inject({
      method: 'POST',
      url: '/api/portal/withdrawals',
      headers: { cookie: a.cookie },
      payload: { accountId: a.accountId, amountMinor: 30_000, destination: { type: 'card', last4: '4242' } },
    });
    expect(requested.statusCode, requested.body).toBe(201);
    const withdrawalId = requested.json().movement.id as string;
    const approved = await t.app.inject({
      method: 'POST',
      url: `/api/backoffice/movements/${withdrawalId}/decision`,
      headers: { cookie: finance },
      payload: { decision: 'approve' },
    });
    expect(approved.statusCode, approved.body).toBe(200);
    await t.until(withdrawalId, ['debited']);
    await t.ctx.funding.dispatchPayouts();
    const payoutId = (await t.movement(withdrawalId)).pspPayoutId!;
    await t.psp.control('POST', `/control/payouts/${payoutId}/resolve`, { outcome: 'success' });
    await t.until(withdrawalId, ['completed']);

    const day = reconDay(t);
    const run = await day.run(0);
    const sources = run.sources as RunSources;
    expect(sources.psp).toMatchObject({ status: 'ok', lines: 4 });
    expect(sources.servers[LIVE]).toMatchObject({ status: 'compared', complete: true, balances: { read: 2 } });
    expect(run.summary).toMatchObject({ breaks: 0, open: 0, opened: 0, cleared: 0, accountsCompared: 2 });
    expect(
      await t.database.db
        .select()
        .from(alerts)
        .where(eq(alerts.dedupeKey, `recon:${day.date}`)),
    ).toEqual([]);

    const next = await day.run(1);
    expect(next.summary).toMatchObject({ breaks: 0, open: 0, accountsCompared: 2 });
    expect(await t.database.db.select().from(reconBreaks)).toEqual([]);
    await expectLedgerBalanced(t.database.db);
  });
});

describe('in the PSP but not in the CRM', () => {
  let t: FundingTestbed;
  beforeAll(async () => {
    t = await fundingTestbed();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("shows a stranger's payment and a deposit whose webhook was lost; the delivered webhook clears the second", async () => {
    // A payment taken on the same merchant account by something that is not Brokerdesk (a web shop).
    const stranger = await t.psp.provider.createPaymentSession({
      amountMinor: 4_990,
      currency: 'USD',
      merchantReference: 'shop-order-77',
      returnUrl: 'https://shop.example/return',
    });
    await t.psp.pay(stranger.pspPaymentId, TEST_CARDS.success);

    // A client pays while the PSP cannot reach us: the deposit stays awaiting payment.
    const c = await t.fundedClient();
    const webhookUrl = (await t.psp.control<{ url: string }>('GET', '/control/webhooks')).url;
    await t.psp.control('POST', '/control/webhooks/url', { url: null });
    const lost = await t.deposit(c.cookie, c.accountId, 25_000);
    expect((await t.movement(lost.movementId)).status).toBe('awaiting_payment');
    await t.psp.control('POST', '/control/webhooks/url', { url: webhookUrl });

    const day = reconDay(t);
    const run = await day.run(0);
    expect(run.summary).toMatchObject({ breaks: 2, open: 2, byClass: { psp_not_in_crm: 2 } });
    const report = await runReport(t.database.db, run.id);
    const byReason = Object.fromEntries(
      report.breaks.map((b) => [(b.details as { reason: string }).reason, b]),
    ) as Record<string, (typeof report.breaks)[number]>;
    expect(byReason.unknown_reference).toMatchObject({
      class: 'psp_not_in_crm',
      movementId: null,
      psp: t.psp.provider.name,
      otherAmountMinor: 4_990,
      differenceMinor: 4_990,
      details: { merchantReference: 'shop-order-77', pspPaymentId: stranger.pspPaymentId },
    });
    expect(byReason.not_approved_in_crm).toMatchObject({
      class: 'psp_not_in_crm',
      movementId: lost.movementId,
      otherAmountMinor: 25_000,
      details: { movementStatus: 'awaiting_payment', timing: false },
    });
    const [alert] = await t.database.db
      .select()
      .from(alerts)
      .where(eq(alerts.dedupeKey, `recon:${day.date}`));
    expect(alert).toMatchObject({ status: 'open', severity: 'warning' });

    // The lost webhook is delivered (the PSP resends it): the deposit is approved and posted.
    const events = await t.psp.control<{ id: string; type: string; objectId: string }[]>(
      'GET',
      '/control/webhooks/events',
    );
    const event = events.find((e) => e.objectId === lost.pspPaymentId && e.type === 'payment.succeeded')!;
    await t.psp.control('POST', `/control/webhooks/events/${event.id}/resend`);
    await t.until(lost.movementId, ['posted']);

    const next = await day.run(1);
    expect(next.summary).toMatchObject({ breaks: 1, open: 1, cleared: 1, byClass: { psp_not_in_crm: 1 } });
    const [stillOpen] = await t.database.db
      .select()
      .from(reconBreaks)
      .where(and(eq(reconBreaks.status, 'open')));
    expect(stillOpen?.key).toBe(byReason.unknown_reference!.key);
    const [clearedBreak] = await t.database.db
      .select()
      .from(reconBreaks)
      .where(eq(reconBreaks.key, byReason.not_approved_in_crm!.key));
    expect(clearedBreak).toMatchObject({ status: 'resolved', resolution: 'cleared', resolvedByRunId: next.id });
    await expectLedgerBalanced(t.database.db);
  });
});
