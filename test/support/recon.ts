/**
 * Reconciliation in tests: a service wired like production (reconciliationFor) whose business day ends at the next
 * whole minute after everything the test has done so far, in UTC, so that every record, line and operation of the
 * test falls inside the day; `run(n)` moves the test clock past the cut-off of that day (+ n days) and reconciles it.
 */

import { reconciliationFor } from '../../src/modules/reconciliation/from-context.ts';
import type { ReconRun } from '../../src/modules/reconciliation/service.ts';
import type { Testbed } from './accounts-testbed.ts';

const DAY = 86_400_000;

export function reconDay(t: Testbed, options: { lookbackDays?: number } = {}) {
  // The simulators and the PSP run on real time, the CRM on the test clock: the cut-off is after both.
  const after = Math.max(Date.now(), t.clock.now().getTime()) + 60_000;
  const cutoffAt = new Date(Math.ceil(after / 60_000) * 60_000);
  const cutoff = cutoffAt.toISOString().slice(11, 16);
  const service = reconciliationFor({
    ...t.ctx,
    config: { ...t.ctx.config, reconciliation: { cutoff, timeZone: 'UTC', lookbackDays: options.lookbackDays ?? 31 } },
  });
  const dateOf = (days = 0) => new Date(cutoffAt.getTime() + days * DAY).toISOString().slice(0, 10);
  return {
    service,
    cutoffAt,
    date: dateOf(0),
    dateOf,
    /** Moves the test clock a minute past the cut-off of day `days` (never backwards) and reconciles that day. */
    async run(days = 0, requestedBy = 'test'): Promise<ReconRun> {
      const at = cutoffAt.getTime() + days * DAY + 60_000;
      if (t.clock.now().getTime() < at) t.clock.set(new Date(at));
      return service.run({ date: dateOf(days), requestedBy });
    },
  };
}
