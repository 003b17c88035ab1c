/** Signed webhooks: the signature, retries with capped backoff on the simulator clock, and the delivery modes. */
import { createHmac } from 'node:crypto';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SimClock } from '../common/clock.ts';
import type { PspSandboxOptions } from './server.ts';
import {
  type Responder,
  startTestPsp,
  startWebhookReceiver,
  type TestPsp,
  type WebhookReceiver,
} from './test-support.ts';
import { signWebhook } from './webhooks.ts';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function setup(
  options: PspSandboxOptions = {},
  responder?: Responder,
): Promise<{ t: TestPsp; hooks: WebhookReceiver; clock: SimClock }> {
  const hooks = await startWebhookReceiver(responder);
  open.push(hooks);
  // A frozen clock that only moves when a test advances it.
  const start = Date.parse('2026-03-02T10:00:00Z');
  const clock = new SimClock(() => start);
  const t = await startTestPsp({ webhookUrl: hooks.url, clock, ...options });
  open.push(t);
  return { t, hooks, clock };
}

async function paidSession(t: TestPsp, cardNumber = '4242424242424242'): Promise<string> {
  const session = await t.session();
  const paid = await t.pay(session.id, { cardNumber });
  expect(paid.status).toBe(303);
  return session.id;
}

function verify(secret: string, header: string, body: string): { t: number; ok: boolean } {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  expect(match, header).not.toBeNull();
  const expected = createHmac('sha256', secret).update(`${match![1]}.${body}`).digest('hex');
  return { t: Number(match![1]), ok: expected === match![2] };
}

describe('signature', () => {
  it('signs "<t>.<raw body>" with HMAC-SHA256 of the webhook secret, t on the simulator clock', async () => {
    const { t, hooks, clock } = await setup({ webhookSecret: 'whsec_test_secret' });
    const id = await paidSession(t);
    const [hook] = await hooks.waitFor(1);
    const header = hook!.headers['psp-signature'] as string;
    const { t: timestamp, ok } = verify('whsec_test_secret', header, hook!.body);
    expect(ok).toBe(true);
    expect(timestamp).toBe(Math.floor(clock.now() / 1000));
    expect(header).toBe(signWebhook('whsec_test_secret', timestamp, hook!.body));
    expect(verify('another secret', header, hook!.body).ok).toBe(false);
    expect(verify('whsec_test_secret', header, hook!.body.replace('10000', '10001')).ok).toBe(false);

    expect(hook!.headers['content-type']).toBe('application/json');
    expect(hook!.json).toMatchObject({
      type: 'payment.succeeded',
      data: { object: 'payment', id, status: 'succeeded', amount: 10_000, currency: 'USD', card: { last4: '4242' } },
    });
    expect(hook!.json.id).toMatch(/^evt_/);
    expect(hook!.headers['psp-event-id']).toBe(hook!.json.id);
    expect(hook!.json.createdAt).toBe('2026-03-02T10:00:00.000Z');
    expect(timestamp).toBe(Date.parse('2026-03-02T10:00:00Z') / 1000);
  });
});

