/**
 * Back-office commission routes the web screens need beyond the module's: the look-up of the trading account a
 * partner's login is (to link it as a payout destination), and payouts listed with the partner's and staff
 * members' names.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { type AppContext, createContext } from '../app/context.ts';
import { ManualClock } from '../clock.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { addClientWithAccount, addServer } from '../modules/commissions/fixtures.test-support.ts';
import { postLedgerTransaction } from '../modules/ledger/service.ts';
import { StaffService } from '../modules/staff/service.ts';
import { buildApp } from './app.ts';

const PASSWORD = 'correct horse battery';

describe('back-office commission routes for the web screens', () => {
  let database: TestDatabase;
  let ctx: AppContext;
  let app: FastifyInstance;
  let staff: StaffService;
  const clock = new ManualClock(new Date('2026-11-02T09:00:00Z'));
  let pm = '';
  let pmId = '';
  let support = '';
  let partnerId = '';
  let partnerCookie = '';
  let account = { clientId: '', accountId: '' };

  const call = async (method: string, url: string, cookie: string, payload?: object) => {
    const r = await app.inject({ method: method as 'GET', url, headers: { cookie }, ...(payload ? { payload } : {}) });
    // biome-ignore lint/suspicious/noExplicitAny: JSON bodies read field by field
    return { status: r.statusCode, body: r.json() as any, cookies: r.cookies };
  };
  async function signIn(role: 'partner_manager' | 'support') {
    const email = `${role.replace('_', '-')}-${Math.random().toString(36).slice(2, 8)}@broker.example`;
    const created = await staff.create({ email, name: `A ${role}`, password: PASSWORD, roles: [role] }, 'system');
    const r = await call('POST', '/api/backoffice/auth/login', '', { email, password: PASSWORD });
    expect(r.status).toBe(200);
    const c = r.cookies.find((x) => x.name === 'bd_staff')!;
    return { cookie: `bd_staff=${c.value}`, id: (created as { id: string }).id };
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    const env = database.url
      ? { DATABASE_URL: database.url, BROKERDESK_SECRET_KEY: Buffer.alloc(32, 9).toString('base64') }
      : { BROKERDESK_DATA_DIR: mkdtempSync(join(tmpdir(), 'bd-bocomm-')) };
    ctx = await createContext(loadConfig({ env }), { clock, logger: createLogger('silent') });
    staff = new StaffService(ctx.database, ctx.sealer, clock);
    app = await buildApp(ctx, { staff });
    ({ cookie: pm, id: pmId } = await signIn('partner_manager'));
    ({ cookie: support } = await signIn('support'));
    const created = await call('POST', '/api/backoffice/partners', pm, { email: 'ib@ib.example', name: 'Ivy IB' });
    expect(created.status).toBe(201);
    partnerId = created.body.partner.id;
    const login = await call('POST', '/api/partner/auth/login', '', {
      email: 'ib@ib.example',
      password: created.body.initialPassword,
    });
    partnerCookie = `bd_partner=${login.cookies.find((c) => c.name === 'bd_partner')!.value}`;
    await addServer(ctx.database, 'mt5-x', 'mt5');
    account = await addClientWithAccount(ctx.database, clock, { partnerId: null, serverCode: 'mt5-x', login: 4242 });
    // The broker owes the partner 5.00 USD (as a calculation batch would book it).
    await postLedgerTransaction(
      ctx.database.db,
      {
        kind: 'commission.accrual',
        description: 'test accrual',
        lines: [
          { account: { type: 'ib_payable', ownerId: partnerId, currency: 'USD' }, amountMinor: -500 },
          { account: { type: 'broker_revenue', currency: 'USD' }, amountMinor: 500 },
        ],
        idempotencyKey: `test-accrual-${partnerId}`,
        createdBy: 'test',
      },
      clock,
    );
  });
  afterAll(async () => {
    await app?.close();
    await ctx?.close();
    await database?.drop();
  });

  it('finds the trading account a login is, and says what to do when there is none', async () => {
    const found = await call(
      'GET',
      `/api/backoffice/partners/${partnerId}/server-login-account?serverCode=mt5-x&login=4242`,
      pm,
    );
    expect(found.status).toBe(200);
    expect(found.body.account).toMatchObject({
      id: account.accountId,
      serverCode: 'mt5-x',
      login: 4242,
      currency: 'USD',
      status: 'open',
      clientId: account.clientId,
      clientName: 'Client',
      clientPartnerId: null,
    });
    // Linked, it becomes a payout destination the partner sees.
    const added = await call('POST', `/api/backoffice/partners/${partnerId}/server-logins`, pm, {
      serverCode: 'mt5-x',
      login: 4242,
      tradingAccountId: found.body.account.id,
    });
    expect(added.status).toBe(201);
    const mine = await call('GET', '/api/partner/server-logins', partnerCookie);
    expect(mine.body.items).toEqual([expect.objectContaining({ login: 4242, payoutsPossible: true })]);

    const missing = await call(
      'GET',
      `/api/backoffice/partners/${partnerId}/server-login-account?serverCode=mt5-x&login=999`,
      pm,
    );
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: 'TRADING_ACCOUNT_NOT_FOUND' });
    expect(missing.body.message).toContain('login 999 on mt5-x');
    const bad = await call(
      'GET',
      `/api/backoffice/partners/${partnerId}/server-login-account?serverCode=mt5-x&login=-3`,
      pm,
    );
    expect(bad).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    const nobody = await call(
      'GET',
      '/api/backoffice/partners/00000000-0000-4000-8000-000000000000/server-login-account?serverCode=mt5-x&login=4242',
      pm,
    );
    expect(nobody).toMatchObject({ status: 404, body: { code: 'PARTNER_NOT_FOUND' } });
    // Support may read partners but not manage commissions.
    const forbidden = await call(
      'GET',
      `/api/backoffice/partners/${partnerId}/server-login-account?serverCode=mt5-x&login=4242`,
      support,
    );
    expect(forbidden.status).toBe(403);
  });

  it('lists payouts with the partner and the staff member who asked', async () => {
    const byPartner = await call('POST', '/api/partner/payouts', partnerCookie, {
      amountMinor: 200,
      currency: 'USD',
      destination: { type: 'wallet', method: 'bank_transfer', account: 'CY17002001280000001200527600' },
    });
    expect(byPartner.status).toBe(201);
    clock.advance(1000);
    const byStaff = await call('POST', `/api/backoffice/partners/${partnerId}/payouts`, pm, {
      amountMinor: 100,
      currency: 'USD',
      destination: { type: 'wallet', method: 'crypto', account: 'bc1qexampleaddress' },
    });
    expect(byStaff.status).toBe(201);
    const list = await call('GET', `/api/backoffice/ib-payouts?partnerId=${partnerId}`, pm);
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([
      expect.objectContaining({
        id: byStaff.body.payout.id,
        partnerName: 'Ivy IB',
        partnerEmail: 'ib@ib.example',
        requestedByType: 'staff',
        requestedById: pmId,
        requestedByName: 'A partner_manager',
        decidedByName: null,
      }),
      expect.objectContaining({
        id: byPartner.body.payout.id,
        partnerName: 'Ivy IB',
        requestedByType: 'partner',
        requestedByName: null,
      }),
    ]);
    const one = await call('GET', `/api/backoffice/ib-payouts/${byPartner.body.payout.id}`, pm);
    expect(one.body.payout).toMatchObject({ id: byPartner.body.payout.id, partnerName: 'Ivy IB', status: 'requested' });
  });
});
