/**
 * IB payouts: a partner (or a partner manager on their behalf) asks to be paid from what the broker owes them (their
 * `ib_payable` balance, less payouts already asked for and not yet paid). Finance decides; whoever asked can never
 * approve (maker-checker). Two destinations:
 * - **trading account**: the partner's own trading account on a server (a partner server login linked to a CRM
 *   trading account). Approval enqueues a balance operation with an `ib_payout` reference (never a direct call);
 *   when the server confirms it, the ledger moves the amount from `ib_payable:<partner>` to the account's
 *   `trading_account` (idempotent by payout id) and the payout is `paid`; a refusal leaves it `failed` and the money
 *   still owed.
 * - **wallet**: an external transfer Brokerdesk only records: approval books `ib_payable` → `payouts_pending:ib-wallet`
 *   and the payout is `paid`; finance makes the transfer outside.
 */
import { and, desc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Executor } from '../../db/connect.ts';
import { type IbPayoutStatus, ibPayouts, partnerServerLogins, partners, tradingAccounts } from '../../db/schema.ts';
import { enqueueOperation } from '../../operations/enqueue.ts';
import type { OperationHandler, OperationRow } from '../../operations/ports.ts';
import { accountCode, postLedgerTransaction, visibleSign } from '../ledger/service.ts';
import { CommissionError } from './errors.ts';
import type { CommissionDeps } from './service.ts';

export const PAYOUT_HANDLER = 'commissions.payout';
export const WALLET_OWNER = 'ib-wallet';
const OPEN: IbPayoutStatus[] = ['requested', 'approved'];

export type IbPayout = typeof ibPayouts.$inferSelect;

export const payoutInput = z
  .object({
    amountMinor: z
      .number({ error: 'must be a whole number of minor units (cents)' })
      .int('must be a whole number of minor units (cents)')
      .positive('must be more than zero')
      .max(Number.MAX_SAFE_INTEGER),
    currency: z.string().regex(/^[A-Z]{3}$/, 'a currency code such as USD'),
    destination: z.discriminatedUnion('type', [
      z
        .object({
          type: z.literal('trading_account'),
          /** The partner's server login (see the partner's server logins) linked to a trading account. */
          serverLoginId: z.uuid('must be a server login id'),
        })
        .strict(),
      z
        .object({
          type: z.literal('wallet'),
          method: z.enum(['bank_transfer', 'crypto', 'e_wallet']),
          /** Where to send it (IBAN, wallet address…), as the partner gives it. */
          account: z.string().trim().min(4).max(120),
        })
        .strict(),
    ]),
    note: z.string().trim().max(500).optional(),
  })
  .strict();

export const payoutDecisionInput = z
  .object({
    decision: z.enum(['approve', 'reject']),
    comment: z.string().trim().max(500).optional(),
  })
  .strict()
  .refine((d) => d.decision === 'approve' || (d.comment && d.comment.length >= 3), {
    message: 'say why the payout is rejected',
    path: ['comment'],
  });

export interface Requester {
  type: 'partner' | 'staff';
  id: string;
}

export class IbPayoutService {
  constructor(readonly deps: CommissionDeps) {}

  private get db() {
    return this.deps.database.db;
  }

  /**
   * ib_payable (what is owed) less payouts asked for and not yet paid, per the given currency: one statement, so
   * both are read from one snapshot (a payout paid in between would otherwise count neither as owed nor as open).
   */
  async available(tx: Executor, partnerId: string, currency: string, exceptPayoutId?: string): Promise<number> {
    const account = { type: 'ib_payable' as const, ownerId: partnerId, currency };
    const [row] = (
      (await tx.execute(sql`
        select
          (select coalesce(sum(e.amount_minor), 0) from ledger_entries e
           where e.account_id = (select id from ledger_accounts where code = ${accountCode(account)}))::text as owed,
          (select coalesce(sum(amount_minor), 0) from ib_payouts
           where partner_id = ${partnerId} and currency = ${currency} and status in ('requested', 'approved')
             ${exceptPayoutId ? sql`and id <> ${exceptPayoutId}` : sql``})::text as open`)) as unknown as {
        rows: { owed: string; open: string }[];
      }
    ).rows;
    const available = Number(row?.owed ?? 0) * visibleSign('ib_payable') - Number(row?.open ?? 0);
    return available === 0 ? 0 : available;
  }

