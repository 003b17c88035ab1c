/**
 * MT5 Web API return codes. Every reply carries `"retcode":"<code> <text>"`; the texts are the ones MetaQuotes' own
 * Web API libraries print for each code (MTFormat.GetError), except success, which the server spells "0 Done".
 */
export const Retcode = {
  OK: 0,
  ERROR: 2,
  ERR_PARAMS: 3,
  ERR_NETWORK: 7,
  ERR_PERMISSIONS: 8,
  ERR_TIMEOUT: 9,
  ERR_CONNECTION: 10,
  ERR_FREQUENT: 12,
  ERR_NOTFOUND: 13,
  ERR_SHUTDOWN: 15,
  ERR_DUPLICATE: 17,
  AUTH_CLIENT_INVALID: 1000,
  AUTH_ACCOUNT_INVALID: 1001,
  AUTH_ACCOUNT_DISABLED: 1002,
  AUTH_SERVER_BAD: 1008,
  AUTH_CLIENT_OLD: 1010,
  AUTH_MANAGER_NOCONFIG: 1011,
  AUTH_MANAGER_IPBLOCK: 1012,
  AUTH_SERVER_BUSY: 1018,
  AUTH_SERVER_LIMIT: 1022,
  USR_LOGIN_EXHAUSTED: 3002,
  USR_LOGIN_EXIST: 3004,
  USR_INVALID_PASSWORD: 3006,
  USR_HAS_TRADES: 3008,
  USR_DIFFERENT_CURRENCY: 3010,
  TRADE_MAX_MONEY: 4005,
  REQUEST_DONE: 10009,
  REQUEST_NO_MONEY: 10019,
} as const;

export type RetcodeValue = (typeof Retcode)[keyof typeof Retcode];

const texts: Record<number, string> = {
  0: 'Done',
  1: 'ok; no data',
  2: 'Common error',
  3: 'Invalid parameters',
  4: 'Invalid data',
  7: 'Network error',
  8: 'Not enough permissions',
  9: 'Operation timeout',
  10: 'No connection',
  11: 'Service is not available',
  12: 'Too frequent requests',
  13: 'Not found',
  14: 'Partial error',
  15: 'Server shutdown in progress',
  16: 'Operation has been canceled',
  17: 'Duplicate data',
  1000: 'Invalid terminal type',
  1001: 'Invalid account',
  1002: 'Account disabled',
  1008: 'Server is not authenticated',
  1010: 'Client has old version',
  1011: 'Manager account does not have manager config',
  1012: 'IP address unallowed for manager',
  1018: 'Server is busy',
  1022: 'Server cannot be connected due to license limitation',
  3002: 'Logins range exhausted',
  3004: 'Account already exists',
  3006: 'Invalid account password',
  3008: 'Account has open trades',
  3010: 'Attempt to move account to different currency group',
  4005: 'Money limit reached',
  10009: 'Request executed',
  10019: 'Not enough money',
};

/** The wire form `"<code> <text>"` (unknown codes, e.g. from an injected `error` fault, read "<code> Error"). */
export function retcodeString(code: number): string {
  return `${code} ${texts[code] ?? 'Error'}`;
}

/**
 * A refusal the protocol reports as a retcode. `detail` is for the simulator's own logs and the control API; the Web
 * API reply carries only the code and its standard text, as a real server does.
 */
export class Mt5Error extends Error {
  constructor(
    readonly code: number,
    readonly detail?: string,
  ) {
    super(detail ? `${retcodeString(code)}: ${detail}` : retcodeString(code));
  }
}

export function fail(code: number, detail?: string): never {
  throw new Mt5Error(code, detail);
}
