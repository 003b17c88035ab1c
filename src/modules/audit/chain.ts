/** The hash of one audit event: SHA-256 over the previous hash and the event's canonical JSON. */
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every depth, so the same event always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const keys = Object.keys(value as object)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export interface HashedFields {
  at: Date;
  actorType: string;
  actorId: string | null;
  action: string;
  entityType: string;
  entityId: string;
  before: unknown;
  after: unknown;
  correlationId: string | null;
}

/** The text that is hashed for an event (after the previous hash and a newline). */
export function hashedContent(event: HashedFields): string {
  return canonicalJson({
    at: event.at.toISOString(),
    actorType: event.actorType,
    actorId: event.actorId,
    action: event.action,
    entityType: event.entityType,
    entityId: event.entityId,
    before: event.before ?? null,
    after: event.after ?? null,
    correlationId: event.correlationId,
  });
}

export function eventHash(prevHash: string, event: HashedFields): string {
  return createHash('sha256')
    .update(`${prevHash}\n${hashedContent(event)}`, 'utf8')
    .digest('hex');
}
