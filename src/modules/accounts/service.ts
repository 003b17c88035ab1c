/**
 * Trading accounts: a client opens an account of a product, and clients and staff change it afterwards (leverage,
 * trading password, trading rights, group). Every change to a server is an operation enqueued in the transaction of
 * the business change (see lifecycle.ts); the account's columns follow the server when each operation's result
 * arrives (handlers.ts). Lifecycle: requested → opening → open, or failed with the server's reason.
 */
import { and, desc, eq, inArray, notInArray, type SQL } from 'drizzle-orm';
import type { Database, Executor } from '../../db/connect.ts';
import { clients, operations, products, type tradingAccountStatuses, tradingAccounts } from '../../db/schema.ts';
import { type EnqueueDeps, enqueueOperation } from '../../operations/enqueue.ts';
import { isPlatformError } from '../../platforms/errors.ts';
import type { ServerRegistry } from '../../platforms/registry.ts';
import { resolveRoute } from '../../platforms/routing.ts';
import { AccountError } from './errors.ts';
import {
  type Actor,
  type Credentials,
  desiredState,
  enqueueOpen,
  enqueueUpdate,
  type Product,
  type TradingAccountRow,
} from './lifecycle.ts';
import { generateTradingPassword } from './password.ts';
import { intendedState } from './state.ts';

export interface AccountServiceDeps extends EnqueueDeps {
  database: Database;
  registry: ServerRegistry;
}

export type AccountStatus = (typeof tradingAccountStatuses)[number];

export interface AccountView {
  id: string;
  clientId: string;
  productId: string;
  productCode: string;
  productName: string;
  environment: 'live' | 'demo';
  serverCode: string;
  login: number | null;
  group: string;
  currency: string;
  leverage: number;
  status: AccountStatus;
  tradingEnabled: boolean;
  failureReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export function accountView(account: TradingAccountRow, product: Product): AccountView {
  return {
    id: account.id,
    clientId: account.clientId,
    productId: account.productId,
    productCode: product.code,
    productName: product.name,
    environment: product.environment,
    serverCode: account.serverCode,
    login: account.login,
    group: account.groupName,
    currency: account.currency,
    leverage: account.leverage,
    status: account.status,
    tradingEnabled: account.tradingEnabled,
    failureReason: account.failureReason,
    createdAt: account.createdAt,
    updatedAt: account.updatedAt,
  };
}

export interface OperationSummary {
  id: string;
  reference: string;
  kind: string;
  status: string;
}

const summary = (op: typeof operations.$inferSelect): OperationSummary => ({
  id: op.id,
  reference: op.reference,
  kind: op.kind,
  status: op.status,
});

const MONEY_DONE = ['succeeded', 'failed', 'cancelled'] as const;

export interface AccountFilters {
  clientId?: string;
  productId?: string;
  status?: AccountStatus;
  serverCode?: string;
  login?: number;
  limit: number;
}

export class AccountService {
  constructor(private readonly deps: AccountServiceDeps) {}

  private get db() {
    return this.deps.database.db;
  }

  /** A client asks for an account of a product; it opens now or when the product's KYC policy allows. */
  async request(
    clientId: string,
    input: { productId: string; leverage?: number },
  ): Promise<{ account: AccountView; credentials: Credentials | null; operation: OperationSummary | null }> {
    const [product] = await this.db.select().from(products).where(eq(products.id, input.productId));
    if (!product?.enabled) {
      throw new AccountError('PRODUCT_NOT_FOUND', 404, `no account type ${input.productId} is offered`);
    }
    const leverage = input.leverage ?? product.defaultLeverage;
    this.checkLeverage(product, leverage);
    // Fail loudly before anything is written if the mapping went wrong since it was saved (never land elsewhere).
    const preview = desiredState(product, 'approved');
    try {
      await resolveRoute(this.deps.registry, {
        product: product.code,
        environment: product.environment,
        serverCode: product.serverCode,
        group: preview.group,
        currency: product.currency,
      });
    } catch (err) {
      // A server that does not answer right now is no reason to refuse: the operation waits for it.
      if (!isPlatformError(err)) throw err;
    }
    return this.db.transaction(async (tx) => {
      // Locked: a KYC decision committing meanwhile either sees this account or is seen by it.
      const [client] = await tx.select().from(clients).where(eq(clients.id, clientId)).for('update');
      if (client?.status !== 'active') {
        throw new AccountError('CLIENT_NOT_ACTIVE', 403, 'your client profile is not active; contact support');
      }
      if (product.environment === 'live' && !client.emailVerifiedAt) {
        throw new AccountError(
          'EMAIL_NOT_VERIFIED',
          403,
          'verify your email address first: follow the link we sent you, then open a live account',
        );
      }
      const state = desiredState(product, client.kycStatus);
      const now = this.deps.clock.now();
      const [account] = await tx
        .insert(tradingAccounts)
        .values({
          clientId,
          productId: product.id,
          serverCode: product.serverCode,
          groupName: state.group,
          currency: product.currency,
          leverage,
          status: 'requested',
          tradingEnabled: state.tradingAllowed,
          createdAt: now,
          updatedAt: now,
        })
        .returning();
      const actor: Actor = { type: 'client', id: clientId };
      await this.deps.audit.record(tx, {
        actorType: 'client',
        actorId: clientId,
        action: 'account.requested',
        entityType: 'trading_account',
        entityId: account!.id,
        after: {
          product: product.code,
          server: product.serverCode,
          leverage,
          kycStatus: client.kycStatus,
          kycPolicy: product.kycPolicy,
          opensNow: state.create,
        },
      });
      if (!state.create) return { account: accountView(account!, product), credentials: null, operation: null };
      const opened = await enqueueOpen(tx, this.deps, { account: account!, product, client, actor });
      return {
        account: accountView(opened.account, product),
        credentials: opened.credentials,
        operation: summary(opened.operation),
      };
    });
  }

