/** The sandbox adapter against a real, started PSP sandbox: calls, error classes, and webhook verification. */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PspTestbed,
  pspSignature,
  startPsp,
  startWebhookReceiver,
  TEST_CARDS,
  uniqueReference,
  type WebhookReceiver,
} from '../../test/support/psp.ts';
import { PspRejected, PspUnavailable, WebhookRejected } from './errors.ts';
import { SandboxPaymentProvider } from './sandbox.ts';
import type { PspEvent } from './types.ts';

let bed: PspTestbed;
let hooks: WebhookReceiver;
beforeAll(async () => {
  hooks = await startWebhookReceiver();
  bed = await startPsp({ seed: 77, webhookUrl: hooks.url });
});
afterAll(async () => {
  await bed?.close();
  await hooks?.close();
});

const now = () => bed.clock.now();
const sandboxNow = (): Date => new Date(now());

function sessionInput(overrides: Record<string, unknown> = {}) {
  return {
    amountMinor: 12_345,
    currency: 'USD',
    merchantReference: uniqueReference(),
    returnUrl: 'https://crm.example.test/portal/deposits/return',
    description: 'Deposit to 5001234',
    ...overrides,
  };
}

async function rejection<T extends Error>(promise: Promise<unknown> | (() => unknown), type: new (...a: never[]) => T) {
  try {
    if (typeof promise === 'function') promise();
    else await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return error as T;
  }
  throw new Error(`expected a ${type.name}`);
}

/** The latest webhook the receiver got for an object, after the sandbox sent everything due. */
async function lastHookFor(objectId: string) {
  await bed.psp.webhooksIdle();
  const hook = hooks.received.filter((h) => h.json?.data?.id === objectId).at(-1);
  expect(hook, `a webhook for ${objectId}`).toBeDefined();
  return hook!;
}

describe('payments', () => {
  it('creates a session, is idempotent by merchantReference, and reads the payment back normalised', async () => {
    const input = sessionInput();
    const session = await bed.provider.createPaymentSession(input);
    expect(session).toEqual({
      pspPaymentId: expect.stringMatching(/^pay_/),
      status: 'created',
      hostedPageUrl: `${bed.psp.url}/pay/${session.pspPaymentId}`,
      amountMinor: 12_345,
      currency: 'USD',
      merchantReference: input.merchantReference,
      createdAt: new Date('2026-03-02T10:00:00Z'),
    });
    // A retry after PspUnavailable sends the same input: the PSP answers the same session.
    expect((await bed.provider.createPaymentSession(input)).pspPaymentId).toBe(session.pspPaymentId);
    const conflict = await rejection(bed.provider.createPaymentSession({ ...input, amountMinor: 99 }), PspRejected);
    expect(conflict).toMatchObject({ httpStatus: 409, pspCode: 'idempotency_conflict', code: 'PSP_REJECTED' });

    expect((await bed.pay(session.pspPaymentId, TEST_CARDS.success)).returnStatus).toBe('succeeded');
    const payment = await bed.provider.getPayment(session.pspPaymentId);
    expect(payment).toEqual({
      pspPaymentId: session.pspPaymentId,
      merchantReference: input.merchantReference,
      status: 'succeeded',
      amountMinor: 12_345,
      refundedMinor: 0,
      chargedBackMinor: 0,
      currency: 'USD',
      failureReason: undefined,
      cardLast4: '4242',
      createdAt: new Date('2026-03-02T10:00:00Z'),
      updatedAt: new Date('2026-03-02T10:00:00Z'),
    });
  });

  it('reports a decline and refunds as the PSP has them', async () => {
    const declined = await bed.provider.createPaymentSession(sessionInput());
    await bed.pay(declined.pspPaymentId, TEST_CARDS.declined);
    expect(await bed.provider.getPayment(declined.pspPaymentId)).toMatchObject({
      status: 'failed',
      failureReason: 'card_declined',
    });
    const refunded = await bed.provider.createPaymentSession(sessionInput({ amountMinor: 1_000 }));
    await bed.pay(refunded.pspPaymentId);
    await bed.control('POST', `/control/payments/${refunded.pspPaymentId}/refund`, { amount: 400 });
    expect(await bed.provider.getPayment(refunded.pspPaymentId)).toMatchObject({
      status: 'partially_refunded',
      amountMinor: 1_000,
      refundedMinor: 400,
    });
  });

  it('turns 4xx answers into PspRejected with the PSP’s code and message', async () => {
    const bad = await rejection(bed.provider.createPaymentSession(sessionInput({ currency: 'usd' })), PspRejected);
    expect(bad.httpStatus).toBe(400);
    expect(bad.pspCode).toBe('invalid_request');
    expect(bad.pspMessage).toMatch(/currency/);
    const missing = await rejection(bed.provider.getPayment('pay_000000000000000000000000'), PspRejected);
    expect(missing).toMatchObject({ httpStatus: 404, pspCode: 'not_found' });
    const wrongKey = new SandboxPaymentProvider({ baseUrl: bed.psp.url, apiKey: 'wrong', webhookSecret: 'x' });
    expect(await rejection(wrongKey.getPayment('pay_x'), PspRejected)).toMatchObject({
      httpStatus: 401,
      pspCode: 'unauthorized',
    });
  });
});

