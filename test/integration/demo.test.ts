/**
 * The one-command demo from a fresh data folder, as `npm start` runs it: `node bin/brokerdesk.mjs demo` in its own
 * process group with free ports and a temporary data folder (embedded PGlite, no database server). It must print
 * the URLs and logins; the API must answer; a seeded staff member signs in over HTTP with the printed TOTP secret and
 * sees the seeded clients, deposits in every state, the stuck operation and the reconciliation breaks; the mailbox
 * holds a verification email whose link works; Ctrl-C stops everything (the simulators' child too); a second start
 * keeps the data (a change made after the seed included) and seeds nothing twice.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'otplib';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const START_TIMEOUT_MS = 150_000;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Ports are drawn from 20000–31999, below Linux's ephemeral range (32768–60999): there, a port found free can be
 * taken by another test's outgoing connection or `listen(0)` before the demo binds it (seen in CI: "port … is in use").
 */
const randomPort = (span: number) => 20_000 + Math.floor(Math.random() * (12_000 - span));

/** A base port P with P…P+6 and P+100…P+104 free (the simulators, the mailbox, the control APIs). */
async function freeBlock(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const base = randomPort(105);
    const ports = [0, 1, 2, 3, 4, 5, 6, 100, 101, 102, 103, 104].map((d) => base + d);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base;
  }
  throw new Error('no free block of ports');
}

