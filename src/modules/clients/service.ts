/**
 * The clients module owns the client identity: registration with an argon2id password, email verification by a
 * single-use link (only the token's SHA-256 is stored), sign-in checks, the profile, and the back-office search.
 * Every change is audited in the transaction that makes it; the verification email goes through the mail outbox in
 * that same transaction.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hash as argonHash, verify as argonVerify } from '@node-rs/argon2';
import { and, desc, eq, ilike, isNull, or, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { type Clock, systemClock } from '../../clock.ts';
import type { Database, Executor } from '../../db/connect.ts';
import { clients, emailVerificationTokens, type kycStatuses, sessions } from '../../db/schema.ts';
import { recordAudit } from '../audit/service.ts';
import { enqueueEmail } from '../mail/outbox.ts';
import { partnerForReferralCode } from '../partners/service.ts';

export type Client = typeof clients.$inferSelect;
export type ClientView = Omit<Client, 'passwordHash' | 'totpSecretSealed' | 'totpLastStep'>;

export type ClientErrorCode =
  | 'CLIENT_EXISTS'
  | 'CLIENT_NOT_FOUND'
  | 'INVALID_CREDENTIALS'
  | 'ACCOUNT_DISABLED'
  | 'VERIFICATION_TOKEN_INVALID'
  | 'VERIFICATION_TOKEN_USED'
  | 'VERIFICATION_TOKEN_EXPIRED'
  | 'EMAIL_ALREADY_VERIFIED';

export class ClientError extends Error {
  override readonly name = 'ClientError';
  constructor(
    readonly code: ClientErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const VERIFICATION_TTL_MS = 48 * 3600_000;
const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** Regions CLDR knows that are not countries a client can live in. */
const notCountries = new Set(['EU', 'EZ', 'UN', 'QO', 'ZZ', 'XA', 'XB']);
let regionNames: Intl.DisplayNames | undefined;
/** ISO 3166-1 alpha-2, checked against the ICU region list bundled with Node. */
export function isCountryCode(code: string): boolean {
  if (!/^[A-Z]{2}$/.test(code) || notCountries.has(code)) return false;
  regionNames ??= new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
  try {
    return regionNames.of(code) !== undefined;
  } catch {
    return false;
  }
}

// No control characters: names and phones end up in emails and exports.
const printable = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `at most ${max} characters`)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), 'must not contain control characters');

export const countryInput = z
  .string()
  .trim()
  .toUpperCase()
  .refine(isCountryCode, 'must be an ISO 3166-1 alpha-2 country code such as GB or CY');
export const phoneInput = z
  .string()
  .trim()
  .regex(/^\+?[0-9][0-9 ()-]{4,28}[0-9]$/, 'must be a phone number such as +357 22 123456');
export const passwordInput = z
  .string()
  .min(10, 'passwords need at least 10 characters')
  .max(200, 'at most 200 characters');

export const registrationInput = z
  .object({
    email: z.email('must be an email address').max(254),
    password: passwordInput,
    name: printable(120),
    country: countryInput,
    phone: phoneInput.optional(),
    /** An introducing broker's referral code (from the referral link): attaches the client to that partner. */
    referralCode: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9]{1,64}$/, 'letters and digits only')
      .optional(),
  })
  .strict();

/** The fields a client (or staff on their behalf) may change. */
export const profileFields = {
  name: printable(120).optional(),
  phone: phoneInput.nullable().optional(),
  country: countryInput.optional(),
};

export const profileChangeInput = z
  .object(profileFields)
  .strict()
  .refine((v) => v.name !== undefined || v.phone !== undefined || v.country !== undefined, {
    message: 'change at least one of name, phone, country',
  });

export interface Actor {
  type: 'client' | 'staff' | 'system';
  id: string | null;
}

export function clientView(client: Client): ClientView {
  const { passwordHash: _p, totpSecretSealed: _t, totpLastStep: _s, ...rest } = client;
  return rest;
}

function isUniqueViolation(err: unknown): boolean {
  for (let e = err as { code?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === '23505') return true;
  }
  return false;
}

export interface ClientServiceOptions {
  database: Database;
  clock?: Clock;
  /** The portal's address: verification links point at `${publicUrl}/verify-email?token=…`. */
  publicUrl: string;
}

export class ClientService {
  private readonly database: Database;
  private readonly clock: Clock;
  private readonly publicUrl: string;

  constructor(options: ClientServiceOptions) {
    this.database = options.database;
    this.clock = options.clock ?? systemClock;
    this.publicUrl = options.publicUrl.replace(/\/+$/, '');
  }

