/**
 * Prometheus metrics of trade sync, in the product's registry (served at /metrics): the lag per server is read from
 * the cursor rows at scrape time, so any process (api or worker) reports the same figure.
 */
import { Counter, Gauge } from 'prom-client';
import { type Clock, systemClock } from '../../clock.ts';
import type { Database } from '../../db/connect.ts';
import { registry } from '../../operations/metrics.ts';

export const syncMetrics = {
  passes: new Counter({
    name: 'brokerdesk_sync_passes_total',
    help: 'Trade sync passes by server, pass (deals, orders) and outcome (ok, failed)',
    labelNames: ['server', 'pass', 'outcome'] as const,
    registers: [registry],
  }),
  records: new Counter({
    name: 'brokerdesk_sync_records_total',
    help: 'Trade records stored by sync, by server and outcome (inserted, changed on the server)',
    labelNames: ['server', 'outcome'] as const,
    registers: [registry],
  }),
};

/**
 * `brokerdesk_sync_lag_seconds{server}`: now minus the instant up to which the server's deals and balance records are
 * complete (the lag the alert watches); `brokerdesk_sync_orders_lag_seconds{server}`: the same for finished orders,
 * which have a pass and a cursor of their own.
 */
export function registerSyncGauges(database: Database, clock: Clock = systemClock): void {
  if (registry.getSingleMetric('brokerdesk_sync_lag_seconds')) return;
  const lagGauge = (name: string, help: string, column: 'synced_to' | 'orders_synced_to') =>
    new Gauge({
      name,
      help,
      labelNames: ['server'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        const rows = await database.query<{ server_code: string; synced_to: string | Date }>(
          `SELECT c.server_code, c.${column} AS synced_to FROM trade_sync_cursors c
           JOIN trading_servers s ON s.code = c.server_code
           WHERE s.enabled AND c.${column} IS NOT NULL`,
        );
        const now = clock.now().getTime();
        for (const r of rows) {
          this.set({ server: r.server_code }, Math.max(0, (now - new Date(r.synced_to).getTime()) / 1000));
        }
      },
    });
  lagGauge(
    'brokerdesk_sync_lag_seconds',
    'How far behind the trading server the synced deals and balance records are (servers synced at least once)',
    'synced_to',
  );
  lagGauge(
    'brokerdesk_sync_orders_lag_seconds',
    'How far behind the trading server the synced finished orders are (servers whose orders were synced at least once)',
    'orders_synced_to',
  );
}
