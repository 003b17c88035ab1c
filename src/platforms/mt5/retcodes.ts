/** MT5 Web API return codes → what they mean to the CRM (see errors.ts for the three classes). */
import type { PlatformErrorClass, RefusalReason } from '../errors.ts';

export interface RetcodeMeaning {
  class: PlatformErrorClass | 'ok';
  reason?: RefusalReason;
}

const table: Record<number, RetcodeMeaning> = {
  0: { class: 'ok' },
  10009: { class: 'ok' },
  // The access server could not get an answer from the trade server: it may or may not have acted.
  7: { class: 'ambiguous' },
  9: { class: 'ambiguous' },
  // Nothing was done: come back later.
  10: { class: 'not_sent' },
  12: { class: 'not_sent' },
  15: { class: 'not_sent' },
  1018: { class: 'not_sent' },
  1022: { class: 'not_sent' },
  1001: { class: 'not_sent', reason: 'no_rights' },
  1008: { class: 'not_sent', reason: 'server_identity' },
  // Refusals on the merits.
  2: { class: 'definitive', reason: 'other' },
  3: { class: 'definitive', reason: 'bad_data' },
  8: { class: 'definitive', reason: 'no_rights' },
  13: { class: 'definitive', reason: 'not_found' },
  17: { class: 'definitive', reason: 'already_exists' },
  1002: { class: 'definitive', reason: 'account_disabled' },
  1011: { class: 'definitive', reason: 'not_configured' },
  1012: { class: 'definitive', reason: 'ip_blocked' },
  3004: { class: 'definitive', reason: 'already_exists' },
  3006: { class: 'definitive', reason: 'weak_password' },
  3008: { class: 'definitive', reason: 'has_open_trades' },
  3010: { class: 'definitive', reason: 'currency_mismatch' },
  4005: { class: 'definitive', reason: 'amount_too_large' },
  10019: { class: 'definitive', reason: 'not_enough_money' },
};

export function retcodeMeaning(code: number): RetcodeMeaning {
  // An unknown code is not assumed harmless: the caller verifies before any retry.
  return table[code] ?? { class: 'ambiguous' };
}

/** "10019 Not enough money" → { code: 10019, text: "Not enough money" }. */
export function parseRetcode(value: unknown): { code: number; text: string } | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  const match = /^\s*(-?\d+)\s*(.*)$/.exec(String(value));
  if (!match) return null;
  return { code: Number(match[1]), text: match[2]!.trim() };
}
