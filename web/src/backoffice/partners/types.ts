/** Back-office partner and commission shapes, as the API answers them. */
import type { Payout } from '../../partner/shared/types.ts';

export interface PartnerView {
  id: string;
  email: string;
  name: string;
  referralCode: string;
  status: 'active' | 'suspended';
  parentId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface PartnerListItem extends PartnerView {
  referredClients: number;
}

export interface ServerLogin {
  id: string;
  partnerId: string;
  serverCode: string;
  login: number;
  tradingAccountId: string | null;
  createdBy: string;
  createdAt: string;
}

export interface Assignment {
  id: string;
  planId: string | null;
  planCode: string | null;
  planName: string | null;
  effectiveFrom: string;
  reason: string;
  createdBy: string;
  createdAt: string;
}

export interface PlanVersion {
  id: string;
  planId: string;
  version: number;
  effectiveFrom: string;
  rules: PlanRules;
  note: string | null;
  createdBy: string;
  createdAt: string;
}

export interface Plan {
  id: string;
  code: string;
  name: string;
  currency: string;
  status: 'active' | 'archived';
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface PlanListItem extends Plan {
  versions: number;
  latestVersion: PlanVersion | null;
}

export interface PlanRules {
  symbolGroups?: Record<string, string[]>;
  perLot?: { fromLots: string; rates: Record<string, string> }[];
  revenueShare?: { percent: string; basis: 'commission' | 'commission_and_client_loss' } | null;
  overrides?: { level: number; perLot?: Record<string, string>; percentOfDirect?: string }[];
}

export interface BackofficePayout extends Payout {
  partnerName: string | null;
  partnerEmail: string | null;
  requestedByName: string | null;
  decidedByName: string | null;
}

export interface Recomputation {
  partnerId: string;
  from: string;
  to: string;
  trades: number;
  expected: { currency: string; amountMinor: number; lines: number }[];
  stored: { currency: string; amountMinor: number; lines: number }[];
  equal: boolean;
  differences: {
    tradeRecordId: number | null;
    ticket: string | null;
    level: number | null;
    problem: string;
    field?: string;
    expected?: unknown;
    stored?: unknown;
  }[];
  truncated: boolean;
}
