/**
 * "Where is my deposit?": one timeline per money movement, merged from the movement's own notes, the PSP's webhooks,
 * and every attempt of every server operation made for it (with server, outcome, code and duration). Staff see all
 * of it; the client sees the same story in plain words, without internals.
 */
import { asc, eq, inArray } from 'drizzle-orm';
import type { Executor } from '../../db/connect.ts';
import { movementEvents, operationAttempts, operations, pspEvents } from '../../db/schema.ts';
import { formatMoney, type Movement } from './movements.ts';

export interface TimelineEntry {
  at: Date;
  source: 'client' | 'staff' | 'psp' | 'crm' | 'server';
  type: string;
  message: string;
  details?: Record<string, unknown> | null;
}

/** What the client reads about one attempt; null when the attempt is not worth telling them about. */
function attemptInWords(action: string, outcome: string): string | null {
  if (action === 'verify') {
    if (outcome === 'found') return 'Checked with the trading server: it had already applied this. It is applied once.';
    if (outcome === 'absent')
      return 'Checked with the trading server: it had not applied this yet, so we are sending it again.';
    return 'Checking with the trading server is taking longer than usual; we keep trying.';
  }
  if (outcome === 'ambiguous')
    return 'The trading server did not confirm in time. We are checking before trying again, so it can never be applied twice.';
  if (outcome === 'not_sent') return 'The trading server was busy or unreachable; we will try again shortly.';
  return null;
}

export async function movementTimeline(
  tx: Executor,
  movement: Movement,
  audience: 'client' | 'staff',
): Promise<{ summary: string; entries: TimelineEntry[] }> {
  const notes = await tx
    .select()
    .from(movementEvents)
    .where(eq(movementEvents.movementId, movement.id))
    .orderBy(asc(movementEvents.id));
  const ops = await tx
    .select()
    .from(operations)
    .where(eq(operations.correlationId, movement.id))
    .orderBy(asc(operations.seq));
  const attempts = ops.length
    ? await tx
        .select()
        .from(operationAttempts)
        .where(
          inArray(
            operationAttempts.operationId,
            ops.map((o) => o.id),
          ),
        )
        .orderBy(asc(operationAttempts.id))
    : [];
  const entries: TimelineEntry[] = [];
  // Among entries with the same time (a coarse or manual clock), each sorts just before the note it led to: a webhook
  // before the note it caused, an operation's attempts before the server's note on its outcome. Notes keep their order.
  const tieKeys: number[] = [];
  const noteIndex = (match: (n: (typeof notes)[number]) => boolean) => {
    const i = notes.findIndex(match);
    return i < 0 ? Number.POSITIVE_INFINITY : i;
  };
  const detail = (n: (typeof notes)[number], key: string) => (n.details as Record<string, unknown> | null)?.[key];
  for (const [i, n] of notes.entries()) {
    if (audience === 'client' && n.internal) continue;
    tieKeys.push(i);
    entries.push({
      at: n.at,
      source: n.source,
      type: n.type,
      message: n.message,
      details: audience === 'staff' ? (n.details as Record<string, unknown> | null) : undefined,
    });
  }
  const opById = new Map(ops.map((o) => [o.id, o]));
  const outcomeNote = new Map(
    ops.map((o) => [o.id, noteIndex((n) => n.source === 'server' && detail(n, 'operation') === o.reference) - 0.5]),
  );
  for (const a of attempts) {
    const op = opById.get(a.operationId)!;
    if (audience === 'client') {
      const words = attemptInWords(a.action, a.outcome);
      if (words) {
        tieKeys.push(outcomeNote.get(op.id)!);
        entries.push({ at: a.startedAt, source: 'server', type: `attempt.${a.outcome}`, message: words });
      }
      continue;
    }
    tieKeys.push(outcomeNote.get(op.id)!);
    entries.push({
      at: a.startedAt,
      source: 'server',
      type: `attempt.${a.action}.${a.outcome}`,
      message: `${a.action === 'verify' ? 'verify by reference' : 'post'} #${a.attempt} of ${op.kind} ${op.reference} on ${a.serverCode}${a.login ? ` login ${a.login}` : ''}: ${a.outcome}${a.code !== null ? ` (code ${a.code})` : ''}${a.serverText ? ` ${a.serverText}` : ''} in ${a.durationMs} ms`,
      details: {
        operationId: op.id,
        reference: op.reference,
        attempt: a.attempt,
        action: a.action,
        outcome: a.outcome,
        code: a.code,
        serverText: a.serverText,
        request: a.request,
        reply: a.reply,
        durationMs: a.durationMs,
        worker: a.worker,
      },
    });
  }
  if (audience === 'staff') {
    const webhooks = await tx
      .select()
      .from(pspEvents)
      .where(eq(pspEvents.movementId, movement.id))
      .orderBy(asc(pspEvents.id));
    for (const w of webhooks) {
      tieKeys.push(noteIndex((n) => detail(n, 'eventId') === w.eventId) - 0.75);
      entries.push({
        at: w.receivedAt,
        source: 'psp',
        type: `webhook.${w.type}`,
        message: `PSP webhook ${w.type} (${w.eventId}) ${w.outcome}${w.note ? `: ${w.note}` : ''}`,
        details: { eventId: w.eventId, occurredAt: w.occurredAt, outcome: w.outcome, payload: w.payload },
      });
    }
    for (const op of ops) {
      tieKeys.push(Number.POSITIVE_INFINITY);
      entries.push({
        at: op.updatedAt,
        source: 'crm',
        type: `operation.${op.status}`,
        message: `operation ${op.reference} (${op.kind} on ${op.serverCode}) is ${op.status} after ${op.attempts} attempt(s)${op.ticket ? `, server ticket ${op.ticket}` : ''}`,
        details: {
          operationId: op.id,
          reference: op.reference,
          status: op.status,
          ticket: op.ticket,
          lastError: op.lastError,
        },
      });
    }
  }
  // Stable: by time, then as explained above, then in the order the sources were added.
  const indexed = entries.map((e, i) => ({ e, i, k: tieKeys[i]! }));
  indexed.sort((x, y) => x.e.at.getTime() - y.e.at.getTime() || x.k - y.k || x.i - y.i);
  return { summary: summaryOf(movement), entries: indexed.map((x) => x.e) };
}

