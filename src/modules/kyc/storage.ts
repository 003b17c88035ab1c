/**
 * KYC files on disk: outside any web root, under a random name (the storage key), readable only by the product's
 * user (0600, folder 0700). The database keeps the key, the sniffed type, the size and the SHA-256.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const KEY = /^[0-9a-f]{48}$/;

export class KycStorage {
  constructor(readonly dir: string) {}

  async put(bytes: Uint8Array): Promise<{ storageKey: string; sha256: string }> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const storageKey = randomBytes(24).toString('hex');
    const path = this.pathOf(storageKey);
    // 'wx': never overwrite; mode applies at creation, chmod covers a restrictive-or-odd umask either way.
    await writeFile(path, bytes, { flag: 'wx', mode: 0o600 });
    await chmod(path, 0o600);
    return { storageKey, sha256: createHash('sha256').update(bytes).digest('hex') };
  }

  async read(storageKey: string): Promise<Buffer> {
    return readFile(this.pathOf(storageKey));
  }

  async remove(storageKey: string): Promise<void> {
    await rm(this.pathOf(storageKey), { force: true });
  }

  pathOf(storageKey: string): string {
    if (!KEY.test(storageKey)) throw new Error('not a KYC storage key');
    return join(this.dir, storageKey);
  }
}
