/**
 * DOMAIN §2 scenario 1, end to end on MT5 and on MT4: a busy Monday. Forty card deposits from eight clients are paid
 * on the PSP sandbox's hosted page in a burst; the sandbox sends its signed webhooks over real HTTP to the real app,
 * which approves each deposit and enqueues one balance operation; the operations engine posts them. The server call
 * of the 2,000 USD deposit is applied and its reply lost (apply-then-drop): the operation is `unknown`, is verified by
 * its reference, found, and succeeds without a second post.
 *
 * At the end: exactly one balance record per deposit on the server (each found by the reference in its comment, and
 * nothing else), every deposit `posted`, ledger = server for every account, the ledger balanced, the staff timeline of
 * the faulted deposit showing the ambiguous post and the verify that found it, and the client's timeline saying in
 * plain words that it was checked and applied once. The client's portal tells the truth while it is uncertain, too.
 */
import { asc, eq, inArray } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { alerts, moneyMovements, operationAttempts, operations, pspEvents } from '../../src/db/schema.ts';
import { clientVisibleBalance } from '../../src/modules/ledger/service.ts';
import { parseReference } from '../../src/platforms/reference.ts';
import { type FundingTestbed, fundingTestbed } from '../support/funding-testbed.ts';
import { expectLedgerBalanced } from '../support/ledger.ts';
import { control } from '../support/simulators.ts';

const CLIENTS = 8;
const DEPOSITS_PER_CLIENT = 5;
const BIG = 200_000; // 2,000.00 USD: the deposit whose server reply is lost

interface BalanceRecord {
  reference: string | null;
  amountMinor: number;
  comment: string;
}

interface TimelineBody {
  summary: string;
  entries: { type: string; message: string; source: string; details?: Record<string, unknown> }[];
  movement: { status: string };
}

const platforms = [
  { name: 'MT5', server: 'mt5-live', mt4: false, balanceEndpoint: '/api/trade/balance' },
  { name: 'MT4', server: 'mt4-live', mt4: true, balanceEndpoint: '/v1/TradeTransaction' },
] as const;