/** One sentence a client or support agent can read aloud. */
export function summaryOf(m: Movement): string {
  const amount = formatMoney(m.amountMinor, m.currency);
  const words: Partial<Record<Movement['status'], string>> = {
    awaiting_payment: `Waiting for your payment of ${amount}.`,
    payment_pending: `Your payment of ${amount} is being processed by the payment provider.`,
    payment_failed: `The payment of ${amount} did not go through${m.failureReason ? `: ${m.failureReason}` : ''}.`,
    requested: `Your request for ${amount} is waiting for review.`,
    awaiting_approval: `${amount} is waiting for approval.`,
    awaiting_second_approval: `${amount} is waiting for a second approval.`,
    approved: `${amount} is approved and being applied to the trading account.`,
    posted: `${amount} has been applied to the trading account${m.ticket ? ` (ticket ${m.ticket})` : ''}.`,
    posting_failed: `${amount} was received but is not yet in the trading account; our team is on it.`,
    debited: `${amount} left the trading account; the payout is being sent.`,
    payout_pending: `${amount} is being paid out by the payment provider.`,
    completed: `${amount} has been paid out.`,
    payout_failed: `The payout of ${amount} failed.`,
    returning: `The payout of ${amount} failed; the money is being returned to the trading account.`,
    returned: `The payout of ${amount} failed; the money is back in the trading account.`,
    reversing: `Money taken back by the payment provider is being debited from the trading account.`,
    refunded: `${amount} was refunded.`,
    charged_back: `${amount} was charged back by the card issuer.`,
    reversal_failed: 'Money taken back by the payment provider could not be debited; our team will contact you.',
    rejected: `Not approved${m.failureReason ? `: ${m.failureReason}` : ''}.`,
    cancelled: 'Cancelled.',
    failed: `It did not happen${m.failureReason ? `: ${m.failureReason}` : ''}.`,
  };
  return words[m.status] ?? m.status;
}
