/**
 * Operation references: short, unique, readable, and recognisable inside a server comment.
 *
 * Form: `BD-<KIND>-<12 Crockford base32><check>`, e.g. `BD-DEP-7K3M9QX2T4AB5`: 20 characters, written FIRST in the
 * comment so that MetaTrader's silent cut at 31 characters can never remove it. The 60 random bits make collisions
 * negligible (the operations table enforces uniqueness anyway); the check symbol (mod 37) makes a dealer's own text
 * that merely looks similar fail to parse, so "no valid reference" reliably means "a change the CRM did not make".
 */
import { randomBytes } from 'node:crypto';

export const COMMENT_MAX = 31;

/** Operation kinds as they appear in references (three letters, readable in the terminal's history). */
export const referenceKinds = {
  deposit: 'DEP',
  withdrawal: 'WDR',
  credit_in: 'CRI',
  credit_out: 'CRO',
  transfer_out: 'TRO',
  transfer_in: 'TRI',
  adjustment: 'ADJ',
  ib_payout: 'IBP',
  compensation: 'CMP',
  open_account: 'OPN',
  update_account: 'UPD',
  set_password: 'PWD',
} as const;

export type ReferenceKind = keyof typeof referenceKinds;

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CHECK_ALPHABET = `${ALPHABET}*~$=U`;
const BODY_LENGTH = 12;
const pattern = new RegExp(`BD-([A-Z]{3})-([${ALPHABET}]{${BODY_LENGTH}})([${CHECK_ALPHABET.replace('$', '\\$')}])`);
const codeToKind = new Map<string, ReferenceKind>(
  Object.entries(referenceKinds).map(([kind, code]) => [code, kind as ReferenceKind]),
);

function checkSymbol(body: string): string {
  let value = 0n;
  for (const ch of body) value = value * 32n + BigInt(ALPHABET.indexOf(ch));
  return CHECK_ALPHABET[Number(value % 37n)]!;
}

/** A new random reference for an operation of `kind`. */
export function newReference(kind: ReferenceKind, random: (n: number) => Buffer = randomBytes): string {
  const bytes = random(BODY_LENGTH);
  let body = '';
  for (let i = 0; i < BODY_LENGTH; i++) body += ALPHABET[bytes[i]! & 31];
  return `BD-${referenceKinds[kind]}-${body}${checkSymbol(body)}`;
}

export interface ParsedReference {
  reference: string;
  kind: ReferenceKind | null;
}

/** Finds a valid Brokerdesk reference anywhere in a server comment; null when there is none. */
export function parseReference(comment: string | null | undefined): ParsedReference | null {
  if (!comment) return null;
  const match = pattern.exec(comment.toUpperCase());
  if (!match) return null;
  const [reference, code, body, check] = match as unknown as [string, string, string, string];
  if (checkSymbol(body) !== check) return null;
  return { reference, kind: codeToKind.get(code) ?? null };
}

/** The server comment for an operation: the reference first, then as much of the note as fits in 31 characters. */
export function buildComment(reference: string, note?: string): string {
  if (reference.length > COMMENT_MAX) throw new RangeError(`reference ${reference} is longer than a comment`);
  const text = note ? `${reference} ${note.replace(/\s+/g, ' ').trim()}` : reference;
  return text.slice(0, COMMENT_MAX).trimEnd();
}