describe('PspUnavailable', () => {
  it('on a 5xx or 429: retryable, and a retry of a create is safe', async () => {
    await bed.control('POST', '/control/faults', {
      endpoint: '/v1/payment-sessions',
      kind: 'error',
      code: 502,
      count: 1,
    });
    const input = sessionInput();
    const err = await rejection(bed.provider.createPaymentSession(input), PspUnavailable);
    expect(err).toMatchObject({ httpStatus: 502, retryable: true, mayHaveApplied: true, code: 'PSP_UNAVAILABLE' });
    expect((await bed.provider.createPaymentSession(input)).status).toBe('created');

    await bed.control('POST', '/control/faults', { endpoint: '/v1/payments/*', kind: 'rate_limit', perSecond: 1 });
    const session = await bed.provider.createPaymentSession(sessionInput());
    const results = await Promise.allSettled([1, 2, 3].map(() => bed.provider.getPayment(session.pspPaymentId)));
    const limited = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    expect(limited?.reason).toBeInstanceOf(PspUnavailable);
    expect(limited?.reason).toMatchObject({ httpStatus: 429, mayHaveApplied: false });
    await bed.control('DELETE', '/control/faults');
  });

  it('on a lost reply: the create was applied, and the retry answers it', async () => {
    await bed.control('POST', '/control/faults', { endpoint: '/v1/payouts', kind: 'drop_reply', count: 1 });
    const input = {
      amountMinor: 2_000,
      currency: 'USD',
      merchantReference: uniqueReference('BD-WDR'),
      destination: { type: 'card' as const, last4: '4242' },
    };
    const err = await rejection(bed.provider.createPayout(input), PspUnavailable);
    expect(err).toMatchObject({ httpStatus: null, mayHaveApplied: true });
    const payout = await bed.provider.createPayout(input);
    expect(payout.status).toBe('pending');
    expect((await bed.control<{ id: string }>('GET', `/control/payouts/${payout.pspPayoutId}`)).id).toBe(
      payout.pspPayoutId,
    );
  });

  it('on a timeout, and on a refused connection (which certainly sent nothing)', async () => {
    await bed.control('POST', '/control/faults', {
      endpoint: '/v1/payment-sessions',
      kind: 'latency',
      latencyMs: 1_000,
      count: 1,
    });
    const impatient = new SandboxPaymentProvider({
      baseUrl: bed.psp.url,
      apiKey: bed.psp.apiKey,
      webhookSecret: bed.psp.webhookSecret,
      timeoutMs: 100,
    });
    const timeout = await rejection(impatient.createPaymentSession(sessionInput()), PspUnavailable);
    expect(timeout.message).toMatch(/did not answer within 100 ms/);
    expect(timeout.mayHaveApplied).toBe(true);

    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const nowhere = new SandboxPaymentProvider({
      baseUrl: `http://127.0.0.1:${port}`,
      apiKey: 'k',
      webhookSecret: 's',
    });
    const refused = await rejection(nowhere.createPaymentSession(sessionInput()), PspUnavailable);
    expect(refused).toMatchObject({ httpStatus: null, mayHaveApplied: false });
    expect(refused.message).toMatch(/unreachable \(ECONNREFUSED\)/);
  });
});

