/** Shapes the control screens read from the API (dates arrive as ISO strings, money as integer minor units). */

export interface Dashboard {
  generatedAt: string;
  timeZone: string;
  deposits: {
    days: string[];
    currencies: string[];
    rows: {
      day: string;
      currency: string;
      count: number;
      amountMinor: number;
      postedCount: number;
      postedMinor: number;
    }[];
  } | null;
  operations: { byStatus: { status: string; kind: string; count: number }[] } | null;
  breaks: {
    openByClass: { class: string; count: number }[];
    lastRun: { id: string; businessDate: string; status: string; startedAt: string; finishedAt: string | null } | null;
  } | null;
  sync: {
    lagAlertSeconds: number;
    servers: {
      server: string;
      platform: string;
      environment: string;
      syncedTo: string | null;
      lagSeconds: number | null;
      consecutiveFailures: number;
      lastError: string | null;
    }[];
  } | null;
  alerts: {
    openBySeverity: { severity: string; count: number }[];
    latest: {
      id: string;
      kind: string;
      severity: string;
      title: string;
      status: string;
      occurrences: number;
      lastSeenAt: string;
    }[];
  } | null;
}

// --- reconciliation -------------------------------------------------------------------------------------------------

export const breakClasses = [
  'missing_on_server',
  'server_not_in_crm',
  'psp_not_in_crm',
  'crm_not_in_psp',
  'amount_mismatch',
  'duplicate',
  'balance_drift',
] as const;

export interface RunSummary {
  breaks: number;
  byClass: Record<string, number>;
  open: number;
  openByClass: Record<string, number>;
  opened: number;
  reopened: number;
  cleared: number;
  openTotal: number;
  accountsCompared: number;
  accountsSkipped: number;
  durationMs: number;
}

export interface RunSources {
  psp?: { name: string | null; status: string; from?: string; to?: string; lines?: number; error?: string };
  servers?: Record<
    string,
    {
      platform: string;
      status: string;
      syncedTo: string | null;
      cutoffAt: string | null;
      complete: boolean;
      sync: { status: string; error?: string } | null;
      balances: { accounts: number; read: number; failed: number };
      note?: string;
    }
  >;
}

export interface ReconRun {
  id: string;
  businessDate: string;
  status: 'running' | 'completed' | 'failed';
  trigger: 'schedule' | 'manual';
  requestedBy: string;
  timeZone: string;
  cutoffLocal: string;
  cutoffAt: string;
  windowStart: string;
  horizonStart: string | null;
  sources: RunSources;
  summary: RunSummary | null;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
}

/** A break as one run saw it (its status now). */
export interface RunBreakLine {
  breakId: string | null;
  key: string;
  class: string;
  side: string;
  isNew: boolean;
  status: string | null;
  resolution: string | null;
  serverCode: string | null;
  login: number | null;
  clientId: string | null;
  movementId: string | null;
  operationId: string | null;
  reference: string | null;
  psp: string | null;
  pspTransactionId: string | null;
  externalChangeId: string | null;
  currency: string | null;
  crmAmountMinor: number | null;
  otherAmountMinor: number | null;
  differenceMinor: number | null;
  subjectAt: string;
  details: Record<string, unknown> | null;
}

export interface RunReport {
  run: ReconRun;
  breaks: RunBreakLine[];
  cleared: { breakId: string; key: string; class: string }[];
}

export interface ReconBreak {
  id: string;
  key: string;
  class: string;
  side: string;
  status: 'open' | 'resolved';
  resolution: 'cleared' | 'linked_external_change' | 'written_off' | null;
  serverCode: string | null;
  login: number | null;
  tradingAccountId: string | null;
  clientId: string | null;
  movementId: string | null;
  operationId: string | null;
  reference: string | null;
  tradeRecordId: number | null;
  psp: string | null;
  pspTransactionId: string | null;
  externalChangeId: string | null;
  currency: string | null;
  crmAmountMinor: number | null;
  otherAmountMinor: number | null;
  differenceMinor: number | null;
  details: Record<string, unknown> | null;
  subjectAt: string;
  firstSeenAt: string;
  lastSeenAt: string;
  lastSeenRunId: string;
  timesSeen: number;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolutionNote: string | null;
}

export interface WriteOff {
  id: string;
  breakId: string;
  status: 'requested' | 'approved' | 'rejected';
  amountMinor: number;
  currency: string;
  lines: { account: { type: string; ownerId?: string; currency: string }; amountMinor: number }[];
  reason: string;
  requestedBy: string;
  requestedAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionComment: string | null;
  ledgerTransactionId: string | null;
}

