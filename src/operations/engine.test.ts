import { and, asc, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, operationsHarness } from '../../test/support/operations.ts';
import { control } from '../../test/support/simulators.ts';
import { alerts, auditEvents, installation, operationAttempts, operations } from '../db/schema.ts';
import { verifyAuditChain } from '../modules/audit/service.ts';
import { parseReference } from '../platforms/reference.ts';
import { cancelOperation, OperationStateError, retryOperation } from './admin.ts';
import type { OperationsEngine } from './engine.ts';
import { enqueueOperation, OperationInputError } from './enqueue.ts';
import type { OperationOutcome } from './ports.ts';
import { enqueueTransfer } from './transfer.ts';

const USD = 'real\\standard-usd';

interface SimDeal {
  Deal: string;
  Action: string;
  Profit: string;
  Comment: string;
}

async function newAccount(h: Harness, deposit?: number): Promise<number> {
  const user = (await control(h.sim, 'POST', '/control/accounts', {
    group: USD,
    name: 'Client',
    leverage: 100,
    ...(deposit ? { deposit } : {}),
  })) as {
    Login: string;
  };
  return Number(user.Login);
}

async function serverDeals(h: Harness, login: number): Promise<SimDeal[]> {
  return (await control(h.sim, 'GET', `/control/accounts/${login}/deals`)) as SimDeal[];
}

/** Balance records on the server that carry a given reference. */
async function recordsWith(h: Harness, login: number, reference: string): Promise<SimDeal[]> {
  return (await serverDeals(h, login)).filter((d) => parseReference(d.Comment)?.reference === reference);
}

async function serverBalance(h: Harness, login: number): Promise<number> {
  const state = (await control(h.sim, 'GET', `/control/accounts/${login}`)) as { account: { Balance: string } };
  return Math.round(Number(state.account.Balance) * 100);
}

async function op(h: Harness, id: string) {
  const [row] = await h.database.db.select().from(operations).where(eq(operations.id, id));
  return row!;
}

async function attemptsOf(h: Harness, id: string) {
  return h.database.db
    .select()
    .from(operationAttempts)
    .where(eq(operationAttempts.operationId, id))
    .orderBy(asc(operationAttempts.id));
}

function deposit(h: Harness, login: number, amount: number, extra: Record<string, unknown> = {}) {
  return h.database.db.transaction((tx) =>
    enqueueOperation(tx, h.deps, {
      kind: 'balance',
      serverCode: 'mt5-live',
      login,
      payload: { amount, note: 'test' },
      ...extra,
    }),
  );
}

