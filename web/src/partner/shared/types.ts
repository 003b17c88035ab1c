/** What the commission routes answer (the partner area's and the back office's are the same shapes). */

export interface Bucket {
  start: string;
  currency: string;
  directVolumeLots: number;
  subIbVolumeLots: number;
  amountMinor: number;
  lines: number;
}

export interface Statement {
  partnerId: string;
  from: string;
  to: string;
  volumeLots: { direct: number; subIb: number };
  totals: { currency: string; amountMinor: number; lines: number; reversals: number }[];
  byLevel: { level: number; currency: string; volumeLots: number; amountMinor: number; lines: number }[];
  bySymbolGroup: {
    level: number;
    symbolGroup: string;
    currency: string;
    lines: number;
    reversals: number;
    volumeLots: number;
    amountMinor: number;
  }[];
  byPlanVersion: {
    planId: string | null;
    planCode: string | null;
    planVersionId: string | null;
    version: number | null;
    currency: string;
    amountMinor: number;
    lines: number;
  }[];
}

export interface Line {
  id: number;
  kind: 'accrual' | 'reversal';
  reversesLineId: number | null;
  level: number;
  sourcePartnerId: string;
  tradeRecordId: number;
  tradeVersion: number;
  serverCode: string;
  platform: string;
  ticket: string;
  login: number;
  entry: string | null;
  side: string | null;
  symbol: string;
  baseSymbol: string;
  symbolGroup: string;
  tradeTime: string;
  volumeLots: number;
  planId: string | null;
  planVersionId: string | null;
  planVersion: number | null;
  tierVolumeBeforeLots: number | null;
  perLotRate: string | null;
  revenueMinor: number | null;
  revenuePercent: string | null;
  overrideBaseMinor: number | null;
  overridePercent: string | null;
  amountMinor: number;
  currency: string;
  createdAt: string;
}

export interface LinesPage {
  items: Line[];
  total: number;
  next: number | null;
}

export interface Balance {
  currency: string;
  balanceMinor: number;
  availableMinor?: number;
}

export interface Payout {
  id: string;
  partnerId: string;
  amountMinor: number;
  currency: string;
  destination: 'trading_account' | 'wallet';
  partnerServerLoginId: string | null;
  tradingAccountId: string | null;
  serverCode: string | null;
  login: number | null;
  wallet: { method: string; account: string; note: string | null } | null;
  status: 'requested' | 'approved' | 'paid' | 'rejected' | 'failed' | 'cancelled';
  requestedByType: 'partner' | 'staff';
  requestedById: string;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionComment: string | null;
  operationId: string | null;
  ticket: string | null;
  failureReason: string | null;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
  /** Back office only: who the partner is. */
  partnerName?: string | null;
  partnerEmail?: string | null;
}

export interface ReferredClient {
  id: string;
  name: string;
  country: string;
  kycStatus: string;
  registeredAt: string;
  accounts: number;
}
