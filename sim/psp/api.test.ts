/** The merchant API refuses what it should (with {code, message}) and is idempotent by merchantReference. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPsp, type TestPsp, uniqueReference } from './test-support.ts';

let t: TestPsp;
beforeAll(async () => {
  t = await startTestPsp({ seed: 3 });
});
afterAll(() => t.close());

const validSession = () => ({
  amount: 25_000,
  currency: 'EUR',
  merchantReference: uniqueReference(),
  returnUrl: 'https://crm.example.test/return',
  description: 'Deposit to 5001234',
});

describe('authentication', () => {
  it('refuses a missing or wrong API key with 401', async () => {
    const none = await fetch(`${t.psp.url}/v1/payments/pay_x`);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ code: 'unauthorized' });
    const wrong = await fetch(`${t.psp.url}/v1/payments/pay_x`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const controlKey = await fetch(`${t.psp.url}/v1/payments/pay_x`, {
      headers: { authorization: `Bearer ${t.psp.controlToken}` },
    });
    expect(controlKey.status).toBe(401);
  });

  it('keeps the hosted page public and the control API on its own token', async () => {
    const session = await t.session();
    expect((await fetch(session.hostedPageUrl)).status).toBe(200);
    const control = await fetch(`${t.psp.controlUrl}/control/status`, {
      headers: { authorization: `Bearer ${t.psp.apiKey}` },
    });
    expect(control.status).toBe(401);
  });
});

describe('POST /v1/payment-sessions', () => {
  it('creates a session with a hosted page URL', async () => {
    const body = validSession();
    const reply = await t.api('POST', '/v1/payment-sessions', body);
    expect(reply.status).toBe(201);
    expect(reply.json).toMatchObject({
      status: 'created',
      amount: 25_000,
      currency: 'EUR',
      merchantReference: body.merchantReference,
    });
    expect(reply.json.id).toMatch(/^pay_[0-9a-f]{24}$/);
    expect(reply.json.hostedPageUrl).toBe(`${t.psp.url}/pay/${reply.json.id}`);
    expect(new Date(reply.json.createdAt).toISOString()).toBe(reply.json.createdAt);

    const payment = await t.api('GET', `/v1/payments/${reply.json.id}`);
    expect(payment.status).toBe(200);
    expect(payment.json).toMatchObject({ id: reply.json.id, status: 'created', amount: 25_000, refundedAmount: 0 });
  });

  it('answers the same session for the same reference and body, and 409 for another body', async () => {
    const body = validSession();
    const first = await t.api('POST', '/v1/payment-sessions', body);
    // Key order does not matter: it is the same request.
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const again = await t.api('POST', '/v1/payment-sessions', reordered);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.json).toEqual(first.json);

    const other = await t.api('POST', '/v1/payment-sessions', { ...body, amount: 25_001 });
    expect(other.status).toBe(409);
    expect(other.json.code).toBe('idempotency_conflict');
    expect(other.json.message).toContain(first.json.id);
    const noDescription = await t.api('POST', '/v1/payment-sessions', { ...body, description: undefined });
    expect(noDescription.status).toBe(409);
  });

  it.each([
    ['a fractional amount', { amount: 10.5 }, 'amount'],
    ['a zero amount', { amount: 0 }, 'amount'],
    ['a negative amount', { amount: -100 }, 'amount'],
    ['an amount beyond safe integers', { amount: 2 ** 53 }, 'amount'],
    ['an amount as a string', { amount: '100' }, 'amount'],
    ['a lower-case currency', { currency: 'eur' }, 'currency'],
    ['a four-letter currency', { currency: 'EURO' }, 'currency'],
    ['a 65-character reference', { merchantReference: 'R'.repeat(65) }, 'merchantReference'],
    ['an empty reference', { merchantReference: '' }, 'merchantReference'],
    ['a reference with spaces', { merchantReference: 'BD DEP 1' }, 'merchantReference'],
    ['a reference starting with =', { merchantReference: '=cmd()' }, 'merchantReference'],
    ['a relative return URL', { returnUrl: '/return' }, 'returnUrl'],
    ['a javascript: return URL', { returnUrl: 'javascript:alert(1)' }, 'returnUrl'],
    ['an unknown field', { customer: 'x' }, ''],
  ])('refuses %s with 400 invalid_request', async (_name, change, path) => {
    const reply = await t.api('POST', '/v1/payment-sessions', { ...validSession(), ...change });
    expect(reply.status).toBe(400);
    expect(reply.json.code).toBe('invalid_request');
    expect(typeof reply.json.message).toBe('string');
    expect(reply.json.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it('accepts a reference of exactly 64 characters', async () => {
    const reply = await t.api('POST', '/v1/payment-sessions', {
      ...validSession(),
      merchantReference: `R${uniqueReference()}`.padEnd(64, 'x'),
    });
    expect(reply.status).toBe(201);
  });

  it('refuses missing fields, bad JSON, a non-object, and other media types with a 4xx', async () => {
    const missing = await t.api('POST', '/v1/payment-sessions', { amount: 100 });
    expect(missing.status).toBe(400);
    expect(missing.json.message).toMatch(/currency/);
    const badJson = await t.api('POST', '/v1/payment-sessions', '{"amount":');
    expect(badJson.status).toBe(400);
    expect(badJson.json.code).toBe('invalid_json');
    const array = await t.api('POST', '/v1/payment-sessions', '[1,2]');
    expect(array.status).toBe(400);
    const form = await fetch(`${t.psp.url}/v1/payment-sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.psp.apiKey}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'amount=100',
    });
    expect(form.status).toBe(415);
    expect(await form.json()).toMatchObject({ code: 'unsupported_media_type' });
    const huge = await t.api('POST', '/v1/payment-sessions', { ...validSession(), description: 'x'.repeat(70_000) });
    expect(huge.status).toBe(413);
  });

  it('answers 404 {code, message} for unknown payments and routes', async () => {
    const unknown = await t.api('GET', '/v1/payments/pay_000000000000000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ code: 'not_found', message: 'no payment pay_000000000000000000000000' });
    const route = await t.api('GET', '/v1/nothing');
    expect(route.status).toBe(404);
    expect(route.json.code).toBe('not_found');
  });
});

describe('POST /v1/payouts', () => {
  const payout = () => ({
    amount: 5_000,
    currency: 'USD',
    merchantReference: uniqueReference('BD-WDR'),
    destination: { type: 'card', last4: '4242' },
  });

  it('validates the destination and is idempotent like sessions', async () => {
    const body = payout();
    const first = await t.api('POST', '/v1/payouts', body);
    expect(first.status).toBe(201);
    expect(first.json).toMatchObject({
      status: 'pending',
      amount: 5_000,
      destination: { type: 'card', last4: '4242' },
    });
    expect(first.json.id).toMatch(/^po_/);
    const again = await t.api('POST', '/v1/payouts', body);
    expect(again.status).toBe(200);
    expect(again.json.id).toBe(first.json.id);
    expect((await t.api('POST', '/v1/payouts', { ...body, amount: 5_001 })).status).toBe(409);
    // A payment and a payout may share a reference: they are different kinds of object.
    expect(
      (await t.api('POST', '/v1/payment-sessions', { ...validSession(), merchantReference: body.merchantReference }))
        .status,
    ).toBe(201);

    for (const destination of [
      { type: 'card', last4: '42' },
      { type: 'card', last4: '4242', pan: '4242424242424242' },
      { type: 'crypto', address: 'x' },
      { type: 'bank_account', iban: 'not an iban' },
    ]) {
      const reply = await t.api('POST', '/v1/payouts', { ...payout(), destination });
      expect(reply.status, JSON.stringify(destination)).toBe(400);
      expect(reply.json.code).toBe('invalid_request');
    }
    const bank = await t.api('POST', '/v1/payouts', {
      ...payout(),
      destination: { type: 'bank_account', iban: 'CY17002001280000001200527600' },
    });
    expect(bank.status).toBe(201);
  });
});

describe('fault injection on the merchant API', () => {
  it('answers injected 503s and cuts connections without applying', async () => {
    const rule = await t.control('POST', '/control/faults', {
      endpoint: '/v1/payment-sessions',
      kind: 'error',
      code: 503,
      count: 1,
    });
    expect(rule.status).toBe(201);
    const body = validSession();
    const failed = await t.api('POST', '/v1/payment-sessions', body);
    expect(failed.status).toBe(503);
    expect(failed.json.code).toBe('injected_error');
    // Nothing was applied: the next attempt creates the session (201, not a replay).
    expect((await t.api('POST', '/v1/payment-sessions', body)).status).toBe(201);

    await t.control('POST', '/control/faults', { endpoint: '/v1/payment-sessions', kind: 'drop_reply', count: 1 });
    const dropped = validSession();
    await expect(t.api('POST', '/v1/payment-sessions', dropped)).rejects.toThrow();
    // drop_reply applied the call: the retry is a replay of the session that was created.
    const retry = await t.api('POST', '/v1/payment-sessions', dropped);
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
  });
});
