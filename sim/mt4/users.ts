/**
 * Trading accounts (MT4 UserRecord): creation with login allocation, read-modify-write updates, passwords, reads.
 * The rules a real server enforces and a connector must survive live here: field widths, known and manageable groups,
 * leverage limits, no balance at creation, comments cut rather than refused.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { invalidData, Mt4Error, noSuchAccount, notEnoughRights, RET } from './codes.ts';
import type { Mt4Config, ResolvedGroup } from './config.ts';
import type { CallArgs, UserRecord } from './contract.ts';
import type { GroupMask } from './masks.ts';
import type { PumpingChange } from './pumping.ts';
import type { ServerClock } from './server-clock.ts';
import type { GroupScope } from './session.ts';
import type { Mt4State, StoredUser } from './state.ts';

/** Cuts text to at most `maxBytes` of UTF-8 without splitting a character, as MT4 cuts comments into char[N+1]. */
export function cutToBytes(value: string, maxBytes: number): string {
  if (Buffer.byteLength(value, 'utf8') <= maxBytes) return value;
  let out = '';
  let used = 0;
  for (const ch of value) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (used + size > maxBytes) break;
    out += ch;
    used += size;
  }
  return out;
}

/** The bridge's password rules (documented in the contract); returns the first rule broken, or undefined. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < 6) return 'a password needs at least 6 characters';
  if (password.length > 15) return 'a password has at most 15 characters (MT4 keeps 15)';
  if (!/^[\x21-\x7e]+$/.test(password)) return 'a password uses printable ASCII characters only, without spaces';
  if (!/[A-Za-z]/.test(password)) return 'a password needs at least one letter';
  if (!/[0-9]/.test(password)) return 'a password needs at least one digit';
  return undefined;
}

function hashPassword(password: string): string {
  const salt = randomBytes(12).toString('hex');
  return `${salt}:${createHash('sha256').update(`${salt}:${password}`).digest('hex')}`;
}

function passwordMatches(password: string, stored: string): boolean {
  const [salt, digest] = stored.split(':') as [string, string];
  const given = createHash('sha256').update(`${salt}:${password}`).digest();
  return timingSafeEqual(given, Buffer.from(digest, 'hex'));
}

/** The public UserRecord (without the password hashes). */
export function publicUser(user: StoredUser): UserRecord {
  const { secret: _secret, ...record } = user;
  return record;
}

const UPDATABLE_FIELDS = [
  'group',
  'name',
  'email',
  'country',
  'city',
  'state',
  'zipcode',
  'address',
  'phone',
  'id',
  'status',
  'comment',
  'leverage',
  'enable',
  'enable_read_only',
  'enable_change_password',
  'send_reports',
  'agent_account',
] as const;

export type UserUpdate = Partial<Pick<UserRecord, (typeof UPDATABLE_FIELDS)[number]>>;

export class UserDirectory {
  private readonly groups: Map<string, ResolvedGroup>;
  private readonly managerLogins: Set<number>;

  constructor(
    private readonly config: Mt4Config,
    private readonly state: Mt4State,
    private readonly clock: ServerClock,
    private readonly publish: (change: PumpingChange) => void,
  ) {
    this.groups = new Map(config.groups.map((g) => [g.group, g]));
    this.managerLogins = new Set(config.managers.map((m) => m.login));
  }

  group(name: string): ResolvedGroup | undefined {
    return this.groups.get(name);
  }

  /** A group the actor may put accounts into: it must exist (3) and match the actor's masks (7). */
  private manageableGroup(name: string, scope: GroupScope): ResolvedGroup {
    const group = this.groups.get(name);
    if (!group) throw invalidData(`group "${name}" does not exist on this server`);
    if (!scope(name)) throw notEnoughRights(`group "${name}" is outside this manager's groups`);
    return group;
  }

  /** An existing account the actor may see or change: unknown → 65, outside the actor's groups → 7. */
  account(login: number, scope: GroupScope): StoredUser {
    const user = this.state.user(login);
    if (!user) throw noSuchAccount(login);
    if (!scope(user.group)) throw notEnoughRights(`account ${login} is in a group outside this manager's groups`);
    return user;
  }

