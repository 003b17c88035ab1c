/**
 * The partner (IB) portal and the back office's partner screens in a browser, against a whole backend (MT5
 * simulators, the HTTP app serving web/dist): a partner manager sets up a sub-IB with a plan and a linked trading
 * account; referred clients trade on the simulator, the trades are synced and commissioned. The partner signs in,
 * sees and copies the referral link, pages through the referred clients, sees the period's commission (equal to the
 * stored lines) with its chart, opens the statement and its printable view, and asks for a payout to the trading
 * account. In the back office the partner manager sees the tree and a recomputation equal to the stored lines but
 * cannot decide the payout; finance (two-factor enrolled at sign-in) approves it, the operation reaches the server,
 * and the partner sees it paid. Last, the portal at phone width. Screenshots at each step.
 */
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { generate } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clients } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { formatMoney } from '../../web/src/ui/money.ts';
import { LIVE } from '../support/accounts-testbed.ts';
import { type FundingTestbed, fundingTestbed } from '../support/funding-testbed.ts';
import { control } from '../support/simulators.ts';
import { launchBrowser, newPage, screenshot } from './support/browser.ts';

const FROM = '2020-01-01T00:00:00Z';
const STAFF_PASSWORD = 'correct horse battery staple';
const REFERRED = 27;

/** Waits for what a screen shows (a loaded machine can take seconds to render it). */
const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 20_000, interval: 100 });

/**
 * A private copy of web/dist (whole: index.html and every asset it names), so that another test building the web
 * application meanwhile cannot pull the files from under this one.
 */
async function snapshotWeb(): Promise<string> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'bd-partner-web-'));
    try {
      cpSync(join(process.cwd(), 'web', 'dist'), dir, { recursive: true });
      const html = readFileSync(join(dir, 'index.html'), 'utf8');
      const assets = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
      if (assets.length > 0 && assets.every((a) => existsSync(join(dir, a)))) return dir;
    } catch {
      // mid-build: try again
    }
    rmSync(dir, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('web/dist is not built (or keeps changing)');
}

