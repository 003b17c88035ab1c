import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { type AppContext, createContext } from '../app/context.ts';
import { loadConfig } from '../config.ts';
import { buildApp } from './app.ts';

describe('HTTP app: health and metrics', () => {
  let database: TestDatabase;
  let ctx: AppContext;
  let app: Awaited<ReturnType<typeof buildApp>>;
  beforeAll(async () => {
    database = await createTestDatabase();
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const config = loadConfig({
      env: database.url
        ? { DATABASE_URL: database.url, BROKERDESK_SECRET_KEY: Buffer.alloc(32, 7).toString('base64') }
        : { BROKERDESK_DATA_DIR: mkdtempSync(join(tmpdir(), 'bd-app-')) },
    });
    ctx = await createContext(config, { logger: (await import('../log.ts')).createLogger('silent') });
    app = await buildApp(ctx);
  });
  afterAll(async () => {
    await app?.close();
    await ctx?.close();
    await database?.drop();
  });

  it('answers health and exposes operation metrics', async () => {
    const health = await app.inject({ url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toMatchObject({ status: 'ok' });
    await ctx.database.query(
      `INSERT INTO operations (reference, kind, server_code, login, account_key, payload, status, next_attempt_at, created_at, updated_at)
       VALUES ('BD-DEP-000000000000X', 'balance', 's', 1, 's:1', '{}', 'needs_review', now(), now(), now())`,
    );
    const metrics = await app.inject({ url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('brokerdesk_operations{kind="balance",status="needs_review"} 1');
    expect(metrics.body).toContain('brokerdesk_operations_ready');
  });

  it('answers unknown routes with a JSON 404 and no internals', async () => {
    const res = await app.inject({ url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ code: 'NOT_FOUND', message: 'no route GET /nope' });
  });

  it('serves the web application for browser routes and keeps JSON 404s for the API', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const root = mkdtempSync(join(tmpdir(), 'bd-web-'));
    mkdirSync(join(root, 'assets'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><div id="root"></div>');
    writeFileSync(join(root, 'assets', 'app-abc123.js'), 'console.log(1)');
    const web = await buildApp(ctx, { webRoot: root });
    try {
      const html = { accept: 'text/html,application/xhtml+xml' };
      for (const url of ['/', '/register?ref=ABC', '/verify-email?token=x', '/backoffice/clients/123', '/partner']) {
        const page = await web.inject({ url, headers: html });
        expect(page.statusCode, url).toBe(200);
        expect(page.body).toContain('<div id="root">');
        expect(page.headers['cache-control']).toBe('no-cache');
      }
      const asset = await web.inject({ url: '/assets/app-abc123.js' });
      expect(asset.statusCode).toBe(200);
      expect(asset.headers['cache-control']).toContain('immutable');
      expect((await web.inject({ url: '/assets/missing-1.js', headers: html })).statusCode).toBe(404);
      const api = await web.inject({ url: '/api/backoffice/nope', headers: html });
      expect(api.statusCode).toBe(404);
      expect(api.json()).toMatchObject({ code: 'NOT_FOUND' });
      expect((await web.inject({ method: 'POST', url: '/backoffice', headers: html })).statusCode).toBe(404);
    } finally {
      await web.close();
    }
    // Without a build, a browser gets a page that says how to build it.
    const bare = await buildApp(ctx, { webRoot: join(root, 'absent') });
    try {
      const page = await bare.inject({ url: '/backoffice', headers: { accept: 'text/html' } });
      expect(page.statusCode).toBe(503);
      expect(page.body).toContain('npm run build:web');
    } finally {
      await bare.close();
    }
  });
});
