/** What every simulator takes and gives back, so one launcher can start any number of them. */
import type { FaultRuleInput } from './faults.ts';

export type Environment = 'live' | 'demo';

export interface SimulatorBaseOptions {
  /** A name for banners and logs, e.g. "mt5-live". */
  name?: string;
  environment?: Environment;
  host?: string;
  /** 0 = any free port. */
  port?: number;
  /** 0 = any free port. Default: any free port. */
  controlPort?: number;
  /** Bearer token for the control API; default: random, printed in the banner. */
  controlToken?: string;
  /** Folder for durable state and the TLS certificate; absent = state in memory, certificate in a temp folder. */
  stateDir?: string;
  /** Seed for faults and trading activity. Default 1. */
  seed?: number;
  /** IANA zone of the server's wall clock. Default Europe/Nicosia. */
  timeZone?: string;
  /** Serve plain HTTP instead of HTTPS (only when asked explicitly). */
  plainHttp?: boolean;
  /** Fault rules active from start (as with --fault). */
  faults?: FaultRuleInput[];
  /** Trading activity generator: off unless an interval is given; can always be stepped via the control API. */
  activityIntervalMs?: number;
  /** Suppress the banner (tests). */
  quiet?: boolean;
}

export interface SimulatorGroupInfo {
  name: string;
  currency: string;
  currencyDigits: number;
  marginMode?: 'netting' | 'hedging';
}

export interface SimulatorHandle {
  platform: 'mt4' | 'mt5';
  name: string;
  environment: Environment;
  /** Base URL of the protocol endpoint (https://127.0.0.1:PORT). */
  url: string;
  host: string;
  port: number;
  controlUrl: string;
  controlToken: string;
  /** PEM file clients pin as their CA (absent with plainHttp). */
  certPath?: string;
  /** The CRM's manager account on this server. */
  manager: { login: number; password: string };
  groups: SimulatorGroupInfo[];
  /** Human-readable start-up banner: address, certificate, manager login and password, groups. */
  banner(): string;
  close(): Promise<void>;
}
