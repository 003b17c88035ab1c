/**
 * The mail module owns email to clients: an outbox row is written in the transaction of the change that causes it
 * (registration, a KYC decision…), and the worker sends pending rows over SMTP with retry and backoff. With no SMTP
 * relay configured, rows wait in the outbox and nothing fails. Emails never carry a password.
 */
import { and, asc, eq, inArray, lte } from 'drizzle-orm';
import { type Clock, systemClock } from '../../clock.ts';
import type { Database, Executor } from '../../db/connect.ts';
import { outboxEmails } from '../../db/schema.ts';

export type OutboxEmail = typeof outboxEmails.$inferSelect;

export interface EmailMessage {
  to: string;
  subject: string;
  text: string;
}

/** Sends one message; throws when the relay refuses it or cannot be reached. */
export interface Mailer {
  send(message: EmailMessage): Promise<void>;
  close?(): void;
}

/** Writes an email to the outbox inside the caller's transaction: it is sent only if that transaction commits. */
export async function enqueueEmail(
  tx: Executor,
  email: EmailMessage & { kind: string },
  clock: Clock = systemClock,
): Promise<OutboxEmail> {
  const now = clock.now();
  const [row] = await tx
    .insert(outboxEmails)
    .values({
      kind: email.kind,
      to: email.to,
      subject: email.subject.replace(/[\r\n]+/g, ' ').slice(0, 200),
      text: email.text,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: now,
      createdAt: now,
    })
    .returning();
  return row!;
}

export interface DeliveryOptions {
  clock?: Clock;
  limit?: number;
  /** After this many failed attempts a row is marked failed and no longer retried. */
  maxAttempts?: number;
  /** How long a claimed row is hidden from other workers while it is being sent. */
  claimMs?: number;
}

export interface DeliveryReport {
  sent: number;
  retrying: number;
  failed: number;
  /** True when no SMTP relay is configured: nothing was attempted. */
  skipped: boolean;
}

/** First retry after 30 s, doubling, at most an hour apart. */
export function retryDelayMs(attempts: number): number {
  return Math.min(3600_000, 30_000 * 2 ** Math.max(0, attempts - 1));
}

/**
 * Sends the due pending emails. Rows are claimed first (FOR UPDATE SKIP LOCKED, then pushed past the claim window)
 * so several workers never send the same email twice in the normal case.
 */
export async function deliverOutboxEmails(
  database: Database,
  mailer: Mailer | null | undefined,
  options: DeliveryOptions = {},
): Promise<DeliveryReport> {
  const report: DeliveryReport = { sent: 0, retrying: 0, failed: 0, skipped: !mailer };
  if (!mailer) return report;
  const clock = options.clock ?? systemClock;
  const maxAttempts = options.maxAttempts ?? 10;
  const claimMs = options.claimMs ?? 5 * 60_000;
  const due = await database.db.transaction(async (tx) => {
    const rows = await tx
      .select()
      .from(outboxEmails)
      .where(and(eq(outboxEmails.status, 'pending'), lte(outboxEmails.nextAttemptAt, clock.now())))
      .orderBy(asc(outboxEmails.nextAttemptAt), asc(outboxEmails.id))
      .limit(options.limit ?? 50)
      .for('update', { skipLocked: true });
    if (rows.length > 0) {
      await tx
        .update(outboxEmails)
        .set({ nextAttemptAt: new Date(clock.now().getTime() + claimMs) })
        .where(
          inArray(
            outboxEmails.id,
            rows.map((r) => r.id),
          ),
        );
    }
    return rows;
  });
  for (const row of due) {
    const attempts = row.attempts + 1;
    try {
      await mailer.send({ to: row.to, subject: row.subject, text: row.text });
      await database.db
        .update(outboxEmails)
        .set({ status: 'sent', attempts, sentAt: clock.now(), lastError: null })
        .where(eq(outboxEmails.id, row.id));
      report.sent += 1;
    } catch (err) {
      const giveUp = attempts >= maxAttempts;
      await database.db
        .update(outboxEmails)
        .set({
          status: giveUp ? 'failed' : 'pending',
          attempts,
          lastError: String((err as Error).message ?? err).slice(0, 1000),
          nextAttemptAt: new Date(clock.now().getTime() + retryDelayMs(attempts)),
        })
        .where(eq(outboxEmails.id, row.id));
      if (giveUp) report.failed += 1;
      else report.retrying += 1;
    }
  }
  return report;
}
