/**
 * Everything the operations engine runs on, for integration tests: an isolated database, a live MT5 simulator,
 * a registry pointing at it, the audit and alert modules, and a manual clock.
 */
import { ManualClock } from '../../src/clock.ts';
import { AlertService } from '../../src/modules/alerts/service.ts';
import { recordAudit } from '../../src/modules/audit/service.ts';
import { type EngineOptions, OperationsEngine } from '../../src/operations/engine.ts';
import type { OperationHandler, OperationsDeps } from '../../src/operations/ports.ts';
import { Sealer } from '../../src/operations/sealed.ts';
import { createMt5Connector } from '../../src/platforms/mt5/connector.ts';
import { ServerRegistry } from '../../src/platforms/registry.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { startMt5 } from './simulators.ts';

export interface Harness {
  database: TestDatabase;
  sim: Awaited<ReturnType<typeof startMt5>>;
  clock: ManualClock;
  registry: ServerRegistry;
  alerts: AlertService;
  deps: OperationsDeps;
  handlers: Record<string, OperationHandler>;
  engine(options?: EngineOptions): OperationsEngine;
  close(): Promise<void>;
}

export async function operationsHarness(
  options: { serverCode?: string; requestTimeoutMs?: number } = {},
): Promise<Harness> {
  const serverCode = options.serverCode ?? 'mt5-live';
  const database = await createTestDatabase();
  const sim = await startMt5({ name: serverCode });
  const clock = new ManualClock(new Date());
  const registry = new ServerRegistry({
    database,
    clock,
    factories: { mt5: createMt5Connector },
    env: { SIM_MANAGER_PASSWORD: sim.manager.password },
  });
  await registry.upsert({
    code: serverCode,
    platform: 'mt5',
    environment: 'live',
    address: sim.url,
    managerLogin: sim.manager.login,
    passwordSecret: 'env:SIM_MANAGER_PASSWORD',
    caCertPath: sim.certPath ?? null,
    requestTimeoutMs: options.requestTimeoutMs ?? 1500,
    connectTimeoutMs: 1000,
  });
  const alerts = new AlertService({ clock });
  const handlers: Record<string, OperationHandler> = {};
  const deps: OperationsDeps = {
    database,
    platforms: registry,
    clock,
    sealer: new Sealer(Sealer.generateKey()),
    audit: { record: (tx, entry) => recordAudit(tx, entry, clock) },
    alerts,
    handlers,
  };
  const engines: OperationsEngine[] = [];
  return {
    database,
    sim,
    clock,
    registry,
    alerts,
    deps,
    handlers,
    engine(engineOptions = {}) {
      const engine = new OperationsEngine(deps, { verifyDelayMs: 1000, random: () => 0.5, ...engineOptions });
      engines.push(engine);
      return engine;
    },
    async close() {
      await Promise.allSettled(engines.map((e) => e.stop()));
      await registry.close();
      await sim.close();
      await database.drop();
    },
  };
}
