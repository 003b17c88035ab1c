/**
 * What a failed call to a trading server means for the caller, in three classes:
 *
 * - `NotSentError`: the server certainly did nothing (connection refused, auth failed, busy, too frequent).
 *   Safe to retry later as is.
 * - `AmbiguousError`: the request left and no reliable answer came back (timeout, reset after sending). The server
 *   may have applied it; the caller must look the reference up before anything is sent again.
 * - `DefinitiveError`: the server refused on the merits (bad data, no money, no such login or group, no rights,
 *   IP blocked). Retrying will not help.
 *
 * Each carries the server, the platform's code and text, and the request as sent (secrets redacted).
 */
import type { PlatformKind } from './types.ts';

export type PlatformErrorClass = 'not_sent' | 'ambiguous' | 'definitive';

/** Why a definitive refusal happened, in the CRM's words. */
export type RefusalReason =
  | 'bad_data'
  | 'not_enough_money'
  | 'not_found'
  | 'group_not_found'
  | 'no_rights'
  | 'ip_blocked'
  | 'already_exists'
  | 'weak_password'
  | 'has_open_trades'
  | 'currency_mismatch'
  | 'account_disabled'
  | 'trade_disabled'
  | 'amount_too_large'
  | 'not_configured'
  | 'licence_limit'
  | 'server_identity'
  | 'other';

export interface RequestSummary {
  method: string;
  path: string;
  /** Parameters as sent, with passwords and other secrets replaced by "[redacted]". */
  params?: Record<string, unknown>;
}

export interface PlatformErrorDetails {
  server: string;
  platform: PlatformKind;
  /** The platform's return code (MT5 retcode, MT4 return code), or null for transport failures. */
  code: number | null;
  /** The server's own text, or the transport error's message. */
  serverText: string;
  request?: RequestSummary | undefined;
  cause?: unknown;
}

export abstract class PlatformError extends Error {
  abstract readonly errorClass: PlatformErrorClass;
  readonly server: string;
  readonly platform: PlatformKind;
  readonly code: number | null;
  readonly serverText: string;
  readonly request: RequestSummary | undefined;

  constructor(message: string, details: PlatformErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.server = details.server;
    this.platform = details.platform;
    this.code = details.code;
    this.serverText = details.serverText;
    this.request = details.request;
  }

  /** A plain object for logs and the attempt log. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      class: this.errorClass,
      message: this.message,
      server: this.server,
      platform: this.platform,
      code: this.code,
      serverText: this.serverText,
      request: this.request,
    };
  }
}

export class NotSentError extends PlatformError {
  readonly errorClass = 'not_sent' as const;
  override readonly name: string = 'NotSentError';
}

export class AmbiguousError extends PlatformError {
  readonly errorClass = 'ambiguous' as const;
  override readonly name: string = 'AmbiguousError';
}

export class DefinitiveError extends PlatformError {
  readonly errorClass = 'definitive' as const;
  override readonly name: string = 'DefinitiveError';
  constructor(
    message: string,
    details: PlatformErrorDetails,
    readonly reason: RefusalReason,
  ) {
    super(message, details);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), reason: this.reason };
  }
}

/** Raised by the circuit breaker without calling the server: nothing was sent. */
export class CircuitOpenError extends NotSentError {
  override readonly name: string = 'CircuitOpenError';
}

/** A configuration or routing refusal raised before any server call (wrong environment, unknown group…). */
export class RoutingError extends Error {
  override readonly name = 'RoutingError';
  constructor(
    readonly code:
      | 'environment_mismatch'
      | 'group_not_on_server'
      | 'server_unknown'
      | 'server_disabled'
      | 'currency_mismatch',
    message: string,
  ) {
    super(message);
  }
}

export function isPlatformError(err: unknown): err is PlatformError {
  return err instanceof PlatformError;
}

const secretKeys = /pass|secret|token|srv_rand_answer|cli_rand/i;

/** Copies request parameters for logs and errors, replacing anything secret. */
export function redactParams(params: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!params) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) {
    out[key] = secretKeys.test(key) ? '[redacted]' : value;
  }
  return out;
}
