/**
 * Client-portal authentication: the `bd_client` session cookie (httpOnly, SameSite=Strict), resolved on every
 * `/api/portal` route that sets `config.client = true`, before the body is parsed. A client only ever reaches their
 * own data: handlers take the client id from the session, never from the request.
 */
import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from './errors.ts';

export const CLIENT_COOKIE = 'bd_client';

export interface ClientSession {
  token: string;
  clientId: string;
  emailVerified: boolean;
  expiresAt: Date;
}

/** Implemented by the clients module: a cookie token → the live session, or null. */
export interface ClientSessionResolver {
  resolveClientSession(token: string): Promise<ClientSession | null>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A client-portal route that needs a signed-in client. */
    client?: boolean;
  }
  interface FastifyRequest {
    clientSession: ClientSession | null;
  }
}

export function clientSession(request: FastifyRequest): ClientSession {
  if (!request.clientSession) throw new HttpError(401, 'SESSION_INVALID', 'sign in to your client area first');
  return request.clientSession;
}

export function registerClientAuth(app: FastifyInstance, resolver: ClientSessionResolver): void {
  app.decorateRequest('clientSession', null);
  app.addHook('onRequest', async (request) => {
    if (!request.routeOptions.config?.client) return;
    const token = request.cookies?.[CLIENT_COOKIE];
    const session = token ? await resolver.resolveClientSession(token) : null;
    if (!session)
      throw new HttpError(401, 'SESSION_INVALID', 'your session has expired or you are not signed in; sign in again');
    request.clientSession = session;
  });
}
