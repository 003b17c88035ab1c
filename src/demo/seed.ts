/**
 * The demo's data, seeded once into an empty database, through the product's own HTTP API and services and the real
 * PSP flow (deposits paid on the sandbox's hosted page, its signed webhooks received by the running API, operations
 * run by the running worker against the simulators):
 *
 * - staff of every role (two in finance, so maker-checker can be shown); admin, finance and dealing enrolled in
 *   two-factor with TOTP secrets written to the credentials file (and printed);
 * - introducing brokers in a three-level tree (master → sub → desk IB), commission plans, clients they referred;
 * - clients at each KYC stage: email not verified, verified without documents, documents waiting for review,
 *   approved (live MT5 and MT4 and a demo account), rejected;
 * - deposits in every state (posted, declined, waiting at the PSP, pending then paid, one stuck in needs_review because
 *   the MT4 live server was switched off for a cut-over), a withdrawal waiting for approval and one waiting for its
 *   second approval, a bonus credit (requested by one finance person, approved by the other), a dealer's balance change
 *   made on the server (an external change), trades on the simulators synced and commissioned;
 * - one reconciliation run with breaks, for a business day that ends (cut-off) at the minute after the stuck deposit
 *   and the dealer's change; it runs in the background once that has passed (scheduleReconciliation).
 *
 * A database that already holds the demo's admin is left alone (the seed ran before).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { generate as totpCode } from 'otplib';
import type { AppContext } from '../app/context.ts';
import { auditEvents, reconRuns, staffUsers } from '../db/schema.ts';
import { recordAudit } from '../modules/audit/service.ts';
import { deliverOutboxEmails } from '../modules/mail/outbox.ts';
import { ProductService } from '../modules/products/service.ts';
import { reconciliationFor } from '../modules/reconciliation/from-context.ts';
import { StaffService } from '../modules/staff/service.ts';
import { samplePassportPng, sampleUtilityBillPdf } from './documents.ts';
import type { Fleet } from './fleet.ts';
import type { Mailbox } from './mailbox.ts';

export const STAFF_PASSWORD = 'Demo-staff-2026!';
export const CLIENT_PASSWORD = 'Demo-client-2026';
export const PARTNER_PASSWORD = 'Demo-partner-2026';

export interface DemoCredentials {
  seededAt: string;
  staff: { email: string; name: string; roles: string[]; password: string; totpSecret: string | null }[];
  clients: { email: string; name: string; password: string; stage: string }[];
  partners: { email: string; name: string; password: string; level: string; referralCode: string; link: string }[];
  /** The seeded business day: it ends at `cutoffUtc`, and its run (`runId`) follows once that has passed. */
  reconciliation: { date: string; cutoffUtc: string; runId: string | null; breaks: number | null } | null;
}

const STAFF = [
  { key: 'admin', email: 'admin@brokerdesk.demo', name: 'Ada Admin', roles: ['admin'] },
  { key: 'compliance', email: 'compliance@brokerdesk.demo', name: 'Colin Compliance', roles: ['compliance'] },
  { key: 'finance', email: 'finance@brokerdesk.demo', name: 'Fiona Finance', roles: ['finance'] },
  { key: 'finance2', email: 'finance2@brokerdesk.demo', name: 'Felix Finance', roles: ['finance'] },
  { key: 'support', email: 'support@brokerdesk.demo', name: 'Sam Support', roles: ['support'] },
  { key: 'dealing', email: 'dealing@brokerdesk.demo', name: 'Dana Dealing', roles: ['dealing'] },
  { key: 'partners', email: 'partners@brokerdesk.demo', name: 'Pat Partners', roles: ['partner_manager'] },
] as const;
type StaffKey = (typeof STAFF)[number]['key'];
const TWO_FACTOR_ROLES = new Set(['admin', 'finance', 'dealing']);

export const DEMO_ADMIN_EMAIL = STAFF[0].email;

const PARTNERS = [
  {
    key: 'master',
    email: 'master.ib@example.com',
    name: 'Mara Master (master IB)',
    code: 'MASTERIB',
    level: 'master IB',
  },
  { key: 'sub', email: 'sub.ib@example.com', name: 'Sid Sub (sub-IB)', code: 'SUBIB', level: 'sub-IB of the master' },
  { key: 'desk', email: 'desk.ib@example.com', name: 'Dora Desk (IB)', code: 'DESKIB', level: 'IB under the sub-IB' },
] as const;
type PartnerKey = (typeof PARTNERS)[number]['key'];

