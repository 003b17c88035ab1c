/**
 * The resolution trail of a break: every action is a break event and an audit event, in one transaction.
 * - **Retry** the break's operation with its SAME reference (src/operations/admin.ts: looked up on the server before
 *   anything is sent again). The break stays open; the next run clears it once the server has the record.
 * - **Link an external change** (a dealer's change recorded by trade sync) that explains a break on the server side:
 *   the break is resolved as explained. Only a change that is the explanation (see linkRefusal), since one person
 *   does it: a drift is not silenced by any change that happens to be on the same account.
 * - **Write off** (maker-checker): one staff member asks with a reason, another approves; the approval posts the
 *   difference as a ledger transaction against `write_offs` (the other side: the trading account for a server or
 *   balance break, the PSP clearing account for a PSP break) and resolves the break. An account's balance drift
 *   sums every other difference on that account (a duplicate, an amount mismatch): once one of them is written off,
 *   the other cannot be until a run has seen the account again, or the same money would be written off twice.
 */
import { and, eq, gte, ne, sql } from 'drizzle-orm';
import type { Executor } from '../../db/connect.ts';
import { externalChanges, operations, reconBreakEvents, reconBreaks, reconWriteOffs } from '../../db/schema.ts';
import { retryOperation } from '../../operations/admin.ts';
import { type LedgerLine, postLedgerTransaction } from '../ledger/service.ts';
import { ReconError } from './errors.ts';
import type { ReconciliationService } from './service.ts';

export type ReconBreak = typeof reconBreaks.$inferSelect;
export type ReconWriteOff = typeof reconWriteOffs.$inferSelect;

async function lockBreak(tx: Executor, id: string): Promise<ReconBreak> {
  const [row] = await tx.select().from(reconBreaks).where(eq(reconBreaks.id, id)).for('update');
  if (!row) throw new ReconError('RECON_BREAK_NOT_FOUND', 404, `no reconciliation break ${id}`);
  return row;
}

function requireOpen(b: ReconBreak): void {
  if (b.status !== 'open') {
    throw new ReconError(
      'RECON_BREAK_NOT_OPEN',
      409,
      `break ${b.key} is already resolved (${b.resolution?.replace(/_/g, ' ')}); nothing to do`,
    );
  }
}

async function event(
  tx: Executor,
  svc: ReconciliationService,
  breakId: string,
  action: string,
  staffId: string,
  details: Record<string, unknown>,
): Promise<void> {
  await tx.insert(reconBreakEvents).values({
    breakId,
    action,
    actorType: 'staff',
    actorId: staffId,
    at: svc.clock.now(),
    details,
  });
}

/** Retries the break's operation with its reference. */
export async function retryBreak(svc: ReconciliationService, breakId: string, staffId: string): Promise<ReconBreak> {
  const db = svc.deps.database.db;
  const [b] = await db.select().from(reconBreaks).where(eq(reconBreaks.id, breakId));
  if (!b) throw new ReconError('RECON_BREAK_NOT_FOUND', 404, `no reconciliation break ${breakId}`);
  requireOpen(b);
  if (!b.operationId) {
    throw new ReconError('RECON_NOT_RETRYABLE', 409, `break ${b.key} has no operation to retry`);
  }
  const [op] = await db.select().from(operations).where(eq(operations.id, b.operationId));
  if (!op || (op.status !== 'needs_review' && op.status !== 'failed')) {
    throw new ReconError(
      'RECON_NOT_RETRYABLE',
      409,
      op?.status === 'succeeded'
        ? `operation ${op.reference} already succeeded; the next run clears the break if the server has its record`
        : `operation ${op?.reference ?? b.operationId} is ${op?.status ?? 'gone'}: only needs_review or failed operations are retried (pending ones run by themselves)`,
    );
  }
  const retried = await retryOperation(svc.deps.operations, op.id, staffId);
  return db.transaction(async (tx) => {
    const locked = await lockBreak(tx, breakId);
    await event(tx, svc, breakId, 'retry_requested', staffId, {
      operationId: op.id,
      reference: op.reference,
      previousStatus: op.status,
      status: retried.status,
    });
    await tx.update(reconBreaks).set({ updatedAt: svc.clock.now() }).where(eq(reconBreaks.id, breakId));
    await svc.deps.audit.record(tx, {
      actorType: 'staff',
      actorId: staffId,
      action: 'recon.break_retry_requested',
      entityType: 'recon_break',
      entityId: breakId,
      before: { status: locked.status, operationStatus: op.status },
      after: { operation: op.reference, operationStatus: retried.status },
      correlationId: op.reference,
    });
    return locked;
  });
}

