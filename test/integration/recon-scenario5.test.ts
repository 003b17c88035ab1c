/**
 * Scenario 5 (DOMAIN §2): six deposits in launch week, two never reach the server because of a routing rule. Here
 * the rule is the real one: the MT4 live server was switched off in the server registry for the launch cut-over
 * (`enabled: false`), so the operations engine's route to it is refused (RoutingError server_disabled) and the two
 * deposits' operations go to needs_review; the server is switched back on later that day. The same day's
 * reconciliation shows exactly those two as "approved in the CRM, missing on the server", each linked to its
 * movement, its operation and the operation's log (attempts and audit trail). A retry with the same reference puts
 * them on the server, and the next day's run no longer sees them: they clear by themselves.
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alerts, operations, reconBreakEvents, reconBreaks } from '../../src/db/schema.ts';
import { clientVisibleBalance } from '../../src/modules/ledger/service.ts';
import { breakDetail, runReport } from '../../src/modules/reconciliation/report.ts';
import { retryBreak } from '../../src/modules/reconciliation/resolution.ts';
import type { RunSources, RunSummary } from '../../src/modules/reconciliation/service.ts';
import { LIVE, MT4_LIVE } from '../support/accounts-testbed.ts';
import { type FundingTestbed, fundingTestbed } from '../support/funding-testbed.ts';
import { expectLedgerBalanced } from '../support/ledger.ts';
import { reconDay } from '../support/recon.ts';

describe('scenario 5: deposits a routing rule kept from the server are breaks the same day', () => {
  let t: FundingTestbed;

  beforeAll(async () => {
    t = await fundingTestbed({ mt4: true });
  });
  afterAll(async () => {
    await t?.close();
  });

  const mt4Server = (enabled: boolean) =>
    t.ctx.registry.upsert({
      code: MT4_LIVE,
      platform: 'mt4',
      environment: 'live',
      address: t.mt4!.url,
      managerLogin: t.mt4!.manager.login,
      passwordSecret: 'env:BD_TEST_MT4_MANAGER',
      caCertPath: t.mt4!.certPath ?? null,
      requestTimeoutMs: 3000,
      connectTimeoutMs: 1000,
      enabled,
    });

  it('shows exactly the two blocked deposits, each with its operation log; a retry clears them the next day', async () => {
    // Launch week: four clients on MT5 live, two on MT4 live.
    const mt5Clients = [];
    for (let i = 0; i < 4; i++) mt5Clients.push(await t.fundedClient());
    const mt4Clients = [];
    for (let i = 0; i < 2; i++) mt4Clients.push(await t.fundedClient({ server: MT4_LIVE }));

    // The MT4 server is switched off for the cut-over while the deposits arrive.
    await mt4Server(false);
    const amounts = [150_000, 20_000, 75_050, 9_900, 200_000, 31_415];
    const deposits = [];
    for (const [i, c] of [...mt5Clients, ...mt4Clients].entries()) {
      deposits.push({ ...(await t.deposit(c.cookie, c.accountId, amounts[i]!)), client: c });
    }
    const mt5Deposits = deposits.slice(0, 4);
    const blocked = deposits.slice(4);
    for (const d of mt5Deposits) await t.until(d.movementId, ['posted']);
    for (const d of blocked) await t.until(d.movementId, ['approved']);
    await t.engine.drain();
    const blockedOps = [];
    for (const d of blocked) {
      const movement = await t.movement(d.movementId);
      expect(movement.status).toBe('approved');
      const [op] = await t.database.db.select().from(operations).where(eq(operations.id, movement.operationId!));
      expect(op).toMatchObject({ status: 'needs_review', serverCode: MT4_LIVE });
      expect(op!.lastError).toMatchObject({ code: 'server_disabled' });
      blockedOps.push(op!);
    }
    // Switched back on the same day; the two operations wait for a person.
    await mt4Server(true);

    const day = reconDay(t);
    const run = await day.run(0);
    const summary = run.summary as RunSummary;
    const sources = run.sources as RunSources;
    expect(run.status).toBe('completed');
    expect(sources.psp).toMatchObject({ status: 'ok', lines: 6 });
    expect(sources.servers[LIVE]).toMatchObject({ status: 'compared', complete: true });
    expect(sources.servers[MT4_LIVE]).toMatchObject({ status: 'compared', complete: true });
    expect(sources.servers['mt5-demo']).toBeUndefined();
    expect(summary.byClass).toEqual({ missing_on_server: 2 });
    expect(summary).toMatchObject({ breaks: 2, open: 2, opened: 2, cleared: 0 });
    expect(summary.accountsCompared).toBe(6);

    const report = await runReport(t.database.db, run.id);
    expect(report.breaks).toHaveLength(2);
    expect(new Set(report.breaks.map((b) => b.movementId))).toEqual(new Set(blocked.map((d) => d.movementId)));
    for (const line of report.breaks) {
      const op = blockedOps.find((o) => o.id === line.operationId)!;
      expect(line).toMatchObject({
        class: 'missing_on_server',
        key: `missing_on_server:${op.reference}`,
        isNew: true,
        status: 'open',
        serverCode: MT4_LIVE,
        reference: op.reference,
        currency: 'USD',
        otherAmountMinor: 0,
      });
      expect(line.crmAmountMinor).toBe(-line.differenceMinor!);
      expect(line.details).toMatchObject({
        operationStatus: 'needs_review',
        movementStatus: 'approved',
        lastError: { code: 'server_disabled' },
      });

      // The break links to the exact operation log that explains it.
      const detail = await breakDetail(t.database.db, line.breakId!);
      expect(detail.movement?.id).toBe(line.movementId);
      expect(detail.operation).toMatchObject({ id: op.id, reference: op.reference, status: 'needs_review' });
      expect(detail.attempts.length).toBeGreaterThanOrEqual(1);
      expect(detail.attempts.every((a) => a.reference === op.reference && a.serverCode === MT4_LIVE)).toBe(true);
      const reviewed = detail.operationTrail.find((e) => e.action === 'operation.needs_review');
      expect(JSON.stringify(reviewed?.after)).toContain(`trading server \\"${MT4_LIVE}\\" is disabled`);
      expect(detail.records).toEqual([]);
      // …and to the PSP's own record of the payment, as the run fetched it.
      const d = blocked.find((b) => b.movementId === line.movementId)!;
      expect(line.psp).toBe(t.psp.provider.name);
      expect(detail.pspLines).toHaveLength(1);
      expect(detail.pspLines[0]).toMatchObject({
        type: 'payment',
        merchantReference: line.movementId,
        pspPaymentId: d.pspPaymentId,
        amountMinor: -line.differenceMinor!,
        currency: 'USD',
      });
    }

    // One summary alert for the date, not one per break.
    const [alert] = await t.database.db
      .select()
      .from(alerts)
      .where(and(eq(alerts.dedupeKey, `recon:${day.date}`)));
    expect(alert).toMatchObject({ status: 'open', severity: 'critical', occurrences: 1 });
    expect(alert!.title).toContain('2 missing on server');

    // A second run of the same date sees the same two breaks (stable keys), opens nothing new.
    const again = await day.service.run({ date: day.date, requestedBy: 'test' });
    expect(again.summary).toMatchObject({ breaks: 2, opened: 0, reopened: 0, cleared: 0 });
    const [sameAlert] = await t.database.db
      .select()
      .from(alerts)
      .where(eq(alerts.dedupeKey, `recon:${day.date}`));
    expect(sameAlert).toMatchObject({ id: alert!.id, occurrences: 2 });

    // Finance retries each operation with its reference; the engine looks it up on MT4 first, then posts it.
    for (const line of report.breaks) await retryBreak(day.service, line.breakId!, 'finance-1');
    for (const d of blocked) await t.until(d.movementId, ['posted']);
    for (const d of blocked) {
      expect(
        await clientVisibleBalance(t.database.db, {
          type: 'trading_account',
          ownerId: d.client.accountId,
          currency: 'USD',
        }),
      ).toBe(amounts[deposits.indexOf(d)]);
    }

    // The next day's run no longer sees them: cleared, with the trail retry → cleared.
    const next = await day.run(1);
    expect(next.summary).toMatchObject({ breaks: 0, open: 0, cleared: 2 });
    const cleared = await runReport(t.database.db, next.id);
    expect(cleared.cleared.map((c) => c.class)).toEqual(['missing_on_server', 'missing_on_server']);
    for (const line of report.breaks) {
      const [b] = await t.database.db.select().from(reconBreaks).where(eq(reconBreaks.id, line.breakId!));
      expect(b).toMatchObject({ status: 'resolved', resolution: 'cleared', resolvedByRunId: next.id });
      const events = await t.database.db
        .select()
        .from(reconBreakEvents)
        .where(eq(reconBreakEvents.breakId, line.breakId!))
        .orderBy(reconBreakEvents.id);
      expect(events.map((e) => e.action)).toEqual(['opened', 'retry_requested', 'cleared']);
    }
    await expectLedgerBalanced(t.database.db);
  });
});
