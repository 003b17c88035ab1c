/**
 * PSP webhooks are applied exactly once, whatever the PSP or the network does to them (DOMAIN §6, ARCHITECTURE §2.4):
 * delivered twice (sandbox duplicate mode, a resend, concurrent copies), late, out of order (succeeded before pending,
 * refunded before succeeded), forged, stale, for a payment nobody started, replayed with another body, or not JSON.
 * Pending cards resolve to success or failure; a refund or a chargeback after posting takes the money back from the
 * trading account with its own balance operation, flags the client and raises an alert. After every test the ledger
 * balances and, where money reached the server, the trading account's ledger balance equals the server's.
 *
 * Real webhooks come from the PSP sandbox over HTTP to the app; forged or edited ones are signed here exactly as the
 * sandbox signs them (HMAC-SHA256 over "<t>.<body>" with its webhook secret) and posted with `app.inject`.
 */
import { randomUUID } from 'node:crypto';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FundingTestbed, fundingTestbed } from '../../../test/support/funding-testbed.ts';
import { expectLedgerBalanced } from '../../../test/support/ledger.ts';
import { pspSignature, TEST_CARDS } from '../../../test/support/psp.ts';
import { control } from '../../../test/support/simulators.ts';
import {
  alerts,
  clientFlags,
  ledgerTransactions,
  moneyMovements,
  operationAttempts,
  operations,
  pspEvents,
} from '../../db/schema.ts';
import { parseReference } from '../../platforms/reference.ts';
import { clientVisibleBalance } from '../ledger/service.ts';

type Client = Awaited<ReturnType<FundingTestbed['fundedClient']>>;

interface SandboxEvent {
  id: string;
  type: string;
  body: { id: string; type: string; createdAt: string; data: Record<string, unknown> & { id: string } };
}
interface SandboxAttempt {
  eventId: string;
  httpStatus: number | null;
  responseBody: string | null;
  outcome: string;
}
interface TimelineBody {
  summary: string;
  movement: { status: string; failureReason: string | null };
  entries: { type: string; message: string }[];
}

