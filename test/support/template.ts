import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrationsFolder } from '../../src/db/connect.ts';

/** The template database's name changes whenever a migration does, so a stale template is never reused. */
export function templateDatabaseName(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(migrationsFolder)
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    hash.update(file).update(readFileSync(join(migrationsFolder, file)));
  }
  return `bdtpl_${hash.digest('hex').slice(0, 12)}`;
}
