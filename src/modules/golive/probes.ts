/**
 * Server access probes: can Brokerdesk connect to each trading server from here (and so is this host on the
 * manager's IP allow-list), and does the manager hold the rights the CRM needs: read accounts and history, create
 * and edit accounts in every group a product uses, post balance and credit operations.
 *
 * Neither MetaTrader exposes a manager's rights through the calls a CRM makes, so each right is probed with a
 * request the server is certain to refuse on its data, never to apply, whatever the rights: a server checks the
 * right first and answers "no rights" (MT5 8, MT4 7), or answers with the data refusal, which proves the right.
 *
 * | right            | probe                                                                  | refusal proving the right         |
 * | ---------------- | ---------------------------------------------------------------------- | --------------------------------- |
 * | read accounts    | read a login that does not exist                                       | not found (MT5 13, MT4 65)        |
 * | create (per group) MT5 | add a user with a one-character password (and an existing login)  | weak password 3006 / login exists 3004 |
 * | create (per group) MT4 | add a user with a login that exists                               | ret 2 (login exists)              |
 * | edit (MT4)       | update a login that does not exist                                     | ret 65 (no such account)          |
 * | money MT5        | take a credit of more than 10⁹ out of an existing account              | 4005 (amount over 10⁹) or 10019   |
 * | money MT4        | take more credit than the account has, with an expiry in the past      | ret 3 (expiry) or 134 (no money)  |
 *
 * The money probe needs an account the CRM opened on that server (nothing else tells a login that exists); without
 * one it is reported as not proven yet.
 */
import { and, desc, eq, isNotNull } from 'drizzle-orm';
import type { Database } from '../../db/connect.ts';
import { tradingAccounts } from '../../db/schema.ts';
import { DefinitiveError, isPlatformError, RoutingError } from '../../platforms/errors.ts';
import type { GuardedPlatform } from '../../platforms/guarded.ts';
import { newReference } from '../../platforms/reference.ts';
import type { ServerRegistry, ServerView } from '../../platforms/registry.ts';
import { SecretError } from '../../platforms/secrets.ts';
import type { TradingAccount } from '../../platforms/types.ts';
import type { CheckResult, CheckStatus } from './types.ts';

export interface ProbeDeps {
  registry: ServerRegistry;
  database: Database;
}

/** What a failure to reach or use a server means, and what to do about it. */
export function explainServerError(
  server: ServerView,
  err: unknown,
): { detail: string; fix: string; ipBlocked: boolean } {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof SecretError) {
    return {
      detail: `the manager password cannot be read: ${message}`,
      fix: `put manager ${server.managerLogin}'s password where the server's password secret points (brokerdesk servers add --password-secret env:VAR or file:/path)`,
      ipBlocked: false,
    };
  }
  if (err instanceof RoutingError) {
    return {
      detail: message,
      fix:
        err.code === 'server_disabled'
          ? `enable server ${server.code} or map its products elsewhere`
          : `check server ${server.code}'s settings (brokerdesk servers add … replaces them)`,
      ipBlocked: false,
    };
  }
  if (err instanceof DefinitiveError) {
    if (err.reason === 'ip_blocked') {
      return {
        detail: `the server refuses manager ${server.managerLogin} from this host's address: ${err.serverText}`,
        fix: `add the address this host connects from to manager ${server.managerLogin}'s IP allow-list on the server (MT5 Administrator: Managers → IP access; MT4: the manager's IP filter)`,
        ipBlocked: true,
      };
    }
    if (err.reason === 'server_identity') {
      return {
        detail: `the server did not prove it knows the manager password (possible impostor or wrong address): ${message}`,
        fix: `check that ${server.address} is the real server and the password secret is the manager's`,
        ipBlocked: false,
      };
    }
    return {
      detail: message,
      fix: `check manager ${server.managerLogin}'s account on the server (enabled, API access allowed)`,
      ipBlocked: false,
    };
  }
  if (isPlatformError(err) && err.errorClass === 'not_sent' && /login|auth|credential|password/i.test(message)) {
    return {
      detail: message,
      fix: `check manager login ${server.managerLogin} and its password (the secret the server's settings name), and that the manager account is enabled`,
      ipBlocked: false,
    };
  }
  if ((err as Error)?.name === 'CircuitOpenError') {
    return {
      detail: message,
      fix: `the server failed repeatedly just now; check that ${server.address} is up and reachable from this host, then run the check again`,
      ipBlocked: false,
    };
  }
  return {
    detail: message,
    fix: `check that ${server.address} is reachable from this host (firewall, port), and its TLS certificate (a self-signed one needs --ca-cert)`,
    ipBlocked: false,
  };
}

