/**
 * The back-office routes behind the operations screens: notes on a client (append-only, paged, by role), movements
 * and approvals with the names of the people involved and the number of approvals a request needs, an operation
 * with the movement and account it was made for and its history (who retried it), and alerts in pages.
 */
import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FundingTestbed, fundingTestbed } from '../../test/support/funding-testbed.ts';
import { control } from '../../test/support/simulators.ts';
import { alerts, operations } from '../db/schema.ts';
import { verifyAuditChain } from '../modules/audit/service.ts';

describe('back-office operations routes', () => {
  let t: FundingTestbed;
  let support: string;
  let financeA: string;
  let financeB: string;
  let dealing: string;
  let c: { clientId: string; cookie: string; accountId: string; login: number };

  let ip = 0;
  const call = async (options: InjectOptions & { cookie?: string }): Promise<LightMyRequestResponse> => {
    const { cookie, ...rest } = options;
    ip += 1;
    const r = await t.app.inject({
      ...rest,
      headers: { ...(cookie ? { cookie } : {}) },
      remoteAddress: `10.3.${Math.floor(ip / 250)}.${(ip % 250) + 1}`,
    });
    expect(r.body).not.toMatch(/\n\s+at\s|"stack"|\.[cm]?[jt]s:\d+|node_modules/);
    return r;
  };
  const named = async (roles: ('support' | 'finance' | 'dealing')[], name: string) => {
    const cookie = await t.staffCookie(roles);
    const me = (await call({ url: '/api/backoffice/auth/me', cookie })).json() as { staff: { id: string } };
    await t.database.query(`update staff_users set name = $1 where id = $2`, [name, me.staff.id]);
    return cookie;
  };

  beforeAll(async () => {
    t = await fundingTestbed();
    support = await named(['support'], 'Sam Support');
    financeA = await named(['finance'], 'Fiona Finance');
    financeB = await named(['finance'], 'Felix Finance');
    dealing = await named(['dealing'], 'Dana Dealer');
    c = await t.fundedClient();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('notes on a client: added by roles that manage clients, newest first, in pages, kept in the audit chain', async () => {
    const url = `/api/backoffice/clients/${c.clientId}/notes`;
    const texts = ['Called about the card deposit', 'Sent the bank details again', 'Asked for a new proof of address'];
    for (const text of texts) {
      t.clock.advance(1000);
      const r = await call({ method: 'POST', url, cookie: support, payload: { text } });
      expect(r.statusCode, r.body).toBe(201);
      expect(r.json().note).toMatchObject({ text, staffName: 'Sam Support' });
    }
    const first = await call({ url: `${url}?limit=2`, cookie: financeA });
    expect(first.statusCode, first.body).toBe(200);
    const page1 = first.json() as { items: { id: number; text: string; staffName: string }[]; next: number | null };
    expect(page1.items.map((n) => n.text)).toEqual([texts[2], texts[1]]);
    expect(page1.next).toBe(page1.items[1]!.id);
    const page2 = (await call({ url: `${url}?limit=2&before=${page1.next}`, cookie: financeA })).json();
    expect(page2).toMatchObject({ items: [{ text: texts[0], staffName: 'Sam Support' }], next: null });
    // Another client's notes are not these.
    const other = await t.fundedClient();
    expect((await call({ url: `/api/backoffice/clients/${other.clientId}/notes`, cookie: support })).json()).toEqual({
      items: [],
      next: null,
    });

    // Finance reads clients but does not manage them; bad input names the field; an unknown client is 404.
    const refused = await call({ method: 'POST', url, cookie: financeA, payload: { text: 'I may not write this' } });
    expect(refused.statusCode).toBe(403);
    const short = await call({ method: 'POST', url, cookie: support, payload: { text: ' x ' } });
    expect(short.statusCode).toBe(400);
    expect(short.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(short.json().message).toContain('text');
    const extra = await call({ method: 'POST', url, cookie: support, payload: { text: 'fine words', pinned: true } });
    expect(extra.statusCode).toBe(400);
    const missing = await call({
      method: 'POST',
      url: `/api/backoffice/clients/${randomUUID()}/notes`,
      cookie: support,
      payload: { text: 'nobody is here' },
    });
    expect(missing.statusCode).toBe(404);
    expect((await call({ url: `${url}?limit=0`, cookie: support })).statusCode).toBe(400);
    expect((await call({ url, cookie: undefined })).statusCode).toBe(401);
    expect(await verifyAuditChain(t.database.db)).toMatchObject({ ok: true });
  });

  it('movements and approvals carry who asked, who approved and how many approvals are needed', async () => {
    const deposit = (await t.deposit(c.cookie, c.accountId, 300_000)).movementId;
    await t.until(deposit, ['posted']);
    t.clock.advance(1000);
    const w = await call({
      method: 'POST',
      url: '/api/portal/withdrawals',
      cookie: c.cookie,
      payload: { accountId: c.accountId, amountMinor: 150_000, destination: { type: 'card', last4: '4242' } },
    });
    expect(w.statusCode, w.body).toBe(201);
    const id = w.json().movement.id as string;
    const detail = async () => {
      const r = await call({ url: `/api/backoffice/movements/${id}`, cookie: support });
      expect(r.statusCode, r.body).toBe(200);
      return r.json();
    };
    const before = await detail();
    expect(before).toMatchObject({
      approvalsRequired: 2,
      approvals: [],
      movement: { id, status: 'requested', clientName: expect.any(String), login: c.login, serverCode: 'mt5-live' },
      operations: [],
    });
    const first = await call({
      method: 'POST',
      url: `/api/backoffice/movements/${id}/decision`,
      cookie: financeA,
      payload: { decision: 'approve' },
    });
    expect(first.json().movement.status).toBe('awaiting_second_approval');
    const queue = (await call({ url: '/api/backoffice/approvals', cookie: support })).json();
    expect(queue.items.find((m: { id: string }) => m.id === id)).toMatchObject({
      approvalsRequired: 2,
      login: c.login,
      approvals: [{ decision: 'approve', staffName: 'Fiona Finance' }],
    });
    const again = await call({
      method: 'POST',
      url: `/api/backoffice/movements/${id}/decision`,
      cookie: financeA,
      payload: { decision: 'approve' },
    });
    expect(again.statusCode).toBe(403);
    expect(again.json()).toMatchObject({ code: 'ALREADY_DECIDED' });
    await call({
      method: 'POST',
      url: `/api/backoffice/movements/${id}/decision`,
      cookie: financeB,
      payload: { decision: 'approve', comment: 'second pair of eyes' },
    });
    await t.until(id, ['debited']);
    const after = await detail();
    expect(after.approvals.map((a: { staffName: string }) => a.staffName).sort()).toEqual([
      'Felix Finance',
      'Fiona Finance',
    ]);
    expect(after.operations).toEqual([
      expect.objectContaining({ kind: 'balance', status: 'succeeded', reference: expect.stringMatching(/^BD-/) }),
    ]);
    const list = (await call({ url: `/api/backoffice/movements?clientId=${c.clientId}`, cookie: support })).json();
    expect(list.items[0]).toMatchObject({ id, clientName: before.movement.clientName, login: c.login });

    // A credit requested by staff names its maker.
    const credit = await call({
      method: 'POST',
      url: '/api/backoffice/credits',
      cookie: financeA,
      payload: { accountId: c.accountId, amountMinor: 5_000, direction: 'in', reason: 'welcome bonus' },
    });
    expect(credit.statusCode, credit.body).toBe(201);
    const creditView = (
      await call({ url: `/api/backoffice/movements/${credit.json().movement.id}`, cookie: support })
    ).json();
    expect(creditView).toMatchObject({ approvalsRequired: 1, movement: { requestedByName: 'Fiona Finance' } });
  });

  it('an operation shows its movement, its account and who retried it; alerts come in pages with names', async () => {
    await control(t.live, 'POST', '/control/faults', { endpoint: '/api/trade/balance', kind: 'drop_reply', count: 1 });
    await control(t.live, 'POST', '/control/faults', { endpoint: '/api/deal/get_total', kind: 'refuse' });
    const deposit = (await t.deposit(c.cookie, c.accountId, 12_345)).movementId;
    await t.psp.psp.webhooksIdle();
    const opId = (await t.movement(deposit)).operationId!;
    for (let i = 0; i < 20; i++) {
      await t.engine.drain();
      const [op] = await t.database.db.select().from(operations).where(eq(operations.id, opId));
      if (op!.status === 'needs_review') break;
      t.clock.advance(60_000);
    }
    const url = `/api/backoffice/operations/${opId}`;
    const stuck = (await call({ url, cookie: support })).json();
    expect(stuck.operation.status).toBe('needs_review');
    expect(stuck.movement).toMatchObject({ id: deposit, kind: 'deposit', clientId: c.clientId });
    expect(stuck.account).toMatchObject({ id: c.accountId, clientId: c.clientId });
    expect(stuck.history.map((h: { action: string }) => h.action)).toContain('operation.needs_review');
    expect(stuck.attempts.length).toBeGreaterThan(1);

    await control(t.live, 'DELETE', '/control/faults');
    const retried = await call({ method: 'POST', url: `${url}/retry`, cookie: dealing });
    expect(retried.statusCode, retried.body).toBe(200);
    expect(retried.json()).toMatchObject({ reference: stuck.operation.reference, attempts: 0 });
    // The server's circuit opened during the faults; it lets a probe through after its pause.
    t.clock.advance(60_000);
    await t.until(deposit, ['posted']);
    const done = (await call({ url, cookie: support })).json();
    expect(done.operation.status).toBe('succeeded');
    expect(done.history).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'operation.retry_requested', actorName: 'Dana Dealer', actorType: 'staff' }),
      ]),
    );

    // Alerts: the needs_review alert was resolved by the success; three more open ones to page through.
    for (let i = 0; i < 3; i++) {
      await t.database.db.transaction((tx) =>
        t.ctx.alerts.raise(tx, {
          kind: 'test',
          dedupeKey: `ops-test:${i}`,
          severity: i === 0 ? 'critical' : 'warning',
          title: `test alert ${i}`,
        }),
      );
      t.clock.advance(1000);
    }
    const page1 = (await call({ url: '/api/backoffice/alerts?status=open&limit=2', cookie: support })).json();
    expect(page1.items.map((a: { title: string }) => a.title)).toEqual(['test alert 2', 'test alert 1']);
    expect(page1.next).toBe(2);
    const page2 = (await call({ url: '/api/backoffice/alerts?status=open&limit=2&offset=2', cookie: support })).json();
    expect(page2).toMatchObject({ items: [{ title: 'test alert 0' }], next: null });
    const critical = (await call({ url: '/api/backoffice/alerts?severity=critical', cookie: support })).json();
    expect(critical.items.every((a: { severity: string }) => a.severity === 'critical')).toBe(true);
    const [alert] = await t.database.db.select().from(alerts).where(eq(alerts.dedupeKey, 'ops-test:0'));
    expect(
      (await call({ method: 'POST', url: `/api/backoffice/alerts/${alert!.id}/acknowledge`, cookie: dealing }))
        .statusCode,
    ).toBe(200);
    const acknowledged = (await call({ url: '/api/backoffice/alerts?status=acknowledged', cookie: support })).json();
    expect(acknowledged.items[0]).toMatchObject({ id: alert!.id, acknowledgedByName: 'Dana Dealer' });
    expect((await call({ url: '/api/backoffice/alerts?severity=loud', cookie: support })).statusCode).toBe(400);
  });
});
