/**
 * The back office's operations side in Chromium against the whole backend (MT5 simulators, the PSP sandbox with
 * signed webhooks, the HTTP app serving web/dist):
 *
 * 1. Finance approves a withdrawal above the dual-approval threshold with maker-checker: finance A signs in through
 *    the form with an authenticator code and approves, tries again and reads the API's refusal, finance B approves;
 *    the debit reaches the server, the payout goes through the PSP and the screen shows it completed. Then A requests
 *    a bonus credit, is refused when approving it themself, and B's approval posts it.
 * 2. Support finds a stuck deposit (its server reply lost, the look-up refused) from a client search and reads its
 *    timeline with every server attempt, then leaves a note on the client.
 * 3. A dealer finds a `needs_review` operation in the operations list and in the alerts (acknowledges the alert and
 *    opens the operation from it), reads its attempt log and retries it with the same reference: it ends
 *    `succeeded` (the alert resolved), and the server holds exactly one balance record with that reference.
 * 3b. Support reads a client's open orders (a pending order a dealer placed on the server) with full detail in the
 *    Trading history tab, and once it is cancelled and listed again, finds it among the finished orders.
 * 4. Compliance works the KYC queue (views the file, approves the document and the client) and corrects a profile,
 *    where a wrong value is refused in the API's words; the client list at phone width.
 *
 * Screenshots at each step land in artifacts/screenshots/backoffice-ops-*.png.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { generate } from 'otplib';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StaffRole } from '../../src/db/schema.ts';
import { clients, movementApprovals, operations, tradingAccounts } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { defaultWebRoot } from '../../src/http/web.ts';
import { parseReference } from '../../src/platforms/reference.ts';
import { LIVE } from '../support/accounts-testbed.ts';
import { type FundingTestbed, fundingTestbed } from '../support/funding-testbed.ts';
import { control } from '../support/simulators.ts';
import { launchBrowser, newPage, screenshot } from './support/browser.ts';

const PASSWORD = 'correct horse battery';
/** The smallest PNG header the KYC upload accepts. */
const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
  Buffer.from('IHDR'),
  Buffer.alloc(64, 1),
]);
/** Generous: the machine that runs these is shared, and a page can take a while to answer under load. */
const BROWSER_TIMEOUT_MS = 30_000;
/** The text of an element (all of it, hidden parts such as closed details included). */
const text = async (locator: Locator) => (await locator.textContent()) ?? '';
/** A reference's check symbol can be a regular-expression character (e.g. "*"). */
const escapeRegExp = (value: string) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A full-page screenshot from the top (a scrolled page would show its sticky header mid-image). */
async function shot(page: Page, name: string) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, name);
}

interface Staff {
  email: string;
  name: string;
  secret: string | null;
  cookie: string;
}