/**
 * The reason of a refusal that came from the server itself. A connector also refuses some requests before sending
 * them (code null): those prove nothing about the manager's rights.
 */
function reasonOf(err: unknown): string | null {
  return err instanceof DefinitiveError && err.code !== null ? err.reason : null;
}

/** Logins no server allocates in practice (MT4 logins are 32-bit); each is confirmed absent before it is used. */
function unusedLoginCandidates(kind: 'mt4' | 'mt5'): number[] {
  const base = kind === 'mt4' ? 2_147_480_000 : 9_007_199_000_000;
  return Array.from({ length: 3 }, () => base + Math.floor(Math.random() * 3_000));
}

interface Timed {
  started: number;
}

function result(
  t: Timed,
  id: string,
  title: string,
  status: CheckStatus,
  detail: string,
  fix: string | null,
): CheckResult {
  return {
    id,
    area: 'servers',
    title,
    status,
    detail,
    fix: status === 'pass' ? null : fix,
    durationMs: Math.round(performance.now() - t.started),
  };
}

/** Accounts the CRM opened on the server, newest first: logins known to exist (confirmed on the server before use). */
async function knownLogins(database: Database, serverCode: string): Promise<number[]> {
  const rows = await database.db
    .select({ login: tradingAccounts.login })
    .from(tradingAccounts)
    .where(and(eq(tradingAccounts.serverCode, serverCode), isNotNull(tradingAccounts.login)))
    .orderBy(desc(tradingAccounts.createdAt))
    .limit(5);
  return rows.map((r) => r.login!).filter((l) => Number.isSafeInteger(l));
}

/**
 * Every access check of one server: connection (with its clock), IP allow-list, account rights (per product group),
 * money rights. Never throws: a server that cannot be reached fails each check with what to fix.
 */
