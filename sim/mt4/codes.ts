/**
 * MT4 Manager API return codes (the `RET_*` values of mtmanapi.h, the subset in DOMAIN §3) and the typed error the
 * bridge throws to answer with one. Every reply of the bridge carries one of these in `ret`; connectors decide on
 * `ret` alone, never on the HTTP status or the text.
 */
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

export type RetName = keyof typeof RET;
export type RetCode = (typeof RET)[RetName];

/** The fixed text for each code, as the DLL's ErrorDescription() gives it; details go in `message`. */
export const RET_TEXT: Readonly<Record<RetCode, string>> = {
  0: 'OK',
  1: 'OK, no changes',
  2: 'General error',
  3: 'Invalid data',
  4: 'Technical problem',
  5: 'Old version',
  6: 'No connection',
  7: 'Not enough rights',
  8: 'Too frequent requests',
  9: 'Malfunction',
  64: 'Account disabled',
  65: 'Invalid account info',
  128: 'Trade timeout',
  133: 'Trade disabled',
  134: 'Not enough money',
  137: 'Broker busy',
  141: 'Too many trade requests',
};

export const ALL_RET_CODES: readonly RetCode[] = Object.values(RET);

export function isRetCode(code: number): code is RetCode {
  return (ALL_RET_CODES as readonly number[]).includes(code);
}

export function retText(code: number): string {
  return isRetCode(code) ? RET_TEXT[code] : `Error ${code}`;
}

/** A call that ends with a non-OK return code. The message says what to fix and is safe to show to a client. */
export class Mt4Error extends Error {
  constructor(
    readonly ret: RetCode,
    message: string,
  ) {
    super(message);
    this.name = 'Mt4Error';
  }
}

/** Shorthands so domain code reads as the rule it enforces. */
export const invalidData = (message: string): Mt4Error => new Mt4Error(RET.INVALID_DATA, message);
export const notEnoughRights = (message: string): Mt4Error => new Mt4Error(RET.NOT_ENOUGH_RIGHTS, message);
export const noSuchAccount = (login: number): Mt4Error =>
  new Mt4Error(RET.BAD_ACCOUNT_INFO, `account ${login} does not exist`);
