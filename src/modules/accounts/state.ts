/** Where an account is heading: its confirmed columns, with the changes still queued for it applied in order. */
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Executor } from '../../db/connect.ts';
import { operations } from '../../db/schema.ts';
import type { TradingAccountRow } from './lifecycle.ts';

export const UNFINISHED = ['waiting', 'pending', 'in_flight', 'unknown', 'needs_review'] as const;

export interface IntendedState {
  group: string;
  leverage: number;
  tradingAllowed: boolean;
}

export async function intendedState(tx: Executor, account: TradingAccountRow): Promise<IntendedState> {
  const state: IntendedState = {
    group: account.groupName,
    leverage: account.leverage,
    tradingAllowed: account.tradingEnabled,
  };
  const queued = await tx
    .select({ payload: operations.payload })
    .from(operations)
    .where(
      and(
        eq(operations.correlationId, account.id),
        eq(operations.kind, 'update_account'),
        inArray(operations.status, [...UNFINISHED]),
      ),
    )
    .orderBy(asc(operations.seq));
  for (const { payload } of queued) {
    const p = payload as { group?: string; leverage?: number; tradingAllowed?: boolean };
    if (p.group !== undefined) state.group = p.group;
    if (p.leverage !== undefined) state.leverage = p.leverage;
    if (p.tradingAllowed !== undefined) state.tradingAllowed = p.tradingAllowed;
  }
  return state;
}
