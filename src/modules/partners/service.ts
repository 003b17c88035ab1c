/**
 * The partners module owns introducing brokers (IBs): their identity and sign-in, their referral code and link, the
 * clients they referred, and their place in an IB tree (a sub-IB under a master IB). Staff create partners; a
 * partner's first password is generated and shown once to the staff member, who hands it over. Commission plans and
 * payouts build on this module.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { hash as argonHash, verify as argonVerify } from '@node-rs/argon2';
import { and, count, desc, eq, ilike, or, type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Clock, systemClock } from '../../clock.ts';
import type { Database, Executor } from '../../db/connect.ts';
import { clients, type KycStatus, partners } from '../../db/schema.ts';
import { recordAudit } from '../audit/service.ts';

export type Partner = typeof partners.$inferSelect;
export type PartnerView = Omit<Partner, 'passwordHash'>;

export type PartnerErrorCode =
  | 'PARTNER_EXISTS'
  | 'PARTNER_NOT_FOUND'
  | 'PARENT_PARTNER_NOT_FOUND'
  | 'PARTNER_TREE_CYCLE'
  | 'INVALID_CREDENTIALS'
  | 'ACCOUNT_DISABLED'
  | 'REFERRAL_CODE_UNKNOWN'
  | 'NOTHING_TO_CHANGE';

const statusOf: Record<PartnerErrorCode, number> = {
  PARTNER_EXISTS: 409,
  PARTNER_NOT_FOUND: 404,
  PARENT_PARTNER_NOT_FOUND: 400,
  PARTNER_TREE_CYCLE: 409,
  INVALID_CREDENTIALS: 401,
  ACCOUNT_DISABLED: 403,
  REFERRAL_CODE_UNKNOWN: 400,
  NOTHING_TO_CHANGE: 400,
};

export class PartnerError extends Error {
  override readonly name = 'PartnerError';
  readonly status: number;
  constructor(
    readonly code: PartnerErrorCode,
    message: string,
  ) {
    super(message);
    this.status = statusOf[code];
  }
}

// Unambiguous upper-case letters and digits (no 0/O, 1/I/L), so a code read aloud or typed survives.
const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export function newReferralCode(): string {
  let code = '';
  for (let i = 0; i < 8; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return code;
}

export const referralCodeInput = z
  .string()
  .trim()
  .toUpperCase()
  .regex(/^[A-Z0-9]{4,32}$/, 'a referral code is 4 to 32 letters and digits');

export const partnerInput = z
  .object({
    email: z.email('must be an email address').max(254),
    name: z.string().trim().min(1).max(120),
    /** A sub-IB's master IB. */
    parentId: z.uuid('must be a partner id').nullable().optional(),
    /** Defaults to a random 8-character code. */
    referralCode: referralCodeInput.optional(),
  })
  .strict();

export const partnerChangeInput = z
  .object({
    name: z.string().trim().min(1).max(120).optional(),
    status: z.enum(['active', 'suspended']).optional(),
    parentId: z.uuid('must be a partner id').nullable().optional(),
    reason: z.string().trim().min(3).max(500),
  })
  .strict();

export interface ReferredClient {
  id: string;
  name: string;
  country: string;
  kycStatus: KycStatus;
  registeredAt: Date;
  accounts: number;
}

export function partnerView(p: Partner): PartnerView {
  const { passwordHash: _p, ...rest } = p;
  return rest;
}

function isUniqueViolation(err: unknown): string | null {
  for (let e = err as { code?: string; constraint?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === '23505') return e.constraint ?? '';
  }
  return null;
}

/** The partner a referral code belongs to, for registration; an unknown or suspended partner's code is refused. */
export async function partnerForReferralCode(tx: Executor, code: string): Promise<PartnerView> {
  const parsed = referralCodeInput.safeParse(code);
  const [row] = parsed.success ? await tx.select().from(partners).where(eq(partners.referralCode, parsed.data)) : [];
  if (!row || row.status !== 'active') {
    throw new PartnerError(
      'REFERRAL_CODE_UNKNOWN',
      `the referral code ${code} is not known; check the link you were given, or register without it`,
    );
  }
  return partnerView(row);
}

let dummyHash: Promise<string> | undefined;
const dummy = () => {
  dummyHash ??= argonHash(randomBytes(16).toString('hex'));
  return dummyHash;
};

export interface PartnerServiceOptions {
  database: Database;
  clock?: Clock;
  /** The portal's address: referral links are `${publicUrl}/register?ref=CODE`. */
  publicUrl: string;
}

export class PartnerService {
  private readonly database: Database;
  private readonly clock: Clock;
  private readonly publicUrl: string;

