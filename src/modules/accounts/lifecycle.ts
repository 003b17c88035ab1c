/**
 * The building blocks every path into a trading account shares (a client's request, a KYC decision, an operation's
 * result): what state a product's KYC policy wants an account in, and the transactional enqueue of the operations
 * that take it there. Nothing here calls a server: each change is an operation written in the caller's transaction.
 */
import { and, eq } from 'drizzle-orm';
import type { Executor } from '../../db/connect.ts';
import { type clients, type KycStatus, partnerServerLogins, type products, tradingAccounts } from '../../db/schema.ts';
import { type EnqueueDeps, enqueueOperation } from '../../operations/enqueue.ts';
import type { AuditEntry, OperationRow } from '../../operations/ports.ts';
import { generateTradingPassword } from './password.ts';

export type Product = typeof products.$inferSelect;
export type Client = typeof clients.$inferSelect;
export type TradingAccountRow = typeof tradingAccounts.$inferSelect;

export const OPEN_HANDLER = 'accounts.open';
export const UPDATE_HANDLER = 'accounts.update';

export interface Actor {
  type: AuditEntry['actorType'];
  id: string | null;
}

export interface DesiredState {
  /** Whether the account may exist on the server yet. */
  create: boolean;
  group: string;
  tradingAllowed: boolean;
}

/** What the product's KYC policy wants for an account of a client with this KYC status. */
export function desiredState(product: Product, kyc: KycStatus): DesiredState {
  const approved = kyc === 'approved';
  const live = { create: true, group: product.groupName, tradingAllowed: true };
  if (product.environment === 'demo') return live;
  switch (product.kycPolicy) {
    case 'none':
      return live;
    case 'create_on_approval':
      // Approval creates the account; a later rejection or expiry withdraws trading from it (it cannot be uncreated).
      return { ...live, create: approved, tradingAllowed: approved };
    case 'enable_trading_on_approval':
      return { ...live, tradingAllowed: approved };
    case 'move_group_on_approval':
      return { ...live, group: approved ? product.groupName : (product.restrictedGroupName ?? product.groupName) };
  }
}

export interface Credentials {
  mainPassword: string;
  investorPassword: string;
}

/** The referring partner's own login on the server (MT4/MT5 agent account), if the partner has one there. */
export async function agentLoginFor(tx: Executor, client: Client, serverCode: string): Promise<number | null> {
  if (!client.partnerId) return null;
  const [row] = await tx
    .select({ login: partnerServerLogins.login })
    .from(partnerServerLogins)
    .where(and(eq(partnerServerLogins.partnerId, client.partnerId), eq(partnerServerLogins.serverCode, serverCode)));
  return row?.login ?? null;
}

/**
 * Enqueues the opening of a `requested` account in the state its policy wants now; the account becomes `opening`.
 * A referred client's account carries the partner's login on that server as its agent.
 */
export async function enqueueOpen(
  tx: Executor,
  deps: EnqueueDeps,
  input: { account: TradingAccountRow; product: Product; client: Client; actor: Actor },
): Promise<{ account: TradingAccountRow; operation: OperationRow; credentials: Credentials }> {
  const { account, product, client } = input;
  const state = desiredState(product, client.kycStatus);
  const credentials = { mainPassword: generateTradingPassword(), investorPassword: generateTradingPassword() };
  const agentLogin = await agentLoginFor(tx, client, account.serverCode);
  const operation = await enqueueOperation(tx, deps, {
    kind: 'open_account',
    serverCode: account.serverCode,
    payload: {
      group: state.group,
      name: client.name.slice(0, 127),
      ...(client.email.length <= 47 ? { email: client.email } : {}),
      country: client.country,
      leverage: account.leverage,
      enabled: true,
      tradingAllowed: state.tradingAllowed,
      ...(agentLogin ? { agentLogin } : {}),
    },
    secrets: credentials,
    handler: OPEN_HANDLER,
    requestedBy: input.actor.type === 'staff' ? (input.actor.id ?? undefined) : undefined,
    correlationId: account.id,
  });
  const [updated] = await tx
    .update(tradingAccounts)
    .set({
      status: 'opening',
      groupName: state.group,
      tradingEnabled: state.tradingAllowed,
      openOperationId: operation.id,
      failureReason: null,
      updatedAt: deps.clock.now(),
    })
    .where(eq(tradingAccounts.id, account.id))
    .returning();
  await deps.audit.record(tx, {
    actorType: input.actor.type,
    actorId: input.actor.id,
    action: 'account.opening',
    entityType: 'trading_account',
    entityId: account.id,
    before: { status: account.status },
    after: {
      status: 'opening',
      group: state.group,
      tradingAllowed: state.tradingAllowed,
      operation: operation.reference,
    },
    correlationId: operation.reference,
  });
  return { account: updated!, operation, credentials };
}

export interface AccountChange {
  group?: string;
  leverage?: number;
  tradingAllowed?: boolean;
}

/** Enqueues an update of an open account; the account's columns follow when the server confirms it. */
export async function enqueueUpdate(
  tx: Executor,
  deps: EnqueueDeps,
  input: { account: TradingAccountRow; change: AccountChange; actor: Actor; reason: string },
): Promise<OperationRow> {
  const { account, change } = input;
  const operation = await enqueueOperation(tx, deps, {
    kind: 'update_account',
    serverCode: account.serverCode,
    login: account.login,
    payload: change,
    handler: UPDATE_HANDLER,
    requestedBy: input.actor.type === 'staff' ? (input.actor.id ?? undefined) : undefined,
    correlationId: account.id,
  });
  await deps.audit.record(tx, {
    actorType: input.actor.type,
    actorId: input.actor.id,
    action: 'account.change_requested',
    entityType: 'trading_account',
    entityId: account.id,
    before: {
      group: account.groupName,
      leverage: account.leverage,
      tradingAllowed: account.tradingEnabled,
    },
    after: { ...change, reason: input.reason, operation: operation.reference },
    correlationId: operation.reference,
  });
  return operation;
}

/** Marks an account that was never created on a server as failed, with the reason. */
export async function failAccount(
  tx: Executor,
  deps: EnqueueDeps,
  input: { account: TradingAccountRow; reason: string; actor: Actor; correlationId?: string },
): Promise<void> {
  await tx
    .update(tradingAccounts)
    .set({ status: 'failed', failureReason: input.reason.slice(0, 500), updatedAt: deps.clock.now() })
    .where(eq(tradingAccounts.id, input.account.id));
  await deps.audit.record(tx, {
    actorType: input.actor.type,
    actorId: input.actor.id,
    action: 'account.failed',
    entityType: 'trading_account',
    entityId: input.account.id,
    before: { status: input.account.status },
    after: { status: 'failed', reason: input.reason },
    correlationId: input.correlationId ?? null,
  });
}
