/**
 * What each kind of operation sends to a trading server, and how it is looked up there when an earlier attempt may
 * have been applied. Payloads are validated when the operation is enqueued, so a worker never meets a malformed one.
 */
import { z } from 'zod';
import type { OperationKind } from '../db/schema.ts';
import { buildComment } from '../platforms/reference.ts';
import type { Platform } from '../platforms/types.ts';

export const openAccountPayload = z
  .object({
    group: z.string().min(1),
    name: z.string().min(1).max(127),
    email: z.string().max(47).optional(),
    country: z.string().max(64).optional(),
    note: z.string().max(60).optional(),
    leverage: z.number().int().positive(),
    enabled: z.boolean().default(true),
    tradingAllowed: z.boolean().default(true),
    agentLogin: z.number().int().positive().nullable().optional(),
  })
  .strict();

export const updateAccountPayload = z
  .object({
    group: z.string().min(1).optional(),
    leverage: z.number().int().positive().optional(),
    enabled: z.boolean().optional(),
    tradingAllowed: z.boolean().optional(),
    agentLogin: z.number().int().positive().nullable().optional(),
    name: z.string().min(1).max(127).optional(),
    email: z.string().max(47).optional(),
  })
  .strict()
  .refine((u) => Object.keys(u).length > 0, 'an account update must change something');

export const setPasswordPayload = z.object({ passwordKind: z.enum(['main', 'investor']) }).strict();

export const moneyPayload = z
  .object({
    /** Signed minor units of the account currency. */
    amount: z
      .number()
      .int()
      .refine((v) => v !== 0, 'amount must not be zero'),
    currency: z.string().length(3).optional(),
    note: z.string().max(40).optional(),
    /** Credits: when the credit expires (MT4 requires a future date). */
    expiresAt: z.iso.datetime().optional(),
  })
  .strict();

export const payloadSchemas = {
  open_account: openAccountPayload,
  update_account: updateAccountPayload,
  set_password: setPasswordPayload,
  balance: moneyPayload,
  credit: moneyPayload,
} satisfies Record<OperationKind, z.ZodType>;

export interface OperationSecrets {
  mainPassword?: string;
  investorPassword?: string;
  password?: string;
}

export interface ExecutionContext {
  reference: string;
  login: number | null;
  payload: unknown;
  secrets: OperationSecrets | null;
  createdAt: Date;
}

/** What a successful operation produced: stored as the operation's result. */
export interface ExecutionResult {
  ticket?: string | null;
  login?: number;
  [key: string]: unknown;
}

export interface KindBehaviour {
  /** Whether sending twice is harmless (then no look-up is needed before a retry). */
  idempotent: boolean;
  execute(platform: Platform, ctx: ExecutionContext): Promise<ExecutionResult>;
  /** Found on the server → its result; absent → null. Only for kinds that are not idempotent. */
  verify?(platform: Platform, ctx: ExecutionContext): Promise<ExecutionResult | null>;
}

function requireLogin(ctx: ExecutionContext): number {
  if (ctx.login === null) throw new Error(`operation ${ctx.reference} has no login`);
  return ctx.login;
}

function requireSecret(ctx: ExecutionContext, name: keyof OperationSecrets): string {
  const value = ctx.secrets?.[name];
  if (!value) throw new Error(`operation ${ctx.reference} has no ${name} (it was erased or never sealed)`);
  return value;
}

const money = (kind: 'balance' | 'credit'): KindBehaviour => ({
  idempotent: false,
  async execute(platform, ctx) {
    const p = moneyPayload.parse(ctx.payload);
    const result = await platform.postBalanceOperation({
      login: requireLogin(ctx),
      kind,
      amount: p.amount,
      currency: p.currency,
      reference: ctx.reference,
      note: p.note,
      creditExpiresAt: p.expiresAt ? new Date(p.expiresAt) : undefined,
    });
    return { ticket: result.ticket };
  },
  async verify(platform, ctx) {
    const found = await platform.findBalanceOperation(requireLogin(ctx), ctx.reference, ctx.createdAt);
    return found ? { ticket: found.ticket, foundBy: 'reference', amount: found.amount } : null;
  },
});

export const kinds: Record<OperationKind, KindBehaviour> = {
  open_account: {
    idempotent: false,
    async execute(platform, ctx) {
      const p = openAccountPayload.parse(ctx.payload);
      const account = await platform.openAccount({
        group: p.group,
        name: p.name,
        email: p.email,
        country: p.country,
        comment: buildComment(ctx.reference, p.note),
        leverage: p.leverage,
        enabled: p.enabled,
        tradingAllowed: p.tradingAllowed,
        agentLogin: p.agentLogin ?? null,
        mainPassword: requireSecret(ctx, 'mainPassword'),
        investorPassword: requireSecret(ctx, 'investorPassword'),
      });
      return { login: account.login, group: account.group, currency: account.currency };
    },
    async verify(platform, ctx) {
      const p = openAccountPayload.parse(ctx.payload);
      const account = await platform.findAccountByReference(p.group, ctx.reference);
      return account
        ? { login: account.login, group: account.group, currency: account.currency, foundBy: 'reference' }
        : null;
    },
  },
  update_account: {
    idempotent: true,
    async execute(platform, ctx) {
      const update = updateAccountPayload.parse(ctx.payload);
      const account = await platform.updateAccount(requireLogin(ctx), update);
      return {
        login: account.login,
        group: account.group,
        leverage: account.leverage,
        enabled: account.enabled,
        tradingAllowed: account.tradingAllowed,
        agentLogin: account.agentLogin,
      };
    },
  },
  set_password: {
    idempotent: true,
    async execute(platform, ctx) {
      const p = setPasswordPayload.parse(ctx.payload);
      await platform.setPassword(requireLogin(ctx), p.passwordKind, requireSecret(ctx, 'password'));
      return { passwordKind: p.passwordKind };
    },
  },
  balance: money('balance'),
  credit: money('credit'),
};
