import { describe, expect, it } from 'vitest';
import { newReference } from '../reference.ts';
import { utcToServerSeconds } from '../server-time.ts';
import {
  cutToBytes,
  isPendingOrder,
  toAccount,
  toBalanceRecord,
  toClosedTrade,
  toGroup,
  toHistoryRecord,
  toOrder,
} from './records.ts';

const ZONE = 'Europe/Nicosia';
const usd = toGroup({ group: 'real-std-usd', currency: 'USD', digits: 2, leverage_min: 1, leverage_max: 500 });
// 2026-07-01 12:00 UTC is 15:00 in Nicosia (summer time, UTC+3).
const julyNoon = new Date('2026-07-01T12:00:00Z');
const wall = utcToServerSeconds(julyNoon, ZONE);

function trade(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    order: 42,
    login: 100_001,
    symbol: '',
    cmd: 6,
    volume: 0,
    open_time: wall,
    close_time: wall,
    open_price: 0,
    close_price: 0,
    commission: 0,
    storage: 0,
    taxes: 0,
    profit: 0,
    comment: '',
    ...fields,
  };
}

describe('MT4 record normalisation', () => {
  it('reads server wall-clock seconds in the server zone', () => {
    expect(wall - julyNoon.getTime() / 1000).toBe(3 * 3600);
    expect(toBalanceRecord(trade({ profit: 1 }), 2, ZONE).time).toEqual(julyNoon);
  });

  it('reports an amount the currency cannot represent instead of hiding it', () => {
    const record = toBalanceRecord(trade({ profit: 10.005, comment: 'dealer correction' }), 2, ZONE);
    expect(record).toMatchObject({ amount: 1001, reference: null, kind: 'balance' });
    expect(record.anomalies).toEqual(['amount 10.005 is not representable with 2 digits; rounded to 10.01']);
  });

  it('reads float noise as the amount it stands for, without an anomaly', () => {
    const account = toAccount(
      { login: 1, group: 'real-std-usd', balance: 0.1 + 0.2, credit: 0, regdate: wall, enable: 1 },
      { equity: 0.30000000000000004, margin: 0, margin_free: 0.30000000000000004, margin_level: 0 },
      usd,
      ZONE,
    );
    expect(account).toMatchObject({ balance: 30, equity: 30, freeMargin: 30, marginLevel: null, anomalies: [] });
  });

  it('does not read a missing money field as a silent zero', () => {
    const account = toAccount({ login: 1, group: 'real-std-usd', credit: 0, regdate: wall }, null, usd, ZONE);
    expect(account.balance).toBe(0);
    expect(account.anomalies).toEqual(['balance is missing or not a number (undefined); read as 0']);
  });

  it('maps flags, agent and credit records', () => {
    const account = toAccount(
      { login: 7, group: 'g', balance: 0, credit: 0, enable: 0, enable_read_only: 1, agent_account: 0, regdate: wall },
      null,
      usd,
      ZONE,
    );
    expect(account).toMatchObject({ enabled: false, tradingAllowed: false, agentLogin: null });
    const reference = newReference('credit_in');
    expect(toBalanceRecord(trade({ cmd: 7, profit: -50, comment: `${reference} bonus` }), 2, ZONE)).toMatchObject({
      kind: 'credit',
      amount: -5000,
      reference,
    });
  });

  it('turns a closed trade into lots, minor units and UTC, and keeps taxes visible', () => {
    const closed = toClosedTrade(
      trade({
        cmd: 1,
        symbol: 'EURUSD',
        volume: 7,
        open_time: wall - 60,
        open_price: 1.0855,
        close_price: 1.0841,
        profit: 9.8,
        commission: -0.49,
        storage: -0.12,
        taxes: -0.01,
      }),
      2,
      ZONE,
    );
    expect(closed).toMatchObject({
      side: 'sell',
      volumeLots: 0.07,
      profit: 980,
      commission: -49,
      swap: -12,
      openTime: new Date(julyNoon.getTime() - 60_000),
      closeTime: julyNoon,
    });
    expect(closed.anomalies).toEqual(['taxes -0.01 are not carried by this record']);
  });

  it('reads pending orders (cmd 2–5): open ones placed, deleted ones canceled, those past expiration expired', () => {
    const pending = trade({ cmd: 4, volume: 25, symbol: 'EURUSD', open_price: 1.2, sl: 1.1, tp: 1.3, close_time: 0 });
    expect(isPendingOrder(pending)).toBe(true);
    expect(isPendingOrder(trade({ cmd: 0 }))).toBe(false);
    expect(isPendingOrder(trade({ cmd: 6 }))).toBe(false);
    expect(toOrder(pending, ZONE)).toEqual({
      type: 'order',
      ticket: '42',
      login: 100_001,
      symbol: 'EURUSD',
      orderType: 'buy_stop',
      side: 'buy',
      state: 'placed',
      volumeLots: 0.25,
      volumeRemainingLots: 0.25,
      price: 1.2,
      triggerPrice: 0,
      stopLoss: 1.1,
      takeProfit: 1.3,
      setupTime: julyNoon,
      doneTime: null,
      expiration: null,
      positionId: null,
      comment: '',
      anomalies: [],
    });
    const deleted = trade({ cmd: 3, volume: 10, symbol: 'EURUSD', close_time: wall + 60 });
    expect(toHistoryRecord(deleted, 2, ZONE, true)).toMatchObject({
      type: 'order',
      orderType: 'sell_limit',
      side: 'sell',
      state: 'canceled',
      doneTime: new Date(julyNoon.getTime() + 60_000),
    });
    const expired = trade({ cmd: 5, volume: 10, symbol: 'EURUSD', expiration: wall + 60, close_time: wall + 60 });
    expect(toHistoryRecord(expired, 2, ZONE, true)).toMatchObject({ orderType: 'sell_stop', state: 'expired' });
    // An open pending order is not history, even when orders are asked for.
    expect(toHistoryRecord(pending, 2, ZONE, true)).toBeNull();
  });

  it('leaves deleted pending orders (unless orders are asked for) and open trades out of history', () => {
    expect(toHistoryRecord(trade({ cmd: 2, volume: 10, symbol: 'EURUSD' }), 2, ZONE)).toBeNull();
    expect(toHistoryRecord(trade({ cmd: 0, close_time: 0, volume: 10, symbol: 'EURUSD' }), 2, ZONE)).toBeNull();
    expect(toHistoryRecord(trade({ cmd: 0, volume: 10, symbol: 'EURUSD' }), 2, ZONE)?.type).toBe('closed_trade');
    expect(toHistoryRecord(trade({ cmd: 6, profit: 5 }), 2, ZONE)?.type).toBe('balance');
  });

  it('reads group configuration as hedging with its leverage limits, when the bridge sends them', () => {
    expect(usd).toEqual({
      name: 'real-std-usd',
      currency: 'USD',
      currencyDigits: 2,
      marginMode: 'hedging',
      leverageMin: 1,
      leverageMax: 500,
    });
    expect(toGroup({ group: 'x', currency: 'JPY', digits: 0 })).toMatchObject({ leverageMin: null, leverageMax: null });
  });

  it('cuts text at a byte count without splitting a character', () => {
    expect(cutToBytes('abcdé', 5)).toBe('abcd');
    expect(cutToBytes('abcdé', 6)).toBe('abcdé');
    expect(Buffer.byteLength(cutToBytes('ü'.repeat(40), 31))).toBe(30);
  });
});
