/**
 * The client portal in Chromium against the whole backend (MT5 live/demo simulators, the PSP sandbox with its real
 * hosted page and signed webhooks, the HTTP app serving web/dist): a client registers at phone width, follows the
 * link from the verification email, uploads a passport, compliance approves it, the client opens a live account,
 * pays a deposit on the PSP's page with the success test card, comes back to the deposit's timeline and watches it
 * reach `posted`; the trading server's balance for that login really moved. A pending order a dealer places on the
 * server shows among the client's open orders, and once cancelled, among the finished orders of the trading history.
 * Screenshots at each step.
 *
 * The browser reaches the portal at its public URL (PUBLIC_URL, here the default http://127.0.0.1:8080), as clients do
 * and as the verification email and the payment page's return link say; Playwright stands in for the reverse proxy
 * in front of the app, which listens on a free port of its own.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { generate } from 'otplib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clients, kycDocuments, moneyMovements, outboxEmails, tradingAccounts } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { defaultWebRoot } from '../../src/http/web.ts';
import { DEMO, LIVE } from '../support/accounts-testbed.ts';
import { type FundingTestbed, fundingTestbed } from '../support/funding-testbed.ts';
import { TEST_CARDS } from '../support/psp.ts';
import { control } from '../support/simulators.ts';
import { launchBrowser, newPage, screenshot } from './support/browser.ts';

/** A full-page screenshot from the top (so the fixed header sits where it belongs). */
async function shot(page: Page, name: string): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, name);
}

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
  Buffer.from('IHDR'),
  Buffer.alloc(64, 1),
]);
const PASSWORD = 'a long client password';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1366, height: 900 };

/**
 * A copy of web/dist as built for this run: another run building it meanwhile (it empties the folder first) must not
 * pull the pages from under the browser.
 */
