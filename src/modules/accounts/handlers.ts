/**
 * The accounts module's receivers of operation results (registered in the composition root). Each runs inside the
 * transaction that ends the operation, exactly once, so an account's row changes together with its operation:
 * an opening records the login (and, for a demo product, enqueues the demo deposit in the same transaction); an
 * update records what the server now holds. Failures carry the server's reason.
 */
import { eq } from 'drizzle-orm';
import type { Executor } from '../../db/connect.ts';
import { clients, products, tradingAccounts } from '../../db/schema.ts';
import { type EnqueueDeps, enqueueOperation } from '../../operations/enqueue.ts';
import { openAccountPayload } from '../../operations/kinds.ts';
import type { OperationHandler, OperationRow } from '../../operations/ports.ts';
import type { GroupInfo } from '../../platforms/types.ts';
import {
  type AccountChange,
  desiredState,
  enqueueUpdate,
  failAccount,
  OPEN_HANDLER,
  UPDATE_HANDLER,
} from './lifecycle.ts';

export interface AccountHandlerDeps extends EnqueueDeps {
  /** The server's groups (cached), to learn a new group's currency after a move. */
  groups?: (serverCode: string) => Promise<GroupInfo[]>;
}

const SERVER = (op: OperationRow) => ({ type: 'server' as const, id: op.serverCode });

export function errorMessage(op: OperationRow, status: string): string {
  const error = op.lastError as { message?: unknown } | null;
  return typeof error?.message === 'string' && error.message
    ? `${op.kind} ${op.reference} ${status}: ${error.message}`
    : `${op.kind} ${op.reference} was ${status}`;
}

export function accountOperationHandlers(deps: AccountHandlerDeps): Record<string, OperationHandler> {
  const opened: OperationHandler = async (tx, { operation, status }) => {
    const [account] = await tx.select().from(tradingAccounts).where(eq(tradingAccounts.openOperationId, operation.id));
    if (!account) return;
    if (status !== 'succeeded') {
      await failAccount(tx, deps, {
        account,
        reason: errorMessage(operation, status),
        actor: SERVER(operation),
        correlationId: operation.reference,
      });
      return;
    }
    const result = (operation.result ?? {}) as { login?: number; group?: string; currency?: string };
    const login = operation.login ?? result.login ?? null;
    const [saved] = await tx
      .update(tradingAccounts)
      .set({
        status: 'open',
        login,
        groupName: result.group ?? account.groupName,
        currency: result.currency ?? account.currency,
        failureReason: null,
        updatedAt: deps.clock.now(),
      })
      .where(eq(tradingAccounts.id, account.id))
      .returning();
    await deps.audit.record(tx, {
      actorType: 'server',
      actorId: operation.serverCode,
      action: 'account.opened',
      entityType: 'trading_account',
      entityId: account.id,
      before: { status: account.status },
      after: { status: 'open', login, group: saved!.groupName, currency: saved!.currency },
      correlationId: operation.reference,
    });
    const [product] = await tx.select().from(products).where(eq(products.id, account.productId));
    if (!product || login === null) return;
    if (product.environment === 'demo' && product.demoDeposit && product.demoDeposit > 0) {
      await enqueueOperation(tx, deps, {
        kind: 'balance',
        serverCode: account.serverCode,
        login,
        payload: { amount: product.demoDeposit, currency: saved!.currency, note: 'demo deposit' },
        correlationId: account.id,
      });
    }
    // KYC may have changed while the opening was on its way: bring the account to what the policy wants now.
    const [client] = await tx.select().from(clients).where(eq(clients.id, account.clientId));
    if (!client) return;
    const wanted = desiredState(product, client.kycStatus);
    const sent = openAccountPayload.parse(operation.payload);
    const change: AccountChange = {};
    if (wanted.group !== sent.group) change.group = wanted.group;
    if (wanted.tradingAllowed !== sent.tradingAllowed) change.tradingAllowed = wanted.tradingAllowed;
    if (Object.keys(change).length > 0) {
      await enqueueUpdate(tx, deps, {
        account: saved!,
        change,
        actor: { type: 'system', id: null },
        reason: `KYC became ${client.kycStatus} while the account was opening`,
      });
    }
  };

  const updated: OperationHandler = async (tx: Executor, { operation, status }) => {
    if (!operation.correlationId) return;
    const [account] = await tx.select().from(tradingAccounts).where(eq(tradingAccounts.id, operation.correlationId));
    if (!account) return;
    if (status !== 'succeeded') {
      await deps.audit.record(tx, {
        actorType: 'server',
        actorId: operation.serverCode,
        action: 'account.change_failed',
        entityType: 'trading_account',
        entityId: account.id,
        after: { change: operation.payload, reason: errorMessage(operation, status) },
        correlationId: operation.reference,
      });
      return;
    }
    const result = (operation.result ?? {}) as { group?: string; leverage?: number; tradingAllowed?: boolean };
    let currency = account.currency;
    if (result.group && result.group !== account.groupName && deps.groups) {
      try {
        const group = (await deps.groups(account.serverCode)).find((g) => g.name === result.group);
        if (group) currency = group.currency;
      } catch {
        // The server did not answer: the currency is corrected by the next sync rather than failing the result.
      }
    }
    const after = {
      groupName: result.group ?? account.groupName,
      leverage: result.leverage ?? account.leverage,
      tradingEnabled: result.tradingAllowed ?? account.tradingEnabled,
      currency,
    };
    await tx
      .update(tradingAccounts)
      .set({ ...after, updatedAt: deps.clock.now() })
      .where(eq(tradingAccounts.id, account.id));
    await deps.audit.record(tx, {
      actorType: 'server',
      actorId: operation.serverCode,
      action: 'account.changed',
      entityType: 'trading_account',
      entityId: account.id,
      before: {
        groupName: account.groupName,
        leverage: account.leverage,
        tradingEnabled: account.tradingEnabled,
        currency: account.currency,
      },
      after,
      correlationId: operation.reference,
    });
  };

  return { [OPEN_HANDLER]: opened, [UPDATE_HANDLER]: updated };
}
