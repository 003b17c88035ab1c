/**
 * The external-changes module owns `external_changes`: what happened on a trading server that the CRM did not do
 * (DOMAIN §2 scenario 2, ARCHITECTURE invariant 8). Trade sync and the periodic account check hand it what they see;
 * it decides whether that is an external change, records it exactly once (a unique natural key), reflects it in the
 * CRM, raises an alert, and keeps it open until an operator acknowledges or explains it.
 *
 * What counts, and how it is reflected:
 * - **A balance or credit record without a Brokerdesk reference** (`balance_record`; MT5 charge, correction and bonus
 *   records too). Key `balance_record:<server>:<ticket>`. When the CRM knows the account, one ledger transaction
 *   moves the amount between `external_adjustments:<server>:<CUR>` and the account's `trading_account` (or
 *   `trading_credit` for credit), idempotency key `external_change:<server>:<ticket>`, so the account's ledger balance
 *   equals the server's again. A record carrying a reference is the CRM's own and never becomes an external change.
 *   When the server later changes such a record (another amount or kind), the difference is an external change of its
 *   own, key `balance_record:<server>:<ticket>:v<version>`, posted the same way.
 * - **A group, leverage or trading-permission change** (`group_change`, `leverage_change`, `trading_change`): the
 *   server's account differs from the CRM's `trading_accounts` row while no CRM operation on that account is open or
 *   just finished. The row is brought to the server's truth at once (the server is where the account lives: keeping a
 *   stale group would feed wrong data to reports, commissions and the next operations), with an audit event holding
 *   both values. An operator who disagrees reverts it with an ordinary account update (an operation with a
 *   reference). A group move into another currency is critical: the row's currency follows the server, the ledger
 *   balance stays in the old currency and needs a person.
 * - **An account the CRM does not know** (`unknown_account`): a login on the server with no `trading_accounts` row
 *   and no Brokerdesk reference in its comment (an opening in progress carries one). Key `unknown_account:<server>:<login>`.
 *
 * Alerts are deduplicated per server and kind (`external_changes:<server>:<kind>`, occurrences counting new changes)
 * and resolved when the last open change of that server and kind has been reviewed.
 */
import { and, asc, count, desc, eq, inArray, type SQL } from 'drizzle-orm';
import { type Clock, systemClock } from '../../clock.ts';
import type { Database, Executor } from '../../db/connect.ts';
import { type ExternalChangeKind, externalChanges, operations, tradingAccounts } from '../../db/schema.ts';
import type { Logger } from '../../log.ts';
import type { AlertPort, AuditPort } from '../../operations/ports.ts';
import { parseReference } from '../../platforms/reference.ts';
import { type LedgerAccountKey, type LedgerPosting, postLedgerTransaction } from '../ledger/service.ts';
import type { NormalisedRecord } from '../trades/records.ts';

export type ExternalChange = typeof externalChanges.$inferSelect;
export type ExternalChangeStatus = ExternalChange['status'];

export type ExternalChangeErrorCode =
  | 'EXTERNAL_CHANGE_NOT_FOUND'
  | 'EXTERNAL_CHANGE_ALREADY_REVIEWED'
  | 'EXTERNAL_CHANGE_NOTE_REQUIRED';

