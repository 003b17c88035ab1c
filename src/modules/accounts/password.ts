/**
 * Trading passwords that both platforms accept: MT5 wants 8–16 characters with lower, upper, digit and special;
 * MT4 bridges cap passwords at 15. One special character from a set that survives query strings, JSON and terminals
 * unescaped (no `+`, `&`, `#`, `%`, quotes or spaces). Characters that read alike (0/O, 1/l/I) are left out, because
 * clients type these passwords into a terminal.
 */
import { randomInt } from 'node:crypto';

const LOWER = 'abcdefghijkmnpqrstuvwxyz';
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const DIGITS = '23456789';
export const PASSWORD_SPECIALS = '!@*-_';
export const TRADING_PASSWORD_LENGTH = 12;

export function generateTradingPassword(random: (max: number) => number = randomInt): string {
  const pick = (set: string) => set[random(set.length)]!;
  const letters = LOWER + UPPER + DIGITS;
  const chars = [pick(LOWER), pick(UPPER), pick(DIGITS), pick(PASSWORD_SPECIALS)];
  while (chars.length < TRADING_PASSWORD_LENGTH) chars.push(pick(letters));
  for (let i = chars.length - 1; i > 0; i--) {
    const j = random(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

/** The rule both MT4 and MT5 accept: 8–15 characters, lower, upper, digit, exactly one special from the safe set. */
export function isValidTradingPassword(password: string): boolean {
  const specials = [...password].filter((c) => PASSWORD_SPECIALS.includes(c)).length;
  return (
    password.length >= 8 &&
    password.length <= 15 &&
    /[a-z]/.test(password) &&
    /[A-Z]/.test(password) &&
    /\d/.test(password) &&
    specials === 1 &&
    [...password].every((c) => /[A-Za-z0-9]/.test(c) || PASSWORD_SPECIALS.includes(c))
  );
}
