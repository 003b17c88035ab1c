import { describe, expect, it } from 'vitest';
import { answersMatch, challengeAnswer, passwordHash } from './auth.ts';

describe('MT5 Web API authentication (published test vectors)', () => {
  const hash = passwordHash('Password1');

  it('derives H from the password', () => {
    expect(hash.toString('hex')).toBe('904ba8ecb16273d2f0ae9c3b8a023752');
  });

  it('answers the server challenge', () => {
    expect(challengeAnswer(hash, '73007dc7184747ce0f7c98516ef1c851')).toBe('77fe51827f7fa69dd80fbec9aa33f1bb');
  });

  it('checks the server answer to the client challenge', () => {
    const expected = challengeAnswer(hash, '4db98fec17aab4dc5a240bdc659e8395');
    expect(expected).toBe('1732021b1b332f51660b2b315eed3a35');
    expect(answersMatch(expected, '1732021B1B332F51660B2B315EED3A35')).toBe(true);
    expect(answersMatch(expected, '00000000000000000000000000000000')).toBe(false);
    expect(answersMatch(expected, 'short')).toBe(false);
  });

  it('rejects a malformed challenge', () => {
    expect(() => challengeAnswer(hash, 'xyz')).toThrow(/32 hex/);
  });
});