  async request(partnerId: string, input: z.input<typeof payoutInput>, requester: Requester): Promise<IbPayout> {
    const value = payoutInput.parse(input);
    return this.db.transaction(async (tx) => {
      // One request at a time per partner: the available amount cannot be spent twice.
      const [partner] = await tx.select().from(partners).where(eq(partners.id, partnerId)).for('update');
      if (!partner) throw new CommissionError('PARTNER_NOT_FOUND', 404, `no partner ${partnerId}`);
      if (partner.status !== 'active') {
        throw new CommissionError('PARTNER_NOT_ACTIVE', 403, `the partner is ${partner.status}; payouts are paused`);
      }
      let target: { serverLoginId: string; accountId: string; serverCode: string; login: number } | null = null;
      if (value.destination.type === 'trading_account') {
        const [row] = await tx
          .select({ login: partnerServerLogins, account: tradingAccounts })
          .from(partnerServerLogins)
          .leftJoin(tradingAccounts, eq(tradingAccounts.id, partnerServerLogins.tradingAccountId))
          .where(
            and(
              eq(partnerServerLogins.id, value.destination.serverLoginId),
              eq(partnerServerLogins.partnerId, partnerId),
            ),
          );
        const account = row?.account;
        if (!row || account?.status !== 'open' || account.login === null) {
          throw new CommissionError(
            'PAYOUT_DESTINATION_INVALID',
            422,
            'pay to one of your server logins that is linked to an open trading account (ask your partner manager)',
          );
        }
        if (account.currency !== value.currency) {
          throw new CommissionError(
            'PAYOUT_CURRENCY_MISMATCH',
            422,
            `trading account ${account.login} is in ${account.currency}; ask for a ${account.currency} payout or choose another destination`,
          );
        }
        target = {
          serverLoginId: row.login.id,
          accountId: account.id,
          serverCode: account.serverCode,
          login: account.login,
        };
      }
      const available = await this.available(tx, partnerId, value.currency);
      if (value.amountMinor > available) {
        throw new CommissionError(
          'INSUFFICIENT_COMMISSION_BALANCE',
          422,
          `at most ${available} minor units of ${value.currency} can be paid out now (earned commission less open payouts)`,
          { availableMinor: Math.max(0, available), currency: value.currency },
        );
      }
      const now = this.deps.clock.now();
      const [row] = await tx
        .insert(ibPayouts)
        .values({
          partnerId,
          amountMinor: value.amountMinor,
          currency: value.currency,
          destination: value.destination.type,
          partnerServerLoginId: target?.serverLoginId ?? null,
          tradingAccountId: target?.accountId ?? null,
          serverCode: target?.serverCode ?? null,
          login: target?.login ?? null,
          wallet:
            value.destination.type === 'wallet'
              ? { method: value.destination.method, account: value.destination.account, note: value.note ?? null }
              : null,
          status: 'requested',
          requestedByType: requester.type,
          requestedById: requester.id,
          createdAt: now,
          updatedAt: now,
        })
        .returning();
      await this.audit(tx, row!, requester, 'ib_payout.requested', {
        amountMinor: value.amountMinor,
        currency: value.currency,
        destination: value.destination.type,
        availableMinor: available,
      });
      return row!;
    });
  }

