/**
 * Wraps a connector with the circuit breaker and health figures of its server. Every registry caller gets this
 * wrapper, never a bare connector, so a server that is down is not hammered and its state is visible.
 */
import type { Clock } from '../clock.ts';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from './circuit-breaker.ts';
import { CircuitOpenError, isPlatformError, type PlatformError } from './errors.ts';
import type { Platform } from './types.ts';

export interface ServerHealth {
  server: string;
  circuit: CircuitState;
  consecutiveFailures: number;
  lastPingAt: Date | null;
  lastPingLatencyMs: number | null;
  lastSuccessAt: Date | null;
  lastError: { at: Date; class: string; message: string } | null;
  /** Share of the last calls (up to 100) that failed in transport. */
  errorRate: number;
  calls: number;
}

const WINDOW = 100;

export class GuardedPlatform implements Platform {
  readonly breaker: CircuitBreaker;
  private readonly outcomes: boolean[] = [];
  private calls = 0;
  private lastPingAt: Date | null = null;
  private lastPingLatencyMs: number | null = null;
  private lastSuccessAt: Date | null = null;
  private lastError: ServerHealth['lastError'] = null;

  constructor(
    private readonly inner: Platform,
    private readonly clock: Clock,
    breaker: CircuitBreakerOptions = {},
  ) {
    this.breaker = new CircuitBreaker(clock, breaker);
  }

  get kind() {
    return this.inner.kind;
  }
  get server() {
    return this.inner.server;
  }

  health(): ServerHealth {
    const failures = this.outcomes.filter((ok) => !ok).length;
    return {
      server: this.server,
      circuit: this.breaker.state,
      consecutiveFailures: this.breaker.failures,
      lastPingAt: this.lastPingAt,
      lastPingLatencyMs: this.lastPingLatencyMs,
      lastSuccessAt: this.lastSuccessAt,
      lastError: this.lastError,
      errorRate: this.outcomes.length === 0 ? 0 : failures / this.outcomes.length,
      calls: this.calls,
    };
  }

  private acquire(operation: string): void {
    if (this.breaker.tryAcquire()) return;
    throw new CircuitOpenError(
      `server ${this.server} is not being called: its circuit is open after ${this.breaker.failures} consecutive failures (${operation} not sent; a probe is let through every ${this.breaker.openMs / 1000} s)`,
      { server: this.server, platform: this.kind, code: null, serverText: 'circuit open' },
    );
  }

  private settle(ok: boolean, err?: unknown): void {
    this.calls += 1;
    this.outcomes.push(ok);
    if (this.outcomes.length > WINDOW) this.outcomes.shift();
    if (ok) {
      this.lastSuccessAt = this.clock.now();
      this.breaker.recordSuccess();
      return;
    }
    const e = err as PlatformError;
    this.lastError = { at: this.clock.now(), class: e.errorClass, message: e.message };
    this.breaker.recordFailure();
  }

  private async guard<T>(operation: string, call: () => Promise<T>): Promise<T> {
    this.acquire(operation);
    try {
      const result = await call();
      this.settle(true);
      return result;
    } catch (err) {
      if (isPlatformError(err)) {
        // A definitive refusal means the server is up and answering.
        this.settle(err.errorClass === 'definitive', err);
      } else {
        this.breaker.release();
      }
      throw err;
    }
  }

  openAccount: Platform['openAccount'] = (a) => this.guard('openAccount', () => this.inner.openAccount(a));
  findAccountByReference: Platform['findAccountByReference'] = (g, r) =>
    this.guard('findAccountByReference', () => this.inner.findAccountByReference(g, r));
  getAccount: Platform['getAccount'] = (l) => this.guard('getAccount', () => this.inner.getAccount(l));
  updateAccount: Platform['updateAccount'] = (l, u) =>
    this.guard('updateAccount', () => this.inner.updateAccount(l, u));
  setPassword: Platform['setPassword'] = (l, k, p) => this.guard('setPassword', () => this.inner.setPassword(l, k, p));
  postBalanceOperation: Platform['postBalanceOperation'] = (op) =>
    this.guard('postBalanceOperation', () => this.inner.postBalanceOperation(op));
  findBalanceOperation: Platform['findBalanceOperation'] = (l, r, s) =>
    this.guard('findBalanceOperation', () => this.inner.findBalanceOperation(l, r, s));
  listOpenPositions: Platform['listOpenPositions'] = (l) =>
    this.guard('listOpenPositions', () => this.inner.listOpenPositions(l));
  listOpenOrders: Platform['listOpenOrders'] = (l) => this.guard('listOpenOrders', () => this.inner.listOpenOrders(l));
  getOrders: Platform['getOrders'] = (t) => this.guard('getOrders', () => this.inner.getOrders(t));
  listLogins: Platform['listLogins'] = () => this.guard('listLogins', () => this.inner.listLogins());
  listGroups: Platform['listGroups'] = () => this.guard('listGroups', () => this.inner.listGroups());
  getGroup: Platform['getGroup'] = (n) => this.guard('getGroup', () => this.inner.getGroup(n));
  serverTime: Platform['serverTime'] = () => this.guard('serverTime', () => this.inner.serverTime());

  async ping(): Promise<number> {
    const latency = await this.guard('ping', () => this.inner.ping());
    this.lastPingAt = this.clock.now();
    this.lastPingLatencyMs = latency;
    return latency;
  }

  async *listHistory(query: Parameters<Platform['listHistory']>[0]) {
    // Every step goes through the breaker (most resolve from a page already fetched), so a server dying mid-listing
    // opens it and the listing stops with a typed error.
    const iterator = this.inner.listHistory(query)[Symbol.asyncIterator]();
    while (true) {
      const step = await this.guard('listHistory', () => iterator.next());
      if (step.done) return;
      yield step.value;
    }
  }

  async *listHistoryPages(query: Parameters<Platform['listHistoryPages']>[0]) {
    const iterator = this.inner.listHistoryPages(query)[Symbol.asyncIterator]();
    while (true) {
      const step = await this.guard('listHistory', () => iterator.next());
      if (step.done) return;
      yield step.value;
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
