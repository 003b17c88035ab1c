/**
 * One MT4 Manager bridge session: `Login` for a token sent as `X-MT4-Session` on every call, keep-alive TLS
 * connections verified against the configured CA (the contract lets one session carry concurrent calls), and
 * transparent re-login when the bridge answers RET_NO_CONNECT (session dropped, bridge restarted).
 *
 * Failures are classified here, where it is known whether the request left: before it was written (refused
 * connection, TLS failure, timed out waiting) → NotSentError; after → AmbiguousError for a write (the bridge may have
 * applied it). A read that fails in transport is repeated once on a fresh connection; a write never is.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Logger } from '../../log.ts';
import type { ConnectorConfig } from '../connector.ts';
import {
  AmbiguousError,
  DefinitiveError,
  NotSentError,
  type PlatformErrorDetails,
  type RefusalReason,
  type RequestSummary,
  redactParams,
} from '../errors.ts';
import { RET, retcodeMeaning } from './retcodes.ts';

export const SESSION_HEADER = 'x-mt4-session';
export const PUMPING_PATH = '/v1/Pumping';
/**
 * Idle keep-alive connections are closed after this long, before a server would close them itself (Node's default
 * is 5 s, Fastify's 72 s; a `Keep-Alive: timeout=N` hint from the bridge lowers it further): a write sent on a
 * connection the server is closing at that moment would be reset and become ambiguous for nothing.
 */
const IDLE_SOCKET_MS = 4_000;
const USER_AGENT = 'Brokerdesk';
const PING: Mt4Request = { call: 'Ping', write: false };

export interface Mt4Request {
  /** The Manager API call: the endpoint is POST /v1/<call>. */
  call: string;
  body?: Record<string, unknown>;
  /** Changes server state: a failure after sending is ambiguous, and it is never repeated after a transport failure. */
  write: boolean;
  /**
   * A write that sets values (UserRecordUpdate, UserPasswordSet) and may therefore be sent again after the session
   * was found dropped. Writes that add something (TradeTransaction, UserRecordNew) are not: the caller verifies.
   */
  idempotent?: boolean;
  /** Refines the refusal reason of a code for this call (ret 3 of UserPasswordSet is a weak password…). */
  reasonFor?: (ret: number) => RefusalReason | undefined;
}

export interface Mt4Reply {
  ret: number;
  /** The reply's data fields (the envelope without ret, ret_text and message). */
  data: Record<string, unknown>;
}

interface RawReply {
  status: number;
  body: Record<string, unknown> | null;
  text: string;
}

