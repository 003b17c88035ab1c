/**
 * The adapter for the PSP sandbox (`brokerdesk sim psp`): its merchant API over fetch, and its signed webhooks.
 * The only place that knows the sandbox's wire format; it shares nothing with the simulator's code, only the protocol:
 *
 * - requests: `Authorization: Bearer <apiKey>`, JSON bodies, amounts in minor units, errors `{code, message}`;
 * - webhooks: `Psp-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` keyed by the webhook secret
 *   (several v1 entries are allowed, e.g. during a secret rotation; one must match), checked in constant time, and
 *   `t` must be within `toleranceSeconds` of the receiver's clock, in the past or the future.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { PspRejected, PspUnavailable, WebhookRejected } from './errors.ts';
import type {
  CreatePaymentSessionInput,
  CreatePayoutInput,
  PaymentProvider,
  PspEvent,
  PspPayment,
  PspPaymentSession,
  PspPayout,
  PspSettlement,
  WebhookHeaders,
} from './types.ts';

export interface SandboxProviderOptions {
  /** The sandbox's base URL, e.g. http://127.0.0.1:18404 (no trailing /v1). */
  baseUrl: string;
  apiKey: string;
  webhookSecret: string;
  /** Per request. Default 10000. */
  timeoutMs?: number;
  /** Accepted distance between a webhook's timestamp and the receiver's clock, either way. Default 300. */
  toleranceSeconds?: number;
  /** Name for logs and records. Default "sandbox". */
  name?: string;
}

const SIGNATURE_HEADER = 'psp-signature';

const paymentStatus = z.enum([
  'created',
  'pending',
  'succeeded',
  'failed',
  'refunded',
  'partially_refunded',
  'charged_back',
]);
const minor = z.number().int().refine(Number.isSafeInteger, 'must be a safe integer');
const instant = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
const currency = z.string().regex(/^[A-Z]{3}$/);

// Responses and webhook payloads are read leniently (unknown fields ignored) so the PSP can add fields.
const paymentWire = z.object({
  object: z.literal('payment'),
  id: z.string().min(1),
  status: paymentStatus,
  amount: minor.positive(),
  refundedAmount: minor.nonnegative(),
  chargedBackAmount: minor.nonnegative().default(0),
  currency,
  merchantReference: z.string().min(1),
  card: z.object({ last4: z.string() }).nullable().optional(),
  failureReason: z.string().nullable().optional(),
  createdAt: instant,
  updatedAt: instant,
});
const sessionWire = z.object({
  id: z.string().min(1),
  status: paymentStatus,
  hostedPageUrl: z.url(),
  amount: minor.positive(),
  currency,
  merchantReference: z.string().min(1),
  createdAt: instant,
});
const payoutWire = z.object({
  object: z.literal('payout'),
  id: z.string().min(1),
  status: z.enum(['pending', 'succeeded', 'failed']),
  amount: minor.positive(),
  currency,
  merchantReference: z.string().min(1),
  failureReason: z.string().nullable().optional(),
  createdAt: instant,
  updatedAt: instant,
});
const settlementWire = z.object({
  id: z.string().min(1),
  type: z.enum(['payment', 'refund', 'chargeback', 'payout']),
  sourceId: z.string().min(1),
  paymentId: z.string().nullable().optional(),
  payoutId: z.string().nullable().optional(),
  merchantReference: z.string(),
  amount: minor,
  currency,
  status: z.string(),
  occurredAt: instant,
});
const settlementListWire = z.object({ data: z.array(settlementWire) });
const errorWire = z.object({ code: z.string(), message: z.string() });
const eventWire = z.discriminatedUnion('type', [
  z.object({
    id: z.string().min(1),
    type: z.enum([
      'payment.pending',
      'payment.succeeded',
      'payment.failed',
      'payment.refunded',
      'payment.charged_back',
    ]),
    createdAt: instant,
    data: paymentWire,
  }),
  z.object({
    id: z.string().min(1),
    type: z.enum(['payout.succeeded', 'payout.failed']),
    createdAt: instant,
    data: payoutWire,
  }),
]);

