/**
 * What a client's KYC decision does to their live trading accounts, per product policy. The KYC module calls the
 * function made here inside the transaction that changes the client's KYC status, so the status and the operations
 * it causes commit together:
 *
 *   create_on_approval          approval opens the `requested` accounts; rejection/expiry fails them with the reason
 *   enable_trading_on_approval  approval enables trading; rejection/expiry disables it again
 *   move_group_on_approval      approval moves the account to the live group; rejection/expiry moves it back
 *
 * Only approval and rejection/expiry act (pending or "more information" changes nothing on the server). Accounts
 * still opening are brought to the right state by the opening's result handler, which reads the KYC status then.
 */
import { and, eq } from 'drizzle-orm';
import type { Executor } from '../../db/connect.ts';
import { clients, type KycStatus, products, tradingAccounts } from '../../db/schema.ts';
import type { EnqueueDeps } from '../../operations/enqueue.ts';
import { type AccountChange, type Actor, desiredState, enqueueOpen, enqueueUpdate, failAccount } from './lifecycle.ts';
import { intendedState } from './state.ts';

export interface KycChange {
  clientId: string;
  from: KycStatus;
  to: KycStatus;
}

export type KycPolicyApplier = (tx: Executor, change: KycChange) => Promise<void>;

export function createKycPolicy(
  deps: EnqueueDeps,
  actor: Actor = { type: 'system', id: 'kyc-policy' },
): KycPolicyApplier {
  return async (tx, change) => {
    if (change.from === change.to) return;
    const approved = change.to === 'approved';
    const revoked = change.to === 'rejected' || change.to === 'expired';
    if (!approved && !revoked) return;
    const [client] = await tx.select().from(clients).where(eq(clients.id, change.clientId));
    if (!client) return;
    const rows = await tx
      .select({ account: tradingAccounts, product: products })
      .from(tradingAccounts)
      .innerJoin(products, eq(products.id, tradingAccounts.productId))
      .where(and(eq(tradingAccounts.clientId, change.clientId), eq(products.environment, 'live')))
      .orderBy(tradingAccounts.createdAt);
    for (const { account, product } of rows) {
      if (account.status === 'requested') {
        if (approved) {
          await enqueueOpen(tx, deps, { account, product, client: { ...client, kycStatus: change.to }, actor });
        } else {
          await failAccount(tx, deps, {
            account,
            reason: `KYC ${change.to}: the account was not created`,
            actor,
          });
        }
        continue;
      }
      if (account.status !== 'open' || account.login === null) continue;
      if (product.kycPolicy === 'none') continue;
      const wanted = desiredState(product, change.to);
      const current = await intendedState(tx, account);
      const update: AccountChange = {};
      if (product.kycPolicy === 'move_group_on_approval' && wanted.group !== current.group) update.group = wanted.group;
      if (product.kycPolicy !== 'move_group_on_approval' && wanted.tradingAllowed !== current.tradingAllowed) {
        update.tradingAllowed = wanted.tradingAllowed;
      }
      if (Object.keys(update).length === 0) continue;
      await enqueueUpdate(tx, deps, { account, change: update, actor, reason: `KYC ${change.from} → ${change.to}` });
    }
  };
}
