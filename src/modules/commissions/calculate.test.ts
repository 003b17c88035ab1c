/**
 * Commission calculation over a three-level IB tree (master M ← sub-IB S ← sub-sub-IB D) with MT5 deals and MT4
 * closed trades stored as the trade sync stores them: every rule kind, symbol suffixes, partial closes, a hedged
 * close-by, a netting reversal, half-even rounding, exactly one line per trade and level, the ledger accrual,
 * recomputation equal to the stored lines, a dealer's correction reversing its commission, and plan versions.
 */
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { expectLedgerBalanced } from '../../../test/support/ledger.ts';
import { ManualClock } from '../../clock.ts';
import { commissionLines } from '../../db/schema.ts';
import { Sealer } from '../../operations/sealed.ts';
import { AlertService } from '../alerts/service.ts';
import { recordAudit } from '../audit/service.ts';
import { clientVisibleBalance } from '../ledger/service.ts';
import type { CommissionError } from './errors.ts';
import {
  addClientWithAccount,
  addPartner,
  addServer,
  addTrade,
  correctTrade,
  type TradeInput,
} from './fixtures.test-support.ts';
import { recompute } from './recompute.ts';
import { CommissionService } from './service.ts';
import { buckets, statement } from './statements.ts';

const MT5 = 'mt5-live';
const MT4 = 'mt4-live';
const MARCH = { from: new Date('2025-03-01T00:00:00Z'), to: new Date('2025-04-01T00:00:00Z') };

