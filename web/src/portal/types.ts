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
  /** `order`: a finished order (filled, canceled, expired or rejected), listed only when asked for by type. */
  type: 'deal' | 'closed_trade' | 'balance' | 'order';
  ticket: string;
  /** Orders: when the order finished. */
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
  /** Orders only: buy_limit, sell_stop …; filled, canceled, expired, rejected; the lots left unfilled. */
  orderType: string | null;
  orderState: string | null;
  volumeRemainingLots: number | null;
  stopLoss: number | null;
  takeProfit: number | null;
  comment: string;
}

export type { OpenOrder } from '../trading.ts';

const orderTypeWords: Record<string, string> = {
  buy: 'Buy',
  sell: 'Sell',
  buy_limit: 'Buy limit',
  sell_limit: 'Sell limit',
  buy_stop: 'Buy stop',
  sell_stop: 'Sell stop',
  buy_stop_limit: 'Buy stop limit',
  sell_stop_limit: 'Sell stop limit',
  close_by: 'Close by',
};
const orderStateWords: Record<string, string> = {
  started: 'being checked',
  placed: 'waiting',
  canceled: 'cancelled',
  partial: 'partly filled',
  filled: 'filled',
  rejected: 'rejected',
  expired: 'expired',
  request_add: 'being placed',
  request_modify: 'being changed',
  request_cancel: 'being cancelled',
};

/** "Buy limit", "Sell stop", … */
export const orderTypeLabel = (type: string | null) =>
  type ? (orderTypeWords[type] ?? type.replaceAll('_', ' ')) : 'Order';
/** "filled", "cancelled", "expired", … */
export const orderStateLabel = (state: string | null) =>
  state ? (orderStateWords[state] ?? state.replaceAll('_', ' ')) : '';
/** 0.5 → "0.50 lots", 1 → "1.00 lot". */
export const lotsLabel = (lots: number) => `${lots.toFixed(2)} ${lots === 1 ? 'lot' : 'lots'}`;

/** "Buy limit 0.50 lots EURUSD at 1.0850": an order in plain words. */
export function orderWords(o: {
  orderType: string | null;
  volumeLots: number | null;
  symbol: string | null;
  price: number | null;
}): string {
  const parts = [orderTypeLabel(o.orderType)];
  if (o.volumeLots !== null) parts.push(lotsLabel(o.volumeLots));
  if (o.symbol) parts.push(o.symbol);
  // A market order has no price of its own (0): it took the market's.
  if (o.price) parts.push(`at ${o.price}`);
  return parts.join(' ');
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
