/**
 * Back-office authentication: the `bd_staff` session cookie (httpOnly, SameSite=Strict) is resolved on every request,
 * and each route declares the permission it needs in its config. A staff member whose role requires two-factor but
 * who has not passed it may only reach the enrolment routes.
 */
import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { can, type Permission } from '../modules/staff/permissions.ts';
import type { Session, StaffService } from '../modules/staff/service.ts';
import { HttpError } from './errors.ts';

export const STAFF_COOKIE = 'bd_staff';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission a back-office route needs; 'authenticated' = any signed-in staff; 'public' = none. */
    permission?: Permission | 'authenticated' | 'public';
    /** Reachable before two-factor is passed (enrolment, logout, me). */
    beforeTwoFactor?: boolean;
  }
  interface FastifyRequest {
    staffSession: Session | null;
  }
}

export function staffSession(request: FastifyRequest): Session {
  if (!request.staffSession) throw new HttpError(401, 'SESSION_INVALID', 'sign in to the back office first');
  return request.staffSession;
}

export function registerStaffAuth(app: FastifyInstance, staff: StaffService): void {
  app.decorateRequest('staffSession', null);
  // onRequest: before any body is parsed or validated, so an unauthorised caller learns nothing about the route.
  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config;
    const permission = config?.permission;
    if (!permission || permission === 'public') return;
    const token = request.cookies?.[STAFF_COOKIE];
    const session = token ? await staff.resolveSession(token) : null;
    if (!session)
      throw new HttpError(401, 'SESSION_INVALID', 'your session has expired or you are not signed in; sign in again');
    request.staffSession = session;
    if (!session.mfaPassed && !config.beforeTwoFactor) {
      throw new HttpError(
        401,
        'TWO_FACTOR_REQUIRED',
        'your role requires two-factor authentication: enrol an authenticator app first',
      );
    }
    if (permission !== 'authenticated' && !can(session.staff.roles, permission)) {
      throw new HttpError(
        403,
        'FORBIDDEN',
        `your roles (${session.staff.roles.join(', ')}) do not allow ${permission}`,
      );
    }
  });
}