const LINKABLE = new Set<ReconBreak['class']>(['server_not_in_crm', 'balance_drift', 'amount_mismatch', 'duplicate']);

type ExternalChangeRow = typeof externalChanges.$inferSelect;

/**
 * Why this change does not explain this break (null: it does). A link resolves a break by one person, with no
 * checker, so it must be the explanation, not merely a change on the same account (anything else is a write-off,
 * maker-checker):
 * - a dealer's balance record explains the break about that very record (on the server, not in the CRM); it explains
 *   a balance drift only when it was not booked to the ledger (the CRM did not know the account then) and its amount
 *   is the drift;
 * - a group move into another currency explains a drift or a currency mismatch (the ledger is in the old currency);
 * - an account unknown to the CRM explains its records being unknown to the CRM;
 * - a leverage or trading-permission change explains no money difference.
 */
function linkRefusal(b: ReconBreak, change: ExternalChangeRow): string | null {
  const details = (b.details ?? {}) as Record<string, unknown>;
  const what = `external change ${change.id} (${change.kind.replace(/_/g, ' ')}${change.ticket ? `, ticket ${change.ticket}` : ''})`;
  if (change.kind === 'balance_record') {
    if (b.side === 'server') {
      const ownRecord =
        b.externalChangeId === change.id || (details.ticket != null && `${details.ticket}` === change.ticket);
      return ownRecord
        ? null
        : `${what} is not the record break ${b.key} is about: write the break off instead (maker-checker)`;
    }
    if (change.ledgerTransactionId) {
      return `${what} is already booked to the ledger, so it cannot cause this drift: write the drift off instead (maker-checker)`;
    }
    const difference = change.recordKind === 'credit' ? Number(details.creditDifference ?? 0) : b.differenceMinor;
    return change.amountMinor === difference
      ? null
      : `${what} of ${change.amountMinor} does not explain a difference of ${difference}: write the drift off instead (maker-checker)`;
  }
  const changeDetails = (change.details ?? {}) as Record<string, unknown>;
  if (change.kind === 'group_change' && changeDetails.currencyChanged && b.class !== 'server_not_in_crm') return null;
  if (change.kind === 'unknown_account' && b.class === 'server_not_in_crm') return null;
  return `${what} explains no money difference of a ${b.class.replace(/_/g, ' ')} break: write it off instead (maker-checker)`;
}

/** Resolves a server-side or balance break as explained by an external change on the same account. */
export async function linkExternalChange(
  svc: ReconciliationService,
  breakId: string,
  staffId: string,
  input: { externalChangeId?: string | undefined; note: string },
): Promise<ReconBreak> {
  return svc.deps.database.db.transaction(async (tx) => {
    const b = await lockBreak(tx, breakId);
    requireOpen(b);
    if (!LINKABLE.has(b.class) || b.side === 'psp') {
      throw new ReconError(
        'RECON_LINK_NOT_APPLICABLE',
        409,
        `a ${b.class.replace(/_/g, ' ')} break is not explained by a change on a server; retry its operation or write it off`,
      );
    }
    const changeId = input.externalChangeId ?? b.externalChangeId;
    if (!changeId) {
      throw new ReconError(
        'RECON_LINK_NOT_APPLICABLE',
        409,
        `no external change is known for break ${b.key}; name one (externalChangeId)`,
      );
    }
    const [change] = await tx.select().from(externalChanges).where(eq(externalChanges.id, changeId));
    if (!change || change.serverCode !== b.serverCode || change.login !== b.login) {
      throw new ReconError(
        'RECON_EXTERNAL_CHANGE_MISMATCH',
        422,
        change
          ? `external change ${changeId} is on ${change.serverCode} login ${change.login}, the break on ${b.serverCode} login ${b.login}`
          : `no external change ${changeId}`,
      );
    }
    const refusal = linkRefusal(b, change);
    if (refusal) throw new ReconError('RECON_LINK_NOT_APPLICABLE', 409, refusal);
    const now = svc.clock.now();
    const [after] = await tx
      .update(reconBreaks)
      .set({
        status: 'resolved',
        resolution: 'linked_external_change',
        externalChangeId: change.id,
        resolvedAt: now,
        resolvedBy: staffId,
        resolutionNote: input.note,
        updatedAt: now,
      })
      .where(eq(reconBreaks.id, breakId))
      .returning();
    await event(tx, svc, breakId, 'external_change_linked', staffId, {
      externalChangeId: change.id,
      kind: change.kind,
      ticket: change.ticket,
      note: input.note,
      // What a later run is expected to see: the same figures (other figures reopen the break).
      settled: settledFigures(b),
    });
    await svc.deps.audit.record(tx, {
      actorType: 'staff',
      actorId: staffId,
      action: 'recon.break_linked',
      entityType: 'recon_break',
      entityId: breakId,
      before: { status: b.status },
      after: {
        status: 'resolved',
        resolution: 'linked_external_change',
        externalChangeId: change.id,
        note: input.note,
      },
      correlationId: b.key,
    });
    return after!;
  });
}

