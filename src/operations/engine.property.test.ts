/**
 * Property: whatever the mix of deposits, withdrawals and transport faults, once the engine has finished every
 * operation ends exactly as a simple sequential model says (withdrawals succeed only when the balance covers them,
 * in enqueue order per account), each succeeded operation is on the server exactly once and each failed one not at
 * all, and the server balances equal the model's.
 */

import { eq, inArray } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, operationsHarness } from '../../test/support/operations.ts';
import { control } from '../../test/support/simulators.ts';
import { operations } from '../db/schema.ts';
import { parseReference } from '../platforms/reference.ts';
import { enqueueOperation } from './enqueue.ts';

const faultKinds = ['none', 'none', 'drop_reply', 'reset', 'refuse', 'busy', 'too_frequent', 'slow'] as const;
type Fault = (typeof faultKinds)[number];

const faultRule: Record<Exclude<Fault, 'none'>, Record<string, unknown>> = {
  drop_reply: { kind: 'drop_reply' },
  reset: { kind: 'reset' },
  refuse: { kind: 'refuse' },
  busy: { kind: 'error', code: 1018 },
  too_frequent: { kind: 'error', code: 12 },
  // Slow but inside the client's timeout: must not be mistaken for a failure.
  slow: { kind: 'latency', latencyMs: 200 },
};

describe('operations engine against a model', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await operationsHarness({ requestTimeoutMs: 2000 });
  });
  afterAll(async () => {
    await h.close();
  });

  it('ends every operation as the model says, with no double and no loss', async () => {
    const engine = h.engine({ maxAttempts: 50, concurrency: 4 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            account: fc.integer({ min: 0, max: 2 }),
            amount: fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: -3000, max: -1 })),
            fault: fc.constantFrom(...faultKinds),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        async (commands) => {
          await control(h.sim, 'DELETE', '/control/faults');
          const initial = 2000; // minor units: 20.00 USD
          const logins: number[] = [];
          for (let i = 0; i < 3; i++) {
            const user = (await control(h.sim, 'POST', '/control/accounts', {
              group: 'real\\standard-usd',
              name: `P${i}`,
              leverage: 100,
              deposit: initial / 100,
            })) as {
              Login: string;
            };
            logins.push(Number(user.Login));
          }
          const ids: string[] = [];
          for (const c of commands) {
            if (c.fault !== 'none') {
              await control(h.sim, 'POST', '/control/faults', {
                endpoint: '/api/trade/balance',
                count: 1,
                ...faultRule[c.fault],
              });
            }
            const queued = await h.database.db.transaction((tx) =>
              enqueueOperation(tx, h.deps, {
                kind: 'balance',
                serverCode: 'mt5-live',
                login: logins[c.account]!,
                payload: { amount: c.amount },
              }),
            );
            ids.push(queued.id);
          }
          for (let round = 0; round < 40; round++) {
            await engine.drain();
            const open = await h.database.db
              .select({ status: operations.status })
              .from(operations)
              .where(inArray(operations.id, ids));
            if (open.every((o) => o.status === 'succeeded' || o.status === 'failed')) break;
            h.clock.advance(61_000);
          }

          // The model: per account, in enqueue order; a withdrawal needs the balance to cover it.
          const balances = logins.map(() => initial);
          const expected = commands.map((c) => {
            const next = balances[c.account]! + c.amount;
            if (c.amount < 0 && next < 0) return 'failed';
            balances[c.account] = next;
            return 'succeeded';
          });
          const rows = await h.database.db.select().from(operations).where(inArray(operations.id, ids));
          const byId = new Map(rows.map((r) => [r.id, r]));
          expect(ids.map((id) => byId.get(id)!.status)).toEqual(expected);
          for (const [i, login] of logins.entries()) {
            const deals = (await control(h.sim, 'GET', `/control/accounts/${login}/deals`)) as { Comment: string }[];
            const refs = deals.map((d) => parseReference(d.Comment)?.reference);
            for (const id of ids) {
              const row = byId.get(id)!;
              if (row.login !== login) continue;
              expect(refs.filter((r) => r === row.reference).length).toBe(row.status === 'succeeded' ? 1 : 0);
            }
            const state = (await control(h.sim, 'GET', `/control/accounts/${login}`)) as {
              account: { Balance: string };
            };
            expect(Math.round(Number(state.account.Balance) * 100)).toBe(balances[i]);
          }
        },
      ),
      { numRuns: 12, seed: 20261124 },
    );
    const [stuck] = await h.database.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM operations WHERE status NOT IN ('succeeded','failed')",
    );
    expect(stuck!.n).toBe(0);
    expect(await h.database.db.select().from(operations).where(eq(operations.status, 'needs_review'))).toEqual([]);
  }, 180_000);
});
