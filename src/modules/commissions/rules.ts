/**
 * A commission plan version's rules, and the exact arithmetic every commission line is computed with.
 *
 * ## Rules (one JSON document per plan version, never changed once written)
 *
 * ```json
 * {
 *   "symbolGroups": { "fx_majors": ["EURUSD", "GBPUSD"], "metals": ["XAUUSD"], "indices": ["US30", "GER40"] },
 *   "perLot": [
 *     { "fromLots": "0",   "rates": { "fx_majors": "5",   "metals": "8",  "other": "2" } },
 *     { "fromLots": "500", "rates": { "fx_majors": "6.5", "metals": "10", "other": "2.5" } }
 *   ],
 *   "revenueShare": { "percent": "20", "basis": "commission" },
 *   "overrides": [
 *     { "level": 1, "perLot": { "fx_majors": "1", "other": "0.5" } },
 *     { "level": 2, "percentOfDirect": "10" }
 *   ]
 * }
 * ```
 *
 * - `symbolGroups` maps base symbols (see symbols.ts) to a group; any other symbol is in the group `other`.
 * - `perLot`: amounts in the plan's currency (major units, e.g. "6.5" USD) per lot closed, by group, in volume tiers:
 *   the tier is the one with the highest `fromLots` not above the partner's counted volume earlier in the same
 *   calendar month (UTC, by close time). A tier keeps the rates of the tier below for groups it does not list; a
 *   group without any rate earns nothing per lot.
 * - `revenueShare`: a percent of the broker's revenue on each trade. Revenue is the commission the client was charged
 *   on the closing record (`basis: "commission"`), plus, with `"commission_and_client_loss"`, the client's loss on
 *   it (−(profit + swap) when that is positive; a winning trade adds nothing, so a line is never negative). Applied
 *   only when the trading account's currency is the plan's (no conversion is guessed).
 * - `overrides`: what a master IB on this plan earns on the trades of sub-IBs `level` steps below (1 = the direct
 *   sub-IB's clients), per lot by group and/or as a percent of the direct partner's line amount for the trade.
 *
 * ## Money
 *
 * A line's amount is `perLotRate × countedVolume / 10 000 + revenue × percent / 100` (level 0) or
 * `perLotRate × countedVolume / 10 000 + directAmount × percent / 100` (overrides), computed exactly (rates are
 * decimals, volumes and revenues integers: the value is a terminating decimal) and rounded once, half to even, to
 * the plan currency's minor unit. Rates are stored on each line in minor units per lot, so a line can be checked by
 * hand: 0.37 lots at 6.50 USD = 0.37 × 650 = 240.5 cents → 240.
 */
import { z } from 'zod';
import { currencyDigits } from '../funding/fx.ts';

export const MAX_OVERRIDE_LEVELS = 10;
export const OTHER_GROUP = 'other';
/** Stored volumes are lots × this. */
export const VOLUME_PER_LOT = 10_000;

const decimal = (what: string) =>
  z
    .string()
    .trim()
    .regex(/^[0-9]{1,9}(\.[0-9]{1,6})?$/, `${what}: a non-negative decimal with up to 6 decimals, such as "6.5"`);
const groupName = z
  .string()
  .trim()
  .regex(/^[a-z][a-z0-9_]{0,39}$/, 'a group name: lower-case letters, digits and _, such as fx_majors');
const baseSymbol = z
  .string()
  .trim()
  .min(1)
  .max(32)
  .transform((s) => s.toUpperCase());
const rates = z.record(groupName, decimal('a rate per lot'));

