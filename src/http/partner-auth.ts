/**
 * Partner-area authentication: the `bd_partner` session cookie (httpOnly, SameSite=Strict), resolved on every
 * `/api/partner` route that sets `config.partner = true`. A partner only ever reaches their own data: handlers take
 * the partner id from the session, never from the request.
 */
import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from './errors.ts';

export const PARTNER_COOKIE = 'bd_partner';

export interface PartnerSession {
  token: string;
  partnerId: string;
  expiresAt: Date;
}

/** Implemented by the partners module: a cookie token → the live session, or null. */
export interface PartnerSessionResolver {
  resolvePartnerSession(token: string): Promise<PartnerSession | null>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A partner-area route that needs a signed-in partner. */
    partner?: boolean;
  }
  interface FastifyRequest {
    partnerSession: PartnerSession | null;
  }
}

export function partnerSession(request: FastifyRequest): PartnerSession {
  if (!request.partnerSession) throw new HttpError(401, 'SESSION_INVALID', 'sign in to the partner area first');
  return request.partnerSession;
}

export function registerPartnerAuth(app: FastifyInstance, resolver: PartnerSessionResolver): void {
  app.decorateRequest('partnerSession', null);
  app.addHook('onRequest', async (request) => {
    if (!request.routeOptions.config?.partner) return;
    const token = request.cookies?.[PARTNER_COOKIE];
    const session = token ? await resolver.resolvePartnerSession(token) : null;
    if (!session)
      throw new HttpError(401, 'SESSION_INVALID', 'your session has expired or you are not signed in; sign in again');
    request.partnerSession = session;
  });
}
