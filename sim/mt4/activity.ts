/**
 * Trading activity: simulated clients open and close trades so that history, IB volume, storage, stop-outs and
 * pumping have something real to carry. Everything is driven by one seeded Rng and by step counts, never by wall
 * time: the same seed, the same accounts and the same number of steps give the same trades (tickets, symbols,
 * volumes, prices, profits, commissions, storage). Only the records' times come from the server clock.
 *
 * A step is one simulated market hour: prices take one random-walk step, every 24th step is a rollover (storage),
 * stop-outs are applied, then each eligible account (enabled, not read-only, in an enabled group, with money) may
 * close some of its trades and open one. The Rng's state, the prices and the step count are journaled after every
 * step, so a restarted server continues the same sequence.
 */
import { Rng } from '../common/rng.ts';
import { Mt4Error } from './codes.ts';
import type { Market } from './market.ts';
import { everyGroup } from './session.ts';
import type { Mt4State } from './state.ts';
import type { TradingDesk } from './trading.ts';
import type { UserDirectory } from './users.ts';

export const ROLLOVER_EVERY_STEPS = 24;
const MAX_OPEN_PER_ACCOUNT = 3;
const OPEN_CHANCE = 0.3;
const CLOSE_CHANCE = 0.2;
const EA_CHANCE = 0.3;
const VOLUMES = [1, 2, 5, 10, 20, 50, 100] as const;
const EA_MAGIC = 20_250_101;

interface ActivityCheckpoint {
  rng: number[];
  bids: Record<string, number>;
  step: number;
}

export interface StepReport {
  steps: number;
  /** Total steps taken since the server was first started. */
  step: number;
  opened: number[];
  closed: number[];
  stoppedOut: number[];
  storageCharged: number;
  /** Opens refused by the server (not enough margin): drawn, attempted, not placed. */
  refused: number;
}

export class ActivityGenerator {
  private readonly rng: Rng;
  private stepCount: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly state: Mt4State,
    private readonly market: Market,
    private readonly users: UserDirectory,
    private readonly desk: TradingDesk,
    seed: number,
  ) {
    const saved = state.meta.get('activity') as ActivityCheckpoint | undefined;
    // A different stream from the fault injector's, so adding a fault rule never changes the trades.
    this.rng = new Rng(saved?.rng ?? (seed ^ 0x4d54_3441) | 0);
    this.stepCount = saved?.step ?? 0;
  }

  /** The prices the walk had reached before a restart, for the Market to resume from. */
  static savedBids(state: Mt4State): Record<string, number> | undefined {
    return (state.meta.get('activity') as ActivityCheckpoint | undefined)?.bids;
  }

  get steps(): number {
    return this.stepCount;
  }

  step(count = 1): StepReport {
    const report: StepReport = {
      steps: count,
      step: this.stepCount,
      opened: [],
      closed: [],
      stoppedOut: [],
      storageCharged: 0,
      refused: 0,
    };
    for (let i = 0; i < count; i++) this.once(report);
    report.step = this.stepCount;
    this.state.meta.put('activity', {
      rng: this.rng.state(),
      bids: this.market.snapshot(),
      step: this.stepCount,
    } satisfies ActivityCheckpoint);
    return report;
  }

  /** Runs a step every `intervalMs` of real time (only when the simulator was started with activityIntervalMs). */
  start(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => this.step(1), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private once(report: StepReport): void {
    this.stepCount += 1;
    this.market.walk(this.rng);
    if (this.stepCount % ROLLOVER_EVERY_STEPS === 0) report.storageCharged += this.desk.rollover();
    report.stoppedOut.push(...this.desk.stopOuts().map((t) => t.order));

    const tradable = this.market.names().filter((s) => this.market.symbol(s)?.trade === 2);
    if (tradable.length === 0) return;
    for (const user of this.state.allUsers()) {
      const group = this.users.group(user.group);
      if (!group || group.enable === 0 || user.enable === 0 || user.enable_read_only === 1) continue;
      if (user.balance + user.credit <= 0) continue;

      for (const trade of this.state.openTradesOf(user.login)) {
        if (this.rng.chance(CLOSE_CHANCE)) report.closed.push(this.desk.closeTrade(trade.order, everyGroup).order);
      }
      // Every draw is made before the attempt, so a refused open consumes the same numbers as a placed one.
      const wantsToOpen = this.rng.chance(OPEN_CHANCE);
      const symbol = this.rng.pick(tradable);
      const cmd = this.rng.chance(0.5) ? 0 : 1;
      const volume = this.rng.pick(VOLUMES);
      const expert = this.rng.chance(EA_CHANCE);
      if (!wantsToOpen || this.state.openTradesOf(user.login).length >= MAX_OPEN_PER_ACCOUNT) continue;
      try {
        const trade = this.desk.openTrade(
          { login: user.login, symbol, cmd, volume, comment: expert ? 'EA grid v2' : '', magic: expert ? EA_MAGIC : 0 },
          everyGroup,
        );
        report.opened.push(trade.order);
      } catch (error) {
        if (!(error instanceof Mt4Error)) throw error;
        report.refused += 1;
      }
    }
  }
}