  async listForClient(clientId: string): Promise<AccountView[]> {
    return this.list({ clientId, limit: 500 });
  }

  async list(filters: AccountFilters): Promise<AccountView[]> {
    const where: SQL[] = [];
    if (filters.clientId) where.push(eq(tradingAccounts.clientId, filters.clientId));
    if (filters.productId) where.push(eq(tradingAccounts.productId, filters.productId));
    if (filters.status) where.push(eq(tradingAccounts.status, filters.status));
    if (filters.serverCode) where.push(eq(tradingAccounts.serverCode, filters.serverCode));
    if (filters.login) where.push(eq(tradingAccounts.login, filters.login));
    const rows = await this.db
      .select({ account: tradingAccounts, product: products })
      .from(tradingAccounts)
      .innerJoin(products, eq(products.id, tradingAccounts.productId))
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(tradingAccounts.createdAt), desc(tradingAccounts.id))
      .limit(filters.limit);
    return rows.map((r) => accountView(r.account, r.product));
  }

  /** One account with the operations made for it (newest first); `clientId` restricts to that client's own. */
  async get(id: string, clientId?: string): Promise<{ account: AccountView; operations: OperationSummary[] }> {
    const { account, product } = await this.load(this.db, id, clientId);
    const ops = await this.db
      .select()
      .from(operations)
      .where(eq(operations.correlationId, account.id))
      .orderBy(desc(operations.seq))
      .limit(100);
    return { account: accountView(account, product), operations: ops.map(summary) };
  }

  async changeLeverage(id: string, leverage: number, actor: Actor, clientId?: string): Promise<OperationSummary> {
    return this.db.transaction(async (tx) => {
      const { account, product } = await this.loadOpen(tx, id, clientId);
      this.checkLeverage(product, leverage);
      if ((await intendedState(tx, account)).leverage === leverage) {
        throw new AccountError('NOTHING_TO_CHANGE', 409, `the account already has leverage 1:${leverage}`);
      }
      return summary(
        await enqueueUpdate(tx, this.deps, { account, change: { leverage }, actor, reason: 'leverage change' }),
      );
    });
  }

  /**
   * A client resets their main trading password: a new strong one is generated, carried sealed in the operation's
   * secrets, and returned to the caller once. It is stored nowhere in clear and never logged or audited.
   */
  async resetPassword(id: string, clientId: string): Promise<{ password: string; operation: OperationSummary }> {
    const password = generateTradingPassword();
    const operation = await this.db.transaction(async (tx) => {
      const { account } = await this.loadOpen(tx, id, clientId);
      const op = await enqueueOperation(tx, this.deps, {
        kind: 'set_password',
        serverCode: account.serverCode,
        login: account.login,
        payload: { passwordKind: 'main' },
        secrets: { password },
        correlationId: account.id,
      });
      await this.deps.audit.record(tx, {
        actorType: 'client',
        actorId: clientId,
        action: 'account.password_reset_requested',
        entityType: 'trading_account',
        entityId: account.id,
        after: { passwordKind: 'main', operation: op.reference },
        correlationId: op.reference,
      });
      return op;
    });
    return { password, operation: summary(operation) };
  }

