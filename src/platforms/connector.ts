/** What a connector is built from: one configured server, with its secret already resolved. */
import type { Logger } from '../log.ts';
import type { Environment, Platform, PlatformKind } from './types.ts';

export interface ConnectorConfig {
  /** The server's code in the registry, e.g. "mt5-live". Used in errors and logs. */
  code: string;
  platform: PlatformKind;
  environment: Environment;
  /** https://host:port of the MT5 Web API or MT4 Manager bridge. */
  address: string;
  managerLogin: number;
  /** The manager's password, resolved from its secret reference. Never logged. */
  password: string;
  /** PEM of the CA the server certificate must chain to; absent = the system's trusted CAs. */
  ca?: string | undefined;
  timeZone: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** Keep-alive sessions to hold open in parallel (MT5: each is its own authenticated connection). */
  sessions?: number;
}

export interface ConnectorDeps {
  logger?: Logger;
}

export type ConnectorFactory = (config: ConnectorConfig, deps: ConnectorDeps) => Platform;
