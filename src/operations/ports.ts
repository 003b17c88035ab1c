/**
 * What the operations engine needs from the rest of the product, as interfaces: dependencies point from modules to
 * operations, never back, so the audit and alerts modules (and the modules that receive results) plug in here.
 */
import type { Clock } from '../clock.ts';
import type { Executor, ScriptConnection } from '../db/connect.ts';
import type { operations } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import type { Platform } from '../platforms/types.ts';
import type { Sealer } from './sealed.ts';

export type OperationRow = typeof operations.$inferSelect;

export interface AuditEntry {
  actorType: 'client' | 'staff' | 'partner' | 'system' | 'server' | 'psp';
  actorId?: string | null;
  action: string;
  entityType: string;
  entityId: string;
  before?: unknown;
  after?: unknown;
  correlationId?: string | null;
}

export interface AuditPort {
  record(tx: Executor, entry: AuditEntry): Promise<unknown>;
  /** Hold back this transaction's events until `flush` (so the chain lock is taken only at the end). */
  hold?(tx: Executor): void;
  /**
   * Append the held-back events; the last thing a transaction does. With `commit`, it may also commit the
   * transaction in the same round trip (answering true), after which the transaction must not be used again.
   */
  flush?(tx: Executor, options?: { commit?: boolean }): Promise<unknown>;
}

export interface AlertInput {
  kind: string;
  dedupeKey: string;
  severity: 'info' | 'warning' | 'critical';
  title: string;
  details?: Record<string, unknown>;
}

export interface AlertPort {
  raise(tx: Executor, alert: AlertInput): Promise<unknown>;
  /** Resolves the open alert with this key, if any (the condition cleared). */
  resolve(tx: Executor, dedupeKey: string, by: string, resolution: string): Promise<unknown>;
}

/** How an operation ended, as delivered to the module that asked for it. */
export interface OperationOutcome {
  operation: OperationRow;
  status: 'succeeded' | 'failed' | 'cancelled';
}

/** A module's receiver of results, called inside the transaction that ends the operation (exactly once). */
export type OperationHandler = ((tx: Executor, outcome: OperationOutcome) => Promise<void>) & {
  /**
   * Optional: the read the handler starts with (e.g. locking the row the operation is for), as a parameterless
   * statement that goes in the same round trip as the BEGIN of the transaction ending the operation, right after the
   * statement that ends it (ScriptConnection says what is prepared on its connection; undefined: nothing to add).
   * `accept` gets its rows in that transaction before the handler runs.
   */
  opening?(
    operation: OperationRow,
    connection: ScriptConnection,
  ): { statement: string; accept(tx: Executor, rows: Record<string, unknown>[]): void } | undefined;
};

export interface PlatformSource {
  platform(serverCode: string): Promise<Platform>;
}

export interface OperationsDeps {
  database: import('../db/connect.ts').Database;
  platforms: PlatformSource;
  clock: Clock;
  sealer: Sealer;
  audit: AuditPort;
  alerts: AlertPort;
  handlers?: Record<string, OperationHandler>;
  logger?: Logger;
}
