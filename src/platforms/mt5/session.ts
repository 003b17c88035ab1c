/**
 * One authenticated MT5 Web API session: a single keep-alive TLS connection (the server binds the session to it),
 * the challenge-response handshake that also authenticates the server, a ping every 20 s of silence, and transparent
 * re-authentication when the connection is dropped (idle timeout, server restart).
 *
 * Failures are classified here, where it is known whether the request left: a failure before the request was
 * written is `NotSentError`; after, `AmbiguousError` (the server may have acted).
 */
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Logger } from '../../log.ts';
import type { ConnectorConfig } from '../connector.ts';
import { AmbiguousError, DefinitiveError, NotSentError, type RequestSummary, redactParams } from '../errors.ts';
import { answersMatch, challengeAnswer, newClientChallenge, passwordHash } from './auth.ts';
import { parseRetcode, retcodeMeaning } from './retcodes.ts';

export const WEBAPI_VERSION = 3470;
const AGENT_NAME = 'Brokerdesk';
const PING_AFTER_MS = 20_000;

export type Params = Record<string, string | number | undefined>;

export interface Mt5Request {
  path: string;
  params?: Params;
  body?: unknown;
  /** Changes server state: a failure after sending is ambiguous, and it is never repeated here. */
  write: boolean;
}

export interface Mt5Reply {
  code: number;
  text: string;
  /** The `answer`, with every object key lowercased (servers differ in case). */
  answer: unknown;
}

/** Lowercased key names already seen (a server uses a few hundred at most; bounded all the same). */
const loweredKeys = new Map<string, string>();

function lowerKey(key: string): string {
  let lowered = loweredKeys.get(key);
  if (lowered === undefined) {
    lowered = key.toLowerCase();
    if (loweredKeys.size < 4096) loweredKeys.set(key, lowered);
  }
  return lowered;
}

/**
 * Lowercases object keys recursively so `Total` and `total` read the same. Every record of every history page goes
 * through here, so it avoids per-key allocations (key names are lowercased once, objects walked without entries).
 */
export function lowerKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = lowerKeys(value[i]);
    return out;
  }
  if (value !== null && typeof value === 'object') {
    const source = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key in source) {
      if (Object.hasOwn(source, key)) out[lowerKey(key)] = lowerKeys(source[key]);
    }
    return out;
  }
  return value;
}

interface RawReply {
  status: number;
  body: Record<string, unknown>;
  socket: Socket | null;
}

class TransportFailure extends Error {
  constructor(
    message: string,
    readonly sent: boolean,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

export class Mt5Session {
  private readonly agent: https.Agent;
  private readonly hash: Buffer;
  private socket: Socket | null = null;
  private authenticating: Promise<void> | null = null;
  private lastActivity = Date.now();
  private readonly pingTimer: NodeJS.Timeout;
  private closed = false;
  inFlight = 0;

  constructor(
    private readonly config: ConnectorConfig,
    private readonly logger?: Logger,
  ) {
    this.hash = passwordHash(config.password);
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1, ca: config.ca });
    this.pingTimer = setInterval(() => void this.pingIfIdle(), 5_000);
    this.pingTimer.unref();
  }

  get authenticated(): boolean {
    return this.socket !== null && !this.socket.destroyed;
  }

