/**
 * Writes synced records: an idempotent upsert keyed by (server, record type, ticket). A record seen for the first time
 * is inserted (in bulk); one seen again with the same content changes nothing; one whose content changed on the server
 * (a dealer's correction) is updated, its `version` goes up and an audit event keeps the old and new values. A new
 * balance record is handed to the external-changes module in the same transaction, so a manual change and its ledger
 * entry exist together or not at all.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Clock } from '../../clock.ts';
import type { Database, Executor } from '../../db/connect.ts';
import { tradePositions, tradeRecords } from '../../db/schema.ts';
import type { AuditPort } from '../../operations/ports.ts';
import { differences, type NormalisedPosition, type NormalisedRecord, type TradeRecordSource } from './records.ts';

export interface IngestResult {
  /** Records stored for the first time. */
  inserted: number;
  /** Records whose content changed on the server (updated, versioned, audited). */
  changed: number;
  unchanged: number;
}

export interface IngestDeps {
  database: Database;
  clock: Clock;
  audit: AuditPort;
  /** Called in the storing transaction for each balance record stored for the first time. */
  onNewBalanceRecord?: (tx: Executor, record: NormalisedRecord) => Promise<unknown>;
}

/** Rows per INSERT statement (29 parameters each; PostgreSQL allows 65 535 per statement). */
const INSERT_CHUNK = 1000;

const keyOf = (r: { recordType: string; ticket: string }) => `${r.recordType}:${r.ticket}`;

function rowOf(r: NormalisedRecord, source: TradeRecordSource, at: Date): typeof tradeRecords.$inferInsert {
  return {
    serverCode: r.serverCode,
    platform: r.platform,
    recordType: r.recordType,
    ticket: r.ticket,
    login: r.login,
    time: r.time,
    openTime: r.openTime,
    symbol: r.symbol,
    side: r.side,
    entry: r.entry,
    orderTicket: r.orderTicket,
    positionId: r.positionId,
    volume: r.volume,
    price: r.price,
    closePrice: r.closePrice,
    profitMinor: r.profitMinor,
    commissionMinor: r.commissionMinor,
    swapMinor: r.swapMinor,
    amountMinor: r.amountMinor,
    balanceKind: r.balanceKind,
    reference: r.reference,
    comment: r.comment,
    anomalies: r.anomalies,
    contentHash: r.contentHash,
    version: 1,
    source,
    firstSeenAt: at,
    updatedAt: at,
  };
}

/** Stores one batch of records of one server, in one transaction. */
export async function ingestRecords(
  deps: IngestDeps,
  serverCode: string,
  batch: NormalisedRecord[],
  source: TradeRecordSource,
): Promise<IngestResult> {
  // The same record twice in a batch (a pumping event and a poll, a window boundary): the last one wins.
  const unique = new Map<string, NormalisedRecord>();
  for (const r of batch) {
    if (r.serverCode !== serverCode) throw new Error(`record of ${r.serverCode} in a batch of ${serverCode}`);
    unique.set(keyOf(r), r);
  }
  if (unique.size === 0) return { inserted: 0, changed: 0, unchanged: 0 };
  const records = [...unique.values()];

  return deps.database.db.transaction(async (tx) => {
    const now = deps.clock.now();
    const stored = new Map<string, string>();
    const byType = new Map<string, string[]>();
    for (const r of records) {
      const list = byType.get(r.recordType) ?? [];
      list.push(r.ticket);
      byType.set(r.recordType, list);
    }
    for (const [type, tickets] of byType) {
      const rows = await tx
        .select({ ticket: tradeRecords.ticket, contentHash: tradeRecords.contentHash })
        .from(tradeRecords)
        .where(
          and(
            eq(tradeRecords.serverCode, serverCode),
            eq(tradeRecords.recordType, type as NormalisedRecord['recordType']),
            inArray(tradeRecords.ticket, tickets),
          ),
        );
      for (const row of rows) stored.set(`${type}:${row.ticket}`, row.contentHash);
    }

    const fresh = records.filter((r) => !stored.has(keyOf(r)));
    const changed = records.filter((r) => stored.has(keyOf(r)) && stored.get(keyOf(r)) !== r.contentHash);
    const result: IngestResult = { inserted: 0, changed: 0, unchanged: records.length - fresh.length - changed.length };

    const insertedKeys = new Set<string>();
    for (let i = 0; i < fresh.length; i += INSERT_CHUNK) {
      const chunk = fresh.slice(i, i + INSERT_CHUNK);
      // A concurrent writer (pumping and a poll, two workers) may have stored some of them since the look-up: those
      // are skipped here and compared on their next sighting.
      const inserted = await tx
        .insert(tradeRecords)
        .values(chunk.map((r) => rowOf(r, source, now)))
        .onConflictDoNothing()
        .returning({ recordType: tradeRecords.recordType, ticket: tradeRecords.ticket });
      for (const row of inserted) insertedKeys.add(keyOf(row));
    }
    result.inserted = insertedKeys.size;

    for (const r of changed) {
      if (await updateChanged(tx, deps, r, now)) result.changed += 1;
      else result.unchanged += 1;
    }

    if (deps.onNewBalanceRecord) {
      for (const r of fresh) {
        if (r.recordType === 'balance' && insertedKeys.has(keyOf(r))) await deps.onNewBalanceRecord(tx, r);
      }
    }
    return result;
  });
}