/**
 * The figures a later run sees when nothing changed since a staff resolution; seen with others, the break reopens
 * (compare.ts, mergeBreaks). The break's own figures, except after a write-off of a balance drift: the write-off
 * booked the difference, so the account is expected to agree (no drift at all).
 */
function settledFigures(
  b: ReconBreak,
  writtenOff = false,
): { differenceMinor: number | null; creditDifferenceMinor?: number | null } {
  if (b.side !== 'account') return { differenceMinor: b.differenceMinor };
  if (writtenOff) return { differenceMinor: 0, creditDifferenceMinor: 0 };
  const credit = ((b.details ?? {}) as Record<string, unknown>).creditDifference;
  return { differenceMinor: b.differenceMinor, creditDifferenceMinor: credit === undefined ? null : Number(credit) };
}

/** Two sets of ledger lines are the same postings (jsonb does not keep key order, so compare field by field). */
function sameLines(a: LedgerLine[], b: LedgerLine[]): boolean {
  const canon = (lines: LedgerLine[]) =>
    lines
      .map((l) => `${l.account.type}|${l.account.ownerId ?? ''}|${l.account.currency}|${l.amountMinor}`)
      .sort()
      .join(';');
  return canon(a) === canon(b);
}

/** The ledger lines a write-off of this break would post (the difference against `write_offs`). */
export function writeOffLines(b: ReconBreak): LedgerLine[] {
  const refuse = (why: string): never => {
    throw new ReconError('RECON_WRITE_OFF_NOT_APPLICABLE', 409, why);
  };
  if (b.class === 'missing_on_server') {
    refuse(
      `the money of ${b.reference ?? 'this operation'} has not reached the server: retry the operation (same reference) or cancel the movement, do not write it off`,
    );
  }
  if (!b.currency) refuse(`break ${b.key} has no currency`);
  const currency = b.currency!;
  const writeOffs = { type: 'write_offs' as const, currency };
  const details = (b.details ?? {}) as Record<string, unknown>;
  if (b.side === 'psp') {
    if (!b.psp) refuse(`break ${b.key} names no PSP`);
    const d = b.differenceMinor ?? 0;
    if (d === 0) refuse(`break ${b.key} has no difference to write off`);
    return [
      { account: { type: 'psp_clearing', ownerId: b.psp!, currency }, amountMinor: d },
      { account: writeOffs, amountMinor: -d },
    ];
  }
  if (b.class === 'server_not_in_crm' && b.externalChangeId) {
    refuse(`the record is already in the ledger through external change ${b.externalChangeId}: link it instead`);
  }
  if (!b.tradingAccountId)
    refuse(`the account of break ${b.key} is unknown to the CRM: there is nothing to book against`);
  const lines: LedgerLine[] = [];
  const push = (type: 'trading_account' | 'trading_credit', d: number) => {
    if (d === 0) return;
    lines.push({ account: { type, ownerId: b.tradingAccountId!, currency }, amountMinor: -d });
    lines.push({ account: writeOffs, amountMinor: d });
  };
  if (b.class === 'balance_drift') {
    push('trading_account', b.differenceMinor ?? 0);
    push('trading_credit', Number(details.creditDifference ?? 0));
  } else {
    const credit = details.recordKind === 'credit' || details.operationKind === 'credit';
    push(credit ? 'trading_credit' : 'trading_account', b.differenceMinor ?? 0);
  }
  if (lines.length === 0) refuse(`break ${b.key} has no difference to write off`);
  return lines;
}