export const planRulesInput = z
  .object({
    symbolGroups: z.record(groupName, z.array(baseSymbol).max(2000)).default({}),
    perLot: z
      .array(z.object({ fromLots: decimal('fromLots'), rates }).strict())
      .max(20)
      .default([]),
    revenueShare: z
      .object({
        percent: decimal('percent').refine((p) => Number(p) <= 100, 'at most 100'),
        basis: z.enum(['commission', 'commission_and_client_loss']).default('commission'),
      })
      .strict()
      .nullable()
      .default(null),
    overrides: z
      .array(
        z
          .object({
            level: z.number().int().min(1).max(MAX_OVERRIDE_LEVELS),
            perLot: rates.optional(),
            percentOfDirect: decimal('percentOfDirect')
              .refine((p) => Number(p) <= 100, 'at most 100')
              .optional(),
          })
          .strict()
          .refine((o) => o.perLot !== undefined || o.percentOfDirect !== undefined, 'give perLot or percentOfDirect'),
      )
      .max(MAX_OVERRIDE_LEVELS)
      .default([]),
  })
  .strict()
  .superRefine((rules, ctx) => {
    const seen = new Map<string, string>();
    for (const [group, symbols] of Object.entries(rules.symbolGroups)) {
      if (group === OTHER_GROUP) {
        ctx.addIssue({ code: 'custom', path: ['symbolGroups', group], message: '"other" is every unlisted symbol' });
      }
      for (const symbol of symbols) {
        const before = seen.get(symbol);
        if (before && before !== group) {
          ctx.addIssue({
            code: 'custom',
            path: ['symbolGroups', group],
            message: `${symbol} is already in group ${before}`,
          });
        }
        seen.set(symbol, group);
      }
    }
    const known = new Set([...Object.keys(rules.symbolGroups), OTHER_GROUP]);
    const checkGroups = (groups: Record<string, string>, path: (string | number)[]) => {
      for (const g of Object.keys(groups)) {
        if (!known.has(g)) ctx.addIssue({ code: 'custom', path: [...path, g], message: `no symbol group ${g}` });
      }
    };
    rules.perLot.forEach((tier, i) => {
      checkGroups(tier.rates, ['perLot', i, 'rates']);
      if (i === 0 && Number(tier.fromLots) !== 0) {
        ctx.addIssue({ code: 'custom', path: ['perLot', 0, 'fromLots'], message: 'the first tier starts at 0 lots' });
      }
      if (i > 0 && Number(tier.fromLots) <= Number(rules.perLot[i - 1]!.fromLots)) {
        ctx.addIssue({ code: 'custom', path: ['perLot', i, 'fromLots'], message: 'tiers go up in volume' });
      }
    });
    const levels = new Set<number>();
    rules.overrides.forEach((o, i) => {
      if (levels.has(o.level)) {
        ctx.addIssue({ code: 'custom', path: ['overrides', i, 'level'], message: `level ${o.level} is given twice` });
      }
      levels.add(o.level);
      if (o.perLot) checkGroups(o.perLot, ['overrides', i, 'perLot']);
    });
  });

export type PlanRules = z.output<typeof planRulesInput>;

// --- exact decimals ----------------------------------------------------------------------------------------------

/** A decimal string as an integer numerator over 10^scale. */
export interface Dec {
  n: bigint;
  scale: number;
}

export function dec(value: string): Dec {
  const s = value.trim();
  if (!/^-?[0-9]+(\.[0-9]+)?$/.test(s)) throw new RangeError(`not a decimal: ${value}`);
  const [whole, fraction = ''] = s.replace('-', '').split('.');
  const n = BigInt(whole! + fraction);
  return { n: s.startsWith('-') ? -n : n, scale: fraction.length };
}

/** The decimal shifted left by `digits` (major units → minor units), as a canonical string. */
export function toMinorRate(value: string, digits: number): string {
  const d = dec(value);
  return decString({ n: d.n * 10n ** BigInt(Math.max(0, digits - d.scale)), scale: Math.max(0, d.scale - digits) });
}

/** Canonical decimal text (no trailing zeros after the point), as PostgreSQL's numeric prints after normalising. */
export function decString(d: Dec): string {
  const negative = d.n < 0n;
  let digits = (negative ? -d.n : d.n).toString().padStart(d.scale + 1, '0');
  let scale = d.scale;
  while (scale > 0 && digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    scale -= 1;
  }
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative && /[1-9]/.test(text) ? `-${text}` : text;
}

/** n / d rounded half to even (d > 0). */
export function roundHalfEven(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError('divisor must be positive');
  let q = n / d;
  let r = n % d;
  if (r < 0n) {
    q -= 1n;
    r += d;
  }
  const twice = 2n * r;
  if (twice > d || (twice === d && q % 2n !== 0n)) q += 1n;
  return q;
}

/**
 * The amount of one line in minor units: `rate × volume / 10 000 + base × percent / 100`, exact, rounded once half
 * to even. `rate` is minor units per lot, `volume` lots × 10 000, `base` minor units, `percent` a decimal.
 */
