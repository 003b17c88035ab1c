/**
 * The commissions module's entry points for the composition root and the HTTP routes: its services (one pair per
 * database, so every route shares them) and its receivers of operation results.
 */
import type { Database } from '../../db/connect.ts';
import type { OperationHandler } from '../../operations/ports.ts';
import { IbPayoutService, PAYOUT_HANDLER } from './payouts.ts';
import { type CommissionDeps, CommissionService } from './service.ts';

export interface CommissionServices {
  commissions: CommissionService;
  payouts: IbPayoutService;
}

const byDatabase = new WeakMap<Database, CommissionServices>();

export function commissionServices(deps: CommissionDeps): CommissionServices {
  let services = byDatabase.get(deps.database);
  if (!services) {
    services = { commissions: new CommissionService(deps), payouts: new IbPayoutService(deps) };
    byDatabase.set(deps.database, services);
  }
  return services;
}

/** `commissions.payout`: a payout to a partner's trading account, paid (ledger) or failed when the server answers. */
export function commissionOperationHandlers(deps: CommissionDeps): Record<string, OperationHandler> {
  return { [PAYOUT_HANDLER]: commissionServices(deps).payouts.handler() };
}
