/** Partner sessions: a random token in the `bd_partner` cookie (see SessionStore); a suspended partner has none. */
import { type Clock, systemClock } from '../../clock.ts';
import type { Database } from '../../db/connect.ts';
import type { PartnerSession, PartnerSessionResolver } from '../../http/partner-auth.ts';
import { SessionStore } from '../sessions/store.ts';
import type { PartnerService } from './service.ts';

const IDLE_MS = 2 * 3600_000;

export class PartnerSessions implements PartnerSessionResolver {
  private readonly store: SessionStore;

  constructor(
    database: Database,
    private readonly partners: PartnerService,
    clock?: Clock,
  ) {
    this.store = new SessionStore(database, clock ?? systemClock, 'partner', IDLE_MS);
  }

  async open(partnerId: string, meta: { ip?: string; userAgent?: string } = {}): Promise<PartnerSession> {
    const { token, expiresAt } = await this.store.open(partnerId, meta);
    return { token, partnerId, expiresAt };
  }

  async resolvePartnerSession(token: string): Promise<PartnerSession | null> {
    const live = await this.store.touch(token);
    if (!live || !(await this.partners.isActive(live.subjectId))) return null;
    return { token, partnerId: live.subjectId, expiresAt: live.expiresAt };
  }

  close(token: string): Promise<void> {
    return this.store.close(token);
  }

  closeAll(partnerId: string): Promise<void> {
    return this.store.closeAll(partnerId);
  }
}
