/**
 * A break resolved by staff is final for what was resolved, not for what happens next under the same key. An
 * account's balance drift is written off (maker-checker); the ledger then agrees with the server and the next run
 * sees nothing. When the same account drifts again later, the run must report it (the break reopens, with an alert),
 * not fold it silently into the old, written-off break. A duplicate written off stays resolved while the server shows
 * the same copies, and reopens when another copy appears. A checker cannot approve a write-off whose break has moved
 * since it was asked for: the amount approved must be the amount the break shows.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alerts, operations, reconBreakEvents, reconBreaks } from '../../src/db/schema.ts';
import { clientVisibleBalance, ledgerBalance } from '../../src/modules/ledger/service.ts';
import type { RunSummary } from '../../src/modules/reconciliation/service.ts';
import { LIVE } from '../support/accounts-testbed.ts';
import { type FundingTestbed, fundingTestbed } from '../support/funding-testbed.ts';
import { expectLedgerBalanced } from '../support/ledger.ts';
import { reconDay } from '../support/recon.ts';
import { control } from '../support/simulators.ts';

describe('a break resolved by staff, seen again with other figures', () => {
  let t: FundingTestbed;
  let maker: string;
  let checker: string;

  beforeAll(async () => {
    t = await fundingTestbed();
  });
  afterAll(async () => {
    await t?.close();
  });

  const api = (method: 'GET' | 'POST', url: string, cookie: string, payload?: unknown) =>
    t.app.inject({ method, url: `/api/backoffice${url}`, headers: { cookie }, payload: payload as never });
  const breakByKey = async (key: string) =>
    (await t.database.db.select().from(reconBreaks).where(eq(reconBreaks.key, key)))[0]!;
  const eventsOf = async (id: string) =>
    (
      await t.database.db
        .select()
        .from(reconBreakEvents)
        .where(eq(reconBreakEvents.breakId, id))
        .orderBy(reconBreakEvents.id)
    ).map((e) => e.action);
  const signIn = async () => {
    maker = await t.staffCookie(['finance']);
    checker = await t.staffCookie(['finance']);
  };
  /** Asked by one finance staff member, approved by another (signed in afresh: the test clock moves by days). */
  async function writeOff(breakId: string, reason: string) {
    await signIn();
    const asked = await api('POST', `/recon/breaks/${breakId}/write-offs`, maker, { reason });
    expect(asked.statusCode, asked.body).toBe(201);
    const id = asked.json().writeOff.id as string;
    const approved = await api('POST', `/recon/write-offs/${id}/decision`, checker, { decision: 'approve' });
    expect(approved.statusCode, approved.body).toBe(200);
  }

  it('reopens a written-off drift and a written-off duplicate when the account drifts again', async () => {
    await signIn();
    const c = await t.fundedClient();
    const deposit = await t.deposit(c.cookie, c.accountId, 20_000);
    const movement = await t.until(deposit.movementId, ['posted']);
    const [op] = await t.database.db.select().from(operations).where(eq(operations.id, movement.operationId!));
    const day = reconDay(t);
    /** A copy made on the server during business day `n` (the simulator's clock moved into that day). */
    const copy = async (n: number) => {
      const at = day.cutoffAt.getTime() + n * 86_400_000 - 30_000;
      await control(t.live, 'POST', '/control/clock', { skewSeconds: Math.round((at - Date.now()) / 1000) });
      await control(t.live, 'POST', '/control/dealer/balance', {
        login: c.login,
        amount: 200,
        type: 'balance',
        comment: op!.reference,
      });
    };
    const driftKey = `balance_drift:${LIVE}:${c.login}`;
    const duplicateKey = `duplicate:server:${LIVE}:${op!.reference}`;

    // The dealer copies the deposit by hand: a duplicate and a drift of 200.00.
    await copy(0);
    const first = await day.run(0);
    expect(first.summary).toMatchObject({ byClass: { duplicate: 1, balance_drift: 1 }, open: 2 });

    // Finance writes the duplicate off (the client keeps the copy): the ledger equals the server again.
    const duplicate = await breakByKey(duplicateKey);
    await writeOff(duplicate.id, 'client keeps the copy as a goodwill gesture (OPS-201)');
    expect(
      await clientVisibleBalance(t.database.db, { type: 'trading_account', ownerId: c.accountId, currency: 'USD' }),
    ).toBe(40_000);

    // The next day: the drift is gone (cleared); the duplicate, a day old, stays written off.
    const quiet = await day.run(1);
    expect(quiet.summary).toMatchObject({ breaks: 0, open: 0, reopened: 0, cleared: 1 });
    expect(await breakByKey(duplicateKey)).toMatchObject({ status: 'resolved', resolution: 'written_off' });

    // The dealer copies it once more: three records, and the account drifts again by 200.00. Both are reported.
    await copy(2);
    await signIn();
    const again = await day.run(2);
    expect(again.summary).toMatchObject({
      byClass: { duplicate: 1, balance_drift: 1 },
      openByClass: { duplicate: 1, balance_drift: 1 },
      open: 2,
      reopened: 2,
    });
    // The third record carries the deposit's reference: part of the duplicate, not a record unknown to the CRM.
    expect((again.summary as RunSummary).byClass).toEqual({ duplicate: 1, balance_drift: 1 });
    expect(await breakByKey(duplicateKey)).toMatchObject({
      status: 'open',
      resolution: null,
      otherAmountMinor: 60_000,
      differenceMinor: 40_000,
    });
    expect(await eventsOf(duplicate.id)).toEqual(['opened', 'write_off_requested', 'written_off', 'reopened']);

    // This time the drift is written off; the next run sees no drift, and the drift stays resolved.
    const drift = await breakByKey(driftKey);
    expect(drift).toMatchObject({ status: 'open', differenceMinor: 20_000 });
    await writeOff(drift.id, 'second copy, client keeps it (OPS-202)');
    const settled = await day.run(3);
    expect(settled.summary).toMatchObject({ byClass: { duplicate: 1 }, open: 1, reopened: 0 });
    expect(await breakByKey(driftKey)).toMatchObject({ status: 'resolved', resolution: 'written_off' });

    // A write-off of the duplicate is asked for at 400.00; then a fourth copy: the account drifts again (the
    // written-off drift reopens, with the day's critical alert) and the duplicate now shows 600.00.
    await signIn();
    const stale = await api('POST', `/recon/breaks/${duplicate.id}/write-offs`, maker, { reason: 'all copies' });
    expect(stale.statusCode, stale.body).toBe(201);
    expect(stale.json().writeOff.amountMinor).toBe(40_000);
    await copy(4);
    const moved = await day.run(4);
    expect(moved.summary).toMatchObject({ openByClass: { duplicate: 1, balance_drift: 1 }, reopened: 1 });
    expect((moved.summary as RunSummary).byClass).toEqual({ duplicate: 1, balance_drift: 1 });
    expect(await breakByKey(driftKey)).toMatchObject({ status: 'open', resolution: null, differenceMinor: 20_000 });
    expect(await eventsOf(drift.id)).toEqual([
      'opened',
      'cleared',
      'reopened',
      'write_off_requested',
      'written_off',
      'reopened',
    ]);
    const [alert] = await t.database.db
      .select()
      .from(alerts)
      .where(eq(alerts.dedupeKey, `recon:${day.dateOf(4)}`));
    expect(alert).toMatchObject({ status: 'open', severity: 'critical' });

    // The checker (signed in afresh, a day later) cannot approve 400.00 for a break that shows 600.00: nothing is
    // posted, the break stays open.
    checker = await t.staffCookie(['finance']);
    expect(await breakByKey(duplicateKey)).toMatchObject({ status: 'open', differenceMinor: 60_000 });
    const writeOffsBefore = await ledgerBalance(t.database.db, { type: 'write_offs', currency: 'USD' });
    const refused = await api('POST', `/recon/write-offs/${stale.json().writeOff.id}/decision`, checker, {
      decision: 'approve',
    });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('RECON_WRITE_OFF_STALE');
    expect(await ledgerBalance(t.database.db, { type: 'write_offs', currency: 'USD' })).toBe(writeOffsBefore);
    expect(await breakByKey(duplicateKey)).toMatchObject({ status: 'open' });
    // Rejected, it makes way for a request at today's figures.
    const rejected = await api('POST', `/recon/write-offs/${stale.json().writeOff.id}/decision`, checker, {
      decision: 'reject',
      comment: 'the break moved; ask again',
    });
    expect(rejected.statusCode, rejected.body).toBe(200);
    await expectLedgerBalanced(t.database.db);
  });
});