/** A failure of the HTTP exchange itself; `sent` = the request may have reached the bridge. */
class TransportFailure extends Error {
  constructor(
    message: string,
    readonly sent: boolean,
    readonly errorCode: string | undefined,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

export class Mt4Session {
  private readonly agent: https.Agent | http.Agent;
  private readonly tls: boolean;
  private token: string | null = null;
  /** A transport failure happened since the last reply: the session may have ended with a bridge restart. */
  private suspect = false;
  private loggingIn: Promise<string> | null = null;
  private closed = false;

  constructor(
    private readonly config: ConnectorConfig,
    private readonly logger?: Logger,
    /** Parallel keep-alive connections carrying this session's calls. */
    connections = 4,
  ) {
    this.tls = new URL(config.address).protocol === 'https:';
    const options = { keepAlive: true, maxSockets: connections, timeout: IDLE_SOCKET_MS };
    // Verification stays on: `ca` narrows trust to the configured CA (absent: the system's CAs), nothing widens it.
    this.agent = this.tls ? new https.Agent({ ...options, ca: config.ca }) : new http.Agent(options);
  }

  get server(): string {
    return this.config.code;
  }

  async call(request: Mt4Request): Promise<Mt4Reply> {
    if (this.closed) throw this.notSent(request, 'the connector is closed', null);
    // After a transport failure the bridge may have restarted, ending the session. A write that must not be repeated
    // would then come back ret 6 and need verifying; a Ping first (which logs in again if needed) avoids that.
    if (request.write && !request.idempotent && this.suspect) await this.call(PING).catch(() => {});
    let repeated = false;
    for (;;) {
      const token = await this.session();
      let raw: RawReply;
      try {
        raw = await this.rawSend(request, token, repeated);
      } catch (err) {
        if (!(err instanceof TransportFailure)) throw err;
        this.suspect = true;
        if (!request.write && !repeated) {
          repeated = true;
          continue;
        }
        throw this.transportError(request, err);
      }
      const ret = retOf(raw);
      if (ret === RET.NO_CONNECT) {
        this.forget(token);
        if (!repeated && (!request.write || request.idempotent)) {
          repeated = true;
          continue;
        }
        if (request.write && !request.idempotent) {
          // The contract: after ret 6 "log in again and repeat the call (a write only after verifying it)". The next
          // call logs in; whether this one may be sent again is for the caller's verify-by-reference to decide.
          throw new AmbiguousError(
            `${this.server} /v1/${request.call}: ret 6 ${textOf(raw)}; a write that adds something is not repeated ` +
              'blindly: verify by reference before sending it again',
            this.details(request, ret, raw),
          );
        }
      } else if (ret !== null && token === this.token) {
        this.suspect = false;
      }
      return this.interpret(request, raw);
    }
  }

  /**
   * Opens the pumping stream (server-sent events) with this session, logging in again once if the session is gone.
   * Resolves with the open response once the bridge has answered with `text/event-stream`.
   */
  async openStream(): Promise<IncomingMessage> {
    const request: Mt4Request = { call: 'Pumping', write: false };
    if (this.closed) throw this.notSent(request, 'the connector is closed', null);
    for (let attempt = 0; ; attempt++) {
      const token = await this.session();
      let opened: { res: IncomingMessage } | RawReply;
      try {
        opened = await this.rawStream(token);
      } catch (err) {
        if (!(err instanceof TransportFailure)) throw err;
        this.suspect = true;
        throw this.transportError(request, err);
      }
      if ('res' in opened) return opened.res;
      if (retOf(opened) === RET.NO_CONNECT) {
        this.forget(token);
        if (attempt === 0) continue;
      }
      // Anything else than a stream is an envelope saying why (ret 6, 7, 8 …).
      this.interpret(request, opened);
      throw this.malformed(request, opened, 'an event stream');
    }
  }

  /** Ends the session (best effort) and closes every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    const token = this.token;
    if (token) await this.rawSend({ call: 'Logout' }, token, false).catch(() => {});
    this.closed = true;
    this.token = null;
    this.agent.destroy();
  }

  // --- session ----------------------------------------------------------------------------------------------------

  /** The current token, logging in first if there is none (concurrent callers share one login). */
  private session(): Promise<string> {
    if (this.token) return Promise.resolve(this.token);
    if (!this.loggingIn) {
      this.loggingIn = this.login().finally(() => {
        this.loggingIn = null;
      });
    }
    return this.loggingIn;
  }

  /** Forgets a token that no longer works; a newer token obtained meanwhile by another call is kept. */
  private forget(token: string): void {
    if (this.token === token) this.token = null;
  }

  private async login(): Promise<string> {
    const request: Mt4Request = {
      call: 'Login',
      body: { login: this.config.managerLogin, password: this.config.password },
      write: false,
    };
    let raw: RawReply;
    try {
      raw = await this.rawSend(request, null, false);
    } catch (err) {
      if (err instanceof TransportFailure) throw this.transportError(request, err);
      throw err;
    }
    const ret = retOf(raw);
    if (ret === RET.NOT_ENOUGH_RIGHTS) {
      // At login, ret 7 is the manager's IP allow-list: nothing will work from here until someone changes it.
      throw new DefinitiveError(
        `manager ${this.config.managerLogin} may not connect to ${this.server} from this address: ${textOf(raw)}`,
        this.details(request, ret, raw),
        'ip_blocked',
      );
    }
    if (ret === RET.OLD_VERSION) this.interpret(request, raw);
    const token = ret === RET.OK ? raw.body?.session : undefined;
    if (typeof token !== 'string' || token === '') {
      // Wrong credentials (65), a disabled manager (64), no connection to the trade server (6), a malformed answer:
      // whatever the call was, it was not sent. Not sent keeps the operations waiting on this server pending (with
      // the circuit breaker and its alert) instead of failing them for a configuration problem.
      throw new NotSentError(
        `login of manager ${this.config.managerLogin} on ${this.server} failed: ` +
          (ret === null ? `HTTP ${raw.status} without a return code` : `ret ${ret} ${textOf(raw)}`),
        this.details(request, ret, raw),
      );
    }
    this.token = token;
    this.suspect = false;
    this.logger?.debug({ server: this.server }, 'mt4 bridge session opened');
    return token;
  }

  // --- replies ----------------------------------------------------------------------------------------------------

  private interpret(request: Mt4Request, raw: RawReply): Mt4Reply {
    const ret = retOf(raw);
    if (ret === null) {
      const details = this.details(request, null, raw);
      const message = `${this.server} /v1/${request.call} answered HTTP ${raw.status} without a return code`;
      // A proxy's 5xx after a write was sent may hide an applied change.
      if (raw.status >= 500 && request.write) throw new AmbiguousError(message, details);
      if (raw.status >= 500) throw new NotSentError(message, details);
      throw new DefinitiveError(message, details, raw.status === 404 ? 'not_configured' : 'bad_data');
    }
    const meaning = retcodeMeaning(ret);
    if (meaning.class === 'ok') {
      const { ret: _ret, ret_text: _text, message: _message, ...data } = raw.body!;
      return { ret, data };
    }
    const details = this.details(request, ret, raw);
    const message = `${this.server} /v1/${request.call}: ret ${ret} ${textOf(raw)}`;
    if (raw.status === 404) {
      // The bridge does not implement this call: it is older than the contract this connector speaks.
      throw new DefinitiveError(message, details, 'not_configured');
    }
    if (meaning.class === 'definitive') {
      throw new DefinitiveError(message, details, request.reasonFor?.(ret) ?? meaning.reason ?? 'other');
    }
    if (meaning.class === 'ambiguous' && request.write) throw new AmbiguousError(message, details);
    // not_sent; ambiguous for a read; no_session once logging in again did not help (call() handled the rest).
    throw new NotSentError(message, details);
  }

  private details(request: Mt4Request, code: number | null, raw: RawReply | null): PlatformErrorDetails {
    return {
      server: this.server,
      platform: 'mt4',
      code,
      serverText: raw ? textOf(raw) : '',
      request: this.summary(request),
    };
  }

  private summary(request: Mt4Request): RequestSummary {
    const path = request.call === 'Pumping' ? PUMPING_PATH : `/v1/${request.call}`;
    return {
      method: request.call === 'Pumping' ? 'GET' : 'POST',
      path,
      ...(request.body ? { params: redactParams(request.body) } : {}),
    };
  }

  private malformed(request: Mt4Request, raw: RawReply, expected: string): DefinitiveError {
    return new DefinitiveError(
      `${this.server} /v1/${request.call}: the reply is not ${expected}`,
      { ...this.details(request, retOf(raw), raw), serverText: `malformed reply: ${raw.text.slice(0, 200)}` },
      'other',
    );
  }

  private notSent(request: Mt4Request, text: string, code: string | null, cause?: unknown): NotSentError {
    return new NotSentError(`${this.server} /v1/${request.call}: ${text}`, {
      server: this.server,
      platform: 'mt4',
      code: null,
      serverText: code ? `${text} (${code})` : text,
      request: this.summary(request),
      cause,
    });
  }

  private transportError(request: Mt4Request, err: TransportFailure): NotSentError | AmbiguousError {
    if (err.sent && request.write) {
      return new AmbiguousError(`${this.server} /v1/${request.call}: ${err.message}`, {
        server: this.server,
        platform: 'mt4',
        code: null,
        serverText: err.message,
        request: this.summary(request),
        cause: err.cause,
      });
    }
    return this.notSent(request, err.message, null, err.cause);
  }

  // --- transport --------------------------------------------------------------------------------------------------

  /** One exchange. `fresh` = on a new connection (a read repeated after a transport failure). */
  private rawSend(request: Pick<Mt4Request, 'call' | 'body'>, token: string | null, fresh: boolean): Promise<RawReply> {
    const payload = Buffer.from(JSON.stringify(request.body ?? {}));
    return new Promise<RawReply>((resolve, reject) => {
      const { req, settle, fail } = this.exchange(
        `/v1/${request.call}`,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': payload.length,
            ...(token ? { [SESSION_HEADER]: token } : {}),
          },
        },
        fresh,
        reject,
      );
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err: NodeJS.ErrnoException) => fail(describeTransportError(err), err.code, err));
        res.on('aborted', () => fail('connection closed in the middle of the reply', 'ECONNRESET'));
        res.on('end', () => {
          if (!res.complete) {
            fail('connection closed in the middle of the reply', 'ECONNRESET');
            return;
          }
          if (!settle()) return;
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: parseObject(text), text });
        });
      });
      req.end(payload);
    });
  }

  /** GET /v1/Pumping: the open event stream, or the envelope the bridge answered instead. */
  private rawStream(token: string): Promise<{ res: IncomingMessage } | RawReply> {
    return new Promise((resolve, reject) => {
      const { req, settle, fail } = this.exchange(
        PUMPING_PATH,
        { method: 'GET', headers: { accept: 'text/event-stream', [SESSION_HEADER]: token } },
        true,
        reject,
      );
      req.on('response', (res) => {
        const type = String(res.headers['content-type'] ?? '');
        if (res.statusCode === 200 && type.startsWith('text/event-stream')) {
          if (settle()) resolve({ res });
          else res.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err: NodeJS.ErrnoException) => fail(describeTransportError(err), err.code, err));
        res.on('end', () => {
          if (!settle()) return;
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: parseObject(text), text });
        });
      });
      req.end();
    });
  }

  /**
   * Starts a request with the connect and request timers and the bookkeeping of whether it left: `sent` needs both
   * the request flushed ('finish') and the connection established — bytes written to a socket still in its TLS
   * handshake never leave if the handshake fails.
   */
  private exchange(
    path: string,
    options: https.RequestOptions,
    fresh: boolean,
    reject: (err: TransportFailure) => void,
  ): {
    req: http.ClientRequest;
    settle: () => boolean;
    fail: (message: string, code?: string, cause?: unknown) => void;
  } {
    const url = new URL(path, this.config.address);
    let finished = false;
    let connected = false;
    let settled = false;
    const transport = this.tls ? https : http;
    const req = transport.request(url, {
      ...options,
      headers: { 'user-agent': USER_AGENT, ...options.headers },
      // A fresh connection: a one-off agent, so a repeated read never rides the connection that just failed.
      ...(fresh ? { agent: false, ...(this.tls ? { ca: this.config.ca } : {}) } : { agent: this.agent }),
    });
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      return true;
    };
    const fail = (message: string, code?: string, cause?: unknown) => {
      if (!settle()) return;
      reject(new TransportFailure(message, finished && connected, code, cause));
      req.destroy();
    };
    const timer = setTimeout(() => {
      fail(
        finished && connected
          ? `no reply within ${this.config.requestTimeoutMs} ms`
          : `timed out after ${this.config.requestTimeoutMs} ms before the request was sent`,
        'ETIMEDOUT',
      );
    }, this.config.requestTimeoutMs);
    req.on('socket', (s: Socket) => {
      if (!s.connecting) {
        connected = true;
        return;
      }
      const connectTimer = setTimeout(
        () => fail(`could not connect within ${this.config.connectTimeoutMs} ms`, 'ECONNTIMEOUT'),
        this.config.connectTimeoutMs,
      );
      s.once(this.tls ? 'secureConnect' : 'connect', () => {
        connected = true;
        clearTimeout(connectTimer);
      });
      s.once('close', () => clearTimeout(connectTimer));
    });
    req.on('finish', () => {
      finished = true;
    });
    req.on('error', (err: NodeJS.ErrnoException) => fail(describeTransportError(err), err.code, err));
    return { req, settle, fail };
  }
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const parsed: unknown = text === '' ? null : JSON.parse(text);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function retOf(raw: RawReply): number | null {
  const ret = raw.body?.ret;
  return typeof ret === 'number' && Number.isInteger(ret) ? ret : null;
}

function textOf(raw: RawReply): string {
  const body = raw.body;
  if (!body) return `HTTP ${raw.status} ${raw.text.slice(0, 200)}`.trim();
  const parts = [body.ret_text, body.message].filter((p): p is string => typeof p === 'string' && p !== '');
  return parts.join(': ');
}

export function describeTransportError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused (bridge down or restarting)';
    case 'ECONNRESET':
      return 'connection reset by the bridge';
    case 'EPIPE':
      return 'connection closed by the bridge';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the bridge address (${err.code})`;
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_UNTRUSTED':
    case 'CERT_SIGNATURE_FAILURE':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'CERT_HAS_EXPIRED':
      return `the bridge's TLS certificate is not trusted (${err.code}): configure its CA certificate`;
    default:
      return err.message || String(err.code);
  }
}
