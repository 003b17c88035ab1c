/**
 * Two-factor sign-in for clients (TOTP, as for staff): the client starts enrolment and gets a secret (stored sealed)
 * to add to an authenticator app, confirms it with a first code, and from then on signs in with a code as well;
 * turning it off takes a code too. Each code is accepted once (the last accepted time step is kept), so a code seen
 * over someone's shoulder cannot be replayed within its 30 seconds. Turning it on ends the client's other sessions
 * (a session opened with the password alone does not outlive the switch). A client who lost the app asks support:
 * staff with `clients.manage` reset it with a reason, which also ends every session of the client. Every change is
 * audited, and the client is told by email whenever two-factor goes off (by them or by support), so a change they did
 * not make does not go unnoticed.
 */
import { and, eq, isNull, ne } from 'drizzle-orm';
import { generateSecret, generateURI, verify as verifyTotp } from 'otplib';
import { z } from 'zod';
import { type Clock, systemClock } from '../../clock.ts';
import type { Database, Executor } from '../../db/connect.ts';
import { clients, sessions } from '../../db/schema.ts';
import type { Sealer } from '../../operations/sealed.ts';
import { recordAudit } from '../audit/service.ts';
import { enqueueEmail } from '../mail/outbox.ts';
import { hashSessionToken } from '../sessions/store.ts';

export type ClientTwoFactorErrorCode =
  | 'TOTP_REQUIRED'
  | 'TOTP_INVALID'
  | 'TOTP_NOT_STARTED'
  | 'TOTP_ALREADY_ENABLED'
  | 'TOTP_NOT_ENABLED'
  | 'CLIENT_NOT_FOUND';

const statusOf: Record<ClientTwoFactorErrorCode, number> = {
  TOTP_REQUIRED: 401,
  TOTP_INVALID: 401,
  TOTP_NOT_STARTED: 409,
  TOTP_ALREADY_ENABLED: 409,
  TOTP_NOT_ENABLED: 409,
  CLIENT_NOT_FOUND: 404,
};

/** Carries its HTTP status (`statusCode`), which the error mapping passes through with the code and message. */
export class ClientTwoFactorError extends Error {
  override readonly name = 'ClientTwoFactorError';
  readonly statusCode: number;
  constructor(
    readonly code: ClientTwoFactorErrorCode,
    message: string,
  ) {
    super(message);
    this.statusCode = statusOf[code];
  }
}

/** Six digits; spaces (as apps show them, "123 456") are allowed and ignored. */
export const totpCodeInput = z
  .string()
  .transform((v) => v.replace(/\s+/g, ''))
  .pipe(z.string().regex(/^[0-9]{6}$/, 'enter the 6-digit code from your authenticator app'));

const ISSUER = 'Brokerdesk';

export interface ClientTwoFactorOptions {
  database: Database;
  sealer: Sealer;
  clock?: Clock;
}

export interface TwoFactorStatus {
  enabled: boolean;
  /** Enrolment started and not confirmed yet. */
  pending: boolean;
}

export class ClientTwoFactor {
  private readonly database: Database;
  private readonly sealer: Sealer;
  private readonly clock: Clock;

  constructor(options: ClientTwoFactorOptions) {
    this.database = options.database;
    this.sealer = options.sealer;
    this.clock = options.clock ?? systemClock;
  }

  async status(clientId: string): Promise<TwoFactorStatus> {
    const client = await this.load(this.database.db, clientId);
    return { enabled: client.totpEnabled, pending: !client.totpEnabled && client.totpSecretSealed !== null };
  }

  /** A new secret (replacing an unconfirmed one) and the otpauth URI an authenticator app scans. */
  async start(clientId: string): Promise<{ secret: string; uri: string }> {
    return this.database.db.transaction(async (tx) => {
      const client = await this.load(tx, clientId, true);
      if (client.totpEnabled) {
        throw new ClientTwoFactorError(
          'TOTP_ALREADY_ENABLED',
          'two-factor sign-in is already on; turn it off first to move it to another app',
        );
      }
      const secret = generateSecret();
      await tx
        .update(clients)
        .set({ totpSecretSealed: this.sealer.seal(secret), totpLastStep: null, updatedAt: this.clock.now() })
        .where(eq(clients.id, clientId));
      await this.audit(tx, clientId, 'client.totp_setup_started');
      return { secret, uri: generateURI({ issuer: ISSUER, label: client.email, secret }) };
    });
  }

  /**
   * Turns two-factor on with a first code from the app, and ends the client's other sessions (`keepSessionToken`, the
   * session the client confirmed from, stays).
   */
  async confirm(clientId: string, code: string, keepSessionToken?: string): Promise<TwoFactorStatus> {
    return this.database.db.transaction(async (tx) => {
      const client = await this.load(tx, clientId, true);
      if (client.totpEnabled)
        throw new ClientTwoFactorError('TOTP_ALREADY_ENABLED', 'two-factor sign-in is already on');
      if (!client.totpSecretSealed) {
        throw new ClientTwoFactorError(
          'TOTP_NOT_STARTED',
          'start the two-factor setup first to get a key for your app',
        );
      }
      const step = await this.check(client, code);
      await tx
        .update(clients)
        .set({ totpEnabled: true, totpLastStep: step, updatedAt: this.clock.now() })
        .where(eq(clients.id, clientId));
      const ended = await this.endSessions(tx, clientId, keepSessionToken);
      await this.audit(tx, clientId, 'client.totp_enabled', { otherSessionsEnded: ended });
      return { enabled: true, pending: false };
    });
  }