/** Re-reads the stored row under a lock (another writer may have applied the same change) and updates it. */
async function updateChanged(tx: Executor, deps: IngestDeps, r: NormalisedRecord, now: Date): Promise<boolean> {
  const [row] = await tx
    .select()
    .from(tradeRecords)
    .where(
      and(
        eq(tradeRecords.serverCode, r.serverCode),
        eq(tradeRecords.recordType, r.recordType),
        eq(tradeRecords.ticket, r.ticket),
      ),
    )
    .for('update');
  if (!row || row.contentHash === r.contentHash) return false;
  const { before, after } = differences(row, r);
  await tx
    .update(tradeRecords)
    .set({
      login: r.login,
      time: r.time,
      openTime: r.openTime,
      symbol: r.symbol,
      side: r.side,
      entry: r.entry,
      orderTicket: r.orderTicket,
      positionId: r.positionId,
      volume: r.volume,
      price: r.price,
      closePrice: r.closePrice,
      profitMinor: r.profitMinor,
      commissionMinor: r.commissionMinor,
      swapMinor: r.swapMinor,
      amountMinor: r.amountMinor,
      balanceKind: r.balanceKind,
      reference: r.reference,
      comment: r.comment,
      anomalies: r.anomalies,
      contentHash: r.contentHash,
      version: sql`${tradeRecords.version} + 1`,
      updatedAt: now,
    })
    .where(eq(tradeRecords.id, row.id));
  await deps.audit.record(tx, {
    actorType: 'server',
    actorId: r.serverCode,
    action: 'trade_record.changed',
    entityType: 'trade_record',
    entityId: `${r.serverCode}:${r.recordType}:${r.ticket}`,
    before: { version: row.version, ...before },
    after: { version: row.version + 1, ...after },
    correlationId: `${r.serverCode}:${r.login}`,
  });
  return true;
}

/**
 * Replaces a server's open positions with a fresh listing taken at `listedAt`: positions no longer listed are gone
 * (closed), except those written after the listing started (pumping may be faster than the listing).
 */
export async function replacePositions(
  database: Database,
  serverCode: string,
  positions: NormalisedPosition[],
  listedAt: Date,
  now: Date,
): Promise<{ open: number; removed: number }> {
  return database.db.transaction(async (tx) => {
    for (let i = 0; i < positions.length; i += INSERT_CHUNK) {
      await upsertPositions(tx, positions.slice(i, i + INSERT_CHUNK), now);
    }
    const tickets = positions.map((p) => p.ticket);
    const removed = await tx.execute(sql`
      delete from trade_positions
      where server_code = ${serverCode}
        and updated_at < ${listedAt.toISOString()}::timestamptz
        and ticket not in (select jsonb_array_elements_text(${JSON.stringify(tickets)}::jsonb))`);
    const count = removed as unknown as { rowCount?: number | null; affectedRows?: number };
    return { open: positions.length, removed: count.rowCount ?? count.affectedRows ?? 0 };
  });
}

export async function upsertPositions(tx: Executor, positions: NormalisedPosition[], now: Date): Promise<void> {
  if (positions.length === 0) return;
  const unique = new Map(positions.map((p) => [p.ticket, p]));
  await tx
    .insert(tradePositions)
    .values([...unique.values()].map((p) => ({ ...p, updatedAt: now })))
    .onConflictDoUpdate({
      target: [tradePositions.serverCode, tradePositions.ticket],
      set: {
        login: sql`excluded.login`,
        symbol: sql`excluded.symbol`,
        side: sql`excluded.side`,
        volume: sql`excluded.volume`,
        openPrice: sql`excluded.open_price`,
        currentPrice: sql`excluded.current_price`,
        openTime: sql`excluded.open_time`,
        profitMinor: sql`excluded.profit_minor`,
        swapMinor: sql`excluded.swap_minor`,
        commissionMinor: sql`excluded.commission_minor`,
        updatedAt: sql`excluded.updated_at`,
      },
    });
}

export async function removePosition(tx: Executor, serverCode: string, ticket: string): Promise<void> {
  await tx
    .delete(tradePositions)
    .where(and(eq(tradePositions.serverCode, serverCode), eq(tradePositions.ticket, ticket)));
}
