import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FundingTestbed, fundingTestbed } from '../../../test/support/funding-testbed.ts';
import { expectLedgerBalanced } from '../../../test/support/ledger.ts';
import { TEST_CARDS } from '../../../test/support/psp.ts';
import { clientVisibleBalance } from '../ledger/service.ts';

describe('deposits through the PSP sandbox onto MT5', () => {
  let t: FundingTestbed;
  beforeAll(async () => {
    t = await fundingTestbed();
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(async () => {
    await expectLedgerBalanced(t.database.db);
  });

  const serverBalance = async (login: number) =>
    Math.round(Number((await t.simAccount(t.live, login)).account.Balance) * 100);
  const ledgerBalance = (accountId: string) =>
    clientVisibleBalance(t.database.db, { type: 'trading_account', ownerId: accountId, currency: 'USD' });

  it('pays on the hosted page, is approved by the signed webhook, posted on the server, and the ledger matches', async () => {
    const c = await t.fundedClient();
    const { movementId } = await t.deposit(c.cookie, c.accountId, 200_000);
    const posted = await t.until(movementId, ['posted']);
    expect(posted.ticket).toBeTruthy();
    expect(await serverBalance(c.login)).toBe(200_000);
    expect(await ledgerBalance(c.accountId)).toBe(200_000);

    const view = await t.app.inject({ url: `/api/portal/movements/${movementId}`, headers: { cookie: c.cookie } });
    expect(view.statusCode).toBe(200);
    const body = view.json();
    expect(body.movement.status).toBe('posted');
    expect(body.entries.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(['deposit.requested', 'payment.succeeded', 'deposit.posted']),
    );
    expect(body.summary).toContain('2000.00 USD');
  });

  it('a declined card leaves nothing on the server and nothing in the ledger', async () => {
    const c = await t.fundedClient();
    const { movementId } = await t.deposit(c.cookie, c.accountId, 5_000, TEST_CARDS.declined);
    const failed = await t.until(movementId, ['payment_failed']);
    expect(failed.failureReason).toContain('card declined');
    expect(await serverBalance(c.login)).toBe(0);
    expect(await ledgerBalance(c.accountId)).toBe(0);
  });
});