describe('retries', () => {
  it('retries a 500 with exponential backoff on the simulator clock, then delivers', async () => {
    const { t, hooks, clock } = await setup({}, (_hook, index) => (index < 2 ? 500 : 200));
    await paidSession(t);
    await hooks.waitFor(1);
    await t.psp.webhooksIdle();
    let [delivery] = (await t.control('GET', '/control/webhooks/deliveries')).json;
    expect(delivery).toMatchObject({ state: 'scheduled', attempts: 1, lastError: 'HTTP 500' });
    expect(delivery.nextAttemptAt - clock.now()).toBe(1000);

    clock.advance(999);
    await t.psp.webhooksIdle();
    expect(hooks.received).toHaveLength(1);
    clock.advance(1);
    await hooks.waitFor(2);
    await t.psp.webhooksIdle();
    [delivery] = (await t.control('GET', '/control/webhooks/deliveries')).json;
    expect(delivery.attempts).toBe(2);
    expect(delivery.nextAttemptAt - clock.now()).toBe(2000);

    clock.advance(2000);
    await hooks.waitFor(3);
    await t.psp.webhooksIdle();
    [delivery] = (await t.control('GET', '/control/webhooks/deliveries')).json;
    expect(delivery).toMatchObject({ state: 'delivered', attempts: 3, nextAttemptAt: null });
    expect(delivery.attemptLog.map((a: { outcome: string; httpStatus: number }) => [a.outcome, a.httpStatus])).toEqual([
      ['http_error', 500],
      ['http_error', 500],
      ['delivered', 200],
    ]);
    // Every attempt carries the same event and the same bytes.
    expect(new Set(hooks.received.map((h) => h.body)).size).toBe(1);
    expect(hooks.received.map((h) => h.headers['psp-delivery-attempt'])).toEqual(['1', '2', '3']);
    const attempts = (await t.control('GET', '/control/webhooks/attempts')).json;
    expect(attempts).toHaveLength(3);
    expect(attempts[0]).toMatchObject({ attempt: 1, url: hooks.url, outcome: 'http_error', responseBody: 'no' });
  });

  it('caps the backoff and gives up after the last attempt', async () => {
    const { t, hooks, clock } = await setup({ webhookRetry: { baseMs: 1000, maxMs: 3000, maxAttempts: 5 } }, () => 503);
    await paidSession(t);
    const waits: number[] = [];
    for (let n = 1; n <= 5; n++) {
      await hooks.waitFor(n);
      await t.psp.webhooksIdle();
      const [d] = (await t.control('GET', '/control/webhooks/deliveries')).json;
      if (n < 5) {
        waits.push(d.nextAttemptAt - clock.now());
        clock.advance(d.nextAttemptAt - clock.now());
      } else {
        expect(d).toMatchObject({ state: 'gave_up', attempts: 5, lastError: 'HTTP 503' });
      }
    }
    expect(waits).toEqual([1000, 2000, 3000, 3000]);
    clock.advance(3_600_000);
    await t.psp.webhooksIdle();
    expect(hooks.received).toHaveLength(5);
  });

  it('records a network error and retries it', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const { t, hooks, clock } = await setup();
    t.psp.setWebhookUrl(`http://127.0.0.1:${closedPort}/hooks`);
    await paidSession(t);
    await t.psp.webhooksIdle();
    const [d] = (await t.control('GET', '/control/webhooks/deliveries')).json;
    expect(d).toMatchObject({ state: 'scheduled', attempts: 1 });
    expect(d.attemptLog[0]).toMatchObject({ outcome: 'network_error', httpStatus: null });
    expect(d.attemptLog[0].error).toMatch(/ECONNREFUSED|fetch failed/);
    // The merchant fixes its endpoint; the retry reaches it.
    const url = await t.control('POST', '/control/webhooks/url', { url: hooks.url });
    expect(url.json.url).toBe(hooks.url);
    clock.advance(1000);
    await hooks.waitFor(1);
  });

  it('records events without sending them while no URL is set', async () => {
    const { t, hooks } = await setup();
    t.psp.setWebhookUrl(null);
    await paidSession(t);
    await t.psp.webhooksIdle();
    expect(hooks.received).toHaveLength(0);
    const [d] = (await t.control('GET', '/control/webhooks/deliveries')).json;
    expect(d.state).toBe('no_url');
  });
});

