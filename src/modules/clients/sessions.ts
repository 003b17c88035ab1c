/**
 * Client sessions: a random token in the `bd_client` cookie (see SessionStore). Idle sessions expire; a suspended or
 * closed client has none.
 */
import { eq } from 'drizzle-orm';
import { type Clock, systemClock } from '../../clock.ts';
import type { Database } from '../../db/connect.ts';
import { clients } from '../../db/schema.ts';
import type { ClientSession, ClientSessionResolver } from '../../http/client-auth.ts';
import { SessionStore } from '../sessions/store.ts';

const IDLE_MS = 2 * 3600_000;

export class ClientSessions implements ClientSessionResolver {
  private readonly store: SessionStore;

  constructor(
    private readonly database: Database,
    clock?: Clock,
  ) {
    this.store = new SessionStore(database, clock ?? systemClock, 'client', IDLE_MS);
  }

  async open(clientId: string, meta: { ip?: string; userAgent?: string } = {}): Promise<ClientSession> {
    const { token, expiresAt } = await this.store.open(clientId, meta);
    const client = await this.client(clientId);
    return { token, clientId, emailVerified: Boolean(client?.verified), expiresAt };
  }

  async resolveClientSession(token: string): Promise<ClientSession | null> {
    const live = await this.store.touch(token);
    if (!live) return null;
    const client = await this.client(live.subjectId);
    if (!client || client.status !== 'active') return null;
    return { token, clientId: live.subjectId, emailVerified: Boolean(client.verified), expiresAt: live.expiresAt };
  }

  close(token: string): Promise<void> {
    return this.store.close(token);
  }

  private async client(clientId: string) {
    const [row] = await this.database.db
      .select({ status: clients.status, verified: clients.emailVerifiedAt })
      .from(clients)
      .where(eq(clients.id, clientId));
    return row;
  }
}