export async function probeServer(
  deps: ProbeDeps,
  server: ServerView,
  productGroups: string[],
): Promise<CheckResult[]> {
  const code = server.code;
  const ids = {
    connect: `server:${code}:connect`,
    ip: `server:${code}:ip-allow-list`,
    accounts: `server:${code}:account-rights`,
    money: `server:${code}:money-rights`,
  };
  const titles = {
    connect: `${code}: connect and authenticate as manager ${server.managerLogin}`,
    ip: `${code}: this host is on the manager's IP allow-list`,
    accounts: `${code}: manager may read, create and edit accounts`,
    money: `${code}: manager may post balance and credit operations`,
  };
  const t: Timed = { started: performance.now() };
  let platform: GuardedPlatform;
  let latency: number;
  let clock: Awaited<ReturnType<GuardedPlatform['serverTime']>>;
  try {
    platform = await deps.registry.platform(code);
    latency = await platform.ping();
    clock = await platform.serverTime();
  } catch (err) {
    const why = explainServerError(server, err);
    const notChecked = `not checked: ${code} cannot be reached (${why.detail})`;
    const fixFirst = `fix the connection to ${code} first (see "${titles.connect}")`;
    return [
      result(t, ids.connect, titles.connect, 'fail', why.detail, why.fix),
      why.ipBlocked
        ? result(t, ids.ip, titles.ip, 'fail', why.detail, why.fix)
        : result(t, ids.ip, titles.ip, 'fail', notChecked, fixFirst),
      result(t, ids.accounts, titles.accounts, 'fail', notChecked, fixFirst),
      result(t, ids.money, titles.money, 'fail', notChecked, fixFirst),
    ];
  }

  const out: CheckResult[] = [];
  const drift = clock.observedOffsetMinutes - clock.offsetMinutes;
  const connectDetail = `${server.platform.toUpperCase()} ${server.environment} server at ${server.address}: authenticated, ping ${latency.toFixed(1)} ms, server clock ${clock.now.toISOString()} (${clock.zone})`;
  out.push(
    drift === 0
      ? result(t, ids.connect, titles.connect, 'pass', connectDetail, null)
      : result(
          t,
          ids.connect,
          titles.connect,
          'warn',
          `${connectDetail}; but its wall clock implies UTC${clock.observedOffsetMinutes >= 0 ? '+' : ''}${clock.observedOffsetMinutes} min while ${clock.zone} is UTC${clock.offsetMinutes >= 0 ? '+' : ''}${clock.offsetMinutes} min now: every server time would be read ${Math.abs(drift)} min off`,
          `set server ${code}'s time zone to the zone its clock runs in (brokerdesk servers add --time-zone …), or correct the server's clock`,
        ),
  );
  out.push(
    result(
      t,
      ids.ip,
      titles.ip,
      'pass',
      `manager ${server.managerLogin} connected from this host, so the server's allow-list admits it`,
      null,
    ),
  );

  // --- accounts: read, then create per product group (MT5) / edit and create (MT4) -----------------------------------
  const ta: Timed = { started: performance.now() };
  const findings: string[] = [];
  const problems: string[] = [];
  let existing: TradingAccount | null = null;
  for (const login of await knownLogins(deps.database, code)) {
    try {
      existing = await platform.getAccount(login);
      break;
    } catch {
      // Deleted on the server, moved out of the manager's groups, or unreadable for another reason: try the next one
      // (whether the manager may read accounts at all is decided by the probe below).
    }
  }
  let readProven = existing !== null;
  let absentLogin: number | null = null;
  for (const candidate of unusedLoginCandidates(server.platform)) {
    try {
      await platform.getAccount(candidate);
    } catch (err) {
      const reason = reasonOf(err);
      if (reason === 'not_found') {
        absentLogin = candidate;
        readProven = true;
        break;
      }
      if (reason === 'no_rights') problems.push(`reading accounts is refused: ${(err as Error).message}`);
      else problems.push(`reading accounts could not be probed: ${(err as Error).message}`);
      break;
    }
  }
  if (readProven) {
    findings.push(
      existing
        ? `reads accounts (account ${existing.login} read back)`
        : `reads accounts (probe login ${absentLogin} answered "not found")`,
    );
    if (existing) {
      try {
        const since = new Date(Date.now() - 86_400_000);
        await platform.findBalanceOperation(existing.login, newReference('deposit'), since);
        findings.push('reads balance history');
      } catch (err) {
        problems.push(`reading history is refused: ${(err as Error).message}`);
      }
    }
  }

  if (server.platform === 'mt4' && absentLogin !== null) {
    try {
      await platform.updateAccount(absentLogin, {});
      problems.push(`the edit probe on login ${absentLogin} (which does not exist) was accepted: check the bridge`);
    } catch (err) {
      const reason = reasonOf(err);
      if (reason === 'no_rights') problems.push(`editing accounts is refused: ${(err as Error).message}`);
      else if (reason === 'not_found') findings.push('edits accounts');
      else problems.push(`editing accounts could not be probed: ${(err as Error).message}`);
    }
  }

  const groupsProbed: string[] = [];
  const groupsNotProbed: string[] = [];
  // A group the server does not have is the product check's finding (the server would answer "no rights" for it).
  let existingGroups: Set<string> | null = null;
  try {
    existingGroups = new Set((await deps.registry.groups(code, { fresh: true })).map((g) => g.name));
  } catch (err) {
    problems.push(`the server's groups cannot be read: ${(err as Error).message}`);
  }
  for (const group of productGroups.filter((g) => existingGroups?.has(g))) {
    if (server.platform === 'mt4' && !existing) {
      groupsNotProbed.push(group);
      continue;
    }
    const password = server.platform === 'mt5' ? 'x' : `Gl${Math.random().toString(36).slice(2, 8)}9`;
    try {
      const created = await platform.openAccount({
        // An existing login makes the refusal certain ("login exists"); MT5 also refuses the one-character password.
        login: existing?.login,
        group,
        name: 'Brokerdesk go-live probe',
        comment: `${newReference('open_account')} go-live probe`,
        leverage: 0,
        enabled: false,
        tradingAllowed: false,
        mainPassword: password,
        investorPassword: password,
      });
      problems.push(
        `the account-creation probe in ${group} was ACCEPTED and created disabled account ${created.login}: delete it on the server, and require strong passwords in that group`,
      );
    } catch (err) {
      const reason = reasonOf(err);
      if (reason === 'no_rights') {
        problems.push(
          `creating accounts in ${group} is refused (no right to create accounts, or ${group} is outside the manager's groups): ${(err as Error).message}`,
        );
      } else if (reasonOf(err) !== null) {
        groupsProbed.push(group);
      } else {
        problems.push(`creating accounts in ${group} could not be probed: ${(err as Error).message}`);
      }
    }
  }
  if (groupsProbed.length > 0) findings.push(`creates accounts in ${groupsProbed.join(', ')}`);
  if (productGroups.length === 0) findings.push('no product uses this server, so no group was probed');
  if (problems.length > 0) {
    out.push(
      result(
        ta,
        ids.accounts,
        titles.accounts,
        'fail',
        [...problems, ...findings].join('; '),
        `give manager ${server.managerLogin} the rights to read, create and edit accounts and put every product group within its group masks (MT5: user read/edit rights and Groups; MT4: "admin" right and group masks)`,
      ),
    );
  } else if (groupsNotProbed.length > 0) {
    out.push(
      result(
        ta,
        ids.accounts,
        titles.accounts,
        'warn',
        `${findings.join('; ')}; creating accounts in ${groupsNotProbed.join(', ')} is not proven: the probe needs an account the CRM opened on ${code}`,
        `open one account on ${code} (the rehearsal does on a demo server; on a live server, a staff member's), then run the check again`,
      ),
    );
  } else {
    out.push(result(ta, ids.accounts, titles.accounts, 'pass', findings.join('; '), null));
  }

  // --- money -------------------------------------------------------------------------------------------------------
  const tm: Timed = { started: performance.now() };
  if (!existing) {
    out.push(
      result(
        tm,
        ids.money,
        titles.money,
        'warn',
        `not proven: the money probe needs an account the CRM opened on ${code}, and there is none yet`,
        server.environment === 'demo'
          ? `run the rehearsal (it opens an account on ${code}), then run the check again`
          : `open a first account on ${code} (e.g. for a staff member), then run the check again; otherwise the first client's deposit is the test`,
      ),
    );
    return out;
  }
  const tooMuch =
    server.platform === 'mt5'
      ? // More than the Web API's 10⁹ limit, and more credit than any account holds.
        -(1_000_000_001 * 10 ** existing.currencyDigits)
      : // More credit than the account holds (MT4's bridge refuses above 10⁹ itself), with an expiry already past.
        -(existing.credit + 1);
  try {
    await platform.postBalanceOperation({
      login: existing.login,
      kind: 'credit',
      amount: tooMuch,
      reference: newReference('credit_out'),
      note: 'go-live probe',
      creditExpiresAt: new Date('2000-01-01T00:00:00Z'),
    });
    out.push(
      result(
        tm,
        ids.money,
        titles.money,
        'fail',
        `the money probe (a credit of ${tooMuch} minor units out of account ${existing.login}) was ACCEPTED by the server`,
        `check account ${existing.login}'s credit on the server and correct it; the server applies no limit to credit operations`,
      ),
    );
  } catch (err) {
    const reason = reasonOf(err);
    if (reason === 'no_rights') {
      out.push(
        result(
          tm,
          ids.money,
          titles.money,
          'fail',
          `balance and credit operations are refused: ${(err as Error).message}`,
          `give manager ${server.managerLogin} the right to post balance operations (MT5: "balance" / dealer right; MT4: "money")`,
        ),
      );
    } else if (err instanceof DefinitiveError && reason !== null) {
      out.push(
        result(
          tm,
          ids.money,
          titles.money,
          'pass',
          `posts balance and credit operations (probe on account ${existing.login} refused on its amount: ${err.reason}, nothing applied)`,
          null,
        ),
      );
    } else {
      out.push(
        result(
          tm,
          ids.money,
          titles.money,
          'fail',
          `the money probe could not be completed: ${(err as Error).message}`,
          `check that ${code} answers reliably, then run the check again`,
        ),
      );
    }
  }
  return out;
}
