/**
 * The alerts module owns alerts: raised by the engine and the monitors, stored and deduplicated (one open alert per
 * key; a repeat bumps its count), acknowledged and resolved by staff, and delivered to the configured channels
 * through an outbox the worker drains (so a raise inside a transaction is delivered only if that transaction commits).
 */
import { and, desc, eq, ne, sql } from 'drizzle-orm';
import { type Clock, systemClock } from '../../clock.ts';
import type { Executor } from '../../db/connect.ts';
import { alertDeliveries, alerts } from '../../db/schema.ts';
import type { AlertInput, AlertPort } from '../../operations/ports.ts';
import { recordAudit } from '../audit/service.ts';

export type Alert = typeof alerts.$inferSelect;
export type AlertChannelName = 'webhook' | 'email';

export class AlertStateError extends Error {
  override readonly name = 'AlertStateError';
  constructor(
    readonly code: 'ALERT_NOT_FOUND' | 'ALERT_ALREADY_RESOLVED',
    message: string,
  ) {
    super(message);
  }
}

export interface AlertServiceOptions {
  clock?: Clock;
  /** Channels that are configured; each raise and resolve queues one delivery per channel. */
  channels?: AlertChannelName[];
}

export class AlertService implements AlertPort {
  private readonly clock: Clock;
  private readonly channels: AlertChannelName[];

  constructor(options: AlertServiceOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.channels = options.channels ?? [];
  }

  async raise(tx: Executor, input: AlertInput): Promise<Alert> {
    const now = this.clock.now();
    // One statement, so two workers raising the same alert at once make one alert with two occurrences.
    const [row] = await tx
      .insert(alerts)
      .values({
        kind: input.kind,
        dedupeKey: input.dedupeKey,
        severity: input.severity,
        title: input.title,
        details: input.details ?? null,
        status: 'open',
        firstSeenAt: now,
        lastSeenAt: now,
      })
      .onConflictDoUpdate({
        target: alerts.dedupeKey,
        targetWhere: sql`${alerts.status} <> 'resolved'`,
        set: {
          occurrences: sql`${alerts.occurrences} + 1`,
          lastSeenAt: now,
          title: input.title,
          details: input.details ?? null,
          severity: input.severity,
        },
      })
      .returning({ id: alerts.id, inserted: sql<boolean>`(xmax = 0)` });
    const [alert] = await tx.select().from(alerts).where(eq(alerts.id, row!.id));
    if (!alert) throw new Error(`alert ${row!.id} vanished`);
    if (row!.inserted) {
      await this.queueDeliveries(tx, alert.id, 'raised');
      await recordAudit(
        tx,
        {
          actorType: 'system',
          action: 'alert.raised',
          entityType: 'alert',
          entityId: alert.id,
          after: { kind: input.kind, severity: input.severity, title: input.title },
          correlationId: input.dedupeKey,
        },
        this.clock,
      );
    }
    return alert;
  }

  async resolve(tx: Executor, dedupeKey: string, by: string, resolution: string): Promise<Alert | null> {
    const [open] = await tx
      .select()
      .from(alerts)
      .where(and(eq(alerts.dedupeKey, dedupeKey), ne(alerts.status, 'resolved')));
    if (!open) return null;
    return this.resolveAlert(tx, open.id, by, resolution);
  }

  async acknowledge(tx: Executor, id: string, by: string): Promise<Alert> {
    const [alert] = await tx.select().from(alerts).where(eq(alerts.id, id)).for('update');
    if (!alert) throw new AlertStateError('ALERT_NOT_FOUND', `no alert ${id}`);
    if (alert.status === 'resolved')
      throw new AlertStateError('ALERT_ALREADY_RESOLVED', `alert ${id} is already resolved`);
    const [updated] = await tx
      .update(alerts)
      .set({ status: 'acknowledged', acknowledgedBy: by, acknowledgedAt: this.clock.now() })
      .where(eq(alerts.id, id))
      .returning();
    await recordAudit(
      tx,
      {
        actorType: 'staff',
        actorId: by,
        action: 'alert.acknowledged',
        entityType: 'alert',
        entityId: id,
        before: { status: alert.status },
        after: { status: 'acknowledged' },
      },
      this.clock,
    );
    return updated!;
  }

  async resolveAlert(tx: Executor, id: string, by: string, resolution: string): Promise<Alert> {
    const [alert] = await tx.select().from(alerts).where(eq(alerts.id, id)).for('update');
    if (!alert) throw new AlertStateError('ALERT_NOT_FOUND', `no alert ${id}`);
    if (alert.status === 'resolved')
      throw new AlertStateError('ALERT_ALREADY_RESOLVED', `alert ${id} is already resolved`);
    const [updated] = await tx
      .update(alerts)
      .set({ status: 'resolved', resolvedBy: by, resolvedAt: this.clock.now(), resolution })
      .where(eq(alerts.id, id))
      .returning();
    await this.queueDeliveries(tx, id, 'resolved');
    await recordAudit(
      tx,
      {
        actorType: by === 'system' ? 'system' : 'staff',
        actorId: by,
        action: 'alert.resolved',
        entityType: 'alert',
        entityId: id,
        before: { status: alert.status },
        after: { status: 'resolved', resolution },
      },
      this.clock,
    );
    return updated!;
  }

  async list(db: Executor, filter: { status?: Alert['status']; limit?: number } = {}): Promise<Alert[]> {
    return db
      .select()
      .from(alerts)
      .where(filter.status ? eq(alerts.status, filter.status) : undefined)
      .orderBy(desc(alerts.lastSeenAt))
      .limit(filter.limit ?? 100);
  }

  private async queueDeliveries(tx: Executor, alertId: string, event: 'raised' | 'resolved'): Promise<void> {
    const now = this.clock.now();
    for (const channel of this.channels) {
      await tx
        .insert(alertDeliveries)
        .values({ alertId, channel, event, status: 'pending', nextAttemptAt: now, createdAt: now });
    }
  }
}