export interface BreakEvent {
  id: number;
  action: string;
  actorType: string;
  actorId: string | null;
  runId: string | null;
  at: string;
  details: Record<string, unknown> | null;
}

export interface BreakDetail {
  break: ReconBreak;
  events: BreakEvent[];
  writeOffs: WriteOff[];
  sightings: {
    runId: string;
    businessDate: string;
    cutoffAt: string;
    isNew: boolean;
    differenceMinor: number | null;
  }[];
  movement: {
    id: string;
    kind: string;
    status: string;
    amountMinor: number;
    currency: string;
    psp: string | null;
    pspPaymentId: string | null;
    createdAt: string;
  } | null;
  operation: {
    id: string;
    reference: string;
    kind: string;
    status: string;
    attempts: number;
    serverCode: string;
    login: number | null;
    lastError: { message?: string } | null;
  } | null;
  attempts: {
    id: number;
    attempt: number;
    action: string;
    outcome: string;
    code: number | null;
    serverText: string | null;
    startedAt: string;
    durationMs: number;
  }[];
  operationTrail: { id: number; action: string; actorType: string; actorId: string | null; at: string }[];
  records: {
    id: number;
    serverCode: string;
    login: number;
    ticket: string;
    recordType: string;
    time: string;
    amountMinor: number | null;
    balanceKind: string | null;
    comment: string;
    reference: string | null;
  }[];
  pspLines: {
    id: number;
    psp: string;
    pspTransactionId: string;
    type: string;
    merchantReference: string;
    amountMinor: number;
    currency: string;
    status: string;
    occurredAt: string;
  }[];
  externalChange: ExternalChange | null;
}

// --- external changes -----------------------------------------------------------------------------------------------

export const externalChangeKinds = [
  'balance_record',
  'group_change',
  'leverage_change',
  'trading_change',
  'unknown_account',
] as const;

export interface ExternalChange {
  id: string;
  kind: string;
  serverCode: string;
  login: number;
  tradingAccountId: string | null;
  clientId: string | null;
  ticket: string | null;
  recordKind: string | null;
  amountMinor: number | null;
  currency: string | null;
  comment: string | null;
  before: unknown;
  after: unknown;
  details: unknown;
  ledgerTransactionId: string | null;
  occurredAt: string;
  detectedAt: string;
  status: 'open' | 'acknowledged' | 'explained';
  reviewedBy: string | null;
  reviewedAt: string | null;
  reviewNote: string | null;
}

// --- servers, products, staff, audit ------------------------------------------------------------------------------------

export interface ServerHealth {
  server: string;
  circuit: 'closed' | 'open' | 'half_open' | string;
  consecutiveFailures: number;
  lastPingAt: string | null;
  lastPingLatencyMs: number | null;
  lastSuccessAt: string | null;
  lastError: { at: string; class: string; message: string } | null;
  errorRate: number;
  calls: number;
}

export interface Server {
  id: string;
  code: string;
  platform: 'mt4' | 'mt5';
  environment: 'live' | 'demo';
  address: string;
  managerLogin: number;
  caCertPath: string | null;
  timeZone: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  enabled: boolean;
  health: ServerHealth | null;
}

export interface SyncStatus {
  server: string;
  syncedTo: string | null;
  lagSeconds: number | null;
  lastSuccessAt: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  recordsIngested: number;
  recordsChanged: number;
  feed: unknown;
  backfill: { from: string | null; to: string | null; next: string | null; finishedAt: string | null };
}

export const kycPolicies = [
  'none',
  'create_on_approval',
  'enable_trading_on_approval',
  'move_group_on_approval',
] as const;

export interface Product {
  id: string;
  code: string;
  name: string;
  environment: 'live' | 'demo';
  serverCode: string;
  groupName: string;
  currency: string;
  allowedLeverages: number[];
  defaultLeverage: number;
  kycPolicy: string;
  restrictedGroupName: string | null;
  demoDeposit: number | null;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export const staffRoles = ['admin', 'compliance', 'finance', 'support', 'dealing', 'partner_manager'] as const;

export interface StaffMember {
  id: string;
  email: string;
  name: string;
  roles: string[];
  totpEnabled: boolean;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface AuditEvent {
  id: number;
  at: string;
  actorType: string;
  actorId: string | null;
  action: string;
  entityType: string;
  entityId: string;
  before: unknown;
  after: unknown;
  correlationId: string | null;
  prevHash: string;
  hash: string;
}

export interface ChainReport {
  ok: boolean;
  checked: number;
  brokenAt?: { id: number; reason: string };
}
