/**
 * PSP webhooks, applied exactly once. The adapter verifies the signature and freshness; here each event is stored
 * under the PSP's event id in the same transaction that applies it, so a redelivery with the same body is
 * acknowledged and changes nothing, and the same id with another body is refused as a conflict.
 *
 * Events may arrive late, twice or out of order. Each carries the whole payment (or payout) as the PSP now sees it,
 * so the movement is brought to what the snapshot says rather than replaying the event's name: a "succeeded" after a
 * later "refunded" was already applied changes nothing; a "refunded" that overtakes the "succeeded" first records
 * the payment, then the refund.
 */
import { createHash } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import {
  type Executor,
  executePrepared,
  preparedQuery,
  prepareOnEveryConnection,
  type ScriptConnection,
  scriptConnection,
  scriptedTransaction,
  sqlLiteral,
} from '../../db/connect.ts';
import { GroupCommit } from '../../db/group-commit.ts';
import { clientFlags, moneyMovements, pspEvents } from '../../db/schema.ts';
import { enqueueOperation, enqueueOperationDeferred } from '../../operations/enqueue.ts';
import { WebhookRejected } from '../../payments/errors.ts';
import type { PspEvent, PspPayment, PspPayout, WebhookHeaders } from '../../payments/types.ts';
import { deferAudits, flushAudits } from '../audit/service.ts';
import { accountInOpening, fundableAccount, prepareAccountInOpening } from './accounts.ts';
import { FundingError } from './errors.ts';
import {
  findLockedMovement,
  formatMoney,
  lockInOpening,
  type Movement,
  noteMovement,
  transition,
} from './movements.ts';
import { postMovement } from './postings.ts';
import type { FundingService } from './service.ts';

export type WebhookOutcome = 'applied' | 'ignored' | 'replayed';

/**
 * PostgreSQL text and jsonb cannot hold U+0000, which JSON may carry as "\\u0000": an authentic event with one would
 * fail to store (a 500 the PSP retries until it gives up). Stored copies replace it; the body's hash is of the raw bytes.
 */
function withoutNul<T>(value: T): T {
  if (typeof value === 'string') return value.replaceAll('\u0000', '\uFFFD') as T;
  if (Array.isArray(value)) return value.map(withoutNul) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [withoutNul(k), withoutNul(v)])) as T;
  }
  return value;
}

/** Stores an event under the PSP's event id, or nothing when that id is already stored (a replay or a conflict). */
const STORE_EVENT_NAME = 'bd_psp_event_store';
const STORE_EVENT_SQL = `
  insert into psp_events (psp, event_id, type, body_sha256, payload, outcome, occurred_at, received_at)
  values ($1, $2, $3, $4, $5::jsonb, 'received', $6::timestamptz, $7::timestamptz)
  on conflict do nothing
  returning id`;

/** An event's outcome, once applied: prepared on every connection, so the webhook's last script only executes it. */
const OUTCOME_NAME = 'bd_psp_event_outcome';
prepareOnEveryConnection(
  OUTCOME_NAME,
  'update psp_events set movement_id = $1::uuid, outcome = $2::text, note = $3::text where id = $4::bigint',
);

const isUuid = (v: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v);

/** A webhook whose signature and shape were verified, waiting to be recorded and applied. */
interface VerifiedWebhook {
  event: PspEvent;
  bodySha256: string;
  /** The merchant reference it names: a movement id, when it is a UUID. */
  reference: string;
  /** The parameters of STORE_EVENT_SQL. */
  storeParams: unknown[];
}

type WebhookResult = { outcome: WebhookOutcome; eventId: string; movementId: string | null };

/**
 * Verifies, records and applies one webhook. Throws FundingError WEBHOOK_REJECTED (bad signature, stale, malformed,
 * unknown payment) or WEBHOOK_CONFLICT; the caller answers 4xx and logs it. Webhooks that arrive while others are
 * being committed are applied together in the next transaction (`pickWebhooks`); each is answered once that
 * transaction has committed.
 */
export async function receivePspWebhook(
  funding: FundingService,
  headers: WebhookHeaders,
  rawBody: Buffer,
): Promise<WebhookResult> {
  const webhook = verifyWebhook(funding, headers, rawBody);
  let batches = batchesOf.get(funding);
  if (!batches) {
    batches = new GroupCommit({
      max: WEBHOOK_BATCH,
      pick: pickWebhooks,
      commit: (webhooks) => applyWebhooks(funding, webhooks),
    });
    batchesOf.set(funding, batches);
  }
  return batches.submit(webhook);
}