describe('payouts and settlements', () => {
  it('creates a payout, reads its outcome, and lists what settled in [from, to) with signed amounts', async () => {
    const ok = await bed.provider.createPayout({
      amountMinor: 3_000,
      currency: 'EUR',
      merchantReference: uniqueReference('BD-WDR'),
      destination: { type: 'bank_account', iban: 'CY17002001280000001200527600' },
      description: 'Withdrawal',
    });
    const failing = await bed.provider.createPayout({
      amountMinor: 500,
      currency: 'EUR',
      merchantReference: uniqueReference('BD-WDR'),
      destination: { type: 'card', last4: '0002' },
    });
    expect(ok).toMatchObject({ status: 'pending', amountMinor: 3_000, currency: 'EUR' });
    await bed.control('POST', `/control/payouts/${ok.pspPayoutId}/resolve`, {});
    await bed.control('POST', `/control/payouts/${failing.pspPayoutId}/resolve`, {});
    expect(await bed.provider.getPayout(ok.pspPayoutId)).toMatchObject({
      status: 'succeeded',
      failureReason: undefined,
    });
    expect(await bed.provider.getPayout(failing.pspPayoutId)).toMatchObject({
      status: 'failed',
      failureReason: 'destination_declined',
    });

    // Whatever is still pending from earlier tests completes now; the window begins a second later.
    bed.clock.advance(60_000);
    bed.clock.advance(1_000);
    const from = new Date(now());
    const deposit = await bed.provider.createPaymentSession(sessionInput({ amountMinor: 4_000 }));
    await bed.pay(deposit.pspPaymentId);
    bed.clock.advance(60_000);
    const to = new Date(now());
    const later = await bed.provider.createPaymentSession(sessionInput({ amountMinor: 1 }));
    await bed.pay(later.pspPaymentId);

    const lines = await bed.provider.listSettlements(from, to);
    expect(lines).toEqual([
      {
        pspTransactionId: expect.stringMatching(/^stl_/),
        type: 'payment',
        sourceId: deposit.pspPaymentId,
        pspPaymentId: deposit.pspPaymentId,
        pspPayoutId: undefined,
        merchantReference: deposit.merchantReference,
        amountMinor: 4_000,
        currency: 'USD',
        status: 'settled',
        occurredAt: from,
      },
    ]);
    const all = await bed.provider.listSettlements(new Date(0), new Date(now() + 1));
    const payoutLine = all.find((l) => l.pspPayoutId === ok.pspPayoutId);
    expect(payoutLine).toMatchObject({ type: 'payout', amountMinor: -3_000, currency: 'EUR' });
    expect(all.some((l) => l.pspPayoutId === failing.pspPayoutId)).toBe(false);
  });
});