  /** Finance's decision; the requester (a staff member who asked on the partner's behalf) can never approve. */
  async decide(payoutId: string, staffId: string, input: z.input<typeof payoutDecisionInput>): Promise<IbPayout> {
    const { decision, comment } = payoutDecisionInput.parse(input);
    return this.db.transaction(async (tx) => {
      const payout = await this.lock(tx, payoutId);
      if (payout.status !== 'requested') {
        throw new CommissionError('NOT_AWAITING_APPROVAL', 409, `this payout is ${payout.status}; it is not waiting`);
      }
      if (payout.requestedByType === 'staff' && payout.requestedById === staffId) {
        throw new CommissionError('SELF_APPROVAL', 403, 'you asked for this payout: another staff member must decide');
      }
      const actor: Requester = { type: 'staff', id: staffId };
      const now = this.deps.clock.now();
      const decided = { decidedBy: staffId, decidedAt: now, decisionComment: comment ?? null, updatedAt: now };
      if (decision === 'reject') {
        const after = await this.update(tx, payoutId, { ...decided, status: 'rejected', completedAt: now });
        await this.audit(tx, after, actor, 'ib_payout.rejected', { comment });
        return after;
      }
      // What is owed may have shrunk since (a corrected trade reversed its commission).
      const available = await this.available(tx, payout.partnerId, payout.currency, payout.id);
      if (payout.amountMinor > available) {
        throw new CommissionError(
          'INSUFFICIENT_COMMISSION_BALANCE',
          422,
          `the partner is now owed only ${available} minor units of ${payout.currency} (commission was reversed since the request); reject it`,
          { availableMinor: Math.max(0, available), currency: payout.currency },
        );
      }
      if (payout.destination === 'wallet') {
        const posted = await postLedgerTransaction(
          tx,
          {
            kind: 'ib_payout.wallet',
            description: `IB payout ${payout.id} to an external wallet`,
            lines: [
              {
                account: { type: 'ib_payable', ownerId: payout.partnerId, currency: payout.currency },
                amountMinor: payout.amountMinor,
              },
              {
                account: { type: 'payouts_pending', ownerId: WALLET_OWNER, currency: payout.currency },
                amountMinor: -payout.amountMinor,
              },
            ],
            idempotencyKey: `ib_payout:${payout.id}`,
            correlation: { ibPayoutId: payout.id, partnerId: payout.partnerId },
            createdBy: `staff:${staffId}`,
          },
          this.deps.clock,
        );
        const after = await this.update(tx, payoutId, {
          ...decided,
          status: 'paid',
          ledgerTransactionId: posted.transactionId,
          completedAt: now,
        });
        await this.audit(tx, after, actor, 'ib_payout.paid', { destination: 'wallet' });
        return after;
      }
      const op = await enqueueOperation(tx, this.deps, {
        kind: 'balance',
        serverCode: payout.serverCode!,
        login: payout.login!,
        payload: { amount: payout.amountMinor, currency: payout.currency, note: 'IB payout' },
        referenceKind: 'ib_payout',
        handler: PAYOUT_HANDLER,
        requestedBy: `staff:${staffId}`,
        correlationId: payout.id,
      });
      const after = await this.update(tx, payoutId, { ...decided, status: 'approved', operationId: op.id });
      await this.audit(tx, after, actor, 'ib_payout.approved', { operation: op.reference });
      return after;
    });
  }

  /** A partner withdraws their own request while nobody has decided on it. */
  async cancel(payoutId: string, partnerId: string): Promise<IbPayout> {
    return this.db.transaction(async (tx) => {
      const payout = await this.lock(tx, payoutId, partnerId);
      if (payout.status !== 'requested') {
        throw new CommissionError(
          'NOT_CANCELLABLE',
          409,
          `this payout is ${payout.status}; it can no longer be cancelled`,
        );
      }
      const now = this.deps.clock.now();
      const after = await this.update(tx, payoutId, { status: 'cancelled', updatedAt: now, completedAt: now });
      await this.audit(tx, after, { type: 'partner', id: partnerId }, 'ib_payout.cancelled', {});
      return after;
    });
  }

  async get(payoutId: string, partnerId?: string): Promise<IbPayout> {
    const [row] = await this.db
      .select()
      .from(ibPayouts)
      .where(
        partnerId ? and(eq(ibPayouts.id, payoutId), eq(ibPayouts.partnerId, partnerId)) : eq(ibPayouts.id, payoutId),
      );
    if (!row) throw new CommissionError('PAYOUT_NOT_FOUND', 404, `no payout ${payoutId}`);
    return row;
  }

