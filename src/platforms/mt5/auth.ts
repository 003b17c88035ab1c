/**
 * The MT5 Web API challenge-response. H = MD5(MD5(UTF-16LE(password)) ‖ "WebAPI") on raw bytes; an answer to a
 * random challenge is hex(MD5(H ‖ bytes(rand))). The same function checks the server's answer to our challenge,
 * which is what authenticates the server to us.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const md5 = (...parts: Buffer[]) => {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
};

export function passwordHash(password: string): Buffer {
  return md5(md5(Buffer.from(password, 'utf16le')), Buffer.from('WebAPI', 'ascii'));
}

export function challengeAnswer(hash: Buffer, randHex: string): string {
  if (!/^[0-9a-f]{32}$/i.test(randHex)) throw new TypeError('challenge must be 32 hex characters');
  return md5(hash, Buffer.from(randHex, 'hex')).toString('hex');
}

export function newClientChallenge(): string {
  return randomBytes(16).toString('hex');
}

export function answersMatch(expected: string, received: string): boolean {
  const a = Buffer.from(expected.toLowerCase());
  const b = Buffer.from(String(received).toLowerCase());
  return a.length === b.length && timingSafeEqual(a, b);
}
