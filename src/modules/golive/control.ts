/**
 * A client for the control APIs of the simulators and the PSP sandbox (sim/common/control.ts): bearer-token JSON over
 * plain HTTP on the simulator's loopback port. Only the rehearsal uses it, to trade on a demo account, to inject one
 * fault and to settle a sandbox payout at once. Product code never imports simulator code; this speaks its protocol.
 */

export class ControlApiError extends Error {
  override readonly name = 'ControlApiError';
  constructor(
    message: string,
    /** The HTTP status, or null when the control API could not be reached. */
    readonly status: number | null,
  ) {
    super(message);
  }
}

export class ControlClient {
  constructor(
    /** What it controls, for messages ("simulator of mt5-demo", "PSP sandbox"). */
    readonly label: string,
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly timeoutMs = 10_000,
  ) {}

  async call<T = unknown>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl.replace(/\/+$/, '')}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new ControlApiError(
        `the ${this.label} control API at ${this.baseUrl} cannot be reached (${(err as Error).message})`,
        null,
      );
    }
    const text = await response.text();
    if (response.status === 401) {
      throw new ControlApiError(`the ${this.label} control API refused the token (HTTP 401)`, 401);
    }
    if (!response.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        // not JSON: keep the text
      }
      throw new ControlApiError(
        `${this.label} control API ${method} ${path}: HTTP ${response.status} ${message}`,
        response.status,
      );
    }
    return (text ? JSON.parse(text) : null) as T;
  }
}

/** What the simulators' `/control/status` says about themselves (the fields the rehearsal relies on). */
export interface SimulatorStatus {
  platform?: string;
  name?: string;
  environment?: string;
  url?: string;
}

/** The same server address written two ways (trailing slash, default port, case) compares equal. */
export function sameAddress(a: string, b: string): boolean {
  try {
    const x = new URL(a);
    const y = new URL(b);
    return x.protocol === y.protocol && x.hostname.toLowerCase() === y.hostname.toLowerCase() && x.port === y.port;
  } catch {
    return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
  }
}
