import { describe, expect, it } from 'vitest';
import { RET as SIM_RET } from '../../../sim/mt4/codes.ts';
import { KNOWN_RETCODES, RET, retcodeMeaning } from './retcodes.ts';

describe('MT4 return codes', () => {
  it('knows every code the bridge contract defines', () => {
    expect([...KNOWN_RETCODES].sort((a, b) => a - b)).toEqual(Object.values(SIM_RET).sort((a, b) => a - b));
  });

  it.each([
    [RET.OK, 'ok', undefined],
    [RET.OK_NONE, 'ok', undefined],
    [RET.ERROR, 'definitive', 'other'],
    [RET.INVALID_DATA, 'definitive', 'bad_data'],
    [RET.TECH_PROBLEM, 'ambiguous', undefined],
    [RET.OLD_VERSION, 'definitive', 'not_configured'],
    [RET.NO_CONNECT, 'no_session', undefined],
    [RET.NOT_ENOUGH_RIGHTS, 'definitive', 'no_rights'],
    [RET.TOO_FREQUENT, 'not_sent', undefined],
    [RET.MALFUNCTION, 'ambiguous', undefined],
    [RET.ACCOUNT_DISABLED, 'definitive', 'account_disabled'],
    [RET.BAD_ACCOUNT_INFO, 'definitive', 'not_found'],
    [RET.TRADE_TIMEOUT, 'ambiguous', undefined],
    [RET.TRADE_DISABLE, 'definitive', 'trade_disabled'],
    [RET.TRADE_NO_MONEY, 'definitive', 'not_enough_money'],
    [RET.BROKER_BUSY, 'not_sent', undefined],
    [RET.TOO_MANY_REQ, 'not_sent', undefined],
  ])('ret %i is %s (%s)', (ret, cls, reason) => {
    expect(retcodeMeaning(ret)).toEqual(reason === undefined ? { class: cls } : { class: cls, reason });
  });

  it('treats a code it does not know as possibly applied', () => {
    expect(retcodeMeaning(77)).toEqual({ class: 'ambiguous' });
    expect(retcodeMeaning(-1)).toEqual({ class: 'ambiguous' });
  });
});
