/**
 * Browser tests drive Debian's Chromium (/usr/bin/chromium, or CHROMIUM_PATH) through playwright-core: nothing
 * downloads a browser. Screenshots land in artifacts/screenshots/ (kept by CI).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const screenshotDir = join(process.cwd(), 'artifacts', 'screenshots');

export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean);
  const found = candidates.find((p) => existsSync(p!));
  if (!found) throw new Error('Chromium not found: install Debian\'s "chromium" package or set CHROMIUM_PATH');
  return found!;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** A fresh context (own cookies) at a desktop or phone width. */
export async function newPage(
  browser: Browser,
  options: { phone?: boolean; baseURL?: string } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    baseURL: options.baseURL,
    viewport: options.phone ? { width: 390, height: 844 } : { width: 1366, height: 900 },
    ...(options.phone ? { isMobile: true, hasTouch: true } : {}),
  });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  // A browser-side error fails loudly in the test log instead of passing silently.
  page.on('pageerror', (err) => console.error(`[browser] ${err.message}`));
  return { context, page };
}

/** Saves a full-page screenshot named `<test>-<step>.png`. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name.replace(/[^a-z0-9-]+/gi, '-')}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
