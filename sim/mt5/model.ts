/**
 * The records the simulator keeps (plain JSON, journaled by the state store) and the MT5 enumerations they use.
 * Money is kept as doubles already rounded to the account currency's digits, as the server does; times are UTC
 * epoch milliseconds and only become server wall-clock time when written to the wire.
 */

/** IMTUser::EnUsersRights bits the simulator acts on. */
export const UserRights = {
  ENABLED: 0x1,
  PASSWORD: 0x2,
  TRADE_DISABLED: 0x4,
  INVESTOR: 0x8,
  TRAILING: 0x20,
  EXPERT: 0x40,
  REPORTS: 0x100,
  READONLY: 0x200,
} as const;

/** What a new account gets unless the request says otherwise: enabled, may trade, trailing stops, EAs, reports. */
export const DEFAULT_USER_RIGHTS =
  UserRights.ENABLED | UserRights.PASSWORD | UserRights.TRAILING | UserRights.EXPERT | UserRights.REPORTS;

/** IMTDeal::EnDealAction. */
export const DealAction = {
  BUY: 0,
  SELL: 1,
  BALANCE: 2,
  CREDIT: 3,
  CHARGE: 4,
  CORRECTION: 5,
  BONUS: 6,
  COMMISSION: 7,
} as const;

/** The balance-operation types `/api/trade/balance` accepts. */
export const BALANCE_TYPES = [
  DealAction.BALANCE,
  DealAction.CREDIT,
  DealAction.CHARGE,
  DealAction.CORRECTION,
  DealAction.BONUS,
] as const;
export type BalanceType = (typeof BALANCE_TYPES)[number];

/** IMTDeal::EnDealEntry. */
export const DealEntry = { IN: 0, OUT: 1, INOUT: 2, OUT_BY: 3 } as const;

/** IMTDeal::EnDealReason (the ones the simulator produces). */
export const DealReason = { CLIENT: 0, EXPERT: 1, DEALER: 2, MOBILE: 16, WEB: 17 } as const;

/** IMTOrder::EnOrderType. */
export const OrderType = { BUY: 0, SELL: 1, BUY_LIMIT: 2, SELL_LIMIT: 3 } as const;

/** IMTOrder::EnOrderState. */
export const OrderState = {
  STARTED: 0,
  PLACED: 1,
  CANCELED: 2,
  PARTIAL: 3,
  FILLED: 4,
  REJECTED: 5,
  EXPIRED: 6,
} as const;

/** IMTConGroup margin modes: MT5 calls them retail netting (0) and retail hedging (2). */
export const MarginMode = { NETTING: 0, HEDGING: 2 } as const;
export type MarginModeValue = (typeof MarginMode)[keyof typeof MarginMode];

export interface UserRecord {
  login: number;
  group: string;
  name: string;
  email: string;
  country: string;
  city: string;
  state: string;
  zipCode: string;
  address: string;
  phone: string;
  company: string;
  /** The client's identity document number (`ID` on the wire). */
  idNumber: string;
  status: string;
  comment: string;
  language: number;
  mqid: string;
  color: number;
  account: string;
  leadSource: string;
  leadCampaign: string;
  leverage: number;
  rights: number;
  /** The IB's login, 0 for none. */
  agent: number;
  balance: number;
  credit: number;
  registration: number;
  lastAccess: number;
  lastPassChange: number;
  /** Salted SHA-256 of each password; the simulator never keeps them in clear. */
  passwords: { main: string; investor: string; api?: string; salt: string };
}

export interface DealRecord {
  deal: number;
  login: number;
  /** Manager or dealer login that made a balance operation; 0 for client trades. */
  dealer: number;
  order: number;
  action: number;
  entry: number;
  reason: number;
  symbol: string;
  digits: number;
  digitsCurrency: number;
  contractSize: number;
  /** Lots × 10 000. */
  volume: number;
  /** Lots × 10⁸. */
  volumeExt: number;
  price: number;
  profit: number;
  commission: number;
  storage: number;
  time: number;
  positionId: number;
  comment: string;
  externalId: string;
  /** Position's open price for closing deals (PricePosition on the wire). */
  pricePosition: number;
}

export interface OrderRecord {
  order: number;
  login: number;
  symbol: string;
  digits: number;
  digitsCurrency: number;
  contractSize: number;
  type: number;
  state: number;
  reason: number;
  timeSetup: number;
  timeDone: number;
  priceOrder: number;
  priceCurrent: number;
  /** Lots × 10 000, as placed. */
  volumeInitial: number;
  /** Lots × 10 000 still to fill. */
  volumeCurrent: number;
  positionId: number;
  comment: string;
  /** Simulator bookkeeping (not on the wire): the activity step at which a pending order is canceled. */
  expiresAtStep?: number;
}

export interface PositionRecord {
  position: number;
  login: number;
  symbol: string;
  /** 0 buy, 1 sell. */
  action: 0 | 1;
  digits: number;
  digitsCurrency: number;
  contractSize: number;
  reason: number;
  timeCreate: number;
  timeUpdate: number;
  priceOpen: number;
  /** Lots × 10 000. */
  volume: number;
  /** Swap accrued while open, in the account currency. */
  storage: number;
  comment: string;
}

/** Lots → the wire's integer volume units. */
export function lotsToVolume(lots: number): number {
  return Math.round(lots * 10_000);
}

export function volumeToLots(volume: number): number {
  return volume / 10_000;
}