function toPayment(p: z.output<typeof paymentWire>): PspPayment {
  return {
    pspPaymentId: p.id,
    merchantReference: p.merchantReference,
    status: p.status,
    amountMinor: p.amount,
    refundedMinor: p.refundedAmount,
    chargedBackMinor: p.chargedBackAmount,
    currency: p.currency,
    failureReason: p.failureReason ?? undefined,
    cardLast4: p.card?.last4 ?? undefined,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

function toPayout(p: z.output<typeof payoutWire>): PspPayout {
  return {
    pspPayoutId: p.id,
    merchantReference: p.merchantReference,
    status: p.status,
    amountMinor: p.amount,
    currency: p.currency,
    failureReason: p.failureReason ?? undefined,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

function headerValue(headers: WebhookHeaders, name: string): string | string[] | undefined {
  if (typeof Headers !== 'undefined' && headers instanceof Headers) return headers.get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  if (name in record) return record[name];
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : record[key];
}

/** `t=…,v1=…[,v1=…]` → the timestamp and every v1 signature, or null when the header is not in that form. */
function parseSignatureHeader(value: string): { timestamp: number; signatures: Buffer[] } | null {
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of value.split(',')) {
    const [key, val, ...rest] = part.trim().split('=');
    if (rest.length > 0 || val === undefined) return null;
    if (key === 't') {
      if (timestamp !== undefined || !/^\d{1,12}$/.test(val)) return null;
      timestamp = Number(val);
    } else if (key === 'v1') {
      if (!/^[0-9a-f]{64}$/.test(val)) return null;
      signatures.push(Buffer.from(val, 'hex'));
    }
    // Other schemes (v0, future versions) are ignored, as a receiver should.
  }
  if (timestamp === undefined || signatures.length === 0) return null;
  return { timestamp, signatures };
}

function describe(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `${i.path.map(String).join('.') || 'body'}: ${i.message}`).join('; ');
}

export class SandboxPaymentProvider implements PaymentProvider {
  readonly name: string;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly toleranceSeconds: number;

  constructor(private readonly options: SandboxProviderOptions) {
    this.name = options.name ?? 'sandbox';
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.toleranceSeconds = options.toleranceSeconds ?? 300;
    if (!options.apiKey) throw new RangeError('the PSP sandbox adapter needs an apiKey');
    if (!options.webhookSecret) throw new RangeError('the PSP sandbox adapter needs a webhookSecret');
  }

  async createPaymentSession(input: CreatePaymentSessionInput): Promise<PspPaymentSession> {
    const body = {
      amount: input.amountMinor,
      currency: input.currency,
      merchantReference: input.merchantReference,
      returnUrl: input.returnUrl,
      ...(input.description === undefined ? {} : { description: input.description }),
    };
    const s = this.read(sessionWire, await this.call('POST', '/v1/payment-sessions', body));
    return {
      pspPaymentId: s.id,
      status: s.status,
      hostedPageUrl: s.hostedPageUrl,
      amountMinor: s.amount,
      currency: s.currency,
      merchantReference: s.merchantReference,
      createdAt: s.createdAt,
    };
  }

  async getPayment(pspPaymentId: string): Promise<PspPayment> {
    return toPayment(
      this.read(paymentWire, await this.call('GET', `/v1/payments/${encodeURIComponent(pspPaymentId)}`)),
    );
  }

  async createPayout(input: CreatePayoutInput): Promise<PspPayout> {
    const body = {
      amount: input.amountMinor,
      currency: input.currency,
      merchantReference: input.merchantReference,
      destination: input.destination,
      ...(input.description === undefined ? {} : { description: input.description }),
    };
    return toPayout(this.read(payoutWire, await this.call('POST', '/v1/payouts', body)));
  }

  async getPayout(pspPayoutId: string): Promise<PspPayout> {
    return toPayout(this.read(payoutWire, await this.call('GET', `/v1/payouts/${encodeURIComponent(pspPayoutId)}`)));
  }

  async listSettlements(from: Date, to: Date): Promise<PspSettlement[]> {
    const query = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
    const list = this.read(settlementListWire, await this.call('GET', `/v1/settlements?${query}`));
    return list.data.map((s) => ({
      pspTransactionId: s.id,
      type: s.type,
      sourceId: s.sourceId,
      pspPaymentId: s.paymentId ?? undefined,
      pspPayoutId: s.payoutId ?? undefined,
      merchantReference: s.merchantReference,
      amountMinor: s.amount,
      currency: s.currency,
      status: s.status,
      occurredAt: s.occurredAt,
    }));
  }

  parseWebhook(headers: WebhookHeaders, rawBody: Buffer | string, now: Date): PspEvent {
    const reject = (reason: 'bad_signature' | 'stale_timestamp' | 'malformed', message: string, cause?: unknown) =>
      new WebhookRejected(reason, message, this.name, cause === undefined ? undefined : { cause });

    const header = headerValue(headers, SIGNATURE_HEADER);
    if (header === undefined || header === '') throw reject('bad_signature', 'the Psp-Signature header is missing');
    if (Array.isArray(header)) throw reject('bad_signature', 'more than one Psp-Signature header');
    const parsed = parseSignatureHeader(header);
    if (!parsed) throw reject('bad_signature', 'the Psp-Signature header is not of the form t=<unix>,v1=<hex>');

    const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
    const expected = createHmac('sha256', this.options.webhookSecret)
      .update(`${parsed.timestamp}.`)
      .update(body)
      .digest();
    // Every candidate is compared, matched or not, so timing reveals nothing about which one (if any) matched.
    let matched = false;
    for (const candidate of parsed.signatures) {
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
    }
    if (!matched) throw reject('bad_signature', 'the webhook signature does not match');

    const ageSeconds = now.getTime() / 1000 - parsed.timestamp;
    if (!Number.isFinite(ageSeconds) || Math.abs(ageSeconds) > this.toleranceSeconds) {
      throw reject(
        'stale_timestamp',
        `the webhook timestamp is ${Math.round(Math.abs(ageSeconds))} s in the ${ageSeconds >= 0 ? 'past' : 'future'} (tolerance ${this.toleranceSeconds} s)`,
      );
    }

    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (error) {
      throw reject('malformed', `the webhook body is not JSON: ${(error as Error).message}`, error);
    }
    const event = eventWire.safeParse(json);
    if (!event.success)
      throw reject('malformed', `the webhook body is not a known event: ${describe(event.error.issues)}`);
    const e = event.data;
    return {
      provider: this.name,
      eventId: e.id,
      type: e.type,
      occurredAt: e.createdAt,
      ...(e.type.startsWith('payment.')
        ? { payment: toPayment(e.data as z.output<typeof paymentWire>) }
        : { payout: toPayout(e.data as z.output<typeof payoutWire>) }),
    };
  }

  private read<T extends z.ZodType>(schema: T, json: unknown): z.output<T> {
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new PspUnavailable(
        `${this.name} answered something unexpected: ${describe(parsed.error.issues)}`,
        this.name,
        null,
        true,
      );
    }
    return parsed.data;
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const isWrite = method === 'POST';
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        redirect: 'error',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const timedOut = (error as Error).name === 'TimeoutError';
      // A refused connection certainly sent nothing; a timeout or a connection lost mid-request may have.
      const refused = cause?.code === 'ECONNREFUSED' || cause?.code === 'ENOTFOUND';
      throw new PspUnavailable(
        `${this.name} ${timedOut ? `did not answer within ${this.timeoutMs} ms` : `is unreachable (${cause?.code ?? cause?.message ?? (error as Error).message})`}: ${method} ${path.split('?')[0]}`,
        this.name,
        null,
        isWrite && !refused,
        { cause: error },
      );
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new PspUnavailable(
        `${this.name} cut the answer to ${method} ${path.split('?')[0]} short`,
        this.name,
        response.status,
        isWrite,
        { cause: error },
      );
    }
    if (response.status >= 500 || response.status === 429) {
      throw new PspUnavailable(
        `${this.name} answered ${response.status} to ${method} ${path.split('?')[0]}`,
        this.name,
        response.status,
        isWrite && response.status !== 429,
      );
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (response.status >= 400) {
      const err = errorWire.safeParse(json);
      throw new PspRejected(
        response.status,
        err.success ? err.data.code : `http_${response.status}`,
        err.success ? err.data.message : text.slice(0, 200),
        this.name,
      );
    }
    if (json === undefined) {
      throw new PspUnavailable(
        `${this.name} answered ${response.status} without a JSON body to ${method} ${path.split('?')[0]}`,
        this.name,
        response.status,
        isWrite,
      );
    }
    return json;
  }
}
