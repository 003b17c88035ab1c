/**
 * The go-live checklist: everything the brief's "what to configure before go-live" lists, each checked against the
 * real thing and reported as pass, warn or fail with the fix. Every check is a function returning a `CheckResult`;
 * none throws (a check that cannot run fails and says why) and none changes anything (the server probes are requests
 * the server is certain to refuse: see probes.ts).
 *
 * | area       | checks                                                                                          |
 * | ---------- | ----------------------------------------------------------------------------------------------- |
 * | servers    | per enabled server: connect and authenticate (with the clock), IP allow-list, account rights, money rights; the worker's verify delay exceeds every request timeout |
 * | separation | per product: its environment is its server's; servers: one address never registered twice, live servers whose groups all look like demo ones (and the reverse) |
 * | products   | per enabled product: its group (and restricted group) exists on its server in its currency; per live product: a KYC policy that gates trading |
 * | payments   | PSP configured, its credentials accepted; webhook secret and where webhooks must be sent; withdrawal approval threshold and enough approvers for it |
 * | sync       | per enabled server: trade sync ran and lags less than the alert threshold                       |
 * | alerts     | at least one channel; each channel delivering (its last delivery, or a test message on request) |
 * | staff      | every staff member whose roles need two-factor has enrolled; an admin exists                    |
 * | audit      | the hash chain is intact                                                                        |
 * | rehearsal  | the last full-workflow rehearsal passed                                                         |
 */
import { and, desc, eq, gte } from 'drizzle-orm';
import type { AppContext } from '../../app/context.ts';
import { alertDeliveries, auditEvents, products, pspEvents, staffUsers } from '../../db/schema.ts';
import { PspRejected } from '../../payments/errors.ts';
import type { ServerView } from '../../platforms/registry.ts';
import { resolveSecret, type SecretError } from '../../platforms/secrets.ts';
import type { AlertMessage } from '../alerts/channels.ts';
import { verifyAuditChain } from '../audit/service.ts';
import { can, requiresTwoFactor } from '../staff/permissions.ts';
import { probeServer } from './probes.ts';
import type { CheckArea, ChecklistReport, CheckResult, CheckStatus } from './types.ts';

export type ChecklistContext = Pick<
  AppContext,
  'config' | 'database' | 'registry' | 'trades' | 'alertChannels' | 'funding' | 'clock'
>;

export interface ChecklistOptions {
  /** Send a test message through every alert channel (otherwise a channel is judged by its last delivery). */
  sendTestAlert?: boolean;
}

type Product = typeof products.$inferSelect;

const AREA_ORDER: CheckArea[] = [
  'servers',
  'separation',
  'products',
  'payments',
  'sync',
  'alerts',
  'staff',
  'audit',
  'rehearsal',
];

/** The audit action a finished rehearsal records (rehearse.ts); the checklist reads the latest. */
export const REHEARSAL_FINISHED = 'golive.rehearsal_finished';

function check(
  area: CheckArea,
  id: string,
  title: string,
  status: CheckStatus,
  detail: string,
  fix: string | null = null,
  durationMs = 0,
): CheckResult {
  return { id, area, title, status, detail, fix: status === 'pass' ? null : fix, durationMs };
}

/** Runs one check; an unexpected error becomes a failed check saying so. */
async function guarded(
  area: CheckArea,
  id: string,
  title: string,
  run: () => Promise<CheckResult | CheckResult[]>,
): Promise<CheckResult[]> {
  const started = performance.now();
  try {
    const out = await run();
    return [out].flat().map((r) => ({ ...r, durationMs: r.durationMs || Math.round(performance.now() - started) }));
  } catch (err) {
    return [
      check(
        area,
        id,
        title,
        'fail',
        `the check could not run: ${(err as Error).message}`,
        'fix the cause above (see the API log for details), then run the check again',
        Math.round(performance.now() - started),
      ),
    ];
  }
}

function minor(amount: number): string {
  return `${amount.toLocaleString('en')} minor units (${(amount / 100).toLocaleString('en', { minimumFractionDigits: 2 })} in a 2-decimal currency)`;
}

