/**
 * Runs and the schedule, with no server and no PSP (the integration tests compare real sources): the latest date
 * whose cut-off has passed runs once, whichever worker asks; a date before its cut-off is refused; a failed run is
 * recorded, alerted, and tried again by the scheduler after a pause; a run needs its date's cut-off to have passed.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { ManualClock } from '../../clock.ts';
import { alerts, reconRuns } from '../../db/schema.ts';
import { AlertService } from '../alerts/service.ts';
import { recordAudit } from '../audit/service.ts';
import { ReconError } from './errors.ts';
import { ReconciliationService, type ReconServers } from './service.ts';

describe('reconciliation runs and schedule', () => {
  let database: TestDatabase;
  const clock = new ManualClock('2026-03-02T21:30:00Z');
  let serversDown = false;
  let service: ReconciliationService;

  beforeAll(async () => {
    database = await createTestDatabase();
    const alertService = new AlertService({ clock });
    const audit = {
      record: (tx: Parameters<typeof recordAudit>[0], e: Parameters<typeof recordAudit>[1]) =>
        recordAudit(tx, e, clock),
    };
    const servers: ReconServers = {
      async list() {
        if (serversDown) throw new Error('server registry unavailable');
        return [];
      },
      platform: async () => {
        throw new Error('no servers here');
      },
    };
    service = new ReconciliationService({
      database,
      clock,
      audit,
      alerts: alertService,
      psp: null,
      servers,
      operations: { database, clock, audit, alerts: alertService },
      settings: { cutoff: '22:00', timeZone: 'Europe/Nicosia', lookbackDays: 31 },
    });
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('runs the latest date whose cut-off has passed, once, whoever asks', async () => {
    // 21:30 UTC is 23:30 in Nicosia: 2 March's cut-off (20:00 UTC) has passed.
    const [first, second] = await Promise.all([service.runIfDue(), service.runIfDue()]);
    const runs = [first, second].filter((r) => r !== null);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      businessDate: '2026-03-02',
      status: 'completed',
      trigger: 'schedule',
      requestedBy: 'system',
      cutoffLocal: '22:00',
      timeZone: 'Europe/Nicosia',
    });
    expect(runs[0]!.cutoffAt.toISOString()).toBe('2026-03-02T20:00:00.000Z');
    expect(runs[0]!.windowStart.toISOString()).toBe('2026-03-01T20:00:00.000Z');
    expect(runs[0]!.sources).toEqual({ psp: { name: null, status: 'not_configured' }, servers: {} });
    expect(await service.runIfDue()).toBeNull();

    // A manual run of the same date is still possible, and does not count as the scheduled one.
    const manual = await service.run({ date: '2026-03-02', requestedBy: 'cli' });
    expect(manual).toMatchObject({ trigger: 'manual', status: 'completed' });
  });

  it('refuses a date whose cut-off has not passed, and a date that is not one', async () => {
    await expect(service.run({ date: '2026-03-03', requestedBy: 'cli' })).rejects.toMatchObject({
      code: 'RECON_CUTOFF_NOT_REACHED',
      status: 409,
    });
    await expect(service.run({ date: '2026-02-30', requestedBy: 'cli' })).rejects.toBeInstanceOf(ReconError);
  });

  it('records a failed run, alerts, and tries again after a pause', async () => {
    clock.set('2026-03-03T20:05:00Z');
    serversDown = true;
    await expect(service.runIfDue()).rejects.toThrow('server registry unavailable');
    const [failed] = await database.db.select().from(reconRuns).where(eq(reconRuns.businessDate, '2026-03-03'));
    expect(failed).toMatchObject({ status: 'failed', error: 'server registry unavailable' });
    const [alert] = await database.db.select().from(alerts).where(eq(alerts.dedupeKey, 'recon_failed:2026-03-03'));
    expect(alert).toMatchObject({ status: 'open', severity: 'critical' });

    serversDown = false;
    clock.advance(60_000);
    expect(await service.runIfDue()).toBeNull();
    clock.advance(15 * 60_000);
    const retried = await service.runIfDue();
    expect(retried).toMatchObject({ businessDate: '2026-03-03', status: 'completed' });
    const [resolved] = await database.db.select().from(alerts).where(eq(alerts.id, alert!.id));
    expect(resolved).toMatchObject({ status: 'resolved' });
  });
});