describe('partner portal and back-office partners in a browser', () => {
  let t: FundingTestbed;
  let browser: Browser;
  let web: FastifyInstance;
  let webRoot = '';
  let base = '';
  let pmCookie = '';
  const ib = { id: '', email: '', password: '', name: 'Nova Markets IB', masterName: 'Atlas Partners' };
  const own = { accountId: '', login: 0, serverLoginId: '' };
  let storedMinor = 0;
  let payoutId = '';

  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies read field by field
  const ok = async (method: string, url: string, payload?: unknown): Promise<any> => {
    const res = await t.app.inject({
      method: method as 'GET',
      url,
      headers: { cookie: pmCookie },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
    return res.json();
  };

  async function fund(accountId: string) {
    const adjustment = await t.ctx.funding.requestStaffMovement('adjustment', randomUUID(), {
      accountId,
      amountMinor: 1_000_000,
      direction: 'in',
      reason: 'test funds',
    });
    await t.ctx.funding.decide(adjustment.id, randomUUID(), { decision: 'approve' });
    await t.engine.drain();
  }

  async function signInPartner(page: Page) {
    await page.goto('/partner');
    await page.getByLabel(/^Email/).fill(ib.email);
    await page.getByLabel(/^Password/).fill(ib.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: `Welcome, ${ib.name}` }).waitFor();
  }

  async function signInStaff(page: Page, role: 'partner_manager' | 'finance') {
    const email = `${role.replace('_', '-')}-${randomUUID().slice(0, 6)}@broker.example`;
    await t.staff.create(
      { email, name: role === 'finance' ? 'Fiona Finance' : 'Pat Partners', password: STAFF_PASSWORD, roles: [role] },
      'system',
    );
    await page.goto('/backoffice');
    await page.getByLabel(/^Email/).fill(email);
    await page.getByLabel(/^Password/).fill(STAFF_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    if (role === 'finance') {
      // Finance moves money: two-factor enrolment at first sign-in, with the key the screen shows.
      const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
      const code = await generate({ secret, epoch: Math.floor(t.clock.now().getTime() / 1000) });
      await page.getByLabel('Code from the app').fill(code);
      await page.getByRole('button', { name: 'Confirm' }).click();
    }
    await page.getByTestId('signed-in-user').waitFor();
  }

  beforeAll(async () => {
    t = await fundingTestbed();
    // The same backend, serving a private copy of the web application.
    webRoot = await snapshotWeb();
    web = await buildApp(t.ctx, { staff: t.staff, webRoot });
    await web.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(web.server.address() as AddressInfo).port}`;
    pmCookie = await t.staffCookie(['partner_manager']);

    // A master IB and its sub-IB, the sub-IB on a per-lot plan.
    const master = await ok('POST', '/api/backoffice/partners', {
      email: `atlas-${randomUUID().slice(0, 6)}@ib.example`,
      name: ib.masterName,
    });
    const created = await ok('POST', '/api/backoffice/partners', {
      email: `nova-${randomUUID().slice(0, 6)}@ib.example`,
      name: ib.name,
      parentId: master.partner.id,
    });
    Object.assign(ib, { id: created.partner.id, email: created.partner.email, password: created.initialPassword });
    const plan = await ok('POST', '/api/backoffice/commission-plans', {
      code: 'e2e-per-lot',
      name: 'Per lot (e2e)',
      currency: 'USD',
      effectiveFrom: FROM,
      rules: {
        symbolGroups: { fx_majors: ['EURUSD', 'GBPUSD'], metals: ['XAUUSD'] },
        perLot: [{ fromLots: '0', rates: { fx_majors: '5', metals: '10' } }],
      },
    });
    await ok('POST', `/api/backoffice/partners/${ib.id}/plan-assignments`, {
      planId: plan.plan.id,
      effectiveFrom: FROM,
      reason: 'onboarding',
    });

    // The IB's own MT5 account, linked as its server login (a payout destination).
    Object.assign(own, await t.openAccount(await t.addClient({ kycStatus: 'approved' })));
    own.serverLoginId = (
      await ok('POST', `/api/backoffice/partners/${ib.id}/server-logins`, {
        serverCode: LIVE,
        tradingAccountId: own.accountId,
      })
    ).serverLogin.id;

    // Referred clients (more than a page); the first one trades.
    const referred: string[] = [];
    for (let i = 0; i < REFERRED; i++) {
      const id = await t.addClient({ kycStatus: i % 3 === 0 ? 'approved' : 'pending' });
      await t.database.db.update(clients).set({ partnerId: ib.id }).where(eq(clients.id, id));
      referred.push(id);
    }
    const trader = await t.openAccount(referred[0]!);
    await fund(trader.accountId);
    const opened = (await control(t.live, 'POST', '/control/dealer/trade', {
      login: trader.login,
      symbol: 'EURUSD',
      side: 'buy',
      lots: 1,
    })) as { deals: { PositionID: string }[] };
    for (const lots of [0.4, 0.6]) {
      await control(t.live, 'POST', '/control/dealer/trade', {
        login: trader.login,
        symbol: 'EURUSD',
        side: 'sell',
        lots,
        positionId: Number(opened.deals[0]!.PositionID),
      });
    }
    const gold = (await control(t.live, 'POST', '/control/dealer/trade', {
      login: trader.login,
      symbol: 'XAUUSD',
      side: 'buy',
      lots: 0.5,
    })) as { deals: { PositionID: string }[] };
    await control(t.live, 'POST', '/control/dealer/trade', {
      login: trader.login,
      symbol: 'XAUUSD',
      side: 'sell',
      lots: 0.5,
      positionId: Number(gold.deals[0]!.PositionID),
    });
    for (const result of await t.ctx.trades.syncAll()) expect(result.status, result.error).toBe('ok');
    const { result } = await ok('POST', '/api/backoffice/commissions/calculate');
    expect(result.lines).toBe(3);
    const [row] = (
      (await t.database.db.execute(
        sql`select coalesce(sum(amount_minor), 0)::text as total from commission_lines where partner_id = ${ib.id}`,
      )) as unknown as { rows: { total: string }[] }
    ).rows;
    storedMinor = Number(row!.total);
    // 1 lot of EURUSD at 5.00 + 0.5 lots of XAUUSD at 10.00.
    expect(storedMinor).toBe(500 + 500);

    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await web?.close();
    await t?.close();
    if (webRoot) rmSync(webRoot, { recursive: true, force: true });
  });

  it('a partner signs in, copies the referral link and pages through the referred clients', async () => {
    const { context, page } = await newPage(browser, { baseURL: base });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.goto('/partner');
    await page.getByRole('heading', { name: 'Partner sign-in' }).waitFor();
    // A wrong password: the API's message, not a blank screen.
    await page.getByLabel(/^Email/).fill(ib.email);
    await page.getByLabel(/^Password/).fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await poll(() => page.getByRole('alert').textContent()).toMatch(/password/i);
    await screenshot(page, 'partner-portal-01-sign-in-error');

    await signInPartner(page);
    const me = (await (await page.request.get('/api/partner/me')).json()) as {
      partner: { referralLink: string; referralCode: string };
    };
    expect(me.partner.referralLink).toMatch(new RegExp(`ref=${me.partner.referralCode}$`));
    await poll(() => page.getByTestId('referral-link').inputValue()).toBe(me.partner.referralLink);
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    await page.getByRole('button', { name: 'Copied' }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(me.partner.referralLink);
    await poll(() => page.getByTestId('clients-count').textContent()).toBe(String(REFERRED));
    await poll(() => page.getByTestId('available-USD').textContent()).toBe(formatMoney(storedMinor, 'USD'));
    await screenshot(page, 'partner-portal-02-dashboard');

    await page.getByRole('link', { name: 'Referred clients', exact: true }).click();
    await poll(() => page.getByTestId('clients-total').textContent()).toBe(`${REFERRED} clients`);
    const rows = page.getByTestId('clients-table').locator('tbody tr');
    await poll(() => rows.count()).toBe(25);
    await page.getByRole('button', { name: 'Next' }).click();
    await poll(() => rows.count()).toBe(REFERRED - 25);
    await screenshot(page, 'partner-portal-03-referred-clients-page-2');
    // Contact details never reach the partner.
    expect(await page.getByTestId('clients-table').textContent()).not.toContain('@example.com');
    await context.close();
  });

  it('shows the period’s commission, equal to the stored lines, with its chart, statement and printable view', async () => {
    const { context, page } = await newPage(browser, { baseURL: base });
    await signInPartner(page);
    await page.getByRole('link', { name: 'Commission', exact: true }).click();
    await page.getByLabel('Period (UTC)').selectOption('last_3_months');
    const expected = formatMoney(storedMinor, 'USD');
    await poll(() => page.getByTestId('commission-total-USD').textContent()).toBe(expected);
    await poll(() => page.getByTestId('volume-direct').textContent()).toBe('1.5 lots');
    // The chart is drawn (one bar per day with commission) and its figures are in the table beside it.
    await poll(() =>
      page.getByTestId('chart-commission-USD').locator('.recharts-bar-rectangle path').count(),
    ).toBeGreaterThan(0);
    await poll(() => page.getByTestId('buckets-table').textContent()).toContain(expected);
    const lines = page.getByTestId('lines-table');
    await poll(() => lines.locator('tbody tr').count()).toBe(3);
    expect(await lines.getByLabel('recomputed: equal').count()).toBe(3);
    expect(await lines.getByLabel('recomputed: differs').count()).toBe(0);
    expect(await lines.textContent()).toContain('0.4 lots × 5 USD/lot');
    await screenshot(page, 'partner-portal-04-commission-chart');

    await page.getByRole('link', { name: 'Statements', exact: true }).click();
    const month = new Date().toLocaleString('en-GB', { month: 'long', year: 'numeric', timeZone: 'UTC' });
    await page.getByRole('link', { name: `Open the statement for ${month}` }).click();
    await poll(() => page.getByTestId('statement-total-USD').textContent()).toBe(expected);
    expect(await page.getByRole('table', { name: 'Commission by level and symbol group' }).textContent()).toMatch(
      /fx_majors.*metals/,
    );
    await screenshot(page, 'partner-portal-05-statement');
    await page.getByRole('link', { name: 'Printable view' }).click();
    await poll(() => page.getByTestId('statement-check').textContent()).toContain(
      'Every line recomputed from its own figures gives its amount',
    );
    expect(await page.getByTestId('statement-check').textContent()).toContain(expected);
    expect(await page.getByRole('navigation').count()).toBe(0);
    await screenshot(page, 'partner-portal-06-statement-printable');
    await context.close();
  });

  it('a payout the partner asks for is approved by finance (not by the partner manager) and shows as paid', async () => {
    const partner = await newPage(browser, { baseURL: base });
    await signInPartner(partner.page);
    await partner.page.getByRole('link', { name: 'Payouts', exact: true }).click();
    const form = partner.page.getByRole('form', { name: 'Request a payout' });
    // More than is owed: the API's words.
    await form.getByLabel('Amount').fill('10.01');
    await form.getByRole('button', { name: 'Request payout' }).click();
    await poll(() => form.getByRole('alert').textContent()).toContain('can be paid out now');
    await form.getByLabel('Amount').fill('6.00');
    expect(await form.getByLabel('Trading account', { exact: true }).inputValue()).toBe(own.serverLoginId);
    await form.getByRole('button', { name: 'Request payout' }).click();
    const status = partner.page.getByTestId('payouts-table').getByTestId('payout-status');
    await poll(() => status.first().textContent()).toBe('requested');
    await poll(() => partner.page.getByTestId('available-USD').textContent()).toBe(formatMoney(400, 'USD'));
    payoutId = (await partner.page
      .getByTestId('payouts-table')
      .locator('tbody tr')
      .first()
      .getAttribute('data-payout-id'))!;
    const mine = partner.page.locator(`tr[data-payout-id="${payoutId}"]`).getByTestId('payout-status');
    // A wallet payout asked for and cancelled before anyone decides: the amount is available again.
    await form.getByText('Bank or wallet', { exact: true }).click();
    await form.getByLabel(/^Account/).fill('CY17002001280000001200527600');
    await form.getByLabel('Amount').fill('1.50');
    await form.getByRole('button', { name: 'Request payout' }).click();
    await poll(() => partner.page.getByTestId('available-USD').textContent()).toBe(formatMoney(250, 'USD'));
    const wallet = partner.page
      .getByTestId('payouts-table')
      .locator('tbody tr', { hasText: 'Bank transfer: CY17002001280000001200527600' });
    await poll(() => wallet.getByTestId('payout-status').textContent()).toBe('requested');
    await wallet.getByRole('button', { name: /^Cancel the payout/ }).click();
    await poll(() => wallet.getByTestId('payout-status').textContent()).toBe('cancelled');
    await poll(() => partner.page.getByTestId('available-USD').textContent()).toBe(formatMoney(400, 'USD'));
    expect(await mine.textContent()).toBe('requested');
    await screenshot(partner.page, 'partner-portal-07-payout-requested');

    // The partner manager: the tree, a recomputation equal to the stored lines; no say on payouts.
    const pm = await newPage(browser, { baseURL: base });
    await signInStaff(pm.page, 'partner_manager');
    await pm.page.getByRole('link', { name: 'Partners', exact: true }).click();
    await pm.page.getByLabel('Search').fill('Nova');
    await pm.page.getByRole('link', { name: ib.name, exact: true }).click();
    await poll(() => pm.page.getByTestId('ib-tree').textContent()).toContain(ib.masterName);
    await screenshot(pm.page, 'partner-portal-08-backoffice-partner');
    await pm.page.getByRole('tab', { name: 'Commission' }).click();
    await pm.page.getByRole('button', { name: 'Recompute and compare' }).click();
    await poll(() => pm.page.getByTestId('recompute-result').textContent()).toContain('Equal to the stored lines');
    await screenshot(pm.page, 'partner-portal-09-backoffice-recompute');
    await pm.page.getByRole('tab', { name: 'Payouts' }).click();
    const pmRow = pm.page.locator(`tr[data-payout-id="${payoutId}"]`);
    await poll(() => pmRow.getByTestId('payout-status').textContent()).toBe('requested');
    expect(await pmRow.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    await pm.page.getByRole('tab', { name: 'Server logins' }).click();
    await poll(() => pm.page.getByRole('table', { name: 'Server logins' }).textContent()).toContain(
      `${own.login}to its trading account`,
    );

    // A new version of the plan from the rules editor: a bad rate is refused with the API's words, then saved.
    await pm.page.getByRole('link', { name: 'Commission plans', exact: true }).click();
    await pm.page.getByRole('link', { name: 'e2e-per-lot' }).click();
    await pm.page.getByRole('button', { name: 'New version' }).click();
    const version = pm.page.getByRole('form', { name: 'New version of the rules' });
    const metals = version.getByLabel('Tier 1: USD per lot for metals');
    expect(await metals.inputValue()).toBe('10');
    await metals.fill('twelve');
    await version.getByRole('button', { name: 'Save version' }).click();
    await poll(() => version.getByRole('alert').textContent()).toContain('a non-negative decimal');
    await metals.fill('12');
    await version.getByRole('button', { name: 'Save version' }).click();
    await pm.page.getByTestId('plan-version-2').waitFor();
    const rates = async (n: number) => {
      const panel = pm.page.getByTestId(`plan-version-${n}`).getByRole('table', { name: 'Per-lot rates' });
      const head = (await panel.locator('thead th').allTextContents()).map((h) => h.trim());
      const cells = await panel.locator('tbody tr').first().locator('td').allTextContents();
      return Object.fromEntries(head.map((h, i) => [h, cells[i]]));
    };
    expect(await rates(2)).toEqual({ 'From lots': '0', fx_majors: '5', metals: '12', other: '—' });
    expect(await rates(1)).toEqual({ 'From lots': '0', fx_majors: '5', metals: '10', other: '—' });
    await screenshot(pm.page, 'partner-portal-10a-backoffice-plan-version');
    await pm.context.close();

    // Finance approves from the queue; the balance operation reaches the server.
    const finance = await newPage(browser, { baseURL: base });
    await signInStaff(finance.page, 'finance');
    await finance.page.goto('/backoffice/partners/payouts');
    const row = finance.page.locator(`tr[data-payout-id="${payoutId}"]`);
    await poll(() => row.textContent()).toContain(ib.name);
    await screenshot(finance.page, 'partner-portal-10b-backoffice-payout-queue');
    await row.getByRole('button', { name: 'Approve' }).click();
    const dialog = finance.page.getByRole('dialog', { name: 'Approve the payout' });
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await dialog.waitFor({ state: 'detached' });
    const before = Number((await t.simAccount(t.live, own.login)).account.Balance);
    await t.engine.drain();
    const after = Number((await t.simAccount(t.live, own.login)).account.Balance);
    expect(Math.round((after - before) * 100)).toBe(600);
    await finance.page.getByLabel('Status').selectOption('paid');
    await poll(() => row.getByTestId('payout-status').textContent()).toBe('paid');
    await screenshot(finance.page, 'partner-portal-11-backoffice-payout-paid');
    await finance.context.close();

    await partner.page.getByRole('button', { name: 'Refresh' }).click();
    await poll(() => mine.textContent()).toBe('paid');
    await screenshot(partner.page, 'partner-portal-12-payout-paid');
    await partner.context.close();
  });

  it('a partner manager onboards a sub-IB (plan, linked server login); it signs in and changes its password', async () => {
    const { login: ownLogin } = await t.openAccount(await t.addClient({ kycStatus: 'approved' }));
    const pm = await newPage(browser, { baseURL: base });
    await signInStaff(pm.page, 'partner_manager');
    await pm.page.goto('/backoffice/partners');
    await pm.page.getByRole('button', { name: 'New partner' }).click();
    const dialog = pm.page.getByRole('dialog', { name: 'New partner' });
    const email = `zen-${randomUUID().slice(0, 6)}@ib.example`;
    await dialog.getByLabel(/^Email/).fill(email);
    await dialog.getByLabel(/^Name/).fill('Zen Sub IB');
    await dialog.getByLabel('Master IB (optional)').fill('Nova');
    await pm.page.getByRole('option', { name: new RegExp(ib.name) }).click();
    await dialog.getByRole('button', { name: 'Create partner' }).click();
    const created = pm.page.getByRole('dialog', { name: 'Partner created' });
    const password = (await created.getByTestId('initial-password').textContent())!.trim();
    expect(password.length).toBeGreaterThanOrEqual(10);
    await screenshot(pm.page, 'partner-portal-15-backoffice-partner-created');
    await created.getByRole('button', { name: 'Open the partner' }).click();
    await poll(() => pm.page.getByTestId('ib-tree').textContent()).toContain(`Master IB${ib.name}`);

    await pm.page.getByRole('tab', { name: 'Plan' }).click();
    const assign = pm.page.getByRole('form', { name: 'Put the partner on a plan' });
    await assign.getByLabel(/^Reason/).fill('onboarding');
    await assign.getByRole('button', { name: 'Save' }).click();
    await poll(() => pm.page.getByRole('table', { name: 'Plan assignments' }).textContent()).toContain(
      'e2e-per-lotonboarding',
    );

    await pm.page.getByRole('tab', { name: 'Server logins' }).click();
    const add = pm.page.getByRole('form', { name: 'Add a server login' });
    await add.getByLabel(/^Server code/).fill(LIVE);
    await add.getByLabel(/^Login/).fill('99999999');
    await add.getByRole('button', { name: 'Find the trading account' }).click();
    await poll(() => add.getByRole('status').textContent()).toContain('no trading account in the CRM');
    await add.getByLabel(/^Login/).fill(String(ownLogin));
    await add.getByRole('button', { name: 'Find the trading account' }).click();
    await add.getByLabel('Link it: payouts to this login go to this trading account').waitFor();
    await add.getByRole('button', { name: 'Add login' }).click();
    await poll(() => pm.page.getByRole('table', { name: 'Server logins' }).textContent()).toContain(
      `${ownLogin}to its trading account`,
    );
    await screenshot(pm.page, 'partner-portal-16-backoffice-server-login');

    // A new plan from the rules editor: a second volume tier and a master-IB override.
    await pm.page.getByRole('link', { name: 'Commission plans', exact: true }).click();
    await pm.page.getByRole('link', { name: 'New plan' }).click();
    const plan = pm.page.getByRole('form', { name: 'New commission plan' });
    await plan.getByLabel(/^Code/).fill('e2e-tiers');
    await plan.getByLabel(/^Name/).fill('Tiers and overrides');
    await plan.getByLabel('Tier 1: USD per lot for fx_majors').fill('5');
    await plan.getByRole('button', { name: 'Add a tier' }).click();
    await plan.getByLabel('Tier 2: from lots').fill('100');
    await plan.getByLabel('Tier 2: USD per lot for fx_majors').fill('6.5');
    await plan.getByRole('button', { name: 'Add a level' }).click();
    await plan.getByLabel("Override level 1: percent of the direct partner's amount").fill('10');
    await plan.getByRole('button', { name: 'Create plan' }).click();
    const v1 = pm.page.getByTestId('plan-version-1');
    await poll(() => v1.textContent()).toContain("Level 1: 10% of the direct partner's amount");
    expect(await v1.getByRole('table', { name: 'Per-lot rates' }).locator('tbody tr').allTextContents()).toEqual([
      '05—',
      '1006.5↑',
    ]);
    await screenshot(pm.page, 'partner-portal-17-backoffice-new-plan');
    await pm.context.close();

    const { context, page } = await newPage(browser, { baseURL: base });
    await page.goto('/partner');
    await page.getByLabel(/^Email/).fill(email);
    await page.getByLabel(/^Password/).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Welcome, Zen Sub IB' }).waitFor();
    await page.getByRole('link', { name: 'Password', exact: true }).click();
    await page.getByLabel(/^Current password/).fill(password);
    await page.getByLabel(/^New password \*/).fill('a brand new password');
    await page.getByLabel(/^New password again/).fill('a brand new password');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Your other sessions were signed out.').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel(/^Email/).fill(email);
    await page.getByLabel(/^Password/).fill('a brand new password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Welcome, Zen Sub IB' }).waitFor();
    await context.close();
  });

  it('works at phone width: the navigation folds, nothing overflows', async () => {
    const { context, page } = await newPage(browser, { baseURL: base, phone: true });
    await signInPartner(page);
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);
    // The navigation is folded away to the left until the burger opens it.
    const nav = page.getByRole('navigation', { name: 'Partner portal navigation' });
    const navRight = async () => {
      const box = await nav.boundingBox();
      return box ? box.x + box.width : 0;
    };
    await poll(navRight).toBeLessThanOrEqual(1);
    await poll(() => page.getByTestId('clients-count').textContent()).toBe(String(REFERRED));
    await poll(() => page.getByTestId('available-USD').textContent()).toBe(formatMoney(storedMinor - 600, 'USD'));
    await screenshot(page, 'partner-portal-13-phone-dashboard');
    await page.getByRole('button', { name: 'Toggle navigation' }).click();
    await poll(navRight).toBeGreaterThan(100);
    await nav.getByRole('link', { name: 'Payouts', exact: true }).click();
    await poll(() => page.locator(`tr[data-payout-id="${payoutId}"]`).getByTestId('payout-status').textContent()).toBe(
      'paid',
    );
    expect(await overflow()).toBeLessThanOrEqual(0);
    await screenshot(page, 'partner-portal-14-phone-payouts');
    await context.close();
  });
});