// --- servers and separation --------------------------------------------------------------------------------------

function groupsUsed(list: Product[], server: string): string[] {
  const groups = new Set<string>();
  for (const p of list) {
    if (p.serverCode !== server || !p.enabled) continue;
    groups.add(p.groupName);
    if (p.kycPolicy === 'move_group_on_approval' && p.restrictedGroupName) groups.add(p.restrictedGroupName);
  }
  return [...groups];
}

function productEnvironment(p: Product, servers: Map<string, ServerView>): CheckResult {
  const id = `product:${p.code}:separation`;
  const title = `${p.code}: a ${p.environment} product on a ${p.environment} server`;
  const server = servers.get(p.serverCode);
  if (!server) {
    return check(
      'separation',
      id,
      title,
      'fail',
      `product ${p.code} is mapped to server "${p.serverCode}", which is not configured`,
      `add server ${p.serverCode} (brokerdesk servers add) or map ${p.code} to a configured ${p.environment} server`,
    );
  }
  if (server.environment !== p.environment) {
    return check(
      'separation',
      id,
      title,
      'fail',
      `product ${p.code} is ${p.environment} but server ${server.code} is ${server.environment}: ${p.environment === 'live' ? 'real clients would open accounts on a demo server and their money would go there' : 'demo accounts would open on the live server'}`,
      `map ${p.code} to a ${p.environment} server, or correct server ${server.code}'s environment if it is wrong`,
    );
  }
  return check(
    'separation',
    id,
    title,
    'pass',
    `${p.environment} product on ${server.environment} server ${server.code}`,
  );
}

