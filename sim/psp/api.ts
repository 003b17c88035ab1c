/**
 * The merchant API (`/v1/*`, `Authorization: Bearer <apiKey>`): JSON in, JSON out, errors as `{code, message,
 * details?}` with a 4xx the caller can act on. Bodies are validated strictly (unknown fields refused; amounts are
 * positive safe integers in minor units). Creating a payment session or a payout is idempotent by merchantReference:
 * the same reference with the same body answers the existing object (200, `Idempotent-Replayed: true`), with another
 * body 409 `idempotency_conflict`. Fault rules (sim/common/faults.ts) apply to these routes by path.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { FaultInjector } from '../common/faults.ts';
import { type PspEngine, PspError } from './engine.ts';
import { paymentView, payoutView, type SettlementRecord, sessionView, settlementView } from './model.ts';
import { bodyHash } from './state.ts';

export const BODY_LIMIT_BYTES = 64 * 1024;

const amount = z
  .number()
  .int('must be a whole number of minor units')
  .positive('must be positive')
  .refine(Number.isSafeInteger, 'must be a safe integer');
const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code: three capital letters');
export const merchantReferencePattern = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;
const merchantReference = z
  .string()
  .min(1)
  .max(64, 'must be at most 64 characters')
  .regex(merchantReferencePattern, 'letters, digits and . _ : / - only, starting with a letter or digit');
const description = z.string().max(255, 'must be at most 255 characters').optional();
const httpUrl = z
  .string()
  .max(2048)
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL');

export const paymentSessionBody = z
  .object({ amount, currency, merchantReference, returnUrl: httpUrl, description })
  .strict();

export const payoutBody = z
  .object({
    amount,
    currency,
    merchantReference,
    destination: z.discriminatedUnion('type', [
      z.object({ type: z.literal('card'), last4: z.string().regex(/^\d{4}$/, 'must be four digits') }).strict(),
      z
        .object({
          type: z.literal('bank_account'),
          iban: z.string().regex(/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/, 'must be an IBAN without spaces'),
        })
        .strict(),
    ]),
    description,
  })
  .strict();

const settlementsQuery = z
  .object({
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    format: z.enum(['json', 'csv']).optional(),
  })
  .strict();

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
    throw new PspError(
      400,
      'invalid_request',
      `${what}: ${details.map((d) => `${d.path || 'body'}: ${d.message}`).join('; ')}`,
      details,
    );
  }
  return parsed.data;
}

function requireJson(request: FastifyRequest): void {
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new PspError(415, 'unsupported_media_type', 'send the body as Content-Type: application/json');
  }
}

function keyMatches(header: string | undefined, apiKey: string): boolean {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!);
  const want = Buffer.from(apiKey);
  return given.length === want.length && timingSafeEqual(given, want);
}

const csvColumns = [
  'id',
  'type',
  'sourceId',
  'paymentId',
  'payoutId',
  'merchantReference',
  'amount',
  'currency',
  'status',
  'occurredAt',
] as const;

function csvField(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function settlementsCsv(rows: SettlementRecord[]): string {
  const lines = [csvColumns.join(',')];
  for (const row of rows) {
    const view = settlementView(row) as Record<string, unknown>;
    lines.push(csvColumns.map((c) => csvField(view[c])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

function wantsCsv(request: FastifyRequest, format: 'json' | 'csv' | undefined): boolean {
  if (format) return format === 'csv';
  const accept = request.headers.accept ?? '';
  return /\btext\/csv\b/i.test(accept) && !/\bapplication\/json\b/i.test(accept);
}

/** What a merchant API handler answers; the route sends it (or, for drop_reply, does not). */
interface Answer {
  status?: number;
  headers?: Record<string, string>;
  body: unknown;
}

export interface MerchantApiDeps {
  engine: PspEngine;
  faults: FaultInjector;
  apiKey(): string;
  baseUrl(): string;
  goDown(seconds: number): Promise<void>;
  log(line: string): void;
}

function sendError(reply: FastifyReply, status: number, code: string, message: string, details?: unknown) {
  return reply
    .code(status)
    .header('content-type', 'application/json; charset=utf-8')
    .send(details === undefined ? { code, message } : { code, message, details });
}

/** Cuts the connection without an answer (hijacked first, so Fastify does not try to write one). */
function cut(request: FastifyRequest, reply: FastifyReply): void {
  reply.hijack();
  request.raw.socket.destroy();
}

