/**
 * The bridge's HTTP surface: one POST route per Manager API call, the pumping stream, the reply envelope, the
 * contract's answers to bad requests, and fault injection applied to every call exactly as sim/common/faults.ts
 * documents it.
 *
 * Envelope: every answer is a JSON object `{ "ret": <code>, "ret_text": "<fixed text>", "message"?: "<detail>",
 * ...data }`. HTTP 200 carries every answer of a known call, whatever its `ret`; other statuses only mark requests the
 * bridge could not interpret (400 body not a JSON object, 404 unknown call, 405 wrong method, 413 too large, 415 not
 * JSON) and internal faults (500, ret 9). Clients decide on `ret`; no answer ever contains a stack trace.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FaultInjector } from '../common/faults.ts';
import { Mt4Error, RET, retText } from './codes.ts';
import { type CallName, callNames, callPath, calls, PUMPING_PATH, SESSION_HEADER } from './contract.ts';
import { Answer, type CallContext, type ManagerApi } from './manager-api.ts';
import type { PumpingHub } from './pumping.ts';
import type { Session, SessionRegistry } from './session.ts';

export const BODY_LIMIT_BYTES = 1024 * 1024;

export interface Envelope {
  ret: number;
  ret_text: string;
  message?: string;
  [field: string]: unknown;
}

export interface BridgeRoutesDeps {
  api: ManagerApi;
  sessions: SessionRegistry;
  faults: FaultInjector;
  pumping: PumpingHub;
  /** A `down` fault: the server restarts, unreachable for `seconds`. */
  goDown(seconds: number): Promise<void>;
  /** Where unexpected errors are reported (never to the client). */
  logError(message: string, error: unknown): void;
}

export function failure(ret: number, message: string): Envelope {
  return { ret, ret_text: retText(ret), message };
}

class RequestError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

function sessionToken(request: FastifyRequest): string | undefined {
  const value = request.headers[SESSION_HEADER];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function send(reply: FastifyReply, status: number, body: Envelope): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(body);
}

/** Destroys the connection without an answer; hijacking first stops Fastify from trying to write one. */
function cutConnection(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  reply.hijack();
  request.raw.socket.destroy();
  return reply;
}

function zodMessage(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `${i.path.map(String).join('.') || 'body'}: ${i.message}`).join('; ');
}

export function registerBridgeRoutes(app: FastifyInstance, deps: BridgeRoutesDeps): void {
  // Only JSON is accepted. An empty body is the same as {} (calls without arguments); anything unparsable is the
  // contract's 400 / ret 3, never Fastify's default error shape.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (error) {
      done(new RequestError(400, `the body is not valid JSON (${(error as Error).message})`), undefined);
    }
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error instanceof RequestError) return send(reply, error.statusCode, failure(RET.INVALID_DATA, error.message));
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return send(reply, 413, failure(RET.INVALID_DATA, `the body exceeds ${BODY_LIMIT_BYTES} bytes`));
    }
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return send(reply, 415, failure(RET.INVALID_DATA, 'send the body as Content-Type: application/json'));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500)
      return send(reply, status, failure(RET.INVALID_DATA, 'the request is malformed'));
    deps.logError(`${request.method} ${request.url}`, error);
    return send(reply, 500, failure(RET.MALFUNCTION, 'internal error in the bridge'));
  });

  const known = new Set<string>([...callNames.map(callPath), PUMPING_PATH]);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    if (known.has(path)) {
      const allowed = path === PUMPING_PATH ? 'GET' : 'POST';
      reply.header('allow', allowed);
      return send(reply, 405, failure(RET.ERROR, `${path} takes ${allowed}, not ${request.method}`));
    }
    return send(reply, 404, failure(RET.ERROR, `unknown call ${path}: see docs/mt4-bridge.openapi.yaml`));
  });

  /**
   * Decides and acts on the faults for one request. Returns null when a fault has already answered (or cut) the
   * request; otherwise whether the reply must be dropped after the call is applied.
   */
  async function injectFaults(
    endpoint: string,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ dropReply: boolean } | null> {
    const decisions = deps.faults.decide(endpoint);
    if (decisions.length === 0) return { dropReply: false };
    for (const d of decisions) {
      if (d.kind === 'latency') await delay(d.rule.latencyMs ?? 0);
    }
    for (const d of decisions) {
      switch (d.kind) {
        case 'down':
          // A server restart: every connection (this one included) is cut and nothing is applied.
          reply.hijack();
          await deps.goDown(d.rule.downSeconds ?? 0);
          request.raw.socket.destroy();
          return null;
        case 'reset':
          cutConnection(request, reply);
          return null;
        case 'refuse':
          send(
            reply,
            200,
            failure(d.rule.code ?? RET.NO_CONNECT, 'no connection to the trade server; the request was not sent'),
          );
          return null;
        case 'error':
          send(reply, 200, failure(d.rule.code ?? RET.ERROR, 'the trade server refused the request; nothing applied'));
          return null;
        case 'rate_limit':
          send(reply, 200, failure(RET.TOO_FREQUENT, 'too frequent requests; slow down and retry'));
          return null;
        default:
          break;
      }
    }
    return { dropReply: decisions.some((d) => d.kind === 'drop_reply') };
  }

  function execute(name: CallName, request: FastifyRequest): Envelope {
    const spec = calls[name];
    try {
      let session: Session | undefined;
      if (spec.access !== 'public') {
        session = deps.sessions.resolve(sessionToken(request));
        if (spec.access !== 'session') deps.sessions.requireRight(session, spec.access);
      }
      const parsed = spec.request.safeParse(request.body ?? {});
      if (!parsed.success) throw new Mt4Error(RET.INVALID_DATA, zodMessage(parsed.error.issues));
      const ctx: CallContext = { session, remoteAddress: request.socket.remoteAddress ?? '' };
      const handler = deps.api[name] as (args: unknown, ctx: CallContext) => unknown;
      const result = handler(parsed.data, ctx);
      const answer = result instanceof Answer ? result : new Answer(RET.OK, result);
      return { ret: answer.ret, ret_text: retText(answer.ret), ...(answer.data as object) };
    } catch (error) {
      if (error instanceof Mt4Error) return failure(error.ret, error.message);
      deps.logError(`${name} failed`, error);
      return failure(RET.MALFUNCTION, 'internal error in the bridge; the call may or may not have been applied');
    }
  }

  for (const name of callNames) {
    const endpoint = callPath(name);
    app.post(endpoint, async (request, reply) => {
      const body = request.body;
      if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) {
        return send(reply, 400, failure(RET.INVALID_DATA, 'the body must be a JSON object'));
      }
      const faults = await injectFaults(endpoint, request, reply);
      if (!faults) return reply;
      const envelope = execute(name, request);
      // drop_reply: the call above was applied (and journaled); the client just never hears about it.
      if (faults.dropReply) return cutConnection(request, reply);
      return send(reply, envelope.ret === RET.MALFUNCTION ? 500 : 200, envelope);
    });
  }

  app.get(PUMPING_PATH, async (request, reply) => {
    const faults = await injectFaults(PUMPING_PATH, request, reply);
    if (!faults) return reply;
    let session: Session;
    try {
      session = deps.sessions.resolve(sessionToken(request));
      deps.sessions.requireRight(session, 'see_trades');
    } catch (error) {
      if (error instanceof Mt4Error) return send(reply, 200, failure(error.ret, error.message));
      throw error;
    }
    reply.hijack();
    deps.pumping.subscribe(session, request.raw, reply.raw);
    if (faults.dropReply) request.raw.socket.destroy();
    return reply;
  });
}