function verifyWebhook(funding: FundingService, headers: WebhookHeaders, rawBody: Buffer): VerifiedWebhook {
  const { deps } = funding;
  if (!deps.psp) throw new FundingError('PSP_NOT_CONFIGURED', 404, 'no payment provider is configured');
  // JSON can carry U+0000 only as the escape \u0000 (a raw control character is not valid JSON): without one in the
  // body, nothing needs replacing, and the body itself is what jsonb stores (it parses it to the same value).
  const text = rawBody.toString('utf8');
  const hasNul = text.includes('\\u0000');
  let event: PspEvent;
  try {
    event = deps.psp.parseWebhook(headers, rawBody, deps.clock.now());
    if (hasNul) event = withoutNul(event);
  } catch (err) {
    if (err instanceof WebhookRejected) {
      throw new FundingError('WEBHOOK_REJECTED', 400, `webhook refused: ${err.message}`, { reason: err.reason });
    }
    throw err;
  }
  const bodySha256 = createHash('sha256').update(rawBody).digest('hex');
  return {
    event,
    bodySha256,
    reference: event.payment?.merchantReference ?? event.payout?.merchantReference ?? '',
    storeParams: [
      deps.psp.name,
      event.eventId,
      event.type,
      bodySha256,
      hasNul ? JSON.stringify(withoutNul(JSON.parse(text))) : text,
      event.occurredAt.toISOString(),
      deps.clock.now().toISOString(),
    ],
  };
}

/** Webhooks applied in one transaction at most. */
const WEBHOOK_BATCH = 16;

/**
 * Webhooks are committed as a group (`GroupCommit`), one transaction at a time per process: one that finds none being
 * committed is applied at once, alone; those that arrive meanwhile go together in the next; a batch that fails (one
 * webhook refused, a conflict, a database error) is applied again webhook by webhook, so each gets the answer it
 * would have had alone.
 */
const batchesOf = new WeakMap<FundingService, GroupCommit<VerifiedWebhook, WebhookResult>>();

/**
 * The next batch: at most one webhook per movement and per event id, so each is applied to what the ones before it
 * committed, with its movements locked in id order, as every batch locks them (lowercase hex sorts as PostgreSQL
 * orders uuids). A webhook that names no movement goes alone: it is refused, and must not take others with it.
 */
function pickWebhooks(waiting: readonly VerifiedWebhook[], max: number): number[] {
  if (!isUuid(waiting[0]!.reference)) return [0];
  const seen = new Set<string>();
  const picked: number[] = [];
  for (const [i, webhook] of waiting.entries()) {
    if (picked.length === max) break;
    const keys = [`m:${webhook.reference.toLowerCase()}`, `e:${webhook.event.eventId}`];
    if (!isUuid(webhook.reference) || keys.some((k) => seen.has(k))) continue;
    for (const k of keys) seen.add(k);
    picked.push(i);
  }
  const reference = (i: number) => waiting[i]!.reference.toLowerCase();
  return picked.sort((a, b) => (reference(a) < reference(b) ? -1 : 1));
}

