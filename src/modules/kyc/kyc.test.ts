import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { ManualClock } from '../../clock.ts';
import { clients, kycStatusHistory } from '../../db/schema.ts';
import { ClientService } from '../clients/service.ts';
import { KycError, KycService, type KycStatusChange } from './service.ts';
import { describeContent, sniffKycContentType } from './sniff.ts';
import { KycStorage } from './storage.ts';

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
  Buffer.from('IHDR'),
  Buffer.alloc(16),
]);
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46]);
const PDF = Buffer.from('%PDF-1.4\n%%EOF\n');

describe('KYC content sniffing', () => {
  it('accepts PDF, JPEG and PNG by their bytes only', () => {
    expect(sniffKycContentType(PNG)).toBe('image/png');
    expect(sniffKycContentType(JPEG)).toBe('image/jpeg');
    expect(sniffKycContentType(PDF)).toBe('application/pdf');
  });
  it('refuses look-alikes and says what they are', () => {
    const html = Buffer.from('  <!doctype html><p>hi');
    expect(sniffKycContentType(html)).toBeNull();
    expect(describeContent(html)).toBe('an HTML page');
    expect(sniffKycContentType(Buffer.from('MZ\x90\x00'))).toBeNull();
    expect(describeContent(Buffer.from('MZ\x90\x00'))).toBe('a Windows program');
    expect(sniffKycContentType(Buffer.from('GIF89a'))).toBeNull();
    // A PNG signature without its IHDR chunk, a bare JPEG SOI, a PDF header hidden behind other bytes.
    expect(sniffKycContentType(PNG.subarray(0, 10))).toBeNull();
    expect(sniffKycContentType(Buffer.from([0xff, 0xd8, 0xff]))).toBeNull();
    expect(sniffKycContentType(Buffer.from(`<html>${PDF}`))).toBeNull();
    expect(sniffKycContentType(Buffer.alloc(0))).toBeNull();
  });
});

