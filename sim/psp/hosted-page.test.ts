/** Each test card through the real hosted page (GET the form, POST it form-encoded, follow the 303). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimClock } from '../common/clock.ts';
import { startTestPsp, type TestPsp } from './test-support.ts';

let t: TestPsp;
// A frozen clock that only moves when a test advances it.
const clock = new SimClock(() => Date.parse('2026-03-02T10:00:00Z'));
beforeAll(async () => {
  t = await startTestPsp({ seed: 5, clock, pendingDelayMs: 30_000, merchantName: 'Acme <Markets>' });
});
afterAll(() => t.close());

function returnParams(location: string | null): Record<string, string> {
  expect(location).not.toBeNull();
  const url = new URL(location!);
  expect(url.origin + url.pathname).toBe('https://crm.example.test/portal/deposits/return');
  return Object.fromEntries(url.searchParams);
}

describe('the payment form', () => {
  it('is an accessible HTML form with labelled inputs, the amount and the merchant', async () => {
    const session = await t.session({ amount: 123_456, currency: 'EUR', description: 'Deposit <script>' });
    const response = await fetch(session.hostedPageUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await response.text();
    expect(html).toMatch(/^<!doctype html>\s*<html lang="en">/);
    for (const [id, label, autocomplete] of [
      ['cardNumber', 'Card number', 'cc-number'],
      ['expiry', 'Expiry date (MM/YY)', 'cc-exp'],
      ['cvc', 'Security code (CVC)', 'cc-csc'],
      ['holderName', 'Name on card', 'cc-name'],
    ]) {
      expect(html).toContain(`<label for="${id}">${label}</label>`);
      expect(html).toMatch(new RegExp(`<input id="${id}" name="${id}"[^>]*autocomplete="${autocomplete}"`));
    }
    expect(html).toContain('€1,234.56');
    expect(html).toContain('Acme &lt;Markets&gt;');
    expect(html).toContain('Deposit &lt;script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).toContain(`action="/pay/${session.id}"`);
    expect(html).toContain('4242 4242 4242 4242');
  });

  it('shows amounts in the currency’s own digits', async () => {
    const yen = await t.session({ amount: 5000, currency: 'JPY' });
    expect(await (await fetch(yen.hostedPageUrl)).text()).toContain('JP¥5,000');
    const dinar = await t.session({ amount: 1_234_567, currency: 'KWD' });
    expect(await (await fetch(dinar.hostedPageUrl)).text()).toContain('1,234.567');
  });

  it('answers 404 with a page for an unknown session', async () => {
    const response = await fetch(`${t.psp.url}/pay/pay_unknown`);
    expect(response.status).toBe(404);
    expect(await response.text()).toContain('Payment not found');
  });
});

describe('test cards', () => {
  it('4242 4242 4242 4242 succeeds', async () => {
    const session = await t.session();
    const paid = await t.pay(session.id, { cardNumber: '4242 4242 4242 4242' });
    expect(paid.status).toBe(303);
    expect(returnParams(paid.location)).toEqual({ session: session.id, status: 'succeeded' });
    const payment = await t.api('GET', `/v1/payments/${session.id}`);
    expect(payment.json).toMatchObject({
      status: 'succeeded',
      card: { last4: '4242', brand: 'visa' },
      failureReason: null,
    });
    expect(payment.json.events.map((e: { type: string }) => e.type)).toEqual(['payment.created', 'payment.succeeded']);
    expect(JSON.stringify(payment.json)).not.toContain('4242424242424242');
  });

  it('4000 0000 0000 0002 is declined', async () => {
    const session = await t.session();
    const paid = await t.pay(session.id, { cardNumber: '4000000000000002' });
    expect(returnParams(paid.location).status).toBe('failed');
    const payment = await t.api('GET', `/v1/payments/${session.id}`);
    expect(payment.json).toMatchObject({ status: 'failed', failureReason: 'card_declined' });
  });

  it('4000 0000 0000 3220 is pending, then succeeds after the delay on the simulator clock', async () => {
    const session = await t.session();
    const paid = await t.pay(session.id, { cardNumber: '4000-0000-0000-3220' });
    expect(returnParams(paid.location).status).toBe('pending');
    expect((await t.api('GET', `/v1/payments/${session.id}`)).json.status).toBe('pending');
    clock.advance(29_000);
    expect((await t.api('GET', `/v1/payments/${session.id}`)).json.status).toBe('pending');
    clock.advance(1_000);
    const payment = await t.api('GET', `/v1/payments/${session.id}`);
    expect(payment.json.status).toBe('succeeded');
    expect(payment.json.events.map((e: { type: string }) => e.type)).toEqual([
      'payment.created',
      'payment.pending',
      'payment.succeeded',
    ]);
  });

  it('4000 0000 0000 9995 is pending, then fails with insufficient_funds', async () => {
    const session = await t.session();
    const paid = await t.pay(session.id, { cardNumber: '4000000000009995' });
    expect(returnParams(paid.location).status).toBe('pending');
    clock.advance(30_000);
    const payment = await t.api('GET', `/v1/payments/${session.id}`);
    expect(payment.json).toMatchObject({ status: 'failed', failureReason: 'insufficient_funds' });
  });

  it('a pending payment resolves at once through the control API, either way', async () => {
    const a = await t.session();
    await t.pay(a.id, { cardNumber: '4000000000003220' });
    const failed = await t.control('POST', `/control/payments/${a.id}/resolve`, { outcome: 'failure' });
    expect(failed.status).toBe(200);
    expect(failed.json).toMatchObject({ status: 'failed', failureReason: 'processing_error' });
    const b = await t.session();
    await t.pay(b.id, { cardNumber: '4000000000009995' });
    expect((await t.control('POST', `/control/payments/${b.id}/resolve`, { outcome: 'success' })).json.status).toBe(
      'succeeded',
    );
    const again = await t.control('POST', `/control/payments/${b.id}/resolve`, {});
    expect(again.status).toBe(409);
    // The delay running out later changes nothing.
    clock.advance(60_000);
    expect((await t.api('GET', `/v1/payments/${a.id}`)).json.status).toBe('failed');
  });
});

describe('bad form input', () => {
  it.each([
    [{ cardNumber: '' }, 'cardNumber', 'Enter the card number'],
    [{ cardNumber: '4242 4242 4242 4241' }, 'cardNumber', 'not valid'],
    [{ cardNumber: 'abcd' }, 'cardNumber', '12 to 19 digits'],
    [{ expiry: '13/30' }, 'expiry', 'month'],
    [{ expiry: '01/20' }, 'expiry', 'expired'],
    [{ expiry: 'soon' }, 'expiry', 'MM/YY'],
    [{ cvc: '12' }, 'cvc', '3 or 4 digits'],
    [{ holderName: '   ' }, 'holderName', 'Enter the name'],
  ])('%o re-renders the form with an error (422), not a 500', async (fields, field, message) => {
    const session = await t.session();
    const reply = await t.pay(session.id, fields);
    expect(reply.status).toBe(422);
    expect(reply.location).toBeNull();
    expect(reply.html).toContain('role="alert"');
    expect(reply.html).toContain(message);
    expect(reply.html).toMatch(new RegExp(`<input id="${field}"[^>]*aria-invalid="true"`));
    expect(reply.html).toMatch(new RegExp(`aria-describedby="${field}-error"`));
    // Nothing happened to the payment; a corrected form then succeeds.
    expect((await t.api('GET', `/v1/payments/${session.id}`)).json.status).toBe('created');
    expect((await t.pay(session.id)).status).toBe(303);
  });

  it('keeps what was typed except the security code, escaped', async () => {
    const session = await t.session();
    const reply = await t.pay(session.id, { holderName: '"><img src=x>', cvc: '9' });
    expect(reply.status).toBe(422);
    expect(reply.html).toContain('value="&quot;&gt;&lt;img src=x&gt;"');
    expect(reply.html).toMatch(/<input id="cvc" name="cvc" value=""/);
  });

  it('treats an empty or garbage body as an empty form', async () => {
    const session = await t.session();
    const response = await fetch(`${t.psp.url}/pay/${session.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '%%%&&&===',
    });
    expect(response.status).toBe(422);
  });
});

describe('a session is paid once', () => {
  it('a second submit only leads back with the current status; the page says it was submitted', async () => {
    const session = await t.session();
    await t.pay(session.id, { cardNumber: '4000000000000002' });
    const again = await t.pay(session.id, { cardNumber: '4242424242424242' });
    expect(again.status).toBe(303);
    expect(returnParams(again.location).status).toBe('failed');
    expect((await t.api('GET', `/v1/payments/${session.id}`)).json.card.last4).toBe('0002');
    const page = await (await fetch(session.hostedPageUrl)).text();
    expect(page).toContain('already been submitted');
    expect(page).not.toContain('<form');
  });
});
