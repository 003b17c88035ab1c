/**
 * Cookie sessions for clients and partners: a random token in the cookie, only its SHA-256 in `sessions`, so a
 * database read does not yield a usable session. Sessions slide: each use pushes the idle expiry forward.
 */
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { Clock } from '../../clock.ts';
import type { Database } from '../../db/connect.ts';
import { sessions } from '../../db/schema.ts';

export type SessionSubject = 'client' | 'partner';

export const hashSessionToken = (token: string) => createHash('sha256').update(token).digest('hex');

export class SessionStore {
  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly subject: SessionSubject,
    private readonly idleMs: number,
  ) {}

  async open(
    subjectId: string,
    meta: { ip?: string; userAgent?: string } = {},
  ): Promise<{ token: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.idleMs);
    await this.database.db.insert(sessions).values({
      tokenHash: hashSessionToken(token),
      subjectType: this.subject,
      subjectId,
      mfaPassed: true,
      createdAt: now,
      lastSeenAt: now,
      expiresAt,
      ip: meta.ip ?? null,
      userAgent: meta.userAgent?.slice(0, 300) ?? null,
    });
    return { token, expiresAt };
  }

  /** The live session's subject, with its expiry pushed forward; null for an unknown, revoked or expired token. */
  async touch(token: string): Promise<{ subjectId: string; expiresAt: Date } | null> {
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.idleMs);
    const [row] = await this.database.db
      .update(sessions)
      .set({ lastSeenAt: now, expiresAt })
      .where(
        and(
          eq(sessions.tokenHash, hashSessionToken(token)),
          eq(sessions.subjectType, this.subject),
          isNull(sessions.revokedAt),
          gt(sessions.expiresAt, now),
        ),
      )
      .returning({ subjectId: sessions.subjectId });
    return row ? { subjectId: row.subjectId, expiresAt } : null;
  }

  async close(token: string): Promise<void> {
    await this.database.db
      .update(sessions)
      .set({ revokedAt: this.clock.now() })
      .where(and(eq(sessions.tokenHash, hashSessionToken(token)), eq(sessions.subjectType, this.subject)));
  }

  /** Ends every session of a subject (suspension, password change). */
  async closeAll(subjectId: string): Promise<void> {
    await this.database.db
      .update(sessions)
      .set({ revokedAt: this.clock.now() })
      .where(
        and(eq(sessions.subjectType, this.subject), eq(sessions.subjectId, subjectId), isNull(sessions.revokedAt)),
      );
  }
}
