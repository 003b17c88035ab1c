/**
 * The one cookie policy for every session (staff, client, partner): httpOnly, SameSite=Strict, Secure behind HTTPS,
 * site-wide, expiring with the session's idle limit.
 */
import type {} from '@fastify/cookie';
import type { FastifyReply } from 'fastify';

export function setSessionCookie(
  reply: FastifyReply,
  name: string,
  session: { token: string; expiresAt: Date },
  secure: boolean,
): void {
  reply.setCookie(name, session.token, {
    httpOnly: true,
    sameSite: 'strict',
    secure,
    path: '/',
    expires: session.expiresAt,
  });
}
