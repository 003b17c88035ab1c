/** The funding module's view of a trading account: whose it is, where it lives, whether money may move on it. */
import { eq } from 'drizzle-orm';
import type { Executor } from '../../db/connect.ts';
import { clients, products, tradingAccounts } from '../../db/schema.ts';
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

/**
 * Loads an open live account; with `clientId`, only one of that client's (another client's account answers
 * "not found", never "forbidden", so ids cannot be probed).
 */
export async function fundableAccount(
  tx: Executor,
  accountId: string,
  options: { clientId?: string; allowDemo?: boolean } = {},
): Promise<FundableAccount> {
  const [row] = await tx
    .select({
      id: tradingAccounts.id,
      clientId: tradingAccounts.clientId,
      serverCode: tradingAccounts.serverCode,
      login: tradingAccounts.login,
      currency: tradingAccounts.currency,
      status: tradingAccounts.status,
      environment: products.environment,
      clientStatus: clients.status,
      kycStatus: clients.kycStatus,
    })
    .from(tradingAccounts)
    .innerJoin(products, eq(products.id, tradingAccounts.productId))
    .innerJoin(clients, eq(clients.id, tradingAccounts.clientId))
    .where(eq(tradingAccounts.id, accountId));
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
