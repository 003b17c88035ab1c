/**
 * The attempt log, as support and finance read it: every call made to a server for an operation, filtered by
 * operation, reference, login, server and time, newest first, paged by cursor.
 */
import { and, desc, eq, gte, lt, lte, type SQL } from 'drizzle-orm';
import type { Executor } from '../db/connect.ts';
import { operationAttempts } from '../db/schema.ts';

export type AttemptRow = typeof operationAttempts.$inferSelect;

export interface AttemptFilter {
  operationId?: string;
  reference?: string;
  serverCode?: string;
  login?: number;
  from?: Date;
  to?: Date;
  /** Return attempts older than this id (the last id of the previous page). */
  before?: number;
  limit?: number;
}

export async function listAttempts(db: Executor, filter: AttemptFilter = {}): Promise<AttemptRow[]> {
  const where: SQL[] = [];
  if (filter.operationId) where.push(eq(operationAttempts.operationId, filter.operationId));
  if (filter.reference) where.push(eq(operationAttempts.reference, filter.reference));
  if (filter.serverCode) where.push(eq(operationAttempts.serverCode, filter.serverCode));
  if (filter.login !== undefined) where.push(eq(operationAttempts.login, filter.login));
  if (filter.from) where.push(gte(operationAttempts.startedAt, filter.from));
  if (filter.to) where.push(lte(operationAttempts.startedAt, filter.to));
  if (filter.before !== undefined) where.push(lt(operationAttempts.id, filter.before));
  return db
    .select()
    .from(operationAttempts)
    .where(where.length > 0 ? and(...where) : undefined)
    .orderBy(desc(operationAttempts.id))
    .limit(Math.min(filter.limit ?? 100, 1000));
}
