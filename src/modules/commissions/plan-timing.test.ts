/**
 * When plan changes take effect relative to the calculation: a master IB's plan (or a new version of it) may not
 * take effect before sub-IB trades that are already commissioned (their override lines would never be written), and
 * a plan version added while a calculation runs either applies to the trades after it or is refused — never silently
 * ignored by a run that read the plans before it.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { ManualClock } from '../../clock.ts';
import { Sealer } from '../../operations/sealed.ts';
import { AlertService } from '../alerts/service.ts';
import { recordAudit } from '../audit/service.ts';
import { addClientWithAccount, addPartner, addServer, addTrade } from './fixtures.test-support.ts';
import { recompute } from './recompute.ts';
import { CommissionService } from './service.ts';

const MT5 = 'mt5-live';
const FROM = '2025-01-01T00:00:00Z';
const MARCH = { from: new Date('2025-03-01T00:00:00Z'), to: new Date('2025-04-01T00:00:00Z') };

describe('plan changes and the calculation', () => {
  let db: TestDatabase;
  const clock = new ManualClock(new Date('2025-04-02T00:00:00Z'));
  let service: CommissionService;
  let login = 6000;

  const subPlan = async (code: string) =>
    (
      await service.createPlan(
        {
          code,
          name: code,
          currency: 'USD',
          effectiveFrom: FROM,
          rules: { perLot: [{ fromLots: '0', rates: { other: '3' } }] },
        },
        'staff-1',
      )
    ).plan.id;

  /** A master above a sub-IB on a plan, the sub-IB's client, and one closed trade in March, commissioned. */
  async function treeWithCommissionedTrade(code: string, masterPlanId?: string) {
    const master = await addPartner(db, clock, `Master ${code}`);
    if (masterPlanId) {
      await service.assignPlan(master, { planId: masterPlanId, effectiveFrom: FROM, reason: 'onboarding' }, 's');
    }
    const sub = await addPartner(db, clock, `Sub ${code}`, master);
    await service.assignPlan(
      sub,
      { planId: await subPlan(`${code}-sub`), effectiveFrom: FROM, reason: 'onboarding' },
      's',
    );
    login += 1;
    await addClientWithAccount(db, clock, { partnerId: sub, serverCode: MT5, login });
    await addTrade(db, clock, {
      serverCode: MT5,
      login,
      entry: 'out',
      side: 'sell',
      symbol: 'EURUSD',
      lots: 1,
      time: '2025-03-05T10:00:00Z',
    });
    await service.calculate();
    return { master, sub, login };
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    service = new CommissionService({
      database: db,
      clock,
      audit: { record: (tx, entry) => recordAudit(tx, entry, clock) },
      alerts: new AlertService({ clock }),
      sealer: new Sealer(Sealer.generateKey()),
    });
    await addServer(db, MT5, 'mt5');
  });

  afterAll(async () => {
    await db?.drop();
  });

  const overridePlan = { overrides: [{ level: 1, perLot: { other: '1' } }] };

  it('refuses a master IB’s plan taking effect before sub-IB trades already commissioned', async () => {
    const { master } = await treeWithCommissionedTrade('a');
    const plan = (
      await service.createPlan(
        { code: 'a-master', name: 'a', currency: 'USD', effectiveFrom: FROM, rules: overridePlan },
        'staff-1',
      )
    ).plan.id;
    await expect(
      service.assignPlan(master, { planId: plan, effectiveFrom: '2025-03-01T00:00:00Z', reason: 'late' }, 's'),
    ).rejects.toMatchObject({ code: 'ASSIGNMENT_RETROACTIVE' });
    await service.calculate();
    expect((await recompute(db.db, master, MARCH)).differences).toEqual([]);
    // After the commissioned trades it is fine.
    await service.assignPlan(
      master,
      { planId: plan, effectiveFrom: '2025-03-06T00:00:00Z', reason: 'after the trades' },
      's',
    );
  });

  it('refuses a plan version taking effect before trades of the plan’s partners’ sub-IBs already commissioned', async () => {
    const plan = (
      await service.createPlan(
        {
          code: 'b-master',
          name: 'b',
          currency: 'USD',
          effectiveFrom: FROM,
          rules: { perLot: [{ fromLots: '0', rates: { other: '2' } }] },
        },
        'staff-1',
      )
    ).plan.id;
    // The master is on the plan, but its first version pays nothing on sub-IB trades: no line names the plan.
    const { master } = await treeWithCommissionedTrade('b', plan);
    await expect(
      service.addVersion(plan, { rules: overridePlan, effectiveFrom: '2025-03-01T00:00:00Z' }, 'staff-1'),
    ).rejects.toMatchObject({ code: 'VERSION_RETROACTIVE' });
    await service.calculate();
    expect((await recompute(db.db, master, MARCH)).differences).toEqual([]);
  });

  it('a version added while a calculation waits for its turn is applied, or refused: never ignored', async () => {
    const master = await addPartner(db, clock, 'Master c');
    const plan = await subPlan('c-sub');
    await service.assignPlan(master, { planId: plan, effectiveFrom: FROM, reason: 'onboarding' }, 's');
    login += 1;
    await addClientWithAccount(db, clock, { partnerId: master, serverCode: MT5, login });
    await addTrade(db, clock, {
      serverCode: MT5,
      login,
      entry: 'out',
      side: 'sell',
      symbol: 'EURUSD',
      lots: 1,
      time: '2025-03-20T10:00:00Z',
    });
    // Another run's batches hold both shares' locks.
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('select pg_advisory_lock(727311001, 0), pg_advisory_lock(727311001, 1)');
      const run = service.calculate();
      // Wait until the run is queued behind those locks.
      for (const until = Date.now() + 20_000; Date.now() < until; ) {
        const [w] = (
          await other.query<{ n: number }>(
            `select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())`,
          )
        ).rows;
        if (w!.n > 0) break;
        await new Promise((r) => setImmediate(r));
      }
      const version = service
        .addVersion(
          plan,
          { rules: { perLot: [{ fromLots: '0', rates: { other: '9' } }] }, effectiveFrom: '2025-03-10T00:00:00Z' },
          'staff-1',
        )
        .then(
          (v) => v,
          (err: { code?: string }) => err.code,
        );
      await other.query('select pg_advisory_unlock_all()');
      await run;
      await version;
    } finally {
      await other.end();
    }
    await service.calculate();
    expect((await recompute(db.db, master, MARCH)).differences).toEqual([]);
  });
});