function addressKey(address: string): string {
  try {
    const u = new URL(address);
    return `${u.hostname.toLowerCase()}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
  } catch {
    return address;
  }
}

async function serverSeparation(ctx: ChecklistContext, servers: ServerView[]): Promise<CheckResult> {
  const id = 'separation:servers';
  const title = 'live and demo servers are distinct';
  const problems: string[] = [];
  const warnings: string[] = [];
  const byAddress = new Map<string, ServerView[]>();
  for (const s of servers) byAddress.set(addressKey(s.address), [...(byAddress.get(addressKey(s.address)) ?? []), s]);
  for (const [address, same] of byAddress) {
    if (same.length < 2) continue;
    const envs = new Set(same.map((s) => s.environment));
    const list = same.map((s) => `${s.code} (${s.environment})`).join(', ');
    if (envs.size > 1) problems.push(`${address} is registered as both live and demo: ${list}`);
    else warnings.push(`${address} is registered twice: ${list}`);
  }
  for (const s of servers.filter((x) => x.enabled)) {
    let names: string[];
    try {
      names = (await ctx.registry.groups(s.code)).map((g) => g.name);
    } catch {
      continue; // the server's own connection check reports it
    }
    if (names.length === 0) continue;
    const demoLike = names.filter((n) => /^demo/i.test(n)).length;
    const realLike = names.filter((n) => /^(real|live)/i.test(n)).length;
    if (s.environment === 'live' && demoLike === names.length) {
      warnings.push(
        `${s.code} is registered live but every one of its ${names.length} groups is named demo…: is ${s.address} the demo server?`,
      );
    }
    if (s.environment === 'demo' && realLike === names.length) {
      warnings.push(
        `${s.code} is registered demo but every one of its ${names.length} groups is named real…/live…: is ${s.address} the live server?`,
      );
    }
  }
  if (problems.length > 0) {
    return check(
      'separation',
      id,
      title,
      'fail',
      [...problems, ...warnings].join('; '),
      'give each environment its own server entry with its own address, and remove the wrong one',
    );
  }
  if (warnings.length > 0) {
    return check(
      'separation',
      id,
      title,
      'warn',
      warnings.join('; '),
      'check each server entry points at the server of its environment (brokerdesk servers list)',
    );
  }
  return check(
    'separation',
    id,
    title,
    'pass',
    `${servers.filter((s) => s.environment === 'live').length} live and ${servers.filter((s) => s.environment === 'demo').length} demo servers at distinct addresses`,
  );
}

/**
 * A request the connector gave up on can still be applied by the server afterwards; the worker must not look it up
 * (and, finding nothing, send it again) before then. The rehearsal's timeout step shows it happening.
 */
function verifyDelay(ctx: ChecklistContext, servers: ServerView[]): CheckResult {
  const id = 'servers:verify-delay';
  const title = "the worker waits longer than the servers' timeouts before verifying a lost reply";
  const enabled = servers.filter((s) => s.enabled);
  const delay = ctx.config.worker.verifyDelayMs;
  if (enabled.length === 0) return check('servers', id, title, 'pass', 'no enabled server');
  const slowest = enabled.reduce((a, b) => (b.requestTimeoutMs > a.requestTimeoutMs ? b : a));
  const detail = `WORKER_VERIFY_DELAY_MS is ${delay} ms (as this process is configured); the longest server request timeout is ${slowest.requestTimeoutMs} ms (${slowest.code})`;
  const fix = `set WORKER_VERIFY_DELAY_MS (for every worker) to at least twice ${slowest.requestTimeoutMs} ms, e.g. ${Math.max(30_000, slowest.requestTimeoutMs * 2)}`;
  if (delay <= slowest.requestTimeoutMs) {
    return check(
      'servers',
      id,
      title,
      'fail',
      `${detail}: a deposit whose reply timed out could be looked up before the server applies it, and posted twice`,
      fix,
    );
  }
  if (delay < slowest.requestTimeoutMs * 2) {
    return check('servers', id, title, 'warn', `${detail}: little margin for a server that applies late`, fix);
  }
  return check('servers', id, title, 'pass', detail);
}

// --- products -----------------------------------------------------------------------------------------------------

async function productGroup(ctx: ChecklistContext, p: Product, servers: Map<string, ServerView>): Promise<CheckResult> {
  const id = `product:${p.code}:group`;
  const title = `${p.code}: group ${p.groupName} exists on ${p.serverCode} in ${p.currency}`;
  const server = servers.get(p.serverCode);
  if (!server) {
    return check(
      'products',
      id,
      title,
      'fail',
      `server ${p.serverCode} is not configured`,
      `add server ${p.serverCode}`,
    );
  }
  if (!server.enabled) {
    return check(
      'products',
      id,
      title,
      'fail',
      `product ${p.code} is offered but its server ${server.code} is disabled: accounts cannot open`,
      `enable server ${server.code}, or disable product ${p.code}`,
    );
  }
  let groups: Awaited<ReturnType<ChecklistContext['registry']['groups']>>;
  try {
    groups = await ctx.registry.groups(server.code, { fresh: true });
  } catch (err) {
    return check(
      'products',
      id,
      title,
      'fail',
      `not checked: the groups of ${server.code} cannot be read (${(err as Error).message})`,
      `fix the connection to ${server.code} first`,
    );
  }
  const wanted = [p.groupName];
  if (p.kycPolicy === 'move_group_on_approval') {
    if (!p.restrictedGroupName) {
      return check(
        'products',
        id,
        title,
        'fail',
        `product ${p.code} moves accounts on KYC approval but names no restricted group to wait in`,
        `set the restricted group of ${p.code}`,
      );
    }
    wanted.push(p.restrictedGroupName);
  }
  const problems: string[] = [];
  for (const name of wanted) {
    const group = groups.find((g) => g.name === name);
    if (!group) {
      const near = groups
        .map((g) => g.name)
        .filter((n) =>
          n.toLowerCase().includes(
            name
              .toLowerCase()
              .split(/[\\/-]/)
              .pop() ?? name,
          ),
        )
        .slice(0, 5);
      problems.push(
        `group "${name}" does not exist on ${server.code}${
          near.length > 0
            ? ` (similar: ${near.join(', ')})`
            : ` (it has ${groups.length} groups: ${groups
                .map((g) => g.name)
                .slice(0, 10)
                .join(', ')})`
        }`,
      );
    } else if (group.currency !== p.currency) {
      problems.push(`group "${name}" on ${server.code} is in ${group.currency}, the product in ${p.currency}`);
    }
  }
  if (problems.length > 0) {
    return check(
      'products',
      id,
      title,
      'fail',
      `${problems.join('; ')}: accounts of ${p.code} would fail to open`,
      `map ${p.code} to an existing ${p.currency} group of ${server.code} (or create the group on the server)`,
    );
  }
  return check(
    'products',
    id,
    title,
    'pass',
    `${wanted.map((w) => `"${w}"`).join(' and ')} on ${server.code}, ${p.currency}`,
  );
}

function productKyc(p: Product): CheckResult {
  const id = `product:${p.code}:kyc`;
  const title = `${p.code}: a KYC policy gates live trading`;
  const policies: Record<string, string> = {
    create_on_approval: 'the account opens when KYC is approved',
    enable_trading_on_approval: 'the account opens read-only and may trade once KYC is approved',
    move_group_on_approval: `the account waits in ${p.restrictedGroupName ?? '(no group set)'} until KYC is approved`,
  };
  if (p.kycPolicy === 'none') {
    return check(
      'products',
      id,
      title,
      'fail',
      `live product ${p.code} has KYC policy "none": its accounts open with full trading before any identity check`,
      `choose what KYC approval does for ${p.code}: create the account, enable trading, or move it from a restricted group`,
    );
  }
  return check('products', id, title, 'pass', policies[p.kycPolicy] ?? p.kycPolicy);
}

// --- payments -----------------------------------------------------------------------------------------------------

async function pspAccess(ctx: ChecklistContext): Promise<CheckResult> {
  const id = 'payments:psp';
  const title = 'payment provider configured and its credentials accepted';
  const psp = ctx.config.funding.psp;
  if (!psp) {
    return check(
      'payments',
      id,
      title,
      'fail',
      'no payment provider is configured: card deposits and withdrawals are refused',
      'set PSP_URL, PSP_API_KEY_SECRET and PSP_WEBHOOK_SECRET (funding.psp in the config file)',
    );
  }
  for (const [setting, reference] of [
    ['PSP_API_KEY_SECRET', psp.apiKeySecret],
    ['PSP_WEBHOOK_SECRET', psp.webhookSecret],
  ] as const) {
    try {
      resolveSecret(reference);
    } catch (err) {
      return check(
        'payments',
        id,
        title,
        'fail',
        `${setting} cannot be read: ${(err as SecretError).message}`,
        `put the secret where ${setting} (${reference}) points`,
      );
    }
  }
  const provider = ctx.funding.deps.psp;
  if (!provider) {
    return check(
      'payments',
      id,
      title,
      'fail',
      'the PSP adapter is not loaded',
      'restart the API after configuring it',
    );
  }
  const to = ctx.clock.now();
  try {
    await provider.listSettlements(new Date(to.getTime() - 3_600_000), to);
  } catch (err) {
    if (err instanceof PspRejected && (err.httpStatus === 401 || err.httpStatus === 403)) {
      return check(
        'payments',
        id,
        title,
        'fail',
        `${psp.name} at ${psp.url} refuses the API key (${err.httpStatus} ${err.pspCode})`,
        `put the merchant API key the PSP issued where PSP_API_KEY_SECRET (${psp.apiKeySecret}) points`,
      );
    }
    return check(
      'payments',
      id,
      title,
      'fail',
      `${psp.name} at ${psp.url} did not answer an authenticated read: ${(err as Error).message}`,
      `check PSP_URL and that the PSP is reachable from this host`,
    );
  }
  return check(
    'payments',
    id,
    title,
    'pass',
    `${psp.name} at ${psp.url} accepts the API key (settlement report read); timeout ${psp.timeoutMs} ms`,
  );
}

async function pspWebhooks(ctx: ChecklistContext): Promise<CheckResult> {
  const id = 'payments:webhooks';
  const title = 'PSP webhooks: signing secret set, and webhooks arriving';
  const psp = ctx.config.funding.psp;
  if (!psp) {
    return check('payments', id, title, 'fail', 'no payment provider is configured', 'configure the PSP first');
  }
  const url = `${ctx.config.publicUrl}/api/webhooks/psp/${psp.name}`;
  let secret: string;
  try {
    secret = resolveSecret(psp.webhookSecret);
  } catch (err) {
    return check(
      'payments',
      id,
      title,
      'fail',
      `the webhook signing secret cannot be read: ${(err as Error).message}`,
      `put the PSP's webhook signing secret where PSP_WEBHOOK_SECRET (${psp.webhookSecret}) points`,
    );
  }
  if (secret.length < 16) {
    return check(
      'payments',
      id,
      title,
      'fail',
      `the webhook signing secret is only ${secret.length} characters: forged webhooks could approve deposits`,
      'use the full signing secret the PSP issued (at least 16 random characters)',
    );
  }
  const [last] = await ctx.database.db
    .select({ at: pspEvents.receivedAt, outcome: pspEvents.outcome })
    .from(pspEvents)
    .where(eq(pspEvents.psp, psp.name))
    .orderBy(desc(pspEvents.id))
    .limit(1);
  const plainHttp = url.startsWith('http://') && !/^http:\/\/(127\.|localhost|\[::1\])/.test(url);
  if (!last) {
    return check(
      'payments',
      id,
      title,
      'warn',
      `secret set (${secret.length} characters); no webhook from ${psp.name} has arrived yet at ${url}`,
      `set ${url} as the webhook address in the PSP's dashboard, then run the rehearsal (brokerdesk golive rehearse) to prove webhooks arrive`,
    );
  }
  if (plainHttp) {
    return check(
      'payments',
      id,
      title,
      'warn',
      `webhooks arrive (last ${last.at.toISOString()}), but at ${url}, plain HTTP on a public address`,
      'serve the API behind HTTPS and set PUBLIC_URL to the https:// address',
    );
  }
  return check(
    'payments',
    id,
    title,
    'pass',
    `secret set (${secret.length} characters); the last webhook arrived ${last.at.toISOString()} at ${url} (${last.outcome})`,
  );
}

