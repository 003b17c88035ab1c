/**
 * A small client of the MT4 bridge contract for tests and the benchmark (test support, not product code): HTTPS with
 * keep-alive and the simulator's certificate pinned as the only CA, the session header, a control-API helper, and an
 * SSE reader for pumping. It never retries: tests must see exactly what the server did.
 */
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { z } from 'zod';
import type { SimulatorHandle } from '../common/types.ts';
import { type CallName, calls, PUMPING_PATH, type PumpingEvent, SESSION_HEADER } from './contract.ts';

export interface Envelope {
  ret: number;
  ret_text: string;
  message?: string;
  [field: string]: unknown;
}

export type Reply<N extends CallName> = Envelope & Partial<z.output<(typeof calls)[N]['reply']>>;

/** The connection failed or ended without a reply (reset, refused, timeout): the outcome is unknown. */
export class TransportError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/** A call answered with a ret other than expected. */
export class RetError extends Error {
  constructor(
    readonly call: string,
    readonly envelope: Envelope,
  ) {
    super(`${call}: ret ${envelope.ret} ${envelope.ret_text}${envelope.message ? ` (${envelope.message})` : ''}`);
    this.name = 'RetError';
  }
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** Parsed JSON, or undefined when the body is not JSON. */
  body: unknown;
}

export interface Mt4ClientOptions {
  url: string;
  /** PEM of the CA to trust (the simulator's certificate). */
  ca?: string;
  /** Concurrent keep-alive connections. Default 4. */
  maxSockets?: number;
  /** Per-request timeout. Default 20 s (a loaded CI machine is slow, never a reason to fail). */
  timeoutMs?: number;
}

export class Mt4TestClient {
  session: string | undefined;
  private readonly agent: http.Agent;
  private readonly base: URL;
  private readonly timeoutMs: number;

