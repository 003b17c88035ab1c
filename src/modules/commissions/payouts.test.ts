/**
 * What a partner can be paid: what the broker owes (ib_payable) less payouts asked for and not yet paid, read as one
 * consistent picture even while another payout is being paid.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { ManualClock } from '../../clock.ts';
import type { Executor } from '../../db/connect.ts';
import { ibPayouts } from '../../db/schema.ts';
import { Sealer } from '../../operations/sealed.ts';
import { AlertService } from '../alerts/service.ts';
import { recordAudit } from '../audit/service.ts';
import { postLedgerTransaction } from '../ledger/service.ts';
import { addPartner } from './fixtures.test-support.ts';
import { IbPayoutService } from './payouts.ts';

describe('IB payouts: the amount available', () => {
  let db: TestDatabase;
  const clock = new ManualClock(new Date('2025-04-02T00:00:00Z'));
  let payouts: IbPayoutService;

  beforeAll(async () => {
    db = await createTestDatabase();
    payouts = new IbPayoutService({
      database: db,
      clock,
      audit: { record: (tx, entry) => recordAudit(tx, entry, clock) },
      alerts: new AlertService({ clock }),
      sealer: new Sealer(Sealer.generateKey()),
    });
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('is not inflated by a payout paid between reading what is owed and what is open', async () => {
    const partnerId = await addPartner(db, clock, 'Payee');
    const ib = { type: 'ib_payable' as const, ownerId: partnerId, currency: 'USD' };
    await postLedgerTransaction(
      db.db,
      {
        kind: 'commission.accrual',
        description: 'earned',
        lines: [
          { account: ib, amountMinor: -10_000 },
          { account: { type: 'broker_revenue', currency: 'USD' }, amountMinor: 10_000 },
        ],
        idempotencyKey: `test:${partnerId}`,
        createdBy: 'test',
      },
      clock,
    );
    const [first] = await db.db
      .insert(ibPayouts)
      .values({
        partnerId,
        amountMinor: 10_000,
        currency: 'USD',
        destination: 'wallet',
        wallet: { method: 'bank_transfer', account: 'DE00 0000', note: null },
        status: 'approved',
        requestedByType: 'partner',
        requestedById: partnerId,
        createdAt: clock.now(),
        updatedAt: clock.now(),
      })
      .returning();
    expect(await payouts.available(db.db, partnerId, 'USD')).toBe(0);

    // The first payout is paid (ledger and status, committed) right after the first statement the check runs.
    let statements = 0;
    const racing = new Proxy(db.db, {
      get(target, prop, receiver) {
        if (prop !== 'execute') return Reflect.get(target, prop, receiver);
        return async (query: Parameters<Executor['execute']>[0]) => {
          const result = await target.execute(query);
          if (++statements === 1) {
            await db.db.transaction(async (tx) => {
              await postLedgerTransaction(
                tx,
                {
                  kind: 'ib_payout.wallet',
                  description: 'paid',
                  lines: [
                    { account: ib, amountMinor: 10_000 },
                    {
                      account: { type: 'payouts_pending', ownerId: 'ib-wallet', currency: 'USD' },
                      amountMinor: -10_000,
                    },
                  ],
                  idempotencyKey: `ib_payout:${first!.id}`,
                  createdBy: 'test',
                },
                clock,
              );
              await tx.execute(sql`update ib_payouts set status = 'paid' where id = ${first!.id}`);
            });
          }
          return result;
        };
      },
    }) as Executor;
    expect(await payouts.available(racing, partnerId, 'USD')).toBe(0);
  });
});
