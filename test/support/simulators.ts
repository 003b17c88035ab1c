/**
 * Starts simulators in-process for integration tests (port 0, memory state) and builds the connector settings that
 * point at them. Tests may import simulator code; product code never does.
 */
import { readFileSync } from 'node:fs';
import type { SimulatorHandle } from '../../sim/common/types.ts';
import { type Mt4SimulatorOptions, startMt4Simulator } from '../../sim/mt4/server.ts';
import { type Mt5SimulatorOptions, startMt5Simulator } from '../../sim/mt5/server.ts';
import type { ConnectorConfig } from '../../src/platforms/connector.ts';

export async function startMt5(options: Mt5SimulatorOptions = {}) {
  return startMt5Simulator({ quiet: true, port: 0, controlPort: 0, ...options });
}

export function connectorConfig(sim: SimulatorHandle, overrides: Partial<ConnectorConfig> = {}): ConnectorConfig {
  return {
    code: sim.name,
    platform: sim.platform,
    environment: sim.environment,
    address: sim.url,
    managerLogin: sim.manager.login,
    password: sim.manager.password,
    ca: sim.certPath ? readFileSync(sim.certPath, 'utf8') : undefined,
    timeZone: 'Europe/Nicosia',
    connectTimeoutMs: 2000,
    requestTimeoutMs: 3000,
    ...overrides,
  };
}

/** Calls a simulator's control API. */
export async function control(sim: SimulatorHandle, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${sim.controlUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${sim.controlToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`control ${method} ${path}: HTTP ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

export async function startMt4(options: Mt4SimulatorOptions = {}) {
  return startMt4Simulator({ quiet: true, port: 0, controlPort: 0, ...options });
}
