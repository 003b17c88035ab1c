/**
 * Trading accounts: create, update (read-modify-write, as the server does it), delete, passwords. Shared by the Web
 * API (where a manager's rights and group masks apply) and the dealer console (which acts as the server's admin).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SimClock } from '../common/clock.ts';
import type { GroupBook, Mt5Group, Mt5Manager } from './config.ts';
import { groupMatches } from './masks.ts';
import { DEFAULT_USER_RIGHTS, type UserRecord } from './model.ts';
import type { Params } from './params.ts';
import { fail, Mt5Error, Retcode } from './retcodes.ts';
import type { Mt5State } from './state.ts';

export const PASSWORD_MAX = 16;
export type PasswordType = 'main' | 'investor' | 'api';

/** Free-text fields a client record carries: wire key (normalised) → record field and the server's length cap. */
const TEXT_FIELDS = [
  ['email', 'email', 63],
  ['country', 'country', 31],
  ['city', 'city', 31],
  ['state', 'state', 31],
  ['zipcode', 'zipCode', 15],
  ['address', 'address', 127],
  ['phone', 'phone', 31],
  ['company', 'company', 63],
  ['id', 'idNumber', 31],
  ['status', 'status', 15],
  ['comment', 'comment', 63],
  ['mqid', 'mqid', 15],
  ['account', 'account', 31],
  ['leadsource', 'leadSource', 31],
  ['leadcampaign', 'leadCampaign', 31],
] as const satisfies readonly (readonly [string, keyof UserRecord, number])[];

const NAME_MAX = 127;

/** MT5's rule: 8 (or the group's minimum) to 16 characters, with lower case, upper case, a digit and a special. */
export function passwordIsStrong(password: string, minimum = 8): boolean {
  return (
    password.length >= Math.max(8, minimum) &&
    password.length <= PASSWORD_MAX &&
    /[a-z]/.test(password) &&
    /[A-Z]/.test(password) &&
    /\d/.test(password) &&
    /[^A-Za-z0-9]/.test(password)
  );
}