/**
 * Refuses a write-off when the same money may already have been written off: `b` is an account's balance drift and
 * another break of that account was written off since (or as) a run last saw `b`, or `b` is another break of an
 * account whose drift was. The next run shows what is left.
 */
async function refuseOverlap(tx: Executor, b: ReconBreak): Promise<void> {
  if (b.side === 'psp' || !b.tradingAccountId) return;
  // Two checkers approving a duplicate and the drift of one account at the same moment: one waits for the other.
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`recon_write_off:${b.tradingAccountId}`}))`);
  const [other] = await tx
    .select({ key: reconBreaks.key, decidedAt: reconWriteOffs.decidedAt })
    .from(reconWriteOffs)
    .innerJoin(reconBreaks, eq(reconBreaks.id, reconWriteOffs.breakId))
    .where(
      and(
        eq(reconWriteOffs.status, 'approved'),
        eq(reconBreaks.tradingAccountId, b.tradingAccountId),
        ne(reconBreaks.id, b.id),
        gte(reconWriteOffs.decidedAt, b.lastSeenAt),
        b.class === 'balance_drift' ? undefined : eq(reconBreaks.class, 'balance_drift'),
      ),
    )
    .limit(1);
  if (!other) return;
  throw new ReconError(
    'RECON_WRITE_OFF_OVERLAP',
    409,
    `break ${other.key} on the same account was written off since the last run saw ${b.key}, and the two may be the same money: run the reconciliation again and write off what it still shows`,
  );
}

/** The maker's request. */
export async function requestWriteOff(
  svc: ReconciliationService,
  breakId: string,
  staffId: string,
  input: { reason: string },
): Promise<ReconWriteOff> {
  return svc.deps.database.db.transaction(async (tx) => {
    const b = await lockBreak(tx, breakId);
    requireOpen(b);
    const lines = writeOffLines(b);
    await refuseOverlap(tx, b);
    const [pending] = await tx
      .select({ id: reconWriteOffs.id })
      .from(reconWriteOffs)
      .where(and(eq(reconWriteOffs.breakId, breakId), eq(reconWriteOffs.status, 'requested')));
    if (pending) {
      throw new ReconError(
        'RECON_WRITE_OFF_PENDING',
        409,
        `a write-off of this break (${pending.id}) is already waiting for approval`,
      );
    }
    const amount = lines.find((l) => l.account.type !== 'write_offs')!.amountMinor;
    const now = svc.clock.now();
    const [row] = await tx
      .insert(reconWriteOffs)
      .values({
        breakId,
        status: 'requested',
        // The difference (other source − CRM): a trading-side line carries its negation, a PSP line the value.
        amountMinor: b.side === 'psp' ? amount : -amount,
        currency: b.currency!,
        lines,
        reason: input.reason,
        requestedBy: staffId,
        requestedAt: now,
      })
      .returning();
    await event(tx, svc, breakId, 'write_off_requested', staffId, {
      writeOffId: row!.id,
      amountMinor: row!.amountMinor,
      currency: row!.currency,
      reason: input.reason,
    });
    await svc.deps.audit.record(tx, {
      actorType: 'staff',
      actorId: staffId,
      action: 'recon.write_off_requested',
      entityType: 'recon_write_off',
      entityId: row!.id,
      after: {
        breakId,
        key: b.key,
        amountMinor: row!.amountMinor,
        currency: row!.currency,
        lines,
        reason: input.reason,
      },
      correlationId: b.key,
    });
    return row!;
  });
}

/** The checker's decision: approval posts the ledger transaction and resolves the break; the maker may not decide. */
export async function decideWriteOff(
  svc: ReconciliationService,
  writeOffId: string,
  staffId: string,
  input: { decision: 'approve' | 'reject'; comment?: string | undefined },
): Promise<ReconWriteOff> {
  return svc.deps.database.db.transaction(async (tx) => {
    const [w] = await tx.select().from(reconWriteOffs).where(eq(reconWriteOffs.id, writeOffId)).for('update');
    if (!w) throw new ReconError('RECON_WRITE_OFF_NOT_FOUND', 404, `no write-off ${writeOffId}`);
    if (w.status !== 'requested') {
      throw new ReconError('RECON_WRITE_OFF_DECIDED', 409, `write-off ${writeOffId} was already ${w.status}`);
    }
    if (w.requestedBy === staffId) {
      throw new ReconError(
        'RECON_SAME_STAFF',
        403,
        'you requested this write-off: another staff member must approve or reject it',
      );
    }
    const b = await lockBreak(tx, w.breakId);
    const now = svc.clock.now();
    if (input.decision === 'reject') {
      const [rejected] = await tx
        .update(reconWriteOffs)
        .set({ status: 'rejected', decidedBy: staffId, decidedAt: now, decisionComment: input.comment ?? null })
        .where(eq(reconWriteOffs.id, writeOffId))
        .returning();
      await event(tx, svc, b.id, 'write_off_rejected', staffId, { writeOffId, comment: input.comment ?? null });
      await svc.deps.audit.record(tx, {
        actorType: 'staff',
        actorId: staffId,
        action: 'recon.write_off_rejected',
        entityType: 'recon_write_off',
        entityId: writeOffId,
        before: { status: 'requested' },
        after: { status: 'rejected', comment: input.comment ?? null },
        correlationId: b.key,
      });
      return rejected!;
    }
    requireOpen(b);
    // The checker approves what the maker asked for, and only while the break still shows it: a later run may have
    // moved the break's figures (another copy on the server, a further drift).
    const current = writeOffLines(b);
    if (!sameLines(current, w.lines as LedgerLine[])) {
      const now = current.find((l) => l.account.type !== 'write_offs')!.amountMinor;
      throw new ReconError(
        'RECON_WRITE_OFF_STALE',
        409,
        `break ${b.key} has changed since this write-off was requested (asked: ${w.amountMinor} ${w.currency}, the break now shows ${b.side === 'psp' ? now : -now} ${w.currency}): reject this request and ask again`,
      );
    }
    await refuseOverlap(tx, b);
    const { transactionId } = await postLedgerTransaction(
      tx,
      {
        kind: 'recon.write_off',
        description: `write-off of reconciliation break ${b.key}: ${w.reason}`,
        lines: w.lines as LedgerLine[],
        idempotencyKey: `recon_write_off:${w.id}`,
        correlation: {
          reconBreakId: b.id,
          writeOffId: w.id,
          ...(b.movementId ? { movementId: b.movementId } : {}),
          ...(b.operationId ? { operationId: b.operationId } : {}),
        },
        createdBy: `staff:${staffId}`,
      },
      svc.clock,
    );
    const [approved] = await tx
      .update(reconWriteOffs)
      .set({
        status: 'approved',
        decidedBy: staffId,
        decidedAt: now,
        decisionComment: input.comment ?? null,
        ledgerTransactionId: transactionId,
      })
      .where(eq(reconWriteOffs.id, writeOffId))
      .returning();
    await tx
      .update(reconBreaks)
      .set({
        status: 'resolved',
        resolution: 'written_off',
        resolvedAt: now,
        resolvedBy: staffId,
        resolutionNote: w.reason,
        updatedAt: now,
      })
      .where(eq(reconBreaks.id, b.id));
    await event(tx, svc, b.id, 'written_off', staffId, {
      writeOffId,
      ledgerTransactionId: transactionId,
      requestedBy: w.requestedBy,
      settled: settledFigures(b, true),
    });
    await svc.deps.audit.record(tx, {
      actorType: 'staff',
      actorId: staffId,
      action: 'recon.write_off_approved',
      entityType: 'recon_write_off',
      entityId: writeOffId,
      before: { status: 'requested', breakStatus: b.status },
      after: {
        status: 'approved',
        ledgerTransactionId: transactionId,
        breakId: b.id,
        resolution: 'written_off',
        requestedBy: w.requestedBy,
      },
      correlationId: b.key,
    });
    return approved!;
  });
}