describe('delivery modes', () => {
  it('duplicate: every event arrives twice, same id and same body', async () => {
    const { t, hooks } = await setup({ webhookMode: { mode: 'duplicate' } });
    await paidSession(t);
    const [a, b] = await hooks.waitFor(2);
    expect(a!.json.id).toBe(b!.json.id);
    expect(a!.body).toBe(b!.body);
    await t.psp.webhooksIdle();
    expect(hooks.received).toHaveLength(2);
  });

  it('late: held for lateMs on the simulator clock, overtaken by events sent meanwhile', async () => {
    const { t, hooks, clock } = await setup();
    expect((await t.control('POST', '/control/webhooks/mode', { mode: 'late', lateMs: 10_000 })).json).toMatchObject({
      mode: 'late',
      lateMs: 10_000,
    });
    const first = await paidSession(t);
    await t.psp.webhooksIdle();
    expect(hooks.received).toHaveLength(0);
    await t.control('POST', '/control/webhooks/mode', { mode: 'normal' });
    const second = await paidSession(t);
    await hooks.waitFor(1);
    clock.advance(9_999);
    await t.psp.webhooksIdle();
    expect(hooks.received).toHaveLength(1);
    clock.advance(1);
    await hooks.waitFor(2);
    expect(hooks.received.map((h) => h.json.data.id)).toEqual([second, first]);
  });

  it('out_of_order: a batch is released newest first (succeeded before pending)', async () => {
    const { t, hooks } = await setup({ webhookMode: { mode: 'out_of_order', batchSize: 2 } });
    const id = await paidSession(t, '4000000000003220');
    await t.psp.webhooksIdle();
    expect(hooks.received).toHaveLength(0);
    await t.control('POST', `/control/payments/${id}/resolve`, { outcome: 'success' });
    await hooks.waitFor(2);
    expect(hooks.received.map((h) => h.json.type)).toEqual(['payment.succeeded', 'payment.pending']);
  });

  it('flush releases late deliveries (in order) and a partial batch (newest first) at once', async () => {
    const { t, hooks } = await setup({ webhookMode: { mode: 'late', lateMs: 3_600_000 } });
    const a = await paidSession(t);
    await t.control('POST', '/control/webhooks/mode', { mode: 'out_of_order', batchSize: 10 });
    const b = await paidSession(t);
    const c = await paidSession(t);
    await t.psp.webhooksIdle();
    expect(hooks.received).toHaveLength(0);
    expect((await t.control('POST', '/control/webhooks/flush')).json).toEqual({ released: 3 });
    await hooks.waitFor(3);
    expect(hooks.received.map((h) => h.json.data.id)).toEqual([a, c, b]);
  });

  it('leaving out_of_order releases the half-filled batch', async () => {
    const { t, hooks } = await setup({ webhookMode: { mode: 'out_of_order', batchSize: 5 } });
    await paidSession(t);
    await t.psp.webhooksIdle();
    expect(hooks.received).toHaveLength(0);
    await t.control('POST', '/control/webhooks/mode', { mode: 'normal' });
    await hooks.waitFor(1);
  });

  it('refuses an unknown mode', async () => {
    const { t } = await setup();
    const reply = await t.control('POST', '/control/webhooks/mode', { mode: 'chaos' });
    expect(reply.status).toBe(400);
  });
});

describe('resend and inspection', () => {
  it('resends an event with the same id and body, and lists events and attempts', async () => {
    const { t, hooks } = await setup();
    await paidSession(t);
    const [original] = await hooks.waitFor(1);
    const events = (await t.control('GET', '/control/webhooks/events')).json;
    expect(events).toHaveLength(1);
    expect(events[0].body).toEqual(original!.json);
    const resend = await t.control('POST', `/control/webhooks/events/${events[0].id}/resend`);
    expect(resend.status).toBe(201);
    expect(resend.json).toMatchObject({ eventId: events[0].id, copy: 2 });
    const [, again] = await hooks.waitFor(2);
    expect(again!.body).toBe(original!.body);
    await t.psp.webhooksIdle();
    const deliveries = (await t.control('GET', `/control/webhooks/deliveries?eventId=${events[0].id}`)).json;
    expect(deliveries.map((d: { state: string }) => d.state)).toEqual(['delivered', 'delivered']);
    expect((await t.control('POST', '/control/webhooks/events/evt_nope/resend')).status).toBe(404);
    expect((await t.control('GET', '/control/webhooks/deliveries?foo=1')).status).toBe(400);
  });
});