async function withdrawalApproval(ctx: ChecklistContext): Promise<CheckResult> {
  const id = 'payments:withdrawal-approval';
  const title = 'withdrawal approval rules and enough approvers';
  const threshold = ctx.config.funding.dualApprovalMinor;
  const staff = await ctx.database.db
    .select({ email: staffUsers.email, roles: staffUsers.roles })
    .from(staffUsers)
    .where(eq(staffUsers.disabled, false));
  const approvers = staff.filter((s) => can(s.roles, 'funding.approve'));
  const rules = `every withdrawal needs a finance approval; from ${minor(threshold)} a second, different approver; the largest deposit is ${minor(ctx.config.funding.maxDepositMinor)}`;
  if (approvers.length === 0) {
    return check(
      'payments',
      id,
      title,
      'fail',
      `${rules}; but no enabled staff member may approve withdrawals`,
      'give two staff members the finance (or admin) role (brokerdesk staff add --roles finance …)',
    );
  }
  if (approvers.length === 1) {
    return check(
      'payments',
      id,
      title,
      'fail',
      `${rules}; but only ${approvers[0]!.email} may approve, so withdrawals at or above the threshold can never be paid`,
      'give a second staff member the finance role',
    );
  }
  return check(
    'payments',
    id,
    title,
    'pass',
    `${rules}; ${approvers.length} staff members may approve (${approvers
      .map((a) => a.email)
      .slice(0, 5)
      .join(', ')})`,
  );
}