function hashPassword(salt: string, password: string): string {
  return createHash('sha256').update(`${salt}:${password}`).digest('hex');
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

export function parsePasswordType(text: string | undefined): PasswordType {
  const t = (text ?? 'main').toLowerCase();
  if (t !== 'main' && t !== 'investor' && t !== 'api') fail(Retcode.ERR_PARAMS, 'type must be main, investor or api');
  return t;
}

/** A parameter read leniently: user/update ignores values it cannot use instead of failing (MetaQuotes' rule). */
function lenientInt(params: Params, name: string): number | undefined {
  try {
    return params.int(name);
  } catch (err) {
    if (err instanceof Mt5Error) return undefined;
    throw err;
  }
}

export class UserService {
  constructor(
    private readonly state: Mt5State,
    private readonly groups: GroupBook,
    private readonly clock: SimClock,
    /** Manager logins: a client account may not take one. */
    private readonly reservedLogins: ReadonlySet<number>,
  ) {}

  /** Whether a manager (null = the dealer console, which sees everything) may act on a group. */
  canAccess(manager: Mt5Manager | null, groupName: string): boolean {
    return manager === null || groupMatches(manager.groups, groupName);
  }

  /** The user if it exists and the manager may see it: 13 if absent, 8 if outside the manager's groups. */
  get(login: number, manager: Mt5Manager | null): UserRecord {
    const user = this.state.users.get(login) ?? fail(Retcode.ERR_NOTFOUND, `no account ${login}`);
    if (!this.canAccess(manager, user.group))
      fail(Retcode.ERR_PERMISSIONS, `account ${login} is outside the manager's groups`);
    return user;
  }

  /** `/api/user/add`: 8 no such group or not permitted, 3004 login taken, 3006 weak password, 3 bad data. */
  add(params: Params, manager: Mt5Manager | null): UserRecord {
    const groupName = params.requireString('group');
    const name = params.requireString('name').trim().slice(0, NAME_MAX);
    const leverage = params.requireInt('leverage');
    const requestedLogin = params.int('login') ?? 0;
    const rights = params.int('rights') ?? DEFAULT_USER_RIGHTS;
    const agent = params.int('agent') ?? 0;
    const language = params.int('language') ?? 0;
    const color = params.int('color') ?? 0xff000000;
    if (name === '') fail(Retcode.ERR_PARAMS, 'name is required');
    if (requestedLogin < 0 || rights < 0 || agent < 0)
      fail(Retcode.ERR_PARAMS, 'login, rights and agent cannot be negative');

    const group = this.groups.get(groupName);
    if (!group) fail(Retcode.ERR_PERMISSIONS, `no group ${groupName}`);
    if (!this.canAccess(manager, group.name))
      fail(Retcode.ERR_PERMISSIONS, `group ${group.name} is outside the manager's groups`);
    if (requestedLogin > 0 && (this.state.users.has(requestedLogin) || this.reservedLogins.has(requestedLogin))) {
      fail(Retcode.USR_LOGIN_EXIST, `login ${requestedLogin} exists`);
    }
    const passMain = params.string('passmain') ?? '';
    const passInvestor = params.string('passinvestor') ?? '';
    if (!passwordIsStrong(passMain, group.passwordMin) || !passwordIsStrong(passInvestor, group.passwordMin)) {
      fail(Retcode.USR_INVALID_PASSWORD, 'passwords need 8–16 characters with lower, upper, digit and special');
    }
    if (!this.leverageFits(leverage, group)) {
      fail(Retcode.ERR_PARAMS, `leverage ${leverage} is outside ${group.leverageMin}–${group.leverageMax}`);
    }

    const login = requestedLogin > 0 ? requestedLogin : this.allocateLogin(group);
    const now = this.clock.now();
    const salt = randomBytes(8).toString('hex');
    const user: UserRecord = {
      login,
      group: group.name,
      name,
      email: '',
      country: '',
      city: '',
      state: '',
      zipCode: '',
      address: '',
      phone: '',
      company: '',
      idNumber: '',
      status: '',
      comment: '',
      language,
      mqid: '',
      color,
      account: '',
      leadSource: '',
      leadCampaign: '',
      leverage,
      rights,
      agent,
      balance: 0,
      credit: 0,
      registration: now,
      lastAccess: now,
      lastPassChange: now,
      passwords: { salt, main: hashPassword(salt, passMain), investor: hashPassword(salt, passInvestor) },
    };
    this.applyText(user, params);
    return this.state.putUser(user);
  }

  /**
   * `/api/user/update`: read-modify-write of the given fields. As MetaQuotes documents, a value the server cannot use
   * (bad leverage, non-numeric rights) leaves that field unchanged rather than failing; a group move is checked
   * strictly (8 unknown or not permitted, 3010 different currency with money, 3008 margin mode with open trades).
   */
  update(params: Params, manager: Mt5Manager | null): UserRecord {
    const login = params.requireInt('login');
    const current = this.get(login, manager);
    const next: UserRecord = { ...current };

    const groupName = params.string('group')?.trim();
    if (groupName && groupName.toLowerCase() !== current.group.toLowerCase()) {
      const target = this.groups.get(groupName);
      if (!target || !this.canAccess(manager, target.name))
        fail(Retcode.ERR_PERMISSIONS, `cannot move to group ${groupName}`);
      this.assertCanMove(current, target);
      next.group = target.name;
    }
    const group = this.groups.get(next.group);
    const name = params.string('name')?.trim();
    if (name) next.name = name.slice(0, NAME_MAX);
    const leverage = lenientInt(params, 'leverage');
    if (leverage !== undefined && group && this.leverageFits(leverage, group)) next.leverage = leverage;
    const rights = lenientInt(params, 'rights');
    if (rights !== undefined && rights >= 0) next.rights = rights;
    const agent = lenientInt(params, 'agent');
    if (agent !== undefined && agent >= 0) next.agent = agent;
    const language = lenientInt(params, 'language');
    if (language !== undefined && language >= 0) next.language = language;
    const color = lenientInt(params, 'color');
    if (color !== undefined && color >= 0) next.color = color;
    this.applyText(next, params);
    return this.state.putUser(next);
  }

  /** The server's rules for moving an account between groups (used by user/update and the dealer console). */
  assertCanMove(user: UserRecord, target: Mt5Group): void {
    const from = this.groups.get(user.group);
    const open = this.state.positionsOf(user.login).length + this.state.ordersOf(user.login).length;
    if (from && from.currency !== target.currency && (user.balance !== 0 || user.credit !== 0 || open > 0)) {
      fail(
        Retcode.USR_DIFFERENT_CURRENCY,
        `${user.group} (${from.currency}) → ${target.name} (${target.currency}) with money`,
      );
    }
    if (from && from.marginMode !== target.marginMode && open > 0) {
      fail(Retcode.USR_HAS_TRADES, 'cannot change margin mode with open positions or orders');
    }
  }

  /** `/api/user/delete`: 13 absent, 8 not permitted, 3008 while positions or orders are open. History stays. */
  delete(login: number, manager: Mt5Manager | null): void {
    const user = this.get(login, manager);
    if (this.state.positionsOf(login).length > 0 || this.state.ordersOf(login).length > 0) {
      fail(Retcode.USR_HAS_TRADES, `account ${login} has open positions or orders`);
    }
    this.state.users.delete(user.login);
  }

  changePassword(login: number, type: PasswordType, password: string, manager: Mt5Manager | null): void {
    const user = this.get(login, manager);
    const group = this.groups.get(user.group);
    if (!passwordIsStrong(password, group?.passwordMin)) fail(Retcode.USR_INVALID_PASSWORD, 'weak password');
    const passwords = { ...user.passwords, [type]: hashPassword(user.passwords.salt, password) };
    this.state.putUser({ ...user, passwords, lastPassChange: this.clock.now() });
  }

  /** 0 when the password matches, 3006 otherwise (also for an API password that was never set). */
  checkPassword(login: number, type: PasswordType, password: string, manager: Mt5Manager | null): void {
    const user = this.get(login, manager);
    const stored = user.passwords[type];
    if (!stored || !sameHash(stored, hashPassword(user.passwords.salt, password))) {
      fail(Retcode.USR_INVALID_PASSWORD, 'password does not match');
    }
  }

  leverageFits(leverage: number, group: Mt5Group): boolean {
    return Number.isInteger(leverage) && leverage >= group.leverageMin && leverage <= group.leverageMax;
  }

  private allocateLogin(group: Mt5Group): number {
    const counter = this.state.loginCounter(group);
    for (;;) {
      const login = counter.next();
      if (login > group.loginTo) fail(Retcode.USR_LOGIN_EXHAUSTED, `group ${group.name} has no free logins`);
      if (!this.state.users.has(login) && !this.reservedLogins.has(login)) return login;
    }
  }

  private applyText(user: UserRecord, params: Params): void {
    const record = user as unknown as Record<string, unknown>;
    for (const [key, field, max] of TEXT_FIELDS) {
      const value = params.string(key);
      if (value !== undefined) record[field] = value.slice(0, max);
    }
  }
}
