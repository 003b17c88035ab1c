/**
 * Reading reconciliation results: runs (newest first), a run's report (what it saw, what it cleared) as JSON or CSV,
 * breaks with filters, and one break with everything that explains it: the movement, the operation with its attempt
 * log and audit trail, the server's records, the PSP's lines, the external change, the resolution trail.
 */
import { and, asc, desc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../../db/connect.ts';
import {
  auditEvents,
  externalChanges,
  moneyMovements,
  operations,
  type ReconBreakClass,
  reconBreakEvents,
  reconBreaks,
  reconPspLines,
  reconRunBreaks,
  reconRuns,
  reconWriteOffs,
  tradeRecords,
} from '../../db/schema.ts';
import { listAttempts } from '../../operations/attempt-log.ts';
import { ReconError } from './errors.ts';

export async function listRuns(
  db: Executor,
  filter: { date?: string | undefined; limit: number; offset: number },
): Promise<(typeof reconRuns.$inferSelect)[]> {
  return db
    .select()
    .from(reconRuns)
    .where(filter.date ? eq(reconRuns.businessDate, filter.date) : undefined)
    .orderBy(desc(reconRuns.startedAt))
    .limit(filter.limit)
    .offset(filter.offset);
}

export async function getRun(db: Executor, id: string) {
  const [run] = await db.select().from(reconRuns).where(eq(reconRuns.id, id));
  if (!run) throw new ReconError('RECON_RUN_NOT_FOUND', 404, `no reconciliation run ${id}`);
  return run;
}

/** One line of a run's report: the break as this run saw it, with its status now. */
export interface RunReportLine {
  breakId: string | null;
  key: string;
  class: ReconBreakClass;
  side: string;
  isNew: boolean;
  status: string | null;
  resolution: string | null;
  serverCode: string | null;
  login: number | null;
  clientId: string | null;
  tradingAccountId: string | null;
  movementId: string | null;
  operationId: string | null;
  reference: string | null;
  tradeRecordId: number | null;
  psp: string | null;
  pspTransactionId: string | null;
  externalChangeId: string | null;
  currency: string | null;
  crmAmountMinor: number | null;
  otherAmountMinor: number | null;
  differenceMinor: number | null;
  subjectAt: Date;
  details: unknown;
}

export async function runReport(
  db: Executor,
  runId: string,
  filter: { class?: ReconBreakClass | undefined; limit?: number; offset?: number } = {},
): Promise<{
  run: typeof reconRuns.$inferSelect;
  breaks: RunReportLine[];
  cleared: { breakId: string; key: string; class: string }[];
}> {
  const run = await getRun(db, runId);
  const where: SQL[] = [eq(reconRunBreaks.runId, runId)];
  if (filter.class) where.push(eq(reconRunBreaks.class, filter.class));
  const rows = await db
    .select({ rb: reconRunBreaks, status: reconBreaks.status, resolution: reconBreaks.resolution })
    .from(reconRunBreaks)
    .leftJoin(reconBreaks, eq(reconBreaks.id, reconRunBreaks.breakId))
    .where(and(...where))
    .orderBy(asc(reconRunBreaks.class), asc(reconRunBreaks.subjectAt), asc(reconRunBreaks.breakKey))
    .limit(filter.limit ?? 10_000)
    .offset(filter.offset ?? 0);
  const cleared = await db
    .select({ breakId: reconBreaks.id, key: reconBreaks.key, class: reconBreaks.class })
    .from(reconBreakEvents)
    .innerJoin(reconBreaks, eq(reconBreaks.id, reconBreakEvents.breakId))
    .where(and(eq(reconBreakEvents.runId, runId), eq(reconBreakEvents.action, 'cleared')))
    .orderBy(asc(reconBreaks.key))
    .limit(filter.limit ?? 10_000);
  return {
    run,
    breaks: rows.map(({ rb, status, resolution }) => ({
      breakId: rb.breakId,
      key: rb.breakKey,
      class: rb.class,
      side: rb.side,
      isNew: rb.isNew,
      status,
      resolution,
      serverCode: rb.serverCode,
      login: rb.login,
      clientId: rb.clientId,
      tradingAccountId: rb.tradingAccountId,
      movementId: rb.movementId,
      operationId: rb.operationId,
      reference: rb.reference,
      tradeRecordId: rb.tradeRecordId,
      psp: rb.psp,
      pspTransactionId: rb.pspTransactionId,
      externalChangeId: rb.externalChangeId,
      currency: rb.currency,
      crmAmountMinor: rb.crmAmountMinor,
      otherAmountMinor: rb.otherAmountMinor,
      differenceMinor: rb.differenceMinor,
      subjectAt: rb.subjectAt,
      details: rb.details,
    })),
    cleared,
  };
}

const CSV_COLUMNS = [
  'business_date',
  'class',
  'key',
  'new',
  'status',
  'resolution',
  'server',
  'login',
  'client_id',
  'movement_id',
  'operation_id',
  'reference',
  'trade_record_id',
  'psp',
  'psp_transaction_id',
  'external_change_id',
  'currency',
  'crm_amount_minor',
  'other_amount_minor',
  'difference_minor',
  'subject_at',
  'reason',
] as const;

/** RFC 4180 quoting; a leading =, +, - or @ is prefixed with ' so a spreadsheet never runs it as a formula. */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = value instanceof Date ? value.toISOString() : String(value);
  if (/^[=+\-@\t\r]/.test(text) && !/^-?[0-9]+(\.[0-9]+)?$/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export async function runReportCsv(db: Executor, runId: string): Promise<string> {
  const { run, breaks } = await runReport(db, runId, { limit: 1_000_000 });
  const lines = [CSV_COLUMNS.join(',')];
  for (const b of breaks) {
    const details = (b.details ?? {}) as Record<string, unknown>;
    lines.push(
      [
        run.businessDate,
        b.class,
        b.key,
        b.isNew,
        b.status,
        b.resolution,
        b.serverCode,
        b.login,
        b.clientId,
        b.movementId,
        b.operationId,
        b.reference,
        b.tradeRecordId,
        b.psp,
        b.pspTransactionId,
        b.externalChangeId,
        b.currency,
        b.crmAmountMinor,
        b.otherAmountMinor,
        b.differenceMinor,
        b.subjectAt,
        details.reason ?? details.operationStatus ?? null,
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

export interface BreakFilter {
  status?: 'open' | 'resolved' | undefined;
  class?: ReconBreakClass | undefined;
  serverCode?: string | undefined;
  login?: number | undefined;
  movementId?: string | undefined;
  limit: number;
  offset: number;
}

export async function listBreaks(db: Executor, filter: BreakFilter) {
  const where: SQL[] = [];
  if (filter.status) where.push(eq(reconBreaks.status, filter.status));
  if (filter.class) where.push(eq(reconBreaks.class, filter.class));
  if (filter.serverCode) where.push(eq(reconBreaks.serverCode, filter.serverCode));
  if (filter.login !== undefined) where.push(eq(reconBreaks.login, filter.login));
  if (filter.movementId) where.push(eq(reconBreaks.movementId, filter.movementId));
  const condition = where.length ? and(...where) : undefined;
  const items = await db
    .select()
    .from(reconBreaks)
    .where(condition)
    .orderBy(desc(reconBreaks.lastSeenAt), asc(reconBreaks.key))
    .limit(filter.limit)
    .offset(filter.offset);
  const [total] = await db.select({ n: sql<string>`count(*)` }).from(reconBreaks).where(condition);
  return { items, total: Number(total?.n ?? 0) };
}

/** A break with everything that explains it. */
export async function breakDetail(db: Executor, id: string) {
  const [b] = await db.select().from(reconBreaks).where(eq(reconBreaks.id, id));
  if (!b) throw new ReconError('RECON_BREAK_NOT_FOUND', 404, `no reconciliation break ${id}`);
  const events = await db
    .select()
    .from(reconBreakEvents)
    .where(eq(reconBreakEvents.breakId, id))
    .orderBy(asc(reconBreakEvents.id));
  const writeOffs = await db
    .select()
    .from(reconWriteOffs)
    .where(eq(reconWriteOffs.breakId, id))
    .orderBy(asc(reconWriteOffs.requestedAt));
  const [movement] = b.movementId
    ? await db.select().from(moneyMovements).where(eq(moneyMovements.id, b.movementId))
    : [];
  const [operation] = b.operationId ? await db.select().from(operations).where(eq(operations.id, b.operationId)) : [];
  const attempts = operation ? (await listAttempts(db, { operationId: operation.id, limit: 1000 })).reverse() : [];
  const operationTrail = operation
    ? await db
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.entityType, 'operation'), eq(auditEvents.entityId, operation.id)))
        .orderBy(asc(auditEvents.id))
    : [];
  const records =
    b.side === 'server' && b.serverCode
      ? await db
          .select()
          .from(tradeRecords)
          .where(
            b.reference
              ? and(
                  eq(tradeRecords.serverCode, b.serverCode),
                  eq(tradeRecords.recordType, 'balance'),
                  eq(tradeRecords.reference, b.reference),
                )
              : eq(tradeRecords.id, b.tradeRecordId ?? -1),
          )
          .orderBy(asc(tradeRecords.time))
      : [];
  // The PSP's own lines for the movement (or the line itself), as the run that last saw the break fetched them.
  const pspLines =
    b.psp && (b.movementId || b.pspTransactionId)
      ? await db
          .select()
          .from(reconPspLines)
          .where(
            and(
              eq(reconPspLines.runId, b.lastSeenRunId),
              eq(reconPspLines.psp, b.psp),
              b.movementId
                ? inArray(reconPspLines.merchantReference, [b.movementId])
                : eq(reconPspLines.pspTransactionId, b.pspTransactionId!),
            ),
          )
          .orderBy(asc(reconPspLines.occurredAt))
      : [];
  const [externalChange] = b.externalChangeId
    ? await db.select().from(externalChanges).where(eq(externalChanges.id, b.externalChangeId))
    : [];
  const sightings = await db
    .select({
      runId: reconRunBreaks.runId,
      businessDate: reconRuns.businessDate,
      cutoffAt: reconRuns.cutoffAt,
      isNew: reconRunBreaks.isNew,
      differenceMinor: reconRunBreaks.differenceMinor,
    })
    .from(reconRunBreaks)
    .innerJoin(reconRuns, eq(reconRuns.id, reconRunBreaks.runId))
    .where(eq(reconRunBreaks.breakId, b.id))
    .orderBy(asc(reconRuns.cutoffAt), asc(reconRuns.startedAt));
  return {
    break: b,
    events,
    writeOffs,
    sightings,
    movement: movement ?? null,
    operation: operation ?? null,
    attempts,
    operationTrail,
    records,
    pspLines,
    externalChange: externalChange ?? null,
  };
}

export async function getWriteOff(db: Executor, id: string) {
  const [w] = await db.select().from(reconWriteOffs).where(eq(reconWriteOffs.id, id));
  if (!w) throw new ReconError('RECON_WRITE_OFF_NOT_FOUND', 404, `no write-off ${id}`);
  return w;
}

export async function pendingWriteOffs(db: Executor, limit: number, offset: number) {
  return db
    .select({ writeOff: reconWriteOffs, break: reconBreaks })
    .from(reconWriteOffs)
    .innerJoin(reconBreaks, eq(reconBreaks.id, reconWriteOffs.breakId))
    .where(eq(reconWriteOffs.status, 'requested'))
    .orderBy(asc(reconWriteOffs.requestedAt))
    .limit(limit)
    .offset(offset);
}
