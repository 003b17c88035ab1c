/**
 * The worker process: runs the operations engine, sends approved withdrawals to the PSP, drains the alert and
 * email outboxes, pings the trading servers, syncs trade history (with MT4 pumping), runs the daily reconciliation
 * after its cut-off and raises monitor alerts. Stateless: any number of workers can run against one PostgreSQL.
 */
import { deliverAlerts } from '../modules/alerts/delivery.ts';
import { commissionServices } from '../modules/commissions/module.ts';
import { deliverOutboxEmails } from '../modules/mail/outbox.ts';
import { reconciliationFor } from '../modules/reconciliation/from-context.ts';
import { OperationsEngine } from '../operations/engine.ts';
import { registerDatabaseGauges } from '../operations/metrics.ts';
import { checkOperationsHealth } from '../operations/monitor.ts';
import type { OperationHandler } from '../operations/ports.ts';
import type { AppContext } from './context.ts';

export interface RunningWorker {
  engine: OperationsEngine;
  stop(): Promise<void>;
}

export async function startWorker(
  ctx: AppContext,
  options: { handlers?: Record<string, OperationHandler>; workerId?: string } = {},
): Promise<RunningWorker> {
  const { config } = ctx;
  const deps = ctx.operationsDeps(options.handlers);
  const engine = new OperationsEngine(deps, {
    workerId: options.workerId,
    concurrency: config.worker.concurrency,
    leaseMs: config.worker.leaseMs,
    maxAttempts: config.worker.maxAttempts,
    maxAgeMs: config.worker.maxAgeMinutes * 60_000,
    pollMs: config.worker.pollMs,
    verifyDelayMs: config.worker.verifyDelayMs,
  });
  registerDatabaseGauges(ctx.database);
  await engine.start();
  await ctx.trades.start();
  ctx.logger.info({ worker: engine.workerId }, 'worker started');

  const every = (ms: number, task: () => Promise<unknown>, name: string) => {
    let busy = false;
    const timer = setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        await task();
      } catch (err) {
        ctx.logger.warn({ task: name, err: (err as Error).message }, 'periodic task failed');
      } finally {
        busy = false;
      }
    }, ms);
    timer.unref();
    return timer;
  };
  const timers = [
    every(2_000, () => deliverAlerts(ctx.database, ctx.alertChannels, { clock: ctx.clock }), 'alert delivery'),
    every(20_000, () => ctx.registry.pingAll(), 'server ping'),
    every(5_000, () => deliverOutboxEmails(ctx.database, ctx.mailer, { clock: ctx.clock }), 'email delivery'),
    every(600_000, () => ctx.kyc.expireDue(), 'kyc expiry'),
    every(3_000, () => ctx.funding.dispatchPayouts(), 'payout dispatch'),
    // Trade sync: polls, catch-ups, positions, account checks and lag alerts, each when due (see modules/trades).
    every(5_000, () => ctx.trades.tick(), 'trade sync'),
    // IB commissions: lines for trades closed or corrected since (each run scans the closing records: keep it minutes).
    every(120_000, () => commissionServices(ctx).commissions.calculate({ triggeredBy: 'worker' }), 'commissions'),
    every(
      15_000,
      () =>
        checkOperationsHealth(deps, ctx.registry.health(), {
          unknownAfterMs: config.alerts.unknownAfterMinutes * 60_000,
          backlogThreshold: config.alerts.backlogThreshold,
        }),
      'monitor',
    ),
  ];
  // Daily reconciliation: each business date once, after its cut-off (RECON_CUTOFF in RECON_TIME_ZONE), whichever
  // worker gets there first (the runs table keeps it to one).
  if (config.reconciliation.schedule) {
    const recon = reconciliationFor(ctx);
    timers.push(
      every(
        60_000,
        async () => {
          const run = await recon.runIfDue();
          if (run) ctx.logger.info({ run: run.id, date: run.businessDate, summary: run.summary }, 'reconciliation run');
        },
        'reconciliation',
      ),
    );
  }
  return {
    engine,
    async stop() {
      for (const t of timers) clearInterval(t);
      await ctx.trades.stop();
      await engine.stop();
    },
  };
}
