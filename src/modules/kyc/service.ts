/**
 * The KYC module owns a client's identity checks: uploaded documents (sniffed, stored outside the web root), their
 * review by compliance, the client's KYC status with its full history, and expiry of old approvals.
 *
 * Every status change happens in one transaction that also writes `kyc_status_history`, an audit event, and calls
 * the registered listeners with that transaction, so other modules (account policies) react atomically with it.
 */
import { and, asc, count, desc, eq, inArray, lte, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Clock, systemClock } from '../../clock.ts';
import type { Database, Executor } from '../../db/connect.ts';
import { clients, type KycStatus, kycDocuments, kycDocumentTypes, kycStatusHistory } from '../../db/schema.ts';
import { recordAudit } from '../audit/service.ts';
import { describeContent, extensionOf, type KycContentType, sniffKycContentType } from './sniff.ts';
import type { KycStorage } from './storage.ts';

export type KycDocument = typeof kycDocuments.$inferSelect;
export type KycDocumentView = Omit<KycDocument, 'storageKey'>;
export type KycDocumentType = (typeof kycDocumentTypes)[number];
export type KycHistoryEntry = typeof kycStatusHistory.$inferSelect;

export type KycErrorCode =
  | 'KYC_FILE_EMPTY'
  | 'KYC_FILE_TOO_LARGE'
  | 'KYC_FILE_TYPE_NOT_ALLOWED'
  | 'KYC_DOCUMENT_NOT_FOUND'
  | 'KYC_DOCUMENT_ALREADY_REVIEWED'
  | 'KYC_CLIENT_NOT_FOUND'
  | 'KYC_TRANSITION_NOT_ALLOWED'
  | 'KYC_DOCUMENTS_NOT_REVIEWED';

