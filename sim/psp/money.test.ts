/** Refunds, chargebacks, payouts and the settlement report (JSON and CSV). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimClock } from '../common/clock.ts';
import {
  startTestPsp,
  startWebhookReceiver,
  type TestPsp,
  uniqueReference,
  type WebhookReceiver,
} from './test-support.ts';

let t: TestPsp;
let hooks: WebhookReceiver;
let at = Date.parse('2026-03-02T10:00:00Z');
const clock = new SimClock(() => at);
beforeAll(async () => {
  hooks = await startWebhookReceiver();
  t = await startTestPsp({ seed: 9, clock, webhookUrl: hooks.url, payoutDelayMs: 60_000 });
});
afterAll(async () => {
  await t.close();
  await hooks.close();
});

async function paid(amount = 10_000, currency = 'USD'): Promise<{ id: string; merchantReference: string }> {
  const session = await t.session({ amount, currency });
  expect((await t.pay(session.id)).status).toBe(303);
  return session;
}

async function hooksFor(objectId: string): Promise<{ type: string; data: Record<string, unknown> }[]> {
  await t.psp.webhooksIdle();
  return hooks.received.map((h) => h.json).filter((j) => j.data.id === objectId);
}

describe('refunds', () => {
  it('refunds partially, then the rest; each refund is a webhook and a settlement line', async () => {
    const p = await paid(10_000);
    const partial = await t.control('POST', `/control/payments/${p.id}/refund`, { amount: 2_500 });
    expect(partial.status).toBe(200);
    expect(partial.json).toMatchObject({ status: 'partially_refunded', refundedAmount: 2_500 });
    const tooMuch = await t.control('POST', `/control/payments/${p.id}/refund`, { amount: 7_501 });
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.json.error).toContain('7500');
    const rest = await t.control('POST', `/control/payments/${p.id}/refund`, {});
    expect(rest.json).toMatchObject({ status: 'refunded', refundedAmount: 10_000 });
    expect(rest.json.refunds.map((r: { amount: number }) => r.amount)).toEqual([2_500, 7_500]);
    expect((await t.control('POST', `/control/payments/${p.id}/refund`, { amount: 1 })).status).toBe(409);

    const events = await hooksFor(p.id);
    expect(events.map((e) => [e.type, e.data.status, e.data.refundedAmount])).toEqual([
      ['payment.succeeded', 'succeeded', 0],
      ['payment.refunded', 'partially_refunded', 2_500],
      ['payment.refunded', 'refunded', 10_000],
    ]);
    const lines = (await t.api('GET', '/v1/settlements')).json.data.filter(
      (s: { paymentId: string }) => s.paymentId === p.id,
    );
    expect(lines.map((l: { type: string; amount: number }) => [l.type, l.amount])).toEqual([
      ['payment', 10_000],
      ['refund', -2_500],
      ['refund', -7_500],
    ]);
    expect(lines[1].sourceId).toBe(rest.json.refunds[0].id);
  });

  it('refuses to refund a payment that did not succeed, and validates the amount', async () => {
    const session = await t.session();
    expect((await t.control('POST', `/control/payments/${session.id}/refund`, {})).status).toBe(409);
    const p = await paid();
    expect((await t.control('POST', `/control/payments/${p.id}/refund`, { amount: 0 })).status).toBe(400);
    expect((await t.control('POST', `/control/payments/${p.id}/refund`, { amount: 1.5 })).status).toBe(400);
    expect((await t.control('POST', '/control/payments/pay_nope/refund', {})).status).toBe(404);
  });
});

describe('chargebacks', () => {
  it('charges back what was not refunded', async () => {
    const p = await paid(8_000);
    await t.control('POST', `/control/payments/${p.id}/refund`, { amount: 3_000 });
    const cb = await t.control('POST', `/control/payments/${p.id}/chargeback`, { reason: 'product_not_received' });
    expect(cb.status).toBe(200);
    expect(cb.json).toMatchObject({
      status: 'charged_back',
      refundedAmount: 3_000,
      chargedBackAmount: 5_000,
      chargeback: { amount: 5_000, reason: 'product_not_received' },
    });
    expect((await t.control('POST', `/control/payments/${p.id}/chargeback`, {})).status).toBe(409);
    const events = await hooksFor(p.id);
    expect(events.at(-1)).toMatchObject({ type: 'payment.charged_back', data: { status: 'charged_back' } });
    const lines = (await t.api('GET', '/v1/settlements')).json.data.filter(
      (s: { paymentId: string }) => s.paymentId === p.id,
    );
    expect(lines.map((l: { type: string; amount: number }) => [l.type, l.amount])).toEqual([
      ['payment', 8_000],
      ['refund', -3_000],
      ['chargeback', -5_000],
    ]);
  });
});

describe('payouts', () => {
  it('completes after the delay on the simulator clock with a webhook; a destination ending 0002 fails', async () => {
    const ok = await t.api('POST', '/v1/payouts', {
      amount: 4_200,
      currency: 'USD',
      merchantReference: uniqueReference('BD-WDR'),
      destination: { type: 'card', last4: '4242' },
      description: 'Withdrawal from 5001234',
    });
    const bad = await t.api('POST', '/v1/payouts', {
      amount: 1_000,
      currency: 'EUR',
      merchantReference: uniqueReference('BD-WDR'),
      destination: { type: 'card', last4: '0002' },
    });
    expect([ok.json.status, bad.json.status]).toEqual(['pending', 'pending']);
    at += 59_999;
    clock.advance(0);
    expect((await t.api('GET', `/v1/payouts/${ok.json.id}`)).json.status).toBe('pending');
    at += 1;
    clock.advance(0);
    expect((await t.api('GET', `/v1/payouts/${ok.json.id}`)).json).toMatchObject({
      status: 'succeeded',
      failureReason: null,
    });
    expect((await t.api('GET', `/v1/payouts/${bad.json.id}`)).json).toMatchObject({
      status: 'failed',
      failureReason: 'destination_declined',
    });
    expect((await hooksFor(ok.json.id)).map((e) => e.type)).toEqual(['payout.succeeded']);
    expect((await hooksFor(bad.json.id)).map((e) => [e.type, e.data.failureReason])).toEqual([
      ['payout.failed', 'destination_declined'],
    ]);
    const lines = (await t.api('GET', '/v1/settlements')).json.data;
    expect(lines.filter((l: { payoutId: string }) => l.payoutId === ok.json.id)).toMatchObject([
      { type: 'payout', amount: -4_200, currency: 'USD', paymentId: null },
    ]);
    // A failed payout moved no money.
    expect(lines.filter((l: { payoutId: string }) => l.payoutId === bad.json.id)).toEqual([]);
    expect((await t.api('GET', '/v1/payouts/po_nope')).status).toBe(404);
  });

  it('resolves a pending payout at once through the control API', async () => {
    const reply = await t.api('POST', '/v1/payouts', {
      amount: 700,
      currency: 'USD',
      merchantReference: uniqueReference('BD-WDR'),
      destination: { type: 'bank_account', iban: 'DE89370400440532013000' },
    });
    const failed = await t.control('POST', `/control/payouts/${reply.json.id}/resolve`, {
      outcome: 'failure',
      reason: 'account_closed',
    });
    expect(failed.json).toMatchObject({ status: 'failed', failureReason: 'account_closed' });
    expect((await t.control('POST', `/control/payouts/${reply.json.id}/resolve`, {})).status).toBe(409);
  });
});

describe('settlements', () => {
  it('filters by [from, to), and answers CSV with a header row by ?format=csv or Accept: text/csv', async () => {
    at = Date.parse('2026-04-01T00:00:00Z');
    const a = await paid(1_111);
    at = Date.parse('2026-04-02T00:00:00Z');
    const b = await paid(2_222, 'EUR');
    await t.control('POST', `/control/payments/${b.id}/refund`, { amount: 222 });
    at = Date.parse('2026-04-03T00:00:00Z');
    await paid(3_333);

    const day = await t.api('GET', '/v1/settlements?from=2026-04-02T00:00:00Z&to=2026-04-03T00:00:00Z');
    expect(day.status).toBe(200);
    expect(day.json.data).toEqual([
      expect.objectContaining({
        type: 'payment',
        paymentId: b.id,
        merchantReference: b.merchantReference,
        amount: 2_222,
      }),
      expect.objectContaining({ type: 'refund', paymentId: b.id, amount: -222, currency: 'EUR', status: 'settled' }),
    ]);
    expect(day.json.data[0]).toEqual({
      id: expect.stringMatching(/^stl_/),
      type: 'payment',
      sourceId: b.id,
      paymentId: b.id,
      payoutId: null,
      merchantReference: b.merchantReference,
      amount: 2_222,
      currency: 'EUR',
      status: 'settled',
      occurredAt: '2026-04-02T00:00:00.000Z',
    });
    const fromOnly = await t.api('GET', '/v1/settlements?from=2026-04-01T00:00:00%2B00:00');
    expect(fromOnly.json.data.map((l: { amount: number }) => l.amount)).toEqual([1_111, 2_222, -222, 3_333]);
    expect(fromOnly.json.data[0].paymentId).toBe(a.id);

    const csv = await fetch(
      `${t.psp.url}/v1/settlements?from=2026-04-02T00:00:00Z&to=2026-04-03T00:00:00Z&format=csv`,
      {
        headers: { authorization: `Bearer ${t.psp.apiKey}` },
      },
    );
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const rows = (await csv.text()).trimEnd().split('\r\n');
    expect(rows[0]).toBe('id,type,sourceId,paymentId,payoutId,merchantReference,amount,currency,status,occurredAt');
    expect(rows).toHaveLength(3);
    expect(rows[2]).toMatch(
      new RegExp(
        `^stl_[0-9a-f]+,refund,re_[0-9a-f]+,${b.id},,${b.merchantReference},-222,EUR,settled,2026-04-02T00:00:00.000Z$`,
      ),
    );

    const accept = await fetch(`${t.psp.url}/v1/settlements?from=2026-04-02T00:00:00Z&to=2026-04-03T00:00:00Z`, {
      headers: { authorization: `Bearer ${t.psp.apiKey}`, accept: 'text/csv' },
    });
    expect(accept.headers.get('content-type')).toMatch(/^text\/csv/);
    expect((await accept.text()).split('\r\n')[0]).toBe(rows[0]);
  });

  it('refuses bad queries', async () => {
    for (const q of [
      'from=yesterday',
      'to=2026-13-01T00:00:00Z',
      'format=xml',
      'limit=5',
      'from=2026-04-03T00:00:00Z&to=2026-04-01T00:00:00Z',
    ]) {
      const reply = await t.api('GET', `/v1/settlements?${q}`);
      expect(reply.status, q).toBe(400);
      expect(reply.json.code).toBe('invalid_request');
    }
  });
});
