/** Prometheus metrics of the operations engine (exposed at /metrics by the HTTP app). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../db/connect.ts';

export const registry = new Registry();

export const metrics = {
  transitions: new Counter({
    name: 'brokerdesk_operation_transitions_total',
    help: 'Operation state changes made by workers, by kind and new status',
    labelNames: ['kind', 'status'] as const,
    registers: [registry],
  }),
  attemptDuration: new Histogram({
    name: 'brokerdesk_operation_attempt_seconds',
    help: 'Duration of calls to trading servers made for operations',
    labelNames: ['server', 'action', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  }),
};

/** Gauges read from the database at scrape time: operations by kind and status, and the ready backlog. */
export function registerDatabaseGauges(database: Database): void {
  if (registry.getSingleMetric('brokerdesk_operations')) return;
  new Gauge({
    name: 'brokerdesk_operations',
    help: 'Operations by kind and status',
    labelNames: ['kind', 'status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await database.query<{ kind: string; status: string; n: number }>(
        'SELECT kind, status, count(*)::int AS n FROM operations GROUP BY kind, status',
      );
      for (const r of rows) this.set({ kind: r.kind, status: r.status }, r.n);
    },
  });
  new Gauge({
    name: 'brokerdesk_operations_ready',
    help: 'Operations ready to run now (the queue depth)',
    registers: [registry],
    async collect() {
      const [row] = await database.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM operations WHERE status IN ('pending','unknown') AND next_attempt_at <= now()",
      );
      this.set(row?.n ?? 0);
    },
  });
}

/** Server health gauges read from the registry at scrape time: circuit state, consecutive failures, ping latency. */
export function registerServerGauges(health: () => import('../platforms/guarded.ts').ServerHealth[]): void {
  if (registry.getSingleMetric('brokerdesk_server_circuit_open')) return;
  new Gauge({
    name: 'brokerdesk_server_circuit_open',
    help: 'Whether a trading server’s circuit is open (1) or half-open (0.5) rather than closed (0)',
    labelNames: ['server'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const h of health())
        this.set({ server: h.server }, h.circuit === 'open' ? 1 : h.circuit === 'half_open' ? 0.5 : 0);
    },
  });
  new Gauge({
    name: 'brokerdesk_server_consecutive_failures',
    help: 'Consecutive transport failures of calls to a trading server',
    labelNames: ['server'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const h of health()) this.set({ server: h.server }, h.consecutiveFailures);
    },
  });
  new Gauge({
    name: 'brokerdesk_server_ping_seconds',
    help: 'Latency of the last ping to a trading server',
    labelNames: ['server'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const h of health())
        if (h.lastPingLatencyMs !== null) this.set({ server: h.server }, h.lastPingLatencyMs / 1000);
    },
  });
}
