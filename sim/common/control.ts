/**
 * The simulators' control API: a separate plain-HTTP listener on loopback, guarded by its own bearer token, through
 * which tests and humans do what a dealer does by hand (each simulator adds its dealer routes) and inject faults.
 *
 * Common routes:
 *   GET    /control/status                 → { platform, faults, clock }
 *   GET    /control/faults                 → rules
 *   POST   /control/faults      {rule}     → the rule with its id
 *   DELETE /control/faults[/:id]           → clears one or all
 *   POST   /control/clock       {skewSeconds} | {advanceSeconds}
 *   POST   /control/restart     {seconds}  → stops accepting connections for that long
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { SimClock } from './clock.ts';
import { type FaultInjector, faultRuleInput } from './faults.ts';

export interface ControlServerOptions {
  host: string;
  port: number;
  token: string;
  platform: string;
  clock: SimClock;
  faults: FaultInjector;
  restart(seconds: number): Promise<void>;
  status?(): Record<string, unknown>;
  /** The simulator's own routes (dealer console, trading activity…), registered under /control. */
  routes?(app: FastifyInstance): void;
}

/** A control-API error with a status and a message that says what to fix. */
export class ControlError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) {
    throw new ControlError(
      400,
      parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
    );
  }
  return parsed.data;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.replace(/^Bearer\s+/i, '') ?? '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

const clockBody = z
  .object({ skewSeconds: z.number().optional(), advanceSeconds: z.number().min(0).optional() })
  .strict()
  .refine((b) => b.skewSeconds !== undefined || b.advanceSeconds !== undefined, 'give skewSeconds or advanceSeconds');

export async function startControlServer(
  options: ControlServerOptions,
): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify({ logger: false });
  app.addHook('onRequest', async (request, reply) => {
    if (!tokenMatches(request.headers.authorization, options.token)) {
      return reply.code(401).send({ error: 'control API: send Authorization: Bearer <control token>' });
    }
  });
  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    const status = error instanceof ControlError ? error.statusCode : (error.statusCode ?? 500);
    reply.code(status >= 400 && status < 600 ? status : 500).send({ error: error.message });
  });

  app.get('/control/status', async () => ({
    platform: options.platform,
    clock: { now: new Date(options.clock.now()).toISOString(), skewMs: options.clock.skewMs },
    faults: options.faults.list(),
    ...options.status?.(),
  }));
  app.get('/control/faults', async () => options.faults.list());
  app.post('/control/faults', async (request, reply) => {
    const rule = options.faults.add(parseBody(faultRuleInput, request.body));
    return reply.code(201).send(rule);
  });
  app.delete('/control/faults', async () => {
    options.faults.clear();
    return { cleared: true };
  });
  app.delete('/control/faults/:id', async (request) => {
    const id = Number((request.params as { id: string }).id);
    if (!options.faults.remove(id)) throw new ControlError(404, `no fault rule ${id}`);
    return { removed: id };
  });
  app.post('/control/clock', async (request) => {
    const body = parseBody(clockBody, request.body);
    if (body.skewSeconds !== undefined) options.clock.setSkew(body.skewSeconds * 1000);
    if (body.advanceSeconds !== undefined) options.clock.advance(body.advanceSeconds * 1000);
    return { now: new Date(options.clock.now()).toISOString(), skewMs: options.clock.skewMs };
  });
  app.post('/control/restart', async (request) => {
    const { seconds } = parseBody(z.object({ seconds: z.number().min(0).max(3600) }).strict(), request.body);
    await options.restart(seconds);
    return { downForSeconds: seconds };
  });
  options.routes?.(app);

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return { url: `http://${options.host}:${port}`, close: () => app.close() };
}
