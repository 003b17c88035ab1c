import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { ManualClock } from '../../clock.ts';
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
