/**
 * Balance drift against an account that trades. The server's balance moves with every closed trade (profit,
 * commission, swap) while the ledger records only money; the reconciliation adds the trading result of the synced
 * deals up to the moment the balance was read. A trading account therefore reconciles with no drift, and an account
 * whose latest deals the run could not sync (the history pass failed) is not judged on a history that stops before
 * its balance: it is skipped with the reason, not reported as drifting. Once history is synced again, it is compared.
 */
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { reconAccountBalances, reconBreaks, tradeRecords } from '../../src/db/schema.ts';
import type { RunSources } from '../../src/modules/reconciliation/service.ts';
import { LIVE } from '../support/accounts-testbed.ts';
import { type FundingTestbed, fundingTestbed } from '../support/funding-testbed.ts';
import { expectLedgerBalanced } from '../support/ledger.ts';
import { reconDay } from '../support/recon.ts';
import { control } from '../support/simulators.ts';

describe('balance drift on an account that trades', () => {
  let t: FundingTestbed;
  beforeAll(async () => {
    t = await fundingTestbed();
  });
  afterEach(async () => {
    await control(t.live, 'DELETE', '/control/faults');
  });
  afterAll(async () => {
    await t?.close();
  });

  /** A round trip by the dealer on the client's behalf: a buy, then its close (two deals, a realised result). */
  async function roundTrip(login: number, lots: number): Promise<void> {
    const opened = (await control(t.live, 'POST', '/control/dealer/trade', {
      login,
      symbol: 'EURUSD',
      side: 'buy',
      lots,
    })) as { deals: { PositionID: string }[] };
    await control(t.live, 'POST', '/control/dealer/trade', {
      login,
      symbol: 'EURUSD',
      side: 'sell',
      lots,
      positionId: Number(opened.deals[0]!.PositionID),
    });
  }

  const serverBalance = async (login: number) =>
    Math.round(Number((await t.simAccount(t.live, login)).account.Balance) * 100);

  it('adds the synced trading result; an account whose deals were not synced is skipped, then compared', async () => {
    const c = await t.fundedClient();
    const d = await t.deposit(c.cookie, c.accountId, 500_000);
    await t.until(d.movementId, ['posted']);
    await roundTrip(c.login, 2);
    const afterFirst = await serverBalance(c.login);
    expect(afterFirst).not.toBe(500_000);

    const day = reconDay(t);
    const first = await day.run(0);
    expect(first.summary).toMatchObject({ breaks: 0, open: 0, accountsCompared: 1, accountsSkipped: 0 });
    const deals = await t.database.db.select().from(tradeRecords).where(eq(tradeRecords.login, c.login));
    expect(deals.filter((r) => r.recordType === 'deal')).toHaveLength(2);

    // Another round trip; the run's history pass fails (the server refuses the deal listing).
    await roundTrip(c.login, 3);
    expect(await serverBalance(c.login)).not.toBe(afterFirst);
    await control(t.live, 'POST', '/control/faults', { endpoint: '/api/deal/get_total', kind: 'error', code: 3 });
    const blind = await day.run(1);
    const sources = blind.sources as RunSources;
    expect(sources.servers[LIVE]?.sync?.status).toBe('failed');
    expect(blind.summary).toMatchObject({ accountsCompared: 0, accountsSkipped: 1 });
    expect(await t.database.db.select().from(reconBreaks)).toEqual([]);
    const [skipped] = await t.database.db
      .select()
      .from(reconAccountBalances)
      .where(eq(reconAccountBalances.runId, blind.id));
    expect(skipped!.skippedReason).toContain('history');

    // History synced again: the account is compared, and agrees.
    await control(t.live, 'DELETE', '/control/faults');
    const next = await day.run(2);
    expect((next.sources as RunSources).servers[LIVE]?.sync?.status).toBe('ok');
    expect(next.summary).toMatchObject({ breaks: 0, open: 0, accountsCompared: 1, accountsSkipped: 0 });
    await expectLedgerBalanced(t.database.db);
  });
});
