/**
 * The server's configuration: groups and manager accounts, with the defaults each environment starts with.
 *
 * Live and demo use different group prefixes (`real\…` vs `demo\…`) and disjoint login ranges, so an account opened on
 * the wrong server can never be mistaken for one on the right server. Each environment has a USD hedging group, an
 * EUR netting group, a JPY group (0 currency digits) and a VIP group the default CRM manager may not touch.
 */
import type { Environment } from '../common/types.ts';
import { IpAllowList } from './masks.ts';
import { MarginMode, type MarginModeValue } from './model.ts';

/** Currencies the price feed can convert between (see market.ts); a group must use one of them. */
export const SUPPORTED_CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY'] as const;

export interface Mt5GroupInput {
  /** Path-style name, e.g. `real\standard-usd`. */
  name: string;
  currency: string;
  currencyDigits?: number;
  marginMode?: 'netting' | 'hedging';
  leverageMin?: number;
  leverageMax?: number;
  /** Logins allocated for new accounts in this group (inclusive range). */
  loginFrom?: number;
  loginTo?: number;
  company?: string;
  /** Margin call and stop-out levels in percent. */
  marginCall?: number;
  marginStopOut?: number;
  /** Minimum password length (MT5 never goes below 8). */
  passwordMin?: number;
}

export interface Mt5Group {
  name: string;
  currency: string;
  currencyDigits: number;
  marginMode: MarginModeValue;
  leverageMin: number;
  leverageMax: number;
  loginFrom: number;
  loginTo: number;
  company: string;
  marginCall: number;
  marginStopOut: number;
  passwordMin: number;
}

/**
 * Manager rights, modelled as a set (the real server has ~100 flags; these are the ones a CRM's calls depend on).
 * `accounts_read` reads users and their trade state, `accounts_write` creates and edits them, `accounts_delete`
 * deletes, `passwords` checks and changes passwords, `balance` posts balance operations, `trades_read` reads deals,
 * orders, positions and history.
 */
export const managerRights = [
  'accounts_read',
  'accounts_write',
  'accounts_delete',
  'passwords',
  'balance',
  'trades_read',
] as const;
export type ManagerRight = (typeof managerRights)[number];

export interface Mt5ManagerInput {
  login: number;
  password: string;
  /** Default: every right. */
  rights?: ManagerRight[];
  /** Group masks, e.g. `['real\\*', '!real\\vip*']`. Default: every group of the environment except VIP ones. */
  groups?: string[];
  /** Allowed client addresses (CIDR, address or range). Default: any. */
  ipAllow?: string[];
  /** Shown in the banner, e.g. "read-only". */
  description?: string;
}

export interface Mt5Manager {
  login: number;
  password: string;
  rights: ReadonlySet<ManagerRight>;
  groups: string[];
  ip: IpAllowList;
  description: string;
}

const ENV_PREFIX: Record<Environment, string> = { live: 'real', demo: 'demo' };
/** Disjoint per environment: live accounts are 7-digit logins starting with 1–4, demo ones with 5–9. */
const ENV_LOGINS: Record<Environment, { from: number; to: number }> = {
  live: { from: 1_000_000, to: 4_999_999 },
  demo: { from: 5_000_000, to: 9_999_999 },
};

export function defaultGroups(environment: Environment): Mt5GroupInput[] {
  const p = ENV_PREFIX[environment];
  const range = ENV_LOGINS[environment];
  const common = { loginFrom: range.from, loginTo: range.to, leverageMin: 1, company: 'Brokerdesk Simulated Ltd' };
  return [
    {
      ...common,
      name: `${p}\\standard-usd`,
      currency: 'USD',
      currencyDigits: 2,
      marginMode: 'hedging',
      leverageMax: 500,
    },
    { ...common, name: `${p}\\pro-eur`, currency: 'EUR', currencyDigits: 2, marginMode: 'netting', leverageMax: 200 },
    {
      ...common,
      name: `${p}\\standard-jpy`,
      currency: 'JPY',
      currencyDigits: 0,
      marginMode: 'hedging',
      leverageMax: 500,
    },
    { ...common, name: `${p}\\vip-usd`, currency: 'USD', currencyDigits: 2, marginMode: 'hedging', leverageMax: 1000 },
  ];
}