/** Records and applies verified webhooks in one transaction, in order; any refusal fails them all. */
async function applyWebhooks(funding: FundingService, webhooks: VerifiedWebhook[]): Promise<WebhookResult[]> {
  const { deps } = funding;
  // Storing each event goes with BEGIN, in one round trip, on a connection where it is prepared (almost always), and
  // so do the lock and read of the movement it names and the read of that movement's trading account.
  type Read = { statement: string; accept(tx: Executor, rows: Record<string, unknown>[]): void };
  let reads: Read[][] = webhooks.map(() => []);
  const opening = (connection: ScriptConnection) => {
    if (!connection.hasPrepared(STORE_EVENT_NAME)) return undefined;
    reads = webhooks.map(({ reference }) => {
      const movement = isUuid(reference) ? lockInOpening(connection, reference) : undefined;
      const account = movement ? accountInOpening(connection, reference) : undefined;
      return [movement, account].filter((r) => r !== undefined);
    });
    return webhooks
      .flatMap((w, i) => [executePrepared(STORE_EVENT_NAME, w.storeParams), ...reads[i]!.map((r) => r.statement)])
      .join(';\n');
  };
  return scriptedTransaction(
    deps.database.db,
    async (tx, opened) => {
      // The audit events of these webhooks are appended last, so the chain lock is held only for them and the commit.
      deferAudits(tx, deps.clock);
      const outcomes: string[] = [];
      const results: WebhookResult[] = [];
      let k = 0;
      for (const [i, webhook] of webhooks.entries()) {
        let stored: { id: string | number } | undefined;
        if (opened.length > 0) {
          stored = opened[k++]![0] as { id: string | number } | undefined;
          for (const read of reads[i]!) read.accept(tx, opened[k++] ?? []);
        } else {
          [stored] = (await preparedQuery(tx, STORE_EVENT_NAME, STORE_EVENT_SQL, webhook.storeParams)) as {
            id: string | number;
          }[];
        }
        const applied = await applyWebhook(funding, tx, webhook, stored, reads[i]!.length);
        results.push(applied.result);
        if (applied.outcome) outcomes.push(applied.outcome);
      }
      // Last, in one round trip: the events' outcomes, the chain lock, the appends and the commit (the transaction is
      // not used after it).
      await flushAudits(tx, { commit: true, before: outcomes });
      return results;
    },
    { opening },
  );
}

/**
 * Applies one stored webhook (`stored`: its new psp_events row, none when its id was already there) in the batch's
 * transaction; answers its result and the statement that records its outcome (run with the commit).
 */
async function applyWebhook(
  funding: FundingService,
  tx: Executor,
  { event, bodySha256, reference }: VerifiedWebhook,
  stored: { id: string | number } | undefined,
  readsInOpening: number,
): Promise<{ result: WebhookResult; outcome?: string }> {
  const { deps } = funding;
  if (!stored) {
    const [earlier] = await tx
      .select()
      .from(pspEvents)
      .where(and(eq(pspEvents.psp, deps.psp!.name), eq(pspEvents.eventId, event.eventId)))
      .limit(1);
    if (earlier && earlier.bodySha256 !== bodySha256) {
      throw new FundingError(
        'WEBHOOK_CONFLICT',
        409,
        `event ${event.eventId} was already received with a different body; the first one stands`,
      );
    }
    return { result: { outcome: 'replayed', eventId: event.eventId, movementId: earlier?.movementId ?? null } };
  }
  const movement = isUuid(reference) ? await findLockedMovement(tx, reference) : null;
  // Not read with BEGIN (its statement is not yet prepared on this connection): read, and prepared, now.
  if (movement && readsInOpening < 2) await prepareAccountInOpening(tx, movement.id);
  const expectedKind = event.payment ? 'deposit' : 'withdrawal';
  if (!movement || movement.kind !== expectedKind || movement.psp !== deps.psp!.name) {
    // Rolls the stored event back with the transaction: an unknown payment is refused, not remembered.
    throw new FundingError(
      'WEBHOOK_REJECTED',
      422,
      `webhook refused: no ${expectedKind} with reference ${reference || '(none)'} was started here`,
      { reason: 'unknown_payment' },
    );
  }
  const note = event.payment
    ? await applyPayment(funding, tx, movement, event.payment, event.eventId)
    : await applyPayout(funding, tx, movement, event.payout!, event.eventId);
  const outcome = [movement.id, note ? 'applied' : 'ignored', note ?? 'already reflected', String(stored.id)];
  const [id, result, text, eventRow] = outcome.map(sqlLiteral);
  return {
    result: { outcome: note ? 'applied' : 'ignored', eventId: event.eventId, movementId: movement.id },
    outcome: scriptConnection(tx)?.hasPrepared(OUTCOME_NAME)
      ? executePrepared(OUTCOME_NAME, outcome)
      : `update psp_events set movement_id = ${id}, outcome = ${result}, note = ${text} where id = ${eventRow}`,
  };
}

const pspActor = (m: Movement) => ({ type: 'psp' as const, id: m.psp });