// --- sync, alerts, staff, audit, rehearsal ------------------------------------------------------------------------

async function syncChecks(ctx: ChecklistContext): Promise<CheckResult[]> {
  const threshold = ctx.config.sync.lagAlertSeconds;
  const statuses = await ctx.trades.status();
  return statuses.map((s) => {
    const id = `sync:${s.server}`;
    const title = `${s.server}: trade sync running, lag under ${threshold} s`;
    if (s.lagSeconds === null) {
      return check(
        'sync',
        id,
        title,
        'fail',
        `${s.server}'s history has never been synced${s.lastError ? `; last error: ${s.lastError} (${s.consecutiveFailures}×)` : ''}`,
        s.lastError
          ? `fix the error above; the worker retries by itself`
          : 'start the worker (brokerdesk worker): it syncs every server every SYNC_INTERVAL_MS',
      );
    }
    const lag = Math.round(s.lagSeconds);
    const when = `synced to ${s.syncedTo!.toISOString()} (lag ${lag} s), ${s.recordsIngested.toLocaleString('en')} records`;
    if (lag > threshold) {
      return check(
        'sync',
        id,
        title,
        'fail',
        `${when}: more than the ${threshold} s threshold${s.lastError ? `; last error: ${s.lastError}` : ''}`,
        s.lastError ? 'fix the error above' : 'check that the worker is running (brokerdesk worker)',
      );
    }
    if (s.consecutiveFailures > 0) {
      return check(
        'sync',
        id,
        title,
        'warn',
        `${when}; but the last ${s.consecutiveFailures} pass(es) failed: ${s.lastError}`,
        'fix the error above before the lag passes the threshold',
      );
    }
    return check('sync', id, title, 'pass', when);
  });
}

