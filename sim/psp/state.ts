/**
 * The sandbox's state over the shared journaled store. Ids are derived from the seed and a persistent counter
 * (HMAC-SHA256 of "<kind>:<n>" keyed by the seed), so a run is repeatable by seed and an id is never reused within
 * one state folder.
 */
import { createHash, createHmac } from 'node:crypto';
import type { Collection, Counter, StateStore } from '../common/store.ts';
import type {
  AttemptRecord,
  DeliveryRecord,
  EventRecord,
  PaymentRecord,
  PayoutRecord,
  SettlementRecord,
} from './model.ts';

export interface ReferenceRecord {
  id: string;
  /** SHA-256 of the canonical request body: the same reference with another body is a conflict. */
  bodyHash: string;
}

const idPrefixes = {
  payment: 'pay',
  refund: 're',
  chargeback: 'cb',
  payout: 'po',
  event: 'evt',
  delivery: 'dlv',
  settlement: 'stl',
} as const;
export type IdKind = keyof typeof idPrefixes;

export class PspState {
  readonly payments: Collection<PaymentRecord>;
  readonly payouts: Collection<PayoutRecord>;
  readonly events: Collection<EventRecord>;
  readonly deliveries: Collection<DeliveryRecord>;
  readonly attempts: Collection<AttemptRecord>;
  readonly settlements: Collection<SettlementRecord>;
  /** `payment:<merchantReference>` / `payout:<merchantReference>` → the object created with it. */
  readonly references: Collection<ReferenceRecord>;
  readonly meta: Collection<unknown>;
  private readonly counters = new Map<string, Counter>();

  constructor(
    readonly store: StateStore,
    private readonly seed: number,
  ) {
    this.payments = store.collection('payments');
    this.payouts = store.collection('payouts');
    this.events = store.collection('events');
    this.deliveries = store.collection('deliveries');
    this.attempts = store.collection('attempts');
    this.settlements = store.collection('settlements');
    this.references = store.collection('references');
    this.meta = store.collection('meta');
  }

  /** The next number in a named sequence (never reused across restarts). */
  next(name: string): number {
    let counter = this.counters.get(name);
    if (!counter) {
      counter = this.store.counter(name);
      this.counters.set(name, counter);
    }
    return counter.next();
  }

  newId(kind: IdKind): { id: string; seq: number } {
    const seq = this.next(`id:${kind}`);
    const digest = createHmac('sha256', `psp-sandbox-seed:${this.seed}`).update(`${kind}:${seq}`).digest('hex');
    return { id: `${idPrefixes[kind]}_${digest.slice(0, 24)}`, seq };
  }
}

/** JSON with sorted keys, so two bodies that differ only in key order hash the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function bodyHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
