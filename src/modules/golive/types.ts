/**
 * The go-live module owns the pre-launch checklist (checks.ts: is every server, product, payment rule, sync, alert
 * channel, staff member and the audit chain ready for real money?) and the full-workflow rehearsal (rehearse.ts: one
 * client's whole journey on a demo server and the PSP sandbox, timed, cleaned up afterwards). It changes nothing it
 * checks; the rehearsal's changes are confined to its own marked test client, partner and demo account.
 */

export type CheckStatus = 'pass' | 'warn' | 'fail';

export type CheckArea =
  | 'servers'
  | 'separation'
  | 'products'
  | 'payments'
  | 'sync'
  | 'alerts'
  | 'staff'
  | 'audit'
  | 'rehearsal';

/** One line of the checklist: what was checked, what was found, and what to do about it. */
export interface CheckResult {
  /** Stable, e.g. `server:mt5-live:money` or `product:std-usd:group`. */
  id: string;
  area: CheckArea;
  title: string;
  status: CheckStatus;
  /** What was found, in plain words (figures included). */
  detail: string;
  /** What to change for it to pass; null when it passes. */
  fix: string | null;
  durationMs: number;
}

export interface ChecklistReport {
  startedAt: Date;
  finishedAt: Date;
  durationMs: number;
  summary: Record<CheckStatus, number>;
  /** `fail` when any check fails, `warn` when any warns, else `pass`. */
  status: CheckStatus;
  checks: CheckResult[];
}

export type StepStatus = 'pending' | 'running' | 'passed' | 'failed' | 'skipped';

/** One step of a rehearsal, with its timing and what it proved. */
export interface RehearsalStep {
  id: string;
  title: string;
  status: StepStatus;
  startedAt: Date | null;
  durationMs: number | null;
  /** What happened (ids, tickets, amounts), or why it failed. */
  detail: string;
  /** Facts the step checked, for the record (e.g. the server ticket of a deposit). */
  evidence: Record<string, unknown>;
}

export interface RehearsalReport {
  id: string;
  status: 'running' | 'passed' | 'failed' | 'refused';
  startedAt: Date;
  finishedAt: Date | null;
  durationMs: number | null;
  requestedBy: string;
  server: string | null;
  product: string | null;
  steps: RehearsalStep[];
  /** What the cleanup could not undo (and why), to be handled by hand; empty when everything was cleaned up. */
  leftBehind: string[];
  /** Set when the rehearsal was refused before any step (live server, no sandbox, missing configuration). */
  error: string | null;
}
