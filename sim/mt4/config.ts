/**
 * The MT4 simulator's options and their defaults per environment. A live and a demo server started with defaults
 * have disjoint group names and login ranges, so an account opened on the wrong one is recognisable at a glance.
 * Bad options stop start-up with one message naming every problem.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import type { Environment, SimulatorBaseOptions } from '../common/types.ts';
import { type GroupConfig, RIGHTS, type SymbolConfig, utf8Bytes } from './contract.ts';
import { GroupMask } from './masks.ts';

const INT32_MAX = 2_147_483_647;

export interface LoginRange {
  from: number;
  to: number;
}

export interface Mt4ManagerConfig {
  login: number;
  password: string;
  name?: string;
  /** Any of `admin` (create/edit accounts, passwords), `money` (balance/credit), `see_trades` (read, pumping). */
  rights: readonly ('admin' | 'money' | 'see_trades')[];
  /** Manageable group masks, e.g. `real-*,!real-vip*`. */
  groups: string;
  /** CIDR allow-list (`10.0.0.0/8`, `127.0.0.1`, `::1/128`). Default: any address. */
  ipAllow?: readonly string[];
  /** A disabled manager cannot log in (ret 64). Default true. */
  enabled?: boolean;
}

export type Mt4GroupOptions = Pick<GroupConfig, 'group' | 'currency'> &
  Partial<Omit<GroupConfig, 'group' | 'currency'>> & {
    /** Logins allocated for this group when UserRecordNew passes login 0; default: the server's range. */
    loginRange?: LoginRange;
  };

export type Mt4SymbolOptions = Pick<SymbolConfig, 'symbol' | 'digits' | 'margin_currency' | 'currency'> &
  Partial<Omit<SymbolConfig, 'symbol' | 'digits' | 'margin_currency' | 'currency'>> & {
    /** Opening bid. */
    price: number;
    /** Standard deviation of the bid's relative move per activity step. */
    volatility?: number;
  };

export interface Mt4SimulatorOptions extends SimulatorBaseOptions {
  /** Manager accounts; default: one CRM manager with every right on the environment's client groups. */
  managers?: Mt4ManagerConfig[];
  groups?: Mt4GroupOptions[];
  symbols?: Mt4SymbolOptions[];
  /** The server's login range for UserRecordNew with login 0 (groups may have their own). */
  loginRange?: LoginRange;
  /** The server drops every pumping stream this often (real pumping drops every few hours). 0 = never. Default 3 h. */
  pumpingDropIntervalMs?: number;
  /** Answer the new ticket in TradeTransaction replies (default true); false mimics a DLL that does not. */
  returnTicket?: boolean;
  /** fsync every journal write (power-loss safety; slower). */
  fsync?: boolean;
}

export interface ResolvedGroup extends GroupConfig {
  loginRange?: LoginRange;
}

export interface ResolvedSymbol extends SymbolConfig {
  price: number;
  volatility: number;
}

export interface ResolvedManager {
  login: number;
  password: string;
  name: string;
  rights: ReadonlySet<'admin' | 'money' | 'see_trades'>;
  groups: string;
  mask: GroupMask;
  ipAllow: readonly string[];
  enabled: boolean;
}

export interface Mt4Config {
  name: string;
  environment: Environment;
  host: string;
  port: number;
  seed: number;
  timeZone: string;
  plainHttp: boolean;
  loginRange: LoginRange;
  groups: ResolvedGroup[];
  symbols: ResolvedSymbol[];
  managers: ResolvedManager[];
  pumpingDropIntervalMs: number;
  returnTicket: boolean;
  activityIntervalMs?: number;
}

