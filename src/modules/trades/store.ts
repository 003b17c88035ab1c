/**
 * Writes synced records: an idempotent upsert keyed by (server, record type, ticket). A record seen for the first time
 * is inserted (in bulk); one seen again with the same content changes nothing; one whose content changed on the server
 * (a dealer's correction) is updated, its `version` goes up and an audit event keeps the old and new values. A new
 * balance record is handed to the external-changes module in the same transaction, so a manual change and its ledger
 * entry exist together or not at all.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Clock } from '../../clock.ts';
import type { Database, Executor } from '../../db/connect.ts';
import { tradeOpenOrders, tradePositions, tradeRecords } from '../../db/schema.ts';
import type { AuditPort } from '../../operations/ports.ts';
import {
  differences,
  type NormalisedOpenOrder,
  type NormalisedPosition,
  type NormalisedRecord,
  type TradeRecordRow,
  type TradeRecordSource,
} from './records.ts';

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
  /** Called in the storing transaction for each balance record whose content changed (with the stored values). */
  onChangedBalanceRecord?: (
    tx: Executor,
    before: TradeRecordRow,
    after: NormalisedRecord,
    version: number,
  ) => Promise<unknown>;
}

/** Rows per INSERT statement. */
const INSERT_CHUNK = 2000;

const keyOf = (r: { recordType: string; ticket: string }) => `${r.recordType}:${r.ticket}`;

/**
 * One statement per chunk, decided by the unique index itself (never by a plan that stale statistics could spoil):
 * the records travel as one JSON parameter (json_to_recordset); a new key is inserted; a known key whose content
 * hash differs is touched (`updated_at` rewritten to itself, which locks the row and returns it) so the caller can
 * update it with its old values at hand; a known key with the same content is neither written nor returned.
 */