async function alertChannels(ctx: ChecklistContext, options: ChecklistOptions): Promise<CheckResult[]> {
  const channels = ctx.alertChannels;
  if (channels.length === 0) {
    return [
      check(
        'alerts',
        'alerts:channels',
        'alerts reach someone outside the back office',
        'fail',
        'no alert channel is configured: failed operations, sync lag and reconciliation breaks only show in the back office',
        'set ALERT_WEBHOOK_URL and ALERT_WEBHOOK_SECRET, and/or alerts.smtp in the config file',
      ),
    ];
  }
  const out: CheckResult[] = [];
  for (const channel of channels) {
    const id = `alerts:${channel.name}`;
    const title = `alert ${channel.name} channel delivers`;
    if (options.sendTestAlert) {
      const now = ctx.clock.now().toISOString();
      const message: AlertMessage = {
        event: 'raised',
        alert: {
          id: '00000000-0000-0000-0000-000000000000',
          kind: 'golive_test',
          severity: 'info',
          title: 'Brokerdesk go-live check: test alert (nothing to do)',
          status: 'resolved',
          occurrences: 1,
          details: { test: true },
          firstSeenAt: now,
          lastSeenAt: now,
        },
      };
      try {
        await channel.send(message);
        out.push(
          check('alerts', id, title, 'pass', `a test alert was accepted by the ${channel.name} channel just now`),
        );
      } catch (err) {
        out.push(
          check(
            'alerts',
            id,
            title,
            'fail',
            `a test alert was refused: ${(err as Error).message}`,
            channel.name === 'webhook'
              ? 'check ALERT_WEBHOOK_URL is reachable from this host and answers 2xx'
              : 'check alerts.smtp (host, port, credentials, recipients)',
          ),
        );
      }
      continue;
    }
    const [last] = await ctx.database.db
      .select()
      .from(alertDeliveries)
      .where(and(eq(alertDeliveries.channel, channel.name), gte(alertDeliveries.attempts, 1)))
      .orderBy(desc(alertDeliveries.id))
      .limit(1);
    if (!last) {
      out.push(
        check(
          'alerts',
          id,
          title,
          'warn',
          `configured, but no alert has been delivered through it yet`,
          'run brokerdesk golive check --send-test-alert (or the re-run with a test alert in the back office) to prove it',
        ),
      );
    } else if (last.status === 'delivered') {
      out.push(
        check('alerts', id, title, 'pass', `the last alert went out ${last.deliveredAt?.toISOString() ?? ''}`.trim()),
      );
    } else {
      out.push(
        check(
          'alerts',
          id,
          title,
          'fail',
          `the last delivery is ${last.status} after ${last.attempts} attempt(s): ${last.lastError ?? 'no error recorded'}`,
          channel.name === 'webhook'
            ? 'check ALERT_WEBHOOK_URL is reachable from the worker and answers 2xx'
            : 'check alerts.smtp (host, port, credentials, recipients)',
        ),
      );
    }
  }
  return out;
}

