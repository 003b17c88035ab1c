import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { differences, normalisePosition, normaliseRecord, VOLUME_SCALE } from './records.ts';

const time = new Date('2026-03-02T10:15:30.123Z');

describe('one model for MT4 and MT5 history', () => {
  it('keeps an MT5 deal as a deal: entry, order, position, volume in lots × 10 000', () => {
    const r = normaliseRecord('mt5-live', 'mt5', {
      type: 'deal',
      ticket: '5001',
      login: 1000,
      order: '7001',
      positionId: '6001',
      symbol: 'XAUUSD',
      side: 'sell',
      entry: 'out_by',
      volumeLots: 0.37,
      price: 2031.45,
      profit: -1250,
      commission: -70,
      swap: 12,
      time,
      comment: 'close by',
      anomalies: [],
    });
    expect(r).toMatchObject({
      recordType: 'deal',
      entry: 'out_by',
      orderTicket: '7001',
      positionId: '6001',
      volume: 3_700,
      profitMinor: -1250,
      amountMinor: null,
      anomalies: null,
    });
    expect(r.volume! / VOLUME_SCALE).toBe(0.37);
  });

  it("keeps MT4's single trade record: open and close in one, ticket = order = position", () => {
    const r = normaliseRecord('mt4-live', 'mt4', {
      type: 'closed_trade',
      ticket: '88',
      login: 200,
      symbol: 'EURUSD',
      side: 'buy',
      volumeLots: 1.5,
      openTime: new Date('2026-03-01T08:00:00Z'),
      closeTime: time,
      openPrice: 1.08,
      closePrice: 1.081,
      profit: 15000,
      commission: -1050,
      swap: -30,
      comment: '',
      anomalies: [],
    });
    expect(r).toMatchObject({
      recordType: 'closed_trade',
      time,
      openTime: new Date('2026-03-01T08:00:00Z'),
      orderTicket: '88',
      positionId: '88',
      entry: null,
      volume: 15_000,
      price: 1.08,
      closePrice: 1.081,
    });
  });

  it('keeps balance records with their kind, signed amount and reference', () => {
    const r = normaliseRecord('mt5-live', 'mt5', {
      type: 'balance',
      ticket: '9',
      login: 1000,
      kind: 'correction',
      amount: -550,
      comment: 'fee',
      reference: null,
      time,
      anomalies: ['amount -5.501 has more digits than USD allows; rounded'],
    });
    expect(r).toMatchObject({ recordType: 'balance', balanceKind: 'correction', amountMinor: -550, reference: null });
    expect(r.anomalies).toHaveLength(1);
  });

  it('reports a volume finer than 0.0001 lot instead of hiding it', () => {
    const r = normaliseRecord('mt5-live', 'mt5', {
      type: 'deal',
      ticket: '1',
      login: 1,
      order: null,
      positionId: null,
      symbol: 'BTCUSD',
      side: 'buy',
      entry: 'in',
      volumeLots: 0.00026,
      price: 1,
      profit: 0,
      commission: 0,
      swap: 0,
      time,
      comment: '',
      anomalies: [],
    });
    expect(r.volume).toBe(3);
    expect(r.anomalies?.[0]).toMatch(/finer than 0.0001 lot/);
  });

  it('changes its content hash exactly when a compared field changes, and names the fields', () => {
    const base = {
      type: 'closed_trade' as const,
      ticket: '88',
      login: 200,
      symbol: 'EURUSD',
      side: 'buy' as const,
      volumeLots: 1,
      openTime: time,
      closeTime: time,
      openPrice: 1.08,
      closePrice: 1.081,
      profit: 100,
      commission: 0,
      swap: 0,
      comment: '',
      anomalies: [],
    };
    const a = normaliseRecord('mt4-live', 'mt4', base);
    expect(normaliseRecord('mt4-live', 'mt4', { ...base }).contentHash).toBe(a.contentHash);
    // Anomalies are derived, not content.
    expect(normaliseRecord('mt4-live', 'mt4', { ...base, anomalies: ['x'] }).contentHash).toBe(a.contentHash);
    const corrected = normaliseRecord('mt4-live', 'mt4', { ...base, profit: 90, closePrice: 1.0809 });
    expect(corrected.contentHash).not.toBe(a.contentHash);
    expect(differences({ ...a, openTime: a.openTime }, corrected)).toEqual({
      before: { closePrice: 1.081, profitMinor: 100 },
      after: { closePrice: 1.0809, profitMinor: 90 },
    });
  });

  it('keeps a finished order: type, state, volumes as placed and left, dated by when it finished', () => {
    const order = {
      type: 'order' as const,
      ticket: '7001',
      login: 300,
      symbol: 'EURUSD',
      orderType: 'buy_limit' as const,
      side: 'buy' as const,
      state: 'canceled' as const,
      volumeLots: 0.5,
      volumeRemainingLots: 0.2,
      price: 1.05,
      triggerPrice: 0,
      stopLoss: 1.04,
      takeProfit: 1.1,
      setupTime: new Date(time.getTime() - 3_600_000),
      doneTime: time,
      expiration: null,
      positionId: '6001',
      comment: 'gtc',
      anomalies: [],
    };
    const r = normaliseRecord('mt5-live', 'mt5', order);
    expect(r).toMatchObject({
      recordType: 'order',
      ticket: '7001',
      time,
      openTime: order.setupTime,
      orderTicket: '7001',
      positionId: '6001',
      side: 'buy',
      volume: 5_000,
      volumeRemaining: 2_000,
      price: 1.05,
      orderType: 'buy_limit',
      orderState: 'canceled',
      stopLoss: 1.04,
      takeProfit: 1.1,
      profitMinor: null,
      amountMinor: null,
    });
    const filled = normaliseRecord('mt5-live', 'mt5', { ...order, state: 'filled', volumeRemainingLots: 0 });
    expect(filled.contentHash).not.toBe(r.contentHash);
    expect(differences(r, filled)).toEqual({
      before: { orderState: 'canceled', volumeRemaining: 2_000 },
      after: { orderState: 'filled', volumeRemaining: 0 },
    });
  });

  it('keeps the content hash of every other record as it was before orders were synced', () => {
    // A changed digest would read as a server-side correction of every record already stored.
    const deal = normaliseRecord('mt5-live', 'mt5', {
      type: 'deal',
      ticket: '1',
      login: 2,
      order: '3',
      positionId: '3',
      symbol: 'EURUSD',
      side: 'buy',
      entry: 'in',
      volumeLots: 0.1,
      price: 1.1,
      profit: 0,
      commission: -70,
      swap: 0,
      time,
      comment: '',
      anomalies: [],
    });
    // login, time, open time, symbol, side, entry, order, position, volume, price, close price, profit, commission,
    // swap, amount, balance kind, reference, comment: the digest's content before orders.
    const before: unknown[] = [2, time.getTime(), null, 'EURUSD', 'buy', 'in', '3', '3', 1000, 1.1, null, 0, -70, 0];
    before.push(null, null, null, '');
    expect(deal.contentHash).toBe(createHash('md5').update(JSON.stringify(before)).digest('base64'));
  });

  it('normalises positions the same way', () => {
    expect(
      normalisePosition('mt4-live', 'mt4', {
        ticket: '5',
        login: 2,
        symbol: 'GBPUSD',
        side: 'sell',
        volumeLots: 0.05,
        openPrice: 1.27,
        currentPrice: 1.26,
        openTime: time,
        profit: 500,
        swap: 0,
        commission: 0,
        anomalies: [],
      }),
    ).toMatchObject({ volume: 500, profitMinor: 500, platform: 'mt4' });
  });
});
