/**
 * Secret references. Configuration and the database hold only where a secret lives — `env:VARIABLE` or
 * `file:/path/to/file` — and the value is read when a connection is made, so it never sits in a row, a log line or an
 * API response.
 */
import { readFileSync } from 'node:fs';

export class SecretError extends Error {
  override readonly name = 'SecretError';
}

const form = /^(env|file):(.+)$/;

export function isSecretReference(value: string): boolean {
  return form.test(value);
}

export function resolveSecret(reference: string, env: NodeJS.ProcessEnv = process.env): string {
  const match = form.exec(reference);
  if (!match) {
    throw new SecretError(
      `secret reference "${reference}" must be env:VARIABLE or file:/path (never the secret itself)`,
    );
  }
  const [, kind, target] = match as unknown as [string, 'env' | 'file', string];
  if (kind === 'env') {
    const value = env[target];
    if (value === undefined || value === '') throw new SecretError(`environment variable ${target} is not set`);
    return value;
  }
  let value: string;
  try {
    value = readFileSync(target, 'utf8');
  } catch (err) {
    throw new SecretError(
      `cannot read secret file ${target}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const trimmed = value.replace(/\r?\n$/, '');
  if (trimmed === '') throw new SecretError(`secret file ${target} is empty`);
  return trimmed;
}