async function freePort(): Promise<number> {
  for (;;) {
    const port = randomPort(1);
    if (await portFree(port)) return port;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of many routes, read field by field by the assertions
type Json = any;

interface Running {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

describe('brokerdesk demo (npm start) from a fresh data folder', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'bd-demo-'));
  let apiPort = 0;
  let basePort = 0;
  let demo: Running | null = null;
  let api = '';
  let mailbox = '';
  let adminCookie = '';
  const before: Record<string, number> = {};

  // The demo decides its own settings: nothing from the developer's environment may point it elsewhere.
  const {
    DATABASE_URL: _d,
    TEST_DATABASE_URL: _t,
    BROKERDESK_CONFIG: _c,
    BROKERDESK_DATA_DIR: _b,
    LOG_LEVEL: _l,
    ...env
  } = process.env;

  async function start(): Promise<Running> {
    const child = spawn(
      process.execPath,
      ['bin/brokerdesk.mjs', 'demo', '--data-dir', dataDir, '--port', String(apiPort), '--base-port', String(basePort)],
      { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const running: Running = {
      child,
      stdout: '',
      stderr: '',
      exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      running.stdout += chunk.toString();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      running.stderr += chunk.toString();
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!running.stdout.includes('Stop with Ctrl-C.')) {
      if (child.exitCode !== null) {
        throw new Error(`the demo exited with ${child.exitCode}:\n${running.stderr}\n${running.stdout}`);
      }
      if (Date.now() > deadline) throw new Error(`the demo did not start in time:\n${running.stderr}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    return running;
  }

  async function stop(running: Running): Promise<number | null> {
    process.kill(running.child.pid!, 'SIGINT');
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000));
    const code = await Promise.race([running.exited, timeout]);
    if (code === 'timeout') throw new Error('the demo did not stop within 30 s of Ctrl-C');
    return code;
  }

  /** A printed line's value, e.g. the URL after "Back office". */
  const printed = (pattern: RegExp): string => {
    const match = pattern.exec(demo!.stdout);
    if (!match?.[1]) throw new Error(`not printed: ${pattern}\n${demo!.stdout}`);
    return match[1];
  };

  async function call(
    method: string,
    url: string,
    cookie = '',
    body?: unknown,
  ): Promise<{ status: number; json: Json; cookies: string[] }> {
    const response = await fetch(url.startsWith('http') ? url : `${api}${url}`, {
      method,
      headers: { ...(cookie ? { cookie } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : null, cookies: response.headers.getSetCookie() };
  }

  async function staffSignIn(): Promise<string> {
    const email = 'admin@brokerdesk.demo';
    const password = printed(/Back office \(.*\) — password for everyone: (\S+)/);
    const secret = printed(/admin@brokerdesk\.demo\s+admin\s+TOTP secret ([A-Z2-7]+)/);
    const withoutCode = await call('POST', '/api/backoffice/auth/login', '', { email, password });
    expect(withoutCode.json.code).toBe('TOTP_REQUIRED');
    const signedIn = await call('POST', '/api/backoffice/auth/login', '', {
      email,
      password,
      totp: await generate({ secret }),
    });
    expect(signedIn.status, JSON.stringify(signedIn.json)).toBe(200);
    const cookie = signedIn.cookies.map((c) => c.split(';')[0] ?? '').find((c) => c.startsWith('bd_staff='));
    expect(cookie).toBeTruthy();
    const me = await call('GET', '/api/backoffice/auth/me', cookie);
    expect(me.json).toMatchObject({ staff: { email }, twoFactorPassed: true });
    return cookie!;
  }

  afterAll(async () => {
    if (demo && demo.child.exitCode === null) {
      try {
        process.kill(-demo.child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'starts with nothing but Node: prints the URLs, logins and TOTP secrets, and the API answers',
    async () => {
      apiPort = await freePort();
      basePort = await freeBlock();
      demo = await start();
      expect(demo.stderr).toContain('seeding');
      api = `http://127.0.0.1:${apiPort}`;
      expect(printed(/Client portal\s+(\S+)/)).toBe(`${api}/`);
      expect(printed(/Partner portal\s+(\S+)/)).toBe(`${api}/partner`);
      expect(printed(/Back office\s+(http\S+)/)).toBe(`${api}/backoffice`);
      expect(printed(/API docs\s+(\S+)/)).toBe(`${api}/docs`);
      mailbox = printed(/Mailbox\s+(\S+)/).replace(/\/$/, '');
      expect(mailbox).toBe(`http://127.0.0.1:${basePort + 5}`);
      expect(printed(/PSP sandbox\s+(\S+)/)).toBe(`http://127.0.0.1:${basePort + 4}`);
      for (const role of ['compliance', 'finance', 'support', 'dealing', 'partner_manager']) {
        expect(demo.stdout).toMatch(new RegExp(`@brokerdesk\\.demo\\s+${role}\\s`));
      }
      expect(demo.stdout).toMatch(/finance2@brokerdesk\.demo\s+finance\s+TOTP secret [A-Z2-7]+/);
      expect(demo.stdout).toContain('4242 4242 4242 4242');

      const health = await call('GET', '/health');
      expect(health.status).toBe(200);
      expect(health.json).toMatchObject({ status: 'ok', database: 'pglite' });
      // The web application is served (built if it was missing).
      const page = await fetch(`${api}/backoffice`, { headers: { accept: 'text/html' } });
      expect(page.headers.get('content-type')).toContain('text/html');
    },
    START_TIMEOUT_MS + 10_000,
  );

  it('a seeded admin signs in with the printed TOTP secret and sees the seeded clients, money and operations', async () => {
    adminCookie = await staffSignIn();
    const servers = await call('GET', '/api/backoffice/servers', adminCookie);
    expect(servers.json.items.map((s: { code: string }) => s.code).sort()).toEqual([
      'mt4-demo',
      'mt4-live',
      'mt5-demo',
      'mt5-live',
    ]);
    expect(servers.json.items.every((s: { enabled: boolean }) => s.enabled)).toBe(true);

    const clients = await call('GET', '/api/backoffice/clients?limit=100', adminCookie);
    const byEmail = new Map<string, { kycStatus: string; emailVerifiedAt: string | null; partnerId: string | null }>(
      clients.json.items.map((c: { email: string }) => [c.email, c]),
    );
    expect(byEmail.get('new.client@example.com')).toMatchObject({ emailVerifiedAt: null, kycStatus: 'not_started' });
    expect(byEmail.get('verified.client@example.com')?.emailVerifiedAt).toBeTruthy();
    expect(byEmail.get('verified.client@example.com')?.kycStatus).toBe('not_started');
    expect(byEmail.get('pending.client@example.com')?.kycStatus).toBe('pending');
    expect(byEmail.get('approved.client@example.com')?.kycStatus).toBe('approved');
    expect(byEmail.get('rejected.client@example.com')?.kycStatus).toBe('rejected');
    expect(byEmail.get('referred.one@example.com')?.partnerId).toBeTruthy();

    const movements = await call('GET', '/api/backoffice/movements?limit=100', adminCookie);
    const states = new Set(movements.json.items.map((m: { kind: string; status: string }) => `${m.kind}:${m.status}`));
    for (const state of [
      'deposit:posted',
      'deposit:payment_failed',
      'deposit:awaiting_payment',
      'deposit:approved',
      'withdrawal:requested',
      'withdrawal:awaiting_second_approval',
      'credit:posted',
    ]) {
      expect(states, `no ${state} among ${[...states].join(', ')}`).toContain(state);
    }
    const stuck = await call('GET', '/api/backoffice/operations?status=needs_review', adminCookie);
    expect(stuck.json.items.length).toBeGreaterThanOrEqual(1);
    expect(stuck.json.items[0]).toMatchObject({ serverCode: 'mt4-live' });

    const partners = await call('GET', '/api/backoffice/partners?limit=50', adminCookie);
    expect(partners.json.items.map((p: { email: string }) => p.email).sort()).toEqual([
      'desk.ib@example.com',
      'master.ib@example.com',
      'sub.ib@example.com',
    ]);
    Object.assign(before, {
      staff: (await call('GET', '/api/backoffice/staff', adminCookie)).json.items.length,
      clients: clients.json.total ?? clients.json.items.length,
      movements: movements.json.total,
      partners: partners.json.items.length,
    });
    expect(before.staff).toBe(7);
    expect(before.clients).toBe(7);
  });

  it('the mailbox holds the verification emails; the link in one verifies its address', async () => {
    const list = await call('GET', `${mailbox}/api/messages?to=new.client@example.com`);
    expect(list.json.items).toHaveLength(1);
    const [message] = list.json.items;
    expect(message.subject).toMatch(/confirm your email/i);
    const html = await (await fetch(`${mailbox}/messages/${message.id}`)).text();
    const link = /<a href="([^"]+\/verify-email\?token=[^"]+)">/.exec(html)?.[1];
    expect(link, html).toBeTruthy();
    expect(link!.startsWith(`${api}/`)).toBe(true);
    before.verificationEmails = (await call('GET', `${mailbox}/api/messages?limit=500`)).json.items.filter(
      (m: { subject: string }) => /confirm your email/i.test(m.subject),
    ).length;
    expect(before.verificationEmails).toBe(7);
    // The link opens the portal's page, which posts the token: do what it does.
    const token = new URL(link!.replace(/&amp;/g, '&')).searchParams.get('token');
    const verified = await call('POST', '/api/portal/auth/verify-email', '', { token });
    expect(verified.json).toEqual({ emailVerified: true });

    // A partner signs in with the printed password and sees commission from the seeded trades.
    const partnerPassword = printed(/Partner portal \(.*\) — password for everyone: (\S+)/);
    const signedIn = await call('POST', '/api/partner/auth/login', '', {
      email: 'desk.ib@example.com',
      password: partnerPassword,
    });
    expect(signedIn.status, JSON.stringify(signedIn.json)).toBe(200);
    const cookie = signedIn.cookies.map((c) => c.split(';')[0] ?? '').find((c) => c.startsWith('bd_partner='))!;
    const balance = await call('GET', '/api/partner/commissions/balance', cookie);
    expect(balance.json.balances[0].balanceMinor).toBeGreaterThan(0);
  });

  it(
    'stops on Ctrl-C with its simulators, and a second start keeps the data and seeds nothing twice',
    async () => {
      expect(await stop(demo!)).toBe(0);
      expect(demo!.stdout).toContain('brokerdesk demo: stopped');
      // The simulators' child process is gone: their ports are free again.
      for (const port of [basePort, basePort + 2, basePort + 4, basePort + 104, apiPort]) {
        expect(await portFree(port), `port ${port} still in use`).toBe(true);
      }

      demo = await start();
      expect(demo.stderr).not.toContain('seeding');
      expect(demo.stdout).toContain('this start reused it');
      adminCookie = await staffSignIn();
      const clients = await call('GET', '/api/backoffice/clients?limit=100', adminCookie);
      expect(clients.json.total ?? clients.json.items.length).toBe(before.clients);
      // The address verified after the seed stayed verified.
      const nora = clients.json.items.find((c: { email: string }) => c.email === 'new.client@example.com');
      expect(nora.emailVerifiedAt).toBeTruthy();
      expect((await call('GET', '/api/backoffice/staff', adminCookie)).json.items).toHaveLength(before.staff!);
      expect((await call('GET', '/api/backoffice/movements?limit=100', adminCookie)).json.total).toBe(before.movements);
      expect((await call('GET', '/api/backoffice/partners?limit=50', adminCookie)).json.items).toHaveLength(
        before.partners!,
      );
      const emails = (await call('GET', `${mailbox}/api/messages?limit=500`)).json.items.filter(
        (m: { subject: string }) => /confirm your email/i.test(m.subject),
      );
      expect(emails).toHaveLength(before.verificationEmails!);
    },
    START_TIMEOUT_MS + 40_000,
  );

  it("the seeded day's reconciliation shows its breaks: the stuck deposit and the dealer's change", async () => {
    // The run follows the seeded day's cut-off (the next whole minute after the seed's first part).
    const credentials = JSON.parse(readFileSync(join(dataDir, 'demo', 'credentials.json'), 'utf8'));
    const cutoff = new Date(credentials.reconciliation.cutoffUtc).getTime();
    const deadline = Math.max(Date.now(), cutoff) + 60_000;
    let classes: string[] = [];
    while (Date.now() < deadline) {
      const breaks = await call('GET', '/api/backoffice/recon/breaks?status=open', adminCookie);
      classes = breaks.json.items.map((b: { class: string }) => b.class);
      if (classes.includes('missing_on_server') && classes.includes('server_not_in_crm')) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(classes).toEqual(expect.arrayContaining(['missing_on_server', 'server_not_in_crm']));
    const runs = await call('GET', `/api/backoffice/recon/runs?date=${credentials.reconciliation.date}`, adminCookie);
    const seeded = runs.json.items.filter(
      (r: { trigger: string; cutoffAt: string }) => r.trigger === 'manual' && new Date(r.cutoffAt).getTime() === cutoff,
    );
    expect(seeded).toHaveLength(1);
    expect(seeded[0].status).toBe('completed');
  }, 150_000);
});
