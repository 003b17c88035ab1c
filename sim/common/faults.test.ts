import { describe, expect, it } from 'vitest';
import { FaultInjector, parseFaultSpec } from './faults.ts';
import { Rng } from './rng.ts';

describe('FaultInjector', () => {
  it('fires a counted rule exactly count times on its endpoint only', () => {
    const faults = new FaultInjector(new Rng(1));
    faults.add({ endpoint: '/api/trade/balance', kind: 'drop_reply', count: 2 });
    expect(faults.decide('/api/user/get')).toEqual([]);
    expect(faults.decide('/api/trade/balance').map((d) => d.kind)).toEqual(['drop_reply']);
    expect(faults.decide('/api/trade/balance').map((d) => d.kind)).toEqual(['drop_reply']);
    expect(faults.decide('/api/trade/balance')).toEqual([]);
    expect(faults.list()).toEqual([]);
  });

  it('matches prefixes and everything', () => {
    const faults = new FaultInjector(new Rng(1));
    faults.add({ endpoint: '/api/user/*', kind: 'latency', latencyMs: 5 });
    faults.add({ endpoint: '*', kind: 'error', code: 7 });
    expect(faults.decide('/api/user/add').map((d) => d.kind)).toEqual(['latency', 'error']);
    expect(faults.decide('/api/deal/get').map((d) => d.kind)).toEqual(['error']);
  });

  it('is repeatable for a seed with a probability', () => {
    const run = () => {
      const faults = new FaultInjector(new Rng(42));
      faults.add({ endpoint: '*', kind: 'reset', probability: 0.3 });
      return Array.from({ length: 200 }, () => faults.decide('/x').length);
    };
    const a = run();
    expect(run()).toEqual(a);
    const fired = a.reduce((s, n) => s + n, 0);
    expect(fired).toBeGreaterThan(30);
    expect(fired).toBeLessThan(90);
  });

  it('rate-limits per second on the injected clock', () => {
    let now = 1_000_000;
    const faults = new FaultInjector(new Rng(1), () => now);
    faults.add({ endpoint: '*', kind: 'rate_limit', perSecond: 2 });
    expect([1, 2, 3, 4].map(() => faults.decide('/x').length)).toEqual([0, 0, 1, 1]);
    now += 1000;
    expect(faults.decide('/x')).toEqual([]);
  });

  it('rejects incomplete rules with a message naming the missing field', () => {
    const faults = new FaultInjector(new Rng(1));
    expect(() => faults.add({ kind: 'error' })).toThrow(/needs code/);
    expect(() => parseFaultSpec('kind=down')).toThrow(/downSeconds: a down fault needs downSeconds/);
    expect(() => parseFaultSpec('kind')).toThrow(/key=value/);
    expect(parseFaultSpec('endpoint=/v1/TradeTransaction,kind=drop_reply,count=1')).toMatchObject({
      endpoint: '/v1/TradeTransaction',
      kind: 'drop_reply',
      count: 1,
    });
  });
});