/** A consistent copy of the built web application (index.html and every asset it names). */
async function snapshotWebApp(): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'bd-web-'));
    try {
      cpSync(defaultWebRoot, dir, { recursive: true });
      const html = readFileSync(join(dir, 'index.html'), 'utf8');
      const assets = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
      if (assets.length > 0 && assets.every((a) => existsSync(join(dir, a)))) return dir;
    } catch {
      // Caught mid-rebuild: try again.
    }
    rmSync(dir, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no consistent build in ${defaultWebRoot}: run npm run build:web`);
}

describe('back office: money and operations in the browser', () => {
  let t: FundingTestbed;
  let browser: Browser;
  let base: string;
  const contexts: BrowserContext[] = [];

  let web: FastifyInstance;
  let webRoot: string;

  beforeAll(async () => {
    t = await fundingTestbed();
    // The browser talks to a second app on the same context and database, serving its own copy of web/dist: on a
    // machine shared with other test runs, a rebuild of web/dist would otherwise change the files under it mid-test.
    webRoot = await snapshotWebApp();
    web = await buildApp(t.ctx, { staff: t.staff, webRoot });
    await web.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(web.server.address() as AddressInfo).port}`;
    browser = await launchBrowser();
  });
  afterEach(async (ctx) => {
    await control(t.live, 'DELETE', '/control/faults');
    // A failed step leaves what each open page showed.
    if (ctx.task.result?.state === 'fail') {
      for (const [i, c] of contexts.entries()) {
        for (const [j, p] of c.pages().entries()) {
          await screenshot(p, `backoffice-ops-failed-${ctx.task.name.slice(0, 30)}-${i}-${j}`).catch(() => undefined);
        }
      }
    }
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await web?.close();
    await t?.close();
    if (webRoot) rmSync(webRoot, { recursive: true, force: true });
  });

  const totpNow = (secret: string) => generate({ secret, epoch: Math.floor(t.clock.now().getTime() / 1000) });

  /** A staff member with these roles, enrolled in two-factor when the roles need it, and a session of their own. */
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
      secret = (
        (
          await t.app.inject({ method: 'POST', url: '/api/backoffice/auth/totp/setup', headers: { cookie } })
        ).json() as {
          secret: string;
        }
      ).secret;
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

  /** A browser page already signed in as `staff` (the session cookie set on the context). */
  async function signedIn(staff: Staff): Promise<Page> {
    const { context, page } = await newPage(browser, { baseURL: base });
    contexts.push(context);
    context.setDefaultTimeout(BROWSER_TIMEOUT_MS);
    const [name, value] = staff.cookie.split('=') as [string, string];
    await context.addCookies([{ name, value, url: base, httpOnly: true, sameSite: 'Lax' }]);
    return page;
  }

  let productId: string | undefined;

  /**
   * Runs the operations engine until `done` holds, moving the test clock a little each round: on this shared machine a
   * server call can time out, and the operation then waits for its backoff or its look-up delay on that clock.
   */
  async function settle(what: string, done: () => Promise<boolean>) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      await t.engine.drain();
      if (await done()) return;
      if (Date.now() > deadline) throw new Error(`${what} did not happen in time`);
      t.clock.advance(2_000);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const movementReaches = (id: string, statuses: string[]) =>
    settle(`movement ${id} → ${statuses.join('|')}`, async () => statuses.includes((await t.movement(id)).status));

  /** A client with approved KYC, named, with an open live MT5 account, funded with `depositMinor`. */
  async function fundedClient(name: string, depositMinor: number) {
    const clientId = await t.addClient({ kycStatus: 'approved' });
    await t.database.db.update(clients).set({ name }).where(eq(clients.id, clientId));
    productId ??= await t.product();
    const { account } = await t.accounts.request(clientId, { productId });
    let opened: { login: number | null; status: string } | undefined;
    await settle(`account of ${name}`, async () => {
      [opened] = await t.database.db.select().from(tradingAccounts).where(eq(tradingAccounts.id, account.id));
      return opened?.status === 'open';
    });
    const c = { clientId, accountId: account.id, login: opened!.login!, cookie: await t.clientCookie(clientId) };
    if (depositMinor > 0) {
      const { movementId } = await t.deposit(c.cookie, c.accountId, depositMinor);
      await movementReaches(movementId, ['posted']);
    }
    return c;
  }

  /** The balance records on a login that carry `reference` in their comment. */
  async function recordsWith(login: number, reference: string) {
    const deals = (await control(t.live, 'GET', `/control/accounts/${login}/deals`)) as {
      Action: string;
      Comment: string;
    }[];
    return deals.filter((d) => Number(d.Action) === 2 && parseReference(d.Comment)?.reference === reference);
  }

  /** Deposits whose server call is applied and its reply lost, and whose look-up by reference the server refuses. */
  async function stuckDeposit(c: { cookie: string; accountId: string }, amountMinor: number, untilStatus: string) {
    await control(t.live, 'POST', '/control/faults', { endpoint: '/api/trade/balance', kind: 'drop_reply', count: 1 });
    await control(t.live, 'POST', '/control/faults', { endpoint: '/api/deal/get_total', kind: 'refuse' });
    const { movementId } = await t.deposit(c.cookie, c.accountId, amountMinor);
    await t.psp.psp.webhooksIdle();
    const operationId = (await t.movement(movementId)).operationId!;
    for (let i = 0; i < 60; i++) {
      await t.engine.drain();
      const [op] = await t.database.db.select().from(operations).where(eq(operations.id, operationId));
      if (op!.status === untilStatus && op!.attempts >= 3) return { movementId, operation: op! };
      t.clock.advance(60_000);
    }
    throw new Error(`operation ${operationId} did not reach ${untilStatus}`);
  }

  it('finance approves a withdrawal above the threshold with maker-checker; the payout completes', async () => {
    const threshold = t.ctx.config.funding.dualApprovalMinor;
    const c = await fundedClient('Wanda Withdrawer', 500_000);
    const amount = Math.max(threshold, 250_000);
    const requested = await t.app.inject({
      method: 'POST',
      url: '/api/portal/withdrawals',
      headers: { cookie: c.cookie },
      payload: { accountId: c.accountId, amountMinor: amount, destination: { type: 'card', last4: '4242' } },
    });
    expect(requested.statusCode, requested.body).toBe(201);
    const id = requested.json().movement.id as string;
    const financeA = await enrol('Fiona Finance', ['finance']);
    const financeB = await enrol('Felix Finance', ['finance']);

    // Finance A signs in through the form: password, then the authenticator code.
    const { context, page: a } = await newPage(browser, { baseURL: base });
    contexts.push(context);
    context.setDefaultTimeout(BROWSER_TIMEOUT_MS);
    await a.goto('/backoffice');
    await a.getByLabel('Email').fill(financeA.email);
    await a.getByRole('textbox', { name: 'Password' }).fill(PASSWORD);
    await a.getByRole('button', { name: 'Sign in' }).click();
    await a.getByLabel('Authenticator code').waitFor();
    await shot(a, 'backoffice-ops-1-sign-in-code');
    await a.getByLabel('Authenticator code').fill(await totpNow(financeA.secret!));
    await a.getByRole('button', { name: 'Sign in' }).click();
    await a.getByTestId('signed-in-user').filter({ hasText: 'Fiona Finance' }).waitFor();

    // The approval queue shows the withdrawal with 0 of 2 approvals; A opens it.
    await a.getByRole('link', { name: 'Deposits & withdrawals' }).click();
    const row = a.locator(`tr[data-movement="${id}"]`);
    await row.waitFor();
    expect(await text(row)).toContain('0 of 2');
    expect(await text(row)).toContain('Wanda Withdrawer');
    await shot(a, 'backoffice-ops-1-approval-queue');
    await row.getByRole('link').click();
    await a.getByTestId('maker-checker').waitFor();
    expect(await text(a.getByTestId('approval-count'))).toBe('0 of 2 approvals');
    expect(await text(a.getByTestId('requested-by'))).toContain('the client (Wanda Withdrawer)');

    // First approval.
    await a.getByRole('button', { name: 'Approve' }).click();
    await a.getByTestId('second-approval-needed').waitFor();
    expect(await text(a.getByTestId('approval-count'))).toBe('1 of 2 approvals');
    expect(await text(a.getByTestId('approvals'))).toContain('Fiona Finance');
    expect((await t.movement(id)).status).toBe('awaiting_second_approval');
    await shot(a, 'backoffice-ops-1-first-approval');

    // A tries again: the API refuses, and the screen says so in its words; nothing changes.
    await a.getByRole('button', { name: 'Approve' }).click();
    const refusal = a.getByRole('alert').filter({ hasText: 'a second, different approver must decide' });
    await refusal.waitFor();
    expect(await text(refusal)).toContain('you have already approved this request');
    await shot(a, 'backoffice-ops-1-second-approval-refused');
    expect((await t.movement(id)).status).toBe('awaiting_second_approval');
    expect(
      await t.database.db.select().from(movementApprovals).where(eq(movementApprovals.movementId, id)),
    ).toHaveLength(1);

    // Finance B approves: the debit goes to the server.
    const b = await signedIn(financeB);
    await b.goto(`/backoffice/movements/${id}`);
    await b.getByTestId('maker-checker').waitFor();
    expect(await text(b.getByTestId('approvals'))).toContain('Fiona Finance');
    await b.getByRole('button', { name: 'Approve' }).click();
    await b.getByTestId('approval-count').filter({ hasText: '2 of 2 approvals' }).waitFor();
    await shot(b, 'backoffice-ops-1-second-approval');

    await movementReaches(id, ['debited']);
    expect((await t.movement(id)).operationId).toBeTruthy();
    expect(Number((await t.simAccount(t.live, c.login)).account.Balance)).toBe((500_000 - amount) / 100);
    await settle('payout sent to the PSP', async () => {
      await t.ctx.funding.dispatchPayouts();
      return (await t.movement(id)).status === 'payout_pending';
    });
    const pending = await t.movement(id);
    await t.psp.control('POST', `/control/payouts/${pending.pspPayoutId}/resolve`, { outcome: 'success' });
    await movementReaches(id, ['completed']);

    // The screen (refreshing while the movement moves) shows it paid out, with the server attempt in its timeline.
    await b.getByTestId('movement-status').filter({ hasText: 'completed' }).waitFor({ timeout: 20_000 });
    const timeline = await text(b.getByTestId('timeline'));
    expect(timeline).toMatch(/post #1 of balance \S+ on mt5-live login \d+: ok/);
    expect(timeline).toContain('payout');
    expect(await text(b.getByTestId('movement-operations'))).toContain('succeeded');
    await shot(b, 'backoffice-ops-1-completed');

    // Finance A asks for a bonus credit on the same client (the amount typed as text, checked in the account's
    // currency); A may not approve their own request, B may.
    await a.goto(`/backoffice/clients/${c.clientId}/money`);
    await a.getByRole('button', { name: 'Request a credit or adjustment…' }).click();
    await a.getByLabel('Amount (USD)').fill('50.001');
    await a.getByLabel('Reason').fill('loyalty bonus');
    await a.getByRole('button', { name: 'Request', exact: true }).click();
    await a.getByText('At most 2 decimals for USD').waitFor();
    await a.getByLabel('Amount (USD)').fill('50.00');
    await a.getByRole('button', { name: 'Request', exact: true }).click();
    await a.getByTestId('maker-checker').waitFor();
    expect(await text(a.getByTestId('requested-by'))).toBe('Fiona Finance (staff)');
    expect(await text(a.getByTestId('approval-count'))).toBe('0 of 1 approval');
    const creditId = a.url().split('/').at(-1)!;
    expect(await t.movement(creditId)).toMatchObject({
      kind: 'credit',
      amountMinor: 5_000,
      status: 'awaiting_approval',
    });
    await a.getByRole('button', { name: 'Approve' }).click();
    await a
      .getByRole('alert')
      .filter({ hasText: 'you made this request: another staff member must decide on it' })
      .waitFor();
    await shot(a, 'backoffice-ops-1-self-approval-refused');
    await b.goto(`/backoffice/movements/${creditId}`);
    await b.getByRole('button', { name: 'Approve' }).click();
    await movementReaches(creditId, ['posted']);
    await b.getByTestId('movement-status').filter({ hasText: 'posted' }).waitFor();
    await shot(b, 'backoffice-ops-1-credit-posted');
  });

  it('support finds a stuck deposit from a client search and reads its timeline with every attempt', async () => {
    const c = await fundedClient('Stella Stuckdeposit', 0);
    const { movementId, operation } = await stuckDeposit(c, 123_400, 'unknown');
    expect((await t.movement(movementId)).status).toBe('approved');
    const support = await enrol('Sam Support', ['support']);
    const page = await signedIn(support);

    await page.goto('/backoffice');
    await page.getByRole('link', { name: 'Clients', exact: true }).click();
    await page.getByLabel('Name, email or client id').fill('stuckdeposit');
    await page.getByRole('button', { name: 'Search' }).click();
    const result = page.locator(`tr[data-client="${c.clientId}"]`);
    await result.waitFor();
    // The search answers with this client only (the unfiltered list showed before it).
    await expect.poll(() => page.getByTestId('clients-table').locator('tbody tr').count()).toBe(1);
    await shot(page, 'backoffice-ops-2-client-search');
    await result.getByRole('link', { name: 'Stella Stuckdeposit' }).click();
    await page.getByTestId('client-name').filter({ hasText: 'Stella Stuckdeposit' }).waitFor();
    await page.getByRole('tab', { name: 'Money' }).click();
    const deposit = page.locator(`tr[data-movement="${movementId}"]`);
    await deposit.waitFor();
    expect(await text(deposit)).toContain('approved');
    await shot(page, 'backoffice-ops-2-client-money');
    await deposit.getByRole('link').click();

    await page.getByTestId('timeline').waitFor();
    expect(await text(page.getByTestId('movement-summary'))).toBe(
      '1234.00 USD is approved and being applied to the trading account.',
    );
    const timeline = page.getByTestId('timeline');
    const story = await text(timeline);
    // On failure, the attempts as the database has them.
    const attempts = JSON.stringify(
      await t.database.query(
        'select attempt, action, outcome, server_text from operation_attempts where operation_id = $1 order by id',
        [operation.id],
      ),
    );
    expect(story, attempts).toContain(
      `post #1 of balance ${operation.reference} on mt5-live login ${c.login}: ambiguous`,
    );
    expect(story, attempts).toMatch(
      new RegExp(`verify by reference #\\d+ of balance ${escapeRegExp(operation.reference)} .*: not_sent`),
    );
    expect(story).toContain(`operation ${operation.reference} (balance on mt5-live) is unknown`);
    expect(await timeline.locator('tr[data-type^="attempt."]').count(), attempts).toBe(operation.attempts);
    expect(await timeline.locator('tr[data-type^="webhook."]').count()).toBeGreaterThan(0);
    expect(await text(page.getByTestId('movement-operations'))).toContain('unknown');
    await shot(page, 'backoffice-ops-2-stuck-deposit-timeline');
    // Support reads; it does not decide or retry.
    expect(await page.getByRole('button', { name: /Retry/ }).count()).toBe(0);

    // … and leaves a note on the client for the next person who takes the call.
    await page.getByRole('tab', { name: 'Notes' }).click();
    const note = `Client called about deposit ${operation.reference}: not confirmed by the server yet, dealing informed.`;
    await page.getByLabel('New note').fill(note);
    await page.getByRole('button', { name: 'Add note' }).click();
    await page.getByTestId('notes').getByText(note).waitFor();
    expect(await text(page.getByTestId('notes'))).toContain('Sam Support');
    await shot(page, 'backoffice-ops-2-note');
  });

  it("support reads a client's open orders, then the cancelled one among finished orders", async () => {
    const c = await fundedClient('Olga Orders', 0);
    const { order } = (await control(t.live, 'POST', '/control/dealer/order', {
      login: c.login,
      symbol: 'GBPUSD',
      side: 'sell',
      lots: 0.25,
      price: 2.5,
      comment: 'by phone',
    })) as { order: { Order: string } };
    const ticket = order.Order;
    // The sync pass that lists open positions and orders (the scheduler's, run once here).
    const listed = await t.ctx.trades.syncPositions(LIVE);
    expect(listed?.openOrders, JSON.stringify(listed)).toBeGreaterThan(0);

    const page = await signedIn(await enrol('Otto Orders', ['support']));
    await page.goto(`/backoffice/clients/${c.clientId}`);
    await page.getByTestId('client-name').filter({ hasText: 'Olga Orders' }).waitFor();
    await page.getByRole('tab', { name: 'Trading history' }).click();
    const row = page
      .getByRole('table', { name: 'Open orders' })
      .getByRole('row')
      .filter({ hasText: `#${ticket}` });
    await row.waitFor();
    const cells = await row.getByRole('cell').allTextContents();
    expect(cells.slice(0, 11)).toEqual([
      `#${ticket}`,
      'mt5-live MT5',
      String(c.login),
      'sell limit',
      'placed',
      'GBPUSD',
      '0.25',
      '0.25',
      '2.5',
      '—',
      '—',
    ]);
    expect(cells.at(-2)).toBe('until cancelled');
    expect(cells.at(-1)).toBe('by phone');
    await shot(page, 'backoffice-ops-3b-open-orders');

    // Cancelled on the server; the next listing finds it gone and stores how it ended.
    await control(t.live, 'POST', '/control/dealer/order/cancel', { order: Number(ticket) });
    t.clock.advance(60_000);
    const after = await t.ctx.trades.syncPositions(LIVE);
    expect(after?.finishedOrders, JSON.stringify(after)).toBe(1);
    await page.getByRole('button', { name: 'Reload' }).click();
    await page.getByText('No open orders on any server.').waitFor();
    await page.getByLabel('Records').selectOption('order');
    const finished = page
      .getByRole('table', { name: 'Trading history' })
      .getByRole('row')
      .filter({ hasText: `Order #${ticket}` });
    await finished.waitFor();
    expect(await text(finished)).toMatch(/sell limit\s*canceled/);
    expect(await text(finished)).toContain('GBPUSD');
    await shot(page, 'backoffice-ops-3b-finished-orders');
  });

  it('a dealer retries a needs_review operation with the same reference; it succeeds once on the server', async () => {
    const c = await fundedClient('Nina Needsreview', 0);
    const { movementId, operation } = await stuckDeposit(c, 45_600, 'needs_review');
    // The first post was applied (its reply lost): the server already holds it once.
    expect(await recordsWith(c.login, operation.reference)).toHaveLength(1);
    const dealer = await enrol('Dana Dealer', ['dealing']);
    const page = await signedIn(dealer);

    await page.goto('/backoffice/operations');
    await page.getByLabel('Status').selectOption('needs_review');
    const row = page.locator(`tr[data-reference="${operation.reference}"]`);
    await row.waitFor();
    expect(await text(row)).toContain('needs review');
    // Only needs_review operations are listed (the unfiltered list showed before the filtered one).
    await expect
      .poll(() =>
        page.getByTestId('operations-table').locator('tbody tr').filter({ hasNotText: 'needs review' }).count(),
      )
      .toBe(0);
    await shot(page, 'backoffice-ops-3-needs-review-list');

    // The critical alert the engine raised: the dealer acknowledges it and opens the operation from it.
    await page.getByRole('link', { name: 'Alerts', exact: true }).click();
    const alert = page.locator('article').filter({ hasText: operation.reference });
    await alert.waitFor();
    expect(await text(alert)).toContain('needs review');
    await alert.getByRole('button', { name: 'Acknowledge' }).click();
    await alert.waitFor({ state: 'detached' });
    await page.getByLabel('Status').selectOption('acknowledged');
    await alert.getByText('Acknowledged by Dana Dealer').waitFor();
    await shot(page, 'backoffice-ops-3-alert-acknowledged');
    await alert.getByRole('link', { name: 'Open the operation' }).click();
    await page.getByTestId('needs-review').waitFor();
    const log = page.getByTestId('attempt-log');
    expect(await log.locator('tbody tr').count()).toBe(operation.attempts);
    expect(await log.locator('tr[data-outcome="ambiguous"]').count()).toBe(1);
    expect(await log.locator('tr[data-outcome="not_sent"]').count()).toBe(operation.attempts - 1);
    await shot(page, 'backoffice-ops-3-attempt-log');

    // The server answers look-ups again; the dealer retries with the same reference.
    await control(t.live, 'DELETE', '/control/faults');
    await page.getByRole('button', { name: 'Retry with the same reference' }).click();
    const dialog = page.getByRole('dialog');
    expect(await text(dialog)).toContain(`${operation.reference} goes back to the queue with the same reference`);
    await shot(page, 'backoffice-ops-3-retry-confirm');
    await dialog.getByRole('button', { name: 'Confirm retry' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const [queued] = await t.database.db.select().from(operations).where(eq(operations.id, operation.id));
    expect(queued).toMatchObject({ status: 'unknown', reference: operation.reference, attempts: 0 });

    // The engine runs (its circuit to the server lets a probe through after its pause): found by reference.
    t.clock.advance(60_000);
    await movementReaches(movementId, ['posted']);
    await page.getByTestId('operation-status').filter({ hasText: 'succeeded' }).waitFor({ timeout: 20_000 });
    await log.locator('tr[data-outcome="found"]').waitFor();
    expect(await text(page.getByTestId('operation-history'))).toMatch(/retry requested[\s\S]*Dana Dealer/);
    await shot(page, 'backoffice-ops-3-succeeded');
    // The success resolved the alert.
    await page.goto('/backoffice/alerts?status=resolved');
    await page.getByTestId('alerts').waitFor();
    await shot(page, 'backoffice-ops-3-alert-resolved');
    await page.locator('article').filter({ hasText: operation.reference }).getByText('Resolved by').waitFor();

    const [done] = await t.database.db.select().from(operations).where(eq(operations.id, operation.id));
    expect(done).toMatchObject({ status: 'succeeded', reference: operation.reference });
    expect(await recordsWith(c.login, operation.reference)).toHaveLength(1);
    expect(Number((await t.simAccount(t.live, c.login)).account.Balance)).toBe(456);
    // Retrying a succeeded operation is refused (the button is gone, and the API says why).
    expect(await page.getByRole('button', { name: 'Retry with the same reference' }).count()).toBe(0);
    const again = await t.app.inject({
      method: 'POST',
      url: `/api/backoffice/operations/${operation.id}/retry`,
      headers: { cookie: dealer.cookie },
    });
    expect(again.statusCode).toBe(409);
  });

  it('compliance works the KYC queue: views a document, approves it and the client, corrects the profile', async () => {
    const clientId = await t.addClient({ kycStatus: 'not_started' });
    await t.database.db.update(clients).set({ name: 'Kira Kycqueue' }).where(eq(clients.id, clientId));
    await t.ctx.kyc.upload(clientId, { type: 'passport', originalName: 'passport.png', bytes: PNG });
    const compliance = await enrol('Cora Compliance', ['compliance']);
    const page = await signedIn(compliance);

    await page.goto('/backoffice/kyc');
    await page.getByRole('link', { name: 'Review Kira Kycqueue' }).waitFor();
    expect(await text(page.getByTestId('kyc-queue'))).toContain('passport');
    await shot(page, 'backoffice-ops-4-kyc-queue');
    await page.getByRole('link', { name: 'Review Kira Kycqueue' }).click();

    // The file opens from the back office (the same bytes the client sent), then the document and the client.
    const view = page.getByRole('link', { name: /View passport passport\.png/ });
    const file = await page.request.get((await view.getAttribute('href'))!);
    expect(file.status()).toBe(200);
    expect(Buffer.from(await file.body()).equals(PNG)).toBe(true);
    await page.getByTestId('documents-table').getByRole('button', { name: 'Approve' }).click();
    await page.getByTestId('documents-table').getByText('approved', { exact: true }).waitFor();
    await page.getByLabel('Decision', { exact: true }).selectOption('approve');
    await page.getByRole('button', { name: 'Record decision' }).click();
    await page.getByText('pending → approved').waitFor();
    expect((await t.database.db.select().from(clients).where(eq(clients.id, clientId)))[0]!.kycStatus).toBe('approved');
    await shot(page, 'backoffice-ops-4-kyc-approved');

    // Profile corrections: a valid phone is saved; a wrong country is refused with the API's words.
    await page.getByRole('tab', { name: 'Profile' }).click();
    await page.getByLabel('Phone').fill('+357 99 123456');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('+357 99 123456', { exact: true }).first().waitFor();
    await page.getByLabel('Country').fill('ZZ');
    await page.getByRole('button', { name: 'Save' }).click();
    const refused = page.getByRole('alert').filter({ hasText: 'ISO 3166-1 alpha-2 country code' });
    await refused.waitFor();
    await shot(page, 'backoffice-ops-4-profile-refused');
    expect((await t.database.db.select().from(clients).where(eq(clients.id, clientId)))[0]!.country).toBe('CY');

    // At phone width the navigation folds behind a button and the list still reads.
    const phone = await newPage(browser, { baseURL: base, phone: true });
    contexts.push(phone.context);
    phone.context.setDefaultTimeout(BROWSER_TIMEOUT_MS);
    const [name, value] = compliance.cookie.split('=') as [string, string];
    await phone.context.addCookies([{ name, value, url: base, httpOnly: true, sameSite: 'Lax' }]);
    await phone.page.goto('/backoffice/clients?q=Kycqueue');
    await phone.page.locator(`tr[data-client="${clientId}"]`).waitFor();
    await phone.page.getByRole('button', { name: 'Toggle navigation' }).waitFor();
    await shot(phone.page, 'backoffice-ops-4-clients-phone');
  });
});
