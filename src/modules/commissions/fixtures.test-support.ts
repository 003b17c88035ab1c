/**
 * Test support for the commissions module (imported by tests only): rows inserted straight into an isolated
 * database: servers, products, partners in a tree, referred clients with accounts, and closing records in
 * `trade_records` as the trade sync stores them.
 */
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Clock } from '../../clock.ts';
import type { Database } from '../../db/connect.ts';
import { clients, partners, products, tradeRecords, tradingAccounts, tradingServers } from '../../db/schema.ts';

let counter = 0;
const unique = () => `${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;

export async function addServer(
  db: Database,
  code: string,
  platform: 'mt4' | 'mt5',
  environment: 'live' | 'demo' = 'live',
): Promise<void> {
  await db.db
    .insert(tradingServers)
    .values({
      code,
      platform,
      environment,
      address: 'https://127.0.0.1:1',
      managerLogin: 1,
      passwordSecret: 'env:UNUSED',
    })
    .onConflictDoNothing();
}

export async function addPartner(db: Database, clock: Clock, name: string, parentId: string | null = null) {
  const now = clock.now();
  const [row] = await db.db
    .insert(partners)
    .values({
      email: `${name.toLowerCase().replace(/\W/g, '')}-${unique()}@ib.example`,
      name,
      passwordHash: 'not-used',
      referralCode: unique()
        .toUpperCase()
        .replace(/[^A-Z0-9]/g, 'X')
        .slice(0, 20),
      status: 'active',
      parentId,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  return row!.id;
}

export async function addClientWithAccount(
  db: Database,
  clock: Clock,
  input: { partnerId: string | null; serverCode: string; login: number; currency?: string },
): Promise<{ clientId: string; accountId: string }> {
  const now = clock.now();
  const [product] = await db.db
    .insert(products)
    .values({
      code: `p-${unique()}`,
      name: 'Product',
      environment: 'live',
      serverCode: input.serverCode,
      groupName: 'real\\standard',
      currency: input.currency ?? 'USD',
      allowedLeverages: [100],
      defaultLeverage: 100,
      kycPolicy: 'none',
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  const [client] = await db.db
    .insert(clients)
    .values({
      email: `c-${unique()}@example.com`,
      passwordHash: 'not-used',
      name: 'Client',
      country: 'CY',
      status: 'active',
      kycStatus: 'approved',
      partnerId: input.partnerId,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  const [account] = await db.db
    .insert(tradingAccounts)
    .values({
      clientId: client!.id,
      productId: product!.id,
      serverCode: input.serverCode,
      login: input.login,
      groupName: 'real\\standard',
      currency: input.currency ?? 'USD',
      leverage: 100,
      status: 'open',
      tradingEnabled: true,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  return { clientId: client!.id, accountId: account!.id };
}

let ticket = 100_000;

export interface TradeInput {
  serverCode: string;
  login: number;
  platform?: 'mt4' | 'mt5';
  /** MT5 deal (with an entry) or MT4 closed trade (no entry). */
  entry?: 'in' | 'out' | 'inout' | 'out_by';
  side: 'buy' | 'sell';
  symbol: string;
  lots: number;
  time: string | Date;
  commissionMinor?: number;
  profitMinor?: number;
  swapMinor?: number;
  comment?: string;
  ticket?: string;
}

/** Stores a closing record (or an MT5 `in` deal) as the trade sync would; returns its id and ticket. */
export async function addTrade(db: Database, clock: Clock, t: TradeInput): Promise<{ id: number; ticket: string }> {
  const no = t.ticket ?? String(ticket++);
  const now = clock.now();
  const [row] = await db.db
    .insert(tradeRecords)
    .values({
      serverCode: t.serverCode,
      platform: t.platform ?? (t.entry ? 'mt5' : 'mt4'),
      recordType: t.entry ? 'deal' : 'closed_trade',
      ticket: no,
      login: t.login,
      time: new Date(t.time),
      symbol: t.symbol,
      side: t.side,
      entry: t.entry ?? null,
      positionId: no,
      orderTicket: no,
      volume: Math.round(t.lots * 10_000),
      price: 1,
      profitMinor: t.profitMinor ?? 0,
      commissionMinor: t.commissionMinor ?? 0,
      swapMinor: t.swapMinor ?? 0,
      comment: t.comment ?? '',
      contentHash: createHash('sha1').update(no).digest('hex'),
      version: 1,
      source: 'poll',
      firstSeenAt: now,
      updatedAt: now,
    })
    .returning({ id: tradeRecords.id });
  return { id: row!.id, ticket: no };
}

/** A dealer's correction as the trade sync applies it: new content, version + 1. */
export async function correctTrade(
  db: Database,
  id: number,
  change: { lots?: number; commissionMinor?: number; profitMinor?: number },
): Promise<void> {
  await db.db.execute(sql`
    update trade_records set
      volume = coalesce(${change.lots === undefined ? null : Math.round(change.lots * 10_000)}::bigint, volume),
      commission_minor = coalesce(${change.commissionMinor ?? null}::bigint, commission_minor),
      profit_minor = coalesce(${change.profitMinor ?? null}::bigint, profit_minor),
      content_hash = md5(content_hash), version = version + 1
    where id = ${id}`);
}
