/** Drains the alert outbox: each pending delivery is sent on its channel and retried with backoff until it goes. */
import { and, asc, eq, lte } from 'drizzle-orm';
import { type Clock, systemClock } from '../../clock.ts';
import type { Database } from '../../db/connect.ts';
import { alertDeliveries, alerts } from '../../db/schema.ts';
import type { AlertChannel } from './channels.ts';

const MAX_ATTEMPTS = 12;

export async function deliverAlerts(
  database: Database,
  channels: AlertChannel[],
  options: { clock?: Clock; limit?: number } = {},
): Promise<{ delivered: number; failed: number }> {
  const clock = options.clock ?? systemClock;
  const byName = new Map(channels.map((c) => [c.name, c]));
  const due = await database.db
    .select({ delivery: alertDeliveries, alert: alerts })
    .from(alertDeliveries)
    .innerJoin(alerts, eq(alerts.id, alertDeliveries.alertId))
    .where(and(eq(alertDeliveries.status, 'pending'), lte(alertDeliveries.nextAttemptAt, clock.now())))
    .orderBy(asc(alertDeliveries.id))
    .limit(options.limit ?? 50);
  let delivered = 0;
  let failed = 0;
  for (const { delivery, alert } of due) {
    const channel = byName.get(delivery.channel);
    const attempts = delivery.attempts + 1;
    try {
      if (!channel) throw new Error(`alert channel ${delivery.channel} is not configured`);
      await channel.send({
        event: delivery.event as 'raised' | 'resolved',
        alert: {
          id: alert.id,
          kind: alert.kind,
          severity: alert.severity,
          title: alert.title,
          status: alert.status,
          occurrences: alert.occurrences,
          details: alert.details,
          firstSeenAt: alert.firstSeenAt.toISOString(),
          lastSeenAt: alert.lastSeenAt.toISOString(),
        },
      });
      await database.db
        .update(alertDeliveries)
        .set({ status: 'delivered', attempts, deliveredAt: clock.now(), lastError: null })
        .where(eq(alertDeliveries.id, delivery.id));
      delivered += 1;
    } catch (err) {
      const delay = Math.min(3600_000, 5000 * 2 ** (attempts - 1));
      await database.db
        .update(alertDeliveries)
        .set({
          status: attempts >= MAX_ATTEMPTS ? 'failed' : 'pending',
          attempts,
          lastError: (err as Error).message,
          nextAttemptAt: new Date(clock.now().getTime() + delay),
        })
        .where(eq(alertDeliveries.id, delivery.id));
      failed += 1;
    }
  }
  return { delivered, failed };
}
