/**
 * A break older than the lookback. A deposit's balance operation is refused by the server and waits (the movement
 * stays "posting failed"); the reconciliation reports it as missing on the server every day, also once it is older
 * than RECON_LOOKBACK_DAYS (an operation still waiting is always looked at). When finance finally retries it with its
 * reference and it reaches the server, the next run no longer sees the break and clears it: a break does not stay
 * open for ever because it is old (it could not be resolved any other way: the operation has succeeded, and money
 * missing on a server is never written off).
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations, reconBreakEvents, reconBreaks, tradeRecords } from '../../src/db/schema.ts';
import { retryBreak } from '../../src/modules/reconciliation/resolution.ts';
import type { RunSummary } from '../../src/modules/reconciliation/service.ts';
import { LIVE } from '../support/accounts-testbed.ts';
import { type FundingTestbed, fundingTestbed } from '../support/funding-testbed.ts';
import { expectLedgerBalanced } from '../support/ledger.ts';
import { reconDay } from '../support/recon.ts';
import { control } from '../support/simulators.ts';

describe('a break older than the lookback', () => {
  let t: FundingTestbed;
  beforeAll(async () => {
    t = await fundingTestbed();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is still reported while its operation waits, and clears once the retried operation reaches the server', async () => {
    const c = await t.fundedClient();
    await control(t.live, 'POST', '/control/faults', { endpoint: '/api/trade/balance', kind: 'error', code: 4005 });
    const deposit = await t.deposit(c.cookie, c.accountId, 33_300);
    const waiting = await t.until(deposit.movementId, ['posting_failed', 'approved']);
    await t.engine.drain();
    const [op] = await t.database.db.select().from(operations).where(eq(operations.id, waiting.operationId!));
    expect(['failed', 'needs_review']).toContain(op!.status);
    await control(t.live, 'DELETE', '/control/faults');

    const day = reconDay(t, { lookbackDays: 2 });
    const first = await day.run(0);
    expect((first.summary as RunSummary).byClass).toEqual({ missing_on_server: 1 });
    const key = `missing_on_server:${op!.reference}`;

    // Five days later (beyond the two-day lookback) it is still there.
    const late = await day.run(5);
    expect((late.summary as RunSummary).byClass).toEqual({ missing_on_server: 1 });
    expect(late.horizonStart!.getTime()).toBeGreaterThan(op!.createdAt.getTime());

    const [b] = await t.database.db.select().from(reconBreaks).where(eq(reconBreaks.key, key));
    expect(b).toMatchObject({ status: 'open', operationId: op!.id });
    await retryBreak(day.service, b!.id, 'finance-1');
    await t.until(deposit.movementId, ['posted']);
    // The simulator runs on real time, days behind the test clock: its record is older than the sync cursor, so it is
    // brought in by a backfill. It is then older than the records a run reads (from a day before its horizon), and is
    // found on the account instead.
    await t.ctx.trades.backfill(LIVE, { from: new Date(op!.createdAt.getTime() - 3_600_000) });
    const [record] = await t.database.db.select().from(tradeRecords).where(eq(tradeRecords.reference, op!.reference));
    expect(record).toMatchObject({ recordType: 'balance', amountMinor: 33_300 });

    const next = await day.run(6);
    expect(next.horizonStart!.getTime() - 86_400_000).toBeGreaterThan(record!.time.getTime());
    expect(next.summary).toMatchObject({ breaks: 0, open: 0, cleared: 1 });
    const [after] = await t.database.db.select().from(reconBreaks).where(eq(reconBreaks.key, key));
    expect(after).toMatchObject({ status: 'resolved', resolution: 'cleared', resolvedByRunId: next.id });
    const events = await t.database.db
      .select()
      .from(reconBreakEvents)
      .where(eq(reconBreakEvents.breakId, b!.id))
      .orderBy(reconBreakEvents.id);
    expect(events.map((e) => e.action)).toEqual(['opened', 'retry_requested', 'cleared']);
    await expectLedgerBalanced(t.database.db);
  });
});