describe('operations engine', () => {
  let h: Harness;
  let engine: OperationsEngine;
  const delivered: OperationOutcome[] = [];

  beforeAll(async () => {
    h = await operationsHarness();
    h.handlers['test.sink'] = async (_tx, outcome) => {
      delivered.push(outcome);
    };
    engine = h.engine({ maxAttempts: 4 });
  });
  afterAll(async () => {
    await h.close();
  });
  afterEach(async () => {
    await control(h.sim, 'DELETE', '/control/faults');
    const chain = await verifyAuditChain(h.database.db);
    expect(chain.ok).toBe(true);
  });

  it('enqueues in the business transaction: a rollback posts nothing, a commit always posts', async () => {
    const login = await newAccount(h);
    await expect(
      h.database.db.transaction(async (tx) => {
        await enqueueOperation(tx, h.deps, {
          kind: 'balance',
          serverCode: 'mt5-live',
          login,
          payload: { amount: 500 },
        });
        throw new Error('the business change failed');
      }),
    ).rejects.toThrow('the business change failed');
    expect(await h.database.db.select().from(operations).where(eq(operations.login, login))).toEqual([]);

    const committed = await deposit(h, login, 500, { handler: 'test.sink' });
    await engine.drain();
    const done = await op(h, committed.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(done.ticket).toMatch(/^\d+$/);
    expect(await recordsWith(h, login, committed.reference)).toHaveLength(1);
    expect(await serverBalance(h, login)).toBe(500);
    expect(delivered.filter((d) => d.operation.id === committed.id).map((d) => d.status)).toEqual(['succeeded']);
    const attempts = await attemptsOf(h, committed.id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({
      action: 'post',
      outcome: 'ok',
      serverCode: 'mt5-live',
      login,
      reference: committed.reference,
    });
    expect(attempts[0]!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('validates operations when they are enqueued', async () => {
    await expect(
      h.database.db.transaction((tx) =>
        enqueueOperation(tx, h.deps, { kind: 'balance', serverCode: 'mt5-live', login: 1, payload: { amount: 1.5 } }),
      ),
    ).rejects.toBeInstanceOf(OperationInputError);
    await expect(
      h.database.db.transaction((tx) =>
        enqueueOperation(tx, h.deps, { kind: 'balance', serverCode: 'mt5-live', payload: { amount: 100 } }),
      ),
    ).rejects.toThrow(/needs the account login/);
    await expect(
      h.database.db.transaction((tx) =>
        enqueueOperation(tx, h.deps, {
          kind: 'open_account',
          serverCode: 'mt5-live',
          payload: { group: USD, name: 'X', leverage: 100 },
        }),
      ),
    ).rejects.toThrow(/passwords/);
  });

  it('apply-then-drop never produces a second balance record: unknown, verified by reference, succeeded', async () => {
    const login = await newAccount(h);
    await control(h.sim, 'POST', '/control/faults', { endpoint: '/api/trade/balance', kind: 'drop_reply', count: 1 });
    const queued = await deposit(h, login, 200_000);
    await engine.drain();
    expect(await op(h, queued.id)).toMatchObject({ status: 'unknown' });
    expect(await recordsWith(h, login, queued.reference)).toHaveLength(1);

    h.clock.advance(1000);
    await engine.drain();
    const done = await op(h, queued.id);
    expect(done.status).toBe('succeeded');
    expect(done.result).toMatchObject({ foundBy: 'reference', amount: 200_000 });
    expect(await recordsWith(h, login, queued.reference)).toHaveLength(1);
    expect(await serverBalance(h, login)).toBe(200_000);
    const attempts = await attemptsOf(h, queued.id);
    expect(attempts.map((a) => `${a.action}:${a.outcome}`)).toEqual(['post:ambiguous', 'verify:found']);
    const audit = await h.database.db.select().from(auditEvents).where(eq(auditEvents.correlationId, queued.reference));
    expect(audit.map((e) => e.action)).toEqual(['operation.enqueued', 'operation.unknown', 'operation.succeeded']);
  });

  it('a reply that times out is not verified before the verify delay, so a late apply is found, not doubled', async () => {
    const login = await newAccount(h);
    // The server applies the request 2.5 s after receiving it; the client gives up after 1.5 s.
    await control(h.sim, 'POST', '/control/faults', {
      endpoint: '/api/trade/balance',
      kind: 'latency',
      latencyMs: 2500,
      count: 1,
    });
    const queued = await deposit(h, login, 6_100);
    await engine.drain();
    expect((await op(h, queued.id)).status).toBe('unknown');
    await engine.drain();
    expect(await attemptsOf(h, queued.id)).toHaveLength(1); // no look-up yet: the delay has not elapsed
    await expect
      .poll(async () => (await recordsWith(h, login, queued.reference)).length, { timeout: 5_000, interval: 100 })
      .toBe(1);
    h.clock.advance(1000);
    await engine.drain();
    expect((await op(h, queued.id)).status).toBe('succeeded');
    expect(await recordsWith(h, login, queued.reference)).toHaveLength(1);
  });

  it('a reset before applying is verified absent and posted again, once', async () => {
    const login = await newAccount(h);
    await control(h.sim, 'POST', '/control/faults', { endpoint: '/api/trade/balance', kind: 'reset', count: 1 });
    const queued = await deposit(h, login, 300);
    await engine.drain();
    expect((await op(h, queued.id)).status).toBe('unknown');
    h.clock.advance(1000);
    await engine.drain();
    expect((await op(h, queued.id)).status).toBe('succeeded');
    expect(await recordsWith(h, login, queued.reference)).toHaveLength(1);
    expect((await attemptsOf(h, queued.id)).map((a) => `${a.action}:${a.outcome}`)).toEqual([
      'post:ambiguous',
      'verify:absent',
      'post:ok',
    ]);
  });

  it('not sent goes back to pending with backoff and posts when the server accepts', async () => {
    const login = await newAccount(h);
    await control(h.sim, 'POST', '/control/faults', { endpoint: '/api/trade/balance', kind: 'refuse', count: 1 });
    const queued = await deposit(h, login, 400);
    await engine.drain();
    const waiting = await op(h, queued.id);
    expect(waiting.status).toBe('pending');
    expect(waiting.nextAttemptAt.getTime()).toBe(h.clock.now().getTime() + 1000);
    await engine.drain();
    expect((await op(h, queued.id)).status).toBe('pending');
    h.clock.advance(1000);
    await engine.drain();
    expect((await op(h, queued.id)).status).toBe('succeeded');
    expect((await attemptsOf(h, queued.id)).map((a) => `${a.action}:${a.outcome}`)).toEqual([
      'post:not_sent',
      'post:ok',
    ]);
  });

  it('a definitive refusal fails with the server reason, raises an alert and tells the module', async () => {
    const login = await newAccount(h);
    const queued = await deposit(h, login, -5_000_000, { handler: 'test.sink' });
    await engine.drain();
    const failed = await op(h, queued.id);
    expect(failed.status).toBe('failed');
    expect(failed.lastError).toMatchObject({ class: 'definitive', reason: 'not_enough_money', code: 10019 });
    const [alert] = await h.database.db
      .select()
      .from(alerts)
      .where(eq(alerts.dedupeKey, `operation:${queued.id}`));
    expect(alert).toMatchObject({ kind: 'operation_failed', status: 'open' });
    expect(delivered.filter((d) => d.operation.id === queued.id).map((d) => d.status)).toEqual(['failed']);
    await expect(retryOperation(h.deps, (await deposit(h, login, 1)).id, 'ops-1')).rejects.toBeInstanceOf(
      OperationStateError,
    );
    await engine.drain();
  });

  it('goes to needs_review with an alert when the server stays unreachable, and an operator retry with the same reference succeeds once', async () => {
    const login = await newAccount(h);
    await control(h.sim, 'POST', '/control/faults', { endpoint: '/api/trade/balance', kind: 'drop_reply', count: 1 });
    await control(h.sim, 'POST', '/control/faults', { endpoint: '/api/deal/get_total', kind: 'refuse' });
    const queued = await deposit(h, login, 2_500);
    for (let i = 0; i < 6; i++) {
      await engine.drain();
      h.clock.advance(60_000);
    }
    const stuck = await op(h, queued.id);
    expect(stuck.status).toBe('needs_review');
    const [alert] = await h.database.db
      .select()
      .from(alerts)
      .where(eq(alerts.dedupeKey, `operation:${queued.id}`));
    expect(alert).toMatchObject({ kind: 'operation_needs_review', severity: 'critical', status: 'open' });

    await control(h.sim, 'DELETE', '/control/faults');
    const retried = await retryOperation(h.deps, queued.id, 'ops-1');
    expect(retried).toMatchObject({ status: 'unknown', reference: queued.reference, attempts: 0 });
    await engine.drain();
    expect((await op(h, queued.id)).status).toBe('succeeded');
    expect(await recordsWith(h, login, queued.reference)).toHaveLength(1);
    const [resolved] = await h.database.db.select().from(alerts).where(eq(alerts.id, alert!.id));
    expect(resolved!.status).toBe('resolved');
    await expect(retryOperation(h.deps, queued.id, 'ops-1')).rejects.toThrow(/succeeded/);
  });

  it('closes the attempt the claim opened when routing refuses before any call, with the routing error', async () => {
    const queued = await h.database.db.transaction((tx) =>
      enqueueOperation(tx, h.deps, {
        kind: 'balance',
        serverCode: 'mt5-nowhere',
        login: 1234,
        payload: { amount: 100, note: 'test' },
      }),
    );
    await engine.drain();
    const stuck = await op(h, queued.id);
    expect(stuck.status).toBe('needs_review');
    expect(stuck.lastError).toMatchObject({ name: 'RoutingError', code: 'server_unknown' });
    const attempts = await attemptsOf(h, queued.id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({
      action: 'post',
      outcome: 'error',
      serverText: 'no trading server "mt5-nowhere" is configured',
      reply: {
        sent: false,
        error: { name: 'RoutingError', class: 'configuration', code: 'server_unknown' },
      },
    });
    expect(attempts[0]!.outcome).not.toBe('started');
    expect(attempts[0]!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('cancels with a reason, tells the module, and refuses to cancel what may be on the server', async () => {
    const login = await newAccount(h);
    const queued = await deposit(h, login, 100, { handler: 'test.sink' });
    await expect(cancelOperation(h.deps, engine, queued.id, 'ops-1', '')).rejects.toThrow(/reason/);
    const cancelled = await cancelOperation(h.deps, engine, queued.id, 'ops-1', 'client asked to stop');
    expect(cancelled.status).toBe('cancelled');
    expect(delivered.filter((d) => d.operation.id === queued.id).map((d) => d.status)).toEqual(['cancelled']);
    await engine.drain();
    expect(await recordsWith(h, login, queued.reference)).toHaveLength(0);

    await control(h.sim, 'POST', '/control/faults', { endpoint: '/api/trade/balance', kind: 'drop_reply', count: 1 });
    const uncertain = await deposit(h, login, 100);
    await engine.drain();
    await expect(cancelOperation(h.deps, engine, uncertain.id, 'ops-1', 'not needed')).rejects.toThrow(/unknown/);
    h.clock.advance(1000);
    await engine.drain();
  });

  it('runs operations on one account one at a time, in order, under concurrency', async () => {
    const login = await newAccount(h);
    // Each withdrawal is only possible after the deposit before it: any reordering fails with no money.
    const queued: Awaited<ReturnType<typeof deposit>>[] = [];
    for (let i = 0; i < 10; i++) {
      queued.push(await deposit(h, login, 1_000));
      queued.push(await deposit(h, login, -1_000));
    }
    const wide = h.engine({ concurrency: 8 });
    await wide.drain();
    for (const q of queued) expect((await op(h, q.id)).status).toBe('succeeded');
    const order = (await serverDeals(h, login)).map((d) => parseReference(d.Comment)?.reference);
    expect(order).toEqual(queued.map((q) => q.reference));
  });

  it('runs different accounts in parallel while keeping each in order', async () => {
    const logins = await Promise.all([1, 2, 3, 4].map(() => newAccount(h)));
    const queued: Awaited<ReturnType<typeof deposit>>[] = [];
    for (let i = 0; i < 5; i++) for (const login of logins) queued.push(await deposit(h, login, 10 + i));
    const claimed = await h.engine({ concurrency: 16 }).claim(16);
    // Only the first open operation of each account may be claimed at once.
    expect(claimed.map((c) => c.login).sort()).toEqual([...logins].sort());
    await engine.drain();
    h.clock.advance(200_000);
    await engine.drain();
    for (const q of queued) expect((await op(h, q.id)).status).toBe('succeeded');
  });

  it('operations ending together commit together; one whose handler throws holds up none of the others', async () => {
    const logins = await Promise.all([1, 2, 3, 4, 5, 6].map(() => newAccount(h)));
    const bad = logins[3]!;
    // The handler writes in the ending transaction: a row survives only if that transaction committed.
    h.handlers['test.recorded'] = async (tx, { operation }) => {
      if (operation.login === bad) throw new Error('the receiving module failed');
      await tx.insert(installation).values({ key: `ended:${operation.id}`, value: operation.reference });
    };
    const queued = [];
    for (const login of logins) queued.push(await deposit(h, login, 700, { handler: 'test.recorded' }));
    expect(await h.engine({ concurrency: 16 }).runOnce(16)).toBe(6);
    for (const q of queued) {
      const ended = await h.database.db
        .select()
        .from(installation)
        .where(eq(installation.key, `ended:${q.id}`));
      if (q.login === bad) {
        // Posted on the server, but its end failed: as after any failure once sent, it is verified later.
        expect((await op(h, q.id)).status).toBe('unknown');
        expect(ended).toEqual([]);
      } else {
        expect((await op(h, q.id)).status).toBe('succeeded');
        expect(ended.map((r) => r.value)).toEqual([q.reference]);
      }
      expect(await recordsWith(h, q.login!, q.reference)).toHaveLength(1);
    }
  });

  it('two workers share the work without doubling it', async () => {
    const logins = await Promise.all([1, 2, 3, 4, 5].map(() => newAccount(h)));
    const queued: Awaited<ReturnType<typeof deposit>>[] = [];
    for (let i = 0; i < 8; i++) for (const login of logins) queued.push(await deposit(h, login, 100 + i));
    const a = h.engine({ workerId: 'worker-a', concurrency: 4, pollMs: 20 });
    const b = h.engine({ workerId: 'worker-b', concurrency: 4, pollMs: 20 });
    await Promise.all([a.start(), b.start()]);
    await expect
      .poll(
        async () =>
          (
            await h.database.db
              .select()
              .from(operations)
              .where(and(eq(operations.status, 'succeeded')))
          ).filter((o) => queued.some((q) => q.id === o.id)).length,
        { timeout: 20_000, interval: 100 },
      )
      .toBe(queued.length);
    await Promise.all([a.stop(), b.stop()]);
    const workers = new Set<string>();
    for (const q of queued) {
      expect(await recordsWith(h, q.login!, q.reference)).toHaveLength(1);
      for (const attempt of await attemptsOf(h, q.id)) workers.add(attempt.worker);
    }
    expect(workers).toEqual(new Set(['worker-a', 'worker-b']));
  });

  it('an operation whose worker died mid-call is verified, not re-posted', async () => {
    const login = await newAccount(h);
    const queued = await deposit(h, login, 7_700);
    // A worker claims it, posts it, and "dies" before recording anything.
    const dead = h.engine({ workerId: 'dead-worker', leaseMs: 5_000 });
    const [claimed] = await dead.claim(1);
    expect(claimed!.id).toBe(queued.id);
    const platform = await h.registry.platform('mt5-live');
    await platform.postBalanceOperation({ login, kind: 'balance', amount: 7_700, reference: queued.reference });

    await engine.drain();
    expect((await op(h, queued.id)).status).toBe('in_flight');
    h.clock.advance(5_001);
    await engine.drain();
    const done = await op(h, queued.id);
    expect(done.status).toBe('succeeded');
    expect(done.result).toMatchObject({ foundBy: 'reference' });
    expect(await recordsWith(h, login, queued.reference)).toHaveLength(1);
  });

  it('a transfer whose second leg fails is compensated, so the money ends where it started', async () => {
    const from = await newAccount(h, 1_000);
    const missing = 99_999_999; // no such account: the second leg is refused on the merits
    const { out, in: inbound } = await h.database.db.transaction((tx) =>
      enqueueTransfer(tx, h.deps, {
        from: { serverCode: 'mt5-live', login: from, amount: 25_000 },
        to: { serverCode: 'mt5-live', login: missing, amount: 25_000 },
      }),
    );
    expect(inbound.status).toBe('waiting');
    await engine.drain();
    expect((await op(h, out.id)).status).toBe('succeeded');
    expect(await op(h, inbound.id)).toMatchObject({
      status: 'failed',
      lastError: expect.objectContaining({ reason: 'not_found' }),
    });
    const group = await h.database.db.select().from(operations).where(eq(operations.groupId, out.groupId!));
    const compensation = group.find((g) => g.compensates === out.id);
    expect(compensation).toMatchObject({ status: 'succeeded', login: from });
    expect(compensation!.reference).toMatch(/^BD-CMP-/);
    expect(await serverBalance(h, from)).toBe(100_000);
    expect((await serverDeals(h, from)).map((d) => Number(d.Profit))).toEqual([1000, -250, 250]);
  });

  it('a transfer whose first leg fails never posts the second', async () => {
    const from = await newAccount(h);
    const to = await newAccount(h);
    const { out, in: inbound } = await h.database.db.transaction((tx) =>
      enqueueTransfer(tx, h.deps, {
        from: { serverCode: 'mt5-live', login: from, amount: 999_999 },
        to: { serverCode: 'mt5-live', login: to, amount: 999_999 },
      }),
    );
    await engine.drain();
    expect((await op(h, out.id)).status).toBe('failed');
    expect((await op(h, inbound.id)).status).toBe('cancelled');
    expect(await serverBalance(h, to)).toBe(0);
  });
});
