/**
 * The HTTP API for money, at its edges: every funding route refuses bad input with a 4xx that names the field and
 * changes nothing; sessions are required and checked before the body is read; clients never reach each other's
 * money; the back office lists, filters, pages and explains movements; exchange rates are validated; support may
 * read but not decide. No answer ever carries a stack trace or an internal path.
 */
import { randomUUID } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FundingTestbed, fundingTestbed } from '../../test/support/funding-testbed.ts';
import { expectLedgerBalanced } from '../../test/support/ledger.ts';
import { pspSignature } from '../../test/support/psp.ts';
import { ManualClock } from '../clock.ts';
import { ClientSessions } from '../modules/clients/sessions.ts';
import { StaffService } from '../modules/staff/service.ts';

type Json = Record<string, unknown>;
interface Movement {
  id: string;
  kind: string;
  status: string;
  clientId: string;
  tradingAccountId: string;
  createdAt: string;
}

const CARD = { type: 'card', last4: '4242' };

describe('the money API: validation, sessions, back-office reads, exchange rates, roles', () => {
  let t: FundingTestbed;
  let financeA: string;
  let financeB: string;
  let support: string;
  let supportEmail: string;
  /** Client c: funded, with a deposit, a withdrawal waiting for its second approval and a credit waiting. */
  let c: { clientId: string; cookie: string; accountId: string; login: number };
  /** Client o: another client, with a deposit of their own. */
  let o: { clientId: string; cookie: string; accountId: string; login: number };
  let second: { accountId: string; login: number };
  let deposit: string;
  let otherDeposit: string;
  let withdrawal: string;
  let credit: string;

  // Every request from its own address, so the portal's per-IP limits never decide a test.
  let ip = 0;
  const call = async (options: InjectOptions & { cookie?: string }): Promise<LightMyRequestResponse> => {
    const { cookie, ...rest } = options;
    ip += 1;
    const r = await t.app.inject({
      ...rest,
      headers: { ...(rest.headers as Record<string, string> | undefined), ...(cookie ? { cookie } : {}) },
      remoteAddress: `10.2.${Math.floor(ip / 250)}.${(ip % 250) + 1}`,
    });
    expectNoInternals(r);
    return r;
  };
  const expectNoInternals = (r: LightMyRequestResponse) => {
    expect(r.body, `${r.statusCode} ${r.body}`).not.toMatch(/\n\s+at\s|"stack"|\.[cm]?[jt]s:\d+|node_modules/);
    if (r.statusCode >= 400) {
      const body = r.json() as Json;
      expect(Object.keys(body).sort()).toEqual(expect.arrayContaining(['code', 'message']));
      expect(Object.keys(body).every((k) => ['code', 'message', 'details'].includes(k))).toBe(true);
    }
  };

  /** Row counts of everything a money request could change. */
  const snapshot = async () => {
    const tables = [
      'money_movements',
      'movement_approvals',
      'movement_events',
      'operations',
      'ledger_entries',
      'fx_rates',
      'psp_events',
      'audit_events',
    ];
    const counts: Record<string, number> = {};
    for (const table of tables) {
      const [row] = await t.database.query<{ n: number }>(`select count(*)::int as n from ${table}`);
      counts[table] = row!.n;
    }
    const statuses = await t.database.query<{ id: string; status: string }>(
      'select id, status from money_movements order by id',
    );
    return { counts, statuses };
  };
  /** Runs `body` and checks that no money row changed. */
  const changesNothing = async (body: () => Promise<void>) => {
    const before = await snapshot();
    await body();
    await t.engine.drain();
    expect(await snapshot()).toEqual(before);
  };

  const expectRefusal = (r: LightMyRequestResponse, status: number, code: string, ...mentions: string[]) => {
    expect(r.statusCode, r.body).toBe(status);
    const body = r.json() as { code: string; message: string };
    expect(body.code, r.body).toBe(code);
    for (const m of mentions) expect(body.message, r.body).toContain(m);
  };

  beforeAll(async () => {
    t = await fundingTestbed();
    financeA = await t.staffCookie(['finance']);
    financeB = await t.staffCookie(['finance']);
    support = await t.staffCookie(['support']);
    const [row] = await t.database.query<{ email: string }>(
      "select email from staff_users where 'support' = any(roles) order by created_at desc limit 1",
    );
    supportEmail = row!.email;

    // One second between creations, so "newest first" and "oldest first" have an order to show.
    const tick = () => t.clock.advance(1000);
    c = await t.fundedClient();
    second = await t.openAccount(c.clientId);
    o = await t.fundedClient();
    tick();
    deposit = (await t.deposit(c.cookie, c.accountId, 100_000)).movementId;
    await t.until(deposit, ['posted']);
    tick();
    otherDeposit = (await t.deposit(o.cookie, o.accountId, 50_000)).movementId;
    await t.until(otherDeposit, ['posted']);
    tick();
    const w = await t.app.inject({
      method: 'POST',
      url: '/api/portal/withdrawals',
      headers: { cookie: c.cookie },
      payload: { accountId: c.accountId, amountMinor: 100_000, destination: CARD },
    });
    expect(w.statusCode, w.body).toBe(201);
    withdrawal = w.json().movement.id;
    const first = await t.app.inject({
      method: 'POST',
      url: `/api/backoffice/movements/${withdrawal}/decision`,
      headers: { cookie: financeA },
      payload: { decision: 'approve', comment: 'documents checked' },
    });
    expect(first.json().movement?.status, first.body).toBe('awaiting_second_approval');
    tick();
    const cr = await t.app.inject({
      method: 'POST',
      url: '/api/backoffice/credits',
      headers: { cookie: financeA },
      payload: { accountId: c.accountId, amountMinor: 5_000, direction: 'in', reason: 'loyalty bonus' },
    });
    expect(cr.statusCode, cr.body).toBe(201);
    credit = cr.json().movement.id;
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(async () => {
    await expectLedgerBalanced(t.database.db);
  });

  // --- client portal ---------------------------------------------------------------------------------------------------

  it('refuses bad input on every portal money route with 400 VALIDATION_FAILED naming the field, and changes nothing', async () => {
    const post = (url: string, payload: unknown) =>
      call({ method: 'POST', url, cookie: c.cookie, payload: payload as Json });
    const raw = (url: string, body: string, contentType = 'application/json') =>
      call({ method: 'POST', url, cookie: c.cookie, payload: body, headers: { 'content-type': contentType } });
    const startDeposit = (extra: Json) =>
      post('/api/portal/deposits', { accountId: c.accountId, amountMinor: 10_000, ...extra });
    const withdraw = (extra: Json) =>
      post('/api/portal/withdrawals', {
        accountId: second.accountId,
        amountMinor: 10_000,
        destination: CARD,
        ...extra,
      });
    const transfer = (extra: Json) =>
      post('/api/portal/transfers', {
        fromAccountId: c.accountId,
        toAccountId: second.accountId,
        amountMinor: 10_000,
        ...extra,
      });

    await changesNothing(async () => {
      for (const url of ['/api/portal/deposits', '/api/portal/withdrawals', '/api/portal/transfers']) {
        expectRefusal(await raw(url, '{"accountId": "'), 400, 'MALFORMED_JSON');
        expectRefusal(await raw(url, '{"amountMinor": 1,}'), 400, 'MALFORMED_JSON');
        expect((await raw(url, '')).statusCode).toBe(400);
        expectRefusal(await raw(url, '[]'), 400, 'VALIDATION_FAILED');
        expectRefusal(await raw(url, 'null'), 400, 'VALIDATION_FAILED');
        expect((await raw(url, 'amountMinor=1', 'application/x-www-form-urlencoded')).statusCode).toBe(415);
        // Over the 1 MiB body limit.
        expect((await raw(url, JSON.stringify({ accountId: 'x'.repeat(1_100_000) }))).statusCode).toBe(413);
      }

      for (const send of [startDeposit, withdraw, transfer]) {
        expectRefusal(await send({ amountMinor: '10000' }), 400, 'VALIDATION_FAILED', 'amountMinor', 'whole number');
        expectRefusal(await send({ amountMinor: 10.5 }), 400, 'VALIDATION_FAILED', 'amountMinor', 'whole number');
        expectRefusal(await send({ amountMinor: 0 }), 400, 'VALIDATION_FAILED', 'amountMinor', 'more than zero');
        expectRefusal(await send({ amountMinor: -500 }), 400, 'VALIDATION_FAILED', 'amountMinor', 'more than zero');
        expectRefusal(await send({ amountMinor: 2 ** 53 }), 400, 'VALIDATION_FAILED', 'amountMinor');
        expectRefusal(await send({ amountMinor: null }), 400, 'VALIDATION_FAILED', 'amountMinor');
        expectRefusal(await send({ amountMinor: [10_000] }), 400, 'VALIDATION_FAILED', 'amountMinor');
        expectRefusal(await send({ amountMinor: { value: 10_000 } }), 400, 'VALIDATION_FAILED', 'amountMinor');
        expectRefusal(await send({ currency: 'USD' }), 400, 'VALIDATION_FAILED', 'currency');
        expectRefusal(await send({ __proto__x: 1, clientId: o.clientId }), 400, 'VALIDATION_FAILED', 'clientId');
      }
      expectRefusal(
        await raw('/api/portal/deposits', `{"accountId":"${c.accountId}","amountMinor":1e400}`),
        400,
        'VALIDATION_FAILED',
        'amountMinor',
      );

      expectRefusal(await startDeposit({ accountId: 'not-a-uuid' }), 400, 'VALIDATION_FAILED', 'accountId');
      expectRefusal(await startDeposit({ accountId: 'a'.repeat(10_000) }), 400, 'VALIDATION_FAILED', 'accountId');
      expectRefusal(await startDeposit({ accountId: 42 }), 400, 'VALIDATION_FAILED', 'accountId');
      expectRefusal(await post('/api/portal/deposits', { amountMinor: 100 }), 400, 'VALIDATION_FAILED', 'accountId');
      expectRefusal(await startDeposit({ amountMinor: 10_000_001 }), 422, 'AMOUNT_TOO_LARGE');

      expectRefusal(await withdraw({ destination: undefined }), 400, 'VALIDATION_FAILED', 'destination');
      expectRefusal(await withdraw({ destination: { type: 'crypto', wallet: '0xabc' } }), 400, 'VALIDATION_FAILED');
      expectRefusal(
        await withdraw({ destination: { type: 'card', last4: '12a4' } }),
        400,
        'VALIDATION_FAILED',
        'destination.last4',
      );
      expectRefusal(
        await withdraw({ destination: { type: 'card', last4: '4'.repeat(5000) } }),
        400,
        'VALIDATION_FAILED',
        'destination.last4',
      );
      expectRefusal(
        await withdraw({ destination: { type: 'card', last4: '4242', number: '4242424242424242' } }),
        400,
        'VALIDATION_FAILED',
        'number',
      );
      expectRefusal(
        await withdraw({ destination: { type: 'bank_account', iban: `CY17${'0'.repeat(5000)}` } }),
        400,
        'VALIDATION_FAILED',
        'destination.iban',
      );
      expectRefusal(
        await withdraw({ destination: { type: 'bank_account', iban: 'not an iban' } }),
        400,
        'VALIDATION_FAILED',
        'destination.iban',
      );

      expectRefusal(await transfer({ fromAccountId: 'nope' }), 400, 'VALIDATION_FAILED', 'fromAccountId');
      expectRefusal(await transfer({ toAccountId: undefined }), 400, 'VALIDATION_FAILED', 'toAccountId');
      expectRefusal(await transfer({ toAccountId: c.accountId }), 400, 'SAME_ACCOUNT');
    });
  });

  it('answers 404 for another client’s account or movement and for ids that do not exist; 400 for ids that are not uuids', async () => {
    await changesNothing(async () => {
      const unknown = randomUUID();
      const post = (url: string, payload?: Json) => call({ method: 'POST', url, cookie: c.cookie, payload });
      expectRefusal(
        await post('/api/portal/deposits', { accountId: o.accountId, amountMinor: 10_000 }),
        404,
        'ACCOUNT_NOT_FOUND',
      );
      expectRefusal(
        await post('/api/portal/deposits', { accountId: unknown, amountMinor: 10_000 }),
        404,
        'ACCOUNT_NOT_FOUND',
      );
      expectRefusal(
        await post('/api/portal/withdrawals', { accountId: o.accountId, amountMinor: 10_000, destination: CARD }),
        404,
        'ACCOUNT_NOT_FOUND',
      );
      expectRefusal(
        await post('/api/portal/transfers', { fromAccountId: c.accountId, toAccountId: o.accountId, amountMinor: 1 }),
        404,
        'ACCOUNT_NOT_FOUND',
      );
      expectRefusal(
        await post('/api/portal/transfers', { fromAccountId: o.accountId, toAccountId: c.accountId, amountMinor: 1 }),
        404,
        'ACCOUNT_NOT_FOUND',
      );

      // Another client's movement is "not found", exactly like one that does not exist: ids cannot be probed.
      const foreign = await call({ url: `/api/portal/movements/${otherDeposit}`, cookie: c.cookie });
      const missing = await call({ url: `/api/portal/movements/${unknown}`, cookie: c.cookie });
      expectRefusal(foreign, 404, 'MOVEMENT_NOT_FOUND');
      expectRefusal(missing, 404, 'MOVEMENT_NOT_FOUND');
      expectRefusal(await post(`/api/portal/withdrawals/${otherDeposit}/cancel`), 404, 'MOVEMENT_NOT_FOUND');
      expectRefusal(await post(`/api/portal/withdrawals/${unknown}/cancel`), 404, 'MOVEMENT_NOT_FOUND');
      const othersView = await call({ url: `/api/portal/movements/${withdrawal}`, cookie: o.cookie });
      expectRefusal(othersView, 404, 'MOVEMENT_NOT_FOUND');
      expectRefusal(
        await call({ method: 'POST', url: `/api/portal/withdrawals/${withdrawal}/cancel`, cookie: o.cookie }),
        404,
        'MOVEMENT_NOT_FOUND',
      );
      // A deposit is not a withdrawal to cancel.
      expectRefusal(await post(`/api/portal/withdrawals/${deposit}/cancel`), 409, 'NOT_CANCELLABLE');

      for (const bad of ['not-a-uuid', '1', `${deposit}x`, "' or 1=1 --"]) {
        const id = encodeURIComponent(bad);
        expectRefusal(
          await call({ url: `/api/portal/movements/${id}`, cookie: c.cookie }),
          400,
          'VALIDATION_FAILED',
          'id',
        );
        expectRefusal(await post(`/api/portal/withdrawals/${id}/cancel`), 400, 'VALIDATION_FAILED', 'id');
      }

      // The client's list: only their own movements; bad filters refused.
      const mine = await call({ url: '/api/portal/movements', cookie: c.cookie });
      expect(mine.statusCode, mine.body).toBe(200);
      const ids = (mine.json().items as { id: string }[]).map((m) => m.id);
      expect(ids).toEqual(expect.arrayContaining([deposit, withdrawal, credit]));
      expect(ids).not.toContain(otherDeposit);
      expect(mine.body).not.toContain(o.clientId);
      for (const q of [
        'limit=0',
        'limit=201',
        'limit=abc',
        'offset=-1',
        'kind=bonus',
        'accountId=x',
        `clientId=${o.clientId}`,
      ]) {
        expectRefusal(await call({ url: `/api/portal/movements?${q}`, cookie: c.cookie }), 400, 'VALIDATION_FAILED');
      }
    });
  });

  it('answers 401 without a session, with an expired, revoked or forged one, before the body is even read', async () => {
    // A session opened more than the idle timeout (2 h) ago and never used since.
    const past = new ClientSessions(t.database, new ManualClock(new Date(t.clock.now().getTime() - 3 * 3600_000)));
    const expired = `bd_client=${(await past.open(c.clientId)).token}`;
    const revoked = await t.clientCookie(c.clientId);
    const out = await call({ method: 'POST', url: '/api/portal/auth/logout', cookie: revoked });
    expect(out.statusCode, out.body).toBeLessThan(300);
    const forged = 'bd_client=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const routes: [string, string, Json | string | undefined][] = [
      ['POST', '/api/portal/deposits', { accountId: c.accountId, amountMinor: 10_000 }],
      ['POST', '/api/portal/withdrawals', { accountId: second.accountId, amountMinor: 10_000, destination: CARD }],
      ['POST', '/api/portal/transfers', { fromAccountId: c.accountId, toAccountId: second.accountId, amountMinor: 1 }],
      ['POST', `/api/portal/withdrawals/${withdrawal}/cancel`, undefined],
      ['GET', '/api/portal/movements', undefined],
      ['GET', `/api/portal/movements/${deposit}`, undefined],
      // Malformed: still 401, since the session is checked before the body is parsed.
      ['POST', '/api/portal/deposits', '{"accountId": '],
    ];
    await changesNothing(async () => {
      for (const [method, url, payload] of routes) {
        for (const cookie of [undefined, expired, revoked, forged, `bd_staff=${forged.slice(10)}`]) {
          const r = await call({
            method: method as 'GET' | 'POST',
            url,
            cookie,
            ...(payload === undefined
              ? {}
              : typeof payload === 'string'
                ? { payload, headers: { 'content-type': 'application/json' } }
                : { payload }),
          });
          expectRefusal(r, 401, 'SESSION_INVALID');
          expect(r.body).not.toContain(c.accountId);
        }
      }
    });
    // The withdrawal the unauthenticated cancel aimed at is untouched.
    expect((await t.movement(withdrawal)).status).toBe('awaiting_second_approval');
  });

  // --- back office -----------------------------------------------------------------------------------------------------

  it('back office: 401 without a staff session (expired or signed out); bad input refused with 400 naming the field; nothing changes', async () => {
    const before = new StaffService(
      t.database,
      t.ctx.sealer,
      new ManualClock(new Date(t.clock.now().getTime() - 9 * 3600_000)),
    );
    const stale = await before.login({ email: supportEmail, password: 'correct horse battery' });
    const expired = `bd_staff=${stale.token}`;
    const signedOut = await t.staffCookie(['support']);
    await call({ method: 'POST', url: '/api/backoffice/auth/logout', cookie: signedOut });
    const decision = `/api/backoffice/movements/${credit}/decision`;
    const routes: [string, string, Json | undefined][] = [
      ['GET', '/api/backoffice/movements', undefined],
      ['GET', `/api/backoffice/movements/${deposit}`, undefined],
      ['GET', '/api/backoffice/approvals', undefined],
      ['POST', decision, { decision: 'approve' }],
      ['POST', '/api/backoffice/credits', { accountId: c.accountId, amountMinor: 1, direction: 'in', reason: 'bonus' }],
      [
        'POST',
        '/api/backoffice/adjustments',
        { accountId: c.accountId, amountMinor: 1, direction: 'in', reason: 'fix' },
      ],
      ['GET', '/api/backoffice/fx-rates', undefined],
      ['PUT', '/api/backoffice/fx-rates', { base: 'EUR', quote: 'USD', rate: '1.1' }],
    ];
    await changesNothing(async () => {
      for (const [method, url, payload] of routes) {
        for (const cookie of [undefined, expired, signedOut, c.cookie]) {
          expectRefusal(
            await call({ method: method as 'GET' | 'POST' | 'PUT', url, cookie, payload }),
            401,
            'SESSION_INVALID',
          );
        }
      }

      const decide = (payload: unknown, id = credit) =>
        call({
          method: 'POST',
          url: `/api/backoffice/movements/${id}/decision`,
          cookie: financeB,
          payload: payload as Json,
        });
      expectRefusal(
        await call({
          method: 'POST',
          url: decision,
          cookie: financeB,
          payload: '{"decision":',
          headers: { 'content-type': 'application/json' },
        }),
        400,
        'MALFORMED_JSON',
      );
      expectRefusal(await decide({ decision: 'maybe' }), 400, 'VALIDATION_FAILED', 'decision');
      expectRefusal(await decide({}), 400, 'VALIDATION_FAILED', 'decision');
      expectRefusal(await decide({ decision: 'reject' }), 400, 'VALIDATION_FAILED', 'comment');
      expectRefusal(await decide({ decision: 'reject', comment: 'no' }), 400, 'VALIDATION_FAILED', 'comment');
      expectRefusal(
        await decide({ decision: 'reject', comment: 'x'.repeat(501) }),
        400,
        'VALIDATION_FAILED',
        'comment',
      );
      expectRefusal(await decide({ decision: 'approve', comment: 42 }), 400, 'VALIDATION_FAILED', 'comment');
      expectRefusal(await decide({ decision: 'approve', staffId: 'me' }), 400, 'VALIDATION_FAILED', 'staffId');
      expectRefusal(await decide({ decision: 'approve' }, 'not-a-uuid'), 400, 'VALIDATION_FAILED', 'id');
      expectRefusal(await decide({ decision: 'approve' }, randomUUID()), 404, 'MOVEMENT_NOT_FOUND');
      // A deposit is decided by the PSP, not by staff.
      expectRefusal(await decide({ decision: 'approve' }, deposit), 409, 'NOT_AWAITING_APPROVAL');

      for (const kind of ['credits', 'adjustments']) {
        const request = (extra: Json) =>
          call({
            method: 'POST',
            url: `/api/backoffice/${kind}`,
            cookie: financeB,
            payload: { accountId: c.accountId, amountMinor: 1_000, direction: 'in', reason: 'goodwill', ...extra },
          });
        expectRefusal(await request({ amountMinor: '1000' }), 400, 'VALIDATION_FAILED', 'amountMinor');
        expectRefusal(await request({ amountMinor: 10.5 }), 400, 'VALIDATION_FAILED', 'amountMinor', 'whole number');
        expectRefusal(await request({ amountMinor: 0 }), 400, 'VALIDATION_FAILED', 'amountMinor');
        expectRefusal(await request({ amountMinor: -1 }), 400, 'VALIDATION_FAILED', 'amountMinor');
        expectRefusal(await request({ direction: 'sideways' }), 400, 'VALIDATION_FAILED', 'direction');
        expectRefusal(await request({ reason: 'x' }), 400, 'VALIDATION_FAILED', 'reason');
        expectRefusal(await request({ reason: 'x'.repeat(501) }), 400, 'VALIDATION_FAILED', 'reason');
        expectRefusal(await request({ reason: undefined }), 400, 'VALIDATION_FAILED', 'reason');
        expectRefusal(await request({ accountId: 'acc-1' }), 400, 'VALIDATION_FAILED', 'accountId');
        expectRefusal(await request({ expiresAt: 'next week' }), 400, 'VALIDATION_FAILED', 'expiresAt');
        expectRefusal(await request({ approvedBy: 'someone' }), 400, 'VALIDATION_FAILED', 'approvedBy');
        expectRefusal(await request({ accountId: randomUUID() }), 404, 'ACCOUNT_NOT_FOUND');
      }
      // Only credits expire.
      expectRefusal(
        await call({
          method: 'POST',
          url: '/api/backoffice/adjustments',
          cookie: financeB,
          payload: {
            accountId: c.accountId,
            amountMinor: 1_000,
            direction: 'in',
            reason: 'goodwill',
            expiresAt: '2030-01-01T00:00:00Z',
          },
        }),
        400,
        'VALIDATION_FAILED',
        'expiresAt',
      );

      for (const q of [
        'kind=bonus',
        'status=lost',
        'limit=0',
        'limit=201',
        'limit=1.5',
        'offset=-1',
        'clientId=abc',
        'accountId=abc',
        'sort=amount',
      ]) {
        expectRefusal(await call({ url: `/api/backoffice/movements?${q}`, cookie: support }), 400, 'VALIDATION_FAILED');
      }
      expectRefusal(
        await call({ url: '/api/backoffice/approvals?limit=0', cookie: support }),
        400,
        'VALIDATION_FAILED',
      );
      expectRefusal(
        await call({ url: '/api/backoffice/movements/abc', cookie: support }),
        400,
        'VALIDATION_FAILED',
        'id',
      );
      expectRefusal(
        await call({ url: `/api/backoffice/movements/${randomUUID()}`, cookie: support }),
        404,
        'MOVEMENT_NOT_FOUND',
      );
    });
  });

  it('back office lists movements newest first, by client, account, kind and status, in pages', async () => {
    const list = async (query: string) => {
      const r = await call({ url: `/api/backoffice/movements?${query}`, cookie: support });
      expect(r.statusCode, r.body).toBe(200);
      return r.json() as { items: Movement[]; total: number; next: number | null };
    };
    const ofClient = await list(`clientId=${c.clientId}`);
    expect(ofClient.items.map((m) => m.id)).toEqual([credit, withdrawal, deposit]);
    expect(ofClient.total).toBe(3);
    expect(ofClient.next).toBeNull();

    const byKind = await list(`clientId=${c.clientId}&kind=deposit`);
    expect(byKind).toMatchObject({ total: 1, next: null });
    expect(byKind.items.map((m) => m.id)).toEqual([deposit]);
    const byStatus = await list('status=posted&kind=deposit');
    expect(byStatus.items.map((m) => m.id)).toEqual([otherDeposit, deposit]);
    expect(byStatus.items.every((m) => m.status === 'posted')).toBe(true);
    const byAccount = await list(`accountId=${o.accountId}`);
    expect(byAccount.items.map((m) => m.id)).toEqual([otherDeposit]);
    const none = await list(`accountId=${second.accountId}`);
    expect(none).toEqual({ items: [], total: 0, next: null });
    const waiting = await list('status=awaiting_second_approval');
    expect(waiting.items.map((m) => m.id)).toEqual([withdrawal]);

    const page1 = await list(`clientId=${c.clientId}&limit=2`);
    expect(page1.items.map((m) => m.id)).toEqual([credit, withdrawal]);
    expect(page1).toMatchObject({ total: 3, next: 2 });
    const page2 = await list(`clientId=${c.clientId}&limit=2&offset=2`);
    expect(page2.items.map((m) => m.id)).toEqual([deposit]);
    expect(page2).toMatchObject({ total: 3, next: null });
    // A page that ends exactly at the last movement has no next page.
    const exact = await list(`clientId=${c.clientId}&limit=3`);
    expect(exact).toMatchObject({ total: 3, next: null });
    const beyond = await list(`clientId=${c.clientId}&offset=10`);
    expect(beyond).toMatchObject({ items: [], total: 3, next: null });
  });

  it('back office shows one movement with its approvals, its whole timeline and its ledger entries', async () => {
    const get = async (id: string) => {
      const r = await call({ url: `/api/backoffice/movements/${id}`, cookie: support });
      expect(r.statusCode, r.body).toBe(200);
      return r.json() as {
        movement: Movement & { pspPaymentId: string; operationId: string };
        approvals: { staffId: string; decision: string; comment: string | null }[];
        summary: string;
        entries: { source: string; type: string; message: string; details?: Json }[];
        ledger: { kind: string; account: { type: string; ownerId: string }; amountMinor: number }[];
      };
    };
    const d = await get(deposit);
    expect(d.movement).toMatchObject({ id: deposit, kind: 'deposit', status: 'posted', clientId: c.clientId });
    expect(d.movement.pspPaymentId).toMatch(/^pay_/);
    expect(d.approvals).toEqual([]);
    expect(d.summary).toContain('1000.00 USD has been applied to the trading account');
    const types = d.entries.map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'deposit.requested',
        'payment.session_created', // internal: staff only
        'webhook.payment.succeeded',
        'payment.succeeded',
        'attempt.post.ok',
        'operation.succeeded',
        'deposit.posted',
      ]),
    );
    const attempt = d.entries.find((e) => e.type === 'attempt.post.ok')!;
    expect(attempt.message).toMatch(/^post #1 of balance \S+ on mt5-live login \d+: ok\b.* in \d+ ms$/);
    expect(attempt.details).toMatchObject({ attempt: 1, action: 'post', outcome: 'ok' });
    expect(d.ledger.map((e) => `${e.kind} ${e.account.type} ${e.amountMinor}`)).toEqual([
      'deposit.received psp_clearing 100000',
      'deposit.received client_funds -100000',
      'deposit.posted client_funds 100000',
      'deposit.posted trading_account -100000',
    ]);

    const w = await get(withdrawal);
    expect(w.movement.status).toBe('awaiting_second_approval');
    expect(w.approvals).toEqual([expect.objectContaining({ decision: 'approve', comment: 'documents checked' })]);
    expect(w.entries.map((e) => e.type)).toEqual(['withdrawal.requested', 'withdrawal.first_approval']);
    expect(w.ledger).toEqual([]);

    // The client sees the same story without internals.
    const client = await call({ url: `/api/portal/movements/${deposit}`, cookie: c.cookie });
    const clientTypes = (client.json().entries as { type: string }[]).map((e) => e.type);
    expect(clientTypes).not.toContain('payment.session_created');
    expect(clientTypes.some((x) => x.startsWith('webhook.') || x.startsWith('operation.'))).toBe(false);
    expect(client.body).not.toContain('"details"');
  });

  it('back office lists what waits for a decision, oldest first, with the approvals so far', async () => {
    const r = await call({ url: '/api/backoffice/approvals', cookie: support });
    expect(r.statusCode, r.body).toBe(200);
    const body = r.json() as { items: (Movement & { approvals: { decision: string }[] })[]; next: number | null };
    expect(body.items.map((m) => [m.id, m.status, m.approvals.length])).toEqual([
      [withdrawal, 'awaiting_second_approval', 1],
      [credit, 'awaiting_approval', 0],
    ]);
    expect(body.next).toBeNull();
    const first = await call({ url: '/api/backoffice/approvals?limit=1', cookie: support });
    expect((first.json().items as Movement[]).map((m) => m.id)).toEqual([withdrawal]);
    expect(first.json().next).toBe(1);
    // The last page, exactly full: no next page.
    const last = await call({ url: '/api/backoffice/approvals?limit=1&offset=1', cookie: support });
    expect((last.json().items as Movement[]).map((m) => m.id)).toEqual([credit]);
    expect(last.json().next).toBeNull();
    const exact = await call({ url: '/api/backoffice/approvals?limit=2', cookie: support });
    expect(exact.json().items).toHaveLength(2);
    expect(exact.json().next).toBeNull();
  });

  it('exchange rates: finance sets and updates them, support reads them; bad rates such as "1e3" are refused', async () => {
    const put = (cookie: string, payload: unknown) =>
      call({ method: 'PUT', url: '/api/backoffice/fx-rates', cookie, payload: payload as Json });
    const set = await put(financeA, { base: 'EUR', quote: 'USD', rate: '1.0845' });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json().rate).toMatchObject({ base: 'EUR', quote: 'USD', rate: '1.0845' });
    const updated = await put(financeB, { base: 'EUR', quote: 'USD', rate: '1.09' });
    expect(updated.statusCode, updated.body).toBe(200);
    const read = async () => {
      const r = await call({ url: '/api/backoffice/fx-rates', cookie: support });
      expect(r.statusCode, r.body).toBe(200);
      return (r.json().items as { base: string; quote: string; rate: string }[]).map(
        (x) => `${x.base}/${x.quote} ${x.rate}`,
      );
    };
    expect(await read()).toEqual(['EUR/USD 1.09']);

    await changesNothing(async () => {
      for (const rate of [
        '1e3',
        '1E3',
        '1,08',
        '-1.08',
        '+1.08',
        ' 1.08',
        '1.08 ',
        '',
        '.5',
        '1.',
        '0x10',
        'NaN',
        '1234567890',
        '1.12345678901',
      ]) {
        expectRefusal(await put(financeA, { base: 'EUR', quote: 'USD', rate }), 400, 'VALIDATION_FAILED', 'rate');
      }
      for (const rate of ['0', '0.0', '000.000']) {
        expectRefusal(await put(financeA, { base: 'EUR', quote: 'USD', rate }), 400, 'VALIDATION_FAILED', 'rate');
      }
      expectRefusal(await put(financeA, { base: 'EUR', quote: 'USD', rate: 1.08 }), 400, 'VALIDATION_FAILED', 'rate');
      expectRefusal(await put(financeA, { base: 'eur', quote: 'USD', rate: '1.1' }), 400, 'VALIDATION_FAILED', 'base');
      expectRefusal(await put(financeA, { base: 'EURO', quote: 'USD', rate: '1.1' }), 400, 'VALIDATION_FAILED', 'base');
      expectRefusal(await put(financeA, { base: 'EUR', rate: '1.1' }), 400, 'VALIDATION_FAILED', 'quote');
      expectRefusal(await put(financeA, { base: 'USD', quote: 'USD', rate: '1' }), 400, 'VALIDATION_FAILED', 'quote');
      expectRefusal(
        await put(financeA, { base: 'EUR', quote: 'USD', rate: '1.1', inverse: true }),
        400,
        'VALIDATION_FAILED',
        'inverse',
      );
      expectRefusal(
        await call({
          method: 'PUT',
          url: '/api/backoffice/fx-rates',
          cookie: financeA,
          payload: '{"base":"EUR",',
          headers: { 'content-type': 'application/json' },
        }),
        400,
        'MALFORMED_JSON',
      );
      expectRefusal(await put(support, { base: 'EUR', quote: 'USD', rate: '2' }), 403, 'FORBIDDEN');
    });
    expect(await read()).toEqual(['EUR/USD 1.09']);
  });

  it('support may read everything but decide nothing (403), and nothing changes', async () => {
    await changesNothing(async () => {
      for (const url of [
        '/api/backoffice/movements',
        `/api/backoffice/movements/${withdrawal}`,
        '/api/backoffice/approvals',
        '/api/backoffice/fx-rates',
      ]) {
        expect((await call({ url, cookie: support })).statusCode, url).toBe(200);
      }
      for (const id of [withdrawal, credit]) {
        for (const payload of [{ decision: 'approve' }, { decision: 'reject', comment: 'not allowed to' }]) {
          expectRefusal(
            await call({ method: 'POST', url: `/api/backoffice/movements/${id}/decision`, cookie: support, payload }),
            403,
            'FORBIDDEN',
            'funding.approve',
          );
        }
      }
      for (const kind of ['credits', 'adjustments']) {
        expectRefusal(
          await call({
            method: 'POST',
            url: `/api/backoffice/${kind}`,
            cookie: support,
            payload: { accountId: c.accountId, amountMinor: 1_000, direction: 'in', reason: 'goodwill' },
          }),
          403,
          'FORBIDDEN',
        );
      }
    });
    expect((await t.movement(withdrawal)).status).toBe('awaiting_second_approval');
    expect((await t.movement(credit)).status).toBe('awaiting_approval');
  });

  it('PSP webhooks: unsigned, wrongly signed, stale, malformed or unknown ones are refused and nothing is recorded', async () => {
    const secret = t.psp.psp.webhookSecret;
    const url = `/api/webhooks/psp/${t.psp.provider.name}`;
    const event = (merchantReference: string) =>
      JSON.stringify({
        id: `evt_forged_${randomUUID().slice(0, 8)}`,
        type: 'payment.succeeded',
        createdAt: t.clock.now().toISOString(),
        data: {
          object: 'payment',
          id: `pay_forged_${randomUUID().slice(0, 8)}`,
          status: 'succeeded',
          amount: 100_000,
          refundedAmount: 0,
          chargedBackAmount: 0,
          currency: 'USD',
          merchantReference,
          card: { last4: '4242' },
          failureReason: null,
          createdAt: t.clock.now().toISOString(),
          updatedAt: t.clock.now().toISOString(),
        },
      });
    const send = (body: string, signature: string | undefined, path = url) =>
      call({
        method: 'POST',
        url: path,
        payload: body,
        headers: { 'content-type': 'application/json', ...(signature ? { 'psp-signature': signature } : {}) },
      });
    await changesNothing(async () => {
      const unknown = event(randomUUID());
      const now = t.clock.now();
      expectRefusal(await send(unknown, undefined), 400, 'WEBHOOK_REJECTED', 'Psp-Signature');
      expectRefusal(await send(unknown, pspSignature('not-the-secret', unknown, now)), 400, 'WEBHOOK_REJECTED');
      expectRefusal(await send(unknown, 'garbage'), 400, 'WEBHOOK_REJECTED');
      const stale = new Date(now.getTime() - 3600_000);
      expectRefusal(await send(unknown, pspSignature(secret, unknown, stale)), 400, 'WEBHOOK_REJECTED', 'timestamp');
      const broken = '{"id": "evt_1", "type": ';
      expectRefusal(await send(broken, pspSignature(secret, broken, now)), 400, 'WEBHOOK_REJECTED', 'not JSON');
      const odd = JSON.stringify({ id: 'evt_2', type: 'payment.exploded', data: {} });
      expectRefusal(await send(odd, pspSignature(secret, odd, now)), 400, 'WEBHOOK_REJECTED');
      // Signed correctly, but for a payment nobody started here; and one naming a withdrawal as a payment.
      expectRefusal(await send(unknown, pspSignature(secret, unknown, now)), 422, 'WEBHOOK_REJECTED');
      const wrongKind = event(withdrawal);
      expectRefusal(await send(wrongKind, pspSignature(secret, wrongKind, now)), 422, 'WEBHOOK_REJECTED');
      expectRefusal(
        await send(unknown, pspSignature(secret, unknown, now), '/api/webhooks/psp/other'),
        404,
        'PSP_NOT_CONFIGURED',
      );
    });
  });
});
