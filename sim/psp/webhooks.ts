/**
 * Signed webhook delivery to the merchant's URL.
 *
 * Each event's JSON body is fixed when the event is created; every attempt signs it afresh:
 *
 *   Psp-Signature: t=<unix seconds, simulator clock>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed by the secret>
 *
 * A non-2xx answer or a network error (including no answer within the timeout) is retried with capped exponential
 * backoff on the simulator clock (base · 2^(attempt−1), at most maxMs), up to maxAttempts; then the delivery gives up.
 * Deliveries are sent one at a time, in the order they became due, so the receiver sees the order the mode intends:
 *
 * - normal: each event once, at once, in creation order;
 * - duplicate: each event twice, back to back (same event id, same body);
 * - late: each event held for lateMs, then sent (events created in normal mode meanwhile overtake it);
 * - out_of_order: events are held until batchSize of them are waiting (or a flush), then released newest first.
 *
 * Every attempt is recorded (what was sent where, the answer or error, how long it took) and listable.
 */
import { createHmac } from 'node:crypto';
import type { SimClock } from '../common/clock.ts';
import type {
  AttemptRecord,
  DeliveryRecord,
  EventRecord,
  WebhookEventType,
  WebhookMode,
  WebhookModeSetting,
} from './model.ts';
import type { PspState } from './state.ts';
import { DueTimer } from './timer.ts';

export const SIGNATURE_HEADER = 'Psp-Signature';

/** The `Psp-Signature` header value for one attempt. */
export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

export interface WebhookRetryPolicy {
  /** First retry after this long (simulator clock). Default 1000. */
  baseMs: number;
  /** Longest wait between attempts. Default 60000. */
  maxMs: number;
  /** Attempts before a delivery gives up. Default 8. */
  maxAttempts: number;
}

export const defaultRetryPolicy: WebhookRetryPolicy = { baseMs: 1000, maxMs: 60_000, maxAttempts: 8 };
const defaultMode: WebhookModeSetting = { mode: 'normal', lateMs: 5000, batchSize: 2 };
const META_MODE = 'webhookMode';
const RESPONSE_KEEP_CHARS = 500;

export interface WebhookDispatcherOptions {
  state: PspState;
  clock: SimClock;
  secret(): string;
  url(): string | null;
  retry: WebhookRetryPolicy;
  /** How long one attempt may take before it counts as a network error (real time). Default 5000. */
  timeoutMs: number;
  log(line: string): void;
}

export class WebhookDispatcher {
  /** Deliveries that are held or scheduled (the only ones the timer needs to look at). */
  private readonly open = new Set<string>();
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private draining: Promise<void> | null = null;
  private running = false;
  private readonly abort = new AbortController();
  private closed = false;
  private readonly timer: DueTimer;

  constructor(private readonly options: WebhookDispatcherOptions) {
    for (const d of options.state.deliveries.values()) {
      if (d.state === 'held' || d.state === 'scheduled') this.open.add(d.id);
    }
    this.timer = new DueTimer(
      options.clock,
      () => this.nextDue(),
      (now) => this.runDue(now),
      (error) => options.log(`psp sandbox: webhook scheduling failed: ${String(error)}`),
    );
  }

  /** Starts sending whatever was due before a restart. */
  start(): void {
    this.timer.poke();
  }

  get mode(): WebhookModeSetting {
    return { ...defaultMode, ...(this.options.state.meta.get(META_MODE) as Partial<WebhookModeSetting> | undefined) };
  }

  setMode(input: {
    mode: WebhookMode;
    lateMs?: number | undefined;
    batchSize?: number | undefined;
  }): WebhookModeSetting {
    const previous = this.mode;
    const next: WebhookModeSetting = {
      mode: input.mode,
      lateMs: input.lateMs ?? previous.lateMs,
      batchSize: input.batchSize ?? previous.batchSize,
    };
    this.options.state.meta.put(META_MODE, next);
    // Leaving out_of_order must not strand a half-filled batch.
    if (previous.mode === 'out_of_order' && next.mode !== 'out_of_order') this.releaseBatch();
    else if (next.mode === 'out_of_order' && this.heldInBatch().length >= next.batchSize) this.releaseBatch();
    this.timer.poke();
    return next;
  }

  /** Creates an event for an object and its deliveries according to the current mode. */
  publish(type: WebhookEventType, objectId: string, data: unknown): EventRecord {
    const { state, clock } = this.options;
    const { id, seq } = state.newId('event');
    const createdAt = new Date(clock.now()).toISOString();
    const body = JSON.stringify({ id, type, createdAt, data });
    const event: EventRecord = { id, seq, type, createdAt, objectId, body };
    state.events.put(id, event);

    const mode = this.mode;
    if (this.options.url() === null) {
      this.createDelivery(event, 1, { state: 'no_url' });
    } else if (mode.mode === 'duplicate') {
      this.createDelivery(event, 1, { state: 'scheduled' });
      this.createDelivery(event, 2, { state: 'scheduled' });
    } else if (mode.mode === 'late') {
      this.createDelivery(event, 1, { state: 'held', holdKind: 'late', heldUntil: clock.now() + mode.lateMs });
    } else if (mode.mode === 'out_of_order') {
      this.createDelivery(event, 1, { state: 'held', holdKind: 'batch' });
      if (this.heldInBatch().length >= mode.batchSize) this.releaseBatch();
    } else {
      this.createDelivery(event, 1, { state: 'scheduled' });
    }
    this.timer.poke();
    return event;
  }

