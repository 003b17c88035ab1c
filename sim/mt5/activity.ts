/**
 * Simulated clients trading, so the CRM has deals, orders, positions, commissions and swaps to sync. Each step moves
 * the market one notch, fills or expires limit orders, then lets every eligible account (enabled, trading allowed,
 * not read-only, with equity) maybe act: close (part of) a position, place a limit order, or open at market.
 *
 * Deterministic by seed: one RNG drives prices and decisions, accounts are visited in login order, and the RNG and
 * prices are saved after every step, so two simulators with the same seed and accounts produce the same deals, and
 * a restarted one continues the same sequence.
 */
import { Rng } from '../common/rng.ts';
import type { GroupBook } from './config.ts';
import { type Market, roundTo, SYMBOLS, symbolSpec } from './market.ts';
import { DealReason, lotsToVolume, MarginMode, type UserRecord, UserRights } from './model.ts';
import type { Mt5State } from './state.ts';
import type { TradingEngine } from './trading.ts';

interface SavedActivity {
  step: number;
  rng: number[];
  bids: Record<string, number>;
}

const META_KEY = 'activity';
const LOT_SIZES = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1] as const;
const REASONS = [DealReason.CLIENT, DealReason.MOBILE, DealReason.WEB, DealReason.EXPERT] as const;
/** Chance an eligible account does anything in a step. */
const ACT_CHANCE = 0.35;
/** Simulated clients commit at most this share of their free margin to a new position (they avoid stop-outs). */
const MARGIN_SHARE = 0.25;
/** Swaps accrue every this many steps (the simulated day boundary). */
const ROLLOVER_EVERY = 10;

/** Saved prices, so the market resumes where it was after a restart. */
export function savedBids(state: Mt5State): Record<string, number> | undefined {
  return (state.meta.get(META_KEY) as SavedActivity | undefined)?.bids;
}

export interface StepResult {
  steps: number;
  /** Step counter after the run (total since the state was created). */
  step: number;
  deals: number;
}

export class ActivityGenerator {
  private readonly rng: Rng;
  private stepCount: number;

  constructor(
    private readonly state: Mt5State,
    private readonly engine: TradingEngine,
    private readonly market: Market,
    private readonly groups: GroupBook,
    seed: number,
  ) {
    const saved = state.meta.get(META_KEY) as SavedActivity | undefined;
    // A distinct stream from the fault injector's, so injecting faults does not change the trading.
    this.rng = saved ? new Rng(saved.rng) : new Rng((seed ^ 0x5eed) >>> 0);
    this.stepCount = saved?.step ?? 0;
  }

  get step(): number {
    return this.stepCount;
  }

  run(steps: number): StepResult {
    let deals = 0;
    for (let i = 0; i < steps; i++) deals += this.stepOnce();
    return { steps, step: this.stepCount, deals };
  }

  private stepOnce(): number {
    this.stepCount += 1;
    this.market.step(this.rng);
    let deals = this.engine.processPendingOrders(this.stepCount).length;
    const accounts = [...this.state.users.values()].filter((u) => this.eligible(u)).sort((a, b) => a.login - b.login);
    for (const account of accounts) {
      if (!this.rng.chance(ACT_CHANCE)) continue;
      deals += this.act(account.login);
    }
    if (this.stepCount % ROLLOVER_EVERY === 0) this.engine.rollover();
    const saved: SavedActivity = { step: this.stepCount, rng: this.rng.state(), bids: this.market.snapshot() };
    this.state.meta.put(META_KEY, saved);
    return deals;
  }

  private eligible(user: UserRecord): boolean {
    const r = user.rights;
    if (!(r & UserRights.ENABLED) || r & UserRights.TRADE_DISABLED || r & UserRights.READONLY) return false;
    if (!this.groups.get(user.group)) return false;
    return this.engine.accountState(user).equity > 0;
  }

  private act(login: number): number {
    const user = this.state.users.get(login);
    if (!user) return 0;
    const group = this.groups.get(user.group);
    if (!group) return 0;
    const reason = this.rng.pick(REASONS);
    const positions = this.state.positionsOf(login);
    const roll = this.rng.next();

    if (positions.length > 0 && roll < 0.4) {
      const p = this.rng.pick(positions);
      const partial = p.volume >= 2 * lotsToVolume(0.01) && this.rng.chance(0.25);
      const volume = partial ? Math.max(lotsToVolume(0.01), Math.floor(p.volume / 200) * 100) : p.volume;
      const action: 0 | 1 = p.action === 0 ? 1 : 0;
      const positionId = group.marginMode === MarginMode.HEDGING ? p.position : undefined;
      return this.engine.executeMarket(login, { symbol: p.symbol, action, volume, positionId, reason }).length;
    }

    const spec = this.rng.pick(SYMBOLS);
    const action: 0 | 1 = this.rng.chance(0.5) ? 0 : 1;
    const budget = this.engine.accountState(user).marginFree * MARGIN_SHARE;
    let lots: number = this.rng.pick(LOT_SIZES);
    while (lots >= 0.01 && this.engine.marginRequired(user, spec.name, action, lotsToVolume(lots)) > budget) {
      // Round down: rounding 0.005 to the nearest would give 0.01 again, and an account that cannot afford the
      // smallest lot would loop here for ever.
      lots = Math.floor((lots / 2) * 100 + 1e-9) / 100;
    }
    if (lots < 0.01) return 0;
    const volume = lotsToVolume(lots);

    if (roll < 0.47) {
      // A limit order some distance away; it fills if the walk reaches it before it expires.
      const points = this.rng.int(5, 40) * 10 * 10 ** -symbolSpec(spec.name).digits;
      const price = action === 0 ? this.market.bid(spec.name) - points : this.market.ask(spec.name) + points;
      const expiresAt = this.stepCount + this.rng.int(5, 30);
      this.engine.placeLimit(
        login,
        { symbol: spec.name, action, volume, reason },
        roundTo(price, spec.digits),
        expiresAt,
      );
      return 0;
    }
    return this.engine.executeMarket(login, { symbol: spec.name, action, volume, reason }).length;
  }
}
