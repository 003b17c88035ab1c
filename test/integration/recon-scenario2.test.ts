/**
 * Scenario 2's reconciliation view (DOMAIN §2): a dealer posts a balance correction directly on the server (the
 * simulator's dealer console). Trade sync records it as an external change and reflects it in the ledger; the day's
 * reconciliation shows the record as "on the server, not in the CRM", linked to that external change, with no
 * balance drift. Through the back-office API: the report as JSON and CSV, the break with its links, the permissions,
 * a write-off refused (the record is already in the ledger), and the resolution "explained by the external change".
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alerts, auditEvents, externalChanges, operations, reconBreaks } from '../../src/db/schema.ts';
import { clientVisibleBalance } from '../../src/modules/ledger/service.ts';
import type { RunSummary } from '../../src/modules/reconciliation/service.ts';
import { LIVE } from '../support/accounts-testbed.ts';
import { type FundingTestbed, fundingTestbed } from '../support/funding-testbed.ts';
import { reconDay } from '../support/recon.ts';
import { control } from '../support/simulators.ts';

describe("scenario 2: a dealer's balance correction in the reconciliation", () => {
  let t: FundingTestbed;
  let finance: string;
  let compliance: string;
  let support: string;

  beforeAll(async () => {
    t = await fundingTestbed();
    finance = await t.staffCookie(['finance']);
    compliance = await t.staffCookie(['compliance']);
    support = await t.staffCookie(['support']);
  });
  afterAll(async () => {
    await t?.close();
  });

  const api = (method: 'GET' | 'POST', url: string, cookie: string, payload?: unknown) =>
    t.app.inject({ method, url: `/api/backoffice${url}`, headers: { cookie }, payload: payload as never });

  it('shows the correction as on the server, not in the CRM, linked to its external change', async () => {
    const c = await t.fundedClient();
    const deposit = await t.deposit(c.cookie, c.accountId, 10_000);
    await t.until(deposit.movementId, ['posted']);

    await control(t.live, 'POST', '/control/dealer/balance', {
      login: c.login,
      amount: 25.5,
      type: 'correction',
      comment: 'slippage comp #4411',
    });

    const day = reconDay(t);
    const run = await day.run(0);
    const summary = run.summary as RunSummary;
    expect(summary.byClass).toEqual({ server_not_in_crm: 1 });
    expect(summary.open).toBe(1);
    // The account was compared (not skipped): "no balance drift" is a finding, not an absence of one.
    expect(summary).toMatchObject({ accountsCompared: 1, accountsSkipped: 0 });

    // The sync the run made recorded the external change and reflected it: no balance drift.
    const [change] = await t.database.db
      .select()
      .from(externalChanges)
      .where(and(eq(externalChanges.serverCode, LIVE), eq(externalChanges.login, c.login)));
    expect(change).toMatchObject({ kind: 'balance_record', amountMinor: 2_550, status: 'open' });
    expect(
      await clientVisibleBalance(t.database.db, { type: 'trading_account', ownerId: c.accountId, currency: 'USD' }),
    ).toBe(12_550);

    // The report, as finance and compliance read it; support may not.
    expect((await api('GET', '/recon/runs', support)).statusCode).toBe(403);
    const list = await api('GET', `/recon/runs?date=${day.date}`, compliance);
    expect(list.statusCode).toBe(200);
    expect(list.json().items.map((r: { id: string }) => r.id)).toContain(run.id);
    const report = await api('GET', `/recon/runs/${run.id}`, compliance);
    expect(report.statusCode).toBe(200);
    const [line] = report.json().breaks;
    expect(line).toMatchObject({
      class: 'server_not_in_crm',
      serverCode: LIVE,
      login: c.login,
      tradingAccountId: c.accountId,
      clientId: c.clientId,
      externalChangeId: change!.id,
      reference: null,
      crmAmountMinor: 0,
      otherAmountMinor: 2_550,
      differenceMinor: 2_550,
      currency: 'USD',
      status: 'open',
      isNew: true,
      details: { reason: 'no_reference', recordKind: 'correction', comment: 'slippage comp #4411' },
    });
    expect(line.key).toBe(`server_not_in_crm:${LIVE}:${change!.ticket}`);

    const csv = await api('GET', `/recon/runs/${run.id}/breaks.csv`, finance);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    const rows = csv.body.trim().split('\r\n');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain('business_date,class,key');
    expect(rows[1]).toContain(`${day.date},server_not_in_crm,server_not_in_crm:${LIVE}:${change!.ticket}`);
    expect(rows[1]).toContain('no_reference');

    const detail = await api('GET', `/recon/breaks/${line.breakId}`, compliance);
    expect(detail.statusCode).toBe(200);
    expect(detail.json().externalChange).toMatchObject({ id: change!.id, ticket: change!.ticket });
    expect(detail.json().records).toHaveLength(1);
    expect(detail.json().records[0]).toMatchObject({ ticket: change!.ticket, reference: null, amountMinor: 2_550 });

    // Compliance reads but does not resolve; a write-off is refused: the record is already in the ledger.
    const note = 'dealer compensation for slippage on #4411, approved by the dealing desk';
    expect(
      (await api('POST', `/recon/breaks/${line.breakId}/link-external-change`, compliance, { note })).statusCode,
    ).toBe(403);
    const writeOff = await api('POST', `/recon/breaks/${line.breakId}/write-offs`, finance, { reason: 'not needed' });
    expect(writeOff.statusCode).toBe(409);
    expect(writeOff.json().code).toBe('RECON_WRITE_OFF_NOT_APPLICABLE');
    const retry = await api('POST', `/recon/breaks/${line.breakId}/retry`, finance);
    expect(retry.statusCode).toBe(409);
    expect(retry.json().code).toBe('RECON_NOT_RETRYABLE');

    const linked = await api('POST', `/recon/breaks/${line.breakId}/link-external-change`, finance, { note });
    expect(linked.statusCode).toBe(200);
    expect(linked.json().break).toMatchObject({
      status: 'resolved',
      resolution: 'linked_external_change',
      externalChangeId: change!.id,
      resolutionNote: note,
    });
    const again = await api('POST', `/recon/breaks/${line.breakId}/link-external-change`, finance, { note });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('RECON_BREAK_NOT_OPEN');
    const audited = await t.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.entityType, 'recon_break'), eq(auditEvents.entityId, line.breakId)));
    expect(audited.map((e) => e.action)).toEqual(['recon.break_linked']);

    // A later run of the date still sees the record, but the break stays explained, and the day's alert closes.
    const rerun = await day.service.run({ date: day.date, requestedBy: 'test' });
    expect(rerun.summary).toMatchObject({ breaks: 1, open: 0, cleared: 0 });
    const [alert] = await t.database.db
      .select()
      .from(alerts)
      .where(eq(alerts.dedupeKey, `recon:${day.date}`));
    expect(alert).toMatchObject({ status: 'resolved' });
    const open = await api('GET', '/recon/breaks?status=open', finance);
    expect(open.json()).toMatchObject({ items: [], total: 0 });
  });

  it('runs a date on demand through the API, and refuses a date whose cut-off has not passed', async () => {
    // The API's service uses the configured cut-off (22:00 UTC by default): yesterday's has passed.
    const now = t.clock.now();
    const yesterday = new Date(now.getTime() - 86_400_000).toISOString().slice(0, 10);
    const tomorrow = new Date(now.getTime() + 86_400_000).toISOString().slice(0, 10);
    expect((await api('POST', '/recon/runs', compliance, { date: yesterday })).statusCode).toBe(403);
    const started = await api('POST', '/recon/runs', finance, { date: yesterday });
    expect(started.statusCode).toBe(201);
    expect(started.json().run).toMatchObject({ businessDate: yesterday, status: 'completed', trigger: 'manual' });
    const early = await api('POST', '/recon/runs', finance, { date: tomorrow });
    expect(early.statusCode).toBe(409);
    expect(early.json().code).toBe('RECON_CUTOFF_NOT_REACHED');
    const bad = await api('POST', '/recon/runs', finance, { date: '2026-02-30' });
    expect(bad.statusCode).toBe(400);
    expect((await api('GET', '/recon/runs/00000000-0000-4000-8000-000000000000', finance)).statusCode).toBe(404);
  });

  it('does not let one person explain away a drift or a duplicate with an unrelated change on the account', async () => {
    const c = await t.fundedClient();
    const deposit = await t.deposit(c.cookie, c.accountId, 10_000);
    const movement = await t.until(deposit.movementId, ['posted']);
    const [op] = await t.database.db.select().from(operations).where(eq(operations.id, movement.operationId!));
    // A small correction by the dealer (an external change, booked to the ledger), and a copy of the deposit (a
    // duplicate, and a drift of 100.00 the ledger does not have).
    await control(t.live, 'POST', '/control/dealer/balance', { login: c.login, amount: 5, type: 'correction' });
    await control(t.live, 'POST', '/control/dealer/balance', {
      login: c.login,
      amount: 100,
      type: 'balance',
      comment: op!.reference,
    });
    const day = reconDay(t);
    await day.run(0);
    const [change] = await t.database.db
      .select()
      .from(externalChanges)
      .where(and(eq(externalChanges.serverCode, LIVE), eq(externalChanges.login, c.login)));
    expect(change).toMatchObject({ kind: 'balance_record', amountMinor: 500 });
    expect(change!.ledgerTransactionId).toBeTruthy();
    const byKey = async (key: string) =>
      (await t.database.db.select().from(reconBreaks).where(eq(reconBreaks.key, key)))[0]!;
    const drift = await byKey(`balance_drift:${LIVE}:${c.login}`);
    const duplicate = await byKey(`duplicate:server:${LIVE}:${op!.reference}`);
    expect(drift).toMatchObject({ status: 'open', differenceMinor: 10_000 });
    expect(duplicate).toMatchObject({ status: 'open' });

    const staff = await t.staffCookie(['finance']);
    for (const b of [drift, duplicate]) {
      const linked = await api('POST', `/recon/breaks/${b.id}/link-external-change`, staff, {
        externalChangeId: change!.id,
        note: 'dealer activity on this account',
      });
      expect(linked.statusCode, linked.body).toBe(409);
      expect(linked.json().code).toBe('RECON_LINK_NOT_APPLICABLE');
      expect(await byKey(b.key)).toMatchObject({ status: 'open' });
    }
    // The correction's own break is explained by it.
    const own = await byKey(`server_not_in_crm:${LIVE}:${change!.ticket}`);
    const linked = await api('POST', `/recon/breaks/${own.id}/link-external-change`, staff, { note: 'dealer fix' });
    expect(linked.statusCode, linked.body).toBe(200);
  });
});