const CLIENTS = [
  { key: 'unverified', email: 'new.client@example.com', name: 'Nora New', country: 'GB', stage: 'email not verified' },
  {
    key: 'verified',
    email: 'verified.client@example.com',
    name: 'Victor Verified',
    country: 'DE',
    stage: 'email verified, no documents (a demo account)',
  },
  {
    key: 'pending',
    email: 'pending.client@example.com',
    name: 'Paula Pending',
    country: 'FR',
    stage: 'documents waiting for review',
  },
  {
    key: 'approved',
    email: 'approved.client@example.com',
    name: 'Alice Approved',
    country: 'CY',
    stage: 'KYC approved: MT5 and MT4 live + MT5 demo, deposits, withdrawals, a credit',
  },
  {
    key: 'rejected',
    email: 'rejected.client@example.com',
    name: 'Rick Rejected',
    country: 'IT',
    stage: 'KYC rejected',
  },
  {
    key: 'referred1',
    email: 'referred.one@example.com',
    name: 'Rita Referred',
    country: 'ES',
    stage: 'referred by DESKIB, approved, trading on MT5',
    ref: 'DESKIB',
  },
  {
    key: 'referred2',
    email: 'referred.two@example.com',
    name: 'Ron Referred',
    country: 'GR',
    stage: 'referred by SUBIB, approved, trading on MT4',
    ref: 'SUBIB',
  },
] as const;
type ClientKey = (typeof CLIENTS)[number]['key'];

export const PSP_CARDS = {
  success: '4242 4242 4242 4242',
  declined: '4000 0000 0000 0002',
  pendingThenSuccess: '4000 0000 0000 3220',
} as const;

export function readCredentials(path: string): DemoCredentials {
  return JSON.parse(readFileSync(path, 'utf8')) as DemoCredentials;
}

function writeCredentials(path: string, credentials: DemoCredentials): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a value (not undefined), bounded. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`demo seed: gave up waiting for ${what} after ${timeoutMs / 1000} s`);
    await sleep(delay);
    delay = Math.min(1000, delay * 1.5);
  }
}

/** One signed-in person talking to the API over HTTP, with their own cookie jar. */
class Api {
  private readonly cookies = new Map<string, string>();

  constructor(
    private readonly base: string,
    readonly who: string,
  ) {}

  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many routes, read field by field by the seed
  async call<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let payload: BodyInit | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers,
      body: payload,
      signal: AbortSignal.timeout(60_000),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attributes.some(
        (a) => /^\s*expires=/i.test(a) && new Date(a.split('=')[1]!).getTime() < Date.now(),
      );
      if (!value || expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await response.text();
    const json = text ? (JSON.parse(text) as T & { code?: string; message?: string }) : (null as T);
    if (!response.ok) {
      const error = json as { code?: string; message?: string } | null;
      throw new Error(
        `demo seed: ${this.who}: ${method} ${path} answered ${response.status} ${error?.code ?? ''}: ${error?.message ?? text.slice(0, 200)}`,
      );
    }
    return json;
  }

  get = <T = unknown>(path: string) => this.call<T>('GET', path);
  post = <T = unknown>(path: string, body?: unknown) => this.call<T>('POST', path, body ?? {});
}

export interface SeedDeps {
  ctx: AppContext;
  apiUrl: string;
  mailbox: Mailbox;
  fleet: Fleet;
  credentialsPath: string;
  progress: (message: string) => void;
  /** Switches a server on or off in the registry (the seed's cut-over), keeping its other settings. */
  setServerEnabled(code: string, enabled: boolean): Promise<unknown>;
}

export async function isSeeded(ctx: AppContext): Promise<{ admin: boolean; complete: boolean }> {
  const db = ctx.database.db;
  const [admin] = await db.select({ id: staffUsers.id }).from(staffUsers).where(eq(staffUsers.email, DEMO_ADMIN_EMAIL));
  const [done] = await db
    .select({ id: auditEvents.id })
    .from(auditEvents)
    .where(eq(auditEvents.action, 'demo.seeded'))
    .limit(1);
  return { admin: Boolean(admin), complete: Boolean(done) };
}

