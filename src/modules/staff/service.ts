/**
 * The staff module owns back-office users and their sessions: argon2id passwords, TOTP two-factor (required for roles
 * that move money or change configuration), and sessions whose token only the browser holds (the database keeps its
 * SHA-256). Every change is audited.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hash as argonHash, verify as argonVerify } from '@node-rs/argon2';
import { and, asc, eq, gt, isNull } from 'drizzle-orm';
import { generateSecret, generateURI, verify as verifyTotp } from 'otplib';
import { z } from 'zod';
import { type Clock, systemClock } from '../../clock.ts';
import type { Database } from '../../db/connect.ts';
import { type StaffRole, sessions, staffRoles, staffUsers } from '../../db/schema.ts';
import type { Sealer } from '../../operations/sealed.ts';
import { recordAudit } from '../audit/service.ts';
import { requiresTwoFactor } from './permissions.ts';

export type StaffUser = typeof staffUsers.$inferSelect;
export type StaffView = Omit<StaffUser, 'passwordHash' | 'totpSecretSealed'>;

export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly code: 'INVALID_CREDENTIALS' | 'TOTP_REQUIRED' | 'TOTP_INVALID' | 'SESSION_INVALID' | 'ACCOUNT_DISABLED',
    message: string,
  ) {
    super(message);
  }
}

export class StaffError extends Error {
  override readonly name = 'StaffError';
  constructor(
    readonly code: 'STAFF_EXISTS' | 'STAFF_NOT_FOUND' | 'WEAK_PASSWORD' | 'TOTP_NOT_STARTED',
    message: string,
  ) {
    super(message);
  }
}

export const newStaffInput = z
  .object({
    email: z.email().max(254),
    name: z.string().trim().min(1).max(120),
    password: z.string().min(12, 'staff passwords need at least 12 characters').max(200),
    roles: z.array(z.enum(staffRoles)).min(1, 'give at least one role').max(staffRoles.length),
  })
  .strict();

export interface Session {
  token: string;
  staff: StaffView;
  mfaPassed: boolean;
  expiresAt: Date;
}

const SESSION_IDLE_MS = 8 * 3600_000;
const ISSUER = 'Brokerdesk';

function view(user: StaffUser): StaffView {
  const { passwordHash: _p, totpSecretSealed: _t, ...rest } = user;
  return rest;
}

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export class StaffService {
  private readonly clock: Clock;

  constructor(
    private readonly database: Database,
    private readonly sealer: Sealer,
    clock?: Clock,
  ) {
    this.clock = clock ?? systemClock;
  }

  async create(input: z.input<typeof newStaffInput>, by: string): Promise<StaffView> {
    const value = newStaffInput.parse(input);
    const email = value.email.toLowerCase();
    const now = this.clock.now();
    const passwordHash = await argonHash(value.password);
    return this.database.db.transaction(async (tx) => {
      const [existing] = await tx.select({ id: staffUsers.id }).from(staffUsers).where(eq(staffUsers.email, email));
      if (existing) throw new StaffError('STAFF_EXISTS', `a staff member with email ${email} exists`);
      const [user] = await tx
        .insert(staffUsers)
        .values({ email, name: value.name, passwordHash, roles: value.roles, createdAt: now, updatedAt: now })
        .returning();
      await recordAudit(
        tx,
        {
          actorType: by === 'system' ? 'system' : 'staff',
          actorId: by,
          action: 'staff.created',
          entityType: 'staff',
          entityId: user!.id,
          after: { email, roles: value.roles },
        },
        this.clock,
      );
      return view(user!);
    });
  }

  async list(): Promise<StaffView[]> {
    return (await this.database.db.select().from(staffUsers).orderBy(asc(staffUsers.email))).map(view);
  }

  async update(id: string, change: { roles?: StaffRole[]; disabled?: boolean }, by: string): Promise<StaffView> {
    return this.database.db.transaction(async (tx) => {
      const [before] = await tx.select().from(staffUsers).where(eq(staffUsers.id, id)).for('update');
      if (!before) throw new StaffError('STAFF_NOT_FOUND', `no staff member ${id}`);
      const [after] = await tx
        .update(staffUsers)
        .set({ ...change, updatedAt: this.clock.now() })
        .where(eq(staffUsers.id, id))
        .returning();
      if (change.disabled) {
        await tx
          .update(sessions)
          .set({ revokedAt: this.clock.now() })
          .where(and(eq(sessions.subjectId, id), isNull(sessions.revokedAt)));
      }
      await recordAudit(
        tx,
        {
          actorType: 'staff',
          actorId: by,
          action: 'staff.updated',
          entityType: 'staff',
          entityId: id,
          before: { roles: before.roles, disabled: before.disabled },
          after: { roles: after!.roles, disabled: after!.disabled },
        },
        this.clock,
      );
      return view(after!);
    });
  }

  /**
   * Password (and TOTP when enrolled) → a session. A staff member whose roles need two-factor but who has not
   * enrolled yet gets a session that can only enrol (mfaPassed false).
   */
  async login(input: {
    email: string;
    password: string;
    totp?: string | undefined;
    ip?: string;
    userAgent?: string;
  }): Promise<Session> {
    const email = input.email.trim().toLowerCase();
    const [user] = await this.database.db.select().from(staffUsers).where(eq(staffUsers.email, email));
    // Verify against a real hash even for unknown emails, so timing does not reveal which emails exist.
    const ok = await argonVerify(user?.passwordHash ?? (await dummy()), input.password).catch(() => false);
    if (!user || !ok) {
      await this.audit('staff.login_failed', user?.id ?? email, { email });
      throw new AuthError('INVALID_CREDENTIALS', 'wrong email or password');
    }
    if (user.disabled) throw new AuthError('ACCOUNT_DISABLED', 'this staff account is disabled');
    let mfaPassed = !requiresTwoFactor(user.roles);
    if (user.totpEnabled) {
      if (!input.totp) throw new AuthError('TOTP_REQUIRED', 'enter the code from your authenticator app');
      await this.checkTotp(user, input.totp);
      mfaPassed = true;
    }
    const session = await this.openSession(user, mfaPassed, input.ip, input.userAgent);
    await this.audit('staff.login', user.id, { mfaPassed });
    return session;
  }

  /** Starts two-factor enrolment: a new secret (sealed) and the otpauth URI an authenticator app scans. */
  async startTotp(staffId: string): Promise<{ secret: string; uri: string }> {
    const [user] = await this.database.db.select().from(staffUsers).where(eq(staffUsers.id, staffId));
    if (!user) throw new StaffError('STAFF_NOT_FOUND', `no staff member ${staffId}`);
    const secret = generateSecret();
    await this.database.db
      .update(staffUsers)
      .set({ totpSecretSealed: this.sealer.seal(secret), totpEnabled: false, updatedAt: this.clock.now() })
      .where(eq(staffUsers.id, staffId));
    return { secret, uri: generateURI({ issuer: ISSUER, label: user.email, secret }) };
  }

  /** Confirms enrolment with a first code; the session that did it counts as having passed two-factor. */
  async confirmTotp(staffId: string, code: string, sessionToken: string): Promise<void> {
    const [user] = await this.database.db.select().from(staffUsers).where(eq(staffUsers.id, staffId));
    if (!user?.totpSecretSealed) throw new StaffError('TOTP_NOT_STARTED', 'start two-factor enrolment first');
    await this.checkTotp(user, code);
    await this.database.db.transaction(async (tx) => {
      await tx
        .update(staffUsers)
        .set({ totpEnabled: true, updatedAt: this.clock.now() })
        .where(eq(staffUsers.id, staffId));
      await tx
        .update(sessions)
        .set({ mfaPassed: true })
        .where(eq(sessions.tokenHash, hashToken(sessionToken)));
      await recordAudit(
        tx,
        { actorType: 'staff', actorId: staffId, action: 'staff.totp_enabled', entityType: 'staff', entityId: staffId },
        this.clock,
      );
    });
  }

  /** The live session for a cookie token, extending its idle expiry; null when missing, expired or revoked. */
  async resolveSession(token: string): Promise<Session | null> {
    const now = this.clock.now();
    const [row] = await this.database.db
      .select({ session: sessions, user: staffUsers })
      .from(sessions)
      .innerJoin(staffUsers, eq(staffUsers.id, sessions.subjectId))
      .where(
        and(
          eq(sessions.tokenHash, hashToken(token)),
          eq(sessions.subjectType, 'staff'),
          isNull(sessions.revokedAt),
          gt(sessions.expiresAt, now),
        ),
      );
    if (!row || row.user.disabled) return null;
    const expiresAt = new Date(now.getTime() + SESSION_IDLE_MS);
    await this.database.db
      .update(sessions)
      .set({ lastSeenAt: now, expiresAt })
      .where(eq(sessions.tokenHash, row.session.tokenHash));
    return { token, staff: view(row.user), mfaPassed: row.session.mfaPassed, expiresAt };
  }

  async logout(token: string): Promise<void> {
    await this.database.db
      .update(sessions)
      .set({ revokedAt: this.clock.now() })
      .where(eq(sessions.tokenHash, hashToken(token)));
  }

  private async checkTotp(user: StaffUser, code: string): Promise<void> {
    const secret = this.sealer.unseal<string>(user.totpSecretSealed!);
    const result = await verifyTotp({
      secret,
      token: code.replace(/\s/g, ''),
      epoch: Math.floor(this.clock.now().getTime() / 1000),
      epochTolerance: 30,
    });
    if (!result.valid) throw new AuthError('TOTP_INVALID', 'that authenticator code is not valid');
  }

  private async openSession(user: StaffUser, mfaPassed: boolean, ip?: string, userAgent?: string): Promise<Session> {
    const token = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + SESSION_IDLE_MS);
    await this.database.db.insert(sessions).values({
      tokenHash: hashToken(token),
      subjectType: 'staff',
      subjectId: user.id,
      mfaPassed,
      createdAt: now,
      lastSeenAt: now,
      expiresAt,
      ip: ip ?? null,
      userAgent: userAgent?.slice(0, 300) ?? null,
    });
    return { token, staff: view(user), mfaPassed, expiresAt };
  }

  private async audit(action: string, entityId: string, after: Record<string, unknown>): Promise<void> {
    await this.database.db.transaction((tx) =>
      recordAudit(
        tx,
        { actorType: 'staff', actorId: entityId, action, entityType: 'staff', entityId, after },
        this.clock,
      ),
    );
  }
}

/** A real argon2id hash of a random string, verified against when the email is unknown (same cost, same time). */
let dummyHash: Promise<string> | undefined;
function dummy(): Promise<string> {
  dummyHash ??= argonHash(randomBytes(16).toString('hex'));
  return dummyHash;
}