  constructor(options: PartnerServiceOptions) {
    this.database = options.database;
    this.clock = options.clock ?? systemClock;
    this.publicUrl = options.publicUrl.replace(/\/+$/, '');
  }

  referralLink(code: string): string {
    return `${this.publicUrl}/register?ref=${encodeURIComponent(code)}`;
  }

  /** Creates a partner with a generated first password, returned once (only its argon2id hash is stored). */
  async create(
    input: z.input<typeof partnerInput>,
    staffId: string,
  ): Promise<{ partner: PartnerView; initialPassword: string }> {
    const value = partnerInput.parse(input);
    const email = value.email.toLowerCase();
    const initialPassword = randomBytes(12).toString('base64url');
    const passwordHash = await argonHash(initialPassword);
    const now = this.clock.now();
    try {
      const partner = await this.database.db.transaction(async (tx) => {
        if (value.parentId) await this.lock(tx, value.parentId, 'PARENT_PARTNER_NOT_FOUND');
        const [row] = await tx
          .insert(partners)
          .values({
            email,
            name: value.name,
            passwordHash,
            referralCode: value.referralCode ?? newReferralCode(),
            status: 'active',
            parentId: value.parentId ?? null,
            createdAt: now,
            updatedAt: now,
          })
          .returning();
        await recordAudit(
          tx,
          {
            actorType: 'staff',
            actorId: staffId,
            action: 'partner.created',
            entityType: 'partner',
            entityId: row!.id,
            after: { email, name: value.name, referralCode: row!.referralCode, parentId: row!.parentId },
          },
          this.clock,
        );
        return row!;
      });
      return { partner: partnerView(partner), initialPassword };
    } catch (err) {
      const constraint = isUniqueViolation(err);
      if (constraint !== null) {
        throw new PartnerError(
          'PARTNER_EXISTS',
          constraint.includes('referral')
            ? `the referral code ${value.referralCode} is taken; choose another or leave it out`
            : `a partner with the email ${email} already exists`,
        );
      }
      throw err;
    }
  }

  /** Name, status (suspension ends the partner's sessions at their next request) or master IB, with a reason. */
  async update(partnerId: string, input: z.input<typeof partnerChangeInput>, staffId: string): Promise<PartnerView> {
    const { reason, ...change } = partnerChangeInput.parse(input);
    if (Object.keys(change).length === 0)
      throw new PartnerError('NOTHING_TO_CHANGE', 'change name, status or parentId');
    return this.database.db.transaction(async (tx) => {
      const before = await this.lock(tx, partnerId);
      if (change.parentId) {
        await this.lock(tx, change.parentId, 'PARENT_PARTNER_NOT_FOUND');
        await this.refuseCycle(tx, partnerId, change.parentId);
      }
      const [after] = await tx
        .update(partners)
        .set({ ...change, updatedAt: this.clock.now() })
        .where(eq(partners.id, partnerId))
        .returning();
      await recordAudit(
        tx,
        {
          actorType: 'staff',
          actorId: staffId,
          action: 'partner.updated',
          entityType: 'partner',
          entityId: partnerId,
          before: { name: before.name, status: before.status, parentId: before.parentId },
          after: { name: after!.name, status: after!.status, parentId: after!.parentId, reason },
        },
        this.clock,
      );
      return partnerView(after!);
    });
  }

  /** The same answer, and the same work, for an unknown email and a wrong password. */
  async authenticate(input: { email: string; password: string; ip?: string }): Promise<PartnerView> {
    const email = input.email.trim().toLowerCase();
    const [partner] = await this.database.db.select().from(partners).where(eq(partners.email, email));
    const ok = await argonVerify(partner?.passwordHash ?? (await dummy()), input.password).catch(() => false);
    if (!partner || !ok) {
      await this.audit(partner?.id ?? null, 'partner.login_failed', { email, ip: input.ip });
      throw new PartnerError('INVALID_CREDENTIALS', 'wrong email or password');
    }
    if (partner.status !== 'active') {
      throw new PartnerError('ACCOUNT_DISABLED', `this partner account is ${partner.status}; contact your manager`);
    }
    await this.audit(partner.id, 'partner.login', { ip: input.ip });
    return partnerView(partner);
  }

  async changePassword(partnerId: string, current: string, next: string): Promise<void> {
    const [partner] = await this.database.db.select().from(partners).where(eq(partners.id, partnerId));
    if (!partner || !(await argonVerify(partner.passwordHash, current).catch(() => false))) {
      throw new PartnerError('INVALID_CREDENTIALS', 'the current password is wrong');
    }
    const passwordHash = await argonHash(next);
    await this.database.db.transaction(async (tx) => {
      await tx.update(partners).set({ passwordHash, updatedAt: this.clock.now() }).where(eq(partners.id, partnerId));
      await recordAudit(
        tx,
        {
          actorType: 'partner',
          actorId: partnerId,
          action: 'partner.password_changed',
          entityType: 'partner',
          entityId: partnerId,
        },
        this.clock,
      );
    });
  }

