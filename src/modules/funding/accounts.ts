/** The funding module's view of a trading account: whose it is, where it lives, whether money may move on it. */
import { type Executor, executePrepared, preparedQuery, type ScriptConnection } from '../../db/connect.ts';
import { FundingError } from './errors.ts';

export interface FundableAccount {
  id: string;
  clientId: string;
  serverCode: string;
  login: number;
  currency: string;
  environment: 'live' | 'demo';
  clientStatus: string;
  kycStatus: string;
}

const ACCOUNT_SQL = `
  select ta.id, ta.client_id, ta.server_code, ta.login, ta.currency, ta.status, p.environment,
         c.status as client_status, c.kyc_status
  from trading_accounts ta
  join products p on p.id = ta.product_id
  join clients c on c.id = ta.client_id
  where ta.id = $1`;

/** ACCOUNT_SQL for the trading account of a movement (by the movement's id), for an opening script. */
const MOVEMENT_ACCOUNT_NAME = 'bd_fundable_account_of_movement';
const MOVEMENT_ACCOUNT_SQL = `
  select ta.id, ta.client_id, ta.server_code, ta.login, ta.currency, ta.status, p.environment,
         c.status as client_status, c.kyc_status
  from trading_accounts ta
  join products p on p.id = ta.product_id
  join clients c on c.id = ta.client_id
  where ta.id = (select trading_account_id from money_movements where id = $1)`;

type AccountRow = {
  id: string;
  client_id: string;
  server_code: string;
  login: string | number | null;
  currency: string;
  status: string;
  environment: 'live' | 'demo';
  client_status: string;
  kyc_status: string;
};

/** Account rows a transaction's opening script already read (`accountInOpening`), by account id, until asked for. */
const readInOpening = new WeakMap<object, Map<string, AccountRow>>();

/**
 * The read `fundableAccount` makes, of the account of movement `movementId`, as a statement for a transaction's
 * opening script (it then goes with BEGIN), on a connection where it is prepared; `accept` hands its row to the
 * transaction, where the next `fundableAccount` of that account takes it (and checks it) instead of asking again.
 * Before the first use on a connection it is prepared (`prepareAccountInOpening`).
 */
export function accountInOpening(
  connection: ScriptConnection,
  movementId: string,
): { statement: string; accept(tx: Executor, rows: Record<string, unknown>[]): void } | undefined {
  if (!connection.hasPrepared(MOVEMENT_ACCOUNT_NAME)) return undefined;
  return {
    statement: executePrepared(MOVEMENT_ACCOUNT_NAME, [movementId]),
    accept(tx, rows) {
      const row = rows[0] as AccountRow | undefined;
      if (!row) return;
      let read = readInOpening.get(tx);
      if (!read) {
        read = new Map();
        readInOpening.set(tx, read);
      }
      read.set(row.id, row);
    },
  };
}

/** Prepares `accountInOpening`'s statement on the transaction's connection (running it once, for this movement). */
export async function prepareAccountInOpening(tx: Executor, movementId: string): Promise<void> {
  const [row] = await preparedQuery<AccountRow>(tx, MOVEMENT_ACCOUNT_NAME, MOVEMENT_ACCOUNT_SQL, [movementId]);
  if (row) {
    let read = readInOpening.get(tx);
    if (!read) {
      read = new Map();
      readInOpening.set(tx, read);
    }
    read.set(row.id, row);
  }
}

/**
 * Loads an open live account; with `clientId`, only one of that client's (another client's account answers
 * "not found", never "forbidden", so ids cannot be probed).
 */
export async function fundableAccount(
  tx: Executor,
  accountId: string,
  options: { clientId?: string; allowDemo?: boolean } = {},
): Promise<FundableAccount> {
  const read = readInOpening.get(tx);
  let raw = read?.get(accountId);
  if (raw) read!.delete(accountId);
  else [raw] = await preparedQuery<AccountRow>(tx, 'bd_fundable_account', ACCOUNT_SQL, [accountId]);
  const row = raw && {
    id: raw.id,
    clientId: raw.client_id,
    serverCode: raw.server_code,
    login: raw.login === null ? null : Number(raw.login),
    currency: raw.currency,
    status: raw.status,
    environment: raw.environment,
    clientStatus: raw.client_status,
    kycStatus: raw.kyc_status,
  };
  if (!row || (options.clientId && row.clientId !== options.clientId)) {
    throw new FundingError('ACCOUNT_NOT_FOUND', 404, `no trading account ${accountId} (or it is not yours)`);
  }
  if (row.status !== 'open' || row.login === null) {
    throw new FundingError(
      'ACCOUNT_NOT_OPEN',
      409,
      `trading account ${accountId} is ${row.status}; money can move only on an open account`,
    );
  }
  if (row.environment === 'demo' && !options.allowDemo) {
    throw new FundingError('ACCOUNT_IS_DEMO', 409, 'this is a demo account: it holds no real money');
  }
  if (row.clientStatus !== 'active') {
    throw new FundingError('CLIENT_NOT_ACTIVE', 403, `the client is ${row.clientStatus}; no money can move`);
  }
  return { ...row, login: row.login };
}
