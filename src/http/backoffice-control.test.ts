/**
 * The back-office routes behind the control screens that the dashboard test does not cover: the audit trail newest
 * first in pages (and by action), pinging every server for its health, and the names of the people on a break's
 * resolution trail and in the write-off queue (maker and checker visible to whoever reads them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FundingTestbed, fundingTestbed } from '../../test/support/funding-testbed.ts';
import { reconBreaks } from '../db/schema.ts';

describe('back-office control routes', () => {
  let t: FundingTestbed;
  let admin: string;

  const get = (url: string, cookie: string) => t.app.inject({ url: `/api/backoffice${url}`, headers: { cookie } });
  const named = async (roles: ('finance' | 'dealing' | 'support')[], name: string) => {
    const cookie = await t.staffCookie(roles);
    const me = (await get('/auth/me', cookie)).json() as { staff: { id: string } };
    await t.database.query('update staff_users set name = $1 where id = $2', [name, me.staff.id]);
    return { cookie, id: me.staff.id };
  };

  beforeAll(async () => {
    t = await fundingTestbed();
    admin = await t.staffCookie(['admin']);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('lists the audit trail newest first in pages, filtered by action, and still oldest first by default', async () => {
    for (const n of [1, 2, 3]) {
      const r = await t.app.inject({
        method: 'POST',
        url: '/api/backoffice/staff',
        headers: { cookie: admin },
        payload: {
          email: `audit-${n}@broker.example`,
          name: `Audit ${n}`,
          password: 'correct horse battery',
          roles: ['support'],
        },
      });
      expect(r.statusCode, r.body).toBe(201);
    }
    const all = await t.database.query<{ id: string }>('select id from audit_events order by id desc');
    const first = await get('/audit?order=desc&limit=2', admin);
    expect(first.statusCode, first.body).toBe(200);
    const page1 = first.json() as { items: { id: number }[]; next: number | null };
    expect(page1.items.map((e) => e.id)).toEqual(all.slice(0, 2).map((e) => Number(e.id)));
    expect(page1.next).toBe(page1.items[1]!.id);
    const page2 = (await get(`/audit?order=desc&limit=2&before=${page1.next}`, admin)).json() as {
      items: { id: number }[];
    };
    expect(page2.items.map((e) => e.id)).toEqual(all.slice(2, 4).map((e) => Number(e.id)));

    const created = (await get('/audit?order=desc&action=staff.created&limit=50', admin)).json() as {
      items: { action: string; after: { email: string } }[];
      next: number | null;
    };
    expect(created.items.every((e) => e.action === 'staff.created')).toBe(true);
    expect(created.items.slice(0, 3).map((e) => e.after.email)).toEqual([
      'audit-3@broker.example',
      'audit-2@broker.example',
      'audit-1@broker.example',
    ]);
    const ascending = (await get('/audit?limit=2', admin)).json() as { items: { id: number }[] };
    expect(ascending.items.map((e) => e.id)).toEqual(
      all
        .slice(-2)
        .reverse()
        .map((e) => Number(e.id)),
    );
    expect((await get('/audit?order=sideways', admin)).statusCode).toBe(400);
    expect((await get('/audit/verify', admin)).json()).toMatchObject({ ok: true });
  });

  it('pings every enabled server and answers their health; roles without servers.read are refused', async () => {
    const r = await t.app.inject({ method: 'POST', url: '/api/backoffice/servers/ping', headers: { cookie: admin } });
    expect(r.statusCode, r.body).toBe(200);
    const items = r.json().items as { code: string; health: { circuit: string; lastPingLatencyMs: number } | null }[];
    const live = items.find((s) => s.code === 'mt5-live');
    expect(live?.health).toMatchObject({ circuit: 'closed' });
    expect(live?.health?.lastPingLatencyMs).toBeGreaterThanOrEqual(0);
    const support = await t.staffCookie(['support']);
    const refused = await t.app.inject({
      method: 'POST',
      url: '/api/backoffice/servers/ping',
      headers: { cookie: support },
    });
    expect(refused.statusCode).toBe(403);
  });

  it("names the maker of a write-off in the queue and on the break's trail", async () => {
    const c = await t.fundedClient();
    const now = t.clock.now();
    const [b] = await t.database.db
      .insert(reconBreaks)
      .values({
        key: `balance_drift:mt5-live:${c.login}`,
        class: 'balance_drift',
        side: 'account',
        status: 'open',
        serverCode: 'mt5-live',
        login: c.login,
        tradingAccountId: c.accountId,
        clientId: c.clientId,
        currency: 'USD',
        crmAmountMinor: 0,
        otherAmountMinor: 500,
        differenceMinor: 500,
        subjectAt: now,
        firstSeenRunId: '00000000-0000-4000-8000-000000000001',
        firstSeenAt: now,
        lastSeenRunId: '00000000-0000-4000-8000-000000000001',
        lastSeenAt: now,
        lastSeenCutoff: now,
        updatedAt: now,
      })
      .returning();
    const maker = await named(['finance'], 'Mia Maker');
    const asked = await t.app.inject({
      method: 'POST',
      url: `/api/backoffice/recon/breaks/${b!.id}/write-offs`,
      headers: { cookie: maker.cookie },
      payload: { reason: 'rounding on the server, agreed with dealing' },
    });
    expect(asked.statusCode, asked.body).toBe(201);
    const queue = (await get('/recon/write-offs', admin)).json();
    expect(queue.items).toHaveLength(1);
    expect(queue.staffNames).toEqual({ [maker.id]: 'Mia Maker' });
    const detail = (await get(`/recon/breaks/${b!.id}`, admin)).json();
    expect(detail.writeOffs[0]).toMatchObject({ requestedBy: maker.id, status: 'requested' });
    expect(detail.staffNames[maker.id]).toBe('Mia Maker');
  });
});
