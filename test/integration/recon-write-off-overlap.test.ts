/**
 * One copy of a deposit made by hand on the server shows twice in a run: as a duplicate (two records with one
 * reference) and as the account's balance drift (the server holds 200.00 more than the ledger). Both are the same
 * money. Once the duplicate is written off, the drift cannot be, until a run has looked at the account again (and the
 * reverse): otherwise 200.00 would be written off twice and the ledger would then disagree with the server.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations, reconBreaks } from '../../src/db/schema.ts';
import { clientVisibleBalance, ledgerBalance } from '../../src/modules/ledger/service.ts';
import { LIVE } from '../support/accounts-testbed.ts';
import { type FundingTestbed, fundingTestbed } from '../support/funding-testbed.ts';
import { expectLedgerBalanced } from '../support/ledger.ts';
import { reconDay } from '../support/recon.ts';
import { control } from '../support/simulators.ts';

describe('write-offs of a duplicate and of the drift it causes', () => {
  let t: FundingTestbed;

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

  it('writes the same money off once: with the duplicate written off, the drift waits for the next run', async () => {
    const c = await t.fundedClient();
    const deposit = await t.deposit(c.cookie, c.accountId, 20_000);
    const movement = await t.until(deposit.movementId, ['posted']);
    const [op] = await t.database.db.select().from(operations).where(eq(operations.id, movement.operationId!));
    const day = reconDay(t);
    await control(t.live, 'POST', '/control/dealer/balance', {
      login: c.login,
      amount: 200,
      type: 'balance',
      comment: op!.reference,
    });
    const first = await day.run(0);
    expect(first.summary).toMatchObject({ byClass: { duplicate: 1, balance_drift: 1 }, open: 2 });
    const duplicate = await breakByKey(`duplicate:server:${LIVE}:${op!.reference}`);
    const drift = await breakByKey(`balance_drift:${LIVE}:${c.login}`);
    expect(duplicate.differenceMinor).toBe(20_000);
    expect(drift.differenceMinor).toBe(20_000);

    // Two makers ask for both write-offs before anyone approves: both requests are taken.
    const maker = await t.staffCookie(['finance']);
    const checker = await t.staffCookie(['finance']);
    const askDuplicate = await api('POST', `/recon/breaks/${duplicate.id}/write-offs`, maker, {
      reason: 'client keeps the copy (OPS-310)',
    });
    expect(askDuplicate.statusCode, askDuplicate.body).toBe(201);
    const askDrift = await api('POST', `/recon/breaks/${drift.id}/write-offs`, maker, {
      reason: 'server holds more than the ledger (OPS-311)',
    });
    expect(askDrift.statusCode, askDrift.body).toBe(201);

    // The duplicate's is approved: the ledger now equals the server.
    const approved = await api('POST', `/recon/write-offs/${askDuplicate.json().writeOff.id}/decision`, checker, {
      decision: 'approve',
    });
    expect(approved.statusCode, approved.body).toBe(200);
    const trading = { type: 'trading_account' as const, ownerId: c.accountId, currency: 'USD' };
    expect(await clientVisibleBalance(t.database.db, trading)).toBe(40_000);
    const writtenOff = await ledgerBalance(t.database.db, { type: 'write_offs', currency: 'USD' });

    // The drift's would write the same 200.00 off again: refused, and nothing is posted.
    const twice = await api('POST', `/recon/write-offs/${askDrift.json().writeOff.id}/decision`, checker, {
      decision: 'approve',
    });
    expect(twice.statusCode).toBe(409);
    expect(twice.json()).toMatchObject({ code: 'RECON_WRITE_OFF_OVERLAP' });
    expect(twice.json().message).toContain('run the reconciliation again');
    expect(await ledgerBalance(t.database.db, { type: 'write_offs', currency: 'USD' })).toBe(writtenOff);
    expect(await clientVisibleBalance(t.database.db, trading)).toBe(40_000);
    // Rejected, it makes way for a new request, which is refused as well, with the same advice.
    const rejected = await api('POST', `/recon/write-offs/${askDrift.json().writeOff.id}/decision`, checker, {
      decision: 'reject',
      comment: 'same money as the duplicate',
    });
    expect(rejected.statusCode, rejected.body).toBe(200);
    expect(await breakByKey(drift.key)).toMatchObject({ status: 'open' });
    const again = await api('POST', `/recon/breaks/${drift.id}/write-offs`, maker, { reason: 'try once more' });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('RECON_WRITE_OFF_OVERLAP');

    // The next run looks at the account again: no drift left, the duplicate stays written off.
    const next = await day.run(1);
    expect(next.summary).toMatchObject({ open: 0, cleared: 1 });
    expect(await breakByKey(drift.key)).toMatchObject({ status: 'resolved', resolution: 'cleared' });
    expect(await breakByKey(duplicate.key)).toMatchObject({ status: 'resolved', resolution: 'written_off' });
    await expectLedgerBalanced(t.database.db);
  });
});