async function staffTwoFactor(ctx: ChecklistContext): Promise<CheckResult> {
  const id = 'staff:two-factor';
  const title = 'staff who move money or change configuration use two-factor';
  const staff = await ctx.database.db.select().from(staffUsers).where(eq(staffUsers.disabled, false));
  if (!staff.some((s) => s.roles.includes('admin'))) {
    return check(
      'staff',
      id,
      title,
      'fail',
      'no enabled staff member is an admin',
      'create one: brokerdesk staff add --roles admin …',
    );
  }
  const missing = staff.filter((s) => requiresTwoFactor(s.roles) && !s.totpEnabled);
  if (missing.length > 0) {
    return check(
      'staff',
      id,
      title,
      'fail',
      `${missing.length} of ${staff.length} enabled staff have not enrolled two-factor although their roles need it: ${missing
        .map((s) => `${s.email} (${s.roles.join(', ')})`)
        .slice(0, 10)
        .join('; ')}`,
      'have each sign in once and enrol an authenticator (it is asked at first sign-in), or disable their accounts',
    );
  }
  const needing = staff.filter((s) => requiresTwoFactor(s.roles)).length;
  return check(
    'staff',
    id,
    title,
    'pass',
    `${needing} staff with admin, finance or dealing roles have two-factor on; ${staff.length - needing} others`,
  );
}

async function auditChain(ctx: ChecklistContext): Promise<CheckResult> {
  const report = await verifyAuditChain(ctx.database.db);
  if (report.ok) {
    return check('audit', 'audit:chain', 'audit trail hash chain intact', 'pass', `${report.checked} events intact`);
  }
  return check(
    'audit',
    'audit:chain',
    'audit trail hash chain intact',
    'fail',
    `the chain is broken at event ${report.brokenAt!.id}: ${report.brokenAt!.reason} (${report.checked} events before it are intact)`,
    'find out who changed audit_events (database logs, backups); restore the events from a backup; never edit the table',
  );
}

async function lastRehearsal(ctx: ChecklistContext): Promise<CheckResult> {
  const id = 'rehearsal:last';
  const title = 'a full-workflow rehearsal passed';
  const [last] = await ctx.database.db
    .select({ at: auditEvents.at, after: auditEvents.after, entityId: auditEvents.entityId })
    .from(auditEvents)
    .where(eq(auditEvents.action, REHEARSAL_FINISHED))
    .orderBy(desc(auditEvents.id))
    .limit(1);
  if (!last) {
    return check(
      'rehearsal',
      id,
      title,
      'warn',
      'no rehearsal has been run',
      'run brokerdesk golive rehearse (or Run rehearsal on the Go-live page)',
    );
  }
  const after = (last.after ?? {}) as { status?: string; failedStep?: string | null; leftBehind?: string[] };
  if (after.status !== 'passed') {
    return check(
      'rehearsal',
      id,
      title,
      'fail',
      `the last rehearsal (${last.entityId}, ${last.at.toISOString()}) ${after.status ?? 'did not pass'}${after.failedStep ? ` at step ${after.failedStep}` : ''}`,
      'see its report, fix the cause and run it again',
    );
  }
  return check(
    'rehearsal',
    id,
    title,
    'pass',
    `the last rehearsal (${last.entityId}) passed ${last.at.toISOString()}${after.leftBehind?.length ? `; it left behind: ${after.leftBehind.join('; ')}` : ''}`,
  );
}

// --- the checklist ------------------------------------------------------------------------------------------------

