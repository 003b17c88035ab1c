/**
 * Products (account types): which server and group an account of this type opens in, its currency and leverages,
 * and what KYC approval does to it. Saving checks the mapping against the server's real group list (never a cache):
 * the environment must match the server's, the live and restricted groups must exist there in the product's
 * currency, and the leverages must be ones the group accepts. A refusal names the setting to fix.
 */
import { asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Clock } from '../../clock.ts';
import type { Database, Executor } from '../../db/connect.ts';
import { kycPolicies, products } from '../../db/schema.ts';
import type { AuditPort } from '../../operations/ports.ts';
import { isPlatformError, RoutingError } from '../../platforms/errors.ts';
import type { ServerRegistry } from '../../platforms/registry.ts';
import { resolveRoute } from '../../platforms/routing.ts';

export type Product = typeof products.$inferSelect;

export interface ProductProblem {
  setting: string;
  message: string;
}

/** A product that cannot be saved or found, with the HTTP status it maps to and what to fix. */
export class ProductError extends Error {
  override readonly name = 'ProductError';
  constructor(
    readonly code: 'PRODUCT_INVALID' | 'PRODUCT_NOT_FOUND' | 'PRODUCT_EXISTS' | 'SERVER_UNREACHABLE',
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

const leverage = z.number().int().min(1).max(10_000);

const productShape = {
  code: z.string().regex(/^[a-z0-9][a-z0-9-]{1,39}$/, 'use 2–40 lowercase letters, digits and dashes, e.g. std-usd'),
  name: z.string().trim().min(1).max(100),
  environment: z.enum(['live', 'demo']),
  serverCode: z.string().min(1).max(40),
  groupName: z.string().min(1).max(64),
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code in capitals, e.g. USD'),
  allowedLeverages: z.array(leverage).min(1).max(40),
  defaultLeverage: leverage,
  kycPolicy: z.enum(kycPolicies),
  restrictedGroupName: z.string().min(1).max(64).nullable().optional(),
  /** Minor units of the product currency. */
  demoDeposit: z.number().int().positive().max(100_000_000_000).nullable().optional(),
  enabled: z.boolean().optional(),
};

export const productInput = z.object(productShape).strict();
export type ProductInput = z.infer<typeof productInput>;

const { code: _code, ...patchShape } = productShape;
export const productPatch = z
  .object(patchShape)
  .partial()
  .strict()
  .refine((p) => Object.keys(p).length > 0, 'change at least one setting');
export type ProductPatch = z.infer<typeof productPatch>;

type Mapping = Omit<ProductInput, 'enabled'> & { enabled: boolean };

/** Rules that need no server: leverages, the policy's restricted group, the demo deposit. */
export function staticProblems(p: Mapping): ProductProblem[] {
  const problems: ProductProblem[] = [];
  if (new Set(p.allowedLeverages).size !== p.allowedLeverages.length) {
    problems.push({ setting: 'allowedLeverages', message: 'lists a leverage twice' });
  }
  if (!p.allowedLeverages.includes(p.defaultLeverage)) {
    problems.push({
      setting: 'defaultLeverage',
      message: `${p.defaultLeverage} is not one of the allowed leverages (${p.allowedLeverages.join(', ')})`,
    });
  }
  if (p.kycPolicy === 'move_group_on_approval') {
    if (!p.restrictedGroupName) {
      problems.push({
        setting: 'restrictedGroupName',
        message: 'move_group_on_approval needs the restricted group accounts wait in until KYC is approved',
      });
    } else if (p.restrictedGroupName === p.groupName) {
      problems.push({ setting: 'restrictedGroupName', message: 'must differ from the live group' });
    }
  } else if (p.restrictedGroupName) {
    problems.push({
      setting: 'restrictedGroupName',
      message: `is only used by move_group_on_approval; remove it for ${p.kycPolicy}`,
    });
  }
  if (p.environment === 'demo') {
    if (p.kycPolicy !== 'none') {
      problems.push({ setting: 'kycPolicy', message: 'demo accounts open without KYC: set it to none' });
    }
  } else if (p.demoDeposit) {
    problems.push({ setting: 'demoDeposit', message: 'only demo products open with a deposit; remove it' });
  }
  return problems;
}

export interface ProductDeps {
  database: Database;
  registry: ServerRegistry;
  clock: Clock;
  audit: AuditPort;
}

export class ProductService {
  constructor(private readonly deps: ProductDeps) {}

  async list(options: { enabledOnly?: boolean } = {}): Promise<Product[]> {
    const rows = await this.deps.database.db
      .select()
      .from(products)
      .where(options.enabledOnly ? eq(products.enabled, true) : undefined)
      .orderBy(asc(products.code));
    return rows;
  }

  async get(id: string, executor: Executor = this.deps.database.db): Promise<Product> {
    const [row] = await executor.select().from(products).where(eq(products.id, id));
    if (!row) throw new ProductError('PRODUCT_NOT_FOUND', 404, `no product ${id}`);
    return row;
  }

  /** Checks the mapping against the server's own, freshly read group list. */
  async validateMapping(p: Mapping): Promise<void> {
    const problems = staticProblems(p);
    if (problems.length > 0) throw invalid(problems);
    const route = (group: string) =>
      resolveRoute(
        this.deps.registry,
        { product: p.code, environment: p.environment, serverCode: p.serverCode, group, currency: p.currency },
        { freshGroups: true },
      );
    try {
      const { group } = await route(p.groupName);
      const outside = p.allowedLeverages.filter(
        (l) =>
          (group.leverageMin !== null && l < group.leverageMin) ||
          (group.leverageMax !== null && l > group.leverageMax),
      );
      if (outside.length > 0) {
        throw invalid([
          {
            setting: 'allowedLeverages',
            message: `group "${group.name}" accepts leverage ${group.leverageMin ?? 1}–${group.leverageMax ?? '∞'}; ${outside.join(', ')} is outside it`,
          },
        ]);
      }
      if (p.kycPolicy === 'move_group_on_approval' && p.restrictedGroupName) {
        await route(p.restrictedGroupName).catch((err: unknown) => {
          if (err instanceof RoutingError) {
            throw invalid([{ setting: 'restrictedGroupName', message: err.message }], err.code);
          }
          throw err;
        });
      }
    } catch (err) {
      if (err instanceof RoutingError) {
        const setting =
          err.code === 'environment_mismatch' || err.code === 'server_unknown' || err.code === 'server_disabled'
            ? err.code === 'environment_mismatch'
              ? 'environment'
              : 'serverCode'
            : err.code === 'currency_mismatch'
              ? 'currency'
              : 'groupName';
        throw invalid([{ setting, message: err.message }], err.code);
      }
      if (isPlatformError(err)) {
        throw new ProductError(
          'SERVER_UNREACHABLE',
          503,
          `could not read the groups of server "${p.serverCode}" to check the mapping (${err.message}); try again when it answers`,
        );
      }
      throw err;
    }
  }

  async create(input: ProductInput, by: string): Promise<Product> {
    const value: Mapping = { ...input, enabled: input.enabled ?? true };
    await this.validateMapping(value);
    return this.deps.database.db.transaction(async (tx) => {
      const [existing] = await tx.select({ id: products.id }).from(products).where(eq(products.code, input.code));
      if (existing) throw new ProductError('PRODUCT_EXISTS', 409, `a product with code "${input.code}" already exists`);
      const now = this.deps.clock.now();
      const [row] = await tx
        .insert(products)
        .values({
          ...value,
          restrictedGroupName: value.restrictedGroupName ?? null,
          demoDeposit: value.demoDeposit ?? null,
          createdAt: now,
          updatedAt: now,
        })
        .returning();
      await this.deps.audit.record(tx, {
        actorType: 'staff',
        actorId: by,
        action: 'product.created',
        entityType: 'product',
        entityId: row!.id,
        after: auditView(row!),
      });
      return row!;
    });
  }

  async update(id: string, patch: ProductPatch, by: string): Promise<Product> {
    const current = await this.get(id);
    const merged: Mapping = {
      code: current.code,
      name: patch.name ?? current.name,
      environment: patch.environment ?? current.environment,
      serverCode: patch.serverCode ?? current.serverCode,
      groupName: patch.groupName ?? current.groupName,
      currency: patch.currency ?? current.currency,
      allowedLeverages: patch.allowedLeverages ?? current.allowedLeverages,
      defaultLeverage: patch.defaultLeverage ?? current.defaultLeverage,
      kycPolicy: patch.kycPolicy ?? current.kycPolicy,
      restrictedGroupName:
        patch.restrictedGroupName !== undefined ? patch.restrictedGroupName : current.restrictedGroupName,
      demoDeposit: patch.demoDeposit !== undefined ? patch.demoDeposit : current.demoDeposit,
      enabled: patch.enabled ?? current.enabled,
    };
    await this.validateMapping(merged);
    return this.deps.database.db.transaction(async (tx) => {
      const { code: _c, ...set } = merged;
      const [row] = await tx
        .update(products)
        .set({
          ...set,
          restrictedGroupName: set.restrictedGroupName ?? null,
          demoDeposit: set.demoDeposit ?? null,
          updatedAt: this.deps.clock.now(),
        })
        .where(eq(products.id, id))
        .returning();
      if (!row) throw new ProductError('PRODUCT_NOT_FOUND', 404, `no product ${id}`);
      await this.deps.audit.record(tx, {
        actorType: 'staff',
        actorId: by,
        action: 'product.updated',
        entityType: 'product',
        entityId: id,
        before: auditView(current),
        after: auditView(row),
      });
      return row;
    });
  }
}

function invalid(problems: ProductProblem[], reason?: string): ProductError {
  return new ProductError(
    'PRODUCT_INVALID',
    422,
    `the product cannot be saved: ${problems.map((p) => `${p.setting}: ${p.message}`).join('; ')}`,
    { problems, ...(reason ? { reason } : {}) },
  );
}

function auditView(p: Product): Record<string, unknown> {
  const { createdAt: _c, updatedAt: _u, ...rest } = p;
  return rest;
}
