/**
 * Serves the web application (web/dist, built by `npm run build:web`) from the API process: static assets with long
 * caching (their names carry a content hash), and index.html for every browser route of the three areas (client portal
 * at `/`, `/partner`, `/backoffice`) so a reload or a link from an email opens the right screen. API-looking paths keep
 * their JSON 404. Without a build, browser routes get a short page that says how to build it.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const defaultWebRoot = fileURLToPath(new URL('../../web/dist', import.meta.url));

/** Paths that belong to the API and its tools, never to the single-page application. */
const apiPaths = /^\/(api|docs|health|metrics|openapi\.json)(\/|$|\?)/;

export function isBrowserRoute(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (apiPaths.test(request.url)) return false;
  const path = request.url.split('?')[0] ?? '/';
  // A file name with an extension (a missing asset) is a real 404, not a screen.
  if (/\.[a-z0-9]+$/i.test(path)) return false;
  return (request.headers.accept ?? '').includes('text/html') || (request.headers.accept ?? '') === '*/*';
}

export interface WebApp {
  built: boolean;
  /** Answers a browser route with the application's index.html. */
  page(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
}

export async function registerWeb(app: FastifyInstance, root = defaultWebRoot): Promise<WebApp> {
  const index = join(root, 'index.html');
  const built = existsSync(index);
  if (built) {
    await app.register(fastifyStatic, {
      root,
      prefix: '/',
      index: false,
      wildcard: false,
      // Hashed asset names never change content; index.html must be re-read on every visit.
      setHeaders(reply, path) {
        reply.header('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
  }
  const page = async (_request: FastifyRequest, reply: FastifyReply) => {
    if (!built) {
      return reply
        .code(503)
        .type('text/html; charset=utf-8')
        .send(
          '<!doctype html><title>Brokerdesk</title><p>The web application is not built. Run <code>npm run build:web</code> (or <code>npm start</code>, which builds it).</p>',
        );
    }
    return reply
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8')
      .send(await readFile(index));
  };
  return { built, page };
}