  /**
   * Support's way back in for a client who lost the authenticator app (after checking who is asking, outside this
   * system): two-factor off, the key forgotten, every session of the client ended. The reason is audited with the
   * staff member's id.
   */
  async resetByStaff(clientId: string, reason: string, staffId: string): Promise<TwoFactorStatus> {
    return this.database.db.transaction(async (tx) => {
      const client = await this.load(tx, clientId, true);
      if (!client.totpEnabled && client.totpSecretSealed === null) {
        throw new ClientTwoFactorError('TOTP_NOT_ENABLED', 'this client has no two-factor sign-in to reset');
      }
      await tx
        .update(clients)
        .set({ totpEnabled: false, totpSecretSealed: null, totpLastStep: null, updatedAt: this.clock.now() })
        .where(eq(clients.id, clientId));
      const ended = await this.endSessions(tx, clientId);
      await this.tell(tx, client, 'reset by our support team at your request');
      await recordAudit(
        tx,
        {
          actorType: 'staff',
          actorId: staffId,
          action: 'client.totp_reset',
          entityType: 'client',
          entityId: clientId,
          before: { totpEnabled: client.totpEnabled },
          after: { totpEnabled: false, sessionsEnded: ended, reason },
        },
        this.clock,
      );
      return { enabled: false, pending: false };
    });
  }

  /** Turns two-factor off; a current code proves the app is still in the client's hands. */
  async disable(clientId: string, code: string): Promise<TwoFactorStatus> {
    return this.database.db.transaction(async (tx) => {
      const client = await this.load(tx, clientId, true);
      if (!client.totpEnabled) throw new ClientTwoFactorError('TOTP_NOT_ENABLED', 'two-factor sign-in is not on');
      await this.check(client, code);
      await tx
        .update(clients)
        .set({ totpEnabled: false, totpSecretSealed: null, totpLastStep: null, updatedAt: this.clock.now() })
        .where(eq(clients.id, clientId));
      await this.tell(tx, client, 'turned off from your profile');
      await this.audit(tx, clientId, 'client.totp_disabled');
      return { enabled: false, pending: false };
    });
  }

  /**
   * The second step of signing in, after the password was checked: nothing to do when two-factor is off; otherwise
   * a missing code asks for one and a wrong or reused code is refused (and audited).
   */
  async checkSignIn(clientId: string, code: string | undefined): Promise<void> {
    const refused = await this.database.db.transaction(async (tx) => {
      const client = await this.load(tx, clientId, true);
      if (!client.totpEnabled) return null;
      if (code === undefined || code.trim() === '') {
        return new ClientTwoFactorError('TOTP_REQUIRED', 'enter the 6-digit code from your authenticator app');
      }
      try {
        const step = await this.check(client, code);
        await tx.update(clients).set({ totpLastStep: step }).where(eq(clients.id, clientId));
        return null;
      } catch (err) {
        if (!(err instanceof ClientTwoFactorError)) throw err;
        await this.audit(tx, clientId, 'client.login_failed', { reason: 'totp_invalid' });
        return err;
      }
    });
    if (refused) throw refused;
  }

  /** The time step of a valid code not used before; throws TOTP_INVALID otherwise. */
  private async check(client: typeof clients.$inferSelect, code: string): Promise<number> {
    const parsed = totpCodeInput.safeParse(code);
    if (!parsed.success)
      throw new ClientTwoFactorError('TOTP_INVALID', 'enter the 6-digit code from your authenticator app');
    const secret = this.sealer.unseal<string>(client.totpSecretSealed!);
    const result = await verifyTotp({
      secret,
      token: parsed.data,
      epoch: Math.floor(this.clock.now().getTime() / 1000),
      epochTolerance: 30,
      ...(client.totpLastStep !== null ? { afterTimeStep: client.totpLastStep } : {}),
    });
    const step = (result as { timeStep?: number }).timeStep;
    if (!result.valid || step === undefined) {
      throw new ClientTwoFactorError(
        'TOTP_INVALID',
        'that authenticator code is not valid (or was already used); wait for the next code and try again',
      );
    }
    return step;
  }

  /** Emails the client that two-factor sign-in went off, and how (in the transaction that turns it off). */
  private async tell(tx: Executor, client: { email: string; name: string }, how: string): Promise<void> {
    await enqueueEmail(
      tx,
      {
        kind: 'client.totp_off',
        to: client.email,
        subject: 'Two-factor sign-in is off on your account',
        text: [
          `Hello ${client.name},`,
          '',
          `Two-factor sign-in on your account was ${how}. Signing in now needs only your password.`,
          '',
          'If you did not ask for this, contact support at once and change your password.',
        ].join('\n'),
      },
      this.clock,
    );
  }

  /** Ends the client's live sessions except `keepToken`'s; how many. */
  private async endSessions(tx: Executor, clientId: string, keepToken?: string): Promise<number> {
    const ended = await tx
      .update(sessions)
      .set({ revokedAt: this.clock.now() })
      .where(
        and(
          eq(sessions.subjectType, 'client'),
          eq(sessions.subjectId, clientId),
          isNull(sessions.revokedAt),
          keepToken ? ne(sessions.tokenHash, hashSessionToken(keepToken)) : undefined,
        ),
      )
      .returning({ tokenHash: sessions.tokenHash });
    return ended.length;
  }

  private async load(tx: Executor, clientId: string, lock = false) {
    const query = tx.select().from(clients).where(eq(clients.id, clientId));
    const [client] = lock ? await query.for('update') : await query;
    if (!client) throw new ClientTwoFactorError('CLIENT_NOT_FOUND', `no client ${clientId}`);
    return client;
  }

  private async audit(tx: Executor, clientId: string, action: string, after?: Record<string, unknown>): Promise<void> {
    await recordAudit(
      tx,
      { actorType: 'client', actorId: clientId, action, entityType: 'client', entityId: clientId, after },
      this.clock,
    );
  }
}