  /** Creates the client, a verification token and the verification email, in one transaction. */
  async register(input: z.input<typeof registrationInput>, meta: { ip?: string } = {}): Promise<ClientView> {
    const value = registrationInput.parse(input);
    const email = value.email.toLowerCase();
    const passwordHash = await argonHash(value.password);
    const now = this.clock.now();
    try {
      return await this.database.db.transaction(async (tx) => {
        const [existing] = await tx.select({ id: clients.id }).from(clients).where(eq(clients.email, email));
        if (existing) throw exists(email);
        const partner = value.referralCode ? await partnerForReferralCode(tx, value.referralCode) : null;
        const [client] = await tx
          .insert(clients)
          .values({
            email,
            passwordHash,
            name: value.name,
            country: value.country,
            phone: value.phone ?? null,
            status: 'active',
            kycStatus: 'not_started',
            partnerId: partner?.id ?? null,
            createdAt: now,
            updatedAt: now,
          })
          .returning();
        await this.sendVerification(tx, client!);
        await recordAudit(
          tx,
          {
            actorType: 'client',
            actorId: client!.id,
            action: 'client.registered',
            entityType: 'client',
            entityId: client!.id,
            after: {
              email,
              name: value.name,
              country: value.country,
              phone: value.phone ?? null,
              partnerId: partner?.id ?? null,
              ip: meta.ip,
            },
          },
          this.clock,
        );
        return clientView(client!);
      });
    } catch (err) {
      // Two registrations racing for one email: the unique index decides, the loser gets the same answer.
      if (isUniqueViolation(err)) throw exists(email);
      throw err;
    }
  }

  /** A new link for a client who has not verified yet (the old ones stay valid until they expire). */
  async resendVerification(clientId: string): Promise<void> {
    await this.database.db.transaction(async (tx) => {
      const client = await this.lockClient(tx, clientId);
      if (client.emailVerifiedAt) throw new ClientError('EMAIL_ALREADY_VERIFIED', 'your email is already verified');
      await this.sendVerification(tx, client);
    });
  }

  /** Consumes a verification token: once, before it expires. */
  async verifyEmail(token: string): Promise<ClientView> {
    const now = this.clock.now();
    return this.database.db.transaction(async (tx) => {
      const [row] = await tx
        .select()
        .from(emailVerificationTokens)
        .where(eq(emailVerificationTokens.tokenHash, hashToken(token)))
        .for('update');
      if (!row) {
        throw new ClientError(
          'VERIFICATION_TOKEN_INVALID',
          'this verification link is not valid; check you copied all of it, or ask for a new one',
        );
      }
      if (row.usedAt) {
        throw new ClientError('VERIFICATION_TOKEN_USED', 'this verification link has already been used; sign in');
      }
      if (row.expiresAt.getTime() <= now.getTime()) {
        throw new ClientError(
          'VERIFICATION_TOKEN_EXPIRED',
          'this verification link has expired; sign in and ask for a new one',
        );
      }
      await tx
        .update(emailVerificationTokens)
        .set({ usedAt: now })
        .where(eq(emailVerificationTokens.tokenHash, row.tokenHash));
      const before = await this.lockClient(tx, row.clientId);
      const [after] = await tx
        .update(clients)
        .set({ emailVerifiedAt: before.emailVerifiedAt ?? now, updatedAt: now })
        .where(eq(clients.id, row.clientId))
        .returning();
      if (!before.emailVerifiedAt) {
        await recordAudit(
          tx,
          {
            actorType: 'client',
            actorId: row.clientId,
            action: 'client.email_verified',
            entityType: 'client',
            entityId: row.clientId,
            before: { emailVerifiedAt: null },
            after: { emailVerifiedAt: now },
          },
          this.clock,
        );
      }
      return clientView(after!);
    });
  }

  /**
   * Checks an email and password. The same answer for an unknown email and a wrong password, and the same work:
   * unknown emails are verified against a dummy hash.
   */
  async authenticate(input: { email: string; password: string; ip?: string }): Promise<ClientView> {
    const email = input.email.trim().toLowerCase();
    const [client] = await this.database.db.select().from(clients).where(eq(clients.email, email));
    const ok = await argonVerify(client?.passwordHash ?? (await dummy()), input.password).catch(() => false);
    if (!client || !ok) {
      await this.audit(client?.id ?? null, 'client.login_failed', { email, ip: input.ip });
      throw new ClientError('INVALID_CREDENTIALS', 'wrong email or password');
    }
    if (client.status !== 'active') {
      throw new ClientError('ACCOUNT_DISABLED', `this client account is ${client.status}; contact support`);
    }
    await this.audit(client.id, 'client.login', { ip: input.ip });
    return clientView(client);
  }

  async get(clientId: string): Promise<ClientView> {
    const [client] = await this.database.db.select().from(clients).where(eq(clients.id, clientId));
    if (!client) throw new ClientError('CLIENT_NOT_FOUND', `no client ${clientId}`);
    return clientView(client);
  }