async function upsertChunk(
  tx: Executor,
  records: NormalisedRecord[],
  source: TradeRecordSource,
  now: Date,
): Promise<Map<string, 'inserted' | 'changed'>> {
  const payload = JSON.stringify(
    records.map((r) => {
      const row: Record<string, unknown> = {
        server_code: r.serverCode,
        platform: r.platform,
        record_type: r.recordType,
        ticket: r.ticket,
        login: r.login,
        time: r.time.toISOString(),
        open_time: r.openTime?.toISOString() ?? null,
        symbol: r.symbol,
        side: r.side,
        entry: r.entry,
        order_ticket: r.orderTicket,
        position_id: r.positionId,
        volume: r.volume,
        price: r.price,
        close_price: r.closePrice,
        profit_minor: r.profitMinor,
        commission_minor: r.commissionMinor,
        swap_minor: r.swapMinor,
        amount_minor: r.amountMinor,
        balance_kind: r.balanceKind,
        reference: r.reference,
        comment: r.comment,
        anomalies: r.anomalies,
        content_hash: r.contentHash,
      };
      // Absent keys read as null: only orders carry their own fields (less JSON for every other record).
      if (r.recordType === 'order') {
        row.order_type = r.orderType;
        row.order_state = r.orderState;
        row.volume_remaining = r.volumeRemaining;
        row.stop_loss = r.stopLoss;
        row.take_profit = r.takeProfit;
      }
      return row;
    }),
  );
  const at = now.toISOString();
  const result = await tx.execute(sql`
    insert into trade_records (server_code, platform, record_type, ticket, login, time, open_time, symbol, side,
      entry, order_ticket, position_id, volume, price, close_price, profit_minor, commission_minor, swap_minor,
      amount_minor, balance_kind, order_type, order_state, volume_remaining, stop_loss, take_profit, reference,
      comment, anomalies, content_hash, version, source, first_seen_at, updated_at)
    select server_code, platform, record_type, ticket, login, time, open_time, symbol, side, entry, order_ticket,
      position_id, volume, price, close_price, profit_minor, commission_minor, swap_minor, amount_minor,
      balance_kind, order_type, order_state, volume_remaining, stop_loss, take_profit, reference, comment, anomalies,
      content_hash, 1, ${source}, ${at}::timestamptz, ${at}::timestamptz
    from json_to_recordset(${payload}::json) as x(server_code text, platform text, record_type text,
      ticket text, login bigint, time timestamptz, open_time timestamptz, symbol text, side text, entry text,
      order_ticket text, position_id text, volume bigint, price double precision, close_price double precision,
      profit_minor bigint, commission_minor bigint, swap_minor bigint, amount_minor bigint, balance_kind text,
      order_type text, order_state text, volume_remaining bigint, stop_loss double precision,
      take_profit double precision, reference text, comment text, anomalies jsonb, content_hash text)
    on conflict (server_code, record_type, ticket) do update set updated_at = trade_records.updated_at
      where trade_records.content_hash <> excluded.content_hash
    returning record_type, ticket, (xmax = 0) as inserted`);
  const rows = (result as unknown as { rows: { record_type: string; ticket: string; inserted: boolean }[] }).rows;
  return new Map(rows.map((r) => [`${r.record_type}:${r.ticket}`, r.inserted ? 'inserted' : 'changed']));
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
  // In key order: batches written at the same time (a pass writes the next while storing one; backfill windows
  // overlap; pumping and a poll meet) may hold the same keys, and taking their row locks in one order everywhere
  // makes the later wait instead of deadlocking (seen in the sync bench: 40P01 while inserting index tuples).
  const records = [...unique.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);

  return deps.database.db.transaction(async (tx) => {
    const now = deps.clock.now();
    const result: IngestResult = { inserted: 0, changed: 0, unchanged: 0 };
    const fresh: NormalisedRecord[] = [];
    const changed: NormalisedRecord[] = [];
    for (let i = 0; i < records.length; i += INSERT_CHUNK) {
      const chunk = records.slice(i, i + INSERT_CHUNK);
      const outcome = await upsertChunk(tx, chunk, source, now);
      for (const r of chunk) {
        const seen = outcome.get(keyOf(r));
        if (seen === 'inserted') fresh.push(r);
        else if (seen === 'changed') changed.push(r);
        else result.unchanged += 1;
      }
    }
    result.inserted = fresh.length;

    for (const r of changed) {
      if (await updateChanged(tx, deps, r, now)) result.changed += 1;
      else result.unchanged += 1;
    }

    if (deps.onNewBalanceRecord) {
      for (const r of fresh) if (r.recordType === 'balance') await deps.onNewBalanceRecord(tx, r);
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
      orderType: r.orderType,
      orderState: r.orderState,
      volumeRemaining: r.volumeRemaining,
      stopLoss: r.stopLoss,
      takeProfit: r.takeProfit,
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
  if (r.recordType === 'balance' && deps.onChangedBalanceRecord) {
    await deps.onChangedBalanceRecord(tx, row, r, row.version + 1);
  }
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

/**
 * Replaces a server's open orders with a fresh listing taken at `listedAt` (as positions): orders no longer listed
 * have finished (filled, canceled, expired), except those written after the listing started. Returns the tickets
 * removed, so the caller can make sure their final state reaches the history.
 */
export async function replaceOpenOrders(
  database: Database,
  serverCode: string,
  orders: NormalisedOpenOrder[],
  listedAt: Date,
  now: Date,
): Promise<{ open: number; removed: { ticket: string; login: number }[] }> {
  return database.db.transaction(async (tx) => {
    const unique = [...new Map(orders.map((o) => [o.ticket, o])).values()];
    await upsertOpenOrders(tx, unique, now);
    const removed = await tx.execute(sql`
      delete from trade_open_orders
      where server_code = ${serverCode}
        and updated_at < ${listedAt.toISOString()}::timestamptz
        and ticket not in (select jsonb_array_elements_text(${JSON.stringify(unique.map((o) => o.ticket))}::jsonb))
      returning ticket, login`);
    const rows = (removed as unknown as { rows: { ticket: string; login: string | number }[] }).rows;
    return { open: unique.length, removed: rows.map((r) => ({ ticket: r.ticket, login: Number(r.login) })) };
  });
}

/** Open orders as listed or pushed (MT4 pumping), upserted by (server, ticket). */
export async function upsertOpenOrders(tx: Executor, orders: NormalisedOpenOrder[], now: Date): Promise<void> {
  const unique = [...new Map(orders.map((o) => [o.ticket, o])).values()];
  for (let i = 0; i < unique.length; i += INSERT_CHUNK) {
    await tx
      .insert(tradeOpenOrders)
      .values(unique.slice(i, i + INSERT_CHUNK).map((o) => ({ ...o, updatedAt: now })))
      .onConflictDoUpdate({
        target: [tradeOpenOrders.serverCode, tradeOpenOrders.ticket],
        set: {
          login: sql`excluded.login`,
          symbol: sql`excluded.symbol`,
          orderType: sql`excluded.order_type`,
          side: sql`excluded.side`,
          state: sql`excluded.state`,
          volume: sql`excluded.volume`,
          volumeRemaining: sql`excluded.volume_remaining`,
          price: sql`excluded.price`,
          triggerPrice: sql`excluded.trigger_price`,
          stopLoss: sql`excluded.stop_loss`,
          takeProfit: sql`excluded.take_profit`,
          setupTime: sql`excluded.setup_time`,
          expiration: sql`excluded.expiration`,
          positionId: sql`excluded.position_id`,
          comment: sql`excluded.comment`,
          updatedAt: sql`excluded.updated_at`,
        },
      });
  }
}

/** An order that left the open book (pushed finished, or triggered into a position). */
export async function removeOpenOrder(tx: Executor, serverCode: string, ticket: string): Promise<void> {
  await tx
    .delete(tradeOpenOrders)
    .where(and(eq(tradeOpenOrders.serverCode, serverCode), eq(tradeOpenOrders.ticket, ticket)));
}
