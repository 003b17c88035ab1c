/**
 * The HTTP application. For now: health and Prometheus metrics; the client, partner and back-office APIs mount here.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { AppContext } from '../app/context.ts';
import { registry as metricsRegistry, registerDatabaseGauges, registerServerGauges } from '../operations/metrics.ts';

export async function buildApp(ctx: AppContext): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  registerDatabaseGauges(ctx.database);
  registerServerGauges(() => ctx.registry.health());

  // No stack traces or internals to clients: a message they can act on, and the details in our log.
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) ctx.logger.error({ err: error, url: request.url }, 'request failed');
    reply.code(status).send({
      code: status === 500 ? 'INTERNAL' : (error.code ?? 'BAD_REQUEST'),
      message: status === 500 ? 'something went wrong on our side; it has been logged' : error.message,
    });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` });
  });

  app.get('/health', async () => {
    await ctx.database.query('SELECT 1');
    return { status: 'ok', database: ctx.database.kind, servers: ctx.registry.health() };
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metricsRegistry.contentType);
    return metricsRegistry.metrics();
  });
  return app;
}