  async get(partnerId: string): Promise<PartnerView> {
    const [row] = await this.database.db.select().from(partners).where(eq(partners.id, partnerId));
    if (!row) throw new PartnerError('PARTNER_NOT_FOUND', `no partner ${partnerId}`);
    return partnerView(row);
  }

  async isActive(partnerId: string): Promise<boolean> {
    const [row] = await this.database.db
      .select({ status: partners.status })
      .from(partners)
      .where(eq(partners.id, partnerId));
    return row?.status === 'active';
  }

  async search(query: {
    q?: string | undefined;
    status?: Partner['status'] | undefined;
    parentId?: string | undefined;
    limit: number;
    offset: number;
  }): Promise<{ items: (PartnerView & { referredClients: number })[]; next: number | null }> {
    const where: SQL[] = [];
    const q = query.q?.trim();
    if (q) {
      if (z.uuid().safeParse(q).success) where.push(eq(partners.id, q));
      else {
        const pattern = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        where.push(
          or(ilike(partners.email, pattern), ilike(partners.name, pattern), ilike(partners.referralCode, pattern))!,
        );
      }
    }
    if (query.status) where.push(eq(partners.status, query.status));
    if (query.parentId) where.push(eq(partners.parentId, query.parentId));
    const rows = await this.database.db
      .select({
        partner: partners,
        referredClients: sql<number>`(select count(*) from clients c where c.partner_id = "partners"."id")`.mapWith(
          Number,
        ),
      })
      .from(partners)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(partners.createdAt), desc(partners.id))
      .limit(query.limit)
      .offset(query.offset);
    return {
      items: rows.map((r) => ({ ...partnerView(r.partner), referredClients: r.referredClients })),
      next: rows.length === query.limit ? query.offset + query.limit : null,
    };
  }

  /**
   * The clients a partner referred, without contact details (a partner sees who, where and how far through KYC,
   * never an email or phone number).
   */
  async referredClients(
    partnerId: string,
    query: { kycStatus?: KycStatus | undefined; limit: number; offset: number },
  ): Promise<{ items: ReferredClient[]; total: number; next: number | null }> {
    const where = and(
      eq(clients.partnerId, partnerId),
      query.kycStatus ? eq(clients.kycStatus, query.kycStatus) : undefined,
    );
    const rows = await this.database.db
      .select({
        id: clients.id,
        name: clients.name,
        country: clients.country,
        kycStatus: clients.kycStatus,
        registeredAt: clients.createdAt,
        accounts: sql<number>`(select count(*) from trading_accounts a where a.client_id = "clients"."id")`.mapWith(
          Number,
        ),
      })
      .from(clients)
      .where(where)
      .orderBy(desc(clients.createdAt), desc(clients.id))
      .limit(query.limit)
      .offset(query.offset);
    const [total] = await this.database.db.select({ n: count() }).from(clients).where(where);
    return {
      items: rows,
      total: total?.n ?? 0,
      next: rows.length === query.limit ? query.offset + query.limit : null,
    };
  }

  private async lock(tx: Executor, id: string, code: PartnerErrorCode = 'PARTNER_NOT_FOUND'): Promise<Partner> {
    const [row] = await tx.select().from(partners).where(eq(partners.id, id)).for('update');
    if (!row) throw new PartnerError(code, `no partner ${id}`);
    return row;
  }

  /** A partner cannot sit under itself or under one of its own sub-IBs. */
  private async refuseCycle(tx: Executor, partnerId: string, newParentId: string): Promise<void> {
    for (let at: string | null = newParentId, depth = 0; at && depth < 100; depth++) {
      if (at === partnerId) {
        throw new PartnerError('PARTNER_TREE_CYCLE', 'a partner cannot be placed under itself or its own sub-IB');
      }
      const [row] = await tx.select({ parentId: partners.parentId }).from(partners).where(eq(partners.id, at));
      at = row?.parentId ?? null;
    }
  }

  private async audit(partnerId: string | null, action: string, after: Record<string, unknown>): Promise<void> {
    await recordAudit(
      this.database.db,
      {
        actorType: 'partner',
        actorId: partnerId,
        action,
        entityType: 'partner',
        entityId: partnerId ?? String(after.email ?? 'unknown'),
        after,
      },
      this.clock,
    );
  }
}