export async function seedDemo(deps: SeedDeps): Promise<{ seeded: boolean }> {
  const state = await isSeeded(deps.ctx);
  if (state.admin) {
    if (!state.complete) {
      deps.progress(
        'WARNING: an earlier start stopped while seeding the demo data, so some of it is missing; to seed again from scratch, stop the demo and delete the data folder',
      );
    }
    return { seeded: false };
  }
  const started = performance.now();
  await new Seeder(deps).run();
  deps.progress(`demo data seeded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { seeded: true };
}

interface OpenAccount {
  id: string;
  login: number;
  serverCode: string;
}

type SeededAccounts = Record<
  'approvedMt5' | 'approvedMt4' | 'approvedDemo' | 'verifiedDemo' | 'referred1Mt5' | 'referred2Mt4',
  OpenAccount
>;

class Seeder {
  private readonly ctx: AppContext;
  private readonly staff = new Map<StaffKey, { id: string; api: Api; totpSecret: string | null }>();
  private readonly partners = new Map<PartnerKey, { id: string; code: string; link: string }>();
  private readonly clients = new Map<ClientKey, { id: string; api: Api }>();
  private readonly credentials: DemoCredentials;
  private productIds = new Map<string, string>();

  constructor(private readonly deps: SeedDeps) {
    this.ctx = deps.ctx;
    this.credentials = {
      seededAt: new Date().toISOString(),
      staff: [],
      clients: [],
      partners: [],
      reconciliation: null,
    };
  }

  private api(who: string): Api {
    return new Api(this.deps.apiUrl, who);
  }

  private readonly started = performance.now();

  private step(message: string): void {
    this.deps.progress(`seeding [${((performance.now() - this.started) / 1000).toFixed(1)} s]: ${message}`);
  }

  async run(): Promise<void> {
    const products = new ProductService({
      database: this.ctx.database,
      registry: this.ctx.registry,
      clock: this.ctx.clock,
      audit: this.ctx.audit,
    });
    this.productIds = new Map((await products.list()).map((p) => [p.code, p.id]));

    // First what the seeded business day's reconciliation should find, so that its cut-off comes early: a deposit
    // the CRM approved that never reached MT4 (the server was switched off for a cut-over), and a balance change a
    // dealer made on MT5 without the CRM. The rest of the seed happens after the cut-off.
    this.step('the first admin (two-factor enrolled); a first client, KYC approved, with MT5 and MT4 live accounts');
    await this.seedStaff(['admin']);
    await this.registerClients(['approved']);
    await this.kycDocuments(['approved'], 'admin');
    const [approvedMt5, approvedMt4] = await Promise.all([
      this.openAccount('approved', 'mt5-standard'),
      this.openAccount('approved', 'mt4-standard'),
    ]);
    // Funded before the stuck one: operations on an account run in order, so one waiting for review holds the rest.
    this.step('deposits paid on the PSP sandbox’s hosted page, then two withdrawal requests');
    await this.posted([
      ['approved', approvedMt5.id, 5_000_00],
      ['approved', approvedMt4.id, 2_500_00],
    ]);
    const withdrawals = await this.requestWithdrawals(approvedMt5, approvedMt4);
    this.step('a deposit stuck in needs_review (MT4 live switched off for a cut-over) and a dealer’s change on MT5');
    await this.stuckDeposit(approvedMt4);
    await this.deps.fleet.control(this.deps.fleet.server('mt5-live'), 'POST', '/control/dealer/balance', {
      login: approvedMt5.login,
      amount: 75,
      type: 'correction',
      comment: 'desk: goodwill correction',
    });
    // The business day ends at the next whole minute (UTC): everything above falls inside it; its run follows once
    // the cut-off has passed (see scheduleReconciliation).
    const cutoffAt = new Date(Math.ceil((Date.now() + 2000) / 60_000) * 60_000);
    this.credentials.reconciliation = {
      date: cutoffAt.toISOString().slice(0, 10),
      cutoffUtc: cutoffAt.toISOString(),
      runId: null,
      breaks: null,
    };

    this.step('staff of every other role (two-factor for finance and dealing)');
    await this.seedStaff(STAFF.slice(1).map((m) => m.key));
    writeCredentials(this.deps.credentialsPath, this.credentials);

    this.step('introducing brokers (master → sub → desk), commission plans');
    await this.seedPartners();

    this.step('more clients: registration (two through referral links), email verification through the mailbox');
    await this.registerClients(CLIENTS.filter((c) => c.key !== 'approved').map((c) => c.key));
    this.credentials.clients = CLIENTS.map((c) => ({
      email: c.email,
      name: c.name,
      password: CLIENT_PASSWORD,
      stage: c.stage,
    }));
    writeCredentials(this.deps.credentialsPath, this.credentials);

    this.step('their trading accounts (MT5 and MT4, live and demo), funded');
    const [approvedDemo, verifiedDemo, referred1Mt5, referred2Mt4] = await Promise.all([
      this.openAccount('approved', 'mt5-demo'),
      this.openAccount('verified', 'mt4-demo'),
      this.openAccount('referred1', 'mt5-standard'),
      this.openAccount('referred2', 'mt4-standard'),
    ]);
    const accounts = { approvedMt5, approvedMt4, approvedDemo, verifiedDemo, referred1Mt5, referred2Mt4 };
    await this.posted([
      ['referred1', referred1Mt5.id, 3_000_00],
      ['referred2', referred2Mt4.id, 2_000_00],
    ]);

    this.step('KYC documents uploaded, reviewed, approved and rejected');
    await this.kycDocuments(['pending', 'rejected', 'referred1', 'referred2'], 'compliance');

    this.step('more deposits: declined, waiting at the PSP, pending then paid');
    await this.moreDeposits(accounts);

    this.step('withdrawal approvals and a bonus credit (maker-checker)');
    await this.approvalsAndCredit(withdrawals, accounts);

    this.step('trades on the simulators, synced and commissioned to the IB tree');
    await this.tradesAndCommissions(accounts);

    await this.ctx.database.db.transaction((tx) =>
      recordAudit(
        tx,
        {
          actorType: 'system',
          actorId: 'demo',
          action: 'demo.seeded',
          entityType: 'demo',
          entityId: 'demo',
          after: {
            staff: this.credentials.staff.length,
            clients: this.credentials.clients.length,
            partners: this.credentials.partners.length,
            reconciliation: this.credentials.reconciliation,
          },
        },
        this.ctx.clock,
      ),
    );
    writeCredentials(this.deps.credentialsPath, this.credentials);
  }

  // --- staff ------------------------------------------------------------------------------------------------------------

  /** Signs in for the first time and, for roles that need it, enrols an authenticator as a person would. */
  private async firstSignIn(member: (typeof STAFF)[number]): Promise<{ api: Api; totpSecret: string | null }> {
    const api = this.api(member.email);
    await api.post('/api/backoffice/auth/login', { email: member.email, password: STAFF_PASSWORD });
    if (!member.roles.some((r) => TWO_FACTOR_ROLES.has(r))) return { api, totpSecret: null };
    const { secret } = await api.post<{ secret: string }>('/api/backoffice/auth/totp/setup');
    await api.post('/api/backoffice/auth/totp/confirm', { code: await totpCode({ secret }) });
    return { api, totpSecret: secret };
  }

  private async seedStaff(keys: StaffKey[]): Promise<void> {
    // The first admin as `brokerdesk staff add` makes one; everyone else is added by that admin in the back office.
    for (const member of STAFF.filter((m) => keys.includes(m.key))) {
      let id: string;
      if (member.key === 'admin') {
        const staffService = new StaffService(this.ctx.database, this.ctx.sealer, this.ctx.clock);
        id = (
          await staffService.create(
            { email: member.email, name: member.name, password: STAFF_PASSWORD, roles: [...member.roles] },
            'system',
          )
        ).id;
      } else {
        id = (
          await this.as('admin').post<{ id: string }>('/api/backoffice/staff', {
            email: member.email,
            name: member.name,
            password: STAFF_PASSWORD,
            roles: [...member.roles],
          })
        ).id;
      }
      this.staff.set(member.key, { id, ...(await this.firstSignIn(member)) });
    }
    this.credentials.staff = STAFF.filter((m) => this.staff.has(m.key)).map((member) => ({
      email: member.email,
      name: member.name,
      roles: [...member.roles],
      password: STAFF_PASSWORD,
      totpSecret: this.staff.get(member.key)!.totpSecret,
    }));
  }

  private as(key: StaffKey): Api {
    return this.staff.get(key)!.api;
  }

  // --- partners ----------------------------------------------------------------------------------------------------------

  private async seedPartners(): Promise<void> {
    const pm = this.as('partners');
    let parentId: string | null = null;
    for (const p of PARTNERS) {
      const created: { partner: { id: string; referralCode: string }; initialPassword: string; referralLink: string } =
        await pm.post('/api/backoffice/partners', {
          email: p.email,
          name: p.name,
          referralCode: p.code,
          ...(parentId ? { parentId } : {}),
        });
      parentId = created.partner.id;
      // The partner signs in with the first password and chooses their own, as the partner area asks.
      const partnerApi = this.api(p.email);
      await partnerApi.post('/api/partner/auth/login', { email: p.email, password: created.initialPassword });
      await partnerApi.post('/api/partner/auth/password', {
        currentPassword: created.initialPassword,
        newPassword: PARTNER_PASSWORD,
      });
      this.partners.set(p.key, {
        id: created.partner.id,
        code: created.partner.referralCode,
        link: created.referralLink,
      });
      this.credentials.partners.push({
        email: p.email,
        name: p.name,
        password: PARTNER_PASSWORD,
        level: p.level,
        referralCode: created.partner.referralCode,
        link: created.referralLink,
      });
    }

    const effectiveFrom = new Date(Date.now() - 30 * 86_400_000).toISOString();
    const symbolGroups = { fx_majors: ['EURUSD', 'GBPUSD', 'USDJPY'], metals: ['XAUUSD'] };
    const direct = [
      { fromLots: '0', rates: { fx_majors: '5', metals: '10', other: '3' } },
      { fromLots: '100', rates: { fx_majors: '6', metals: '12', other: '3' } },
    ];
    const plan = async (code: string, name: string, rules: unknown) =>
      (
        await pm.post<{ plan: { id: string } }>('/api/backoffice/commission-plans', {
          code,
          name,
          currency: 'USD',
          effectiveFrom,
          rules,
        })
      ).plan.id;
    const plans: Record<PartnerKey, string> = {
      desk: await plan('demo-ib-standard', 'IB standard (per lot, volume tiers)', { symbolGroups, perLot: direct }),
      sub: await plan('demo-sub-ib', 'Sub-IB (per lot + override on its IBs)', {
        symbolGroups,
        perLot: direct,
        overrides: [{ level: 1, perLot: { fx_majors: '1', metals: '2', other: '0.5' } }],
      }),
      master: await plan('demo-master-ib', 'Master IB (share of its tree)', {
        overrides: [
          { level: 1, percentOfDirect: '10' },
          { level: 2, percentOfDirect: '5' },
        ],
      }),
    };
    for (const key of ['master', 'sub', 'desk'] as const) {
      await pm.post(`/api/backoffice/partners/${this.partners.get(key)!.id}/plan-assignments`, {
        planId: plans[key],
        effectiveFrom,
        reason: 'demo onboarding',
      });
    }
  }

  // --- clients -----------------------------------------------------------------------------------------------------------

  private async registerClients(keys: ClientKey[]): Promise<void> {
    const chosen = CLIENTS.filter((c) => keys.includes(c.key));
    for (const c of chosen) {
      const api = this.api(c.email);
      const registered = await api.post<{ client: { id: string } }>('/api/portal/auth/register', {
        email: c.email,
        password: CLIENT_PASSWORD,
        name: c.name,
        country: c.country,
        ...('ref' in c ? { referralCode: c.ref } : {}),
      });
      this.clients.set(c.key, { id: registered.client.id, api });
    }
    // The worker sends the outbox every few seconds; sending now saves the wait. The links arrive in the mailbox.
    await deliverOutboxEmails(this.ctx.database, this.ctx.mailer, { clock: this.ctx.clock });
    for (const c of chosen) {
      const client = this.clients.get(c.key)!;
      await client.api.post('/api/portal/auth/login', { email: c.email, password: CLIENT_PASSWORD });
      if (c.key === 'unverified') continue;
      const email = await this.deps.mailbox.waitFor(
        (m) => m.envelopeTo.includes(c.email) && /verify-email\?token=/.test(m.text),
        30_000,
      );
      const token = /verify-email\?token=([A-Za-z0-9_-]+)/.exec(email.text)![1]!;
      await client.api.post('/api/portal/auth/verify-email', { token });
    }
  }

  /** Each client uploads a passport scan and a utility bill; the reviewer decides the ones that get a decision. */
  private async kycDocuments(keys: ClientKey[], reviewer: StaffKey): Promise<void> {
    const staff = this.as(reviewer);
    for (const key of keys) {
      const i = CLIENTS.findIndex((x) => x.key === key);
      const c = CLIENTS[i]!;
      const api = this.clients.get(key)!.api;
      const ids: string[] = [];
      for (const [type, name, bytes] of [
        ['passport', 'passport.png', samplePassportPng(i)],
        ['proof_of_address', 'utility-bill.pdf', sampleUtilityBillPdf(c.name, `${i + 1} Demo Street, ${c.country}`)],
      ] as const) {
        const form = new FormData();
        form.append('type', type);
        form.append('file', new Blob([new Uint8Array(bytes)]), name);
        const { document } = await api.call<{ document: { id: string } }>('POST', '/api/portal/kyc/documents', form);
        ids.push(document.id);
      }
      const clientId = this.clients.get(key)!.id;
      if (key === 'pending') continue; // waits in the KYC queue
      if (key === 'rejected') {
        await staff.post(`/api/backoffice/kyc/documents/${ids[0]}/review`, {
          decision: 'reject',
          note: 'the passport scan is cut off: the machine-readable zone is not visible',
        });
        await staff.post(`/api/backoffice/kyc/documents/${ids[1]}/review`, { decision: 'approve' });
        await staff.post(`/api/backoffice/clients/${clientId}/kyc/decision`, {
          decision: 'reject',
          reason: 'identity document unreadable; the client was asked to upload a complete scan',
        });
        continue;
      }
      for (const id of ids) await staff.post(`/api/backoffice/kyc/documents/${id}/review`, { decision: 'approve' });
      await staff.post(`/api/backoffice/clients/${clientId}/kyc/decision`, {
        decision: 'approve',
        reason: 'documents match the registration details',
      });
    }
    // Any email the decisions caused goes out now (the worker would within seconds).
    await deliverOutboxEmails(this.ctx.database, this.ctx.mailer, { clock: this.ctx.clock });
  }

  // --- accounts ----------------------------------------------------------------------------------------------------------

  private async openAccount(key: ClientKey, productCode: string): Promise<OpenAccount> {
    const api = this.clients.get(key)!.api;
    const productId = this.productIds.get(productCode);
    if (!productId) throw new Error(`demo seed: no product ${productCode}`);
    const { account } = await api.post<{ account: { id: string } }>('/api/portal/accounts', { productId });
    return until(`${key}'s ${productCode} account to open`, async () => {
      const { account: a } = await api.get<{ account: { status: string; login: number | null; serverCode: string } }>(
        `/api/portal/accounts/${account.id}`,
      );
      if (a.status === 'failed') throw new Error(`demo seed: ${key}'s ${productCode} account failed to open`);
      return a.status === 'open' && a.login !== null
        ? { id: account.id, login: a.login, serverCode: a.serverCode }
        : undefined;
    });
  }

  // --- money -------------------------------------------------------------------------------------------------------------

  /** Starts a deposit in the portal and (unless `card` is null) pays it on the PSP's hosted page, as a browser does. */
  private async deposit(key: ClientKey, accountId: string, amountMinor: number, card: string | null): Promise<string> {
    const api = this.clients.get(key)!.api;
    const started = await api.post<{ movement: { id: string }; paymentUrl: string }>('/api/portal/deposits', {
      accountId,
      amountMinor,
    });
    if (card) {
      const name = CLIENTS.find((c) => c.key === key)!.name;
      const response = await fetch(started.paymentUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ cardNumber: card, expiry: '12/34', cvc: '123', holderName: name }).toString(),
        redirect: 'manual',
        signal: AbortSignal.timeout(30_000),
      });
      await response.arrayBuffer();
      if (response.status !== 303) {
        throw new Error(`demo seed: the PSP's hosted page answered ${response.status} to the card form`);
      }
    }
    return started.movement.id;
  }

  private async movementStatus(key: ClientKey, id: string, statuses: string[], timeoutMs = 60_000): Promise<string> {
    const api = this.clients.get(key)!.api;
    return until(
      `movement ${id} to be ${statuses.join(' or ')}`,
      async () => {
        const { movement } = await api.get<{ movement: { status: string } }>(`/api/portal/movements/${id}`);
        return statuses.includes(movement.status) ? movement.status : undefined;
      },
      timeoutMs,
    );
  }

  /** Deposits paid with the succeeding test card, each waited for until posted on its server. */
  private async posted(deposits: [ClientKey, string, number][]): Promise<void> {
    const ids = await Promise.all(
      deposits.map(([key, accountId, amount]) => this.deposit(key, accountId, amount, PSP_CARDS.success)),
    );
    for (const [i, id] of ids.entries()) await this.movementStatus(deposits[i]![0], id, ['posted']);
  }

  /** The MT4 live server is switched off in the registry (a cut-over) while a deposit arrives, then back on. */
  private async stuckDeposit(account: OpenAccount): Promise<void> {
    const setEnabled = (enabled: boolean) => this.deps.setServerEnabled(account.serverCode, enabled);
    await setEnabled(false);
    try {
      const id = await this.deposit('approved', account.id, 750_00, PSP_CARDS.success);
      const admin = this.as('admin');
      await until('the cut-over deposit’s operation to need review', async () => {
        const detail = await admin.get<{ operations: { status: string }[] }>(`/api/backoffice/movements/${id}`);
        return detail.operations.some((o) => o.status === 'needs_review') ? true : undefined;
      });
    } finally {
      await setEnabled(true);
    }
  }

  private async moreDeposits(a: SeededAccounts): Promise<void> {
    const declined = await this.deposit('approved', a.approvedMt5.id, 1_200_00, PSP_CARDS.declined);
    // Opened the payment page and left: the payment waits at the PSP.
    await this.deposit('approved', a.approvedMt5.id, 300_00, null);
    const pending = await this.deposit('referred1', a.referred1Mt5.id, 500_00, PSP_CARDS.pendingThenSuccess);
    await this.movementStatus('approved', declined, ['payment_failed']);
    await this.movementStatus('referred1', pending, ['payment_pending', 'approved', 'posted']);
  }

  /**
   * Asked for right after the deposits posted: the simulators' trading activity soon commits the accounts' free margin,
   * and a withdrawal is refused beyond it. The large one is at or above the dual-approval threshold.
   */
  private async requestWithdrawals(mt5: OpenAccount, mt4: OpenAccount): Promise<{ large: string; small: string }> {
    const client = this.clients.get('approved')!.api;
    const { movement: large } = await client.post<{ movement: { id: string } }>('/api/portal/withdrawals', {
      accountId: mt5.id,
      amountMinor: 1_500_00,
      destination: { type: 'card', last4: '4242' },
    });
    const { movement: small } = await client.post<{ movement: { id: string } }>('/api/portal/withdrawals', {
      accountId: mt4.id,
      amountMinor: 200_00,
      destination: { type: 'bank_account', iban: 'CY17002001280000001200527600' },
    });
    return { large: large.id, small: small.id };
  }

  private async approvalsAndCredit(withdrawals: { large: string }, a: SeededAccounts): Promise<void> {
    // The large withdrawal gets its first finance approval; the second is for you to give (as the other finance login).
    await this.as('finance').post(`/api/backoffice/movements/${withdrawals.large}/decision`, {
      decision: 'approve',
      comment: 'identity and source of funds checked',
    });
    // A bonus credit: requested by one finance person, approved by the other (the maker cannot approve).
    const { movement: credit } = await this.as('finance').post<{ movement: { id: string } }>(
      '/api/backoffice/credits',
      {
        accountId: a.referred1Mt5.id,
        amountMinor: 250_00,
        direction: 'in',
        reason: 'welcome bonus (demo)',
        expiresAt: new Date(Date.now() + 90 * 86_400_000).toISOString(),
      },
    );
    await this.as('finance2').post(`/api/backoffice/movements/${credit.id}/decision`, { decision: 'approve' });
    await this.movementStatus('referred1', credit.id, ['posted']);
  }

  private async tradesAndCommissions(a: SeededAccounts): Promise<void> {
    const { fleet } = this.deps;
    // The simulated client may close the position first (the activity generator runs every few seconds): then there
    // is nothing left for the dealer to close, and the trade is closed all the same.
    const closing = (call: Promise<unknown>) =>
      call.catch((err: Error) => {
        if (!/HTTP (404|409|422)/.test(err.message)) throw err;
      });
    const mt5 = fleet.server('mt5-live');
    const mt4 = fleet.server('mt4-live');
    // A dealer fills client orders (the simulators' own activity keeps trading every few seconds too).
    for (const [symbol, lots] of [
      ['EURUSD', 1],
      ['XAUUSD', 0.5],
      ['GBPUSD', 0.3],
    ] as const) {
      const opened = await fleet.control<{ deals: { PositionID: string }[] }>(mt5, 'POST', '/control/dealer/trade', {
        login: a.referred1Mt5.login,
        symbol,
        side: 'buy',
        lots,
      });
      await closing(
        fleet.control(mt5, 'POST', '/control/dealer/trade', {
          login: a.referred1Mt5.login,
          symbol,
          side: 'sell',
          lots,
          positionId: Number(opened.deals[0]!.PositionID),
        }),
      );
    }
    for (const [symbol, volume] of [
      ['EURUSD', 100],
      ['XAUUSD.m', 20],
    ] as const) {
      const { trade } = await fleet.control<{ trade: { order: number } }>(mt4, 'POST', '/control/dealer/trades/open', {
        login: a.referred2Mt4.login,
        symbol,
        cmd: 0,
        volume,
      });
      await closing(fleet.control(mt4, 'POST', '/control/dealer/trades/close', { order: trade.order }));
    }
    // Sync both servers now (the worker does every few seconds; a pass it holds is waited for), then commission.
    for (const code of ['mt5-live', 'mt4-live']) {
      await until(`trade sync of ${code}`, async () => {
        const result = await this.ctx.trades.syncServer(code);
        if (result.status === 'failed') throw new Error(`demo seed: trade sync of ${code} failed: ${result.error}`);
        return result.status === 'ok' ? true : undefined;
      });
    }
    await this.as('partners').post('/api/backoffice/commissions/calculate');
  }
}