export function lineAmount(input: {
  rate: string | null;
  volume: number;
  base: number | null;
  percent: string | null;
}): number {
  const rate = dec(input.rate ?? '0');
  const percent = dec(input.percent ?? '0');
  const scale = Math.max(rate.scale + 4, percent.scale + 2);
  const first = rate.n * BigInt(input.volume) * 10n ** BigInt(scale - rate.scale - 4);
  const second = BigInt(input.base ?? 0) * percent.n * 10n ** BigInt(scale - percent.scale - 2);
  return Number(roundHalfEven(first + second, 10n ** BigInt(scale)));
}

// --- flattened rules (what the set-based calculation joins) ------------------------------------------------------

export interface FlatGroup {
  base: string;
  group: string;
}
export interface FlatRate {
  level: number;
  group: string;
  fromVolume: number;
  toVolume: number | null;
  /** Minor units per lot. */
  rate: string;
}
export interface FlatPercent {
  level: number;
  /** Level 0: revenue share; levels ≥ 1: percent of the direct partner's line. */
  percent: string;
  basis: 'commission' | 'commission_and_client_loss' | null;
}

export interface FlatRules {
  groups: FlatGroup[];
  rates: FlatRate[];
  percents: FlatPercent[];
  /** Override levels this version pays on. */
  levels: number[];
}

/** A version's rules as rows: the symbol map, the per-lot rates (minor units per lot, with tier ranges), percents. */
export function flattenRules(rules: PlanRules, currency: string): FlatRules {
  const digits = currencyDigits(currency);
  const groups: FlatGroup[] = [];
  for (const [group, symbols] of Object.entries(rules.symbolGroups)) {
    for (const base of new Set(symbols)) groups.push({ base, group });
  }
  const rates: FlatRate[] = [];
  const volumeOf = (lots: string) => {
    const d = dec(lots);
    return Number(roundHalfEven(d.n * BigInt(VOLUME_PER_LOT), 10n ** BigInt(d.scale)));
  };
  let inherited: Record<string, string> = {};
  rules.perLot.forEach((tier, i) => {
    const next = rules.perLot[i + 1];
    inherited = { ...inherited, ...tier.rates };
    for (const [group, rate] of Object.entries(inherited)) {
      rates.push({
        level: 0,
        group,
        fromVolume: volumeOf(tier.fromLots),
        toVolume: next ? volumeOf(next.fromLots) : null,
        rate: toMinorRate(rate, digits),
      });
    }
  });
  const percents: FlatPercent[] = [];
  if (rules.revenueShare) {
    percents.push({ level: 0, percent: decString(dec(rules.revenueShare.percent)), basis: rules.revenueShare.basis });
  }
  for (const o of rules.overrides) {
    for (const [group, rate] of Object.entries(o.perLot ?? {})) {
      rates.push({ level: o.level, group, fromVolume: 0, toVolume: null, rate: toMinorRate(rate, digits) });
    }
    if (o.percentOfDirect !== undefined) {
      percents.push({ level: o.level, percent: decString(dec(o.percentOfDirect)), basis: null });
    }
  }
  return { groups, rates, percents, levels: rules.overrides.map((o) => o.level).sort((a, b) => a - b) };
}

/** The group of a base symbol under a version's rules. */
export function groupOf(flat: FlatRules, base: string): string {
  return flat.groups.find((g) => g.base === base)?.group ?? OTHER_GROUP;
}

/** The per-lot rate (minor units per lot) at a level for a group, at a month-to-date volume (level 0 tiers). */
export function rateOf(flat: FlatRules, level: number, group: string, volumeBefore: number): string | null {
  const row = flat.rates.find(
    (r) =>
      r.level === level &&
      r.group === group &&
      r.fromVolume <= volumeBefore &&
      (r.toVolume === null || volumeBefore < r.toVolume),
  );
  return row?.rate ?? null;
}

export function percentOf(flat: FlatRules, level: number): FlatPercent | null {
  return flat.percents.find((p) => p.level === level) ?? null;
}

/**
 * The broker's revenue on a closing record under a revenue-share basis: the commission charged (MT stores it
 * negative), plus the client's loss with `commission_and_client_loss`.
 */
export function revenueOf(
  basis: 'commission' | 'commission_and_client_loss',
  record: { commissionMinor: number | null; profitMinor: number | null; swapMinor: number | null },
): number {
  const commission = -(record.commissionMinor ?? 0);
  if (basis === 'commission') return commission;
  const loss = -((record.profitMinor ?? 0) + (record.swapMinor ?? 0));
  return commission + Math.max(0, loss);
}
