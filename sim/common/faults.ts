/**
 * Fault injection, shared by the simulators. A rule names an endpoint (exact path, `prefix*`, or `*`), a kind, and
 * how often it fires (probability from the seeded RNG, and/or a count). The server asks `decide(endpoint)` once per
 * request and acts on the decision; every fault in DOMAIN §5 maps onto one of these kinds:
 *
 * | kind         | what the server does                                                                  |
 * |--------------|---------------------------------------------------------------------------------------|
 * | latency      | waits `latencyMs` before handling (a slow server; with a client timeout, a timeout)    |
 * | drop_reply   | applies the request, then destroys the connection without replying (applied, unknown)  |
 * | reset        | destroys the connection before applying (nothing applied, but the client cannot know)  |
 * | refuse       | answers "server busy / no connection" without applying (clearly not applied)          |
 * | error        | answers with the protocol error `code` without applying                               |
 * | down         | stops accepting connections for `downSeconds` (a restart); existing ones are dropped   |
 * | rate_limit   | more than `perSecond` requests in a second get "too frequent"                          |
 *
 * Clock skew is not a rule: it is the clock's offset (`SimClock.setSkew`), set through the same control API.
 */
import { z } from 'zod';
import type { Rng } from './rng.ts';

export const faultKinds = ['latency', 'drop_reply', 'reset', 'refuse', 'error', 'down', 'rate_limit'] as const;
export type FaultKind = (typeof faultKinds)[number];

export const faultRuleInput = z
  .object({
    endpoint: z.string().min(1).default('*'),
    kind: z.enum(faultKinds),
    /** Chance that a matching request triggers the fault (default 1). */
    probability: z.coerce.number().min(0).max(1).default(1),
    /** How many times the fault fires before it is spent (default: unlimited). */
    count: z.coerce.number().int().positive().optional(),
    latencyMs: z.coerce.number().int().min(0).max(600_000).optional(),
    /** Protocol return code for `error` (MT5 retcode or MT4 return code). */
    code: z.coerce.number().int().optional(),
    downSeconds: z.coerce.number().min(0).max(3600).optional(),
    perSecond: z.coerce.number().int().positive().optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    const need: Partial<Record<FaultKind, keyof typeof rule>> = {
      latency: 'latencyMs',
      error: 'code',
      down: 'downSeconds',
      rate_limit: 'perSecond',
    };
    const field = need[rule.kind];
    if (field && rule[field] === undefined) {
      ctx.addIssue({ code: 'custom', path: [field], message: `a ${rule.kind} fault needs ${field}` });
    }
  });

export type FaultRuleInput = z.input<typeof faultRuleInput>;
export type FaultRule = z.output<typeof faultRuleInput> & { id: number; fired: number };

export interface FaultDecision {
  rule: FaultRule;
  kind: FaultKind;
}

/** Parses the CLI form `endpoint=/api/trade/balance,kind=drop_reply,count=1` into a rule input. */
export function parseFaultSpec(spec: string): FaultRuleInput {
  const input: Record<string, string> = {};
  for (const part of spec.split(',')) {
    const [key, ...rest] = part.split('=');
    if (!key || rest.length === 0) throw new Error(`bad fault "${spec}": expected key=value pairs separated by commas`);
    input[key.trim()] = rest.join('=').trim();
  }
  const parsed = faultRuleInput.safeParse(input);
  if (!parsed.success) {
    throw new Error(
      `bad fault "${spec}": ${parsed.error.issues.map((i) => `${i.path.join('.') || 'rule'}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

export class FaultInjector {
  private rules: FaultRule[] = [];
  private nextId = 1;
  private readonly windows = new Map<number, { second: number; seen: number }>();

  constructor(
    private readonly rng: Rng,
    private readonly now: () => number = Date.now,
  ) {}

  add(input: FaultRuleInput): FaultRule {
    const parsed = faultRuleInput.parse(input);
    const rule: FaultRule = { ...parsed, id: this.nextId++, fired: 0 };
    this.rules.push(rule);
    return rule;
  }

  remove(id: number): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length < before;
  }

  clear(): void {
    this.rules = [];
    this.windows.clear();
  }

  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /**
   * The faults that fire for one request, in rule order. Spent rules are removed. A rule whose probability misses
   * does not count as fired.
   */
  decide(endpoint: string): FaultDecision[] {
    const decisions: FaultDecision[] = [];
    for (const rule of this.rules) {
      if (!matches(rule.endpoint, endpoint)) continue;
      if (rule.kind === 'rate_limit') {
        if (this.overRate(rule)) decisions.push({ rule, kind: rule.kind });
        continue;
      }
      if (!this.rng.chance(rule.probability)) continue;
      rule.fired += 1;
      decisions.push({ rule, kind: rule.kind });
    }
    this.rules = this.rules.filter((r) => r.count === undefined || r.fired < r.count);
    return decisions;
  }

  private overRate(rule: FaultRule): boolean {
    const second = Math.floor(this.now() / 1000);
    let w = this.windows.get(rule.id);
    if (!w || w.second !== second) {
      w = { second, seen: 0 };
      this.windows.set(rule.id, w);
    }
    w.seen += 1;
    if (w.seen <= (rule.perSecond ?? Number.POSITIVE_INFINITY)) return false;
    rule.fired += 1;
    return true;
  }
}

function matches(pattern: string, endpoint: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return endpoint.startsWith(pattern.slice(0, -1));
  return pattern === endpoint;
}
