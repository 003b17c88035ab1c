/**
 * The back office's control side in Chromium against the whole backend (MT5 simulators, the PSP sandbox with signed
 * webhooks, the HTTP app serving web/dist):
 *
 * 1. An admin signs in (password, then the authenticator code) and opens the dashboard: the charts are drawn from
 *    real data (a posted deposit, the operations, the breaks of a real reconciliation run, the sync state).
 * 2. The admin verifies the audit chain from the audit page.
 * 3. Finance A opens the reconciliation run, filters its breaks by class, opens the duplicate a dealer caused and asks
 *    to write it off; approving it herself is refused in the API's words. Finance B approves: the break shows
 *    resolved (written off), and the ledger holds the write-off.
 *
 * Screenshots at each step land in artifacts/screenshots/backoffice-control-*.png.
 */
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { generate } from 'otplib';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StaffRole } from '../../src/db/schema.ts';
import { operations, reconBreaks } from '../../src/db/schema.ts';
import { ledgerBalance } from '../../src/modules/ledger/service.ts';
import type { ReconRun } from '../../src/modules/reconciliation/service.ts';
import { LIVE } from '../support/accounts-testbed.ts';
import { type FundingTestbed, fundingTestbed } from '../support/funding-testbed.ts';
import { reconDay } from '../support/recon.ts';
import { control } from '../support/simulators.ts';
import { launchBrowser, newPage, screenshot } from './support/browser.ts';

const PASSWORD = 'correct horse battery';
const text = async (locator: Locator) => (await locator.textContent()) ?? '';

interface Staff {
  email: string;
  name: string;
  secret: string | null;
  cookie: string;
}

