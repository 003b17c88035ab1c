/**
 * Periodic checks that turn silent trouble into alerts: operations stuck `unknown` too long, a queue backlog, and
 * servers whose circuit is open (unreachable). Each alert resolves itself when its condition clears.
 */
import { and, eq, lt } from 'drizzle-orm';
import { operations } from '../db/schema.ts';
import type { ServerHealth } from '../platforms/guarded.ts';
import type { OperationsDeps } from './ports.ts';

export interface MonitorThresholds {
  unknownAfterMs: number;
  backlogThreshold: number;
}

export async function checkOperationsHealth(
  deps: Pick<OperationsDeps, 'database' | 'clock' | 'alerts'>,
  servers: ServerHealth[],
  thresholds: MonitorThresholds,
): Promise<void> {
  const now = deps.clock.now();
  const stale = await deps.database.db
    .select({
      id: operations.id,
      reference: operations.reference,
      serverCode: operations.serverCode,
      login: operations.login,
      updatedAt: operations.updatedAt,
    })
    .from(operations)
    .where(
      and(
        eq(operations.status, 'unknown'),
        lt(operations.updatedAt, new Date(now.getTime() - thresholds.unknownAfterMs)),
      ),
    );
  const [ready] = await deps.database.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM operations WHERE status IN ('pending','unknown') AND next_attempt_at <= $1",
    [now],
  );
  await deps.database.db.transaction(async (tx) => {
    for (const op of stale) {
      await deps.alerts.raise(tx, {
        kind: 'operation_unknown_stale',
        dedupeKey: `unknown:${op.id}`,
        severity: 'warning',
        title: `${op.reference} on ${op.serverCode} has been unknown since ${op.updatedAt.toISOString()}: the server cannot be asked whether it was applied`,
        details: { operationId: op.id, reference: op.reference, server: op.serverCode, login: op.login },
      });
    }
    const backlog = ready?.n ?? 0;
    if (backlog > thresholds.backlogThreshold) {
      await deps.alerts.raise(tx, {
        kind: 'queue_backlog',
        dedupeKey: 'queue:backlog',
        severity: 'warning',
        title: `${backlog} operations are waiting to run (threshold ${thresholds.backlogThreshold})`,
        details: { backlog },
      });
    } else {
      await deps.alerts.resolve(tx, 'queue:backlog', 'system', `backlog down to ${backlog}`);
    }
    for (const server of servers) {
      const key = `server:${server.server}`;
      if (server.circuit !== 'closed') {
        await deps.alerts.raise(tx, {
          kind: 'server_unreachable',
          dedupeKey: key,
          severity: 'critical',
          title: `trading server ${server.server} is unreachable (circuit ${server.circuit}): ${server.lastError?.message ?? 'no answer'}`,
          details: { ...server },
        });
      } else {
        await deps.alerts.resolve(tx, key, 'system', 'the server answers again');
      }
    }
  });
}