describe('KYC service', () => {
  let database: TestDatabase;
  let service: KycService;
  let people: ClientService;
  let dir: string;
  const clock = new ManualClock('2026-05-04T08:00:00Z');
  const changes: KycStatusChange[] = [];
  let failListener = false;

  beforeAll(async () => {
    database = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'bd-kyc-unit-'));
    people = new ClientService({ database, clock, publicUrl: 'http://127.0.0.1:8080' });
    service = new KycService({
      database,
      clock,
      storage: new KycStorage(dir),
      maxUploadBytes: 1024,
      validityDays: 30,
      listeners: [
        async (tx, change) => {
          // Runs inside the changing transaction: it sees the new status before commit.
          const [row] = await tx.select({ s: clients.kycStatus }).from(clients).where(eq(clients.id, change.clientId));
          expect(row!.s).toBe(change.to);
          if (failListener) throw new Error('account policy refused');
          changes.push(change);
        },
      ],
    });
  });
  afterAll(async () => {
    await database.drop();
  });

  async function newClient(email: string) {
    return people.register({ email, password: 'long enough password', name: 'K', country: 'FR' });
  }

  it('refuses bad files before storing anything', async () => {
    const c = await newClient('k1@example.com');
    const attempts: [Buffer, string][] = [
      [Buffer.alloc(0), 'KYC_FILE_EMPTY'],
      [Buffer.concat([PNG, Buffer.alloc(2000)]), 'KYC_FILE_TOO_LARGE'],
      [Buffer.from('<html></html>'), 'KYC_FILE_TYPE_NOT_ALLOWED'],
    ];
    for (const [bytes, code] of attempts) {
      const err = await service.upload(c.id, { type: 'passport', bytes }).catch((e) => e);
      expect(err).toBeInstanceOf(KycError);
      expect(err.code).toBe(code);
    }
    expect(readdirSync(dir)).toEqual([]);
    expect(await service.listDocuments(c.id)).toEqual([]);
  });

  it('moves the client to pending on upload, calls listeners in the transaction, and expires approvals', async () => {
    const c = await newClient('k2@example.com');
    const doc = await service.upload(c.id, { type: 'id_card', originalName: 'C:\\scans\\id.pdf', bytes: PDF });
    expect(doc).toMatchObject({ originalName: 'id.pdf', contentType: 'application/pdf', status: 'pending' });
    expect(changes.at(-1)).toMatchObject({
      clientId: c.id,
      from: 'not_started',
      to: 'pending',
      actor: { type: 'client' },
    });

    // A second upload while pending does not change the status again.
    await service.upload(c.id, { type: 'proof_of_address', bytes: JPEG });
    expect(changes.filter((x) => x.clientId === c.id)).toHaveLength(1);

    const docs = await service.listDocuments(c.id);
    for (const d of docs) await service.reviewDocument(d.id, { decision: 'approve' }, 'staff-1');
    await expect(service.reviewDocument(doc.id, { decision: 'reject', note: 'blurry' }, 'staff-1')).rejects.toThrow(
      /already approved/,
    );

    // A listener that throws rolls the whole decision back.
    failListener = true;
    await expect(service.decide(c.id, { decision: 'approve' }, 'staff-1')).rejects.toThrow('account policy refused');
    failListener = false;
    const [still] = await database.db.select().from(clients).where(eq(clients.id, c.id));
    expect(still!.kycStatus).toBe('pending');
    expect(await service.history(c.id)).toHaveLength(1);

    const approved = await service.decide(c.id, { decision: 'approve' }, 'staff-1');
    expect(approved).toMatchObject({ from: 'pending', to: 'approved', actor: { type: 'staff', id: 'staff-1' } });
    const [row] = await database.db.select().from(clients).where(eq(clients.id, c.id));
    expect(row!.kycExpiresAt!.getTime()).toBe(clock.now().getTime() + 30 * 86_400_000);

    expect(await service.expireDue()).toBe(0);
    clock.advance(30 * 86_400_000);
    expect(await service.expireDue()).toBe(1);
    expect(changes.at(-1)).toMatchObject({
      clientId: c.id,
      from: 'approved',
      to: 'expired',
      actor: { type: 'system' },
    });
    const history = await database.db
      .select()
      .from(kycStatusHistory)
      .where(eq(kycStatusHistory.clientId, c.id))
      .orderBy(kycStatusHistory.id);
    expect(history.map((h) => h.toStatus)).toEqual(['pending', 'approved', 'expired']);

    // An expired client re-submits and is back in the queue.
    await service.upload(c.id, { type: 'passport', bytes: PNG });
    const queue = await service.queue({ limit: 10, offset: 0 });
    expect(queue.items.map((i) => i.client.id)).toContain(c.id);
  });

  it('orders the queue oldest first and pages it', async () => {
    const a = await newClient('q-a@example.com');
    clock.advance(60_000);
    const b = await newClient('q-b@example.com');
    await service.upload(b.id, { type: 'passport', bytes: PNG });
    clock.advance(60_000);
    await service.upload(a.id, { type: 'passport', bytes: PNG });
    const all = await service.queue({ limit: 100, offset: 0 });
    const order = all.items.map((i) => i.client.id);
    expect(order.indexOf(b.id)).toBeLessThan(order.indexOf(a.id));
    const first = await service.queue({ limit: 1, offset: 0 });
    expect(first.items).toHaveLength(1);
    expect(first.next).toBe(1);
    expect(first.total).toBe(all.total);
  });

  it('asks for a reason to reject or request more information', async () => {
    const c = await newClient('k3@example.com');
    await service.upload(c.id, { type: 'passport', bytes: PNG });
    await expect(service.decide(c.id, { decision: 'reject' } as never, 's')).rejects.toThrow();
    const more = await service.decide(c.id, { decision: 'request_more_info', reason: 'need a utility bill' }, 's');
    expect(more).toMatchObject({ to: 'more_info_requested', reason: 'need a utility bill' });
    await service.upload(c.id, { type: 'proof_of_address', bytes: PDF });
    const rejected = await service.decide(c.id, { decision: 'reject', reason: 'document forged' }, 's');
    expect(rejected).toMatchObject({ from: 'pending', to: 'rejected' });
  });
});
