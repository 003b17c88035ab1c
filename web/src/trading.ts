/** Trading shapes the API serves alike to the client portal and the back office. */

/** An open (pending or partly filled) order on a trading server, as trade sync last listed it. */
export interface OpenOrder {
  tradingAccountId: string;
  server: string;
  platform: 'mt4' | 'mt5';
  login: number;
  ticket: string;
  symbol: string;
  orderType: string;
  side: 'buy' | 'sell';
  state: string;
  volumeLots: number;
  volumeRemainingLots: number;
  price: number;
  triggerPrice: number;
  /** 0 when not set. */
  stopLoss: number;
  takeProfit: number;
  setupTime: string;
  expiration: string | null;
  positionId: string | null;
  comment: string;
  updatedAt: string;
}
