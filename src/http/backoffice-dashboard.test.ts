/**
 * The dashboard route on the whole backend (MT5 simulators, PSP sandbox, real webhooks): its figures are the tables'
 * own (a real deposit, operations, reconciliation breaks found by a real run, sync cursors, alerts), counted in the
 * viewer's time zone for deposits, and each section appears only for roles that may read what it summarises.
 */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FundingTestbed, fundingTestbed } from '../../test/support/funding-testbed.ts';
import { reconDay } from '../../test/support/recon.ts';
import { control } from '../../test/support/simulators.ts';
import { DASHBOARD_DAYS, type Dashboard } from './backoffice-dashboard.ts';

const DAY = 86_400_000;
const utcDay = (d: Date) => d.toISOString().slice(0, 10);

describe('back-office dashboard', () => {
  let t: FundingTestbed;
  let admin: string;
  let c: { clientId: string; cookie: string; accountId: string; login: number };

  const get = async (cookie: string | undefined, query = '') => {
    const options: InjectOptions = { url: `/api/backoffice/dashboard${query}` };
    if (cookie) options.headers = { cookie };
    const r = await t.app.inject(options);
    expect(r.body).not.toMatch(/\n\s+at\s|"stack"|node_modules/);
    return r;
  };
  const insertDeposit = async (values: { createdAt: Date; amountMinor: number; currency: string; status: string }) => {
    await t.database.query(
      `insert into money_movements (kind, direction, status, client_id, trading_account_id, amount_minor, currency,
                                    requested_by_type, requested_by_id, created_at, updated_at)
       values ('deposit', 'in', $1, $2, $3, $4, $5, 'client', $6, $7, $7)`,
      [values.status, c.clientId, c.accountId, values.amountMinor, values.currency, c.clientId, values.createdAt],
    );
  };

  beforeAll(async () => {
    t = await fundingTestbed();
    admin = await t.staffCookie(['admin']);
    c = await t.fundedClient();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('counts deposits per day and currency, operations by status, open breaks, sync lag and open alerts', async () => {
    // A real deposit, paid on the PSP's page and posted to the server; then a dealer re-posts it by hand, which the
    // reconciliation sees as a duplicate and a balance drift.
    const deposit = await t.deposit(c.cookie, c.accountId, 12_345);
    const posted = await t.until(deposit.movementId, ['posted']);
    const [op] = await t.database.query<{ reference: string }>('select reference from operations where id = $1', [
      posted.operationId,
    ]);
    await control(t.live, 'POST', '/control/dealer/balance', {
      login: c.login,
      amount: 123.45,
      type: 'balance',
      comment: op!.reference,
    });
    const day = reconDay(t);
    const run = await day.run(0);
    expect(run.summary).toMatchObject({ byClass: { duplicate: 1, balance_drift: 1 } });
    // A second later than the run (and its summary alert): the alert raised below is the latest.
    t.clock.advance(1000);
    const now = t.clock.now();

    // Deposits the API did not make: a EUR one three days ago (failed payment), one outside the 14 days.
    await insertDeposit({
      createdAt: new Date(now.getTime() - 3 * DAY),
      amountMinor: 5_000,
      currency: 'EUR',
      status: 'payment_failed',
    });
    await insertDeposit({
      createdAt: new Date(now.getTime() - 20 * DAY),
      amountMinor: 9_999,
      currency: 'USD',
      status: 'posted',
    });
    // Sync: one server 120 s behind, another never synced.
    await t.database.query(
      `insert into trade_sync_cursors (server_code, synced_to, consecutive_failures, last_error, updated_at)
       values ($1, $2, 2, 'connection refused', $3)
       on conflict (server_code) do update set synced_to = excluded.synced_to,
         consecutive_failures = excluded.consecutive_failures, last_error = excluded.last_error`,
      ['mt5-live', new Date(now.getTime() - 120_000), now],
    );
    await t.database.query(`delete from trade_sync_cursors where server_code = 'mt5-demo'`);
    await t.ctx.alerts.raise(t.database.db, {
      kind: 'test',
      dedupeKey: 'dashboard:test',
      severity: 'critical',
      title: 'The dashboard test raised this',
    });

    const r = await get(admin);
    expect(r.statusCode, r.body).toBe(200);
    const d = r.json() as Dashboard;
    expect(d.timeZone).toBe('UTC');
    expect(d.generatedAt).toBe(now.toISOString());

    // Deposits: 14 whole days ending today; today's USD line is the real deposit, three days ago the EUR one.
    expect(d.deposits!.days).toHaveLength(DASHBOARD_DAYS);
    expect(d.deposits!.days.at(-1)).toBe(utcDay(now));
    expect(d.deposits!.days[0]).toBe(utcDay(new Date(now.getTime() - (DASHBOARD_DAYS - 1) * DAY)));
    expect(d.deposits!.currencies).toEqual(['EUR', 'USD']);
    const createdDay = utcDay(posted.createdAt);
    expect(d.deposits!.rows).toContainEqual({
      day: createdDay,
      currency: 'USD',
      count: 1,
      amountMinor: 12_345,
      postedCount: 1,
      postedMinor: 12_345,
    });
    expect(d.deposits!.rows).toContainEqual({
      day: utcDay(new Date(now.getTime() - 3 * DAY)),
      currency: 'EUR',
      count: 1,
      amountMinor: 5_000,
      postedCount: 0,
      postedMinor: 0,
    });
    expect(d.deposits!.rows.reduce((n, x) => n + x.count, 0)).toBe(2);

    // Operations: exactly the table's counts.
    const ops = await t.database.query<{ status: string; kind: string; n: string }>(
      'select status, kind, count(*)::text as n from operations group by 1, 2',
    );
    expect(ops.length).toBeGreaterThan(0);
    expect(d.operations!.byStatus).toHaveLength(ops.length);
    for (const o of ops) {
      expect(d.operations!.byStatus).toContainEqual({ status: o.status, kind: o.kind, count: Number(o.n) });
    }
    expect(d.operations!.byStatus).toContainEqual(expect.objectContaining({ status: 'succeeded', kind: 'balance' }));

    // Breaks: the two the run found, and the run.
    expect(d.breaks!.openByClass).toEqual([
      { class: 'balance_drift', count: 1 },
      { class: 'duplicate', count: 1 },
    ]);
    expect(d.breaks!.lastRun).toMatchObject({ id: run.id, businessDate: day.date, status: 'completed' });

    // Sync: every enabled server, lag measured at the clock's now.
    const live = d.sync!.servers.find((s) => s.server === 'mt5-live');
    expect(live).toMatchObject({ lagSeconds: 120, consecutiveFailures: 2, lastError: 'connection refused' });
    expect(d.sync!.servers.find((s) => s.server === 'mt5-demo')).toMatchObject({ syncedTo: null, lagSeconds: null });
    expect(d.sync!.lagAlertSeconds).toBe(t.ctx.config.sync.lagAlertSeconds);

    // Alerts: open ones by severity, the latest first.
    // (the run raised its own summary alert too)
    const open = await t.database.query<{ severity: string; n: string }>(
      `select severity, count(*)::text as n from alerts where status <> 'resolved' group by 1`,
    );
    expect(open.find((a) => a.severity === 'critical')).toBeTruthy();
    expect(d.alerts!.openBySeverity).toHaveLength(open.length);
    for (const a of open) expect(d.alerts!.openBySeverity).toContainEqual({ severity: a.severity, count: Number(a.n) });
    expect(d.alerts!.latest[0]).toMatchObject({ title: 'The dashboard test raised this', severity: 'critical' });
  });

  it("counts deposit days in the viewer's time zone", async () => {
    const now = t.clock.now();
    const midnight = new Date(`${utcDay(now)}T00:00:00Z`);
    // 30 minutes before midnight UTC: yesterday in UTC, today in Tokyo (UTC+9, no daylight saving).
    await insertDeposit({
      createdAt: new Date(midnight.getTime() - 30 * 60_000),
      amountMinor: 700,
      currency: 'JPY',
      status: 'posted',
    });
    const utc = (await get(admin)).json() as Dashboard;
    expect(utc.deposits!.rows).toContainEqual(
      expect.objectContaining({ day: utcDay(new Date(midnight.getTime() - DAY)), currency: 'JPY', postedMinor: 700 }),
    );
    const tokyo = await get(admin, '?timeZone=Asia/Tokyo');
    expect(tokyo.statusCode, tokyo.body).toBe(200);
    const d = tokyo.json() as Dashboard;
    expect(d.timeZone).toBe('Asia/Tokyo');
    expect(d.deposits!.days.at(-1)).toBe(
      new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo' }).format(now), // en-CA formats as YYYY-MM-DD
    );
    expect(d.deposits!.rows).toContainEqual(
      expect.objectContaining({ day: utcDay(midnight), currency: 'JPY', count: 1, postedMinor: 700 }),
    );
  });

  it('shows each section only to roles that may read it', async () => {
    const sections = (d: Dashboard) => ({
      deposits: d.deposits !== null,
      operations: d.operations !== null,
      breaks: d.breaks !== null,
      sync: d.sync !== null,
      alerts: d.alerts !== null,
    });
    const support = (await get(await t.staffCookie(['support']))).json() as Dashboard;
    expect(sections(support)).toEqual({ deposits: true, operations: true, breaks: false, sync: false, alerts: true });
    const finance = (await get(await t.staffCookie(['finance']))).json() as Dashboard;
    expect(sections(finance)).toEqual({ deposits: true, operations: true, breaks: true, sync: false, alerts: true });
    const dealing = (await get(await t.staffCookie(['dealing']))).json() as Dashboard;
    expect(sections(dealing)).toEqual({ deposits: true, operations: true, breaks: false, sync: true, alerts: true });
    const partners = await get(await t.staffCookie(['partner_manager']));
    expect(partners.statusCode).toBe(200);
    expect(sections(partners.json() as Dashboard)).toEqual({
      deposits: false,
      operations: false,
      breaks: false,
      sync: false,
      alerts: false,
    });
  });

  it('refuses a caller without a session and names what to fix in bad input', async () => {
    const anonymous = await get(undefined);
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().code).toBe('SESSION_INVALID');
    const zone = await get(admin, '?timeZone=Mars/Olympus');
    expect(zone.statusCode).toBe(400);
    expect(zone.json().message).toContain('IANA time zone');
    const unknown = await get(admin, '?days=30');
    expect(unknown.statusCode).toBe(400);
  });
});