  async call(request: Mt5Request): Promise<Mt5Reply> {
    if (this.closed) throw this.notSent(request, 'session closed');
    this.inFlight += 1;
    try {
      for (let attempt = 0; ; attempt++) {
        if (!this.authenticated) await this.authenticate();
        let reply: RawReply;
        try {
          reply = await this.send(request);
        } catch (err) {
          // A read that died in transport (typically on a connection the server had just closed for idleness) is
          // safe to repeat once on a fresh session. Writes are never repeated here: the caller verifies first.
          if (attempt === 0 && !request.write && err instanceof NotSentError && err.code === null) {
            this.socket = null;
            continue;
          }
          throw err;
        }
        if (this.isUnauthenticated(reply) && attempt === 0) {
          // The server no longer knows this connection (dropped and silently replaced): nothing was done.
          this.socket = null;
          continue;
        }
        return this.interpret(request, reply);
      }
    } finally {
      this.inFlight -= 1;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    if (this.authenticated) {
      await this.send({ path: '/api/quit', write: false }).catch(() => {});
    }
    this.socket = null;
    this.agent.destroy();
  }

  private authenticate(): Promise<void> {
    if (!this.authenticating) {
      this.authenticating = this.handshake().finally(() => {
        this.authenticating = null;
      });
    }
    return this.authenticating;
  }

  private async handshake(): Promise<void> {
    const start = await this.send({
      path: '/api/auth/start',
      params: { version: WEBAPI_VERSION, agent: AGENT_NAME, login: this.config.managerLogin, type: 'manager' },
      write: false,
    });
    const started = this.interpretAuth(start, '/api/auth/start');
    const srvRand = String(started.srv_rand ?? '');
    const cliRand = newClientChallenge();
    let srvRandAnswer: string;
    try {
      srvRandAnswer = challengeAnswer(this.hash, srvRand);
    } catch {
      throw this.notSent(
        { path: '/api/auth/start', write: false },
        `server sent a malformed challenge "${srvRand}"`,
        'server_identity',
      );
    }
    const answer = await this.send({
      path: '/api/auth/answer',
      params: { srv_rand_answer: srvRandAnswer, cli_rand: cliRand },
      write: false,
    });
    if (answer.socket !== start.socket) {
      throw this.notSent({ path: '/api/auth/answer', write: false }, 'connection changed during the handshake');
    }
    const answered = this.interpretAuth(answer, '/api/auth/answer');
    if (!answersMatch(challengeAnswer(this.hash, cliRand), String(answered.cli_rand_answer ?? ''))) {
      // Whoever answered does not know our password: not our server. Never talk to it.
      answer.socket?.destroy();
      throw new DefinitiveError(
        `server ${this.config.code} failed to prove its identity (wrong cli_rand_answer): refusing to use it`,
        {
          server: this.config.code,
          platform: 'mt5',
          code: null,
          serverText: 'cli_rand_answer mismatch',
          request: { method: 'GET', path: '/api/auth/answer' },
        },
        'server_identity',
      );
    }
    const socket = answer.socket;
    this.socket = socket;
    socket?.once('close', () => {
      if (this.socket === socket) this.socket = null;
    });
    this.logger?.debug({ server: this.config.code }, 'mt5 session authenticated');
  }

  private interpretAuth(reply: RawReply, path: string): Record<string, unknown> {
    const request = { path, write: false };
    const parsed = parseRetcode(reply.body.retcode);
    if (reply.status !== 200 || !parsed) {
      throw this.notSent(
        request,
        `authentication failed: HTTP ${reply.status} ${JSON.stringify(reply.body).slice(0, 200)}`,
      );
    }
    if (parsed.code !== 0) {
      const meaning = retcodeMeaning(parsed.code);
      const details = {
        server: this.config.code,
        platform: 'mt5' as const,
        code: parsed.code,
        serverText: parsed.text,
        request: { method: 'GET', path },
      };
      const message = `authentication with manager ${this.config.managerLogin} on ${this.config.code} failed: ${parsed.code} ${parsed.text}`;
      if (meaning.class === 'definitive') throw new DefinitiveError(message, details, meaning.reason ?? 'other');
      throw new NotSentError(message, details);
    }
    return lowerKeys(reply.body) as Record<string, unknown>;
  }

  private isUnauthenticated(reply: RawReply): boolean {
    return reply.status === 401 || reply.status === 403;
  }

  private interpret(request: Mt5Request, reply: RawReply): Mt5Reply {
    const parsed = parseRetcode(reply.body.retcode);
    const summary = this.summary(request);
    if (!parsed) {
      const message = `${this.config.code} answered ${request.path} with HTTP ${reply.status} and no retcode`;
      const details = {
        server: this.config.code,
        platform: 'mt5' as const,
        code: null,
        serverText: `HTTP ${reply.status}`,
        request: summary,
      };
      // A 5xx after a write was sent may hide an applied change.
      if (request.write && reply.status >= 500) throw new AmbiguousError(message, details);
      if (reply.status >= 500) throw new NotSentError(message, details);
      throw new DefinitiveError(message, details, 'bad_data');
    }
    const meaning = retcodeMeaning(parsed.code);
    if (meaning.class === 'ok') {
      return { code: parsed.code, text: parsed.text, answer: lowerKeys(reply.body.answer) };
    }
    const details = {
      server: this.config.code,
      platform: 'mt5' as const,
      code: parsed.code,
      serverText: parsed.text,
      request: summary,
    };
    const message = `${this.config.code} ${request.path}: ${parsed.code} ${parsed.text}`;
    if (meaning.class === 'definitive') throw new DefinitiveError(message, details, meaning.reason ?? 'other');
    if (meaning.class === 'ambiguous' && request.write) throw new AmbiguousError(message, details);
    throw new NotSentError(message, details);
  }

  private summary(request: Mt5Request): RequestSummary {
    return {
      method: request.body === undefined ? 'GET' : 'POST',
      path: request.path,
      params: redactParams({ ...request.params, ...(request.body as Record<string, unknown> | undefined) }),
    };
  }

  private notSent(request: Mt5Request, text: string, _reason?: string): NotSentError {
    return new NotSentError(`${this.config.code} ${request.path}: ${text}`, {
      server: this.config.code,
      platform: 'mt5',
      code: null,
      serverText: text,
      request: this.summary(request),
    });
  }

  private async send(request: Mt5Request): Promise<RawReply> {
    try {
      return await this.rawSend(request);
    } catch (err) {
      if (!(err instanceof TransportFailure)) throw err;
      const details = {
        server: this.config.code,
        platform: 'mt5' as const,
        code: null,
        serverText: err.message,
        request: this.summary(request),
        cause: err.cause,
      };
      const message = `${this.config.code} ${request.path}: ${err.message}`;
      if (err.sent && request.write) throw new AmbiguousError(message, details);
      throw new NotSentError(message, details);
    }
  }

  private rawSend(request: Mt5Request): Promise<RawReply> {
    const url = new URL(request.path, this.config.address);
    for (const [k, v] of Object.entries(request.params ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const payload = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
    this.lastActivity = Date.now();
    return new Promise<RawReply>((resolve, reject) => {
      let sent = false;
      let socket: Socket | null = null;
      let settled = false;
      const fail = (message: string, cause?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new TransportFailure(message, sent, cause));
      };
      const req = https.request(url, {
        method: payload ? 'POST' : 'GET',
        agent: this.agent,
        headers: {
          'user-agent': AGENT_NAME,
          connection: 'keep-alive',
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        },
      });
      const timer = setTimeout(() => {
        fail(sent ? `no reply within ${this.config.requestTimeoutMs} ms` : 'timed out before the request was sent');
        req.destroy();
      }, this.config.requestTimeoutMs);
      req.on('socket', (s: Socket) => {
        socket = s;
        if (s.connecting) {
          const connectTimer = setTimeout(() => {
            fail(`could not connect within ${this.config.connectTimeoutMs} ms`);
            req.destroy();
          }, this.config.connectTimeoutMs);
          s.once('secureConnect', () => clearTimeout(connectTimer));
          s.once('close', () => clearTimeout(connectTimer));
        }
      });
      req.on('finish', () => {
        sent = true;
      });
      req.on('error', (err: NodeJS.ErrnoException) => fail(describeTransportError(err), err));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => fail(describeTransportError(err), err));
        res.on('aborted', () => fail('connection closed in the middle of the reply'));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.lastActivity = Date.now();
          const text = Buffer.concat(chunks).toString('utf8');
          let body: Record<string, unknown>;
          try {
            const parsed = text === '' ? {} : JSON.parse(text);
            body = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : { value: parsed };
          } catch {
            body = { unparsable: text.slice(0, 200) };
          }
          resolve({ status: res.statusCode ?? 0, body, socket });
        });
      });
      req.end(payload);
    });
  }

  private async pingIfIdle(): Promise<void> {
    if (this.closed || !this.authenticated || this.inFlight > 0) return;
    if (Date.now() - this.lastActivity < PING_AFTER_MS) return;
    try {
      await this.call({ path: '/api/test/access', write: false });
    } catch (err) {
      this.logger?.warn({ server: this.config.code, err: (err as Error).message }, 'mt5 keep-alive ping failed');
      this.socket = null;
    }
  }
}

function describeTransportError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused (server down or restarting)';
    case 'ECONNRESET':
      return 'connection reset by the server';
    case 'EPIPE':
      return 'connection closed by the server';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the server address (${err.code})`;
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'CERT_HAS_EXPIRED':
      return `the server's TLS certificate is not trusted (${err.code}): configure its CA certificate`;
    default:
      return err.message || String(err.code);
  }
}
