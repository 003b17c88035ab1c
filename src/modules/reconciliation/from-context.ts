/**
 * Builds the reconciliation service from what the composition root (src/app/context.ts) already holds, so the API,
 * the worker and the CLI wire it the same way. Described structurally: modules do not import the app layer.
 */
import type { Clock } from '../../clock.ts';
import type { Database } from '../../db/connect.ts';
import type { Logger } from '../../log.ts';
import type { AlertPort, AuditPort, OperationsDeps } from '../../operations/ports.ts';
import type { PaymentProvider } from '../../payments/types.ts';
import { ReconciliationService, type ReconServers, type ReconSync } from './service.ts';

export interface ReconContext {
  config: { reconciliation: { cutoff: string; timeZone: string; lookbackDays: number } };
  database: Database;
  clock: Clock;
  logger: Logger;
  audit: AuditPort;
  alerts: AlertPort;
  registry: ReconServers;
  funding: { deps: { psp: PaymentProvider | null } };
  trades: ReconSync;
  operationsDeps(): OperationsDeps;
}

export function reconciliationFor(ctx: ReconContext): ReconciliationService {
  const recon = ctx.config.reconciliation;
  return new ReconciliationService({
    database: ctx.database,
    clock: ctx.clock,
    audit: ctx.audit,
    alerts: ctx.alerts,
    psp: ctx.funding.deps.psp,
    servers: ctx.registry,
    sync: ctx.trades,
    operations: ctx.operationsDeps(),
    settings: { cutoff: recon.cutoff, timeZone: recon.timeZone, lookbackDays: recon.lookbackDays },
    logger: ctx.logger,
  });
}
