/** The shapes the back-office operations screens read from the API (`/api/backoffice`), as JSON gives them. */

export const movementKinds = ['deposit', 'withdrawal', 'credit', 'transfer', 'adjustment'] as const;
export const movementStatuses = [
  'awaiting_payment',
  'payment_pending',
  'payment_failed',
  'requested',
  'awaiting_approval',
  'awaiting_second_approval',
  'approved',
  'posted',
  'posting_failed',
  'debited',
  'payout_pending',
  'completed',
  'payout_failed',
  'returning',
  'returned',
  'reversing',
  'refunded',
  'charged_back',
  'reversal_failed',
  'rejected',
  'cancelled',
  'failed',
] as const;
/** The statuses in which a withdrawal, credit or adjustment waits for a staff decision. */
export const awaitingDecision = ['requested', 'awaiting_approval', 'awaiting_second_approval'];

export const operationStatuses = [
  'waiting',
  'pending',
  'in_flight',
  'unknown',
  'succeeded',
  'failed',
  'needs_review',
  'cancelled',
] as const;
export const operationKinds = ['open_account', 'update_account', 'set_password', 'balance', 'credit'] as const;
/** Operation statuses that still change by themselves (the screen refreshes while it shows one). */
export const operationMoving = ['waiting', 'pending', 'in_flight', 'unknown'];

export interface Approval {
  id: number;
  movementId: string;
  staffId: string;
  staffName: string | null;
  decision: 'approve' | 'reject';
  comment: string | null;
  at: string;
}

export interface Movement {
  id: string;
  kind: (typeof movementKinds)[number];
  direction: 'in' | 'out';
  status: string;
  clientId: string;
  tradingAccountId: string;
  amountMinor: number;
  currency: string;
  counterAccountId: string | null;
  counterAmountMinor: number | null;
  counterCurrency: string | null;
  fxRate: string | null;
  psp: string | null;
  pspPaymentId: string | null;
  pspPayoutId: string | null;
  destination: Record<string, unknown> | null;
  refundedMinor: number;
  operationId: string | null;
  returnOperationId: string | null;
  ticket: string | null;
  requestedByType: 'client' | 'staff';
  requestedById: string;
  requestedByName: string | null;
  reason: string | null;
  failureReason: string | null;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
  clientName: string | null;
  clientEmail: string | null;
  login: number | null;
  serverCode: string | null;
}

export interface MovementPage {
  items: Movement[];
  total: number;
  next: number | null;
}

export interface ApprovalQueueItem extends Movement {
  approvals: Approval[];
  approvalsRequired: number;
}

export interface TimelineEntry {
  at: string;
  source: 'client' | 'staff' | 'psp' | 'crm' | 'server';
  type: string;
  message: string;
  details?: Record<string, unknown> | null;
}

export interface LedgerEntry {
  entryId: number;
  transactionId: string;
  kind: string;
  description: string;
  createdAt: string;
  account: { type: string; ownerId: string | null; currency: string };
  currency: string;
  amountMinor: number;
}

export interface MovementDetailBody {
  movement: Movement;
  approvals: Approval[];
  approvalsRequired: number;
  operations: { id: string; reference: string; kind: string; status: string; attempts: number }[];
  summary: string;
  entries: TimelineEntry[];
  ledger: LedgerEntry[];
}

export interface Operation {
  id: string;
  seq: number;
  reference: string;
  kind: string;
  serverCode: string;
  login: number | null;
  payload: unknown;
  status: string;
  attempts: number;
  nextAttemptAt: string;
  worker: string | null;
  result: unknown;
  ticket: string | null;
  lastError: { message?: string; class?: string; code?: unknown } | null;
  handler: string | null;
  requestedBy: string | null;
  correlationId: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export interface Attempt {
  id: number;
  operationId: string;
  reference: string;
  attempt: number;
  action: 'post' | 'verify';
  serverCode: string;
  login: number | null;
  request: unknown;
  outcome: string;
  code: number | null;
  serverText: string | null;
  reply: unknown;
  startedAt: string;
  durationMs: number;
  worker: string;
}

export interface OperationDetailBody {
  operation: Operation;
  attempts: Attempt[];
  movement: {
    id: string;
    kind: string;
    status: string;
    clientId: string;
    amountMinor: number;
    currency: string;
  } | null;
  account: { id: string; clientId: string; currency: string } | null;
  history: {
    id: number;
    at: string;
    action: string;
    actorType: string;
    actorId: string | null;
    actorName: string | null;
    after: unknown;
  }[];
}

export interface AlertRow {
  id: string;
  kind: string;
  severity: 'info' | 'warning' | 'critical';
  title: string;
  details: Record<string, unknown> | null;
  status: 'open' | 'acknowledged' | 'resolved';
  occurrences: number;
  firstSeenAt: string;
  lastSeenAt: string;
  acknowledgedBy: string | null;
  acknowledgedByName: string | null;
  acknowledgedAt: string | null;
  resolvedBy: string | null;
  resolvedByName: string | null;
  resolvedAt: string | null;
  resolution: string | null;
}

export interface Client {
  id: string;
  email: string;
  emailVerifiedAt: string | null;
  name: string;
  country: string;
  phone: string | null;
  status: 'active' | 'suspended' | 'closed';
  kycStatus: string;
  kycExpiresAt: string | null;
  partnerId: string | null;
  totpEnabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface Account {
  id: string;
  clientId: string;
  productCode: string;
  productName: string;
  environment: 'live' | 'demo';
  serverCode: string;
  login: number | null;
  group: string;
  currency: string;
  leverage: number;
  status: string;
  tradingEnabled: boolean;
  failureReason: string | null;
  createdAt: string;
}

export interface KycDocument {
  id: string;
  clientId: string;
  type: string;
  originalName: string;
  contentType: string;
  sizeBytes: number;
  status: 'pending' | 'approved' | 'rejected';
  reviewNote: string | null;
  reviewedBy: string | null;
  reviewedAt: string | null;
  uploadedAt: string;
}

export interface KycBody {
  kycStatus: string;
  kycExpiresAt: string | null;
  documents: KycDocument[];
  history: {
    id: number;
    fromStatus: string;
    toStatus: string;
    reason: string | null;
    actorType: string;
    at: string;
  }[];
}

export interface Note {
  id: number;
  at: string;
  text: string;
  staffId: string | null;
  staffName: string | null;
}

export interface HistoryItem {
  id: number;
  server: string;
  platform: 'mt4' | 'mt5';
  login: number;
  currency: string;
  /** `order`: a finished order, listed only when asked for by type. */
  type: 'deal' | 'closed_trade' | 'balance' | 'order';
  ticket: string;
  /** Orders: when the order finished; openTime when it was placed. */
  time: string;
  openTime: string | null;
  symbol: string | null;
  side: 'buy' | 'sell' | null;
  entry: string | null;
  volumeLots: number | null;
  price: number | null;
  closePrice: number | null;
  profitMinor: number | null;
  amountMinor: number | null;
  balanceKind: string | null;
  /** Orders only: type (buy_limit …), final state (filled, canceled, expired, rejected), lots left, SL/TP. */
  orderType: string | null;
  orderState: string | null;
  volumeRemainingLots: number | null;
  stopLoss: number | null;
  takeProfit: number | null;
  positionId: string | null;
  reference: string | null;
  comment: string;
}

export type { OpenOrder } from '../../trading.ts';
