import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { ManualClock } from '../../clock.ts';
import { scriptedTransaction } from '../../db/connect.ts';
import { auditEvents, installation } from '../../db/schema.ts';
import { deferAudits, flushAudits, recordAudit, verifyAuditChain } from './service.ts';

describe('audit trail', () => {
  let database: TestDatabase;
  const clock = new ManualClock('2026-03-01T10:00:00.123Z');
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  it('chains events and verifies the chain', async () => {
    expect(await verifyAuditChain(database.db)).toEqual({ ok: true, checked: 0 });
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      await database.db.transaction((tx) =>
        recordAudit(
          tx,
          {
            actorType: 'staff',
            actorId: 'finance-1',
            action: 'deposit.approved',
            entityType: 'deposit',
            entityId: `dep-${i}`,
            before: { status: 'pending' },
            after: { status: 'approved', amount: 200000, at: clock.now() },
            correlationId: `BD-DEP-${i}`,
          },
          clock,
        ),
      );
    }
    const report = await verifyAuditChain(database.db, { batchSize: 2 });
    expect(report).toEqual({ ok: true, checked: 5 });
  });

  it("holds back a transaction's events until the flush, appends them in order with their own times, and chains them", async () => {
    const before = (await verifyAuditChain(database.db)).checked;
    const entry = (i: number) => ({
      actorType: 'system' as const,
      action: 'deferred.step',
      entityType: 'movement',
      entityId: `mv-${i}`,
      after: { step: i },
    });
    await database.db.transaction(async (tx) => {
      deferAudits(tx, clock);
      clock.advance(1000);
      expect(await recordAudit(tx, entry(1), clock)).toBeNull();
      clock.advance(1000);
      await recordAudit(tx, entry(2), clock);
      const visible = await tx.execute("select count(*)::int as n from audit_events where action = 'deferred.step'");
      expect((visible as unknown as { rows: { n: number }[] }).rows[0]!.n).toBe(0);
      await flushAudits(tx);
    });
    const rows = await database.query<{ entity_id: string; at: Date }>(
      "select entity_id, at from audit_events where action = 'deferred.step' order by id",
    );
    expect(rows.map((r) => r.entity_id)).toEqual(['mv-1', 'mv-2']);
    expect(new Date(rows[1]!.at).getTime() - new Date(rows[0]!.at).getTime()).toBe(1000);
    expect(await verifyAuditChain(database.db)).toEqual({ ok: true, checked: before + 2 });
  });

  it('extends one chain under concurrent writers', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        database.db.transaction((tx) =>
          recordAudit(tx, { actorType: 'system', action: 'x', entityType: 't', entityId: String(i) }, clock),
        ),
      ),
    );
    expect((await verifyAuditChain(database.db)).ok).toBe(true);
  });

  it('stores quotes, backslashes and any Unicode exactly as given (appends are sent as quoted literals)', async () => {
    const tricky = {
      text: 'O\'Brien said "no"; \\ C:\\path\\ \'); drop table audit_events; --',
      unicode: 'naïve – 日本 – 🙂',
      newline: 'a\nb\tc',
    };
    const event = await database.db.transaction((tx) =>
      recordAudit(
        tx,
        {
          actorType: 'client',
          actorId: "o'brien\\",
          action: 'note.added',
          entityType: 'client',
          entityId: "c-'1'",
          after: tricky,
          correlationId: '\\x27',
        },
        clock,
      ),
    );
    const [row] = await database.db.select().from(auditEvents).where(eq(auditEvents.id, event!.id));
    expect(row).toMatchObject({ actorId: "o'brien\\", entityId: "c-'1'", correlationId: '\\x27', after: tricky });
    expect(event!.hash).toBe(row!.hash);
    expect((await verifyAuditChain(database.db)).ok).toBe(true);
  });

  it('commits with the appends when asked, in the outermost transaction on PostgreSQL; the work commits with it', async () => {
    const before = (await verifyAuditChain(database.db)).checked;
    const committed = await database.db.transaction(async (tx) => {
      deferAudits(tx, clock);
      await tx.insert(installation).values({ key: 'audit-commit-test', value: 'kept' });
      await recordAudit(tx, { actorType: 'system', action: 'flush.commit', entityType: 't', entityId: '1' }, clock);
      return flushAudits(tx, { commit: true });
    });
    expect(committed).toBe(database.kind === 'postgres');
    const kept = await database.db.select().from(installation).where(eq(installation.key, 'audit-commit-test'));
    expect(kept.map((r) => r.value)).toEqual(['kept']);
    expect((await verifyAuditChain(database.db)).checked).toBe(before + 1);

    // A transaction that fails before its flush leaves neither its work nor its events.
    await expect(
      database.db.transaction(async (tx) => {
        deferAudits(tx, clock);
        await tx.insert(installation).values({ key: 'audit-commit-rolled-back', value: 'x' });
        await recordAudit(tx, { actorType: 'system', action: 'flush.commit', entityType: 't', entityId: '2' }, clock);
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(
      await database.db.select().from(installation).where(eq(installation.key, 'audit-commit-rolled-back')),
    ).toEqual([]);

    // A nested transaction (a savepoint) only appends: the outer one still decides.
    await expect(
      database.db.transaction(async (tx) => {
        await tx.transaction(async (inner) => {
          deferAudits(inner, clock);
          await recordAudit(
            inner,
            { actorType: 'system', action: 'flush.nested', entityType: 't', entityId: '3' },
            clock,
          );
          expect(await flushAudits(inner, { commit: true })).toBe(false);
        });
        throw new Error('outer refused');
      }),
    ).rejects.toThrow('outer refused');
    expect(await database.query("select 1 from audit_events where action = 'flush.nested'")).toEqual([]);

    // Many writers committing with their appends at once: one chain, every event in it.
    await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        database.db.transaction(async (tx) => {
          deferAudits(tx, clock);
          for (let k = 0; k < 3; k++) {
            await recordAudit(
              tx,
              { actorType: 'system', action: 'flush.many', entityType: 't', entityId: `${i}.${k}` },
              clock,
            );
          }
          await flushAudits(tx, { commit: true });
        }),
      ),
    );
    const chain = await verifyAuditChain(database.db);
    expect(chain).toEqual({ ok: true, checked: before + 1 + 72 });
    // Each transaction's events are consecutive: the lock is held from the first append to the commit.
    const order = await database.query<{ entity_id: string }>(
      "select entity_id from audit_events where action = 'flush.many' order by id",
    );
    for (let j = 0; j < order.length; j += 3) {
      const [i] = order[j]!.entity_id.split('.');
      expect(order.slice(j, j + 3).map((r) => r.entity_id)).toEqual([`${i}.0`, `${i}.1`, `${i}.2`]);
    }
  });

  it('a scripted transaction opens with its first statement and ends in the commit of its audit script', async () => {
    const before = (await verifyAuditChain(database.db)).checked;
    const opening = "insert into installation (key, value) values ('scripted-1', 'opened') returning key, value";
    const result = await scriptedTransaction(
      database.db,
      async (tx, opened) => {
        expect(opened).toEqual([[{ key: 'scripted-1', value: 'opened' }]]);
        // A nested transaction is a savepoint: its failure undoes only its own work.
        await expect(
          tx.transaction(async (inner) => {
            await inner.insert(installation).values({ key: 'scripted-nested', value: 'x' });
            throw new Error('inner refused');
          }),
        ).rejects.toThrow('inner refused');
        deferAudits(tx, clock);
        await recordAudit(
          tx,
          { actorType: 'system', action: 'scripted.commit', entityType: 't', entityId: '1' },
          clock,
        );
        return flushAudits(tx, {
          commit: true,
          before: ["update installation set value = 'closed' where key = 'scripted-1'"],
        });
      },
      { opening },
    );
    expect(result).toBe(database.kind === 'postgres');
    const rows = await database.db.select().from(installation).where(eq(installation.key, 'scripted-1'));
    expect(rows.map((r) => r.value)).toEqual(['closed']);
    expect(await database.db.select().from(installation).where(eq(installation.key, 'scripted-nested'))).toEqual([]);
    expect((await verifyAuditChain(database.db)).checked).toBe(before + 1);

    // A failure after the opening rolls back the opening's work too.
    await expect(
      scriptedTransaction(
        database.db,
        async () => {
          throw new Error('refused after opening');
        },
        { opening: "insert into installation (key, value) values ('scripted-2', 'opened')" },
      ),
    ).rejects.toThrow('refused after opening');
    expect(await database.db.select().from(installation).where(eq(installation.key, 'scripted-2'))).toEqual([]);

    // Without an audit script the transaction commits by itself; the connection goes back to the pool clean.
    await scriptedTransaction(database.db, async (tx) => {
      await tx.insert(installation).values({ key: 'scripted-3', value: 'plain' });
    });
    expect(await database.db.select().from(installation).where(eq(installation.key, 'scripted-3'))).toHaveLength(1);
    const [state] = await database
      .query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where datname = current_database() and state = 'idle in transaction'",
      )
      .catch(() => [{ n: 0 }]);
    expect(state!.n).toBe(0);
  });

  it('refuses updates and deletes', async () => {
    await expect(database.query("UPDATE audit_events SET action = 'forged'")).rejects.toThrow(/append-only/);
    await expect(database.query('DELETE FROM audit_events')).rejects.toThrow(/append-only/);
  });

  it('finds the first altered event when the protection is bypassed', async () => {
    // A superuser can disable the trigger; the chain still gives the edit away.
    await database.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change');
    await database.query(
      `UPDATE audit_events SET after = '{"status":"approved","amount":20000000}' WHERE entity_id = 'dep-2'`,
    );
    const [row] = await database.query<{ id: number }>("SELECT id FROM audit_events WHERE entity_id = 'dep-2'");
    const report = await verifyAuditChain(database.db);
    expect(report.ok).toBe(false);
    expect(report.brokenAt).toEqual({ id: Number(row!.id), reason: expect.stringContaining('altered') });

    await database.query(`DELETE FROM audit_events WHERE entity_id = 'dep-2'`);
    const afterDelete = await verifyAuditChain(database.db);
    expect(afterDelete.brokenAt?.reason).toContain('removed');
    await database.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change');
  });
});