/** The default CRM manager's reach: the environment's groups minus the restricted VIP ones. */
export function defaultManagerMasks(environment: Environment): string[] {
  const p = ENV_PREFIX[environment];
  return [`${p}\\*`, `!${p}\\vip*`];
}

export function resolveGroup(input: Mt5GroupInput, environment: Environment): Mt5Group {
  const range = ENV_LOGINS[environment];
  const group: Mt5Group = {
    name: input.name,
    currency: input.currency.toUpperCase(),
    currencyDigits: input.currencyDigits ?? (input.currency.toUpperCase() === 'JPY' ? 0 : 2),
    marginMode: input.marginMode === 'netting' ? MarginMode.NETTING : MarginMode.HEDGING,
    leverageMin: input.leverageMin ?? 1,
    leverageMax: input.leverageMax ?? 500,
    loginFrom: input.loginFrom ?? range.from,
    loginTo: input.loginTo ?? range.to,
    company: input.company ?? 'Brokerdesk Simulated Ltd',
    marginCall: input.marginCall ?? 100,
    marginStopOut: input.marginStopOut ?? 50,
    passwordMin: Math.max(8, input.passwordMin ?? 8),
  };
  const problems: string[] = [];
  if (!/^[^\s,*!]+$/.test(group.name)) problems.push('name must be non-empty, without spaces, commas, * or !');
  if (!(SUPPORTED_CURRENCIES as readonly string[]).includes(group.currency)) {
    problems.push(`currency must be one of ${SUPPORTED_CURRENCIES.join(', ')}`);
  }
  if (!Number.isInteger(group.currencyDigits) || group.currencyDigits < 0 || group.currencyDigits > 8) {
    problems.push('currencyDigits must be an integer 0–8');
  }
  if (!(group.leverageMin >= 1 && group.leverageMax >= group.leverageMin && group.leverageMax <= 10_000)) {
    problems.push('leverage limits must satisfy 1 ≤ min ≤ max ≤ 10000');
  }
  if (!(Number.isSafeInteger(group.loginFrom) && group.loginFrom > 0 && group.loginTo >= group.loginFrom)) {
    problems.push('login range must be positive integers with from ≤ to');
  }
  if (problems.length > 0) throw new RangeError(`MT5 group "${input.name}": ${problems.join('; ')}`);
  return group;
}

export function resolveManager(input: Mt5ManagerInput, environment: Environment): Mt5Manager {
  if (!Number.isSafeInteger(input.login) || input.login <= 0)
    throw new RangeError('manager login must be a positive integer');
  if (!input.password) throw new RangeError(`manager ${input.login}: password must not be empty`);
  for (const r of input.rights ?? []) {
    if (!(managerRights as readonly string[]).includes(r)) {
      throw new RangeError(`manager ${input.login}: unknown right "${r}" (known: ${managerRights.join(', ')})`);
    }
  }
  return {
    login: input.login,
    password: input.password,
    rights: new Set(input.rights ?? managerRights),
    groups: input.groups ?? defaultManagerMasks(environment),
    ip: new IpAllowList(input.ipAllow ?? ['0.0.0.0/0', '::/0']),
    description: input.description ?? '',
  };
}

/** The configured groups, looked up case-insensitively (MT5 group names are), in configuration order. */
export class GroupBook {
  private readonly byName = new Map<string, Mt5Group>();

  constructor(readonly list: readonly Mt5Group[]) {
    for (const g of list) {
      const key = g.name.toLowerCase();
      if (this.byName.has(key)) throw new RangeError(`MT5 group "${g.name}" is configured twice`);
      this.byName.set(key, g);
    }
  }

  get(name: string): Mt5Group | undefined {
    return this.byName.get(name.toLowerCase());
  }
}