/** Brings a deposit to what the PSP's payment snapshot says. Returns what changed, or null when nothing did. */
async function applyPayment(
  funding: FundingService,
  tx: Executor,
  movement: Movement,
  payment: PspPayment,
  eventId: string,
): Promise<string | null> {
  const { deps } = funding;
  if (payment.amountMinor !== movement.amountMinor || payment.currency !== movement.currency) {
    await deps.alerts.raise(tx, {
      kind: 'psp_amount_mismatch',
      dedupeKey: `psp_mismatch:${movement.id}`,
      severity: 'critical',
      title: `deposit ${movement.id}: the PSP reports ${payment.amountMinor} ${payment.currency}, we asked for ${movement.amountMinor} ${movement.currency}`,
      details: { movementId: movement.id, eventId, payment },
    });
    await noteMovement(tx, deps.clock, movement.id, {
      source: 'psp',
      type: 'payment.mismatch',
      message: 'The payment provider reported a different amount; our team is checking it.',
      details: { eventId, payment },
    });
    return 'amount mismatch: held for review';
  }
  let current = movement;
  const changes: string[] = [];
  const captured = ['succeeded', 'refunded', 'partially_refunded', 'charged_back'].includes(payment.status);
  if (payment.status === 'pending') {
    const after = await transition(tx, deps, current, {
      from: ['awaiting_payment'],
      to: 'payment_pending',
      set: { pspPaymentId: payment.pspPaymentId },
      note: {
        source: 'psp',
        type: 'payment.pending',
        message: 'Your payment is being processed by the payment provider.',
        details: { eventId },
      },
      actor: pspActor(current),
    });
    if (after) changes.push('pending');
  } else if (payment.status === 'failed') {
    const reason = payment.failureReason ?? 'declined';
    const after = await transition(tx, deps, current, {
      from: ['awaiting_payment', 'payment_pending'],
      to: 'payment_failed',
      set: { pspPaymentId: payment.pspPaymentId, failureReason: `the payment failed: ${reason.replace(/_/g, ' ')}` },
      note: {
        source: 'psp',
        type: 'payment.failed',
        message: `The payment did not go through (${reason.replace(/_/g, ' ')}). Nothing was charged.`,
        details: { eventId },
      },
      actor: pspActor(current),
    });
    if (after) changes.push('failed');
    else if (['approved', 'posted', 'posting_failed'].includes(current.status)) {
      await deps.alerts.raise(tx, {
        kind: 'psp_contradiction',
        dedupeKey: `psp_contradiction:${movement.id}`,
        severity: 'critical',
        title: `deposit ${movement.id} is ${current.status} but the PSP now reports the payment failed`,
        details: { movementId: movement.id, eventId },
      });
      changes.push('contradiction raised');
    }
  }
  if (captured) {
    const after = await approveDeposit(funding, tx, current, payment, eventId);
    if (after) {
      current = after;
      changes.push('approved');
    } else if (current.status === 'payment_failed') {
      // The PSP said it failed and now says it captured the money (or took back money we never received): a person
      // decides. Nothing is credited, and no refund is charged to the client for a payment the ledger never received.
      await deps.alerts.raise(tx, {
        kind: 'psp_contradiction',
        dedupeKey: `psp_contradiction:${movement.id}`,
        severity: 'critical',
        title: `deposit ${movement.id} is payment_failed but the PSP now reports the payment ${payment.status}`,
        details: { movementId: movement.id, eventId, payment },
      });
      await noteMovement(tx, deps.clock, movement.id, {
        source: 'psp',
        type: 'payment.contradiction',
        message: `The payment provider now reports this failed payment as ${payment.status.replace(/_/g, ' ')}; held for review.`,
        details: { eventId },
        internal: true,
      });
      changes.push('contradiction raised');
    }
  }
  const takenBack = Math.min(payment.amountMinor, payment.refundedMinor + payment.chargedBackMinor);
  if (captured && current.status !== 'payment_failed' && takenBack > current.refundedMinor) {
    current = await takeBack(funding, tx, current, takenBack, payment.chargedBackMinor > 0, eventId);
    changes.push(payment.chargedBackMinor > 0 ? 'charged back' : 'refunded');
  }
  return changes.length ? changes.join(', ') : null;
}

