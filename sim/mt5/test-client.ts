/**
 * Test support, not product code: a minimal MT5 Web API client for the simulator's tests and benchmark. One client =
 * one keep-alive connection (an Agent with a single socket), so it can show that sessions live on connections. It
 * pins the simulator's certificate as its only CA, runs the handshake (and checks the server's proof), and reads
 * replies case-insensitively.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { challengeAnswer, webApiPasswordHash } from './auth.ts';

export interface Mt5ClientOptions {
  url: string;
  /** PEM of the simulator's certificate, pinned as the only CA (omit for plain HTTP). */
  ca?: string | Buffer;
  login: number;
  password: string;
  agentName?: string;
  version?: number;
  timeoutMs?: number;
}

export interface Mt5Reply {
  status: number;
  body: Record<string, unknown>;
  retcode: number;
  retcodeText: string;
  answer: unknown;
}

export type ParamValue = string | number | boolean;

/** Looks a key up ignoring case (`Total` vs `total` both occur in the wild). */
export function field(object: unknown, name: string): unknown {
  if (typeof object !== 'object' || object === null) return undefined;
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(object)) if (k.toLowerCase() === wanted) return v;
  return undefined;
}

/** `"3006 Invalid account password"` → { code: 3006, text: "Invalid account password" }. */
export function parseRetcode(value: unknown): { code: number; text: string } {
  const match = /^(\d+)\s*(.*)$/.exec(String(value ?? ''));
  if (!match) return { code: -1, text: String(value) };
  return { code: Number(match[1]), text: match[2] ?? '' };
}

export class Mt5ProtocolError extends Error {
  constructor(
    readonly retcode: number,
    message: string,
  ) {
    super(message);
  }
}

export class Mt5TestClient {
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private readonly base: URL;
  private current: Socket | undefined;
  private readonly closeWaiters: (() => void)[] = [];
  /** How many TCP connections this client has opened so far. */
  connections = 0;

  constructor(readonly options: Mt5ClientOptions) {
    this.base = new URL(options.url);
    const secure = this.base.protocol === 'https:';
    this.transport = secure ? https : http;
    this.agent = secure
      ? new https.Agent({ keepAlive: true, maxSockets: 1, ...(options.ca ? { ca: options.ca } : {}) })
      : new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  get socket(): Socket | undefined {
    return this.current;
  }

  /** Resolves when the current connection closes (e.g. the server dropped an idle session). */
  whenDisconnected(): Promise<void> {
    const socket = this.current;
    if (!socket || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  get(path: string, params: Record<string, ParamValue> = {}): Promise<Mt5Reply> {
    return this.request('GET', path, params);
  }

  post(path: string, params: Record<string, ParamValue>, body: unknown): Promise<Mt5Reply> {
    return this.request('POST', path, params, body);
  }

  /** Sends one request on this client's connection; rejects on transport errors (reset, hang-up, timeout). */
  request(method: string, path: string, params: Record<string, ParamValue> = {}, body?: unknown): Promise<Mt5Reply> {
    const query = Object.entries(params)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join('&');
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = this.transport.request(
        {
          agent: this.agent,
          host: this.base.hostname,
          port: this.base.port,
          method,
          path: query ? `${path}?${query}` : path,
          headers:
            payload === undefined
              ? {}
              : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: Record<string, unknown>;
            try {
              parsed = JSON.parse(text) as Record<string, unknown>;
            } catch {
              parsed = { raw: text };
            }
            const rc = parseRetcode(field(parsed, 'retcode'));
            resolve({
              status: res.statusCode ?? 0,
              body: parsed,
              retcode: rc.code,
              retcodeText: rc.text,
              answer: field(parsed, 'answer'),
            });
          });
        },
      );
      req.on('socket', (socket: Socket) => this.adopt(socket));
      req.setTimeout(this.options.timeoutMs ?? 10_000, () => req.destroy(new Error(`timeout on ${path}`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Step 1 of the handshake. */
  start(overrides: Partial<Record<'version' | 'agent' | 'login' | 'type', ParamValue>> = {}): Promise<Mt5Reply> {
    return this.get('/api/auth/start', {
      version: this.options.version ?? 4755,
      agent: this.options.agentName ?? 'brokerdesk-test',
      login: this.options.login,
      type: 'manager',
      ...overrides,
    });
  }

  /** Step 2, computed from the start reply and this client's password; returns the reply and the cli_rand used. */
  async answer(start: Mt5Reply, password = this.options.password): Promise<{ reply: Mt5Reply; cliRand: string }> {
    const srvRand = String(field(start.body, 'srv_rand'));
    const hash = webApiPasswordHash(password);
    const cliRand = randomBytes(16).toString('hex');
    const reply = await this.get('/api/auth/answer', {
      srv_rand_answer: challengeAnswer(hash, srvRand),
      cli_rand: cliRand,
    });
    return { reply, cliRand };
  }

  /** The full handshake; throws Mt5ProtocolError with the server's retcode, or 1008 if the server's proof is wrong. */
  async authenticate(): Promise<void> {
    const start = await this.start();
    if (start.retcode !== 0)
      throw new Mt5ProtocolError(start.retcode, `auth/start: ${start.retcode} ${start.retcodeText}`);
    const { reply, cliRand } = await this.answer(start);
    if (reply.retcode !== 0)
      throw new Mt5ProtocolError(reply.retcode, `auth/answer: ${reply.retcode} ${reply.retcodeText}`);
    const expected = challengeAnswer(webApiPasswordHash(this.options.password), cliRand);
    if (field(reply.body, 'cli_rand_answer') !== expected) {
      throw new Mt5ProtocolError(1008, 'auth/answer: the server did not prove it knows the password');
    }
  }

  close(): void {
    this.agent.destroy();
  }

  private adopt(socket: Socket): void {
    if (socket === this.current) return;
    this.current = socket;
    this.connections += 1;
    socket.once('close', () => {
      if (this.current !== socket) return;
      for (const resolve of this.closeWaiters.splice(0)) resolve();
    });
  }
}