  create(args: CallArgs<'UserRecordNew'>, scope: GroupScope): StoredUser {
    if ((args.balance ?? 0) !== 0 || (args.credit ?? 0) !== 0) {
      throw invalidData(
        'balance and credit cannot be set at creation: create the account, then deposit with TradeTransaction ' +
          '(type 83, cmd 6)',
      );
    }
    const group = this.manageableGroup(args.group, scope);
    const weak = passwordProblem(args.password);
    if (weak) throw invalidData(`password: ${weak}`);
    if (args.password_investor !== undefined) {
      const weakInvestor = passwordProblem(args.password_investor);
      if (weakInvestor) throw invalidData(`password_investor: ${weakInvestor}`);
    }
    const leverage = args.leverage ? args.leverage : group.default_leverage;
    this.checkLeverage(leverage, group);

    let login = args.login ?? 0;
    if (login === 0) {
      login = this.state.allocateLogin(group.loginRange ?? this.config.loginRange, (l) => this.managerLogins.has(l));
    } else if (this.state.user(login) || this.managerLogins.has(login)) {
      throw new Mt4Error(RET.ERROR, `login ${login} already exists`);
    }

    const now = this.clock.now();
    const user: StoredUser = {
      login,
      group: group.group,
      name: args.name,
      email: args.email ?? '',
      country: args.country ?? '',
      city: args.city ?? '',
      state: args.state ?? '',
      zipcode: args.zipcode ?? '',
      address: args.address ?? '',
      phone: args.phone ?? '',
      id: args.id ?? '',
      status: args.status ?? '',
      comment: cutToBytes(args.comment ?? '', 63),
      leverage,
      enable: args.enable ?? 1,
      enable_read_only: args.enable_read_only ?? 0,
      enable_change_password: args.enable_change_password ?? 1,
      send_reports: args.send_reports ?? 1,
      agent_account: args.agent_account ?? 0,
      balance: 0,
      credit: 0,
      regdate: now,
      timestamp: now,
      secret: {
        main: hashPassword(args.password),
        investor: args.password_investor === undefined ? null : hashPassword(args.password_investor),
      },
    };
    this.state.saveUser(user);
    this.publish({ type: 'user_add', group: user.group, user: publicUser(user) });
    return user;
  }

  /**
   * Read-modify-write of the fields given; the others keep the server's current values. Returns `changed: false`
   * (ret 1) when every given field already had that value, in which case nothing is written or pumped.
   */
  update(login: number, changes: UserUpdate, scope: GroupScope): { user: StoredUser; changed: boolean } {
    const current = this.account(login, scope);
    const next: StoredUser = { ...current };
    for (const field of UPDATABLE_FIELDS) {
      const value = changes[field];
      if (value !== undefined) (next as unknown as Record<string, unknown>)[field] = value;
    }
    if (changes.comment !== undefined) next.comment = cutToBytes(changes.comment, 63);

    const targetGroup =
      next.group === current.group ? this.groups.get(next.group) : this.manageableGroup(next.group, scope);
    if (!targetGroup) throw invalidData(`group "${next.group}" does not exist on this server`);
    if (next.group !== current.group) {
      const from = this.groups.get(current.group);
      const holdsMoney = current.balance !== 0 || current.credit !== 0 || this.state.openTradesOf(login).length > 0;
      if (from && from.currency !== targetGroup.currency && holdsMoney) {
        throw invalidData(
          `cannot move account ${login} from ${from.group} (${from.currency}) to ${targetGroup.group} ` +
            `(${targetGroup.currency}) while it holds money or open trades`,
        );
      }
    }
    if (changes.leverage !== undefined || next.group !== current.group) this.checkLeverage(next.leverage, targetGroup);

    const changed = UPDATABLE_FIELDS.some((f) => next[f] !== current[f]);
    if (!changed) return { user: current, changed: false };
    next.timestamp = this.clock.now();
    this.state.saveUser(next);
    this.publish({
      type: 'user_update',
      group: next.group,
      ...(next.group !== current.group ? { previousGroup: current.group } : {}),
      user: publicUser(next),
    });
    return { user: next, changed: true };
  }

  setPassword(login: number, password: string, investor: boolean, scope: GroupScope): void {
    const user = this.account(login, scope);
    const weak = passwordProblem(password);
    if (weak) throw invalidData(`password: ${weak}`);
    const secret = { ...user.secret, [investor ? 'investor' : 'main']: hashPassword(password) };
    this.state.saveUser({ ...user, secret });
  }

  checkPassword(login: number, password: string, investor: boolean, scope: GroupScope): void {
    const user = this.account(login, scope);
    if (user.enable === 0) throw new Mt4Error(RET.ACCOUNT_DISABLED, `account ${login} is disabled`);
    const stored = investor ? user.secret.investor : user.secret.main;
    if (!stored || !passwordMatches(password, stored)) {
      throw new Mt4Error(RET.BAD_ACCOUNT_INFO, `wrong ${investor ? 'investor' : 'main'} password for ${login}`);
    }
  }

  /** Accounts by login in request order; unknown and unmanageable logins are left out, as the DLL does. */
  many(logins: readonly number[], scope: GroupScope): StoredUser[] {
    const out: StoredUser[] = [];
    for (const login of logins) {
      const user = this.state.user(login);
      if (user && scope(user.group)) out.push(user);
    }
    return out;
  }

  list(scope: GroupScope, mask?: GroupMask): StoredUser[] {
    return this.state.allUsers().filter((u) => scope(u.group) && (!mask || mask.matches(u.group)));
  }

  private checkLeverage(leverage: number, group: ResolvedGroup): void {
    if (leverage < group.leverage_min || leverage > group.leverage_max) {
      throw invalidData(
        `leverage 1:${leverage} is outside ${group.group}'s limits 1:${group.leverage_min}..1:${group.leverage_max}`,
      );
    }
  }
}