export class ExternalChangeError extends Error {
  override readonly name = 'ExternalChangeError';
  constructor(
    readonly code: ExternalChangeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** What the server says an account is: a TradingAccount, or an MT4 pumping snapshot of one. */
export interface ServerAccountState {
  login: number;
  group: string;
  leverage: number;
  tradingAllowed: boolean;
  currency: string;
  comment: string;
  name?: string;
  balance?: number;
  credit?: number;
  registeredAt?: Date;
}

/** Operation kinds that change an account's group, leverage or trading (their results update the CRM's row). */
const ACCOUNT_OPERATION_KINDS = ['open_account', 'update_account'] as const;
const OPEN_OPERATION_STATUSES = ['waiting', 'pending', 'in_flight', 'unknown', 'needs_review'] as const;

const KIND_TITLES: Record<ExternalChangeKind, string> = {
  balance_record: 'balance or credit change',
  group_change: 'group change',
  leverage_change: 'leverage change',
  trading_change: 'trading permission change',
  unknown_account: 'account unknown to the CRM',
};

export interface ExternalChangeServiceOptions {
  database: Database;
  clock?: Clock;
  audit: AuditPort;
  alerts: AlertPort;
  logger?: Logger;
}

export interface ExternalChangeFilter {
  status?: ExternalChangeStatus | ExternalChangeStatus[];
  kind?: ExternalChangeKind;
  serverCode?: string;
  login?: number;
  clientId?: string;
  tradingAccountId?: string;
  limit?: number;
  offset?: number;
}

export class ExternalChangeService {
  private readonly database: Database;
  private readonly clock: Clock;
  private readonly audit: AuditPort;
  private readonly alerts: AlertPort;
  private readonly logger: Logger | undefined;

  constructor(options: ExternalChangeServiceOptions) {
    this.database = options.database;
    this.clock = options.clock ?? systemClock;
    this.audit = options.audit;
    this.alerts = options.alerts;
    this.logger = options.logger;
  }

  // --- detection ---------------------------------------------------------------------------------------------------

  /**
   * A balance record just stored by trade sync (call it in the transaction that stored it). Records with a
   * Brokerdesk reference are the CRM's own: null. Otherwise the external change is recorded (once), the ledger
   * reflects it when the account is known, and an alert is raised. Returns the change only when this call created it.
   */
  async recordBalanceRecord(tx: Executor, record: NormalisedRecord): Promise<ExternalChange | null> {
    if (record.recordType !== 'balance' || record.reference !== null) return null;
    // A reference the connector could not parse cannot come from the CRM either; parse once more to be sure that a
    // comment the CRM wrote is never booked twice (the connector and this module must agree).
    if (parseReference(record.comment) !== null) return null;
    const account = await this.accountOf(tx, record.serverCode, record.login);
    const now = this.clock.now();
    const [created] = await tx
      .insert(externalChanges)
      .values({
        naturalKey: `balance_record:${record.serverCode}:${record.ticket}`,
        kind: 'balance_record',
        serverCode: record.serverCode,
        login: record.login,
        tradingAccountId: account?.id ?? null,
        clientId: account?.clientId ?? null,
        ticket: record.ticket,
        recordKind: record.balanceKind,
        amountMinor: record.amountMinor,
        currency: account?.currency ?? null,
        comment: record.comment,
        after: { kind: record.balanceKind, amountMinor: record.amountMinor, comment: record.comment },
        details: account ? null : { note: 'the CRM does not know this account: nothing was posted to the ledger' },
        occurredAt: record.time,
        detectedAt: now,
        status: 'open',
      })
      .onConflictDoNothing({ target: externalChanges.naturalKey })
      .returning();
    if (!created) return null;
    let change = created;
    const amount = record.amountMinor ?? 0;
    if (account && amount !== 0) {
      const side: LedgerAccountKey = {
        type: record.balanceKind === 'credit' ? 'trading_credit' : 'trading_account',
        ownerId: account.id,
        currency: account.currency,
      };
      change = await this.book(tx, change, {
        description: `${record.balanceKind} ${amount > 0 ? '+' : ''}${amount} made on ${record.serverCode} without the CRM (ticket ${record.ticket}, login ${record.login})`,
        lines: [
          // Positive = debit: money the server gave the client is a debit of external adjustments, a credit of the
          // client's (credit-normal) trading account; a deduction is the reverse.
          {
            account: { type: 'external_adjustments', ownerId: record.serverCode, currency: account.currency },
            amountMinor: amount,
          },
          { account: side, amountMinor: -amount },
        ],
        idempotencyKey: `external_change:${record.serverCode}:${record.ticket}`,
        correlation: { externalChangeId: created.id, serverCode: record.serverCode, ticket: record.ticket },
      });
    }
    await this.announce(tx, change, 'warning');
    return change;
  }

  /**
   * A balance record without a reference that the server changed after it was stored (a dealer edited their own
   * correction: another amount, or a balance record turned into a credit). The difference is recorded as an external
   * change of its own (key `balance_record:<server>:<ticket>:v<version>`, amount = new − old, linked to the first
   * one in `details`) and, when the CRM knows the account, posted to the ledger (idempotency key
   * `external_change:<server>:<ticket>:v<version>`), so the account's ledger balance follows the server again.
   * A record that carries, or carried, a reference is the CRM's business (reconciliation), not this module's.
   * Call it in the transaction that stored the new version. Returns the change only when this call created it.
   */
  async recordBalanceRecordChange(
    tx: Executor,
    before: { amountMinor: number | null; balanceKind: string | null; reference: string | null; comment: string },
    after: NormalisedRecord,
    version: number,
  ): Promise<ExternalChange | null> {
    if (after.recordType !== 'balance' || after.reference !== null || before.reference !== null) return null;
    if (parseReference(after.comment) !== null || parseReference(before.comment) !== null) return null;
    const oldAmount = before.amountMinor ?? 0;
    const newAmount = after.amountMinor ?? 0;
    const oldKind = before.balanceKind ?? after.balanceKind;
    if (oldAmount === newAmount && oldKind === after.balanceKind) return null;
    const account = await this.accountOf(tx, after.serverCode, after.login);
    const [original] = await tx
      .select({ id: externalChanges.id })
      .from(externalChanges)
      .where(eq(externalChanges.naturalKey, `balance_record:${after.serverCode}:${after.ticket}`));
    const difference = newAmount - oldAmount;
    const [created] = await tx
      .insert(externalChanges)
      .values({
        naturalKey: `balance_record:${after.serverCode}:${after.ticket}:v${version}`,
        kind: 'balance_record',
        serverCode: after.serverCode,
        login: after.login,
        tradingAccountId: account?.id ?? null,
        clientId: account?.clientId ?? null,
        ticket: after.ticket,
        recordKind: after.balanceKind,
        amountMinor: difference,
        currency: account?.currency ?? null,
        comment: after.comment,
        before: { kind: oldKind, amountMinor: oldAmount, comment: before.comment },
        after: { kind: after.balanceKind, amountMinor: newAmount, comment: after.comment },
        details: {
          note: `the record was changed on the server (version ${version})`,
          originalChangeId: original?.id ?? null,
          ...(account ? {} : { ledger: 'the CRM does not know this account: nothing was posted to the ledger' }),
        },
        occurredAt: after.time,
        detectedAt: this.clock.now(),
        status: 'open',
      })
      .onConflictDoNothing({ target: externalChanges.naturalKey })
      .returning();
    if (!created) return null;
    let change = created;
    if (account) {
      const sideOf = (kind: string | null): LedgerAccountKey => ({
        type: kind === 'credit' ? 'trading_credit' : 'trading_account',
        ownerId: account.id,
        currency: account.currency,
      });
      // The old amount comes back off its side, the new one goes on its side; external adjustments take the
      // difference (the lines sum to zero). Same side: one line of the difference.
      const lines: { account: LedgerAccountKey; amountMinor: number }[] = [
        {
          account: { type: 'external_adjustments', ownerId: after.serverCode, currency: account.currency },
          amountMinor: difference,
        },
      ];
      if (sideOf(oldKind).type === sideOf(after.balanceKind).type) {
        lines.push({ account: sideOf(oldKind), amountMinor: -difference });
      } else {
        lines.push({ account: sideOf(oldKind), amountMinor: oldAmount });
        lines.push({ account: sideOf(after.balanceKind), amountMinor: -newAmount });
      }
      const nonZero = lines.filter((l) => l.amountMinor !== 0);
      if (nonZero.length >= 2) {
        change = await this.book(tx, change, {
          description: `${after.balanceKind} ticket ${after.ticket} (login ${after.login}) changed on ${after.serverCode} without the CRM: ${oldKind} ${oldAmount} → ${after.balanceKind} ${newAmount}`,
          lines: nonZero,
          idempotencyKey: `external_change:${after.serverCode}:${after.ticket}:v${version}`,
          correlation: { externalChangeId: created.id, serverCode: after.serverCode, ticket: after.ticket },
        });
      }
    }
    await this.announce(tx, change, 'warning');
    return change;
  }

  /**
   * Compares the server's view of an account the CRM knows with the CRM's row and records each difference the CRM
   * did not cause. `readAt` is when the server's state was read: a row or an account operation that changed since
   * then means the comparison is stale, and nothing is recorded (the next check sees the settled state).
   */
  async compareAccount(serverCode: string, server: ServerAccountState, readAt: Date): Promise<ExternalChange[]> {
    return this.database.db.transaction(async (tx) => {
      const [row] = await tx
        .select()
        .from(tradingAccounts)
        .where(and(eq(tradingAccounts.serverCode, serverCode), eq(tradingAccounts.login, server.login)))
        .for('update');
      if (row?.status !== 'open') return [];
      if (row.updatedAt.getTime() > readAt.getTime()) return [];
      if (await this.accountOperationBusy(tx, serverCode, server.login, readAt)) return [];

      const differences: {
        kind: ExternalChangeKind;
        before: Record<string, unknown>;
        after: Record<string, unknown>;
      }[] = [];
      if (row.groupName !== server.group) {
        differences.push({
          kind: 'group_change',
          before: { group: row.groupName, currency: row.currency },
          after: { group: server.group, currency: server.currency },
        });
      }
      if (row.leverage !== server.leverage) {
        differences.push({
          kind: 'leverage_change',
          before: { leverage: row.leverage },
          after: { leverage: server.leverage },
        });
      }
      if (row.tradingEnabled !== server.tradingAllowed) {
        differences.push({
          kind: 'trading_change',
          before: { tradingEnabled: row.tradingEnabled },
          after: { tradingEnabled: server.tradingAllowed },
        });
      }
      if (differences.length === 0) return [];

      const now = this.clock.now();
      const version = row.updatedAt.getTime();
      const recorded: ExternalChange[] = [];
      for (const d of differences) {
        const currencyChanged = d.kind === 'group_change' && row.currency !== server.currency;
        const [created] = await tx
          .insert(externalChanges)
          .values({
            // The row's version makes the key unique per situation: the same difference seen twice is one change,
            // and a later change of the same field (after the row was brought up to date) is another.
            naturalKey: `${d.kind}:${serverCode}:${server.login}:${version}`,
            kind: d.kind,
            serverCode,
            login: server.login,
            tradingAccountId: row.id,
            clientId: row.clientId,
            currency: row.currency,
            before: d.before,
            after: d.after,
            details: currencyChanged
              ? {
                  currencyChanged: { from: row.currency, to: server.currency },
                  note: 'the account now trades in another currency; its ledger balance is still in the old one',
                }
              : null,
            occurredAt: readAt,
            detectedAt: now,
            status: 'open',
          })
          .onConflictDoNothing({ target: externalChanges.naturalKey })
          .returning();
        if (created) recorded.push(created);
      }
      if (recorded.length === 0) return [];
      const after = {
        groupName: server.group,
        leverage: server.leverage,
        tradingEnabled: server.tradingAllowed,
        currency: server.currency || row.currency,
      };
      await tx
        .update(tradingAccounts)
        .set({ ...after, updatedAt: now })
        .where(eq(tradingAccounts.id, row.id));
      await this.audit.record(tx, {
        actorType: 'server',
        actorId: serverCode,
        action: 'account.changed_on_server',
        entityType: 'trading_account',
        entityId: row.id,
        before: {
          groupName: row.groupName,
          leverage: row.leverage,
          tradingEnabled: row.tradingEnabled,
          currency: row.currency,
        },
        after,
        correlationId: recorded.map((c) => c.id).join(','),
      });
      for (const change of recorded) {
        const critical = change.kind === 'group_change' && row.currency !== server.currency;
        await this.announce(tx, change, critical ? 'critical' : 'warning');
      }
      return recorded;
    });
  }

  /**
   * The server refuses the CRM's manager access to an account the CRM has open: a dealer moved it into a group the
   * manager may not see (or took the rights away). Recorded as a group change to an unknown group; the row keeps its
   * group (the new one cannot be read) and the alert is critical, since the CRM can no longer move money on it.
   */
  async recordUnreachable(
    serverCode: string,
    login: number,
    reason: string,
    readAt: Date,
  ): Promise<ExternalChange | null> {
    return this.database.db.transaction(async (tx) => {
      const [row] = await tx
        .select()
        .from(tradingAccounts)
        .where(and(eq(tradingAccounts.serverCode, serverCode), eq(tradingAccounts.login, login)))
        .for('update');
      if (row?.status !== 'open') return null;
      if (row.updatedAt.getTime() > readAt.getTime()) return null;
      if (await this.accountOperationBusy(tx, serverCode, login, readAt)) return null;
      const [created] = await tx
        .insert(externalChanges)
        .values({
          naturalKey: `group_change:${serverCode}:${login}:${row.updatedAt.getTime()}:unreachable`,
          kind: 'group_change',
          serverCode,
          login,
          tradingAccountId: row.id,
          clientId: row.clientId,
          currency: row.currency,
          before: { group: row.groupName, currency: row.currency },
          after: { group: null, visible: false },
          details: { reason, note: "the manager may no longer see this account (moved out of the manager's groups?)" },
          occurredAt: readAt,
          detectedAt: this.clock.now(),
          status: 'open',
        })
        .onConflictDoNothing({ target: externalChanges.naturalKey })
        .returning();
      if (!created) return null;
      await this.announce(tx, created, 'critical');
      return created;
    });
  }

  /**
   * Logins seen on a server (in its history, positions or pumping): those the CRM has no account row for, and that
   * have not been recorded yet, are returned for a closer look (`recordUnknownAccount`).
   */
  async unknownLogins(serverCode: string, logins: Iterable<number>): Promise<number[]> {
    const all = [...new Set(logins)];
    if (all.length === 0) return [];
    const unknown: number[] = [];
    for (let i = 0; i < all.length; i += 5000) {
      const slice = all.slice(i, i + 5000);
      const known = await this.database.db
        .select({ login: tradingAccounts.login })
        .from(tradingAccounts)
        .where(and(eq(tradingAccounts.serverCode, serverCode), inArray(tradingAccounts.login, slice)));
      const recorded = await this.database.db
        .select({ login: externalChanges.login })
        .from(externalChanges)
        .where(
          inArray(
            externalChanges.naturalKey,
            slice.map((l) => `unknown_account:${serverCode}:${l}`),
          ),
        );
      const skip = new Set([...known.map((k) => k.login), ...recorded.map((r) => r.login)]);
      for (const l of slice) if (!skip.has(l)) unknown.push(l);
    }
    return unknown;
  }

  /**
   * An account on the server the CRM has no row for. One whose comment carries a Brokerdesk reference is the CRM's
   * own opening (its row gets the login when the operation's result arrives): null.
   */
  async recordUnknownAccount(serverCode: string, account: ServerAccountState): Promise<ExternalChange | null> {
    if (parseReference(account.comment) !== null) return null;
    return this.database.db.transaction(async (tx) => {
      const [known] = await tx
        .select({ id: tradingAccounts.id })
        .from(tradingAccounts)
        .where(and(eq(tradingAccounts.serverCode, serverCode), eq(tradingAccounts.login, account.login)));
      if (known) return null;
      const now = this.clock.now();
      const [created] = await tx
        .insert(externalChanges)
        .values({
          naturalKey: `unknown_account:${serverCode}:${account.login}`,
          kind: 'unknown_account',
          serverCode,
          login: account.login,
          currency: account.currency || null,
          comment: account.comment,
          after: {
            group: account.group,
            name: account.name ?? null,
            leverage: account.leverage,
            currency: account.currency,
            tradingAllowed: account.tradingAllowed,
            balanceMinor: account.balance ?? null,
            creditMinor: account.credit ?? null,
            registeredAt: account.registeredAt?.toISOString() ?? null,
          },
          occurredAt: account.registeredAt ?? now,
          detectedAt: now,
          status: 'open',
        })
        .onConflictDoNothing({ target: externalChanges.naturalKey })
        .returning();
      if (!created) return null;
      await this.announce(tx, created, 'warning');
      return created;
    });
  }

  // --- review ------------------------------------------------------------------------------------------------------

  /** An operator has seen the change and accepts it as it is. */
  acknowledge(id: string, staffId: string, note?: string | null): Promise<ExternalChange> {
    return this.review(id, staffId, 'acknowledged', note?.trim() || null);
  }

  /** An operator says why the change was made (a ticket, a dealer's reason); required text. */
  explain(id: string, staffId: string, explanation: string): Promise<ExternalChange> {
    const text = explanation?.trim();
    if (!text) {
      return Promise.reject(
        new ExternalChangeError('EXTERNAL_CHANGE_NOTE_REQUIRED', 'an explanation needs some text saying why'),
      );
    }
    return this.review(id, staffId, 'explained', text);
  }

  private review(
    id: string,
    staffId: string,
    to: 'acknowledged' | 'explained',
    note: string | null,
  ): Promise<ExternalChange> {
    return this.database.db.transaction(async (tx) => {
      const [change] = await tx.select().from(externalChanges).where(eq(externalChanges.id, id)).for('update');
      if (!change) throw new ExternalChangeError('EXTERNAL_CHANGE_NOT_FOUND', `no external change ${id}`);
      // Open → acknowledged or explained; an acknowledged change may still be explained later (once).
      const allowed = change.status === 'open' || (change.status === 'acknowledged' && to === 'explained');
      if (!allowed) {
        throw new ExternalChangeError(
          'EXTERNAL_CHANGE_ALREADY_REVIEWED',
          `external change ${id} is already ${change.status} (by ${change.reviewedBy})`,
        );
      }
      const now = this.clock.now();
      const [updated] = await tx
        .update(externalChanges)
        .set({ status: to, reviewedBy: staffId, reviewedAt: now, reviewNote: note })
        .where(eq(externalChanges.id, id))
        .returning();
      // Audit before the alert (same lock order as `announce`).
      await this.audit.record(tx, {
        actorType: 'staff',
        actorId: staffId,
        action: `external_change.${to}`,
        entityType: 'external_change',
        entityId: id,
        before: { status: change.status },
        after: { status: to, note },
        correlationId: change.naturalKey,
      });
      const remaining = await this.openCount(tx, change.serverCode, change.kind);
      if (remaining === 0) {
        await this.alerts.resolve(
          tx,
          alertKey(change.serverCode, change.kind),
          staffId,
          `every ${KIND_TITLES[change.kind]} on ${change.serverCode} has been reviewed`,
        );
      }
      return updated!;
    });
  }

  // --- reading -----------------------------------------------------------------------------------------------------

  async get(id: string, db: Executor = this.database.db): Promise<ExternalChange> {
    const [change] = await db.select().from(externalChanges).where(eq(externalChanges.id, id));
    if (!change) throw new ExternalChangeError('EXTERNAL_CHANGE_NOT_FOUND', `no external change ${id}`);
    return change;
  }

  /** Newest first; open changes are the review queue. */
  async list(
    filter: ExternalChangeFilter = {},
    db: Executor = this.database.db,
  ): Promise<{ items: ExternalChange[]; total: number }> {
    const conditions: SQL[] = [];
    if (filter.status !== undefined) {
      const statuses = Array.isArray(filter.status) ? filter.status : [filter.status];
      conditions.push(inArray(externalChanges.status, statuses));
    }
    if (filter.kind) conditions.push(eq(externalChanges.kind, filter.kind));
    if (filter.serverCode) conditions.push(eq(externalChanges.serverCode, filter.serverCode));
    if (filter.login !== undefined) conditions.push(eq(externalChanges.login, filter.login));
    if (filter.clientId) conditions.push(eq(externalChanges.clientId, filter.clientId));
    if (filter.tradingAccountId) conditions.push(eq(externalChanges.tradingAccountId, filter.tradingAccountId));
    const where = conditions.length > 0 ? and(...conditions) : undefined;
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
    const items = await db
      .select()
      .from(externalChanges)
      .where(where)
      .orderBy(desc(externalChanges.detectedAt), asc(externalChanges.id))
      .limit(limit)
      .offset(Math.max(filter.offset ?? 0, 0));
    const [total] = await db.select({ n: count() }).from(externalChanges).where(where);
    return { items, total: Number(total?.n ?? 0) };
  }

  // --- internals ---------------------------------------------------------------------------------------------------

  private async accountOf(tx: Executor, serverCode: string, login: number) {
    const [row] = await tx
      .select({ id: tradingAccounts.id, clientId: tradingAccounts.clientId, currency: tradingAccounts.currency })
      .from(tradingAccounts)
      .where(and(eq(tradingAccounts.serverCode, serverCode), eq(tradingAccounts.login, login)));
    return row ?? null;
  }

  /** An account operation still open, or finished since `since` (its result may not be in the row we compare). */
  private async accountOperationBusy(tx: Executor, serverCode: string, login: number, since: Date): Promise<boolean> {
    const rows = await tx
      .select({ status: operations.status, finishedAt: operations.finishedAt, updatedAt: operations.updatedAt })
      .from(operations)
      .where(
        and(
          eq(operations.serverCode, serverCode),
          eq(operations.login, login),
          inArray(operations.kind, [...ACCOUNT_OPERATION_KINDS]),
        ),
      );
    return rows.some(
      (r) =>
        (OPEN_OPERATION_STATUSES as readonly string[]).includes(r.status) ||
        (r.finishedAt ?? r.updatedAt).getTime() >= since.getTime(),
    );
  }

  private async openCount(tx: Executor, serverCode: string, kind: ExternalChangeKind): Promise<number> {
    const [row] = await tx
      .select({ n: count() })
      .from(externalChanges)
      .where(
        and(
          eq(externalChanges.serverCode, serverCode),
          eq(externalChanges.kind, kind),
          eq(externalChanges.status, 'open'),
        ),
      );
    return Number(row?.n ?? 0);
  }

  /** The audit event and the (deduplicated) alert for a newly recorded change. */
  /** Books a change's money in the ledger (against external adjustments) and links the transaction to the change. */
  private async book(
    tx: Executor,
    change: ExternalChange,
    posting: Pick<LedgerPosting, 'description' | 'lines' | 'idempotencyKey' | 'correlation'>,
  ): Promise<ExternalChange> {
    const { transactionId } = await postLedgerTransaction(
      tx,
      { kind: 'external_change', createdBy: 'external-changes', ...posting },
      this.clock,
    );
    const [updated] = await tx
      .update(externalChanges)
      .set({ ledgerTransactionId: transactionId })
      .where(eq(externalChanges.id, change.id))
      .returning();
    return updated ?? change;
  }

  private async announce(tx: Executor, change: ExternalChange, severity: 'warning' | 'critical'): Promise<void> {
    const open = await this.openCount(tx, change.serverCode, change.kind);
    // The audit first: it takes the chain lock, which every writer here takes before the (contended) alert row, so
    // two transactions announcing changes of the same kind queue instead of deadlocking.
    await this.audit.record(tx, {
      actorType: 'server',
      actorId: change.serverCode,
      action: 'external_change.recorded',
      entityType: 'external_change',
      entityId: change.id,
      after: {
        kind: change.kind,
        login: change.login,
        tradingAccountId: change.tradingAccountId,
        ticket: change.ticket,
        recordKind: change.recordKind,
        amountMinor: change.amountMinor,
        currency: change.currency,
        before: change.before,
        after: change.after,
        ledgerTransactionId: change.ledgerTransactionId,
      },
      correlationId: change.naturalKey,
    });
    await this.alerts.raise(tx, {
      kind: 'external_change',
      dedupeKey: alertKey(change.serverCode, change.kind),
      severity,
      title: `${change.serverCode}: ${KIND_TITLES[change.kind]} made outside the CRM (${open} awaiting review)`,
      details: {
        server: change.serverCode,
        kind: change.kind,
        openCount: open,
        latest: {
          id: change.id,
          login: change.login,
          ticket: change.ticket,
          amountMinor: change.amountMinor,
          currency: change.currency,
          before: change.before,
          after: change.after,
        },
      },
    });
    // Info, not warn: the alert is the notification; a backfill of a legacy server may record thousands.
    this.logger?.info(
      { server: change.serverCode, login: change.login, kind: change.kind, externalChange: change.id },
      'external change recorded',
    );
  }
}

export function alertKey(serverCode: string, kind: ExternalChangeKind): string {
  return `external_changes:${serverCode}:${kind}`;
}