/**
 * Runs the seeded business day's reconciliation once its cut-off has passed (a timer; at once on a later start if the
 * demo was stopped before), with that day's cut-off in UTC (the worker's own daily runs keep RECON_CUTOFF). The run
 * is found again by its cut-off, so it happens once. `cancel()` on stop.
 */
export function scheduleReconciliation(deps: {
  ctx: AppContext;
  credentialsPath: string;
  progress: (message: string) => void;
}): { done: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const credentials = existsSync(deps.credentialsPath) ? readCredentials(deps.credentialsPath) : null;
  const day = credentials?.reconciliation;
  if (!credentials || !day || day.runId) return { done: Promise.resolve(), cancel() {} };
  const cutoffAt = new Date(day.cutoffUtc);
  const cutoff = day.cutoffUtc.slice(11, 16);
  const { ctx } = deps;

  const run = async (): Promise<void> => {
    const db = ctx.database.db;
    const [existing] = await db
      .select({ id: reconRuns.id, summary: reconRuns.summary })
      .from(reconRuns)
      .where(
        and(eq(reconRuns.businessDate, day.date), eq(reconRuns.cutoffAt, cutoffAt), eq(reconRuns.status, 'completed')),
      )
      .limit(1);
    let result = existing ? { id: existing.id, summary: existing.summary } : null;
    if (!result) {
      const [finance] = await db
        .select({ id: staffUsers.id })
        .from(staffUsers)
        .where(eq(staffUsers.email, 'finance@brokerdesk.demo'));
      const service = reconciliationFor({
        ...ctx,
        config: { ...ctx.config, reconciliation: { ...ctx.config.reconciliation, cutoff, timeZone: 'UTC' } },
      });
      // The worker's own run of the date may hold it for a moment: try again a few times.
      for (let attempt = 1; ; attempt++) {
        try {
          const r = await service.run({ date: day.date, trigger: 'manual', requestedBy: finance?.id ?? 'demo' });
          result = { id: r.id, summary: r.summary };
          break;
        } catch (err) {
          if (attempt >= 4 || cancelled) throw err;
          await sleep(5000);
        }
      }
    }
    const breaks = (result.summary as { breaks?: number } | null)?.breaks ?? 0;
    const latest = readCredentials(deps.credentialsPath);
    latest.reconciliation = { ...day, runId: result.id, breaks };
    writeCredentials(deps.credentialsPath, latest);
    deps.progress(
      `reconciliation of ${day.date} (cut-off ${day.cutoffUtc.slice(11, 16)} UTC) done: ${breaks} break(s) — Back office → Reconciliation`,
    );
  };

  let settle: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const wait = Math.max(0, cutoffAt.getTime() + 1000 - Date.now());
  if (wait > 0) {
    deps.progress(
      `the reconciliation of the seeded day runs after its cut-off (${day.cutoffUtc.slice(11, 19)} UTC, in ${Math.ceil(wait / 1000)} s)`,
    );
  }
  timer = setTimeout(() => {
    timer = undefined;
    if (cancelled) return settle();
    run()
      .catch((err) => deps.progress(`WARNING: the demo reconciliation failed: ${(err as Error).message}`))
      .finally(settle);
  }, wait);
  return {
    done,
    cancel() {
      cancelled = true;
      // Not started yet: nothing to wait for. Under way: `done` settles when it finishes.
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
        settle();
      }
    },
  };
}