export class Mt4ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`MT4 simulator options are invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'Mt4ConfigError';
  }
}

const DEFAULT_RANGES: Record<Environment, LoginRange> = {
  live: { from: 100_000, to: 4_999_999 },
  demo: { from: 50_000_000, to: 59_999_999 },
};

/** The default manager's login per environment; outside both login ranges. */
export const DEFAULT_MANAGER_LOGIN: Record<Environment, number> = { live: 1000, demo: 2000 };

function defaultGroups(environment: Environment): Mt4GroupOptions[] {
  if (environment === 'demo') {
    return [
      { group: 'demo-std-usd', currency: 'USD', default_leverage: 100, leverage_max: 1000 },
      { group: 'demo-pro-usd', currency: 'USD', default_leverage: 200, leverage_max: 500, commission_per_lot: 7 },
      { group: 'demo-std-eur', currency: 'EUR', default_leverage: 100, leverage_max: 1000 },
    ];
  }
  return [
    { group: 'real-std-usd', currency: 'USD', default_leverage: 100, leverage_max: 500 },
    { group: 'real-pro-usd', currency: 'USD', default_leverage: 100, leverage_max: 200, commission_per_lot: 7 },
    { group: 'real-std-eur', currency: 'EUR', default_leverage: 100, leverage_max: 500 },
    // Outside the default CRM manager's masks on purpose: dealers manage VIP accounts by hand (and a product mapped
    // to this group must fail loudly with ret 7).
    { group: 'real-vip-usd', currency: 'USD', default_leverage: 200, leverage_max: 500, commission_per_lot: 3.5 },
  ];
}

export const DEFAULT_MANAGER_GROUPS: Record<Environment, string> = { live: 'real-*,!real-vip*', demo: 'demo-*' };

export const DEFAULT_SYMBOLS: Mt4SymbolOptions[] = [
  {
    symbol: 'EURUSD',
    description: 'Euro vs US Dollar',
    digits: 5,
    contract_size: 100_000,
    margin_currency: 'EUR',
    currency: 'USD',
    spread: 12,
    swap_long: -6.5,
    swap_short: 1.2,
    price: 1.085,
    volatility: 0.0009,
  },
  {
    symbol: 'GBPUSD',
    description: 'Great Britain Pound vs US Dollar',
    digits: 5,
    contract_size: 100_000,
    margin_currency: 'GBP',
    currency: 'USD',
    spread: 15,
    swap_long: -4.1,
    swap_short: -0.8,
    price: 1.27,
    volatility: 0.001,
  },
  {
    symbol: 'USDJPY',
    description: 'US Dollar vs Japanese Yen',
    digits: 3,
    contract_size: 100_000,
    margin_currency: 'USD',
    currency: 'JPY',
    spread: 14,
    swap_long: 1500,
    swap_short: -2300,
    price: 151.5,
    volatility: 0.001,
  },
  {
    symbol: 'XAUUSD.m',
    description: 'Gold vs US Dollar (mini contract)',
    digits: 2,
    contract_size: 100,
    margin_currency: 'XAU',
    currency: 'USD',
    spread: 35,
    swap_long: -25,
    swap_short: 12,
    price: 2350,
    volatility: 0.0015,
  },
];

const rangeSchema = z
  .object({ from: z.number().int().min(1).max(INT32_MAX), to: z.number().int().min(1).max(INT32_MAX) })
  .strict()
  .refine((r) => r.from <= r.to, 'from must not exceed to');

const groupSchema = z
  .object({
    group: z
      .string()
      .min(1)
      .refine((g) => utf8Bytes(g) <= 15, 'group names are at most 15 bytes'),
    enable: z.literal([0, 1]).default(1),
    currency: z.string().regex(/^[A-Z]{3}$/, 'a three-letter currency code'),
    digits: z.number().int().min(0).max(8).default(2),
    default_leverage: z.number().int().min(1).default(100),
    leverage_min: z.number().int().min(1).default(1),
    leverage_max: z.number().int().min(1).max(10_000).default(500),
    margin_call: z.number().positive().default(100),
    margin_stopout: z.number().min(0).default(50),
    margin_type: z.literal([0, 1]).default(0),
    commission_per_lot: z.number().min(0).default(0),
    loginRange: rangeSchema.optional(),
  })
  .strict()
  .refine((g) => g.leverage_min <= g.default_leverage && g.default_leverage <= g.leverage_max, {
    message: 'needs leverage_min <= default_leverage <= leverage_max',
  });

const symbolSchema = z
  .object({
    symbol: z
      .string()
      .min(1)
      .refine((s) => utf8Bytes(s) <= 11, 'symbols are at most 11 bytes'),
    description: z.string().default(''),
    digits: z.number().int().min(0).max(8),
    point: z.number().positive().optional(),
    contract_size: z.number().positive().default(100_000),
    margin_currency: z.string().regex(/^[A-Z]{3}$/),
    currency: z.string().regex(/^[A-Z]{3}$/),
    spread: z.number().int().min(0).default(10),
    swap_long: z.number().default(0),
    swap_short: z.number().default(0),
    trade: z.literal([0, 1, 2]).default(2),
    price: z.number().positive(),
    volatility: z.number().min(0).max(0.1).default(0.001),
  })
  .strict();

const managerSchema = z
  .object({
    login: z.number().int().min(1).max(INT32_MAX),
    password: z.string().min(1).max(64),
    name: z.string().default('manager'),
    rights: z.array(z.enum(RIGHTS)),
    groups: z.string(),
    ipAllow: z.array(z.string().refine(isCidr, 'not an IP address or CIDR block')).default(['0.0.0.0/0', '::/0']),
    enabled: z.boolean().default(true),
  })
  .strict();

export function isCidr(value: string): boolean {
  const [address, prefix, ...rest] = value.split('/');
  if (rest.length > 0 || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d+$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

function issues(prefix: string, error: z.ZodError): string[] {
  return error.issues.map((i) => `${[prefix, ...i.path].join('.')}: ${i.message}`);
}

function overlaps(a: LoginRange, b: LoginRange): boolean {
  return a.from <= b.to && b.from <= a.to;
}

/**
 * Validates the options and fills in the environment's defaults. `defaultManagerPassword` is used for the default
 * manager only (it is generated once and kept in the state folder, so a restart keeps it).
 */
export function resolveConfig(options: Mt4SimulatorOptions, defaultManagerPassword: string): Mt4Config {
  const problems: string[] = [];
  const environment = options.environment ?? 'live';
  if (environment !== 'live' && environment !== 'demo')
    problems.push(`environment: "live" or "demo", not ${environment}`);

  const loginRangeParsed = rangeSchema.safeParse(options.loginRange ?? DEFAULT_RANGES[environment]);
  if (!loginRangeParsed.success) problems.push(...issues('loginRange', loginRangeParsed.error));
  const loginRange = loginRangeParsed.data ?? DEFAULT_RANGES.live;

  const groups: ResolvedGroup[] = [];
  for (const [i, g] of (options.groups ?? defaultGroups(environment)).entries()) {
    const parsed = groupSchema.safeParse(g);
    if (!parsed.success) problems.push(...issues(`groups[${i}]`, parsed.error));
    else groups.push(parsed.data);
  }
  if (groups.length === 0 && problems.length === 0) problems.push('groups: at least one group is needed');
  const names = new Set<string>();
  for (const g of groups) {
    if (names.has(g.group)) problems.push(`groups: "${g.group}" is defined twice`);
    names.add(g.group);
  }
  const ranged = groups.filter((g) => g.loginRange);
  for (const [i, g] of ranged.entries()) {
    if (overlaps(g.loginRange!, loginRange)) problems.push(`groups: ${g.group}'s loginRange overlaps the server's`);
    for (const other of ranged.slice(i + 1)) {
      if (overlaps(g.loginRange!, other.loginRange!)) {
        problems.push(`groups: ${g.group}'s loginRange overlaps ${other.group}'s`);
      }
    }
  }

  const symbols: ResolvedSymbol[] = [];
  for (const [i, s] of (options.symbols ?? DEFAULT_SYMBOLS).entries()) {
    const parsed = symbolSchema.safeParse(s);
    if (!parsed.success) problems.push(...issues(`symbols[${i}]`, parsed.error));
    else symbols.push({ ...parsed.data, point: parsed.data.point ?? 10 ** -parsed.data.digits });
  }
  if (new Set(symbols.map((s) => s.symbol)).size !== symbols.length)
    problems.push('symbols: a symbol is defined twice');
  // Every money amount ends in the group currency, so each currency involved must be convertible through a USD pair.
  const convertible = new Set(['USD']);
  for (const s of symbols) {
    if (s.currency === 'USD') convertible.add(s.margin_currency);
    if (s.margin_currency === 'USD') convertible.add(s.currency);
  }
  for (const g of groups) {
    if (!convertible.has(g.currency)) problems.push(`groups: ${g.group}'s currency ${g.currency} has no USD symbol`);
  }
  for (const s of symbols) {
    for (const c of [s.currency, s.margin_currency]) {
      if (!convertible.has(c)) problems.push(`symbols: ${s.symbol}'s currency ${c} has no USD symbol`);
    }
  }

  const managerInputs = options.managers ?? [
    {
      login: DEFAULT_MANAGER_LOGIN[environment],
      password: defaultManagerPassword,
      name: 'CRM manager',
      rights: [...RIGHTS],
      groups: DEFAULT_MANAGER_GROUPS[environment],
    },
  ];
  const managers: ResolvedManager[] = [];
  for (const [i, m] of managerInputs.entries()) {
    const parsed = managerSchema.safeParse(m);
    if (!parsed.success) {
      problems.push(...issues(`managers[${i}]`, parsed.error));
      continue;
    }
    const data = parsed.data;
    const inRange = [loginRange, ...ranged.map((g) => g.loginRange!)].some(
      (r) => data.login >= r.from && data.login <= r.to,
    );
    if (inRange) problems.push(`managers[${i}]: login ${data.login} lies inside a client login range`);
    managers.push({ ...data, rights: new Set(data.rights), mask: new GroupMask(data.groups) });
  }
  if (new Set(managers.map((m) => m.login)).size !== managers.length) problems.push('managers: a login is used twice');
  if (managers.length === 0 && problems.length === 0) problems.push('managers: at least one manager is needed');

  if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)) {
    problems.push('port: an integer from 0 to 65535');
  }
  const dropInterval = options.pumpingDropIntervalMs ?? 3 * 3600_000;
  if (!Number.isFinite(dropInterval) || dropInterval < 0) problems.push('pumpingDropIntervalMs: 0 or more');
  if (options.activityIntervalMs !== undefined && !(options.activityIntervalMs > 0)) {
    problems.push('activityIntervalMs: a positive number of milliseconds');
  }

  if (problems.length > 0) throw new Mt4ConfigError(problems);
  groups.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  symbols.sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  return {
    name: options.name ?? `mt4-${environment}`,
    environment,
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    seed: options.seed ?? 1,
    timeZone: options.timeZone ?? 'Europe/Nicosia',
    plainHttp: options.plainHttp ?? false,
    loginRange,
    groups,
    symbols,
    managers,
    pumpingDropIntervalMs: dropInterval,
    returnTicket: options.returnTicket ?? true,
    ...(options.activityIntervalMs !== undefined ? { activityIntervalMs: options.activityIntervalMs } : {}),
  };
}
