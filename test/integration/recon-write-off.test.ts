/**
 * Write-offs with maker-checker. A dealer re-posts a client's deposit by hand with the same comment (so with the
 * deposit's reference): the server holds the money twice, the CRM once. The reconciliation shows a duplicate and the
 * account's balance drift. Finance writes the duplicate off: one staff member asks, another approves, which posts
 * the difference against `write_offs` and makes the ledger equal the server again; the drift then clears by itself
 * in the next run. A second request while one waits, the requester deciding, a role without the permission and a
 * rejection without a reason are all refused; so is a write-off of the drift, the same money (see
 * recon-write-off-overlap.test.ts).
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, operations, reconBreaks } from '../../src/db/schema.ts';
import { clientVisibleBalance, ledgerBalance } from '../../src/modules/ledger/service.ts';
import { LIVE } from '../support/accounts-testbed.ts';
import { type FundingTestbed, fundingTestbed } from '../support/funding-testbed.ts';
import { expectLedgerBalanced } from '../support/ledger.ts';
import { reconDay } from '../support/recon.ts';
import { control } from '../support/simulators.ts';

describe('write-offs: requested by one staff member, approved by another', () => {
  let t: FundingTestbed;
  let financeA: string;
  let financeB: string;
  let compliance: string;

  beforeAll(async () => {
    t = await fundingTestbed();
    financeA = await t.staffCookie(['finance']);
    financeB = await t.staffCookie(['finance']);
    compliance = await t.staffCookie(['compliance']);
  });
  afterAll(async () => {
    await t?.close();
  });

  const api = (method: 'GET' | 'POST', url: string, cookie: string, payload?: unknown) =>
    t.app.inject({ method, url: `/api/backoffice${url}`, headers: { cookie }, payload: payload as never });
  const breakByKey = async (key: string) =>
    (await t.database.db.select().from(reconBreaks).where(eq(reconBreaks.key, key)))[0]!;

  it('writes off a duplicate posted on the server; the drift it caused clears in the next run', async () => {
    const c = await t.fundedClient();
    const deposit = await t.deposit(c.cookie, c.accountId, 20_000);
    const movement = await t.until(deposit.movementId, ['posted']);
    const [op] = await t.database.db.select().from(operations).where(eq(operations.id, movement.operationId!));

    // The dealer "re-applies" the deposit by hand, copying its comment.
    await control(t.live, 'POST', '/control/dealer/balance', {
      login: c.login,
      amount: 200,
      type: 'balance',
      comment: op!.reference,
    });

    const day = reconDay(t);
    const run = await day.run(0);
    expect(run.summary).toMatchObject({ byClass: { duplicate: 1, balance_drift: 1 }, open: 2 });
    const duplicate = await breakByKey(`duplicate:server:${LIVE}:${op!.reference}`);
    expect(duplicate).toMatchObject({
      class: 'duplicate',
      operationId: op!.id,
      movementId: deposit.movementId,
      tradingAccountId: c.accountId,
      crmAmountMinor: 20_000,
      otherAmountMinor: 40_000,
      differenceMinor: 20_000,
    });
    expect((duplicate.details as { count: number }).count).toBe(2);
    const drift = await breakByKey(`balance_drift:${LIVE}:${c.login}`);
    expect(drift).toMatchObject({ crmAmountMinor: 20_000, otherAmountMinor: 40_000, differenceMinor: 20_000 });

    // The maker asks.
    const reason = 'dealer re-posted deposit by mistake; client keeps it as a goodwill gesture (ticket OPS-118)';
    const asked = await api('POST', `/recon/breaks/${duplicate.id}/write-offs`, financeA, { reason });
    expect(asked.statusCode, asked.body).toBe(201);
    const writeOff = asked.json().writeOff;
    expect(writeOff).toMatchObject({ status: 'requested', amountMinor: 20_000, currency: 'USD', reason });
    expect(writeOff.lines).toEqual([
      { account: { type: 'trading_account', ownerId: c.accountId, currency: 'USD' }, amountMinor: -20_000 },
      { account: { type: 'write_offs', currency: 'USD' }, amountMinor: 20_000 },
    ]);
    const twice = await api('POST', `/recon/breaks/${duplicate.id}/write-offs`, financeB, { reason });
    expect(twice.json().code).toBe('RECON_WRITE_OFF_PENDING');
    const pending = await api('GET', '/recon/write-offs', compliance);
    expect(pending.json().items.map((i: { writeOff: { id: string } }) => i.writeOff.id)).toEqual([writeOff.id]);

    // Nobody decides their own request; compliance may read but not approve; a rejection needs a reason.
    const self = await api('POST', `/recon/write-offs/${writeOff.id}/decision`, financeA, { decision: 'approve' });
    expect(self.statusCode).toBe(403);
    expect(self.json().code).toBe('RECON_SAME_STAFF');
    const noRight = await api('POST', `/recon/write-offs/${writeOff.id}/decision`, compliance, { decision: 'approve' });
    expect(noRight.statusCode).toBe(403);
    expect(noRight.json().code).toBe('FORBIDDEN');
    const silent = await api('POST', `/recon/write-offs/${writeOff.id}/decision`, financeB, { decision: 'reject' });
    expect(silent.statusCode).toBe(400);
    expect(await ledgerBalance(t.database.db, { type: 'write_offs', currency: 'USD' })).toBe(0);

    // The checker approves: one ledger transaction against write_offs; the ledger equals the server again.
    const approved = await api('POST', `/recon/write-offs/${writeOff.id}/decision`, financeB, { decision: 'approve' });
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json().writeOff).toMatchObject({ status: 'approved' });
    expect(approved.json().writeOff.ledgerTransactionId).toBeTruthy();
    expect(await ledgerBalance(t.database.db, { type: 'write_offs', currency: 'USD' })).toBe(20_000);
    expect(
      await clientVisibleBalance(t.database.db, { type: 'trading_account', ownerId: c.accountId, currency: 'USD' }),
    ).toBe(40_000);
    expect(await breakByKey(duplicate.key)).toMatchObject({ status: 'resolved', resolution: 'written_off' });
    const decidedAgain = await api('POST', `/recon/write-offs/${writeOff.id}/decision`, financeA, {
      decision: 'reject',
      comment: 'too late',
    });
    expect(decidedAgain.json().code).toBe('RECON_WRITE_OFF_DECIDED');
    const audit = await t.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.entityType, 'recon_write_off'), eq(auditEvents.entityId, writeOff.id)));
    expect(audit.map((e) => e.action)).toEqual(['recon.write_off_requested', 'recon.write_off_approved']);

    // A write-off of the drift would be the same money again: refused until a run has seen the account again.
    const driftAsk = await api('POST', `/recon/breaks/${drift.id}/write-offs`, financeA, { reason: 'same money' });
    expect(driftAsk.statusCode).toBe(409);
    expect(driftAsk.json().code).toBe('RECON_WRITE_OFF_OVERLAP');
    expect(await breakByKey(drift.key)).toMatchObject({ status: 'open' });

    // The next run: the duplicate is still on the server but stays written off; the drift is gone.
    const next = await day.run(1);
    expect(next.summary).toMatchObject({ open: 0, cleared: 1 });
    expect(await breakByKey(drift.key)).toMatchObject({ status: 'resolved', resolution: 'cleared' });
    // A day later: the sessions of yesterday have expired.
    compliance = await t.staffCookie(['compliance']);
    financeA = await t.staffCookie(['finance']);
    const detail = await api('GET', `/recon/breaks/${duplicate.id}`, compliance);
    expect(detail.json().events.map((e: { action: string }) => e.action)).toEqual([
      'opened',
      'write_off_requested',
      'written_off',
    ]);
    expect(detail.json().records).toHaveLength(2);
    await expectLedgerBalanced(t.database.db);
  });

  it('refuses to write off money that never reached the server', async () => {
    const [b] = await t.database.db
      .insert(reconBreaks)
      .values({
        key: 'missing_on_server:BD-DEP-TEST00000000',
        class: 'missing_on_server',
        side: 'server',
        status: 'open',
        currency: 'USD',
        differenceMinor: -1_000,
        subjectAt: t.clock.now(),
        firstSeenRunId: '00000000-0000-4000-8000-000000000001',
        firstSeenAt: t.clock.now(),
        lastSeenRunId: '00000000-0000-4000-8000-000000000001',
        lastSeenAt: t.clock.now(),
        lastSeenCutoff: t.clock.now(),
        updatedAt: t.clock.now(),
      })
      .returning();
    const r = await api('POST', `/recon/breaks/${b!.id}/write-offs`, financeA, { reason: 'give up on it' });
    expect(r.statusCode).toBe(409);
    expect(r.json().code).toBe('RECON_WRITE_OFF_NOT_APPLICABLE');
    expect(r.json().message).toContain('retry the operation');
  });
});