  /** Sends an event again now, as a new delivery (same event id, same body). */
  resend(eventId: string): DeliveryRecord | undefined {
    const event = this.options.state.events.get(eventId);
    if (!event) return undefined;
    const copies = [...this.options.state.deliveries.values()].filter((d) => d.eventId === eventId).length;
    const delivery = this.createDelivery(event, copies + 1, { state: 'scheduled' });
    this.timer.poke();
    return delivery;
  }

  /** Releases every held delivery now: late ones in creation order, then the out-of-order batch newest first. */
  flush(): number {
    const late = this.held()
      .filter((d) => d.holdKind === 'late')
      .sort((a, b) => a.seq - b.seq);
    const now = this.options.clock.now();
    for (const d of late) this.enqueue(this.schedule(d, now));
    const released = late.length + this.releaseBatch();
    this.timer.poke();
    return released;
  }

  events(): EventRecord[] {
    return [...this.options.state.events.values()].sort((a, b) => a.seq - b.seq);
  }

  deliveries(eventId?: string): (DeliveryRecord & { attemptLog: AttemptRecord[] })[] {
    const attempts = this.attempts(eventId);
    return [...this.options.state.deliveries.values()]
      .filter((d) => eventId === undefined || d.eventId === eventId)
      .sort((a, b) => a.seq - b.seq)
      .map((d) => ({ ...d, attemptLog: attempts.filter((a) => a.deliveryId === d.id) }));
  }

  attempts(eventId?: string): AttemptRecord[] {
    return [...this.options.state.attempts.values()]
      .filter((a) => eventId === undefined || a.eventId === eventId)
      .sort((a, b) => a.seq - b.seq);
  }

  /** Resolves once nothing is being sent and nothing due now is waiting (tests use it instead of sleeping). */
  async idle(): Promise<void> {
    for (;;) {
      this.timer.poke();
      if (!this.running) return;
      await this.draining;
    }
  }

  get stats() {
    const counts: Record<string, number> = {};
    for (const d of this.options.state.deliveries.values()) counts[d.state] = (counts[d.state] ?? 0) + 1;
    return { mode: this.mode, events: this.options.state.events.size, deliveries: counts, queued: this.queue.length };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.timer.close();
    this.abort.abort();
    if (this.running) await this.draining?.catch(() => {});
  }

  private createDelivery(
    event: EventRecord,
    copy: number,
    init: Pick<DeliveryRecord, 'state'> & Partial<Pick<DeliveryRecord, 'holdKind' | 'heldUntil'>>,
  ): DeliveryRecord {
    const { state, clock } = this.options;
    const { id, seq } = state.newId('delivery');
    const delivery: DeliveryRecord = {
      id,
      seq,
      eventId: event.id,
      eventType: event.type,
      copy,
      state: init.state,
      holdKind: init.holdKind ?? null,
      heldUntil: init.heldUntil ?? null,
      nextAttemptAt: init.state === 'scheduled' ? clock.now() : null,
      attempts: 0,
      lastError: init.state === 'no_url' ? 'no webhook URL configured' : null,
      createdAt: new Date(clock.now()).toISOString(),
    };
    state.deliveries.put(id, delivery);
    if (delivery.state === 'held' || delivery.state === 'scheduled') this.open.add(id);
    return delivery;
  }

  private held(): DeliveryRecord[] {
    const out: DeliveryRecord[] = [];
    for (const id of this.open) {
      const d = this.options.state.deliveries.get(id);
      if (d?.state === 'held') out.push(d);
    }
    return out;
  }

  private heldInBatch(): DeliveryRecord[] {
    return this.held().filter((d) => d.holdKind === 'batch');
  }

  /** Releases the out-of-order batch, newest first. */
  private releaseBatch(): number {
    const batch = this.heldInBatch().sort((a, b) => b.seq - a.seq);
    const now = this.options.clock.now();
    for (const d of batch) this.enqueue(this.schedule(d, now));
    return batch.length;
  }

  private schedule(d: DeliveryRecord, at: number): DeliveryRecord {
    return this.options.state.deliveries.put(d.id, {
      ...d,
      state: 'scheduled',
      holdKind: null,
      heldUntil: null,
      nextAttemptAt: at,
    });
  }