export function registerMerchantApi(app: FastifyInstance, deps: MerchantApiDeps): void {
  const { engine } = deps;

  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/v1/')) return;
    if (!keyMatches(request.headers.authorization, deps.apiKey())) {
      return sendError(reply, 401, 'unauthorized', 'send Authorization: Bearer <api key>');
    }
  });

  /**
   * Acts on the fault rules for one merchant API call. Returns false when a fault has already answered or cut the
   * request; otherwise whether the reply must be dropped after the call is applied.
   */
  async function faults(request: FastifyRequest, reply: FastifyReply): Promise<{ dropReply: boolean } | false> {
    const path = request.url.split('?')[0] ?? request.url;
    const decisions = deps.faults.decide(path);
    for (const d of decisions) {
      if (d.kind === 'latency') await new Promise((resolve) => setTimeout(resolve, d.rule.latencyMs ?? 0));
    }
    for (const d of decisions) {
      switch (d.kind) {
        case 'down':
          reply.hijack();
          await deps.goDown(d.rule.downSeconds ?? 0);
          request.raw.socket.destroy();
          return false;
        case 'reset':
          cut(request, reply);
          return false;
        case 'refuse':
          sendError(reply, 503, 'service_unavailable', 'the PSP is temporarily unavailable; nothing was applied');
          return false;
        case 'error': {
          const code = d.rule.code ?? 500;
          const status = code >= 400 && code <= 599 ? code : 500;
          sendError(reply, status, 'injected_error', `injected error ${status}; nothing was applied`);
          return false;
        }
        case 'rate_limit':
          sendError(reply, 429, 'rate_limited', 'too many requests; slow down and retry');
          return false;
        default:
          break;
      }
    }
    return { dropReply: decisions.some((d) => d.kind === 'drop_reply') };
  }

  /** Wraps a handler with fault injection; `drop_reply` applies the call, then cuts the connection unanswered. */
  function route(handler: (request: FastifyRequest) => Answer) {
    return async (request: FastifyRequest, reply: FastifyReply) => {
      const decision = await faults(request, reply);
      if (!decision) return reply;
      const answer = handler(request);
      if (decision.dropReply) {
        cut(request, reply);
        return reply;
      }
      for (const [name, value] of Object.entries(answer.headers ?? {})) reply.header(name, value);
      return reply.code(answer.status ?? 200).send(answer.body);
    };
  }

  const replayHeaders = (replayed: boolean): Record<string, string> =>
    replayed ? { 'idempotent-replayed': 'true' } : {};

  app.post(
    '/v1/payment-sessions',
    route((request) => {
      requireJson(request);
      const body = parse(paymentSessionBody, request.body, 'payment session');
      const { payment, replayed } = engine.createPaymentSession(body, bodyHash(body));
      return {
        status: replayed ? 200 : 201,
        headers: replayHeaders(replayed),
        body: sessionView(payment, deps.baseUrl()),
      };
    }),
  );
  app.get(
    '/v1/payment-sessions/:id',
    route((request) => ({
      body: sessionView(engine.getPayment((request.params as { id: string }).id), deps.baseUrl()),
    })),
  );
  app.get(
    '/v1/payments/:id',
    route((request) => ({ body: paymentView(engine.getPayment((request.params as { id: string }).id)) })),
  );
  app.post(
    '/v1/payouts',
    route((request) => {
      requireJson(request);
      const body = parse(payoutBody, request.body, 'payout');
      const { payout, replayed } = engine.createPayout(body, bodyHash(body));
      return { status: replayed ? 200 : 201, headers: replayHeaders(replayed), body: payoutView(payout) };
    }),
  );
  app.get(
    '/v1/payouts/:id',
    route((request) => ({ body: payoutView(engine.getPayout((request.params as { id: string }).id)) })),
  );
  app.get(
    '/v1/settlements',
    route((request) => {
      const query = parse(settlementsQuery, request.query, 'settlements query');
      const from = query.from ? new Date(query.from) : undefined;
      const to = query.to ? new Date(query.to) : undefined;
      if (from && to && from > to) throw new PspError(400, 'invalid_request', 'settlements query: from is after to');
      const rows = engine.settlements(from, to);
      if (wantsCsv(request, query.format)) {
        return {
          headers: {
            'content-type': 'text/csv; charset=utf-8',
            'content-disposition': 'attachment; filename="settlements.csv"',
          },
          body: settlementsCsv(rows),
        };
      }
      return { body: { object: 'list', data: rows.map(settlementView) } };
    }),
  );
}

/** Maps every failure to `{code, message}` (HTML for the hosted page is handled by the page itself). */
export function registerErrorHandling(app: FastifyInstance, log: (line: string) => void): void {
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error instanceof PspError) return sendError(reply, error.statusCode, error.code, error.message, error.details);
    switch (error.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(reply, 413, 'body_too_large', `the body exceeds ${BODY_LIMIT_BYTES} bytes`);
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendError(reply, 415, 'unsupported_media_type', 'send the body as Content-Type: application/json');
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return sendError(reply, 400, 'invalid_json', 'the body is empty; send a JSON object');
      default:
        break;
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      if (error instanceof SyntaxError || error.code?.includes('JSON')) {
        return sendError(reply, 400, 'invalid_json', `the body is not valid JSON (${error.message})`);
      }
      return sendError(reply, status, 'bad_request', error.message);
    }
    log(`psp sandbox: ${request.method} ${request.url} failed: ${error.stack ?? error.message}`);
    return sendError(reply, 500, 'internal_error', 'internal error in the PSP sandbox');
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
  );
}
