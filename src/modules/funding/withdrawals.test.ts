/**
 * Withdrawals end to end, on the funding testbed (real MT5 simulator, real PSP sandbox, real HTTP app): the checks
 * before a request is accepted, approval with maker-checker, the negative balance operation, the payout through the
 * PSP and its signed webhook, and what happens when the server refuses the debit or the payout fails. At every step
 * the trading server and the ledger must agree, and the client's timeline must say where the money is.
 */
import { and, count, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FundingTestbed, fundingTestbed } from '../../../test/support/funding-testbed.ts';
import { expectLedgerBalanced } from '../../../test/support/ledger.ts';
import { control } from '../../../test/support/simulators.ts';
import { moneyMovements, movementApprovals, operations, tradingAccounts } from '../../db/schema.ts';
import { clientVisibleBalance, ledgerEntriesFor } from '../ledger/service.ts';

type Destination = { type: 'card'; last4: string } | { type: 'bank_account'; iban: string };

const CARD: Destination = { type: 'card', last4: '4242' };
/** The sandbox fails payouts to a destination ending in 0002 (sim/psp/README.md). */
const FAILING_CARD: Destination = { type: 'card', last4: '0002' };

describe('withdrawals: request, approval, debit on MT5, payout through the PSP sandbox', () => {
  let t: FundingTestbed;
  let financeA: string;
  let financeB: string;
  beforeAll(async () => {
    t = await fundingTestbed();
    financeA = await t.staffCookie(['finance']);
    financeB = await t.staffCookie(['finance']);
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(async () => {
    await expectLedgerBalanced(t.database.db);
    await t.psp.control('DELETE', '/control/faults');
  });

  // --- helpers -------------------------------------------------------------------------------------------------------

  const minor = (value: string | undefined) => Math.round(Number(value) * 100);
  const server = async (login: number) => {
    const a = (await t.simAccount(t.live, login)).account as Record<string, string>;
    return { balance: minor(a.Balance), credit: minor(a.Credit), freeMargin: minor(a.MarginFree) };
  };
  const ledger = (accountId: string, type: 'trading_account' | 'trading_credit' = 'trading_account') =>
    clientVisibleBalance(t.database.db, { type, ownerId: accountId, currency: 'USD' });
  /** The movement's ledger lines as `kind account-type amount`, in posting order. */
  const postings = async (movementId: string) =>
    (await ledgerEntriesFor(t.database.db, { transactionCorrelation: { movementId } })).map(
      (e) => `${e.kind} ${e.account.type} ${e.amountMinor}`,
    );
  const operationsOf = (movementId: string) =>
    t.database.db.select().from(operations).where(eq(operations.correlationId, movementId));
  const withdrawalsOn = async (accountId: string) =>
    (
      await t.database.db
        .select({ n: count() })
        .from(moneyMovements)
        .where(and(eq(moneyMovements.tradingAccountId, accountId), eq(moneyMovements.kind, 'withdrawal')))
    )[0]!.n;

  const funded = async (amountMinor: number) => {
    const c = await t.fundedClient();
    const { movementId } = await t.deposit(c.cookie, c.accountId, amountMinor);
    await t.until(movementId, ['posted']);
    expect((await server(c.login)).balance).toBe(amountMinor);
    return c;
  };

  // The portal limits withdrawal requests per IP and minute; each request here comes from its own address so the
  // limit never decides a test.
  let ip = 0;
  const withdraw = (cookie: string, body: Record<string, unknown>) =>
    t.app.inject({
      method: 'POST',
      url: '/api/portal/withdrawals',
      headers: { cookie },
      payload: body,
      remoteAddress: `10.1.${Math.floor(++ip / 250)}.${(ip % 250) + 1}`,
    });
  const requestWithdrawal = async (
    c: { cookie: string; accountId: string },
    amountMinor: number,
    destination: Destination = CARD,
  ) => {
    const r = await withdraw(c.cookie, { accountId: c.accountId, amountMinor, destination });
    expect(r.statusCode, r.body).toBe(201);
    const { movement } = r.json() as { movement: { id: string; status: string } };
    expect(movement.status).toBe('requested');
    return movement.id;
  };
  const decide = (cookie: string, movementId: string, body: Record<string, unknown>) =>
    t.app.inject({
      method: 'POST',
      url: `/api/backoffice/movements/${movementId}/decision`,
      headers: { cookie },
      payload: body,
    });
  const approve = async (cookie: string, movementId: string, expected: string) => {
    const r = await decide(cookie, movementId, { decision: 'approve' });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json().movement.status).toBe(expected);
  };
  const clientView = async (cookie: string, movementId: string) => {
    const r = await t.app.inject({ url: `/api/portal/movements/${movementId}`, headers: { cookie } });
    expect(r.statusCode, r.body).toBe(200);
    return r.json() as {
      movement: { status: string; failureReason: string | null };
      summary: string;
      entries: { type: string; source: string; message: string }[];
    };
  };
  /** The worker's payout round, then the payout the sandbox holds for the movement. */
  const dispatch = async (movementId: string) => {
    await t.ctx.funding.dispatchPayouts();
    const m = await t.movement(movementId);
    expect(m.status).toBe('payout_pending');
    expect(m.pspPayoutId).toBeTruthy();
    return m.pspPayoutId!;
  };
  const resolvePayout = (payoutId: string, body: Record<string, unknown> = {}) =>
    t.psp.control('POST', `/control/payouts/${payoutId}/resolve`, body);

  // --- checks before a request is accepted ---------------------------------------------------------------------------

  it('refuses more than min(balance, free margin) read from the server, with the amount available; credit does not count', async () => {
    const c = await funded(200_000);
    // A bonus credit raises free margin above the balance on the server, but it is not the client's money.
    await control(t.live, 'POST', '/control/dealer/balance', { login: c.login, amount: 500, type: 'credit' });
    expect(await server(c.login)).toMatchObject({ balance: 200_000, credit: 50_000, freeMargin: 250_000 });
    const overBalance = await withdraw(c.cookie, { accountId: c.accountId, amountMinor: 200_001, destination: CARD });
    expect(overBalance.statusCode, overBalance.body).toBe(422);
    expect(overBalance.json()).toMatchObject({
      code: 'INSUFFICIENT_FREE_MARGIN',
      details: { availableMinor: 200_000, currency: 'USD' },
    });
    expect(overBalance.json().message).toContain('2000.00 USD');

    // An open position takes margin: now free margin, not the balance, is the limit.
    await control(t.live, 'POST', '/control/dealer/trade', { login: c.login, symbol: 'EURUSD', side: 'buy', lots: 1 });
    const now = await server(c.login);
    const available = Math.min(now.balance, now.freeMargin);
    expect(now.freeMargin).toBeLessThan(now.balance);
    expect(available).toBeGreaterThan(0);
    const overMargin = await withdraw(c.cookie, {
      accountId: c.accountId,
      amountMinor: available + 1,
      destination: CARD,
    });
    expect(overMargin.statusCode, overMargin.body).toBe(422);
    expect(overMargin.json()).toMatchObject({
      code: 'INSUFFICIENT_FREE_MARGIN',
      details: { availableMinor: available, currency: 'USD' },
    });
    expect(await withdrawalsOn(c.accountId)).toBe(0);

    // Exactly the available amount is accepted (and then cancelled: nothing moves).
    const id = await requestWithdrawal(c, available);
    const cancelled = await t.app.inject({
      method: 'POST',
      url: `/api/portal/withdrawals/${id}/cancel`,
      headers: { cookie: c.cookie },
    });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(await postings(id)).toEqual([]);
  });

  it('refuses without approved KYC (403), on a demo account, on another client’s account (404), and a second open request (409)', async () => {
    // KYC pending, yet the account is funded: the refusal is about identity, not money.
    const pendingKyc = await t.addClient({ kycStatus: 'pending' });
    const pendingAccount = await t.openAccount(pendingKyc);
    const pendingCookie = await t.clientCookie(pendingKyc);
    const dep = await t.deposit(pendingCookie, pendingAccount.accountId, 50_000);
    await t.until(dep.movementId, ['posted']);
    const kyc = await withdraw(pendingCookie, {
      accountId: pendingAccount.accountId,
      amountMinor: 10_000,
      destination: CARD,
    });
    expect(kyc.statusCode, kyc.body).toBe(403);
    expect(kyc.json().code).toBe('KYC_NOT_APPROVED');
    expect(await withdrawalsOn(pendingAccount.accountId)).toBe(0);

    const c = await funded(100_000);
    // A demo account holds no real money, even with a demo deposit on it.
    const demoProduct = await t.product({
      environment: 'demo',
      serverCode: 'mt5-demo',
      groupName: 'demo\\standard-usd',
      demoDeposit: 1_000_000,
    });
    const { account: demo } = await t.accounts.request(c.clientId, { productId: demoProduct });
    await t.engine.drain();
    const [demoRow] = await t.database.db.select().from(tradingAccounts).where(eq(tradingAccounts.id, demo.id));
    expect(demoRow?.status).toBe('open');
    const onDemo = await withdraw(c.cookie, { accountId: demo.id, amountMinor: 10_000, destination: CARD });
    expect(onDemo.statusCode, onDemo.body).toBe(409);
    expect(onDemo.json().code).toBe('ACCOUNT_IS_DEMO');

    // Another client's account: "not found", so account ids cannot be probed.
    const other = await funded(100_000);
    const foreign = await withdraw(c.cookie, { accountId: other.accountId, amountMinor: 10_000, destination: CARD });
    expect(foreign.statusCode, foreign.body).toBe(404);
    expect(foreign.json().code).toBe('ACCOUNT_NOT_FOUND');
    expect(await withdrawalsOn(other.accountId)).toBe(0);

    // One open request per account.
    const first = await requestWithdrawal(c, 10_000);
    const second = await withdraw(c.cookie, { accountId: c.accountId, amountMinor: 5_000, destination: CARD });
    expect(second.statusCode, second.body).toBe(409);
    expect(second.json().code).toBe('WITHDRAWAL_ALREADY_OPEN');
    expect(await withdrawalsOn(c.accountId)).toBe(1);

    // The other client cannot cancel it; the owner can, while nobody has approved it.
    const cancel = (cookie: string, id: string) =>
      t.app.inject({ method: 'POST', url: `/api/portal/withdrawals/${id}/cancel`, headers: { cookie } });
    const byOther = await cancel(other.cookie, first);
    expect(byOther.statusCode, byOther.body).toBe(404);
    const byOwner = await cancel(c.cookie, first);
    expect(byOwner.statusCode, byOwner.body).toBe(200);
    expect(byOwner.json().movement.status).toBe('cancelled');
    const again = await cancel(c.cookie, first);
    expect(again.statusCode, again.body).toBe(409);
    expect(again.json().code).toBe('NOT_CANCELLABLE');
    const view = await clientView(c.cookie, first);
    expect(view.entries.map((e) => e.type)).toEqual(['withdrawal.requested', 'withdrawal.cancelled']);
    // Finance can no longer approve it.
    const late = await decide(financeA, first, { decision: 'approve' });
    expect(late.statusCode, late.body).toBe(409);
    expect(late.json().code).toBe('NOT_AWAITING_APPROVAL');

    // Cancelling freed the slot; nothing was ever sent to the server.
    const next = await requestWithdrawal(c, 5_000);
    expect(await operationsOf(first)).toEqual([]);
    const dropped = await cancel(c.cookie, next);
    expect(dropped.statusCode, dropped.body).toBe(200);
    expect(await server(c.login)).toMatchObject({ balance: 100_000 });
    expect(await ledger(c.accountId)).toBe(100_000);
  });

  // --- approval, debit, payout ---------------------------------------------------------------------------------------

  it('below the threshold: one approval → debited on the server → payout → signed webhook → completed; server and ledger agree at each step', async () => {
    expect(t.ctx.config.funding.dualApprovalMinor).toBe(100_000);
    const c = await funded(200_000);
    const amount = 99_999; // one minor unit under the dual-approval threshold
    const id = await requestWithdrawal(c, amount);
    expect(await postings(id)).toEqual([]);

    await approve(financeA, id, 'approved');
    const [op] = await operationsOf(id);
    expect(op).toMatchObject({ kind: 'balance', login: c.login });
    expect((op!.payload as { amount: number }).amount).toBe(-amount);
    // Approved, but until the worker runs the operation nothing has moved anywhere.
    expect((await server(c.login)).balance).toBe(200_000);
    expect(await ledger(c.accountId)).toBe(200_000);
    expect(await postings(id)).toEqual([]);

    const debited = await t.until(id, ['debited']);
    expect(debited.ticket).toBeTruthy();
    expect((await server(c.login)).balance).toBe(200_000 - amount);
    expect(await ledger(c.accountId)).toBe(200_000 - amount);
    expect(await postings(id)).toEqual([
      `withdrawal.debited trading_account ${amount}`,
      `withdrawal.debited payouts_pending -${amount}`,
    ]);

    const payoutId = await dispatch(id);
    expect((await server(c.login)).balance).toBe(200_000 - amount);
    expect(await ledger(c.accountId)).toBe(200_000 - amount);
    const payout = await t.psp.control<{ status: string; amount: number; merchantReference: string }>(
      'GET',
      `/control/payouts/${payoutId}`,
    );
    expect(payout).toMatchObject({ status: 'pending', amount, merchantReference: id });
    // A second round does not send it again.
    await t.ctx.funding.dispatchPayouts();
    expect((await t.movement(id)).pspPayoutId).toBe(payoutId);

    await resolvePayout(payoutId, { outcome: 'success' });
    const done = await t.until(id, ['completed']);
    expect(done.completedAt).toBeTruthy();
    expect((await server(c.login)).balance).toBe(200_000 - amount);
    expect(await ledger(c.accountId)).toBe(200_000 - amount);
    // trading_account → payouts_pending → psp_clearing; nothing is left waiting in payouts_pending.
    expect(await postings(id)).toEqual([
      `withdrawal.debited trading_account ${amount}`,
      `withdrawal.debited payouts_pending -${amount}`,
      `withdrawal.paid payouts_pending ${amount}`,
      `withdrawal.paid psp_clearing -${amount}`,
    ]);

    const view = await clientView(c.cookie, id);
    expect(view.movement.status).toBe('completed');
    expect(view.summary).toBe('999.99 USD has been paid out.');
    expect(view.entries.map((e) => e.type)).toEqual(
      expect.arrayContaining([
        'withdrawal.requested',
        'withdrawal.approved',
        'withdrawal.debited',
        'payout.created',
        'payout.succeeded',
      ]),
    );
    // The client's view has no staff ids or PSP internals.
    expect(JSON.stringify(view)).not.toContain(payoutId);

    // The PSP redelivering the same webhook changes nothing.
    const events = await t.psp.control<{ id: string; type: string; body: { data: { id: string } } }[]>(
      'GET',
      '/control/webhooks/events',
    );
    const succeeded = events.find((e) => e.type === 'payout.succeeded' && e.body.data.id === payoutId)!;
    await t.psp.control('POST', `/control/webhooks/events/${succeeded.id}/resend`);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const attempts = await t.psp.control<{ httpStatus: number | null; responseBody: string | null }[]>(
        'GET',
        `/control/webhooks/attempts?eventId=${succeeded.id}`,
      );
      const answers = attempts.filter((a) => a.httpStatus === 200).map((a) => JSON.parse(a.responseBody ?? '{}'));
      if (answers.length >= 2) {
        expect(answers.map((a) => a.outcome)).toEqual(['applied', 'replayed']);
        break;
      }
      if (Date.now() > deadline) throw new Error(`redelivery not acknowledged: ${JSON.stringify(attempts)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(await postings(id)).toHaveLength(4);
    expect((await t.movement(id)).status).toBe('completed');
  });

  it('at or above the threshold: two different approvers; the first one again is refused (ALREADY_DECIDED)', async () => {
    const c = await funded(300_000);
    const id = await requestWithdrawal(c, 100_000);

    await approve(financeA, id, 'awaiting_second_approval');
    // Nothing goes to the server on the first approval.
    expect(await operationsOf(id)).toEqual([]);
    await t.engine.drain();
    expect((await server(c.login)).balance).toBe(300_000);

    const twice = await decide(financeA, id, { decision: 'approve' });
    expect(twice.statusCode, twice.body).toBe(403);
    expect(twice.json().code).toBe('ALREADY_DECIDED');
    expect((await t.movement(id)).status).toBe('awaiting_second_approval');

    await approve(financeB, id, 'approved');
    const approvals = await t.database.db.select().from(movementApprovals).where(eq(movementApprovals.movementId, id));
    expect(approvals).toHaveLength(2);
    expect(new Set(approvals.map((a) => a.staffId)).size).toBe(2);
    expect(approvals.every((a) => a.decision === 'approve')).toBe(true);

    await t.until(id, ['debited']);
    expect((await server(c.login)).balance).toBe(200_000);
    expect(await ledger(c.accountId)).toBe(200_000);
    const payoutId = await dispatch(id);
    await resolvePayout(payoutId);
    await t.until(id, ['completed']);
    expect((await server(c.login)).balance).toBe(200_000);
    expect(await ledger(c.accountId)).toBe(200_000);
    const view = await clientView(c.cookie, id);
    expect(view.entries.map((e) => e.type)).toEqual(
      expect.arrayContaining(['withdrawal.first_approval', 'withdrawal.approved', 'payout.succeeded']),
    );
  });

  it('maker-checker for staff requests: a credit or an adjustment made by A cannot be approved by A (SELF_APPROVAL), but by B', async () => {
    const c = await funded(100_000);
    const request = (kind: 'credits' | 'adjustments', body: Record<string, unknown>) =>
      t.app.inject({ method: 'POST', url: `/api/backoffice/${kind}`, headers: { cookie: financeA }, payload: body });

    const credit = await request('credits', {
      accountId: c.accountId,
      amountMinor: 20_000,
      direction: 'in',
      reason: 'welcome bonus',
    });
    expect(credit.statusCode, credit.body).toBe(201);
    const creditId = credit.json().movement.id as string;
    expect(credit.json().movement.status).toBe('awaiting_approval');
    const self = await decide(financeA, creditId, { decision: 'approve' });
    expect(self.statusCode, self.body).toBe(403);
    expect(self.json().code).toBe('SELF_APPROVAL');
    // Nor may the maker reject it (a decision is a decision).
    const selfReject = await decide(financeA, creditId, { decision: 'reject', comment: 'changed my mind' });
    expect(selfReject.statusCode, selfReject.body).toBe(403);
    expect((await t.movement(creditId)).status).toBe('awaiting_approval');
    expect(await operationsOf(creditId)).toEqual([]);
    await approve(financeB, creditId, 'approved');
    await t.until(creditId, ['posted']);
    expect(await server(c.login)).toMatchObject({ balance: 100_000, credit: 20_000 });
    expect(await ledger(c.accountId, 'trading_credit')).toBe(20_000);

    const adjustment = await request('adjustments', {
      accountId: c.accountId,
      amountMinor: 1_234,
      direction: 'in',
      reason: 'compensation for a platform outage',
    });
    expect(adjustment.statusCode, adjustment.body).toBe(201);
    const adjustmentId = adjustment.json().movement.id as string;
    const selfAdj = await decide(financeA, adjustmentId, { decision: 'approve' });
    expect(selfAdj.statusCode, selfAdj.body).toBe(403);
    expect(selfAdj.json().code).toBe('SELF_APPROVAL');
    await approve(financeB, adjustmentId, 'approved');
    await t.until(adjustmentId, ['posted']);
    expect((await server(c.login)).balance).toBe(101_234);
    expect(await ledger(c.accountId)).toBe(101_234);
  });

  it('a rejection needs a reason, moves no money, and the timeline says why', async () => {
    const c = await funded(100_000);
    const id = await requestWithdrawal(c, 30_000);

    const silent = await decide(financeA, id, { decision: 'reject' });
    expect(silent.statusCode, silent.body).toBe(400);
    expect(silent.json().code).toBe('VALIDATION_FAILED');
    expect(silent.json().message).toContain('comment');
    const tooShort = await decide(financeA, id, { decision: 'reject', comment: '  x ' });
    expect(tooShort.statusCode, tooShort.body).toBe(400);
    expect(await t.database.db.select().from(movementApprovals).where(eq(movementApprovals.movementId, id))).toEqual(
      [],
    );

    const reason = 'the card is not in the client’s name';
    const rejected = await decide(financeA, id, { decision: 'reject', comment: reason });
    expect(rejected.statusCode, rejected.body).toBe(200);
    expect(rejected.json().movement).toMatchObject({ status: 'rejected', failureReason: reason });

    await t.engine.drain();
    expect(await operationsOf(id)).toEqual([]);
    expect(await postings(id)).toEqual([]);
    expect((await server(c.login)).balance).toBe(100_000);
    expect(await ledger(c.accountId)).toBe(100_000);

    const view = await clientView(c.cookie, id);
    expect(view.movement).toMatchObject({ status: 'rejected', failureReason: reason });
    expect(view.summary).toBe(`Not approved: ${reason}.`);
    const note = view.entries.find((e) => e.type === 'withdrawal.rejected');
    expect(note?.message).toBe(`Not approved: ${reason}. No money has moved.`);

    // Decided once: no second decision, and the slot is free for a new request.
    const after = await decide(financeB, id, { decision: 'approve' });
    expect(after.statusCode, after.body).toBe(409);
    expect(after.json().code).toBe('NOT_AWAITING_APPROVAL');
    const next = await requestWithdrawal(c, 10_000);
    const cancelled = await t.app.inject({
      method: 'POST',
      url: `/api/portal/withdrawals/${next}/cancel`,
      headers: { cookie: c.cookie },
    });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
  });

  // --- the server refuses the debit ----------------------------------------------------------------------------------

  it('the money left the account before approval (dealer withdrawal): the server refuses, `failed` with its reason, nothing in the ledger', async () => {
    const c = await funded(200_000);
    const id = await requestWithdrawal(c, 150_000);
    // Between request and approval the client takes 1,000.00 out another way (a dealer's balance operation).
    await control(t.live, 'POST', '/control/dealer/balance', {
      login: c.login,
      amount: -1000,
      type: 'balance',
      comment: 'paid out by phone',
    });
    expect((await server(c.login)).balance).toBe(100_000);

    await approve(financeA, id, 'awaiting_second_approval');
    await approve(financeB, id, 'approved');
    const failed = await t.until(id, ['failed']);
    expect(failed.failureReason).toBe('the trading server refused it (not enough money)');
    const [op] = await operationsOf(id);
    expect(op?.status).toBe('failed');

    expect((await server(c.login)).balance).toBe(100_000);
    expect(await postings(id)).toEqual([]);
    // The ledger did not move: it still shows what the CRM posted (the dealer's change is for reconciliation).
    expect(await ledger(c.accountId)).toBe(200_000);

    const view = await clientView(c.cookie, id);
    expect(view.movement.status).toBe('failed');
    const note = view.entries.find((e) => e.type === 'withdrawal.failed');
    expect(note?.message).toBe(
      'The withdrawal could not be made: the trading server refused it (not enough money). No money left your trading account.',
    );
    // Nothing is dispatched for a failed withdrawal, and a new request may be made.
    await t.ctx.funding.dispatchPayouts();
    expect((await t.movement(id)).pspPayoutId).toBeNull();
    const next = await requestWithdrawal(c, 10_000);
    await t.app.inject({
      method: 'POST',
      url: `/api/portal/withdrawals/${next}/cancel`,
      headers: { cookie: c.cookie },
    });
  });

  it('the client traded the margin away before approval: the server’s margin check refuses the debit', async () => {
    const c = await funded(200_000);
    const id = await requestWithdrawal(c, 99_000);
    // One lot of EURUSD at 1:100 holds about 1,085.00 of margin: less than 990.00 is free afterwards, though the
    // balance alone would still cover the withdrawal.
    await control(t.live, 'POST', '/control/dealer/trade', { login: c.login, symbol: 'EURUSD', side: 'buy', lots: 1 });
    const before = await server(c.login);
    expect(before.freeMargin).toBeLessThan(99_000);
    expect(before.balance).toBeGreaterThan(99_000);

    await approve(financeA, id, 'approved');
    const failed = await t.until(id, ['failed']);
    expect(failed.failureReason).toBe('the trading server refused it (not enough money)');
    expect((await server(c.login)).balance).toBe(before.balance);
    expect(await postings(id)).toEqual([]);
    expect(await ledger(c.accountId)).toBe(200_000);
  });

  // --- the payout fails ----------------------------------------------------------------------------------------------

  it('a payout the PSP fails (declined destination): returning → a positive balance operation → returned; ledger and server agree; the client is told', async () => {
    const c = await funded(200_000);
    const amount = 50_000;
    const id = await requestWithdrawal(c, amount, FAILING_CARD);
    await approve(financeA, id, 'approved');
    await t.until(id, ['debited']);
    expect((await server(c.login)).balance).toBe(150_000);
    const payoutId = await dispatch(id);

    await resolvePayout(payoutId); // the sandbox's planned outcome for ...0002: destination_declined
    const returned = await t.until(id, ['returned']);
    expect(returned.failureReason).toBe('destination declined');
    expect(returned.returnOperationId).toBeTruthy();
    const ops = await operationsOf(id);
    expect(ops.map((o) => [(o.payload as { amount: number }).amount, o.status])).toEqual(
      expect.arrayContaining([
        [-amount, 'succeeded'],
        [amount, 'succeeded'],
      ]),
    );

    expect((await server(c.login)).balance).toBe(200_000);
    expect(await ledger(c.accountId)).toBe(200_000);
    expect(await postings(id)).toEqual([
      `withdrawal.debited trading_account ${amount}`,
      `withdrawal.debited payouts_pending -${amount}`,
      `withdrawal.payout_failed payouts_pending ${amount}`,
      `withdrawal.payout_failed client_funds -${amount}`,
      `withdrawal.returned client_funds ${amount}`,
      `withdrawal.returned trading_account -${amount}`,
    ]);
    expect(
      await clientVisibleBalance(t.database.db, { type: 'client_funds', ownerId: c.clientId, currency: 'USD' }),
    ).toBe(0);

    const view = await clientView(c.cookie, id);
    expect(view.movement.status).toBe('returned');
    expect(view.summary).toBe('The payout of 500.00 USD failed; the money is back in the trading account.');
    const messages = view.entries.map((e) => e.message);
    expect(messages).toEqual(
      expect.arrayContaining([
        'The payout failed (destination declined). The money is being returned to your trading account.',
        '500.00 USD is back in your trading account.',
      ]),
    );
    // Returned is final: the account may ask again.
    const next = await requestWithdrawal(c, 10_000);
    await t.app.inject({
      method: 'POST',
      url: `/api/portal/withdrawals/${next}/cancel`,
      headers: { cookie: c.cookie },
    });
  });

  it('a payout failed through the PSP’s control API, and a payout the PSP refuses outright, are both returned', async () => {
    const c = await funded(200_000);
    const iban = { type: 'bank_account', iban: 'CY17 0020 0128 0000 0012 0052 7600' } as const;
    const first = await requestWithdrawal(c, 40_000, iban);
    await approve(financeA, first, 'approved');
    await t.until(first, ['debited']);
    const payoutId = await dispatch(first);
    const sent = await t.psp.control<{ destination: { iban: string } }>('GET', `/control/payouts/${payoutId}`);
    expect(sent.destination.iban).toBe('CY17002001280000001200527600');
    await resolvePayout(payoutId, { outcome: 'failure', reason: 'account_closed' });
    const returned = await t.until(first, ['returned']);
    expect(returned.failureReason).toBe('account closed');
    expect((await server(c.login)).balance).toBe(200_000);
    expect(await ledger(c.accountId)).toBe(200_000);

    // The PSP is unreachable once (503): the withdrawal stays debited and the next round sends it.
    const second = await requestWithdrawal(c, 30_000);
    await approve(financeA, second, 'approved');
    await t.until(second, ['debited']);
    await t.psp.control('POST', '/control/faults', { endpoint: '/v1/payouts', kind: 'error', code: 503, count: 1 });
    await t.ctx.funding.dispatchPayouts();
    expect((await t.movement(second)).status).toBe('debited');
    // Now the PSP refuses the payout on its merits (4xx): the money is returned at once.
    await t.psp.control('POST', '/control/faults', { endpoint: '/v1/payouts', kind: 'error', code: 422, count: 1 });
    await t.ctx.funding.dispatchPayouts();
    const refused = await t.until(second, ['returned']);
    expect(refused.failureReason).toContain('the payment provider refused the payout');
    expect(refused.pspPayoutId).toBeNull();
    expect((await server(c.login)).balance).toBe(200_000);
    expect(await ledger(c.accountId)).toBe(200_000);
    const view = await clientView(c.cookie, second);
    expect(view.entries.map((e) => e.type)).toEqual(expect.arrayContaining(['payout.failed', 'withdrawal.returned']));
  });
});