  async updateProfile(clientId: string, change: z.input<typeof profileChangeInput>, actor: Actor): Promise<ClientView> {
    const value = profileChangeInput.parse(change);
    return this.database.db.transaction(async (tx) => {
      const before = await this.lockClient(tx, clientId);
      const [after] = await tx
        .update(clients)
        .set({ ...value, updatedAt: this.clock.now() })
        .where(eq(clients.id, clientId))
        .returning();
      await recordAudit(
        tx,
        {
          actorType: actor.type,
          actorId: actor.id,
          action: 'client.profile_updated',
          entityType: 'client',
          entityId: clientId,
          before: { name: before.name, phone: before.phone, country: before.country },
          after: { name: after!.name, phone: after!.phone, country: after!.country },
        },
        this.clock,
      );
      return clientView(after!);
    });
  }

  /** Suspends, closes or reactivates a client (back office). A client who is not active loses their sessions. */
  async setStatus(clientId: string, status: Client['status'], reason: string, staffId: string): Promise<ClientView> {
    return this.database.db.transaction(async (tx) => {
      const before = await this.lockClient(tx, clientId);
      const now = this.clock.now();
      const [after] = await tx
        .update(clients)
        .set({ status, updatedAt: now })
        .where(eq(clients.id, clientId))
        .returning();
      if (status !== 'active') {
        await tx
          .update(sessions)
          .set({ revokedAt: now })
          .where(and(eq(sessions.subjectType, 'client'), eq(sessions.subjectId, clientId), isNull(sessions.revokedAt)));
      }
      await recordAudit(
        tx,
        {
          actorType: 'staff',
          actorId: staffId,
          action: 'client.status_changed',
          entityType: 'client',
          entityId: clientId,
          before: { status: before.status },
          after: { status, reason },
        },
        this.clock,
      );
      return clientView(after!);
    });
  }

  /** Back-office search: by id, email or name fragment, KYC status and status; newest first. */
  async search(query: {
    q?: string | undefined;
    kycStatus?: (typeof kycStatuses)[number] | undefined;
    status?: Client['status'] | undefined;
    limit: number;
    offset: number;
  }): Promise<{ items: ClientView[]; next: number | null }> {
    const where: SQL[] = [];
    const q = query.q?.trim();
    if (q) {
      if (z.uuid().safeParse(q).success) where.push(eq(clients.id, q));
      else {
        const pattern = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        where.push(or(ilike(clients.email, pattern), ilike(clients.name, pattern))!);
      }
    }
    if (query.kycStatus) where.push(eq(clients.kycStatus, query.kycStatus));
    if (query.status) where.push(eq(clients.status, query.status));
    const rows = await this.database.db
      .select()
      .from(clients)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(clients.createdAt), desc(clients.id))
      .limit(query.limit)
      .offset(query.offset);
    return {
      items: rows.map(clientView),
      next: rows.length === query.limit ? query.offset + query.limit : null,
    };
  }

  private async lockClient(tx: Executor, clientId: string): Promise<Client> {
    const [client] = await tx.select().from(clients).where(eq(clients.id, clientId)).for('update');
    if (!client) throw new ClientError('CLIENT_NOT_FOUND', `no client ${clientId}`);
    return client;
  }

  private async sendVerification(tx: Executor, client: Client): Promise<void> {
    const token = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    await tx.insert(emailVerificationTokens).values({
      tokenHash: hashToken(token),
      clientId: client.id,
      expiresAt: new Date(now.getTime() + VERIFICATION_TTL_MS),
      createdAt: now,
    });
    const link = `${this.publicUrl}/verify-email?token=${encodeURIComponent(token)}`;
    await enqueueEmail(
      tx,
      {
        kind: 'client.verify_email',
        to: client.email,
        subject: 'Confirm your email address',
        text: [
          `Hello ${client.name},`,
          '',
          'Please confirm your email address by opening this link:',
          '',
          link,
          '',
          'The link works once and expires in 48 hours. If you did not register, ignore this email.',
        ].join('\n'),
      },
      this.clock,
    );
  }

  private async audit(clientId: string | null, action: string, after: Record<string, unknown>): Promise<void> {
    await this.database.db.transaction((tx) =>
      recordAudit(
        tx,
        {
          actorType: 'client',
          actorId: clientId,
          action,
          entityType: 'client',
          entityId: clientId ?? String(after.email ?? 'unknown'),
          after,
        },
        this.clock,
      ),
    );
  }
}

function exists(email: string): ClientError {
  return new ClientError('CLIENT_EXISTS', `an account with email ${email} already exists; sign in instead`);
}

/** A real argon2id hash of a random string, verified against when the email is unknown (same cost, same time). */
let dummyHash: Promise<string> | undefined;
function dummy(): Promise<string> {
  dummyHash ??= argonHash(randomBytes(16).toString('hex'));
  return dummyHash;
}