  constructor(options: Mt4ClientOptions) {
    this.base = new URL(options.url);
    this.timeoutMs = options.timeoutMs ?? 20_000;
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 4 };
    this.agent =
      this.base.protocol === 'https:'
        ? new https.Agent({ ...agentOptions, ...(options.ca ? { ca: options.ca } : {}) })
        : new http.Agent(agentOptions);
  }

  /** A client for a running simulator, trusting only its certificate. */
  static for(sim: Pick<SimulatorHandle, 'url' | 'certPath'>, options: Partial<Mt4ClientOptions> = {}): Mt4TestClient {
    return new Mt4TestClient({
      url: sim.url,
      ...(sim.certPath ? { ca: readFileSync(sim.certPath, 'utf8') } : {}),
      ...options,
    });
  }

  /** One HTTP exchange, exactly as given (for bad-request tests). */
  raw(
    method: string,
    path: string,
    body?: string | Buffer,
    headers: Record<string, string> = {},
    timeoutMs = this.timeoutMs,
  ): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const url = new URL(path, this.base);
      const transport = url.protocol === 'https:' ? https : http;
      const req = transport.request(
        url,
        {
          method,
          agent: this.agent,
          headers: {
            ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => reject(new TransportError('ECONNRESET', `reply cut: ${e.message}`)));
          res.on('end', () => {
            if (!res.complete) {
              reject(new TransportError('ECONNRESET', 'reply cut before its end'));
              return;
            }
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
          });
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new TransportError('ETIMEDOUT', `no reply within ${timeoutMs} ms`)));
      req.on('error', (e: Error & { code?: string }) => {
        reject(e instanceof TransportError ? e : new TransportError(e.code ?? 'ERROR', e.message));
      });
      req.end(body);
    });
  }

  /** Calls a bridge endpoint with the session header; resolves with the envelope whatever its ret. */
  async call<N extends CallName>(name: N, args: object = {}, timeoutMs?: number): Promise<Reply<N>> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.session) headers[SESSION_HEADER] = this.session;
    const res = await this.raw('POST', `/v1/${name}`, JSON.stringify(args), headers, timeoutMs);
    if (typeof res.body !== 'object' || res.body === null || typeof (res.body as Envelope).ret !== 'number') {
      throw new Error(`${name}: not an envelope (HTTP ${res.status}): ${res.text.slice(0, 200)}`);
    }
    return res.body as Reply<N>;
  }

  /**
   * Calls and requires ret 0 (or `expectRet`); the reply is checked against the contract's documented reply schema,
   * so a drift between the simulator and docs/mt4-bridge.openapi.yaml fails the test that sees it.
   */
  async ok<N extends CallName>(
    name: N,
    args: object = {},
    expectRet = 0,
  ): Promise<z.output<(typeof calls)[N]['reply']> & Envelope> {
    const reply = await this.call(name, args);
    if (reply.ret !== expectRet) throw new RetError(name, reply);
    const parsed = calls[name].reply.safeParse(reply);
    if (!parsed.success) throw new Error(`${name}: reply does not match the contract: ${parsed.error.message}`);
    return reply as z.output<(typeof calls)[N]['reply']> & Envelope;
  }

  async login(login: number, password: string): Promise<string> {
    const reply = await this.ok('Login', { login, password });
    this.session = reply.session;
    return reply.session;
  }

  /** Opens the pumping stream; resolves once the server has started it (the `pumping_start` event). */
  async pumping(timeoutMs = this.timeoutMs): Promise<PumpingStream> {
    const stream = await PumpingStream.open(this.agent, new URL(PUMPING_PATH, this.base), this.session, timeoutMs);
    await stream.next((e) => e.event === 'pumping_start', timeoutMs);
    return stream;
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface SseEvent {
  event: string;
  data: unknown;
}

/** Reads an SSE response into events; `next` waits for the first unread event matching a predicate. */
export class PumpingStream {
  private readonly queue: SseEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private buffer = '';
  private ended = false;
  readonly closed: Promise<void>;
  private markClosed!: () => void;

  private constructor(private readonly res: IncomingMessage) {
    this.closed = new Promise((resolve) => {
      this.markClosed = resolve;
    });
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => this.feed(chunk));
    const end = () => {
      if (this.ended) return;
      this.ended = true;
      this.markClosed();
      this.wake();
    };
    res.on('end', end);
    res.on('close', end);
    res.on('error', end);
    res.socket?.on('close', end);
  }

  static open(agent: http.Agent, url: URL, session: string | undefined, timeoutMs: number): Promise<PumpingStream> {
    return new Promise((resolve, reject) => {
      const transport = url.protocol === 'https:' ? https : http;
      const req = transport.request(url, {
        method: 'GET',
        agent,
        headers: { accept: 'text/event-stream', ...(session ? { [SESSION_HEADER]: session } : {}) },
      });
      const timer = setTimeout(() => req.destroy(new TransportError('ETIMEDOUT', 'pumping did not answer')), timeoutMs);
      req.on('response', (res) => {
        clearTimeout(timer);
        const type = String(res.headers['content-type'] ?? '');
        if (!type.startsWith('text/event-stream')) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            reject(new RetError('Pumping', JSON.parse(text) as Envelope));
          });
          return;
        }
        resolve(new PumpingStream(res));
      });
      req.on('error', (e: Error & { code?: string }) => {
        clearTimeout(timer);
        reject(e instanceof TransportError ? e : new TransportError(e.code ?? 'ERROR', e.message));
      });
      req.end();
    });
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /** Events received and not yet taken by `next`. */
  pending(): SseEvent[] {
    return [...this.queue];
  }

  /** The next unread event matching `predicate` (earlier non-matching ones stay queued). */
  async next(predicate: (e: SseEvent) => boolean = () => true, timeoutMs = 20_000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.queue.findIndex(predicate);
      if (index >= 0) return this.queue.splice(index, 1)[0]!;
      if (this.ended) throw new Error('pumping stream closed before the expected event');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching pumping event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  /** The next pumping event of a type whose record matches. */
  async nextChange(
    type: PumpingEvent['type'],
    match: (e: PumpingEvent) => boolean = () => true,
    timeoutMs?: number,
  ): Promise<PumpingEvent> {
    const e = await this.next((x) => x.event === type && match(x.data as PumpingEvent), timeoutMs);
    return e.data as PumpingEvent;
  }

  close(): void {
    this.res.destroy();
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end < 0) break;
      const frame = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of frame.split('\n')) {
        if (line.startsWith(':')) continue;
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length === 0) continue;
      this.queue.push({ event, data: JSON.parse(data.join('\n')) });
    }
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** The control API of a simulator (plain HTTP on loopback, bearer token). */
export class ControlClient {
  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {}

  static for(sim: Pick<SimulatorHandle, 'controlUrl' | 'controlToken'>): ControlClient {
    return new ControlClient(sim.controlUrl, sim.controlToken);
  }

  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** A request that must succeed (2xx); otherwise throws with the server's message. */
  async must<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request<T>(method, path, body);
    if (res.status < 200 || res.status >= 300) {
      throw new Error(`control ${method} ${path}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    }
    return res.body;
  }

  post<T = unknown>(path: string, body: unknown = {}): Promise<T> {
    return this.must<T>('POST', path, body);
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.must<T>('GET', path);
  }
}