describe('commission calculation', () => {
  let db: TestDatabase;
  const clock = new ManualClock(new Date('2025-04-02T00:00:00Z'));
  let service: CommissionService;
  let M: string;
  let S: string;
  let D: string;
  const ids: Record<string, number> = {};
  let planD: string;

  const owed = (partnerId: string) =>
    clientVisibleBalance(db.db, { type: 'ib_payable', ownerId: partnerId, currency: 'USD' });
  async function linesOf(tradeId: number) {
    return db.db
      .select()
      .from(commissionLines)
      .where(eq(commissionLines.tradeRecordId, tradeId))
      .orderBy(commissionLines.id);
  }
  async function live(tradeId: number, level: number) {
    const rows = await linesOf(tradeId);
    const reversed = new Set(rows.filter((r) => r.kind === 'reversal').map((r) => r.reversesLineId));
    const found = rows.filter((r) => r.kind === 'accrual' && r.level === level && !reversed.has(r.id));
    expect(found).toHaveLength(1);
    return found[0]!;
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
    await addServer(db, MT4, 'mt4');
    M = await addPartner(db, clock, 'Master');
    S = await addPartner(db, clock, 'Sub', M);
    D = await addPartner(db, clock, 'SubSub', S);
    await addClientWithAccount(db, clock, { partnerId: D, serverCode: MT5, login: 5001 });
    await addClientWithAccount(db, clock, { partnerId: D, serverCode: MT4, login: 4001 });
    await addClientWithAccount(db, clock, { partnerId: S, serverCode: MT5, login: 5002, currency: 'EUR' });
    await addClientWithAccount(db, clock, { partnerId: null, serverCode: MT5, login: 5003 });

    const from = '2025-01-01T00:00:00Z';
    planD = (
      await service.createPlan(
        {
          code: 'ib-standard',
          name: 'IB standard',
          currency: 'USD',
          effectiveFrom: from,
          rules: {
            symbolGroups: { fx_majors: ['EURUSD', 'GBPUSD'], metals: ['XAUUSD'] },
            perLot: [
              { fromLots: '0', rates: { fx_majors: '5', metals: '8', other: '2' } },
              { fromLots: '2', rates: { fx_majors: '6.5' } },
            ],
            revenueShare: { percent: '20', basis: 'commission' },
          },
        },
        'staff-1',
      )
    ).plan.id;
    const planS = await service.createPlan(
      {
        code: 'ib-sub',
        name: 'Sub-IB with override',
        currency: 'USD',
        effectiveFrom: from,
        rules: {
          symbolGroups: { fx_majors: ['EURUSD'] },
          perLot: [{ fromLots: '0', rates: { fx_majors: '4' } }],
          overrides: [{ level: 1, perLot: { fx_majors: '1', other: '0.5' } }],
        },
      },
      'staff-1',
    );
    const planM = await service.createPlan(
      {
        code: 'ib-master',
        name: 'Master IB overrides',
        currency: 'USD',
        effectiveFrom: from,
        rules: {
          symbolGroups: { metals: ['XAUUSD'] },
          overrides: [
            { level: 1, percentOfDirect: '10' },
            { level: 2, perLot: { metals: '0.75', other: '0.25' } },
          ],
        },
      },
      'staff-1',
    );
    for (const [partner, plan] of [
      [D, planD],
      [S, planS.plan.id],
      [M, planM.plan.id],
    ] as const) {
      await service.assignPlan(partner, { planId: plan, effectiveFrom: from, reason: 'onboarding' }, 'staff-1');
    }

    const t = async (name: string, input: Omit<TradeInput, 'serverCode'> & { serverCode?: string }) => {
      ids[name] = (await addTrade(db, clock, { serverCode: input.entry ? MT5 : MT4, ...input })).id;
    };
    const d5 = { login: 5001 };
    const d4 = { login: 4001 };
    // MT5: a position closed in two parts (suffix .m), a hedged close-by, a netting reversal and its close.
    await t('t1', { ...d5, entry: 'in', side: 'buy', symbol: 'EURUSD.m', lots: 1, time: '2025-03-03T10:00:00Z' });
    await t('t2', {
      ...d5,
      entry: 'out',
      side: 'sell',
      symbol: 'EURUSD.m',
      lots: 0.37,
      time: '2025-03-03T11:00:00Z',
      commissionMinor: -185,
    });
    await t('t3', {
      ...d5,
      entry: 'out',
      side: 'sell',
      symbol: 'EURUSD.m',
      lots: 0.63,
      time: '2025-03-03T12:00:00Z',
      commissionMinor: -315,
    });
    await t('t4', { ...d5, entry: 'in', side: 'buy', symbol: 'XAUUSD-ECN', lots: 0.5, time: '2025-03-04T09:00:00Z' });
    await t('t5', { ...d5, entry: 'in', side: 'sell', symbol: 'XAUUSD-ECN', lots: 0.5, time: '2025-03-04T09:01:00Z' });
    await t('t6', {
      ...d5,
      entry: 'out_by',
      side: 'sell',
      symbol: 'XAUUSD-ECN',
      lots: 0.5,
      time: '2025-03-04T10:00:00Z',
      profitMinor: 1234,
    });
    await t('t7', {
      ...d5,
      entry: 'out_by',
      side: 'buy',
      symbol: 'XAUUSD-ECN',
      lots: 0.5,
      time: '2025-03-04T10:00:00Z',
      commissionMinor: -50,
      profitMinor: -1234,
    });
    await t('t8', { ...d5, entry: 'in', side: 'buy', symbol: 'GBPUSD', lots: 1, time: '2025-03-05T09:00:00Z' });
    await t('t9', {
      ...d5,
      entry: 'inout',
      side: 'sell',
      symbol: 'GBPUSD',
      lots: 3,
      time: '2025-03-05T10:00:00Z',
      commissionMinor: -300,
    });
    await t('t10', { ...d5, entry: 'out', side: 'buy', symbol: 'GBPUSD', lots: 2, time: '2025-03-05T11:00:00Z' });
    // MT4: closed trades (a close-by pair, a partial close) and two that round half to even.
    await t('t11', {
      ...d4,
      side: 'buy',
      symbol: 'XAUUSD.m',
      lots: 0.1,
      time: '2025-03-06T10:00:00Z',
      commissionMinor: -7,
    });
    await t('t12', {
      ...d4,
      side: 'sell',
      symbol: 'EURUSD',
      lots: 1,
      time: '2025-03-06T11:00:00Z',
      comment: 'close hedge by #9001',
    });
    await t('t13', {
      ...d4,
      side: 'buy',
      symbol: 'EURUSD',
      lots: 1,
      time: '2025-03-06T11:00:00Z',
      commissionMinor: -1000,
      ticket: '9001',
    });
    await t('t14', {
      ...d4,
      side: 'buy',
      symbol: 'EURUSD',
      lots: 0.3,
      time: '2025-03-06T12:00:00Z',
      commissionMinor: -3,
      comment: 'to #9100',
    });
    await t('t15', { ...d4, side: 'buy', symbol: 'EURUSDpro', lots: 0.01, time: '2025-03-06T13:00:00Z' });
    await t('t16', { ...d4, side: 'buy', symbol: 'microEURUSD', lots: 0.03, time: '2025-03-06T14:00:00Z' });
    // S's own client (EUR account), and a client with no partner.
    await t('t17', {
      login: 5002,
      entry: 'out',
      side: 'sell',
      symbol: 'EURUSD',
      lots: 1,
      time: '2025-03-07T10:00:00Z',
      commissionMinor: -500,
    });
    await t('t18', {
      login: 5003,
      entry: 'out',
      side: 'sell',
      symbol: 'EURUSD',
      lots: 1,
      time: '2025-03-07T11:00:00Z',
    });
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('counts closed volume by the stated rules and prices every rule kind, rounding half to even', async () => {
    const result = await service.calculate({ chunkSize: 7 });
    // Level 0: 12 closing records of D + 1 of S; level 1: S on D's 12, M on S's 1; level 2: M on D's 12.
    expect(result.lines).toBe(13 + 13 + 12);
    expect(result.reversals).toBe(0);
    expect(result.totals).toEqual({ USD: 4023 + 400 + 414 + 40 + 180 });

    const expectLine = async (
      name: string,
      level: number,
      want: { volume: number; amountMinor: number; base?: string; group?: string; tier?: number },
    ) => {
      const line = await live(ids[name]!, level);
      expect({ volume: line.volume, amountMinor: line.amountMinor }, `${name} level ${level}`).toEqual({
        volume: want.volume,
        amountMinor: want.amountMinor,
      });
      if (want.base) expect(line.baseSymbol).toBe(want.base);
      if (want.group) expect(line.symbolGroup).toBe(want.group);
      if (want.tier !== undefined) expect(line.tierVolumeBefore).toBe(want.tier);
    };
    // Partial close: each part counts its own volume. 0.37 × 5.00 = 1.85, plus 20% of the 1.85 commission.
    await expectLine('t2', 0, { volume: 3700, amountMinor: 222, base: 'EURUSD', group: 'fx_majors', tier: 0 });
    await expectLine('t3', 0, { volume: 6300, amountMinor: 378, tier: 3700 });
    // Close-by: the sell counts 0.5 lots, the buy 0 (its commission is still shared).
    await expectLine('t6', 0, { volume: 5000, amountMinor: 400, base: 'XAUUSD', group: 'metals' });
    await expectLine('t7', 0, { volume: 0, amountMinor: 10 });
    // Netting reversal: only the 1 lot that closed counts; the later close of the reversed 2 lots is in tier 2.
    await expectLine('t9', 0, { volume: 10_000, amountMinor: 560, tier: 15_000 });
    await expectLine('t10', 0, { volume: 20_000, amountMinor: 1300, tier: 25_000 });
    // Tier 2 keeps tier 1's metals rate; 80 + 1.4 → 81.
    await expectLine('t11', 0, { volume: 1000, amountMinor: 81, base: 'XAUUSD', group: 'metals' });
    await expectLine('t12', 0, { volume: 0, amountMinor: 0 });
    await expectLine('t13', 0, { volume: 10_000, amountMinor: 850 });
    await expectLine('t14', 0, { volume: 3000, amountMinor: 196 });
    // 6.5 → 6 and 19.5 → 20 (half to even).
    await expectLine('t15', 0, { volume: 100, amountMinor: 6, base: 'EURUSD' });
    await expectLine('t16', 0, { volume: 300, amountMinor: 20, base: 'EURUSD' });
    // Overrides: S per lot by S's own groups (GBPUSD is "other" there), M per lot at level 2 (37.5 → 38, 7.5 → 8).
    await expectLine('t9', 1, { volume: 10_000, amountMinor: 50, group: 'other' });
    await expectLine('t2', 1, { volume: 3700, amountMinor: 37, group: 'fx_majors' });
    await expectLine('t6', 2, { volume: 5000, amountMinor: 38, group: 'metals' });
    await expectLine('t11', 2, { volume: 1000, amountMinor: 8 });
    await expectLine('t2', 2, { volume: 3700, amountMinor: 9 });
    // S's own EUR client: the USD plan pays per lot, no revenue share across currencies; M takes 10% of S's line.
    await expectLine('t17', 0, { volume: 10_000, amountMinor: 400 });
    const m = await live(ids.t17!, 1);
    expect(m).toMatchObject({ partnerId: M, amountMinor: 40, overrideBaseMinor: 400, currency: 'USD' });
    expect(await linesOf(ids.t18!)).toHaveLength(0);
    expect(await linesOf(ids.t1!)).toHaveLength(0);

    expect(await owed(D)).toBe(4023);
    expect(await owed(S)).toBe(400 + 414);
    expect(await owed(M)).toBe(40 + 180);
    expect(await clientVisibleBalance(db.db, { type: 'broker_revenue', currency: 'USD' })).toBe(-(4023 + 814 + 220));
    await expectLedgerBalanced(db);
  });

  it('writes each line once: a second run finds nothing to do', async () => {
    const again = await service.calculate();
    expect(again).toMatchObject({ lines: 0, reversals: 0, batches: 0 });
    const [dupes] = (
      (await db.db.execute(sql`
        select count(*)::int as n from (
          select trade_record_id, trade_version, partner_id, level, kind from commission_lines
          group by 1, 2, 3, 4, 5 having count(*) > 1) d`)) as unknown as { rows: { n: number }[] }
    ).rows;
    expect(Number(dupes!.n)).toBe(0);
  });

  it('recomputes every partner’s lines from trade records and plan versions to the cent', async () => {
    for (const partner of [D, S, M]) {
      const r = await recompute(db.db, partner, MARCH);
      expect(r.differences, `partner ${partner}`).toEqual([]);
      expect(r.equal).toBe(true);
    }
    const r = await recompute(db.db, D, MARCH);
    expect(r.expected).toEqual([{ currency: 'USD', amountMinor: 4023, lines: 12 }]);
  });

  it('gives statements by level, symbol group and plan version, and chart buckets', async () => {
    const s = await statement(db.db, S, MARCH);
    expect(s.volumeLots).toEqual({ direct: 1, subIb: 5.94 });
    expect(s.totals).toEqual([{ currency: 'USD', amountMinor: 814, lines: 13, reversals: 0 }]);
    expect(s.byLevel.map((l) => [l.level, l.amountMinor])).toEqual([
      [0, 400],
      [1, 414],
    ]);
    expect(s.bySymbolGroup.find((g) => g.level === 1 && g.symbolGroup === 'other')?.amountMinor).toBe(
      25 + 50 + 100 + 5,
    );
    expect(s.byPlanVersion).toMatchObject([{ planCode: 'ib-sub', version: 1, amountMinor: 814 }]);
    const days = await buckets(db.db, D, MARCH, 'day');
    expect(days.map((b) => b.start.toISOString().slice(0, 10))).toEqual([
      '2025-03-03',
      '2025-03-04',
      '2025-03-05',
      '2025-03-06',
    ]);
    expect(days.reduce((n, b) => n + b.amountMinor, 0)).toBe(4023);
    const months = await buckets(db.db, M, MARCH, 'month');
    expect(months).toMatchObject([{ currency: 'USD', amountMinor: 220, directVolumeLots: 0 }]);
  });

  it('reverses the commission of a trade a dealer corrected, and computes it again for the new version', async () => {
    await correctTrade(db, ids.t13!, { lots: 0.8 });
    const result = await service.calculate();
    expect(result).toMatchObject({ reversals: 3, lines: 3 });
    const rows = await linesOf(ids.t13!);
    const reversals = rows.filter((r) => r.kind === 'reversal');
    expect(reversals.map((r) => [r.level, r.amountMinor, r.volume, r.tradeVersion])).toEqual([
      [0, -850, -10_000, 1],
      [1, -100, -10_000, 1],
      [2, -25, -10_000, 1],
    ]);
    // The new line's tier counts the partner's earlier lines, the reversal included (59 400 − 10 000).
    const now = await live(ids.t13!, 0);
    expect(now).toMatchObject({ tradeVersion: 2, volume: 8000, amountMinor: 720, tierVolumeBefore: 49_400 });
    expect((await live(ids.t13!, 1)).amountMinor).toBe(80);
    expect((await live(ids.t13!, 2)).amountMinor).toBe(20);
    expect(await owed(D)).toBe(4023 - 850 + 720);
    expect(await owed(S)).toBe(814 - 100 + 80);
    expect(await owed(M)).toBe(220 - 25 + 20);
    for (const partner of [D, S, M]) expect((await recompute(db.db, partner, MARCH)).differences).toEqual([]);
    await expectLedgerBalanced(db);
    expect((await service.calculate()).lines).toBe(0);
  });

  it('finds a stored line that no longer matches its trade', async () => {
    // A line tampered with outside the calculation (the append-only trigger is bypassed inside this transaction).
    const tampered = await live(ids.t3!, 0);
    await db.db
      .transaction(async (tx) => {
        await tx.execute(sql.raw('alter table commission_lines disable trigger commission_lines_no_change'));
        await tx.execute(sql`update commission_lines set amount_minor = amount_minor + 1 where id = ${tampered.id}`);
        const r = await recompute(tx, D, MARCH);
        expect(r.equal).toBe(false);
        expect(r.differences).toEqual([
          expect.objectContaining({ tradeRecordId: ids.t3, level: 0, problem: 'differs', field: 'amountMinor' }),
        ]);
        throw new Error('rollback');
      })
      .catch((err: Error) => {
        if (err.message !== 'rollback') throw err;
      });
    const refused = await db.db
      .execute(sql`update commission_lines set amount_minor = 0 where id = ${tampered.id}`)
      .then(
        () => null,
        (err: Error & { cause?: Error }) => err.cause?.message ?? err.message,
      );
    expect(refused).toMatch(/append-only/);
  });

  it('applies a new plan version only to trades after it; never retroactively', async () => {
    const v2Rules = {
      symbolGroups: { fx_majors: ['EURUSD'] },
      perLot: [{ fromLots: '0', rates: { fx_majors: '10' } }],
    };
    await expect(
      service.addVersion(planD, { rules: v2Rules, effectiveFrom: '2025-03-05T00:00:00Z' }, 'staff-1'),
    ).rejects.toMatchObject({ code: 'VERSION_RETROACTIVE' } satisfies Partial<CommissionError>);
    await expect(
      service.assignPlan(D, { planId: null, effectiveFrom: '2025-03-01T00:00:00Z', reason: 'stop' }, 'staff-1'),
    ).rejects.toMatchObject({ code: 'ASSIGNMENT_RETROACTIVE' });
    const v2 = await service.addVersion(planD, { rules: v2Rules, effectiveFrom: '2025-03-10T00:00:00Z' }, 'staff-1');
    expect(v2.version).toBe(2);
    const late = await addTrade(db, clock, {
      serverCode: MT5,
      login: 5001,
      entry: 'out',
      side: 'sell',
      symbol: 'EURUSD',
      lots: 0.1,
      time: '2025-03-15T10:00:00Z',
    });
    await service.calculate();
    expect(await live(late.id, 0)).toMatchObject({ planVersionId: v2.id, amountMinor: 100, perLotRate: '1000' });
    // The lines computed before keep version 1.
    const old = await live(ids.t2!, 0);
    expect(old.planVersionId).not.toBe(v2.id);
    expect(old.amountMinor).toBe(222);
    for (const partner of [D, S, M]) expect((await recompute(db.db, partner, MARCH)).differences).toEqual([]);
    const rows = await db.db
      .select()
      .from(commissionLines)
      .where(and(eq(commissionLines.partnerId, D), eq(commissionLines.planVersionId, v2.id)));
    expect(rows).toHaveLength(1);
  });

  it('pays nothing on a demo server: a referred client’s demo trade earns no line and recompute agrees', async () => {
    await addServer(db, 'mt5-demo-cm', 'mt5', 'demo');
    await addClientWithAccount(db, clock, { partnerId: D, serverCode: 'mt5-demo-cm', login: 7001 });
    const demo = await addTrade(db, clock, {
      serverCode: 'mt5-demo-cm',
      login: 7001,
      entry: 'out',
      side: 'sell',
      symbol: 'EURUSD',
      lots: 1,
      time: '2025-03-16T10:00:00Z',
    });
    const before = await owed(D);
    await service.calculate();
    expect(await linesOf(demo.id)).toHaveLength(0);
    expect(await owed(D)).toBe(before);
    for (const partner of [D, S, M]) expect((await recompute(db.db, partner, MARCH)).differences).toEqual([]);
  });
});