  async setTrading(id: string, enabled: boolean, staffId: string): Promise<OperationSummary> {
    return this.db.transaction(async (tx) => {
      const { account } = await this.loadOpen(tx, id);
      if ((await intendedState(tx, account)).tradingAllowed === enabled) {
        throw new AccountError(
          'NOTHING_TO_CHANGE',
          409,
          `trading is already ${enabled ? 'enabled' : 'disabled'} on this account`,
        );
      }
      return summary(
        await enqueueUpdate(tx, this.deps, {
          account,
          change: { tradingAllowed: enabled },
          actor: { type: 'staff', id: staffId },
          reason: enabled ? 'trading enabled by staff' : 'trading disabled by staff',
        }),
      );
    });
  }

  /**
   * Moves an account to another group of its server. A move to a group of another currency is refused while money
   * is on its way to or from the account: the amount was computed in the old currency's minor units.
   */
  async changeGroup(id: string, group: string, staffId: string): Promise<OperationSummary> {
    const { account: current } = await this.loadOpen(this.db, id);
    let target: { name: string; currency: string } | undefined;
    try {
      target = (await this.deps.registry.groups(current.serverCode, { fresh: true })).find((g) => g.name === group);
    } catch (err) {
      if (!isPlatformError(err)) throw err;
      throw new AccountError(
        'GROUP_NOT_ON_SERVER',
        503,
        `could not read the groups of server "${current.serverCode}" to check "${group}" (${err.message}); try again`,
      );
    }
    if (!target) {
      throw new AccountError('GROUP_NOT_ON_SERVER', 422, `server "${current.serverCode}" has no group "${group}"`);
    }
    return this.db.transaction(async (tx) => {
      const { account } = await this.loadOpen(tx, id);
      const intended = await intendedState(tx, account);
      if (intended.group === target.name) {
        throw new AccountError('NOTHING_TO_CHANGE', 409, `the account is already in group "${target.name}"`);
      }
      if (target.currency !== account.currency) {
        const pending = await tx
          .select({ reference: operations.reference, kind: operations.kind, status: operations.status })
          .from(operations)
          .where(
            and(
              eq(operations.serverCode, account.serverCode),
              eq(operations.login, account.login!),
              inArray(operations.kind, ['balance', 'credit']),
              notInArray(operations.status, [...MONEY_DONE]),
            ),
          );
        if (pending.length > 0) {
          throw new AccountError(
            'MONEY_PENDING',
            409,
            `group "${target.name}" is in ${target.currency} but the account is in ${account.currency}, and money is still pending on it (${pending
              .map((p) => `${p.reference} ${p.status}`)
              .join(', ')}): wait until it is settled or cancelled`,
            { pending },
          );
        }
      }
      return summary(
        await enqueueUpdate(tx, this.deps, {
          account,
          change: { group: target.name },
          actor: { type: 'staff', id: staffId },
          reason: 'group change by staff',
        }),
      );
    });
  }

  private checkLeverage(product: Product, leverage: number): void {
    if (!product.allowedLeverages.includes(leverage)) {
      throw new AccountError(
        'LEVERAGE_NOT_ALLOWED',
        400,
        `leverage 1:${leverage} is not offered for ${product.name}; choose one of ${product.allowedLeverages.map((l) => `1:${l}`).join(', ')}`,
        { allowed: product.allowedLeverages },
      );
    }
  }

  private async load(
    executor: Executor,
    id: string,
    clientId?: string,
  ): Promise<{ account: TradingAccountRow; product: Product }> {
    const [row] = await executor
      .select({ account: tradingAccounts, product: products })
      .from(tradingAccounts)
      .innerJoin(products, eq(products.id, tradingAccounts.productId))
      .where(
        clientId ? and(eq(tradingAccounts.id, id), eq(tradingAccounts.clientId, clientId)) : eq(tradingAccounts.id, id),
      );
    // Another client's account is "not found", never "forbidden": its existence is not revealed.
    if (!row) throw new AccountError('ACCOUNT_NOT_FOUND', 404, `no trading account ${id}`);
    return row;
  }

  private async loadOpen(
    executor: Executor,
    id: string,
    clientId?: string,
  ): Promise<{ account: TradingAccountRow & { login: number }; product: Product }> {
    const row = await this.load(executor, id, clientId);
    if (row.account.status !== 'open' || row.account.login === null) {
      throw new AccountError(
        'ACCOUNT_NOT_OPEN',
        409,
        `the account is ${row.account.status}; it can be changed once it is open`,
      );
    }
    return row as { account: TradingAccountRow & { login: number }; product: Product };
  }
}