async function snapshotWeb(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'bd-portal-web-'));
  for (let attempt = 1; ; attempt++) {
    rmSync(dir, { recursive: true, force: true });
    cpSync(defaultWebRoot, dir, { recursive: true });
    const index = join(dir, 'index.html');
    const assets = existsSync(index)
      ? [...readFileSync(index, 'utf8').matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1]!)
      : [];
    if (assets.length > 0 && assets.every((a) => existsSync(join(dir, a)))) return dir;
    if (attempt === 40) throw new Error(`web/dist is incomplete (${defaultWebRoot}); run npm run build:web`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe('client portal in the browser', () => {
  let t: FundingTestbed;
  let web: { app: FastifyInstance; root: string } | undefined;
  let browser: Browser;
  let base: string;
  let publicUrl: string;
  let liveProductName: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    t = await fundingTestbed();
    // The browser's app: the same context (database, servers, PSP) serving the copy; PSP webhooks reach t.app.
    const root = await snapshotWeb();
    web = { app: await buildApp(t.ctx, { staff: t.staff, webRoot: root }), root };
    await web.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(web.app.server.address() as AddressInfo).port}`;
    publicUrl = t.ctx.config.publicUrl.replace(/\/+$/, '');
    liveProductName = 'Standard live USD';
    await t.products.create(
      {
        code: 'std-live',
        name: liveProductName,
        environment: 'live',
        serverCode: LIVE,
        groupName: 'real\\standard-usd',
        currency: 'USD',
        allowedLeverages: [50, 100, 200],
        defaultLeverage: 100,
        kycPolicy: 'enable_trading_on_approval',
      },
      'test-staff',
    );
    await t.products.create(
      {
        code: 'std-demo',
        name: 'Standard demo USD',
        environment: 'demo',
        serverCode: DEMO,
        groupName: 'demo\\standard-usd',
        currency: 'USD',
        allowedLeverages: [100, 500],
        defaultLeverage: 100,
        kycPolicy: 'none',
        demoDeposit: 1_000_000,
      },
      'test-staff',
    );
    browser = await launchBrowser();
  });
  // A failing step leaves a picture of what the browser showed.
  afterEach(async (test) => {
    if (test.task.result?.state === 'fail') {
      for (const [i, c] of contexts.entries()) {
        for (const p of c.pages()) await screenshot(p, `client-portal-failed-${i}`).catch(() => undefined);
      }
    }
    for (const c of contexts.splice(0)) await c.close().catch(() => undefined);
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await web?.app.close();
    if (web) rmSync(web.root, { recursive: true, force: true });
    await t?.close();
  });

  /** A browser context at the public URL, whose requests a proxy (here Playwright) passes to the app's own port. */
  async function open(options: { phone?: boolean } = {}): Promise<{ context: BrowserContext; page: Page }> {
    const opened = await newPage(browser, { ...options, baseURL: publicUrl });
    contexts.push(opened.context);
    await opened.context.route(`${publicUrl}/**`, async (route) => {
      const response = await route.fetch({ url: route.request().url().replace(publicUrl, base), maxRedirects: 0 });
      await route.fulfill({ response });
    });
    return opened;
  }

  const totp = (secret: string) => generate({ secret, epoch: Math.floor(t.clock.now().getTime() / 1000) });
  /** A well-formed code that is not the current one. */
  const wrongCode = async (secret: string) =>
    String((Number(await totp(secret)) + 500_000) % 1_000_000).padStart(6, '0');
  const nav = (page: Page) => page.getByRole('navigation', { name: 'Client portal navigation' });

  it('takes a client from registration to a posted deposit that the trading server shows', async () => {
    const { page } = await open({ phone: true });
    const email = `ana.${Date.now()}@example.com`;

    // Registration at phone width.
    await page.goto('/register');
    await page.getByLabel('Full name').fill('Ana Portal');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel(/^Password/).fill(PASSWORD);
    await page.getByLabel('Country of residence').selectOption('CY');
    await shot(page, 'client-portal-01-register-phone');
    await page.getByRole('button', { name: 'Register' }).click();
    await page.getByRole('heading', { name: 'Welcome, Ana Portal' }).waitFor();
    await page.getByText('Confirm your email address').waitFor();
    await shot(page, 'client-portal-02-overview-unverified-phone');

    // The link in the verification email, followed as the client would (it points at the public URL).
    const [mail] = await t.database.db.select().from(outboxEmails).where(eq(outboxEmails.to, email));
    const link = /https?:\/\/\S+\/verify-email\?token=[A-Za-z0-9_%-]+/.exec(mail!.text)?.[0];
    expect(link, mail!.text).toBeDefined();
    expect(link!.startsWith(`${publicUrl}/verify-email?token=`)).toBe(true);
    await page.goto(link!);
    await page.getByText('Email address confirmed').waitFor();
    await shot(page, 'client-portal-03-email-verified-phone');
    const [client] = await t.database.db.select().from(clients).where(eq(clients.email, email));
    expect(client!.emailVerifiedAt).not.toBeNull();

    // Documents through the folded navigation, then a passport upload.
    await page.getByRole('link', { name: 'Go to my portal' }).click();
    await page.getByRole('button', { name: 'Toggle navigation' }).click();
    await nav(page).getByRole('link', { name: 'Documents' }).click();
    await page.getByRole('heading', { name: 'Documents', exact: true }).waitFor();
    await page.getByLabel('Document type').selectOption('passport');
    await page.getByLabel('File').setInputFiles({ name: 'passport.png', mimeType: 'image/png', buffer: PNG });
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.getByText('Passport uploaded: our compliance team will review it.').waitFor();
    await page.getByRole('table', { name: 'Your documents' }).getByText('passport.png').waitFor();
    await shot(page, 'client-portal-04-document-uploaded-phone');

    // Compliance reviews the document and approves the client (back-office API with a staff session).
    const [document] = await t.database.db.select().from(kycDocuments).where(eq(kycDocuments.clientId, client!.id));
    const compliance = await t.staffCookie(['compliance']);
    const review = await t.app.inject({
      method: 'POST',
      url: `/api/backoffice/kyc/documents/${document!.id}/review`,
      headers: { cookie: compliance },
      payload: { decision: 'approve' },
    });
    expect(review.statusCode, review.body).toBe(200);
    const decision = await t.app.inject({
      method: 'POST',
      url: `/api/backoffice/clients/${client!.id}/kyc/decision`,
      headers: { cookie: compliance },
      payload: { decision: 'approve' },
    });
    expect(decision.statusCode, decision.body).toBe(200);
    await page.reload();
    await page.getByText('Your identity is verified.').waitFor();
    await shot(page, 'client-portal-05-kyc-approved-phone');

    // A live account, at desktop width.
    await page.setViewportSize(DESKTOP);
    await nav(page).getByRole('link', { name: 'Trading accounts' }).click();
    await page
      .getByLabel('Account type')
      .selectOption({ label: `${liveProductName} (USD) · needs verified identity to trade` });
    await page.getByLabel('Leverage').selectOption('200');
    await page.getByRole('button', { name: 'Open account' }).click();
    await page.getByText('Your account is being opened').waitFor();
    expect(await page.getByTestId('main-password').textContent()).toMatch(/\S{8,}/);
    await shot(page, 'client-portal-06-account-requested');
    await t.engine.drain();
    const [account] = await t.database.db
      .select()
      .from(tradingAccounts)
      .where(eq(tradingAccounts.clientId, client!.id));
    expect(account).toMatchObject({ status: 'open', leverage: 200, tradingEnabled: true });
    const login = account!.login!;
    // The list reloads by itself while the account is being opened.
    await page.getByTestId(`account-${login}`).getByText('open', { exact: true }).waitFor();
    await shot(page, 'client-portal-07-account-open');
    const balanceBefore = Number((await t.simAccount(t.live, login)).account.Balance);

    // The deposit: the PSP's hosted page, the success test card, back to the deposit's timeline.
    await nav(page).getByRole('link', { name: 'Deposit', exact: true }).click();
    await page.getByLabel('To account').selectOption(account!.id);
    await page.getByLabel('Amount (USD)').fill('250.00');
    await shot(page, 'client-portal-08-deposit-form');
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await page.waitForURL((url) => url.pathname.startsWith('/pay/'));
    expect(new URL(page.url()).origin).toBe(new URL(t.psp.psp.url).origin);
    await page.getByLabel('Card number').fill(TEST_CARDS.success);
    await page.getByLabel('Expiry date (MM/YY)').fill('12/39');
    await page.getByLabel('Security code (CVC)').fill('123');
    await page.getByLabel('Name on card').fill('ANA PORTAL');
    await shot(page, 'client-portal-09-psp-hosted-page');
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.waitForURL((url) => url.origin === publicUrl && url.pathname.startsWith('/deposits/'));
    const movementId = new URL(page.url()).pathname.split('/').pop()!;
    expect(new URL(page.url()).searchParams.get('status')).toBe('succeeded');
    await page.getByRole('heading', { name: 'Your deposit' }).waitFor();
    await shot(page, 'client-portal-10-returned-from-psp');

    // The webhook arrives and the operation posts the money on the server (the engine drained by the testbed).
    const posted = await t.until(movementId, ['posted'], 30_000);
    expect(posted).toMatchObject({ kind: 'deposit', amountMinor: 25_000, currency: 'USD', clientId: client!.id });
    const summary = page.getByTestId('movement-summary');
    await summary.getByText('has been applied to the trading account').waitFor({ timeout: 20_000 });
    const timeline = page.getByRole('list', { name: 'What happened' });
    await timeline.getByText('You started a deposit of').waitFor();
    expect(await timeline.getByText('Payment provider').count()).toBeGreaterThan(0);
    await shot(page, 'client-portal-11-deposit-posted');
    await page.setViewportSize(PHONE);
    await page.reload();
    await summary.getByText('has been applied to the trading account').waitFor();
    await shot(page, 'client-portal-12-deposit-posted-phone');

    // The trading server itself: the login's balance moved by exactly the deposit.
    const balanceAfter = Number((await t.simAccount(t.live, login)).account.Balance);
    expect(Math.round((balanceAfter - balanceBefore) * 100)).toBe(25_000);

    // The portal shows the server's balance on the account and, once trade sync has read the server's history, the
    // deposit's balance record in the account's trading history; the movement list shows the deposit, posted.
    t.clock.set(new Date());
    const pass = await t.ctx.trades.syncServer(LIVE, { from: new Date(Date.now() - 3600_000) });
    expect(pass.status, JSON.stringify(pass)).not.toBe('failed');
    await page.goto(`/accounts/${account!.id}`);
    const balance = page.getByTestId('account-balance');
    await balance.getByText('Balance').waitFor();
    expect(await balance.textContent()).toContain(`Balance${balanceAfter.toFixed(2)} USD`);
    const history = page.getByRole('table', { name: 'Trading history' });
    await history.getByRole('row').filter({ hasText: 'Balance' }).getByText('250.00 USD').waitFor();
    await shot(page, 'client-portal-13-account-balance-phone');

    // A new trading password, shown once.
    await page.getByRole('button', { name: 'Reset trading password' }).click();
    await page.getByRole('button', { name: 'Yes, set a new password' }).click();
    expect(await page.getByTestId('new-trading-password').textContent()).toMatch(/\S{8,}/);
    await page.goto('/movements');
    const row = page.getByRole('table', { name: 'Money movements' }).getByRole('row').filter({ hasText: 'Deposit' });
    await row.getByText('posted').waitFor();
    await shot(page, 'client-portal-14-movements-phone');
  });

  it("shows the API's own message when a withdrawal is above the free margin", async () => {
    const funded = await t.fundedClient();
    const { movementId } = await t.deposit(funded.cookie, funded.accountId, 5_000);
    await t.until(movementId, ['posted'], 30_000);
    const { context, page } = await open();
    await context.addCookies([{ name: 'bd_client', value: funded.cookie.split('=')[1]!, url: publicUrl }]);
    const payload = { accountId: funded.accountId, amountMinor: 8_000, destination: { type: 'card', last4: '4242' } };
    // What the API answers for exactly this request (nothing is created when it refuses).
    const refused = await t.app.inject({
      method: 'POST',
      url: '/api/portal/withdrawals',
      headers: { cookie: funded.cookie },
      payload,
    });
    expect(refused.statusCode).toBe(422);
    const { code, message } = refused.json() as { code: string; message: string };
    expect(code).toBe('INSUFFICIENT_FREE_MARGIN');

    await page.goto(`/withdraw?account=${funded.accountId}`);
    await page.getByLabel('Amount (USD)').fill('80.00');
    await page.getByLabel('Last four digits of the card').fill('4242');
    await page.getByRole('button', { name: 'Request withdrawal' }).click();
    const alert = page.getByRole('alert').filter({ hasText: message });
    await alert.waitFor();
    expect(await alert.textContent()).toContain(message);
    await shot(page, 'client-portal-20-withdrawal-refused');
    const withdrawals = await t.database.db
      .select()
      .from(moneyMovements)
      .where(and(eq(moneyMovements.clientId, funded.clientId), eq(moneyMovements.kind, 'withdrawal')));
    expect(withdrawals).toEqual([]);

    // A transfer to a second account of the client's, followed until both servers have it.
    const second = await t.openAccount(funded.clientId);
    await page.goto('/transfer');
    await page.getByLabel('From account').selectOption(funded.accountId);
    await page.getByLabel('To account').selectOption(second.accountId);
    await page.getByLabel('Amount (USD)').fill('10.00');
    await page.getByRole('button', { name: 'Transfer' }).click();
    await page.waitForURL((url) => url.pathname.startsWith('/movements/'));
    const transferId = new URL(page.url()).pathname.split('/').pop()!;
    await t.until(transferId, ['posted'], 30_000);
    await page.getByTestId('movement-summary').getByText('has been applied').waitFor({ timeout: 20_000 });
    await shot(page, 'client-portal-21-transfer-posted');
    expect(Number((await t.simAccount(t.live, second.login)).account.Balance)).toBe(10);

    // Within the free margin a withdrawal is accepted and shown with its timeline.
    await page.goto(`/withdraw?account=${funded.accountId}`);
    await page.getByLabel('Last four digits of the card').fill('4242');
    await page.getByLabel('Amount (USD)').fill('20.00');
    await page.getByRole('button', { name: 'Request withdrawal' }).click();
    await page.waitForURL((url) => url.pathname.startsWith('/movements/'));
    await page.getByTestId('movement-summary').getByText('is waiting for review').waitFor();
    await shot(page, 'client-portal-22-withdrawal-requested');
  });

  it('shows a pending order as open, then, cancelled on the server, among the finished orders', async () => {
    const funded = await t.fundedClient();
    // A dealer places a buy limit far below the market for the client: it waits on the server.
    const { order } = (await control(t.live, 'POST', '/control/dealer/order', {
      login: funded.login,
      symbol: 'EURUSD',
      side: 'buy',
      lots: 0.5,
      price: 0.9,
      comment: 'e2e pending',
    })) as { order: { Order: string } };
    const ticket = order.Order;
    // The sync pass that lists open positions and orders (what the scheduler runs every minute).
    t.clock.set(new Date());
    const listed = await t.ctx.trades.syncPositions(LIVE);
    expect(listed?.openOrders, JSON.stringify(listed)).toBeGreaterThan(0);

    const { context, page } = await open({ phone: true });
    await context.addCookies([{ name: 'bd_client', value: funded.cookie.split('=')[1]!, url: publicUrl }]);
    await page.goto('/history');
    await page.getByRole('heading', { name: 'Trading history' }).waitFor();
    const openRow = page
      .getByRole('table', { name: 'Open orders' })
      .getByRole('row')
      .filter({ hasText: `#${ticket}` });
    await openRow.getByText('Buy limit 0.50 lots EURUSD at 0.9').waitFor({ timeout: 10_000 });
    expect(await openRow.textContent()).toContain('waiting');
    expect(await openRow.textContent()).toContain('e2e pending');
    await shot(page, 'client-portal-40-open-order-phone');

    // Cancelled on the server; the next pass finds it gone from the book and stores how it ended.
    await control(t.live, 'POST', '/control/dealer/order/cancel', { order: Number(ticket) });
    t.clock.advance(60_000); // the next listing (a snapshot replaces what an earlier listing stored)
    const after = await t.ctx.trades.syncPositions(LIVE);
    expect(after?.finishedOrders, JSON.stringify(after)).toBe(1);
    await page.reload();
    await page.getByText('No open orders.').waitFor({ timeout: 10_000 });
    // The record-type filter, found by its label: "Orders".
    await page.getByLabel('Show').selectOption('order');
    const history = page.getByRole('table', { name: 'Trading history' });
    const finished = history.getByRole('row').filter({ hasText: `#${ticket}` });
    await finished.getByText('Buy limit 0.50 lots EURUSD at 0.9 — cancelled').waitFor({ timeout: 10_000 });
    await shot(page, 'client-portal-41-cancelled-order-phone');

    // The same on one account's page, at desktop width.
    await page.setViewportSize(DESKTOP);
    await page.goto(`/accounts/${funded.accountId}`);
    await page.getByRole('region', { name: 'Open orders' }).getByText('No open orders.').waitFor();
    await page.getByLabel('Show').selectOption('order');
    await page
      .getByRole('table', { name: 'Trading history' })
      .getByRole('row')
      .filter({ hasText: `#${ticket}` })
      .getByText('cancelled', { exact: true })
      .waitFor();
    await shot(page, 'client-portal-42-account-orders');
  });

  it('turns two-factor on, then asks for a code at sign-in and refuses a wrong one', async () => {
    const email = `tf.${Date.now()}@example.com`;
    const registered = await t.app.inject({
      method: 'POST',
      url: '/api/portal/auth/register',
      payload: { email, password: PASSWORD, name: 'Theo Factor', country: 'GB' },
    });
    expect(registered.statusCode, registered.body).toBe(201);
    const { page } = await open({ phone: true });
    await page.goto('/');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel(/^Password/).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Welcome, Theo Factor' }).waitFor();

    await page.goto('/profile');
    await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
    const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    await page.getByLabel('Code from the app').fill(await wrongCode(secret));
    await page.getByRole('button', { name: 'Turn on two-factor' }).click();
    await page.getByRole('alert').getByText('that authenticator code is not valid').waitFor();
    await page.getByLabel('Code from the app').fill(await totp(secret));
    await shot(page, 'client-portal-30-two-factor-setup-phone');
    await page.getByRole('button', { name: 'Turn on two-factor' }).click();
    await page.getByTestId('two-factor-status').getByText('On:').waitFor();
    await shot(page, 'client-portal-31-two-factor-on-phone');

    // Sign out, then in: the code is asked for; a wrong one is refused with the API's words.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel(/^Password/).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const codeField = page.getByLabel('Authenticator code');
    await codeField.waitFor();
    await codeField.fill(await wrongCode(secret));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('that authenticator code is not valid').waitFor();
    await shot(page, 'client-portal-32-two-factor-wrong-code-phone');
    t.clock.advance(30_000); // the confirmation's code was used once; the next one is fresh
    await codeField.fill(await totp(secret));
    await codeField.press('Enter'); // the form works from the keyboard
    await page.getByRole('heading', { name: 'Welcome, Theo Factor' }).waitFor();
    await shot(page, 'client-portal-33-two-factor-signed-in-phone');
  });
});
