/**
 * The sandbox's control routes (on the common control server, bearer control token): what the PSP's back office or
 * its card networks would do, and switches for webhook delivery.
 *
 *   GET  /control/payments/:id                        the payment with its internal schedule
 *   POST /control/payments/:id/refund     {amount?}   full (default) or partial refund   → payment.refunded
 *   POST /control/payments/:id/chargeback {amount?, reason?}                              → payment.charged_back
 *   POST /control/payments/:id/resolve    {outcome?: success|failure, reason?}  a pending payment, now
 *   GET  /control/payouts/:id
 *   POST /control/payouts/:id/resolve     {outcome?, reason?}                   a pending payout, now
 *   GET  /control/webhooks                            url, mode, delivery counts
 *   POST /control/webhooks/mode  {mode: normal|duplicate|late|out_of_order, lateMs?, batchSize?}
 *   POST /control/webhooks/url   {url: string|null}
 *   POST /control/webhooks/flush                      release every held delivery now
 *   GET  /control/webhooks/events                     every event with its body
 *   GET  /control/webhooks/deliveries[?eventId=]      deliveries, each with its attempts
 *   GET  /control/webhooks/attempts[?eventId=]        every attempt, oldest first
 *   POST /control/webhooks/events/:id/resend          send an event again (same id and body)
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ControlError, parseBody } from '../common/control.ts';
import type { PspEngine } from './engine.ts';
import { paymentView, payoutView, webhookModes } from './model.ts';
import type { WebhookDispatcher } from './webhooks.ts';

export interface PspControlDeps {
  engine: PspEngine;
  webhooks: WebhookDispatcher;
  webhookUrl(): string | null;
  setWebhookUrl(url: string | null): void;
}

const amount = z.number().int().positive().refine(Number.isSafeInteger, 'must be a safe integer');
const outcome = z.enum(['success', 'failure']);
const reason = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9_]+$/, 'snake_case');
const httpUrl = z
  .string()
  .max(2048)
  .refine((value) => {
    try {
      return ['http:', 'https:'].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL');

const eventIdQuery = z.object({ eventId: z.string().min(1).optional() }).strict();

export function registerPspControlRoutes(app: FastifyInstance, deps: PspControlDeps): void {
  const { engine, webhooks } = deps;
  const id = (params: unknown): string => (params as { id: string }).id;
  const query = (value: unknown) => {
    const parsed = eventIdQuery.safeParse(value ?? {});
    if (!parsed.success) throw new ControlError(400, 'the only query parameter is eventId');
    return parsed.data;
  };

  app.get('/control/payments/:id', async (request) => engine.getPayment(id(request.params)));
  app.post('/control/payments/:id/refund', async (request) => {
    const body = parseBody(z.object({ amount: amount.optional() }).strict(), request.body);
    return paymentView(engine.refund(id(request.params), body.amount));
  });
  app.post('/control/payments/:id/chargeback', async (request) => {
    const body = parseBody(z.object({ amount: amount.optional(), reason: reason.optional() }).strict(), request.body);
    return paymentView(engine.chargeback(id(request.params), body.amount, body.reason));
  });
  app.post('/control/payments/:id/resolve', async (request) => {
    const body = parseBody(z.object({ outcome: outcome.optional(), reason: reason.optional() }).strict(), request.body);
    return paymentView(engine.resolvePayment(id(request.params), body.outcome, body.reason));
  });
  app.get('/control/payouts/:id', async (request) => engine.getPayout(id(request.params)));
  app.post('/control/payouts/:id/resolve', async (request) => {
    const body = parseBody(z.object({ outcome: outcome.optional(), reason: reason.optional() }).strict(), request.body);
    return payoutView(engine.resolvePayout(id(request.params), body.outcome, body.reason));
  });

  app.get('/control/webhooks', async () => ({ url: deps.webhookUrl(), ...webhooks.stats }));
  app.post('/control/webhooks/mode', async (request) => {
    const body = parseBody(
      z
        .object({
          mode: z.enum(webhookModes),
          lateMs: z.number().int().min(0).max(86_400_000).optional(),
          batchSize: z.number().int().min(1).max(1000).optional(),
        })
        .strict(),
      request.body,
    );
    return webhooks.setMode(body);
  });
  app.post('/control/webhooks/url', async (request) => {
    const body = parseBody(z.object({ url: httpUrl.nullable() }).strict(), request.body);
    deps.setWebhookUrl(body.url);
    return { url: deps.webhookUrl() };
  });
  app.post('/control/webhooks/flush', async () => ({ released: webhooks.flush() }));
  app.get('/control/webhooks/events', async () =>
    webhooks.events().map((e) => ({ ...e, body: JSON.parse(e.body) as unknown })),
  );
  app.get('/control/webhooks/deliveries', async (request) => webhooks.deliveries(query(request.query).eventId));
  app.get('/control/webhooks/attempts', async (request) => webhooks.attempts(query(request.query).eventId));
  app.post('/control/webhooks/events/:id/resend', async (request, reply) => {
    const delivery = webhooks.resend(id(request.params));
    if (!delivery) throw new ControlError(404, `no event ${id(request.params)}`);
    return reply.code(201).send(delivery);
  });
}