/** The PSP captured the money: ledger, status and the balance operation, in this one transaction. */
async function approveDeposit(
  funding: FundingService,
  tx: Executor,
  movement: Movement,
  payment: PspPayment,
  eventId: string,
): Promise<Movement | null> {
  const { deps } = funding;
  if (movement.status !== 'awaiting_payment' && movement.status !== 'payment_pending') return null;
  // Under the row lock, a deposit still waiting for its payment has never been received: posted once, not read back.
  await postMovement(tx, deps.clock, movement, 'deposit.received', {
    pspEventId: eventId,
    key: 'received',
    firstTime: true,
  });
  const account = await fundableAccount(tx, movement.tradingAccountId, { allowDemo: true }).catch(() => null);
  if (!account) {
    // The account closed while the client paid: the money waits in their client funds for staff to place or refund.
    await deps.alerts.raise(tx, {
      kind: 'deposit_unpostable',
      dedupeKey: `deposit_unpostable:${movement.id}`,
      severity: 'critical',
      title: `deposit ${movement.id} was paid but its trading account is no longer open`,
      details: { movementId: movement.id },
    });
    return transition(tx, deps, movement, {
      from: ['awaiting_payment', 'payment_pending'],
      to: 'posting_failed',
      set: { pspPaymentId: payment.pspPaymentId, failureReason: 'the trading account is no longer open' },
      note: {
        source: 'psp',
        type: 'payment.succeeded',
        message: 'Payment received, but your trading account is no longer open; our team will contact you.',
        details: { eventId },
      },
      actor: pspActor(movement),
    });
  }
  const op = await enqueueOperationDeferred(tx, deps, {
    kind: 'balance',
    serverCode: account.serverCode,
    login: account.login,
    payload: { amount: movement.amountMinor, currency: movement.currency, note: 'deposit' },
    handler: 'funding.deposit',
    requestedBy: `psp:${movement.psp}`,
    correlationId: movement.id,
  });
  return transition(tx, deps, movement, {
    from: ['awaiting_payment', 'payment_pending'],
    to: 'approved',
    set: { pspPaymentId: payment.pspPaymentId, operationId: op.id },
    note: {
      source: 'psp',
      type: 'payment.succeeded',
      message: `Payment of ${formatMoney(movement.amountMinor, movement.currency)} received. We are crediting your trading account ${account.login}.`,
      details: { eventId, operation: op.reference, cardLast4: payment.cardLast4 },
    },
    actor: pspActor(movement),
    correlationId: op.reference,
  });
}

/**
 * A refund or chargeback: the PSP took money back. The ledger records that the client owes it, the client is
 * flagged, and, once the deposit is on the server, a balance operation takes it back from the trading account.
 */
async function takeBack(
  funding: FundingService,
  tx: Executor,
  movement: Movement,
  totalTakenBack: number,
  chargeback: boolean,
  eventId: string,
): Promise<Movement> {
  const { deps } = funding;
  const delta = totalTakenBack - movement.refundedMinor;
  const what = chargeback ? 'chargeback' : 'refund';
  await postMovement(tx, deps.clock, movement, 'refund.received', {
    amountMinor: delta,
    pspEventId: eventId,
    key: `takeback:${totalTakenBack}`,
  });
  const [updated] = await tx
    .update(moneyMovements)
    .set({ refundedMinor: totalTakenBack, updatedAt: deps.clock.now() })
    .where(eq(moneyMovements.id, movement.id))
    .returning();
  await tx.insert(clientFlags).values({
    clientId: movement.clientId,
    kind: what,
    reason: `${what} of ${formatMoney(delta, movement.currency)} on deposit ${movement.id}`,
    movementId: movement.id,
    createdAt: deps.clock.now(),
  });
  await deps.alerts.raise(tx, {
    kind: `client_${what}`,
    dedupeKey: `${what}:${movement.id}:${totalTakenBack}`,
    severity: chargeback ? 'critical' : 'warning',
    title: `${what} of ${formatMoney(delta, movement.currency)} on deposit ${movement.id}; the client is flagged`,
    details: { movementId: movement.id, clientId: movement.clientId, eventId },
  });
  await noteMovement(tx, deps.clock, movement.id, {
    source: 'psp',
    type: `payment.${chargeback ? 'charged_back' : 'refunded'}`,
    message: chargeback
      ? `Your bank reversed ${formatMoney(delta, movement.currency)} of this payment (a chargeback).`
      : `${formatMoney(delta, movement.currency)} of this payment was refunded to you.`,
    details: { eventId, totalTakenBack },
  });
  if (updated!.status === 'posted' || updated!.status === 'reversing' || updated!.status === 'refunded') {
    return reverseOnServer(funding, tx, updated!, delta, chargeback);
  }
  // Not on the server yet: the deposit handler takes the refunded part back once the deposit lands.
  return updated!;
}

