/** Restarting with the same state folder keeps payments, payouts, secrets, pending work and webhook retries. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimClock } from '../common/clock.ts';
import { startTestPsp, startWebhookReceiver, uniqueReference } from './test-support.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'psp-state-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('restart with the same state folder', () => {
  it('keeps payments, payouts, settlements, secrets and ids, and resumes pending work and webhook retries', async () => {
    const dir = stateDir();
    let at = Date.parse('2026-03-02T10:00:00Z');
    const hooks = await startWebhookReceiver(() => 500);
    cleanups.push(() => hooks.close());

    const first = await startTestPsp({ stateDir: dir, seed: 4, clock: new SimClock(() => at), webhookUrl: hooks.url });
    const paid = await first.session({ amount: 5_000 });
    await first.pay(paid.id);
    const pending = await first.session({ amount: 7_000 });
    await first.pay(pending.id, { cardNumber: '4000000000003220' });
    const payoutBody = {
      amount: 1_500,
      currency: 'USD',
      merchantReference: uniqueReference('BD-WDR'),
      destination: { type: 'card', last4: '1111' },
    };
    const payout = (await first.api('POST', '/v1/payouts', payoutBody)).json;
    await first.control('POST', '/control/webhooks/mode', { mode: 'duplicate' });
    await first.psp.webhooksIdle();
    const before = {
      payment: (await first.api('GET', `/v1/payments/${paid.id}`)).json,
      settlements: (await first.api('GET', '/v1/settlements')).json,
      apiKey: first.psp.apiKey,
      webhookSecret: first.psp.webhookSecret,
      deliveries: (await first.control('GET', '/control/webhooks/deliveries')).json,
    };
    expect(before.deliveries.map((d: { state: string; attempts: number }) => [d.state, d.attempts])).toEqual([
      ['scheduled', 1],
      ['scheduled', 1],
    ]);
    await first.close();

    hooks.respond(() => 200);
    // 20 s later: the pending payment (10 s delay) and the payout (10 s) fell due while the sandbox was down.
    at += 20_000;
    const second = await startTestPsp({ stateDir: dir, seed: 4, clock: new SimClock(() => at) });
    cleanups.push(() => second.close());
    expect(second.psp.apiKey).toBe(before.apiKey);
    expect(second.psp.webhookSecret).toBe(before.webhookSecret);
    expect(second.psp.webhookUrl).toBe(hooks.url);
    expect((await second.api('GET', `/v1/payments/${paid.id}`)).json).toEqual(before.payment);
    expect((await second.api('GET', `/v1/payments/${pending.id}`)).json.status).toBe('succeeded');
    expect((await second.api('GET', `/v1/payouts/${payout.id}`)).json.status).toBe('succeeded');
    const settlements = (await second.api('GET', '/v1/settlements')).json.data;
    expect(settlements.slice(0, before.settlements.data.length)).toEqual(before.settlements.data);
    expect(settlements.map((s: { type: string; amount: number }) => [s.type, s.amount])).toEqual([
      ['payment', 5_000],
      ['payment', 7_000],
      ['payout', -1_500],
    ]);
    // Idempotency survives: the same payout request answers the same payout.
    const replay = await second.api('POST', '/v1/payouts', payoutBody);
    expect(replay.status).toBe(200);
    expect(replay.json.id).toBe(payout.id);
    // The webhook mode survives; the retries left over and the new events are delivered.
    expect((await second.control('GET', '/control/webhooks')).json.mode.mode).toBe('duplicate');
    await second.psp.webhooksIdle();
    const deliveries = (await second.control('GET', '/control/webhooks/deliveries')).json;
    expect(deliveries.every((d: { state: string }) => d.state === 'delivered')).toBe(true);
    expect(deliveries.map((d: { eventType: string }) => d.eventType)).toEqual([
      'payment.succeeded',
      'payment.pending',
      'payment.succeeded',
      'payment.succeeded',
      'payout.succeeded',
      'payout.succeeded',
    ]);
    expect(deliveries[0].attemptLog.map((a: { httpStatus: number }) => a.httpStatus)).toEqual([500, 200]);
    // New ids continue the sequence; nothing is reused.
    const next = await second.session();
    expect([paid.id, pending.id]).not.toContain(next.id);
  });

  it('without a state folder, the same seed gives the same ids; another seed other ids', async () => {
    const a = await startTestPsp({ seed: 42 });
    cleanups.push(() => a.close());
    const b = await startTestPsp({ seed: 42 });
    cleanups.push(() => b.close());
    const c = await startTestPsp({ seed: 43 });
    cleanups.push(() => c.close());
    const [ia, ib, ic] = [(await a.session()).id, (await b.session()).id, (await c.session()).id];
    expect(ia).toBe(ib);
    expect(ic).not.toBe(ia);
    expect(a.psp.apiKey).not.toBe(b.psp.apiKey);
  });
});
