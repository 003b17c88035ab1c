import { describe, expect, it } from 'vitest';
import { challengeAnswer, isChallengeHex, newChallenge, webApiPasswordHash } from './auth.ts';
import { GroupBook, resolveGroup, resolveManager } from './config.ts';
import { roundTo } from './market.ts';
import { groupMatches, IpAllowList, splitMasks } from './masks.ts';
import { retcodeString } from './retcodes.ts';
import { passwordIsStrong } from './users.ts';

describe('Web API password hash (published vectors)', () => {
  const h = webApiPasswordHash('Password1');

  it('derives H from the password over raw bytes', () => {
    expect(h.toString('hex')).toBe('904ba8ecb16273d2f0ae9c3b8a023752');
  });

  it('answers the server challenge', () => {
    expect(challengeAnswer(h, '73007dc7184747ce0f7c98516ef1c851')).toBe('77fe51827f7fa69dd80fbec9aa33f1bb');
  });

  it('answers the client challenge', () => {
    expect(challengeAnswer(h, '4db98fec17aab4dc5a240bdc659e8395')).toBe('1732021b1b332f51660b2b315eed3a35');
  });

  it('differs from the classic bug of hashing hex text instead of bytes', () => {
    expect(webApiPasswordHash('Password2').toString('hex')).not.toBe('904ba8ecb16273d2f0ae9c3b8a023752');
    expect(challengeAnswer(h, '73007DC7184747CE0F7C98516EF1C851')).toBe('77fe51827f7fa69dd80fbec9aa33f1bb');
  });

  it('refuses challenges that are not 16 bytes of hex', () => {
    expect(() => challengeAnswer(h, 'abc')).toThrow(RangeError);
    expect(isChallengeHex(newChallenge())).toBe(true);
    expect(newChallenge()).not.toBe(newChallenge());
  });
});

describe('group masks', () => {
  it('covers a subtree with * and carves out with !', () => {
    const masks = splitMasks('real\\*, !real\\vip*');
    expect(groupMatches(masks, 'real\\standard-usd')).toBe(true);
    expect(groupMatches(masks, 'REAL\\Standard-USD')).toBe(true);
    expect(groupMatches(masks, 'real\\vip-usd')).toBe(false);
    expect(groupMatches(masks, 'demo\\standard-usd')).toBe(false);
  });

  it('needs a positive mask; negations alone cover nothing', () => {
    expect(groupMatches(['!demo\\*'], 'real\\a')).toBe(false);
    expect(groupMatches(['*'], 'anything\\at\\all')).toBe(true);
    expect(groupMatches(['real\\a'], 'real\\ab')).toBe(false);
  });

  it('treats regex characters in group names literally', () => {
    expect(groupMatches(['real\\a.b'], 'real\\axb')).toBe(false);
    expect(groupMatches(['real\\a.b'], 'real\\a.b')).toBe(true);
  });
});

describe('IP allow-list', () => {
  it('accepts CIDR blocks, plain addresses and ranges', () => {
    const list = new IpAllowList(['10.0.0.0/8', '192.168.1.7', '172.16.0.1-172.16.0.9', '::1/128']);
    expect(list.allows('10.1.2.3')).toBe(true);
    expect(list.allows('192.168.1.7')).toBe(true);
    expect(list.allows('192.168.1.8')).toBe(false);
    expect(list.allows('172.16.0.5')).toBe(true);
    expect(list.allows('::1')).toBe(true);
    expect(list.allows('127.0.0.1')).toBe(false);
    expect(list.allows(undefined)).toBe(false);
  });

  it('counts IPv4-mapped IPv6 peers as IPv4', () => {
    expect(new IpAllowList(['127.0.0.0/8']).allows('::ffff:127.0.0.1')).toBe(true);
  });

  it('rejects malformed entries at start-up', () => {
    expect(() => new IpAllowList(['10.0.0.0/33'])).toThrow(RangeError);
    expect(() => new IpAllowList(['not-an-ip'])).toThrow(RangeError);
  });
});

describe('configuration', () => {
  it('validates groups and managers with a message that names the problem', () => {
    expect(() => resolveGroup({ name: 'real\\x', currency: 'CHF' }, 'live')).toThrow(/currency must be one of/);
    expect(() => resolveGroup({ name: 'bad name', currency: 'USD' }, 'live')).toThrow(/without spaces/);
    expect(() => resolveManager({ login: 5, password: 'x', rights: ['fly' as never] }, 'live')).toThrow(
      /unknown right/,
    );
    const g = resolveGroup({ name: 'real\\x', currency: 'usd' }, 'live');
    expect(() => new GroupBook([g, { ...g, name: 'REAL\\X' }])).toThrow(/configured twice/);
  });

  it('gives JPY groups zero digits by default', () => {
    expect(resolveGroup({ name: 'demo\\j', currency: 'JPY' }, 'demo').currencyDigits).toBe(0);
  });
});

describe('password strength (MT5 rule)', () => {
  it.each([
    ['Strong-Pass1', true],
    ['Aa1!aaaa', true],
    ['Aa1!aaa', false], // 7 characters
    ['Aa1!aaaaaaaaaaaaa', false], // 17 characters
    ['aa1!aaaa', false], // no upper case
    ['AA1!AAAA', false], // no lower case
    ['Aab!aaaa', false], // no digit
    ['Aa1aaaaa', false], // no special
  ])('%s → %s', (password, strong) => {
    expect(passwordIsStrong(password)).toBe(strong);
  });

  it('honours a group minimum above 8', () => {
    expect(passwordIsStrong('Aa1!aaaa', 10)).toBe(false);
    expect(passwordIsStrong('Aa1!aaaaaa', 10)).toBe(true);
  });
});

describe('money and retcodes', () => {
  it('rounds half away from zero at the currency digits', () => {
    expect(roundTo(1.005, 2)).toBe(1.01);
    expect(roundTo(-1.005, 2)).toBe(-1.01);
    expect(roundTo(0.1 + 0.2, 2)).toBe(0.3);
    expect(roundTo(1000.4, 0)).toBe(1000);
  });

  it('writes retcodes as "<code> <text>"', () => {
    expect(retcodeString(0)).toBe('0 Done');
    expect(retcodeString(3006)).toBe('3006 Invalid account password');
    expect(retcodeString(10019)).toBe('10019 Not enough money');
    expect(retcodeString(4242)).toBe('4242 Error');
  });
});