export async function runChecklist(ctx: ChecklistContext, options: ChecklistOptions = {}): Promise<ChecklistReport> {
  const startedAt = ctx.clock.now();
  const started = performance.now();
  const servers = await ctx.registry.list();
  const byCode = new Map(servers.map((s) => [s.code, s]));
  const productList = await ctx.database.db.select().from(products).orderBy(products.code);
  const offered = productList.filter((p) => p.enabled);

  const serverChecks: Promise<CheckResult[]>[] = servers
    .filter((s) => s.enabled)
    .map((s) =>
      guarded('servers', `server:${s.code}:connect`, `${s.code}: server access`, () =>
        probeServer({ registry: ctx.registry, database: ctx.database }, s, groupsUsed(productList, s.code)),
      ),
    );
  if (servers.filter((s) => s.enabled).length === 0) {
    serverChecks.push(
      Promise.resolve([
        check(
          'servers',
          'servers:none',
          'trading servers configured',
          'fail',
          'no enabled trading server is configured',
          'add your live and demo servers: brokerdesk servers add …',
        ),
      ]),
    );
  }
  // Server probes first (they warm the connections and group caches the product checks then use).
  const serverResults = (await Promise.all(serverChecks)).flat();

  const rest = await Promise.all([
    guarded('servers', 'servers:verify-delay', 'verify delay', async () => verifyDelay(ctx, servers)),
    ...offered.map((p) =>
      guarded('separation', `product:${p.code}:separation`, `${p.code}: environment`, async () =>
        productEnvironment(p, byCode),
      ),
    ),
    guarded('separation', 'separation:servers', 'live and demo servers are distinct', () =>
      serverSeparation(ctx, servers),
    ),
    ...offered.map((p) =>
      guarded('products', `product:${p.code}:group`, `${p.code}: group`, () => productGroup(ctx, p, byCode)),
    ),
    ...offered
      .filter((p) => p.environment === 'live')
      .map((p) => guarded('products', `product:${p.code}:kyc`, `${p.code}: KYC policy`, async () => productKyc(p))),
    offered.length === 0
      ? Promise.resolve([
          check(
            'products',
            'products:none',
            'account types offered',
            'fail',
            'no enabled product: clients cannot open accounts',
            'create your account types in the back office (Products), each mapped to a server group',
          ),
        ])
      : Promise.resolve([]),
    guarded('payments', 'payments:psp', 'payment provider', () => pspAccess(ctx)),
    guarded('payments', 'payments:webhooks', 'PSP webhooks', () => pspWebhooks(ctx)),
    guarded('payments', 'payments:withdrawal-approval', 'withdrawal approval', () => withdrawalApproval(ctx)),
    guarded('sync', 'sync', 'trade sync', () => syncChecks(ctx)),
    guarded('alerts', 'alerts:channels', 'alert channels', () => alertChannels(ctx, options)),
    guarded('staff', 'staff:two-factor', 'staff two-factor', () => staffTwoFactor(ctx)),
    guarded('audit', 'audit:chain', 'audit chain', () => auditChain(ctx)),
    guarded('rehearsal', 'rehearsal:last', 'rehearsal', () => lastRehearsal(ctx)),
  ]);
  const checks = [...serverResults, ...rest.flat()].sort(
    (a, b) => AREA_ORDER.indexOf(a.area) - AREA_ORDER.indexOf(b.area),
  );
  const summary: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0 };
  for (const c of checks) summary[c.status] += 1;
  return {
    startedAt,
    finishedAt: ctx.clock.now(),
    durationMs: Math.round(performance.now() - started),
    summary,
    status: summary.fail > 0 ? 'fail' : summary.warn > 0 ? 'warn' : 'pass',
    checks,
  };
}

/** For the CLI: one line per check, then the summary. */
export function formatChecklist(report: ChecklistReport): string {
  const mark: Record<CheckStatus, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };
  const lines: string[] = [];
  let area: CheckArea | null = null;
  for (const c of report.checks) {
    if (c.area !== area) {
      area = c.area;
      lines.push('', `${area}`);
    }
    lines.push(`  ${mark[c.status]}  ${c.title}`, `        ${c.detail}`);
    if (c.fix) lines.push(`        fix: ${c.fix}`);
  }
  lines.push(
    '',
    `${report.summary.pass} passed, ${report.summary.warn} warnings, ${report.summary.fail} failed (${report.durationMs} ms)`,
  );
  return lines.join('\n').replace(/^\n/, '');
}