/** Enqueues the balance operation that takes `amount` back from the trading account. */
export async function reverseOnServer(
  funding: FundingService,
  tx: Executor,
  movement: Movement,
  amount: number,
  chargeback: boolean,
): Promise<Movement> {
  const { deps } = funding;
  const account = await fundableAccount(tx, movement.tradingAccountId, { allowDemo: true }).catch(() => null);
  if (!account) {
    await deps.alerts.raise(tx, {
      kind: 'reversal_blocked',
      dedupeKey: `reversal_blocked:${movement.id}`,
      severity: 'critical',
      title: `deposit ${movement.id}: money was taken back by the PSP but the trading account is not open to debit`,
      details: { movementId: movement.id },
    });
    return movement;
  }
  const op = await enqueueOperation(tx, deps, {
    kind: 'balance',
    serverCode: account.serverCode,
    login: account.login,
    payload: { amount: -amount, currency: movement.currency, note: chargeback ? 'chargeback' : 'refund' },
    referenceKind: 'withdrawal',
    handler: 'funding.reversal',
    requestedBy: `psp:${movement.psp}`,
    correlationId: movement.id,
  });
  const after = await transition(tx, deps, movement, {
    from: ['posted', 'reversing', 'refunded'],
    to: 'reversing',
    set: { returnOperationId: op.id },
    note: {
      source: 'crm',
      type: 'reversal.requested',
      message: `${formatMoney(amount, movement.currency)} is being taken back from trading account ${account.login}.`,
      details: { operation: op.reference },
    },
    actor: { type: 'system', id: null },
    correlationId: op.reference,
  });
  return after ?? movement;
}

/** Brings a withdrawal to what the PSP's payout snapshot says. */
async function applyPayout(
  funding: FundingService,
  tx: Executor,
  movement: Movement,
  payout: PspPayout,
  eventId: string,
): Promise<string | null> {
  const { deps } = funding;
  const otherPayout = movement.pspPayoutId !== null && movement.pspPayoutId !== payout.pspPayoutId;
  if (payout.amountMinor !== movement.amountMinor || payout.currency !== movement.currency || otherPayout) {
    await deps.alerts.raise(tx, {
      kind: 'psp_amount_mismatch',
      dedupeKey: `psp_mismatch:${movement.id}`,
      severity: 'critical',
      title: `withdrawal ${movement.id}: the PSP reports payout ${payout.pspPayoutId} of ${payout.amountMinor} ${payout.currency}, we sent ${movement.pspPayoutId ?? '(none yet)'} for ${movement.amountMinor} ${movement.currency}`,
      details: { movementId: movement.id, eventId, payout },
    });
    await noteMovement(tx, deps.clock, movement.id, {
      source: 'psp',
      type: 'payout.mismatch',
      message: 'The payment provider reported a payout that does not match this withdrawal; our team is checking it.',
      details: { eventId, payout },
      internal: true,
    });
    return 'payout mismatch: held for review';
  }
  if (payout.status === 'succeeded') {
    const after = await transition(tx, deps, movement, {
      from: ['debited', 'payout_pending'],
      to: 'completed',
      set: { pspPayoutId: payout.pspPayoutId },
      note: {
        source: 'psp',
        type: 'payout.succeeded',
        message: `${formatMoney(movement.amountMinor, movement.currency)} has been paid out to you.`,
        details: { eventId },
      },
      actor: pspActor(movement),
    });
    if (!after) return null;
    await postMovement(tx, deps.clock, after, 'withdrawal.paid', { pspEventId: eventId, key: 'paid' });
    return 'paid out';
  }
  if (payout.status === 'failed') {
    if (movement.pspPayoutId === null) {
      await tx
        .update(moneyMovements)
        .set({ pspPayoutId: payout.pspPayoutId })
        .where(eq(moneyMovements.id, movement.id));
    }
    const returned = await funding.payoutFailed(
      tx,
      movement,
      payout.failureReason?.replace(/_/g, ' ') ?? 'the payment provider could not pay it out',
      eventId,
    );
    return returned ? 'payout failed: returning the money' : null;
  }
  return null;
}
