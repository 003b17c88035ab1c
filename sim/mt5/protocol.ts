/**
 * One Web API request, end to end: read it, ask the fault injector, gate on the connection's session and the
 * manager's rights, run the endpoint, reply. Whatever a client sends, it gets a protocol reply (or, under an injected
 * fault, the deliberate silence of that fault); nothing it sends can crash the server.
 *
 * Status codes: 200 for every protocol answer (errors included, as MT5 does: the verdict is the retcode); 403 for a
 * request on a connection without an authenticated session (the signal to re-authenticate, distinct from a
 * manager's missing right, which is 200 with retcode 8); 404 for an unknown path and 405 for other methods, both
 * with retcode 3; 500 with retcode 2 if the simulator itself has a bug (logged, never sent to the client).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FaultDecision, FaultInjector } from '../common/faults.ts';
import type { ListenerControl } from '../common/listener.ts';
import { Params } from './params.ts';
import { Mt5Error, Retcode, retcodeString } from './retcodes.ts';
import type { Endpoint, Reply } from './routes.ts';
import type { Connection, SessionRegistry } from './sessions.ts';

/** Largest body accepted (a user record is a few hundred bytes). */
const MAX_BODY_BYTES = 1 << 20;

export interface ProtocolOptions {
  endpoints: Map<string, Endpoint>;
  sessions: SessionRegistry;
  faults: FaultInjector;
  listener: () => ListenerControl | undefined;
  log: (message: string) => void;
}

export class ProtocolHandler {
  constructor(private readonly options: ProtocolOptions) {}

  /** The http(s) 'request' listener. */
  readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    this.handle(req, res).catch((err: unknown) => {
      this.options.log(`mt5 simulator: unexpected failure on ${req.url}: ${(err as Error)?.stack ?? String(err)}`);
      if (!res.headersSent && !res.destroyed) send(res, 500, { retcode: retcodeString(Retcode.ERROR) });
    });
  };

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const socket = req.socket;
    const connection = this.options.sessions.touch(socket);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = normalisePath(q === -1 ? url : url.slice(0, q));
    const query = q === -1 ? '' : url.slice(q + 1);

    const body = await readBody(req);
    if (body === ABORTED) return; // the client went away mid-request: nothing was received, nothing to do
    if (body === TOO_LARGE) {
      res.setHeader('Connection', 'close');
      send(res, 413, { retcode: retcodeString(Retcode.ERR_PARAMS) });
      return;
    }

    const decisions = this.options.faults.decide(path);
    let dropReply = false;
    for (const decision of decisions) {
      if (decision.kind === 'latency') await delay(decision.rule.latencyMs ?? 0);
    }
    const terminal = decisions.find((d) => d.kind !== 'latency');
    if (terminal) {
      if (terminal.kind === 'drop_reply') dropReply = true;
      else if (this.injectFault(terminal, path, socket, res)) return;
    }

    // Applied even if the client hung up while we were slow (latency vs its timeout): a real server has the request
    // and carries it out; the client is left not knowing, which is exactly the case connectors must handle.
    const reply = this.dispatch(req, path, query, body, connection, socket);
    if (dropReply) {
      // The request was applied (and journaled); the client never learns the outcome.
      socket.destroy();
      return;
    }
    if (reply.close) res.setHeader('Connection', 'close');
    const payload: Record<string, unknown> = { retcode: retcodeString(reply.retcode), ...reply.fields };
    if (reply.answer !== undefined) payload.answer = reply.answer;
    send(res, reply.status ?? 200, payload);
  }

  private dispatch(
    req: IncomingMessage,
    path: string,
    query: string,
    body: string,
    connection: Connection,
    socket: Socket,
  ): Reply {
    const endpoint = this.options.endpoints.get(path);
    if (!endpoint) return { retcode: Retcode.ERR_PARAMS, status: 404 };
    if (req.method !== 'GET' && req.method !== 'POST') return { retcode: Retcode.ERR_PARAMS, status: 405 };
    const session = connection.session;
    if (endpoint.session && !session) return { retcode: Retcode.ERR_PERMISSIONS, status: 403 };
    try {
      let parsed: unknown;
      if (body.trim() !== '') {
        try {
          parsed = JSON.parse(body);
        } catch {
          return { retcode: Retcode.ERR_PARAMS };
        }
      }
      const base = { params: Params.from(query, parsed), connection, remoteAddress: socket.remoteAddress };
      if (!endpoint.session) return endpoint.handle(base);
      if (!session) return { retcode: Retcode.ERR_PERMISSIONS, status: 403 };
      if (endpoint.right && !session.manager.rights.has(endpoint.right)) return { retcode: Retcode.ERR_PERMISSIONS };
      return endpoint.handle({ ...base, manager: session.manager });
    } catch (err) {
      if (err instanceof Mt5Error) return { retcode: err.code };
      throw err;
    }
  }

  /** Acts on a fault that replaces normal handling; true when the request is finished (nothing more to do). */
  private injectFault(decision: FaultDecision, path: string, socket: Socket, res: ServerResponse): boolean {
    const { rule } = decision;
    switch (decision.kind) {
      case 'reset':
        socket.destroy();
        return true;
      case 'down': {
        const listener = this.options.listener();
        if (listener) void listener.goDown(rule.downSeconds ?? 0);
        socket.destroy();
        return true;
      }
      case 'rate_limit':
        send(res, 200, { retcode: retcodeString(Retcode.ERR_FREQUENT) });
        return true;
      case 'refuse': {
        // "Busy / no connection": clearly not applied. The handshake answers "server busy", commands "no connection".
        const code = rule.code ?? (path.startsWith('/api/auth/') ? Retcode.AUTH_SERVER_BUSY : Retcode.ERR_CONNECTION);
        send(res, 200, { retcode: retcodeString(code) });
        return true;
      }
      case 'error':
        send(res, 200, { retcode: retcodeString(rule.code ?? Retcode.ERROR) });
        return true;
      default:
        return false;
    }
  }
}

function normalisePath(raw: string): string {
  let path = raw.toLowerCase();
  while (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path;
}

const TOO_LARGE = Symbol('too large');
const ABORTED = Symbol('aborted');

function readBody(req: IncomingMessage): Promise<string | typeof TOO_LARGE | typeof ABORTED> {
  // GETs without a body are the hot path: skip the stream machinery entirely.
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) {
    return Promise.resolve('');
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? TOO_LARGE : Buffer.concat(chunks).toString('utf8')));
    // A connection reset mid-body: settle (never leave the request hanging) without calling it a server failure.
    req.on('error', () => resolve(ABORTED));
    req.on('close', () => {
      if (!req.complete) resolve(ABORTED);
    });
  });
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  if (res.destroyed) return;
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