describe('parseWebhook', () => {
  it('verifies and normalises the sandbox’s own webhooks (payments and payouts)', async () => {
    const session = await bed.provider.createPaymentSession(sessionInput({ amountMinor: 777 }));
    await bed.pay(session.pspPaymentId, TEST_CARDS.pendingThenSuccess);
    const pendingHook = await lastHookFor(session.pspPaymentId);
    const pending = bed.provider.parseWebhook(pendingHook.headers, Buffer.from(pendingHook.body), sandboxNow());
    expect(pending).toEqual<PspEvent>({
      provider: 'sandbox',
      eventId: pendingHook.json.id,
      type: 'payment.pending',
      occurredAt: sandboxNow(),
      payment: {
        pspPaymentId: session.pspPaymentId,
        merchantReference: session.merchantReference,
        status: 'pending',
        amountMinor: 777,
        refundedMinor: 0,
        chargedBackMinor: 0,
        currency: 'USD',
        failureReason: undefined,
        cardLast4: '3220',
        createdAt: session.createdAt,
        updatedAt: sandboxNow(),
      },
    });
    await bed.control('POST', `/control/payments/${session.pspPaymentId}/resolve`, {});
    const done = await lastHookFor(session.pspPaymentId);
    // A fetch Headers object and a string body work too.
    const headers = new Headers({ 'Psp-Signature': done.headers['psp-signature'] as string });
    const succeeded = bed.provider.parseWebhook(headers, done.body, sandboxNow());
    expect(succeeded.type).toBe('payment.succeeded');
    expect(succeeded.payment?.status).toBe('succeeded');
    expect(succeeded.eventId).not.toBe(pending.eventId);

    const payout = await bed.provider.createPayout({
      amountMinor: 900,
      currency: 'USD',
      merchantReference: uniqueReference('BD-WDR'),
      destination: { type: 'card', last4: '0002' },
    });
    await bed.control('POST', `/control/payouts/${payout.pspPayoutId}/resolve`, {});
    const payoutHook = await lastHookFor(payout.pspPayoutId);
    const event = bed.provider.parseWebhook(payoutHook.headers, payoutHook.body, sandboxNow());
    expect(event).toMatchObject({
      type: 'payout.failed',
      payout: {
        pspPayoutId: payout.pspPayoutId,
        status: 'failed',
        failureReason: 'destination_declined',
        amountMinor: 900,
      },
    });
    expect(event.payment).toBeUndefined();
  });

  describe('rejections', () => {
    const secret = () => bed.psp.webhookSecret;
    const body = () =>
      JSON.stringify({
        id: 'evt_forged',
        type: 'payment.succeeded',
        createdAt: '2026-03-02T10:00:00.000Z',
        data: {
          object: 'payment',
          id: 'pay_forged',
          status: 'succeeded',
          amount: 1_000_000,
          refundedAmount: 0,
          chargedBackAmount: 0,
          currency: 'USD',
          merchantReference: 'BD-DEP-FORGED',
          card: { last4: '4242' },
          failureReason: null,
          createdAt: '2026-03-02T10:00:00.000Z',
          updatedAt: '2026-03-02T10:00:00.000Z',
        },
      });
    const at = () => sandboxNow();
    const reason = (headers: Record<string, string>, raw: string | Buffer, when = at()) => {
      try {
        bed.provider.parseWebhook(headers, raw, when);
      } catch (error) {
        expect(error).toBeInstanceOf(WebhookRejected);
        expect((error as WebhookRejected).code).toBe('PSP_WEBHOOK_REJECTED');
        return (error as WebhookRejected).reason;
      }
      return 'accepted';
    };

    it('accepts a correctly signed body (the forging helper matches the sandbox)', () => {
      expect(reason({ 'psp-signature': pspSignature(secret(), body(), at()) }, body())).toBe('accepted');
    });

    it('bad_signature: another secret, a changed body, a missing or garbled header', () => {
      expect(reason({ 'psp-signature': pspSignature('whsec_attacker', body(), at()) }, body())).toBe('bad_signature');
      const signed = pspSignature(secret(), body(), at());
      expect(reason({ 'psp-signature': signed }, body().replace('1000000', '9000000'))).toBe('bad_signature');
      expect(reason({ 'psp-signature': signed }, `${body()} `)).toBe('bad_signature');
      expect(reason({}, body())).toBe('bad_signature');
      for (const garbled of ['', 'v1=abc', `t=${Math.floor(now() / 1000)}`, 'sha256=deadbeef', `${signed},t=1`]) {
        expect(reason({ 'psp-signature': garbled }, body()), garbled).toBe('bad_signature');
      }
      // The timestamp is signed too: moving it breaks the signature.
      const [, mac] = signed.split(',v1=');
      expect(reason({ 'psp-signature': `t=${Math.floor(now() / 1000) + 1},v1=${mac}` }, body())).toBe('bad_signature');
    });

    it('accepts one matching v1 among several (secret rotation)', () => {
      const good = pspSignature(secret(), body(), at());
      const bad = pspSignature('whsec_old', body(), at()).split(',')[1];
      expect(reason({ 'psp-signature': `${good.split(',')[0]},${bad},${good.split(',')[1]}` }, body())).toBe(
        'accepted',
      );
    });

    it('stale_timestamp: more than the tolerance in the past or the future, at the boundary accepted', () => {
      const signedAt = at();
      const header = { 'psp-signature': pspSignature(secret(), body(), signedAt) };
      const plus = (s: number) => new Date(signedAt.getTime() + s * 1000);
      expect(reason(header, body(), plus(300))).toBe('accepted');
      expect(reason(header, body(), plus(-300))).toBe('accepted');
      expect(reason(header, body(), plus(301))).toBe('stale_timestamp');
      expect(reason(header, body(), plus(-301))).toBe('stale_timestamp');
      const strict = new SandboxPaymentProvider({
        baseUrl: bed.psp.url,
        apiKey: bed.psp.apiKey,
        webhookSecret: secret(),
        toleranceSeconds: 10,
      });
      expect(() => strict.parseWebhook(header, body(), plus(11))).toThrow(WebhookRejected);
      expect(strict.parseWebhook(header, body(), plus(10)).eventId).toBe('evt_forged');
    });

    it('a replayed genuine webhook an hour later is stale, not accepted', async () => {
      const session = await bed.provider.createPaymentSession(sessionInput());
      await bed.pay(session.pspPaymentId);
      const hook = await lastHookFor(session.pspPaymentId);
      expect(reason(hook.headers as Record<string, string>, hook.body, new Date(now() + 3_600_000))).toBe(
        'stale_timestamp',
      );
    });

    it('malformed: a signed body that is not JSON or not a known event', () => {
      const signedReason = (raw: string) => reason({ 'psp-signature': pspSignature(secret(), raw, at()) }, raw);
      expect(signedReason('not json')).toBe('malformed');
      expect(signedReason('[]')).toBe('malformed');
      const event = JSON.parse(body());
      expect(signedReason(JSON.stringify({ ...event, type: 'payment.teleported' }))).toBe('malformed');
      expect(signedReason(JSON.stringify({ ...event, data: { ...event.data, amount: 10.5 } }))).toBe('malformed');
      expect(signedReason(JSON.stringify({ ...event, data: { ...event.data, amount: '1000' } }))).toBe('malformed');
      expect(signedReason(JSON.stringify({ ...event, data: { ...event.data, status: 'paid' } }))).toBe('malformed');
      expect(signedReason(JSON.stringify({ ...event, id: undefined }))).toBe('malformed');
      expect(signedReason(JSON.stringify({ ...event, type: 'payout.succeeded' }))).toBe('malformed');
      // Fields the PSP adds later are ignored.
      expect(signedReason(JSON.stringify({ ...event, livemode: false, data: { ...event.data, fee: 30 } }))).toBe(
        'accepted',
      );
    });
  });
});