describe('back office: dashboard, audit and reconciliation in the browser', () => {
  let t: FundingTestbed;
  let browser: Browser;
  let base: string;
  const contexts: BrowserContext[] = [];
  let run: ReconRun;
  let duplicateKey: string;
  let admin: Staff;

  const totpNow = (secret: string) => generate({ secret, epoch: Math.floor(t.clock.now().getTime() / 1000) });

  /** A staff member with these roles, enrolled in two-factor when the roles need it, with a session of their own. */
  async function enrol(name: string, roles: StaffRole[]): Promise<Staff> {
    const email = `${name.toLowerCase().replace(/\W+/g, '.')}@broker.example`;
    await t.staff.create({ email, name, password: PASSWORD, roles }, 'system');
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/backoffice/auth/login',
      payload: { email, password: PASSWORD },
    });
    const cookie = `bd_staff=${login.cookies.find((c) => c.name === 'bd_staff')!.value}`;
    let secret: string | null = null;
    if (login.json().twoFactorEnrolmentRequired) {
      const setup = await t.app.inject({ method: 'POST', url: '/api/backoffice/auth/totp/setup', headers: { cookie } });
      secret = (setup.json() as { secret: string }).secret;
      const confirmed = await t.app.inject({
        method: 'POST',
        url: '/api/backoffice/auth/totp/confirm',
        headers: { cookie },
        payload: { code: await totpNow(secret) },
      });
      expect(confirmed.statusCode, confirmed.body).toBe(200);
    }
    return { email, name, secret, cookie };
  }

  async function signedIn(staff: Staff): Promise<Page> {
    const { context, page } = await newPage(browser, { baseURL: base });
    contexts.push(context);
    const [name, value] = staff.cookie.split('=') as [string, string];
    await context.addCookies([{ name, value, url: base, httpOnly: true, sameSite: 'Lax' }]);
    return page;
  }

  beforeAll(async () => {
    t = await fundingTestbed();
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    browser = await launchBrowser();

    // A real deposit, posted to the server; then a dealer re-posts it by hand with the same comment (so with the
    // deposit's reference): the server holds the money twice, the CRM once. The day's reconciliation finds it.
    const c = await t.fundedClient();
    const { movementId } = await t.deposit(c.cookie, c.accountId, 25_000);
    const movement = await t.until(movementId, ['posted']);
    const [op] = await t.database.db.select().from(operations).where(eq(operations.id, movement.operationId!));
    await control(t.live, 'POST', '/control/dealer/balance', {
      login: c.login,
      amount: 250,
      type: 'balance',
      comment: op!.reference,
    });
    run = await reconDay(t).run(0);
    expect(run.summary).toMatchObject({ byClass: { duplicate: 1, balance_drift: 1 } });
    duplicateKey = `duplicate:server:${LIVE}:${op!.reference}`;
    admin = await enrol('Ada Admin', ['admin']);
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await t?.close();
  });

  it('an admin signs in and sees the dashboard drawn from the data', async () => {
    const { context, page } = await newPage(browser, { baseURL: base });
    contexts.push(context);
    await page.goto('/backoffice');
    await page.getByLabel('Email').fill(admin.email);
    await page.getByRole('textbox', { name: 'Password' }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Authenticator code').fill(await totpNow(admin.secret!));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('signed-in-user').filter({ hasText: 'Ada Admin' }).waitFor();

    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByTestId('dashboard').waitFor();
    // Every chart has bars (recharts draws one path per bar with a value).
    for (const chart of ['chart-deposits-count', 'chart-deposits-amount-USD', 'chart-operations', 'chart-breaks']) {
      const bars = page.getByTestId(chart).locator('path.recharts-rectangle');
      await bars.first().waitFor();
      expect(await bars.count(), chart).toBeGreaterThan(0);
    }
    await page.getByTestId('card-sync').waitFor();
    expect(await text(page.getByTestId('card-sync'))).toContain(LIVE);
    // The figures are the data's: one deposit today, two open breaks, and the summary alert of the run.
    expect(await text(page.getByTestId('headline-deposits-today'))).toContain('1');
    expect(await text(page.getByTestId('headline-open-breaks'))).toContain('2');
    expect(await text(page.getByTestId('card-deposits-amount-USD'))).toContain('250.00 USD');
    expect(await text(page.getByTestId('card-alerts'))).toContain('reconciliation of');
    await screenshot(page, 'backoffice-control-1-dashboard');

    // On a phone the dashboard still draws (one column).
    const phone = await newPage(browser, { baseURL: base, phone: true });
    contexts.push(phone.context);
    const [name, value] = admin.cookie.split('=') as [string, string];
    await phone.context.addCookies([{ name, value, url: base, httpOnly: true, sameSite: 'Lax' }]);
    await phone.page.goto('/backoffice/dashboard');
    await phone.page.getByTestId('chart-breaks').locator('path.recharts-rectangle').first().waitFor();
    await screenshot(phone.page, 'backoffice-control-1-dashboard-phone');
  });

  it('the admin verifies the audit chain', async () => {
    const page = await signedIn(admin);
    await page.goto('/backoffice/audit');
    await page.getByTestId('audit-table').waitFor();
    // Newest first: the first row is the latest event in the database.
    const [latest] = await t.database.query<{ id: string }>('select max(id)::text as id from audit_events');
    expect(await page.locator('tr[data-event]').first().getAttribute('data-event')).toBe(latest!.id);
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    const result = page.locator('[data-testid="chain-result"][data-ok="true"]');
    await result.waitFor();
    expect(await text(result)).toMatch(/All [\d,]+ events checked/);
    await screenshot(page, 'backoffice-control-2-audit-verified');
  });

  it('finance opens the run, a break, and writes it off with a second approver', async () => {
    const financeA = await enrol('Fiona Finance', ['finance']);
    const financeB = await enrol('Felix Finance', ['finance']);
    const a = await signedIn(financeA);
    await a.goto('/backoffice/dashboard');
    await a.getByRole('link', { name: 'Reconciliation' }).click();
    const runRow = a.locator(`tr[data-run="${run.id}"]`);
    await runRow.waitFor();
    await screenshot(a, 'backoffice-control-3-runs');
    await runRow.getByRole('link').click();
    await a.getByTestId('run-breaks').waitFor();
    expect(await a.locator('tr[data-class]').count()).toBe(2);
    await a.getByLabel('Class', { exact: true }).selectOption('duplicate');
    await a.locator('tr[data-class="balance_drift"]').waitFor({ state: 'detached' });
    expect(await a.locator('tr[data-class]').count()).toBe(1);
    expect(await a.getByTestId('csv-export').getAttribute('href')).toBe(
      `/api/backoffice/recon/runs/${run.id}/breaks.csv`,
    );
    await screenshot(a, 'backoffice-control-3-run-duplicates');

    await a.locator('tr[data-class="duplicate"]').getByRole('link').click();
    await a.getByTestId('break-status').waitFor();
    expect(await text(a.getByTestId('break-status'))).toContain('open');
    // The break links to its operation (attempt log) and shows the server's two records.
    expect(await text(a.getByTestId('server-records'))).toContain('Records on the server');
    expect(await a.getByTestId('server-records').locator('tbody tr').count()).toBe(2);
    await a.getByTestId('attempt-log').waitFor();
    await a.getByLabel('Reason').fill('Dealer re-posted the deposit by mistake; the client keeps it (ticket OPS-118)');
    await a.getByRole('button', { name: 'Request write-off' }).click();
    await a.getByTestId('second-approver-needed').waitFor();
    await screenshot(a, 'backoffice-control-3-write-off-requested');

    // The maker may not approve: the API refuses, and the screen says so in its words.
    await a.getByRole('button', { name: 'Approve write-off' }).click();
    const refusal = a.getByRole('alert').filter({ hasText: 'another staff member must approve or reject it' });
    await refusal.waitFor();
    await screenshot(a, 'backoffice-control-3-own-approval-refused');
    const [stillOpen] = await t.database.db.select().from(reconBreaks).where(eq(reconBreaks.key, duplicateKey));
    expect(stillOpen!.status).toBe('open');

    // The checker finds it in the queue and approves.
    const b = await signedIn(financeB);
    await b.goto('/backoffice/reconciliation/write-offs');
    const queued = b.getByTestId('write-off-queue');
    await queued.waitFor();
    expect(await text(queued)).toContain('Fiona Finance');
    await queued.getByRole('link', { name: 'Duplicate' }).click();
    await b.getByTestId('write-off-decision').waitFor();
    expect(await text(b.getByTestId('write-off-decision'))).toContain('Fiona Finance');
    await b.getByRole('button', { name: 'Approve write-off' }).click();
    await b.getByTestId('break-resolved').waitFor();
    expect(await text(b.getByTestId('break-status'))).toContain('written off');
    expect(await text(b.getByTestId('break-resolved'))).toContain('Felix Finance');
    expect(await text(b.getByTestId('break-events'))).toMatch(/Write off requested[\s\S]*Written off/);
    await screenshot(b, 'backoffice-control-3-break-resolved');

    const [resolved] = await t.database.db.select().from(reconBreaks).where(eq(reconBreaks.key, duplicateKey));
    expect(resolved).toMatchObject({ status: 'resolved', resolution: 'written_off' });
    expect(await ledgerBalance(t.database.db, { type: 'write_offs', currency: 'USD' })).toBe(25_000);

    // Back on the run, the break shows resolved for everyone.
    await a.goto(`/backoffice/reconciliation/runs/${run.id}?class=duplicate`);
    const line = a.locator('tr[data-class="duplicate"]');
    await line.waitFor();
    expect(await text(line)).toContain('resolved');
    expect(await text(line)).toContain('written off');
  });

  it('the admin checks the servers, edits a product, adds and disables a staff member, explains an external change', async () => {
    const page = await signedIn(admin);

    // Servers: "Check now" pings each one; the circuit and the latency are shown.
    await page.goto('/backoffice/servers');
    await page.getByTestId('servers-table').waitFor();
    await page.getByRole('button', { name: 'Check now' }).click();
    const live = page.locator(`tr[data-server="${LIVE}"]`);
    // The ping's answer: a latency in milliseconds, the circuit closed.
    await live.getByText(/^\d+ ms$/).waitFor();
    expect(await text(live.getByTestId('circuit'))).toBe('closed');
    await screenshot(page, 'backoffice-control-4-servers');

    // Products: a mapping to a group the server does not have is refused in the API's words; a good one saves.
    await page.goto('/backoffice/products');
    const row = page.locator('tr[data-product]').first();
    await row.waitFor();
    const code = (await row.getAttribute('data-product'))!;
    await row.getByRole('button', { name: `Edit ${code}` }).click();
    await page.getByLabel('Group on the server').fill('real\\no-such-group');
    await page.getByRole('button', { name: 'Save product' }).click();
    const refused = page.getByRole('alert').filter({ hasText: 'the product cannot be saved' });
    await refused.waitFor();
    expect(await text(page.getByRole('list', { name: 'Settings to fix' }))).toContain('groupName');
    await screenshot(page, 'backoffice-control-4-product-refused');
    await page.getByLabel('Group on the server').fill('real\\standard-usd');
    await page.getByLabel(/^Name/).fill('Standard USD (renamed)');
    await page.getByRole('button', { name: 'Save product' }).click();
    await page.locator(`tr[data-product="${code}"]`).filter({ hasText: 'Standard USD (renamed)' }).waitFor();

    // Staff: add a support agent, then disable them.
    await page.goto('/backoffice/staff');
    await page.getByRole('button', { name: 'Add a staff member' }).click();
    const form = page.getByRole('form', { name: 'Add a staff member' });
    await form.getByLabel('Name').fill('Sam Support');
    await form.getByLabel('Email').fill('sam.support@broker.example');
    await form.getByLabel('Initial password').fill(PASSWORD);
    await form.getByRole('button', { name: 'Add staff member' }).click();
    const sam = page.locator('tr[data-staff="sam.support@broker.example"]');
    await sam.waitFor();
    await sam.getByRole('button', { name: 'Change Sam Support' }).click();
    await page.getByRole('button', { name: 'Disable Sam Support' }).click();
    await sam.filter({ hasText: 'disabled' }).waitFor();
    await screenshot(page, 'backoffice-control-4-staff');
    const signIn = await t.app.inject({
      method: 'POST',
      url: '/api/backoffice/auth/login',
      payload: { email: 'sam.support@broker.example', password: PASSWORD },
    });
    expect(signIn.statusCode).toBe(403);

    // External changes: a dealer's correction without a reference, found by trade sync, explained here.
    const [account] = await t.database.query<{ login: string }>(
      `select login::text from trading_accounts where server_code = $1 and status = 'open' limit 1`,
      [LIVE],
    );
    await control(t.live, 'POST', '/control/dealer/balance', {
      login: Number(account!.login),
      amount: 12.5,
      type: 'correction',
      comment: 'slippage comp #4411',
    });
    expect((await t.ctx.trades.syncServer(LIVE)).status).toBe('ok');
    await page.goto('/backoffice/external-changes');
    const change = page.locator('tr[data-change]').filter({ hasText: 'slippage comp #4411' });
    await change.waitFor();
    expect(await text(change)).toContain('12.50 USD');
    await change.getByRole('link').click();
    await page.getByLabel('Explanation').fill('Compensation agreed on ticket OPS-4411');
    await page.getByRole('button', { name: 'Explain', exact: true }).click();
    // Reviewed: the note is among the change's facts and the review forms are gone.
    await page.locator('dd').filter({ hasText: 'Compensation agreed on ticket OPS-4411' }).waitFor();
    expect(await page.getByRole('button', { name: 'Explain', exact: true }).count()).toBe(0);
    const [explained] = await t.database.query<{ status: string }>(
      `select status from external_changes where comment = 'slippage comp #4411'`,
    );
    expect(explained!.status).toBe('explained');
    await screenshot(page, 'backoffice-control-4-external-change-explained');

    // "Run now" reconciles a business date on demand (yesterday, whose cut-off has passed) and opens its report.
    const yesterday = new Date(t.clock.now().getTime() - 86_400_000).toISOString().slice(0, 10);
    await page.goto('/backoffice/reconciliation');
    await page.getByLabel('Business date').fill(yesterday);
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.getByRole('heading', { name: `Reconciliation of ${yesterday}` }).waitFor({ timeout: 60_000 });
    const [manual] = await t.database.query<{ status: string; trigger: string }>(
      'select status, trigger from recon_runs where business_date = $1',
      [yesterday],
    );
    expect(manual).toMatchObject({ status: 'completed', trigger: 'manual' });
    await screenshot(page, 'backoffice-control-4-run-now');
  });
});