  private nextDue(): number | null {
    let due: number | null = null;
    for (const id of this.open) {
      if (this.queued.has(id)) continue;
      const d = this.options.state.deliveries.get(id);
      const at = d?.state === 'scheduled' ? d.nextAttemptAt : d?.holdKind === 'late' ? d.heldUntil : null;
      if (at !== null && at !== undefined && (due === null || at < due)) due = at;
    }
    return due;
  }

  private runDue(now: number): void {
    const due: DeliveryRecord[] = [];
    for (const id of this.open) {
      if (this.queued.has(id)) continue;
      let d = this.options.state.deliveries.get(id);
      if (!d) continue;
      if (d.state === 'held' && d.holdKind === 'late' && d.heldUntil !== null && d.heldUntil <= now) {
        d = this.schedule(d, d.heldUntil);
      }
      if (d.state === 'scheduled' && d.nextAttemptAt !== null && d.nextAttemptAt <= now) due.push(d);
    }
    due.sort((a, b) => a.nextAttemptAt! - b.nextAttemptAt! || a.seq - b.seq);
    for (const d of due) this.enqueue(d);
  }

  private enqueue(d: DeliveryRecord): void {
    if (this.queued.has(d.id)) return;
    this.queued.add(d.id);
    this.queue.push(d.id);
    if (!this.running) {
      this.running = true;
      this.draining = this.drain();
    }
  }

  /** Sends queued deliveries one at a time; `running` is cleared in the same tick the queue is found empty. */
  private async drain(): Promise<void> {
    try {
      // Let the request that caused the event answer first before its webhook leaves.
      await new Promise((resolve) => setImmediate(resolve));
      while (!this.closed) {
        const id = this.queue.shift();
        if (id === undefined) return;
        try {
          await this.attempt(id);
        } catch (error) {
          if (!this.closed) this.options.log(`psp sandbox: webhook delivery ${id} failed: ${String(error)}`);
        } finally {
          this.queued.delete(id);
        }
        // A failed attempt has just been given its retry time: arm the timer for it.
        this.timer.poke();
      }
    } finally {
      this.running = false;
    }
  }

  private async attempt(deliveryId: string): Promise<void> {
    const { state, clock, retry } = this.options;
    const delivery = state.deliveries.get(deliveryId);
    if (delivery?.state !== 'scheduled') return;
    const event = state.events.get(delivery.eventId);
    if (!event) return;
    const url = this.options.url();
    if (url === null) {
      this.open.delete(deliveryId);
      state.deliveries.put(deliveryId, { ...delivery, state: 'no_url', lastError: 'no webhook URL configured' });
      return;
    }
    const attempt = delivery.attempts + 1;
    const sentAtMs = clock.now();
    const signature = signWebhook(this.options.secret(), Math.floor(sentAtMs / 1000), event.body);
    const started = performance.now();
    let outcome: AttemptRecord['outcome'];
    let httpStatus: number | null = null;
    let error: string | null = null;
    let responseBody: string | null = null;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'brokerdesk-psp-sandbox/1',
          [SIGNATURE_HEADER.toLowerCase()]: signature,
          'psp-event-id': event.id,
          'psp-delivery-attempt': String(attempt),
        },
        body: event.body,
        redirect: 'manual',
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.options.timeoutMs)]),
      });
      httpStatus = response.status;
      responseBody = (await response.text()).slice(0, RESPONSE_KEEP_CHARS);
      outcome = response.status >= 200 && response.status < 300 ? 'delivered' : 'http_error';
      if (outcome === 'http_error') error = `HTTP ${response.status}`;
    } catch (err) {
      outcome = 'network_error';
      const cause = (err as Error & { cause?: Error }).cause;
      error = cause?.message ? `${(err as Error).message}: ${cause.message}` : (err as Error).message;
    }
    if (this.closed) return;
    const durationMs = Math.round(performance.now() - started);
    const seq = state.next('attempt');
    state.attempts.put(seq, {
      seq,
      deliveryId,
      eventId: event.id,
      eventType: event.type,
      attempt,
      url,
      sentAt: new Date(sentAtMs).toISOString(),
      signature,
      outcome,
      httpStatus,
      error,
      durationMs,
      responseBody,
    });
    const current = state.deliveries.get(deliveryId)!;
    if (outcome === 'delivered') {
      this.open.delete(deliveryId);
      state.deliveries.put(deliveryId, { ...current, state: 'delivered', attempts: attempt, nextAttemptAt: null });
    } else if (attempt >= retry.maxAttempts) {
      this.open.delete(deliveryId);
      state.deliveries.put(deliveryId, {
        ...current,
        state: 'gave_up',
        attempts: attempt,
        nextAttemptAt: null,
        lastError: error,
      });
    } else {
      const wait = Math.min(retry.baseMs * 2 ** (attempt - 1), retry.maxMs);
      state.deliveries.put(deliveryId, {
        ...current,
        attempts: attempt,
        nextAttemptAt: clock.now() + wait,
        lastError: error,
      });
    }
  }
}