export class KycError extends Error {
  override readonly name = 'KycError';
  constructor(
    readonly code: KycErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface KycActor {
  type: 'client' | 'staff' | 'system';
  id: string | null;
}

export interface KycStatusChange {
  clientId: string;
  from: KycStatus;
  to: KycStatus;
  reason: string | null;
  actor: KycActor;
  at: Date;
}

/** Called inside the transaction that changes the status; throwing rolls the change back. */
export type KycStatusListener = (tx: Executor, change: KycStatusChange) => Promise<void>;

export const kycDecisionInput = z.discriminatedUnion('decision', [
  z.object({ decision: z.literal('approve'), reason: z.string().trim().min(1).max(1000).optional() }).strict(),
  z.object({ decision: z.literal('reject'), reason: z.string().trim().min(3, 'give the reason').max(1000) }).strict(),
  z
    .object({
      decision: z.literal('request_more_info'),
      reason: z.string().trim().min(3, 'say what is needed').max(1000),
    })
    .strict(),
]);
export type KycDecision = z.infer<typeof kycDecisionInput>;

export const documentReviewInput = z.discriminatedUnion('decision', [
  z.object({ decision: z.literal('approve'), note: z.string().trim().min(1).max(1000).optional() }).strict(),
  z.object({ decision: z.literal('reject'), note: z.string().trim().min(3, 'give the reason').max(1000) }).strict(),
]);

/** Which statuses each decision may start from. */
const decisionFrom: Record<KycDecision['decision'], readonly KycStatus[]> = {
  approve: ['pending'],
  reject: ['pending', 'more_info_requested', 'approved', 'expired'],
  request_more_info: ['pending'],
};
const decisionTo: Record<KycDecision['decision'], KycStatus> = {
  approve: 'approved',
  reject: 'rejected',
  request_more_info: 'more_info_requested',
};
/** An upload sends the client back to the review queue from these statuses. */
const uploadMovesToPending: readonly KycStatus[] = ['not_started', 'more_info_requested', 'rejected', 'expired'];

export function documentView(doc: KycDocument): KycDocumentView {
  const { storageKey: _k, ...rest } = doc;
  return rest;
}

/** Keeps the last path segment and printable characters of an uploaded file name. */
function cleanFileName(name: string | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const clean = base.replace(/[\u0000-\u001f\u007f"]/g, '').trim();
  return clean.slice(0, 200) || 'document';
}

export interface KycServiceOptions {
  database: Database;
  storage: KycStorage;
  clock?: Clock;
  maxUploadBytes: number;
  /** How long an approval lasts. */
  validityDays: number;
  listeners?: KycStatusListener[];
}

export class KycService {
  readonly maxUploadBytes: number;
  private readonly database: Database;
  private readonly storage: KycStorage;
  private readonly clock: Clock;
  private readonly validityMs: number;
  private readonly listeners: KycStatusListener[];

  constructor(options: KycServiceOptions) {
    this.database = options.database;
    this.storage = options.storage;
    this.clock = options.clock ?? systemClock;
    this.maxUploadBytes = options.maxUploadBytes;
    this.validityMs = options.validityDays * 86_400_000;
    this.listeners = [...(options.listeners ?? [])];
  }

  /** Registers a reaction to KYC status changes (run in the changing transaction). */
  onStatusChange(listener: KycStatusListener): void {
    this.listeners.push(listener);
  }

  /** Checks, stores and records a client's document; the client goes to the review queue when they were not in it. */
  async upload(
    clientId: string,
    input: { type: KycDocumentType; originalName?: string | undefined; bytes: Uint8Array },
  ): Promise<KycDocumentView> {
    const type = z.enum(kycDocumentTypes).parse(input.type);
    const contentType = this.check(input.bytes);
    const { storageKey, sha256 } = await this.storage.put(input.bytes);
    try {
      return await this.database.db.transaction(async (tx) => {
        const client = await lockClient(tx, clientId);
        const now = this.clock.now();
        const [doc] = await tx
          .insert(kycDocuments)
          .values({
            clientId,
            type,
            storageKey,
            originalName: cleanFileName(input.originalName),
            contentType,
            sizeBytes: input.bytes.length,
            sha256,
            status: 'pending',
            uploadedAt: now,
          })
          .returning();
        await recordAudit(
          tx,
          {
            actorType: 'client',
            actorId: clientId,
            action: 'kyc.document_uploaded',
            entityType: 'kyc_document',
            entityId: doc!.id,
            after: { clientId, type, contentType, sizeBytes: input.bytes.length, sha256 },
          },
          this.clock,
        );
        if (uploadMovesToPending.includes(client.kycStatus)) {
          await this.changeStatus(tx, client, 'pending', {
            reason: 'document uploaded',
            actor: { type: 'client', id: clientId },
          });
        }
        return documentView(doc!);
      });
    } catch (err) {
      await this.storage.remove(storageKey).catch(() => undefined);
      throw err;
    }
  }

  async listDocuments(clientId: string): Promise<KycDocumentView[]> {
    const rows = await this.database.db
      .select()
      .from(kycDocuments)
      .where(eq(kycDocuments.clientId, clientId))
      .orderBy(desc(kycDocuments.uploadedAt), desc(kycDocuments.id));
    return rows.map(documentView);
  }

  async history(clientId: string): Promise<KycHistoryEntry[]> {
    return this.database.db
      .select()
      .from(kycStatusHistory)
      .where(eq(kycStatusHistory.clientId, clientId))
      .orderBy(asc(kycStatusHistory.id));
  }

  /**
   * A document's bytes. With `ownerId` (a client asking) another client's document is "not found", so ids cannot be
   * probed. Staff reads are audited: who looked at whose identity document is a question a regulator asks.
   */
  async readDocument(
    documentId: string,
    who: { ownerId: string } | { staffId: string },
  ): Promise<{ document: KycDocumentView; bytes: Buffer; fileName: string }> {
    const [doc] = await this.database.db.select().from(kycDocuments).where(eq(kycDocuments.id, documentId));
    if (!doc || ('ownerId' in who && doc.clientId !== who.ownerId)) {
      throw new KycError('KYC_DOCUMENT_NOT_FOUND', `no document ${documentId}`);
    }
    const bytes = await this.storage.read(doc.storageKey);
    if ('staffId' in who) {
      await this.database.db.transaction((tx) =>
        recordAudit(
          tx,
          {
            actorType: 'staff',
            actorId: who.staffId,
            action: 'kyc.document_viewed',
            entityType: 'kyc_document',
            entityId: doc.id,
            after: { clientId: doc.clientId },
          },
          this.clock,
        ),
      );
    }
    const ext = extensionOf[doc.contentType as KycContentType] ?? 'bin';
    return { document: documentView(doc), bytes, fileName: `${doc.type}-${doc.id.slice(0, 8)}.${ext}` };
  }

  /** Approves or rejects one document (a pending one). */
  async reviewDocument(
    documentId: string,
    input: z.input<typeof documentReviewInput>,
    staffId: string,
  ): Promise<KycDocumentView> {
    const review = documentReviewInput.parse(input);
    return this.database.db.transaction(async (tx) => {
      const [doc] = await tx.select().from(kycDocuments).where(eq(kycDocuments.id, documentId)).for('update');
      if (!doc) throw new KycError('KYC_DOCUMENT_NOT_FOUND', `no document ${documentId}`);
      if (doc.status !== 'pending') {
        throw new KycError('KYC_DOCUMENT_ALREADY_REVIEWED', `this document was already ${doc.status}`);
      }
      const now = this.clock.now();
      const status = review.decision === 'approve' ? 'approved' : 'rejected';
      const [after] = await tx
        .update(kycDocuments)
        .set({ status, reviewNote: review.note ?? null, reviewedBy: staffId, reviewedAt: now })
        .where(eq(kycDocuments.id, documentId))
        .returning();
      await recordAudit(
        tx,
        {
          actorType: 'staff',
          actorId: staffId,
          action: 'kyc.document_reviewed',
          entityType: 'kyc_document',
          entityId: documentId,
          before: { status: doc.status },
          after: { status, note: review.note ?? null, clientId: doc.clientId },
        },
        this.clock,
      );
      return documentView(after!);
    });
  }

  /**
   * A compliance decision on the client. Approval needs every document reviewed and at least one approved, and
   * sets when the approval expires.
   */
  async decide(clientId: string, input: z.input<typeof kycDecisionInput>, staffId: string): Promise<KycStatusChange> {
    const decision = kycDecisionInput.parse(input);
    return this.database.db.transaction(async (tx) => {
      const client = await lockClient(tx, clientId);
      if (!decisionFrom[decision.decision].includes(client.kycStatus)) {
        throw new KycError(
          'KYC_TRANSITION_NOT_ALLOWED',
          `cannot ${decision.decision.replace(/_/g, ' ')} a client whose KYC is ${client.kycStatus.replace(/_/g, ' ')}`,
        );
      }
      if (decision.decision === 'approve') {
        const byStatus = await tx
          .select({ status: kycDocuments.status, n: count() })
          .from(kycDocuments)
          .where(eq(kycDocuments.clientId, clientId))
          .groupBy(kycDocuments.status);
        const n = (s: string) => Number(byStatus.find((r) => r.status === s)?.n ?? 0);
        if (n('pending') > 0) {
          throw new KycError('KYC_DOCUMENTS_NOT_REVIEWED', `review the ${n('pending')} pending document(s) first`);
        }
        if (n('approved') === 0) {
          throw new KycError('KYC_DOCUMENTS_NOT_REVIEWED', 'approve at least one document before approving the client');
        }
      }
      return this.changeStatus(tx, client, decisionTo[decision.decision], {
        reason: decision.reason ?? null,
        actor: { type: 'staff', id: staffId },
      });
    });
  }

  /** The review queue: clients waiting for a decision, longest-waiting first, with their documents. */
  async queue(page: { limit: number; offset: number }) {
    // Spelled out with table names: in a one-table select Drizzle leaves columns unqualified, which would bind the
    // subquery's "id" to the wrong table.
    const pendingSince = sql<Date | string | null>`(select max(h.at) from kyc_status_history h
      where h.client_id = clients.id and h.to_status = 'pending')`;
    const rows = await this.database.db
      .select({
        id: clients.id,
        email: clients.email,
        name: clients.name,
        country: clients.country,
        kycStatus: clients.kycStatus,
        createdAt: clients.createdAt,
        pendingSince,
      })
      .from(clients)
      .where(eq(clients.kycStatus, 'pending'))
      .orderBy(sql`${pendingSince} asc nulls first`, asc(clients.createdAt), asc(clients.id))
      .limit(page.limit)
      .offset(page.offset);
    const docs = rows.length
      ? await this.database.db
          .select()
          .from(kycDocuments)
          .where(
            inArray(
              kycDocuments.clientId,
              rows.map((r) => r.id),
            ),
          )
          .orderBy(asc(kycDocuments.uploadedAt))
      : [];
    const [total] = await this.database.db.select({ n: count() }).from(clients).where(eq(clients.kycStatus, 'pending'));
    return {
      items: rows.map((r) => ({
        client: { ...r, pendingSince: r.pendingSince ? new Date(r.pendingSince) : null },
        documents: docs.filter((d) => d.clientId === r.id).map(documentView),
      })),
      total: Number(total?.n ?? 0),
      next: rows.length === page.limit ? page.offset + page.limit : null,
    };
  }

  /** Moves approvals whose validity ended to `expired` (one transaction per client, listeners called). */
  async expireDue(limit = 100): Promise<number> {
    const now = this.clock.now();
    const due = await this.database.db
      .select({ id: clients.id })
      .from(clients)
      .where(and(eq(clients.kycStatus, 'approved'), lte(clients.kycExpiresAt, now)))
      .limit(limit);
    let expired = 0;
    for (const { id } of due) {
      const changed = await this.database.db.transaction(async (tx) => {
        const client = await lockClient(tx, id);
        // Re-checked under the lock: a reviewer may have acted since the scan.
        if (client.kycStatus !== 'approved' || !client.kycExpiresAt || client.kycExpiresAt > now) return false;
        await this.changeStatus(tx, client, 'expired', {
          reason: 'the KYC approval reached its expiry date',
          actor: { type: 'system', id: null },
        });
        return true;
      });
      if (changed) expired += 1;
    }
    return expired;
  }

  private check(bytes: Uint8Array): KycContentType {
    if (bytes.length === 0) throw new KycError('KYC_FILE_EMPTY', 'the file is empty');
    if (bytes.length > this.maxUploadBytes) throw tooLarge(this.maxUploadBytes);
    const type = sniffKycContentType(bytes);
    if (!type) {
      throw new KycError(
        'KYC_FILE_TYPE_NOT_ALLOWED',
        `the file's content is ${describeContent(bytes)}; upload a PDF, JPEG or PNG (its name or declared type does not count)`,
      );
    }
    return type;
  }

  private async changeStatus(
    tx: Executor,
    client: typeof clients.$inferSelect,
    to: KycStatus,
    change: { reason: string | null; actor: KycActor },
  ): Promise<KycStatusChange> {
    const at = this.clock.now();
    const from = client.kycStatus;
    const kycExpiresAt =
      to === 'approved' ? new Date(at.getTime() + this.validityMs) : to === 'expired' ? client.kycExpiresAt : null;
    await tx.update(clients).set({ kycStatus: to, kycExpiresAt, updatedAt: at }).where(eq(clients.id, client.id));
    await tx.insert(kycStatusHistory).values({
      clientId: client.id,
      fromStatus: from,
      toStatus: to,
      reason: change.reason,
      actorType: change.actor.type,
      actorId: change.actor.id,
      at,
    });
    const event: KycStatusChange = { clientId: client.id, from, to, reason: change.reason, actor: change.actor, at };
    for (const listener of this.listeners) await listener(tx, event);
    await recordAudit(
      tx,
      {
        actorType: change.actor.type,
        actorId: change.actor.id,
        action: 'kyc.status_changed',
        entityType: 'client',
        entityId: client.id,
        before: { kycStatus: from, kycExpiresAt: client.kycExpiresAt },
        after: { kycStatus: to, kycExpiresAt, reason: change.reason },
      },
      this.clock,
    );
    return event;
  }
}

export function tooLarge(max: number): KycError {
  const limit = max >= 1_048_576 ? `${+(max / 1_048_576).toFixed(1)} MiB` : `${Math.ceil(max / 1024)} KiB`;
  return new KycError('KYC_FILE_TOO_LARGE', `the file is larger than ${limit}; upload a smaller scan`);
}

async function lockClient(tx: Executor, clientId: string) {
  const [client] = await tx.select().from(clients).where(eq(clients.id, clientId)).for('update');
  if (!client) throw new KycError('KYC_CLIENT_NOT_FOUND', `no client ${clientId}`);
  return client;
}