for (const platform of platforms) {
  describe(`scenario 1 on ${platform.name}: a burst of 40 deposits, one server reply lost`, () => {
    let t: FundingTestbed;
    const sim = () => (platform.mt4 ? t.mt4! : t.live);

    beforeAll(async () => {
      t = await fundingTestbed(platform.mt4 ? { mt4: true } : {});
    });
    afterAll(async () => {
      await t?.close();
    });
    afterEach(async () => {
      await control(sim(), 'DELETE', '/control/faults');
      await expectLedgerBalanced(t.database.db);
    });

    const minor = (value: string | number) => Math.round(Number(value) * 100);

    /** Every balance record (MT5 deal Action 2, MT4 cmd 6) on the login, from the simulator's control API. */
    async function balanceRecords(login: number): Promise<BalanceRecord[]> {
      if (platform.mt4) {
        const trades = (await control(t.mt4!, 'GET', `/control/trades?login=${login}`)) as {
          cmd: number;
          comment: string;
          profit: number;
        }[];
        return trades
          .filter((r) => r.cmd === 6)
          .map((r) => ({
            reference: parseReference(r.comment)?.reference ?? null,
            amountMinor: minor(r.profit),
            comment: r.comment,
          }));
      }
      const deals = (await control(t.live, 'GET', `/control/accounts/${login}/deals`)) as {
        Action: string;
        Comment: string;
        Profit: string;
      }[];
      return deals
        .filter((d) => Number(d.Action) === 2)
        .map((d) => ({
          reference: parseReference(d.Comment)?.reference ?? null,
          amountMinor: minor(d.Profit),
          comment: d.Comment,
        }));
    }

    async function serverBalance(login: number): Promise<number> {
      if (platform.mt4) {
        return minor(((await control(t.mt4!, 'GET', `/control/users/${login}`)) as { balance: number }).balance);
      }
      return minor((await t.simAccount(t.live, login)).account.Balance);
    }

    const ledgerBalance = (accountId: string) =>
      clientVisibleBalance(t.database.db, { type: 'trading_account', ownerId: accountId, currency: 'USD' });

    it('ends with exactly one balance record per deposit, ledger = server, and timelines that tell the story', async () => {
      // Eight clients (KYC approved), each with an open live account on this server.
      const clients = [];
      for (let i = 0; i < CLIENTS; i++) clients.push(await t.fundedClient({ server: platform.server }));

      // Forty deposits started through the portal (each client from its own address, as real clients are).
      const planned = clients.flatMap((c, i) =>
        Array.from({ length: DEPOSITS_PER_CLIENT }, (_, j) => ({
          client: c,
          ip: `10.1.0.${i + 1}`,
          amountMinor: i === 0 && j === 0 ? BIG : 10_000 + i * 1_000 + j * 137,
        })),
      );
      const started = await Promise.all(
        planned.map(async (p) => {
          const reply = await t.app.inject({
            method: 'POST',
            url: '/api/portal/deposits',
            headers: { cookie: p.client.cookie },
            remoteAddress: p.ip,
            payload: { accountId: p.client.accountId, amountMinor: p.amountMinor },
          });
          expect(reply.statusCode, reply.body).toBe(201);
          const id = (reply.json() as { movement: { id: string } }).movement.id;
          return { ...p, id, pspPaymentId: (await t.movement(id)).pspPaymentId! };
        }),
      );
      expect(started).toHaveLength(CLIENTS * DEPOSITS_PER_CLIENT);
      const big = started[0]!;
      expect(big.amountMinor).toBe(BIG);

      // The 2,000 USD deposit is paid first; its signed webhook approves it and enqueues its balance operation.
      expect((await t.psp.pay(big.pspPaymentId)).returnStatus).toBe('succeeded');
      await t.psp.psp.webhooksIdle();
      const approved = await t.movement(big.id);
      expect(approved.status).toBe('approved');
      const [bigOp] = await t.database.db.select().from(operations).where(eq(operations.id, approved.operationId!));

      // The server applies the balance call and the reply is lost.
      await control(sim(), 'POST', '/control/faults', {
        endpoint: platform.balanceEndpoint,
        kind: 'drop_reply',
        count: 1,
      });
      expect(await t.engine.runOnce(1)).toBe(1);
      const uncertain = (await t.database.db.select().from(operations).where(eq(operations.id, bigOp!.id)))[0]!;
      expect(uncertain.status).toBe('unknown');
      const applied = (await balanceRecords(big.client.login)).filter((r) => r.reference === bigOp!.reference);
      expect(applied).toHaveLength(1);
      expect(await serverBalance(big.client.login)).toBe(BIG);

      // Meanwhile the client's portal tells the truth: received, being applied, checked before any retry.
      const meanwhile = await t.app.inject({
        url: `/api/portal/movements/${big.id}`,
        headers: { cookie: big.client.cookie },
      });
      expect(meanwhile.statusCode).toBe(200);
      const meanwhileBody = meanwhile.json() as TimelineBody;
      expect(meanwhileBody.movement.status).toBe('approved');
      expect(meanwhileBody.summary).toBe('2000.00 USD is approved and being applied to the trading account.');
      expect(meanwhileBody.entries.map((e) => e.message)).toContain(
        'The trading server did not confirm in time. We are checking before trying again, so it can never be applied twice.',
      );
      expect(meanwhileBody.entries.map((e) => e.type)).not.toContain('deposit.posted');

      // The burst: the other 39 are paid at once; the engine works while their webhooks arrive. The verify delay
      // (1000 ms on the manual clock) is advanced rather than slept.
      t.clock.advance(1000);
      const burst = Promise.all(started.slice(1).map((d) => t.psp.pay(d.pspPaymentId)));
      const ids = started.map((d) => d.id);
      const deadline = Date.now() + 60_000;
      for (;;) {
        await t.engine.drain();
        const rows = await t.database.db
          .select({ id: moneyMovements.id, status: moneyMovements.status })
          .from(moneyMovements)
          .where(inArray(moneyMovements.id, ids));
        if (rows.length === ids.length && rows.every((r) => r.status === 'posted')) break;
        if (Date.now() > deadline) {
          const counts: Record<string, number> = {};
          for (const r of rows) counts[r.status] = (counts[r.status] ?? 0) + 1;
          throw new Error(`deposits did not all post: ${JSON.stringify(counts)}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      for (const paid of await burst) expect(paid.returnStatus).toBe('succeeded');
      await t.psp.psp.webhooksIdle();

      // Every deposit posted, with its ticket, through exactly one operation.
      const movements = await t.database.db.select().from(moneyMovements).where(inArray(moneyMovements.id, ids));
      expect(movements).toHaveLength(40);
      for (const m of movements) {
        expect(m.status).toBe('posted');
        expect(m.ticket).toBeTruthy();
      }
      const ops = await t.database.db
        .select()
        .from(operations)
        .where(inArray(operations.correlationId, ids))
        .orderBy(asc(operations.seq));
      expect(ops).toHaveLength(40);
      expect(new Set(ops.map((o) => o.correlationId)).size).toBe(40);
      for (const o of ops) expect(o.status).toBe('succeeded');

      // Every webhook was applied once: one payment.succeeded per deposit.
      const events = await t.database.db.select().from(pspEvents).where(inArray(pspEvents.movementId, ids));
      expect(events).toHaveLength(40);
      expect(events.every((e) => e.type === 'payment.succeeded' && e.outcome === 'applied')).toBe(true);

      // Attempts: the faulted one was posted once and verified once; every other one posted once, nothing re-posted.
      const attempts = await t.database.db
        .select()
        .from(operationAttempts)
        .where(
          inArray(
            operationAttempts.operationId,
            ops.map((o) => o.id),
          ),
        )
        .orderBy(asc(operationAttempts.id));
      for (const o of ops) {
        const mine = attempts.filter((a) => a.operationId === o.id).map((a) => `${a.action}:${a.outcome}`);
        expect(mine, o.reference).toEqual(o.id === bigOp!.id ? ['post:ambiguous', 'verify:found'] : ['post:ok']);
      }
      const bigDone = ops.find((o) => o.id === bigOp!.id)!;
      expect(bigDone.result).toMatchObject({ foundBy: 'reference' });

      // On the server: exactly one balance record per deposit, found by its reference; nothing else; ledger = server.
      const byMovement = new Map(ops.map((o) => [o.correlationId!, o]));
      for (const c of clients) {
        const mine = started.filter((d) => d.client.accountId === c.accountId);
        const records = await balanceRecords(c.login);
        expect(records.map((r) => r.reference).sort()).toEqual(mine.map((d) => byMovement.get(d.id)!.reference).sort());
        for (const d of mine) {
          const found = records.filter((r) => r.reference === byMovement.get(d.id)!.reference);
          expect(found, `deposit ${d.id}`).toHaveLength(1);
          expect(found[0]!.amountMinor).toBe(d.amountMinor);
        }
        const expected = mine.reduce((sum, d) => sum + d.amountMinor, 0);
        expect(await serverBalance(c.login)).toBe(expected);
        expect(await ledgerBalance(c.accountId)).toBe(expected);
      }

      // No human needed: nothing waits for review, nothing failed.
      const raised = await t.database.db
        .select()
        .from(alerts)
        .where(inArray(alerts.kind, ['operation_needs_review', 'operation_failed', 'deposit_unpostable']));
      expect(raised).toEqual([]);

      // Staff timeline: the ambiguous post and the verify that found it, in that order, with the reference.
      const finance = await t.staffCookie(['finance']);
      const staffView = await t.app.inject({
        url: `/api/backoffice/movements/${big.id}`,
        headers: { cookie: finance },
      });
      expect(staffView.statusCode).toBe(200);
      const staff = staffView.json() as TimelineBody & { ledger: unknown[] };
      const staffTypes = staff.entries.map((e) => e.type);
      const post = staffTypes.indexOf('attempt.post.ambiguous');
      const verify = staffTypes.indexOf('attempt.verify.found');
      expect(post, JSON.stringify(staffTypes)).toBeGreaterThanOrEqual(0);
      expect(verify).toBeGreaterThan(post);
      expect(staffTypes.filter((x) => x.startsWith('attempt.'))).toEqual([
        'attempt.post.ambiguous',
        'attempt.verify.found',
      ]);
      expect(staff.entries[post]!.message).toContain(bigOp!.reference);
      expect(staff.entries[post]!.message).toContain(platform.server);
      expect(staff.entries[verify]!.message).toMatch(
        new RegExp(`^verify by reference #2 of balance ${bigOp!.reference}`),
      );
      expect(staff.entries[post]!.details).toMatchObject({ action: 'post', outcome: 'ambiguous' });
      expect(staff.entries[verify]!.details).toMatchObject({ action: 'verify', outcome: 'found' });
      expect(staffTypes).toEqual(
        expect.arrayContaining([
          'payment.succeeded',
          'webhook.payment.succeeded',
          'deposit.posted',
          'operation.succeeded',
        ]),
      );
      expect(staff.entries.find((e) => e.type === 'operation.succeeded')!.message).toContain('after 2 attempt(s)');
      expect(staff.ledger.length).toBeGreaterThan(0);

      // Client timeline: plain words, checked and applied once; no internals.
      const clientView = await t.app.inject({
        url: `/api/portal/movements/${big.id}`,
        headers: { cookie: big.client.cookie },
      });
      expect(clientView.statusCode).toBe(200);
      const client = clientView.json() as TimelineBody;
      expect(client.movement.status).toBe('posted');
      expect(client.summary).toMatch(/^2000\.00 USD has been applied to the trading account/);
      const words = client.entries.map((e) => e.message);
      const payment = 'Payment of 2000.00 USD received. We are crediting your trading account';
      const delayed =
        'The trading server did not confirm in time. We are checking before trying again, so it can never be applied twice.';
      const checked = 'Checked with the trading server: it had already applied this. It is applied once.';
      const landed = `2000.00 USD is now in your trading account ${big.client.login}.`;
      // The story in the order it happened: received, not confirmed, checked and found, in the account.
      expect(words.filter((w) => [delayed, checked, landed].includes(w) || w.startsWith(payment))).toEqual([
        `${payment} ${big.client.login}.`,
        delayed,
        checked,
        landed,
      ]);
      expect(words.join('\n')).not.toMatch(/BD-DEP-|ambiguous|verify by reference|pay_|evt_|mt[45]-live/);
      for (const e of client.entries) expect(e.details).toBeUndefined();

      // Another client cannot read it.
      const other = await t.app.inject({
        url: `/api/portal/movements/${big.id}`,
        headers: { cookie: clients[1]!.cookie },
      });
      expect(other.statusCode).toBe(404);
    }, 120_000);
  });
}