  async list(filter: {
    partnerId?: string | undefined;
    status?: IbPayoutStatus | undefined;
    limit: number;
    offset: number;
  }): Promise<{ items: IbPayout[]; next: number | null }> {
    const where: SQL[] = [];
    if (filter.partnerId) where.push(eq(ibPayouts.partnerId, filter.partnerId));
    if (filter.status) where.push(eq(ibPayouts.status, filter.status));
    const rows = await this.db
      .select()
      .from(ibPayouts)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(ibPayouts.createdAt), desc(ibPayouts.id))
      .limit(filter.limit + 1)
      .offset(filter.offset);
    return {
      items: rows.slice(0, filter.limit),
      next: rows.length > filter.limit ? filter.offset + filter.limit : null,
    };
  }

  /** The operations engine's answer for a payout to a trading account (in the operation's finishing transaction). */
  handler(): OperationHandler {
    return async (tx, { operation: op, status }) => {
      if (!op.correlationId) return;
      const [payout] = await tx
        .select()
        .from(ibPayouts)
        .where(and(eq(ibPayouts.id, op.correlationId), inArray(ibPayouts.status, OPEN)))
        .for('update');
      if (payout?.status !== 'approved' || payout.operationId !== op.id) return;
      const now = this.deps.clock.now();
      const actor: Requester = { type: 'staff', id: `server:${op.serverCode}` };
      if (status === 'succeeded') {
        const posted = await postLedgerTransaction(
          tx,
          {
            kind: 'ib_payout.trading_account',
            description: `IB payout ${payout.id} to trading account ${payout.login} on ${payout.serverCode}`,
            lines: [
              {
                account: { type: 'ib_payable', ownerId: payout.partnerId, currency: payout.currency },
                amountMinor: payout.amountMinor,
              },
              {
                account: { type: 'trading_account', ownerId: payout.tradingAccountId!, currency: payout.currency },
                amountMinor: -payout.amountMinor,
              },
            ],
            idempotencyKey: `ib_payout:${payout.id}`,
            correlation: { ibPayoutId: payout.id, partnerId: payout.partnerId, operationId: op.id },
            createdBy: 'commissions',
          },
          this.deps.clock,
        );
        const after = await this.update(tx, payout.id, {
          status: 'paid',
          ticket: op.ticket,
          ledgerTransactionId: posted.transactionId,
          updatedAt: now,
          completedAt: now,
        });
        await this.audit(tx, after, actor, 'ib_payout.paid', { operation: op.reference, ticket: op.ticket }, op);
        return;
      }
      const reason = failureReason(op, status);
      const after = await this.update(tx, payout.id, {
        status: 'failed',
        failureReason: reason,
        updatedAt: now,
        completedAt: now,
      });
      await this.audit(tx, after, actor, 'ib_payout.failed', { operation: op.reference, reason }, op);
    };
  }

  private async lock(tx: Executor, payoutId: string, partnerId?: string): Promise<IbPayout> {
    const [row] = await tx
      .select()
      .from(ibPayouts)
      .where(
        partnerId ? and(eq(ibPayouts.id, payoutId), eq(ibPayouts.partnerId, partnerId)) : eq(ibPayouts.id, payoutId),
      )
      .for('update');
    if (!row) throw new CommissionError('PAYOUT_NOT_FOUND', 404, `no payout ${payoutId}`);
    return row;
  }

  private async update(tx: Executor, id: string, set: Partial<typeof ibPayouts.$inferInsert>): Promise<IbPayout> {
    const [row] = await tx.update(ibPayouts).set(set).where(eq(ibPayouts.id, id)).returning();
    return row!;
  }

  private async audit(
    tx: Executor,
    payout: IbPayout,
    actor: Requester,
    action: string,
    after: Record<string, unknown>,
    op?: OperationRow,
  ): Promise<void> {
    const server = actor.id.startsWith('server:');
    await this.deps.audit.record(tx, {
      actorType: server ? 'server' : actor.type,
      actorId: server ? actor.id.slice('server:'.length) : actor.id,
      action,
      entityType: 'ib_payout',
      entityId: payout.id,
      after: { status: payout.status, partnerId: payout.partnerId, ...after },
      correlationId: op?.reference ?? payout.id,
    });
  }
}

function failureReason(op: OperationRow, status: string): string {
  if (status === 'cancelled') return 'the server operation was cancelled by operations staff';
  const error = op.lastError as { message?: string; serverText?: string } | null;
  const text = error?.serverText ?? error?.message;
  return text ? `the trading server refused it (${text})` : 'the trading server refused it';
}
