/**
 * The Web API challenge–response. Both sides prove knowledge of the manager's API password without sending it:
 * H = MD5(MD5(UTF-16LE(password)) ‖ "WebAPI") over raw bytes, then MD5(H ‖ bytes(random)) for each challenge.
 * Hex strings are only the transport form; hashing hex text instead of bytes is the classic interop bug.
 */
import { createHash, randomBytes } from 'node:crypto';

/** Builds below this are refused (MetaQuotes: "any number, but not less than 484"). */
export const MIN_CLIENT_VERSION = 484;
/** The build this simulator reports as its access and trade server versions. */
export const SERVER_BUILD = '4755';

const HEX32 = /^[0-9a-f]{32}$/i;

export function isChallengeHex(value: string): boolean {
  return HEX32.test(value);
}

/** H: the password derivative both sides hold. */
export function webApiPasswordHash(password: string): Buffer {
  const inner = createHash('md5').update(Buffer.from(password, 'utf16le')).digest();
  return createHash('md5')
    .update(Buffer.concat([inner, Buffer.from('WebAPI', 'ascii')]))
    .digest();
}

/** hex(MD5(H ‖ bytes(randomHex))): the answer to a 16-byte challenge given as 32 hex digits. */
export function challengeAnswer(passwordHash: Buffer, randomHex: string): string {
  if (!isChallengeHex(randomHex)) throw new RangeError('a challenge is 16 bytes written as 32 hex digits');
  return createHash('md5')
    .update(Buffer.concat([passwordHash, Buffer.from(randomHex, 'hex')]))
    .digest('hex');
}

/** A fresh 16-byte challenge as 32 lowercase hex digits. */
export function newChallenge(): string {
  return randomBytes(16).toString('hex');
}