describe('PSP webhooks: once and only once, whatever the delivery', () => {
  let t: FundingTestbed;
  let url: string;
  let secret: string;
  let ip = 0;

  beforeAll(async () => {
    t = await fundingTestbed();
    url = `/api/webhooks/psp/${t.psp.provider.name}`;
    secret = t.psp.psp.webhookSecret;
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(async () => {
    await t.psp.control('POST', '/control/webhooks/mode', { mode: 'normal' });
    await t.psp.control('POST', '/control/clock', { skewSeconds: 0 });
    await t.psp.psp.webhooksIdle();
    await control(t.live, 'DELETE', '/control/faults');
    await expectLedgerBalanced(t.database.db);
  });

  // --- helpers ---------------------------------------------------------------------------------------------------

  /** Starts a deposit through the portal (each from its own address, so the per-address limit never decides). */
  async function start(c: Client, amountMinor: number) {
    ip += 1;
    const reply = await t.app.inject({
      method: 'POST',
      url: '/api/portal/deposits',
      headers: { cookie: c.cookie },
      remoteAddress: `10.7.${Math.floor(ip / 250)}.${(ip % 250) + 1}`,
      payload: { accountId: c.accountId, amountMinor },
    });
    expect(reply.statusCode, reply.body).toBe(201);
    const id = (reply.json() as { movement: { id: string } }).movement.id;
    return { id, amountMinor, pspPaymentId: (await t.movement(id)).pspPaymentId! };
  }

  const send = (body: string, signature?: string, contentType = 'application/json') =>
    t.app.inject({
      method: 'POST',
      url,
      payload: body,
      headers: { 'content-type': contentType, ...(signature === undefined ? {} : { 'psp-signature': signature }) },
    });
  const sign = (body: string, at: Date = t.clock.now()) => pspSignature(secret, body, at);

  /** A payment event as the sandbox writes it. */
  function paymentEvent(
    d: { id: string; amountMinor: number; pspPaymentId: string },
    o: {
      eventId?: string;
      type?: string;
      status?: string;
      amount?: number;
      refunded?: number;
      chargedBack?: number;
      reference?: string;
    } = {},
  ): string {
    const now = t.clock.now().toISOString();
    return JSON.stringify({
      id: o.eventId ?? `evt_test_${randomUUID().slice(0, 12)}`,
      type: o.type ?? 'payment.succeeded',
      createdAt: now,
      data: {
        object: 'payment',
        id: d.pspPaymentId,
        status: o.status ?? 'succeeded',
        amount: o.amount ?? d.amountMinor,
        refundedAmount: o.refunded ?? 0,
        chargedBackAmount: o.chargedBack ?? 0,
        currency: 'USD',
        merchantReference: o.reference ?? d.id,
        description: null,
        card: { last4: '4242', brand: 'visa' },
        failureReason: null,
        createdAt: now,
        updatedAt: now,
      },
    });
  }

  const eventsOf = async (pspPaymentId: string) =>
    (await t.psp.control<SandboxEvent[]>('GET', '/control/webhooks/events')).filter(
      (e) => e.body.data.id === pspPaymentId,
    );
  const eventOf = async (pspPaymentId: string, type: string) => {
    const found = (await eventsOf(pspPaymentId)).filter((e) => e.type === type);
    expect(found, `${type} of ${pspPaymentId}`).toHaveLength(1);
    return found[0]!;
  };
  /** What the app answered to each delivery attempt of an event (from the sandbox's attempt log). */
  const answersTo = async (eventId: string) =>
    (await t.psp.control<SandboxAttempt[]>('GET', `/control/webhooks/attempts?eventId=${eventId}`)).map((a) => ({
      status: a.httpStatus,
      body: a.responseBody ? (JSON.parse(a.responseBody) as Record<string, unknown>) : null,
    }));

  const operationsOf = (movementId: string) =>
    t.database.db
      .select()
      .from(operations)
      .where(eq(operations.correlationId, movementId))
      .orderBy(asc(operations.seq));
  const storedEvents = (movementId: string) =>
    t.database.db.select().from(pspEvents).where(eq(pspEvents.movementId, movementId)).orderBy(asc(pspEvents.id));
  const ledgerKinds = async (movementId: string) =>
    (
      await t.database.db
        .select({ kind: ledgerTransactions.kind })
        .from(ledgerTransactions)
        .where(sql`${ledgerTransactions.correlation} @> ${JSON.stringify({ movementId })}::jsonb`)
        .orderBy(asc(ledgerTransactions.createdAt), asc(ledgerTransactions.kind))
    )
      .map((r) => r.kind)
      .sort();

  /** Balance deals on the MT5 server for the login, with the reference found in each comment. */
  const serverDeals = async (login: number) =>
    (
      (await control(t.live, 'GET', `/control/accounts/${login}/deals`)) as {
        Action: string;
        Comment: string;
        Profit: string;
      }[]
    )
      .filter((d) => Number(d.Action) === 2)
      .map((d) => ({
        reference: parseReference(d.Comment)?.reference ?? null,
        amountMinor: Math.round(Number(d.Profit) * 100),
      }));
  const serverBalance = async (login: number) =>
    Math.round(Number((await t.simAccount(t.live, login)).account.Balance) * 100);
  const ledgerBalance = (accountId: string) =>
    clientVisibleBalance(t.database.db, { type: 'trading_account', ownerId: accountId, currency: 'USD' });
  /** The invariant after every story that reached the server: ledger = server. */
  async function expectLedgerEqualsServer(c: Client, expectedMinor: number) {
    expect(await serverBalance(c.login)).toBe(expectedMinor);
    expect(await ledgerBalance(c.accountId)).toBe(expectedMinor);
  }

  /** Row counts of everything a webhook could change. */
  async function snapshot() {
    const counts: Record<string, number> = {};
    for (const table of [
      'money_movements',
      'movement_events',
      'operations',
      'ledger_transactions',
      'ledger_entries',
      'psp_events',
      'client_flags',
      'alerts',
      'audit_events',
    ]) {
      const [row] = await t.database.query<{ n: number }>(`select count(*)::int as n from ${table}`);
      counts[table] = row!.n;
    }
    return counts;
  }

  const portalView = async (c: Client, id: string) => {
    const r = await t.app.inject({ url: `/api/portal/movements/${id}`, headers: { cookie: c.cookie } });
    expect(r.statusCode, r.body).toBe(200);
    return r.json() as TimelineBody;
  };

  function expectRefusal(r: LightMyRequestResponse, status: number, code: string, says?: RegExp) {
    expect(r.statusCode, r.body).toBe(status);
    const body = r.json() as { code: string; message: string };
    expect(body.code).toBe(code);
    if (says) expect(body.message).toMatch(says);
    // No stack trace, no file paths, no internals.
    expect(r.body).not.toMatch(/\n\s+at\s|"stack"|\.[cm]?[jt]s:\d+|node_modules|SyntaxError/);
    expect(Object.keys(body).every((k) => ['code', 'message', 'details'].includes(k))).toBe(true);
  }

  const refusalLogs = () =>
    t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'psp webhook refused');

  // --- duplicates ----------------------------------------------------------------------------------------------

  it('duplicate delivery (sandbox duplicate mode, a resend, and concurrent copies): one deposit, one balance operation, one ledger transaction', async () => {
    const c = await t.fundedClient();
    await t.psp.control('POST', '/control/webhooks/mode', { mode: 'duplicate' });
    const d = await start(c, 123_456);
    await t.psp.pay(d.pspPaymentId);
    await t.psp.psp.webhooksIdle();
    const succeeded = await eventOf(d.pspPaymentId, 'payment.succeeded');
    const answers = await answersTo(succeeded.id);
    expect(answers).toEqual([
      { status: 200, body: { received: true, outcome: 'applied' } },
      { status: 200, body: { received: true, outcome: 'replayed' } },
    ]);
    await t.until(d.id, ['posted']);

    // The PSP resends it later (same id, same body): acknowledged, nothing changes.
    await t.psp.control('POST', '/control/webhooks/mode', { mode: 'normal' });
    const before = await snapshot();
    await t.psp.control('POST', `/control/webhooks/events/${succeeded.id}/resend`);
    await t.psp.psp.webhooksIdle();
    expect((await answersTo(succeeded.id)).at(-1)).toEqual({
      status: 200,
      body: { received: true, outcome: 'replayed' },
    });
    await t.engine.drain();
    expect(await snapshot()).toEqual(before);

    const ops = await operationsOf(d.id);
    expect(ops).toHaveLength(1);
    expect(ops[0]!.status).toBe('succeeded');
    expect(await storedEvents(d.id)).toHaveLength(1);
    expect(await ledgerKinds(d.id)).toEqual(['deposit.posted', 'deposit.received']);
    expect((await serverDeals(c.login)).filter((x) => x.reference === ops[0]!.reference)).toHaveLength(1);
    expect(await serverDeals(c.login)).toHaveLength(1);
    await expectLedgerEqualsServer(c, 123_456);

    // Eight identical copies at once (a PSP retrying while the first is still being processed): one is applied.
    const d2 = await start(c, 20_000);
    const body = paymentEvent(d2);
    const signature = sign(body);
    const replies = await Promise.all(Array.from({ length: 8 }, () => send(body, signature)));
    const outcomes = replies.map((r) => {
      expect(r.statusCode, r.body).toBe(200);
      return (r.json() as { outcome: string }).outcome;
    });
    expect(outcomes.filter((o) => o === 'applied')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'replayed')).toHaveLength(7);
    await t.until(d2.id, ['posted']);
    expect(await operationsOf(d2.id)).toHaveLength(1);
    expect(await storedEvents(d2.id)).toHaveLength(1);
    expect(await ledgerKinds(d2.id)).toEqual(['deposit.posted', 'deposit.received']);
    expect(await serverDeals(c.login)).toHaveLength(2);
    await expectLedgerEqualsServer(c, 143_456);
  });

  // --- late and out of order -----------------------------------------------------------------------------------

  it('late: the portal waits truthfully while the webhook is held; a pending event that arrives after the success changes nothing', async () => {
    const c = await t.fundedClient();
    // Held for a minute of sandbox time: released by a flush, never by sleeping.
    await t.psp.control('POST', '/control/webhooks/mode', { mode: 'late', lateMs: 60_000 });
    const d = await start(c, 40_000);
    expect((await t.psp.pay(d.pspPaymentId)).returnStatus).toBe('succeeded');
    await t.psp.psp.webhooksIdle();
    expect((await t.movement(d.id)).status).toBe('awaiting_payment');
    expect((await portalView(c, d.id)).summary).toBe('Waiting for your payment of 400.00 USD.');
    expect(await t.psp.control('POST', '/control/webhooks/flush')).toEqual({ released: 1 });
    await t.psp.psp.webhooksIdle();
    await t.until(d.id, ['posted']);

    // A pending card: its payment.pending is held, the mode returns to normal, the success overtakes it.
    const p = await start(c, 7_500);
    expect((await t.psp.pay(p.pspPaymentId, TEST_CARDS.pendingThenSuccess)).returnStatus).toBe('pending');
    await t.psp.control('POST', '/control/webhooks/mode', { mode: 'normal' });
    await t.psp.control('POST', `/control/payments/${p.pspPaymentId}/resolve`, { outcome: 'success' });
    await t.psp.psp.webhooksIdle();
    expect((await t.movement(p.id)).status).toBe('approved');
    await t.psp.control('POST', '/control/webhooks/flush');
    await t.psp.psp.webhooksIdle();
    const pending = await eventOf(p.pspPaymentId, 'payment.pending');
    expect((await answersTo(pending.id)).map((a) => a.body?.outcome)).toEqual(['ignored']);
    await t.until(p.id, ['posted']);
    expect((await storedEvents(p.id)).map((e) => `${e.type}:${e.outcome}`)).toEqual([
      'payment.succeeded:applied',
      'payment.pending:ignored',
    ]);
    expect(await operationsOf(p.id)).toHaveLength(1);
    expect(await serverDeals(c.login)).toHaveLength(2);
    await expectLedgerEqualsServer(c, 47_500);
  });

  it('out of order: succeeded before pending ends posted; the pending that arrives last is ignored', async () => {
    const c = await t.fundedClient();
    await t.psp.control('POST', '/control/webhooks/mode', { mode: 'out_of_order', batchSize: 2 });
    const d = await start(c, 31_400);
    expect((await t.psp.pay(d.pspPaymentId, TEST_CARDS.pendingThenSuccess)).returnStatus).toBe('pending');
    await t.psp.psp.webhooksIdle();
    expect((await t.movement(d.id)).status).toBe('awaiting_payment'); // the pending event is held
    await t.psp.control('POST', `/control/payments/${d.pspPaymentId}/resolve`, { outcome: 'success' });
    await t.psp.psp.webhooksIdle();
    const stored = await storedEvents(d.id);
    expect(stored.map((e) => `${e.type}:${e.outcome}`)).toEqual([
      'payment.succeeded:applied',
      'payment.pending:ignored',
    ]);
    const posted = await t.until(d.id, ['posted']);
    expect(posted.pspPaymentId).toBe(d.pspPaymentId);
    expect(await operationsOf(d.id)).toHaveLength(1);
    expect(await ledgerKinds(d.id)).toEqual(['deposit.posted', 'deposit.received']);
    expect(await serverDeals(c.login)).toHaveLength(1);
    await expectLedgerEqualsServer(c, 31_400);
  });

  it('out of order: refunded before succeeded records the payment, then the refund; the deposit lands and is taken back once', async () => {
    const c = await t.fundedClient();
    await t.psp.control('POST', '/control/webhooks/mode', { mode: 'out_of_order', batchSize: 2 });
    const d = await start(c, 55_000);
    expect((await t.psp.pay(d.pspPaymentId)).returnStatus).toBe('succeeded');
    await t.psp.control('POST', `/control/payments/${d.pspPaymentId}/refund`, {});
    await t.psp.psp.webhooksIdle();
    expect((await storedEvents(d.id)).map((e) => `${e.type}:${e.outcome}`)).toEqual([
      'payment.refunded:applied',
      'payment.succeeded:ignored',
    ]);
    const done = await t.until(d.id, ['refunded']);
    expect(done.refundedMinor).toBe(55_000);

    // One deposit operation and one reversal, each once on the server; nothing doubled.
    const ops = await operationsOf(d.id);
    expect(ops.map((o) => [o.handler, o.status, (o.payload as { amount: number }).amount])).toEqual([
      ['funding.deposit', 'succeeded', 55_000],
      ['funding.reversal', 'succeeded', -55_000],
    ]);
    const deals = await serverDeals(c.login);
    expect(deals.map((x) => [x.reference, x.amountMinor])).toEqual([
      [ops[0]!.reference, 55_000],
      [ops[1]!.reference, -55_000],
    ]);
    expect(await ledgerKinds(d.id)).toEqual([
      'deposit.posted',
      'deposit.received',
      'refund.received',
      'refund.recovered',
    ]);
    await expectLedgerEqualsServer(c, 0);
    const flags = await t.database.db.select().from(clientFlags).where(eq(clientFlags.clientId, c.clientId));
    expect(flags.map((f) => [f.kind, f.movementId])).toEqual([['refund', d.id]]);
  });

  it('succeeded and refunded arriving at the same moment, twice each: the refund is taken back once, whichever wins', async () => {
    const c = await t.fundedClient();
    const d = await start(c, 42_000);
    const succeeded = paymentEvent(d);
    const refunded = paymentEvent(d, { type: 'payment.refunded', status: 'refunded', refunded: 42_000 });
    const replies = await Promise.all([succeeded, refunded, refunded, succeeded].map((body) => send(body, sign(body))));
    expect(replies.map((r) => r.statusCode)).toEqual([200, 200, 200, 200]);
    expect(replies.map((r) => (r.json() as { outcome: string }).outcome).filter((o) => o === 'replayed').length).toBe(
      2,
    );
    const done = await t.until(d.id, ['refunded']);
    expect(done.refundedMinor).toBe(42_000);
    const ops = await operationsOf(d.id);
    expect(ops.map((o) => [o.handler, (o.payload as { amount: number }).amount])).toEqual([
      ['funding.deposit', 42_000],
      ['funding.reversal', -42_000],
    ]);
    expect((await serverDeals(c.login)).map((x) => x.reference)).toEqual(ops.map((o) => o.reference));
    expect(await ledgerKinds(d.id)).toEqual([
      'deposit.posted',
      'deposit.received',
      'refund.received',
      'refund.recovered',
    ]);
    await expectLedgerEqualsServer(c, 0);
  });

  // --- refusals --------------------------------------------------------------------------------------------------

  it('a forged signature is refused with 400 WEBHOOK_REJECTED, changes nothing, and is logged without the secret', async () => {
    const c = await t.fundedClient();
    const d = await start(c, 99_000);
    const body = paymentEvent(d);
    const before = await snapshot();
    const logged = refusalLogs().length;
    expectRefusal(
      await send(body, pspSignature('whsec_not_the_secret', body, t.clock.now())),
      400,
      'WEBHOOK_REJECTED',
      /signature/,
    );
    expectRefusal(await send(body), 400, 'WEBHOOK_REJECTED', /Psp-Signature/);
    expectRefusal(await send(body, 't=1,v1=zz'), 400, 'WEBHOOK_REJECTED');
    // Signed correctly, then altered in transit: the signature no longer matches.
    const tampered = body.replace('"amount":99000', '"amount":9900000');
    expect(tampered).not.toBe(body);
    expectRefusal(await send(tampered, sign(body)), 400, 'WEBHOOK_REJECTED', /signature/);
    expect(await snapshot()).toEqual(before);
    expect((await t.movement(d.id)).status).toBe('awaiting_payment');

    const lines = refusalLogs().slice(logged);
    expect(lines).toHaveLength(4);
    for (const line of lines) {
      expect(line).toMatchObject({ level: 40, code: 'WEBHOOK_REJECTED', psp: 'sandbox' });
      expect(String(line.reason)).toMatch(/^webhook refused: /);
    }
    expect(t.logs.join('\n')).not.toContain(secret);
  });

  it('a stale or future timestamp is refused; a sandbox whose clock is off is refused until it is right, then applied once', async () => {
    const c = await t.fundedClient();
    const d = await start(c, 64_000);
    const body = paymentEvent(d);
    const now = t.clock.now().getTime();
    const before = await snapshot();
    expectRefusal(await send(body, sign(body, new Date(now - 301_000))), 400, 'WEBHOOK_REJECTED', /timestamp .* past/);
    expectRefusal(
      await send(body, sign(body, new Date(now + 301_000))),
      400,
      'WEBHOOK_REJECTED',
      /timestamp .* future/,
    );
    expect(await snapshot()).toEqual(before);

    // The sandbox's clock runs ten minutes behind: its (correctly signed) webhook is refused as stale, and retried.
    await t.psp.control('POST', '/control/clock', { skewSeconds: -600 });
    const s = await start(c, 12_300);
    await t.psp.pay(s.pspPaymentId);
    await t.psp.psp.webhooksIdle();
    const event = await eventOf(s.pspPaymentId, 'payment.succeeded');
    const first = await answersTo(event.id);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ status: 400, body: { code: 'WEBHOOK_REJECTED' } });
    expect(String(first[0]!.body!.message)).toMatch(/timestamp .* past/);
    expect((await t.movement(s.id)).status).toBe('awaiting_payment');
    expect(await storedEvents(s.id)).toEqual([]);

    // Its clock is put right: the pending retry falls due at once and is applied.
    await t.psp.control('POST', '/control/clock', { skewSeconds: 0 });
    const deadline = Date.now() + 10_000;
    while ((await answersTo(event.id)).length < 2 && Date.now() < deadline) {
      await t.psp.psp.webhooksIdle();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await answersTo(event.id)).map((a) => a.status)).toEqual([400, 200]);
    await t.until(s.id, ['posted']);
    expect(await operationsOf(s.id)).toHaveLength(1);
    await expectLedgerEqualsServer(c, 12_300);
  });

  it('an unknown payment reference is refused (422) and nothing is stored, not even the event', async () => {
    const c = await t.fundedClient();
    const d = await start(c, 10_000);
    const before = await snapshot();
    for (const reference of [randomUUID(), 'not-a-movement-id', 'BD-DEP-123']) {
      const body = paymentEvent(d, { reference });
      expectRefusal(await send(body, sign(body)), 422, 'WEBHOOK_REJECTED', /no deposit with reference/);
    }
    expect(await snapshot()).toEqual(before);
    expect((await t.movement(d.id)).status).toBe('awaiting_payment');
    // A refused event id is not remembered: the same id for the right payment is then accepted.
    const eventId = `evt_test_${randomUUID().slice(0, 12)}`;
    const wrong = paymentEvent(d, { eventId, reference: randomUUID() });
    expectRefusal(await send(wrong, sign(wrong)), 422, 'WEBHOOK_REJECTED');
    const right = paymentEvent(d, { eventId });
    const accepted = await send(right, sign(right));
    expect(accepted.json()).toEqual({ received: true, outcome: 'applied' });
    await t.until(d.id, ['posted']);
    await expectLedgerEqualsServer(c, 10_000);
  });

  it('the same event id with a different body is 409 WEBHOOK_CONFLICT; the first one stands', async () => {
    const c = await t.fundedClient();
    const d = await start(c, 25_000);
    await t.psp.pay(d.pspPaymentId);
    await t.psp.psp.webhooksIdle();
    await t.until(d.id, ['posted']);
    const real = await eventOf(d.pspPaymentId, 'payment.succeeded');
    // The exact bytes the sandbox sent (its events list returns them parsed; they serialise back identically).
    const original = JSON.stringify(real.body);
    expect((await send(original, sign(original))).json()).toEqual({ received: true, outcome: 'replayed' });

    const before = await snapshot();
    const edits = [
      { ...real.body, data: { ...real.body.data, amount: 2_500_000 } },
      {
        ...real.body,
        type: 'payment.refunded',
        data: { ...real.body.data, status: 'refunded', refundedAmount: 25_000 },
      },
      { ...real.body, createdAt: new Date(t.clock.now().getTime() + 1000).toISOString() },
    ];
    for (const edited of edits) {
      const body = JSON.stringify(edited);
      expectRefusal(await send(body, sign(body)), 409, 'WEBHOOK_CONFLICT', new RegExp(real.id));
    }
    await t.engine.drain();
    expect(await snapshot()).toEqual(before);
    const m = await t.movement(d.id);
    expect(m).toMatchObject({ status: 'posted', refundedMinor: 0 });
    expect(await operationsOf(d.id)).toHaveLength(1);
    await expectLedgerEqualsServer(c, 25_000);
  });

  it('webhooks arriving together are committed together, each applied once; a refused one among them changes nothing for the others', async () => {
    const c = await t.fundedClient();
    const deposits = [];
    for (let i = 0; i < 7; i++) deposits.push(await start(c, 1_000 + i));
    const bodies = deposits.map((d) => paymentEvent(d));
    // All at once, the first one delivered twice.
    const answers = await Promise.all([...bodies, bodies[0]!].map((body) => send(body, sign(body))));
    const outcomes = answers.map((r) => (r.json() as { outcome: string }).outcome);
    expect(outcomes.slice(1, 7)).toEqual(Array(6).fill('applied'));
    expect([outcomes[0], outcomes[7]].sort()).toEqual(['applied', 'replayed']);
    // Fewer transactions than webhooks: the ones that waited for the first went together.
    const ids = deposits.map((d) => d.id);
    const stored = await t.database.db
      .select({ transaction: sql<string>`xmin::text` })
      .from(pspEvents)
      .where(inArray(pspEvents.movementId, ids));
    expect(stored).toHaveLength(7);
    expect(new Set(stored.map((r) => r.transaction)).size).toBeLessThan(7);
    for (const d of deposits) await t.until(d.id, ['posted']);
    for (const d of deposits) expect(await operationsOf(d.id)).toHaveLength(1);

    // A webhook for a payment nobody started, arriving with good ones: refused alone, the others applied.
    const more = [];
    for (let i = 0; i < 4; i++) more.push(await start(c, 2_000 + i));
    const unknown = paymentEvent(more[0]!, { reference: randomUUID() });
    const mixed = [...more.map((d) => paymentEvent(d)), unknown];
    const replies = await Promise.all(mixed.map((body) => send(body, sign(body))));
    for (const r of replies.slice(0, 4)) expect(r.json()).toEqual({ received: true, outcome: 'applied' });
    expectRefusal(replies[4]!, 422, 'WEBHOOK_REJECTED', /no deposit with reference/);
    const unknownId = (JSON.parse(unknown) as { id: string }).id;
    expect(await t.database.db.select().from(pspEvents).where(eq(pspEvents.eventId, unknownId))).toEqual([]);
    for (const d of more) await t.until(d.id, ['posted']);
    await expectLedgerEqualsServer(
      c,
      [...deposits, ...more].reduce((sum, d) => sum + d.amountMinor, 0),
    );
  });

  it('malformed JSON, an unknown event type or a wrong shape is refused with 400 and no stack trace', async () => {
    const c = await t.fundedClient();
    const d = await start(c, 10_000);
    const before = await snapshot();
    const bodies = [
      '{"id": "evt_1", "type": ',
      'not json at all',
      '',
      '[]',
      'null',
      JSON.stringify({ id: 'evt_2', type: 'payment.exploded', createdAt: t.clock.now().toISOString(), data: {} }),
      JSON.stringify({ ...JSON.parse(paymentEvent(d)), data: { object: 'payment', id: d.pspPaymentId } }),
      paymentEvent(d, { amount: -5 }),
      paymentEvent(d, { amount: 1.5 }),
      paymentEvent(d, { status: 'exploded' }),
    ];
    for (const body of bodies) {
      const r = await send(body, sign(body));
      expectRefusal(r, 400, 'WEBHOOK_REJECTED', /webhook refused: the webhook body is not (JSON|a known event)/);
    }
    // The same with a body the server's JSON parser would choke on, sent as text.
    const text = '{"id": "evt_1"';
    expectRefusal(await send(text, sign(text), 'text/plain'), 400, 'WEBHOOK_REJECTED', /not JSON/);
    // Unsigned garbage is refused for its signature before anything reads it.
    expectRefusal(await send('{{{{'), 400, 'WEBHOOK_REJECTED', /Psp-Signature/);
    expect(await snapshot()).toEqual(before);
    expect((await t.movement(d.id)).status).toBe('awaiting_payment');
  });

  it('an authentic event carrying a NUL character (JSON "\\u0000") is stored and applied, not answered with a 500', async () => {
    const c = await t.fundedClient();
    const d = await start(c, 11_100);
    const withNul = (body: string, field: string) => {
      const event = JSON.parse(body) as { data: Record<string, unknown> };
      event.data[field] = 'odd\u0000text';
      return JSON.stringify(event);
    };
    const body = withNul(paymentEvent(d), 'description');
    expect(body).toContain('\\u0000');
    const r = await send(body, sign(body));
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toEqual({ received: true, outcome: 'applied' });
    await t.until(d.id, ['posted']);
    const [stored] = await storedEvents(d.id);
    expect((stored!.payload as { data: { description: string } }).data.description).toBe('odd\uFFFDtext');
    // The same bytes again are a replay (the hash is of the raw body), not a conflict.
    expect((await send(body, sign(body))).json()).toEqual({ received: true, outcome: 'replayed' });

    // A failure whose reason carries one: the reason is kept readable.
    const f = await start(c, 2_200);
    const failed = withNul(paymentEvent(f, { type: 'payment.failed', status: 'failed' }), 'failureReason');
    expect((await send(failed, sign(failed))).statusCode).toBe(200);
    expect((await t.movement(f.id)).failureReason).toBe('the payment failed: odd\uFFFDtext');
    await expectLedgerEqualsServer(c, 11_100);
  });

  // --- pending cards ---------------------------------------------------------------------------------------------

  it('pending then success (4000 0000 0000 3220): payment_pending, the client is told, then posted when the PSP resolves it', async () => {
    const c = await t.fundedClient();
    const d = await start(c, 88_800);
    expect((await t.psp.pay(d.pspPaymentId, TEST_CARDS.pendingThenSuccess)).returnStatus).toBe('pending');
    await t.psp.psp.webhooksIdle();
    await t.until(d.id, ['payment_pending']);
    const waiting = await portalView(c, d.id);
    expect(waiting.summary).toBe('Your payment of 888.00 USD is being processed by the payment provider.');
    expect(waiting.entries.map((e) => e.message)).toContain('Your payment is being processed by the payment provider.');
    expect(await operationsOf(d.id)).toEqual([]);
    expect(await ledgerKinds(d.id)).toEqual([]);

    await t.psp.control('POST', `/control/payments/${d.pspPaymentId}/resolve`, {});
    await t.psp.psp.webhooksIdle();
    await t.until(d.id, ['posted']);
    expect((await storedEvents(d.id)).map((e) => `${e.type}:${e.outcome}`)).toEqual([
      'payment.pending:applied',
      'payment.succeeded:applied',
    ]);
    expect(await operationsOf(d.id)).toHaveLength(1);
    expect(await serverDeals(c.login)).toHaveLength(1);
    await expectLedgerEqualsServer(c, 88_800);
  });

  it('pending then failure (4000 0000 0000 9995): payment_failed with the reason, nothing on the server, nothing in the ledger', async () => {
    const c = await t.fundedClient();
    const d = await start(c, 77_700);
    expect((await t.psp.pay(d.pspPaymentId, TEST_CARDS.pendingThenFailure)).returnStatus).toBe('pending');
    await t.psp.psp.webhooksIdle();
    await t.until(d.id, ['payment_pending']);
    await t.psp.control('POST', `/control/payments/${d.pspPaymentId}/resolve`, {});
    await t.psp.psp.webhooksIdle();
    const failed = await t.until(d.id, ['payment_failed']);
    expect(failed.failureReason).toBe('the payment failed: insufficient funds');
    const view = await portalView(c, d.id);
    expect(view.summary).toBe('The payment of 777.00 USD did not go through: the payment failed: insufficient funds.');
    expect(view.entries.map((e) => e.message)).toContain(
      'The payment did not go through (insufficient funds). Nothing was charged.',
    );
    expect(await operationsOf(d.id)).toEqual([]);
    expect(await ledgerKinds(d.id)).toEqual([]);
    expect(await serverDeals(c.login)).toEqual([]);
    await expectLedgerEqualsServer(c, 0);

    // The PSP then contradicts itself (captured after all, later refunded): a person must look, so a critical alert
    // is raised; the deposit is not credited and no refund is charged to the client for money never received.
    const before = await snapshot();
    for (const snapshotOf of [
      { type: 'payment.succeeded', status: 'succeeded' },
      { type: 'payment.refunded', status: 'refunded', refunded: 77_700 },
      { type: 'payment.charged_back', status: 'charged_back', chargedBack: 77_700 },
    ]) {
      const body = paymentEvent(d, snapshotOf);
      const r = await send(body, sign(body));
      expect(r.statusCode, r.body).toBe(200);
    }
    await t.engine.drain();
    expect((await t.movement(d.id)).status).toBe('payment_failed');
    expect(await operationsOf(d.id)).toEqual([]);
    expect(await ledgerKinds(d.id)).toEqual([]);
    expect(await t.database.db.select().from(clientFlags).where(eq(clientFlags.clientId, c.clientId))).toEqual([]);
    const contradiction = await t.database.db
      .select()
      .from(alerts)
      .where(and(eq(alerts.kind, 'psp_contradiction'), sql`${alerts.details}->>'movementId' = ${d.id}`));
    expect(contradiction).toHaveLength(1);
    expect(contradiction[0]).toMatchObject({ status: 'open', severity: 'critical' });
    const after = await snapshot();
    expect(after.psp_events).toBe(before.psp_events! + 3);
    expect(after.ledger_entries).toBe(before.ledger_entries);
    expect(after.operations).toBe(before.operations);
    await expectLedgerEqualsServer(c, 0);
  });

  // --- money taken back after posting --------------------------------------------------------------------------

  it('a refund after posting: a reversal balance operation on the server, refunded, the client flagged, an alert raised', async () => {
    const c = await t.fundedClient();
    const d = await start(c, 150_000);
    await t.psp.pay(d.pspPaymentId);
    await t.psp.psp.webhooksIdle();
    await t.until(d.id, ['posted']);
    await expectLedgerEqualsServer(c, 150_000);

    await t.psp.control('POST', `/control/payments/${d.pspPaymentId}/refund`, {});
    await t.psp.psp.webhooksIdle();
    expect((await t.movement(d.id)).status).toBe('reversing');
    const done = await t.until(d.id, ['refunded']);
    expect(done.refundedMinor).toBe(150_000);

    const ops = await operationsOf(d.id);
    expect(ops.map((o) => [o.handler, o.status])).toEqual([
      ['funding.deposit', 'succeeded'],
      ['funding.reversal', 'succeeded'],
    ]);
    expect(done.returnOperationId).toBe(ops[1]!.id);
    expect(await serverDeals(c.login)).toEqual([
      { reference: ops[0]!.reference, amountMinor: 150_000 },
      { reference: ops[1]!.reference, amountMinor: -150_000 },
    ]);
    await expectLedgerEqualsServer(c, 0);
    expect(await ledgerKinds(d.id)).toEqual([
      'deposit.posted',
      'deposit.received',
      'refund.received',
      'refund.recovered',
    ]);
    const flags = await t.database.db.select().from(clientFlags).where(eq(clientFlags.clientId, c.clientId));
    expect(flags).toHaveLength(1);
    expect(flags[0]).toMatchObject({ kind: 'refund', movementId: d.id, clearedAt: null });
    const [alert] = await t.database.db
      .select()
      .from(alerts)
      .where(and(eq(alerts.kind, 'client_refund'), sql`${alerts.details}->>'movementId' = ${d.id}`));
    expect(alert).toMatchObject({ status: 'open', severity: 'warning' });
    const view = await portalView(c, d.id);
    expect(view.summary).toBe('1500.00 USD was refunded.');
    expect(view.entries.map((e) => e.message)).toEqual(
      expect.arrayContaining([
        '1500.00 USD of this payment was refunded to you.',
        '1500.00 USD was taken back from your trading account.',
      ]),
    );

    // The refund webhook redelivered: nothing more is taken back.
    const refunded = await eventOf(d.pspPaymentId, 'payment.refunded');
    const before = await snapshot();
    await t.psp.control('POST', `/control/webhooks/events/${refunded.id}/resend`);
    await t.psp.psp.webhooksIdle();
    await t.engine.drain();
    expect(await snapshot()).toEqual(before);
    await expectLedgerEqualsServer(c, 0);
  });

  it('a chargeback after posting: a reversal on the server, charged_back, the client flagged, a critical alert', async () => {
    const c = await t.fundedClient();
    const d = await start(c, 60_000);
    await t.psp.pay(d.pspPaymentId);
    await t.psp.psp.webhooksIdle();
    await t.until(d.id, ['posted']);

    await t.psp.control('POST', `/control/payments/${d.pspPaymentId}/chargeback`, { reason: 'fraudulent' });
    await t.psp.psp.webhooksIdle();
    const done = await t.until(d.id, ['charged_back']);
    expect(done.refundedMinor).toBe(60_000);
    const ops = await operationsOf(d.id);
    expect(ops.map((o) => [o.handler, o.status, (o.payload as { note?: string }).note])).toEqual([
      ['funding.deposit', 'succeeded', 'deposit'],
      ['funding.reversal', 'succeeded', 'chargeback'],
    ]);
    expect((await serverDeals(c.login)).map((x) => x.amountMinor)).toEqual([60_000, -60_000]);
    await expectLedgerEqualsServer(c, 0);
    const flags = await t.database.db.select().from(clientFlags).where(eq(clientFlags.clientId, c.clientId));
    expect(flags.map((f) => [f.kind, f.movementId])).toEqual([['chargeback', d.id]]);
    const raised = await t.database.db
      .select()
      .from(alerts)
      .where(and(eq(alerts.kind, 'client_chargeback'), sql`${alerts.details}->>'movementId' = ${d.id}`));
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({ status: 'open', severity: 'critical' });
    expect((await portalView(c, d.id)).summary).toBe('600.00 USD was charged back by the card issuer.');
  });

  it('a partial refund, then a chargeback of the rest: two reversals, each once; ledger = server at each step', async () => {
    const c = await t.fundedClient();
    const d = await start(c, 100_000);
    await t.psp.pay(d.pspPaymentId);
    await t.psp.psp.webhooksIdle();
    await t.until(d.id, ['posted']);

    await t.psp.control('POST', `/control/payments/${d.pspPaymentId}/refund`, { amount: 30_000 });
    await t.psp.psp.webhooksIdle();
    expect((await t.movement(d.id)).status).toBe('reversing');
    // Partly refunded: back to posted once the 300 USD is off the trading account.
    const partly = await t.until(d.id, ['posted']);
    expect(partly.refundedMinor).toBe(30_000);
    await expectLedgerEqualsServer(c, 70_000);

    await t.psp.control('POST', `/control/payments/${d.pspPaymentId}/chargeback`, {});
    await t.psp.psp.webhooksIdle();
    const done = await t.until(d.id, ['charged_back']);
    expect(done.refundedMinor).toBe(100_000);
    const ops = await operationsOf(d.id);
    expect(ops.map((o) => [o.handler, o.status, (o.payload as { amount: number }).amount])).toEqual([
      ['funding.deposit', 'succeeded', 100_000],
      ['funding.reversal', 'succeeded', -30_000],
      ['funding.reversal', 'succeeded', -70_000],
    ]);
    const deals = await serverDeals(c.login);
    expect(deals.map((x) => x.reference)).toEqual(ops.map((o) => o.reference));
    await expectLedgerEqualsServer(c, 0);
    const flags = await t.database.db.select().from(clientFlags).where(eq(clientFlags.clientId, c.clientId));
    expect(flags.map((f) => f.kind).sort()).toEqual(['chargeback', 'refund']);
    // Each server call was made once: no attempt was repeated.
    const attempts = await t.database.db
      .select()
      .from(operationAttempts)
      .where(
        inArray(
          operationAttempts.operationId,
          ops.map((o) => o.id),
        ),
      );
    expect(attempts.map((a) => `${a.action}:${a.outcome}`)).toEqual(['post:ok', 'post:ok', 'post:ok']);
    const movement = (await t.database.db.select().from(moneyMovements).where(eq(moneyMovements.id, d.id)))[0]!;
    expect(movement.status).toBe('charged_back');
  });

  it('a chargeback that arrives before the deposit reached the server ends charged_back once it lands', async () => {
    const c = await t.fundedClient();
    const d = await start(c, 40_000);
    // Succeeded and charged back arrive before the engine has posted the deposit.
    for (const o of [{}, { type: 'payment.charged_back', status: 'charged_back', chargedBack: 40_000 }]) {
      const body = paymentEvent(d, o);
      expect((await send(body, sign(body))).statusCode).toBe(200);
    }
    expect((await t.movement(d.id)).status).toBe('approved');
    const done = await t.until(d.id, ['charged_back']);
    expect(done.refundedMinor).toBe(40_000);
    const ops = await operationsOf(d.id);
    expect(ops.map((o) => [o.handler, o.status, (o.payload as { note?: string }).note])).toEqual([
      ['funding.deposit', 'succeeded', 'deposit'],
      ['funding.reversal', 'succeeded', 'chargeback'],
    ]);
    await expectLedgerEqualsServer(c, 0);
  });

  it('two refunds in flight: the first reversal does not settle the status; the second failing is reversal_failed', async () => {
    const c = await t.fundedClient();
    const d = await start(c, 100_000);
    const paid = paymentEvent(d);
    await send(paid, sign(paid));
    await t.until(d.id, ['posted']);
    for (const refunded of [30_000, 100_000]) {
      const body = paymentEvent(d, { type: 'payment.refunded', status: 'refunded', refunded });
      expect((await send(body, sign(body))).statusCode).toBe(200);
    }
    const [, first, second] = await operationsOf(d.id);
    expect([first!.status, second!.status]).toEqual(['pending', 'pending']);
    // Only the first reversal runs (operations on one account run in order, one at a time).
    expect(await t.engine.runOnce(1)).toBe(1);
    expect((await operationsOf(d.id))[1]!.status).toBe('succeeded');
    expect((await t.movement(d.id)).status).toBe('reversing');
    // Before the second runs, a dealer pays the rest out by phone: the server refuses the second reversal.
    await control(t.live, 'POST', '/control/dealer/balance', {
      login: c.login,
      amount: -700,
      type: 'balance',
      comment: 'paid out by phone',
    });
    const failed = await t.until(d.id, ['reversal_failed']);
    expect(failed.failureReason).toContain('700.00 USD');
    const owed = await t.database.db
      .select()
      .from(alerts)
      .where(and(eq(alerts.kind, 'client_owes_money'), sql`${alerts.details}->>'movementId' = ${d.id}`));
    expect(owed).toHaveLength(1);
  });
});
