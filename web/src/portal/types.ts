/** The shapes the portal API answers with (see src/http/portal-*.ts); money is always integer minor units. */

export interface Product {
  id: string;
  code: string;
  name: string;
  environment: 'live' | 'demo';
  currency: string;
  allowedLeverages: number[];
  defaultLeverage: number;
  demoDeposit: number | null;
  kycRequired: boolean;
}

export interface Account {
  id: string;
  productId: string;
  productCode: string;
  productName: string;
  environment: 'live' | 'demo';
  serverCode: string;
  login: number | null;
  group: string;
  currency: string;
  leverage: number;
  status: 'requested' | 'opening' | 'open' | 'failed' | 'closed';
  tradingEnabled: boolean;
  failureReason: string | null;
  createdAt: string;
}

export interface OperationSummary {
  id: string;
  reference: string;
  kind: string;
  status: string;
}

export interface Movement {
  id: string;
  kind: 'deposit' | 'withdrawal' | 'credit' | 'transfer' | 'adjustment';
  direction: 'in' | 'out';
  status: string;
  accountId: string;
  amountMinor: number;
  currency: string;
  counterAccountId: string | null;
  counterAmountMinor: number | null;
  counterCurrency: string | null;
  fxRate: string | null;
  paymentUrl: string | null;
  refundedMinor: number | null;
  failureReason: string | null;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

export interface MovementPage {
  items: Movement[];
  total: number;
  next: number | null;
}

export interface TimelineEntry {
  at: string;
  source: 'client' | 'staff' | 'psp' | 'crm' | 'server';
  type: string;
  message: string;
}

export interface MovementDetail {
  movement: Movement;
  summary: string;
  entries: TimelineEntry[];
}

export interface KycDocument {
  id: string;
  type: string;
  originalName: string;
  contentType: string;
  sizeBytes: number;
  status: 'pending' | 'approved' | 'rejected';
  reviewNote: string | null;
  reviewedAt: string | null;
  uploadedAt: string;
}

export interface HistoryItem {
  id: number;
  tradingAccountId: string;
  server: string;
  platform: 'mt4' | 'mt5';
  login: number;
  currency: string;
  type: 'deal' | 'closed_trade' | 'balance';
  ticket: string;
  time: string;
  symbol: string | null;
  side: 'buy' | 'sell' | null;
  entry: string | null;
  volumeLots: number | null;
  price: number | null;
  closePrice: number | null;
  profitMinor: number | null;
  commissionMinor: number | null;
  swapMinor: number | null;
  amountMinor: number | null;
  balanceKind: string | null;
  comment: string;
}

export interface HistoryPage {
  items: HistoryItem[];
  total: number;
}

/** Movements still on their way (the screen keeps looking until they settle). */
export const settledStatuses = new Set([
  'payment_failed',
  'posted',
  'posting_failed',
  'completed',
  'returned',
  'refunded',
  'charged_back',
  'reversal_failed',
  'rejected',
  'cancelled',
  'failed',
]);

export const kindLabel: Record<Movement['kind'], string> = {
  deposit: 'Deposit',
  withdrawal: 'Withdrawal',
  credit: 'Bonus credit',
  transfer: 'Transfer',
  adjustment: 'Adjustment',
};

export function accountLabel(a: Pick<Account, 'login' | 'productName' | 'currency' | 'environment'>): string {
  return `${a.login ?? 'pending'} · ${a.productName} (${a.environment}, ${a.currency})`;
}
