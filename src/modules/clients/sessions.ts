/**
 * Client sessions: a random token in the `bd_client` cookie, its SHA-256 in `sessions` (subject_type 'client').
 * Idle sessions expire; a suspended or closed client has none.
 */
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, isNull } from 'drizzle-orm';
import { type Clock, systemClock } from '../../clock.ts';
import type { Database } from '../../db/connect.ts';
import { clients, sessions } from '../../db/schema.ts';
import type { ClientSession, ClientSessionResolver } from '../../http/client-auth.ts';

const IDLE_MS = 2 * 3600_000;
const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export class ClientSessions implements ClientSessionResolver {
  private readonly clock: Clock;

  constructor(
    private readonly database: Database,
    clock?: Clock,
  ) {
    this.clock = clock ?? systemClock;
  }

  async open(clientId: string, meta: { ip?: string; userAgent?: string } = {}): Promise<ClientSession> {
    const token = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + IDLE_MS);
    await this.database.db.insert(sessions).values({
      tokenHash: hashToken(token),
      subjectType: 'client',
      subjectId: clientId,
      mfaPassed: true,
      createdAt: now,
      lastSeenAt: now,
      expiresAt,
      ip: meta.ip ?? null,
      userAgent: meta.userAgent?.slice(0, 300) ?? null,
    });
    const [client] = await this.database.db
      .select({ verified: clients.emailVerifiedAt })
      .from(clients)
      .where(eq(clients.id, clientId));
    return { token, clientId, emailVerified: Boolean(client?.verified), expiresAt };
  }

  async resolveClientSession(token: string): Promise<ClientSession | null> {
    const now = this.clock.now();
    const [row] = await this.database.db
      .select({
        tokenHash: sessions.tokenHash,
        clientId: clients.id,
        status: clients.status,
        verified: clients.emailVerifiedAt,
      })
      .from(sessions)
      .innerJoin(clients, eq(clients.id, sessions.subjectId))
      .where(
        and(
          eq(sessions.tokenHash, hashToken(token)),
          eq(sessions.subjectType, 'client'),
          isNull(sessions.revokedAt),
          gt(sessions.expiresAt, now),
        ),
      );
    if (!row || row.status !== 'active') return null;
    const expiresAt = new Date(now.getTime() + IDLE_MS);
    await this.database.db
      .update(sessions)
      .set({ lastSeenAt: now, expiresAt })
      .where(eq(sessions.tokenHash, row.tokenHash));
    return { token, clientId: row.clientId, emailVerified: Boolean(row.verified), expiresAt };
  }

  async close(token: string): Promise<void> {
    await this.database.db
      .update(sessions)
      .set({ revokedAt: this.clock.now() })
      .where(eq(sessions.tokenHash, hashToken(token)));
  }
}
