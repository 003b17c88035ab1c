/**
 * MT4 Manager API return codes (the `ret` of every bridge reply) → what they mean to the CRM (see errors.ts for the
 * three classes). The bridge contract (docs/mt4-bridge.openapi.yaml, "Return codes") says to decide on `ret` alone,
 * never on the HTTP status or the text; the table below follows it.
 */
import type { PlatformErrorClass, RefusalReason } from '../errors.ts';

export const RET = {
  OK: 0,
  OK_NONE: 1,
  ERROR: 2,
  INVALID_DATA: 3,
  TECH_PROBLEM: 4,
  OLD_VERSION: 5,
  NO_CONNECT: 6,
  NOT_ENOUGH_RIGHTS: 7,
  TOO_FREQUENT: 8,
  MALFUNCTION: 9,
  ACCOUNT_DISABLED: 64,
  BAD_ACCOUNT_INFO: 65,
  TRADE_TIMEOUT: 128,
  TRADE_DISABLE: 133,
  TRADE_NO_MONEY: 134,
  BROKER_BUSY: 137,
  TOO_MANY_REQ: 141,
} as const;

export interface RetcodeMeaning {
  /**
   * `ambiguous` means "the server may have acted": it becomes an AmbiguousError for a write and a NotSentError for a
   * read (a read that changed nothing is simply repeated later). `no_session` is RET_NO_CONNECT: log in again.
   */
  class: PlatformErrorClass | 'ok' | 'no_session';
  reason?: RefusalReason;
}

const table: Record<number, RetcodeMeaning> = {
  [RET.OK]: { class: 'ok' },
  // UserRecordUpdate with nothing to change: done.
  [RET.OK_NONE]: { class: 'ok' },
  // The contract lists it as definitive: unknown call or ticket, login already exists, login range exhausted.
  [RET.ERROR]: { class: 'definitive', reason: 'other' },
  [RET.INVALID_DATA]: { class: 'definitive', reason: 'bad_data' },
  // A technical problem or a malfunction inside the server/bridge after it took the request: the outcome is unknown.
  [RET.TECH_PROBLEM]: { class: 'ambiguous' },
  [RET.MALFUNCTION]: { class: 'ambiguous' },
  // The bridge or DLL is too old for the server: nothing will work until operations upgrade it.
  [RET.OLD_VERSION]: { class: 'definitive', reason: 'not_configured' },
  // No session (never logged in, dropped, bridge restarted) or no connection to the trade server.
  [RET.NO_CONNECT]: { class: 'no_session' },
  [RET.NOT_ENOUGH_RIGHTS]: { class: 'definitive', reason: 'no_rights' },
  // Nothing applied: back off and come back.
  [RET.TOO_FREQUENT]: { class: 'not_sent' },
  [RET.BROKER_BUSY]: { class: 'not_sent' },
  [RET.TOO_MANY_REQ]: { class: 'not_sent' },
  [RET.ACCOUNT_DISABLED]: { class: 'definitive', reason: 'account_disabled' },
  // No such account (for Login: wrong manager credentials, refined by the session).
  [RET.BAD_ACCOUNT_INFO]: { class: 'definitive', reason: 'not_found' },
  // The trade server did not answer in time: it may still apply the operation. Verify by comment.
  [RET.TRADE_TIMEOUT]: { class: 'ambiguous' },
  [RET.TRADE_DISABLE]: { class: 'definitive', reason: 'trade_disabled' },
  [RET.TRADE_NO_MONEY]: { class: 'definitive', reason: 'not_enough_money' },
};

export function retcodeMeaning(ret: number): RetcodeMeaning {
  // An unknown code is not assumed harmless: for a write the caller verifies before any retry.
  return table[ret] ?? { class: 'ambiguous' };
}

/** The codes this connector knows, for tests and documentation. */
export const KNOWN_RETCODES: readonly number[] = Object.values(RET);
