/**
 * Records → Web API JSON. Every value is a JSON string (numbers included), money is written with the account
 * currency's digits and prices with the symbol's, and times are server wall-clock epoch seconds (the configured
 * zone's local time written as if it were UTC), `…Msc` fields the same in milliseconds.
 */
import { toServerTime, zoneOffsetMinutes } from '../common/timezone.ts';
import type { Mt5Group } from './config.ts';
import type { DealRecord, OrderRecord, PositionRecord, UserRecord } from './model.ts';
import type { AccountState } from './trading.ts';

export type WireObject = Record<string, string | string[] | string[][]>;

export class WireFormat {
  constructor(private readonly zone: string) {}

  serverMs(utcMs: number): number {
    return toServerTime(utcMs, this.zone);
  }

  seconds(utcMs: number): string {
    return utcMs > 0 ? String(Math.floor(this.serverMs(utcMs) / 1000)) : '0';
  }

  msc(utcMs: number): string {
    return utcMs > 0 ? String(this.serverMs(utcMs)) : '0';
  }

  user(u: UserRecord, currencyDigits: number): WireObject {
    return {
      Login: String(u.login),
      Group: u.group,
      CertSerialNumber: '0',
      Rights: String(u.rights),
      MQID: u.mqid,
      Registration: this.seconds(u.registration),
      LastAccess: this.seconds(u.lastAccess),
      LastPassChange: this.seconds(u.lastPassChange),
      LastIP: '0.0.0.0',
      Name: u.name,
      Company: u.company,
      Account: u.account,
      Country: u.country,
      Language: String(u.language),
      City: u.city,
      State: u.state,
      ZipCode: u.zipCode,
      Address: u.address,
      Phone: u.phone,
      Email: u.email,
      ID: u.idNumber,
      Status: u.status,
      Comment: u.comment,
      Color: String(u.color),
      Leverage: String(u.leverage),
      Agent: String(u.agent),
      Balance: u.balance.toFixed(currencyDigits),
      Credit: u.credit.toFixed(currencyDigits),
      InterestRate: '0',
      CommissionDaily: '0',
      CommissionMonthly: '0',
      BalancePrevDay: u.balance.toFixed(currencyDigits),
      BalancePrevMonth: u.balance.toFixed(currencyDigits),
      EquityPrevDay: u.balance.toFixed(currencyDigits),
      EquityPrevMonth: u.balance.toFixed(currencyDigits),
      LeadCampaign: u.leadCampaign,
      LeadSource: u.leadSource,
    };
  }

  account(a: AccountState): WireObject {
    const d = a.currencyDigits;
    return {
      Login: String(a.login),
      CurrencyDigits: String(d),
      Balance: a.balance.toFixed(d),
      Credit: a.credit.toFixed(d),
      Margin: a.margin.toFixed(d),
      MarginFree: a.marginFree.toFixed(d),
      MarginLevel: a.marginLevel.toFixed(2),
      MarginLeverage: String(a.marginLeverage),
      MarginInitial: '0.00',
      MarginMaintenance: '0.00',
      Profit: a.profit.toFixed(d),
      Storage: a.storage.toFixed(d),
      Commission: (0).toFixed(d),
      Floating: a.floating.toFixed(d),
      Equity: a.equity.toFixed(d),
      SOActivation: '0',
      SOTime: '0',
      SOLevel: '0.00',
      SOEquity: '0.00',
      SOMargin: '0.00',
      Assets: '0.00',
      Liabilities: '0.00',
      BlockedCommission: '0.00',
      BlockedProfit: '0.00',
    };
  }

  deal(d: DealRecord): WireObject {
    const money = d.digitsCurrency;
    return {
      Deal: String(d.deal),
      ExternalID: d.externalId,
      Login: String(d.login),
      Dealer: String(d.dealer),
      Order: String(d.order),
      Action: String(d.action),
      Entry: String(d.entry),
      Reason: String(d.reason),
      Digits: String(d.digits),
      DigitsCurrency: String(money),
      ContractSize: String(d.contractSize),
      Time: this.seconds(d.time),
      TimeMsc: this.msc(d.time),
      Symbol: d.symbol,
      Price: d.price.toFixed(d.digits),
      PriceSL: '0',
      PriceTP: '0',
      PricePosition: d.pricePosition.toFixed(d.digits),
      Volume: String(d.volume),
      VolumeExt: String(d.volumeExt),
      VolumeClosed: d.entry === 1 || d.entry === 2 ? String(d.volume) : '0',
      VolumeClosedExt: d.entry === 1 || d.entry === 2 ? String(d.volumeExt) : '0',
      Profit: d.profit.toFixed(money),
      Storage: d.storage.toFixed(money),
      Commission: d.commission.toFixed(money),
      Fee: (0).toFixed(money),
      RateProfit: '1',
      RateMargin: '1',
      ExpertID: '0',
      PositionID: String(d.positionId),
      Comment: d.comment,
      Flags: '0',
      Gateway: '',
    };
  }

  order(o: OrderRecord): WireObject {
    return {
      Order: String(o.order),
      ExternalID: '',
      Login: String(o.login),
      Dealer: '0',
      Symbol: o.symbol,
      Digits: String(o.digits),
      DigitsCurrency: String(o.digitsCurrency),
      ContractSize: String(o.contractSize),
      State: String(o.state),
      Reason: String(o.reason),
      TimeSetup: this.seconds(o.timeSetup),
      TimeSetupMsc: this.msc(o.timeSetup),
      TimeExpiration: '0',
      TimeDone: this.seconds(o.timeDone),
      TimeDoneMsc: this.msc(o.timeDone),
      Type: String(o.type),
      TypeFill: '0',
      TypeTime: '0',
      PriceOrder: o.priceOrder.toFixed(o.digits),
      PriceTrigger: '0',
      PriceCurrent: o.priceCurrent.toFixed(o.digits),
      PriceSL: '0',
      PriceTP: '0',
      VolumeInitial: String(o.volumeInitial),
      VolumeInitialExt: String(o.volumeInitial * 10_000),
      VolumeCurrent: String(o.volumeCurrent),
      VolumeCurrentExt: String(o.volumeCurrent * 10_000),
      ExpertID: '0',
      PositionID: String(o.positionId),
      PositionByID: '0',
      Comment: o.comment,
    };
  }

  position(p: PositionRecord, profit: number, priceCurrent: number): WireObject {
    const money = p.digitsCurrency;
    return {
      Position: String(p.position),
      ExternalID: '',
      Login: String(p.login),
      Dealer: '0',
      Symbol: p.symbol,
      Action: String(p.action),
      Digits: String(p.digits),
      DigitsCurrency: String(money),
      Reason: String(p.reason),
      ContractSize: String(p.contractSize),
      TimeCreate: this.seconds(p.timeCreate),
      TimeUpdate: this.seconds(p.timeUpdate),
      TimeCreateMsc: this.msc(p.timeCreate),
      TimeUpdateMsc: this.msc(p.timeUpdate),
      PriceOpen: p.priceOpen.toFixed(p.digits),
      PriceCurrent: priceCurrent.toFixed(p.digits),
      PriceSL: '0',
      PriceTP: '0',
      Volume: String(p.volume),
      VolumeExt: String(p.volume * 10_000),
      Profit: profit.toFixed(money),
      Storage: p.storage.toFixed(money),
      RateProfit: '1',
      RateMargin: '1',
      ExpertID: '0',
      ExpertPositionID: '0',
      Comment: p.comment,
    };
  }

  /**
   * IMTConGroup fields a CRM reads. LeverageMin/LeverageMax and LoginFrom/LoginTo are simulator additions (on a real
   * server those limits live in symbol and server settings), so a go-live check can read them from one place.
   */
  group(g: Mt5Group): WireObject {
    return {
      Group: g.name,
      Server: '0',
      PermissionsFlags: '0',
      AuthMode: '0',
      AuthPasswordMin: String(g.passwordMin),
      Company: g.company,
      Currency: g.currency,
      CurrencyDigits: String(g.currencyDigits),
      ReportsMode: '0',
      MarginMode: String(g.marginMode),
      MarginFreeMode: '1',
      MarginSOMode: '0',
      MarginCall: String(g.marginCall),
      MarginStopOut: String(g.marginStopOut),
      DemoLeverage: '100',
      DemoDeposit: '0',
      LimitHistory: '0',
      LimitOrders: '0',
      LimitSymbols: '0',
      LimitPositions: '0',
      LeverageMin: String(g.leverageMin),
      LeverageMax: String(g.leverageMax),
      LoginFrom: String(g.loginFrom),
      LoginTo: String(g.loginTo),
    };
  }

  /** `/api/time/server`: "unix-time yyyy.mm.dd hh:mm:ss", both in server wall-clock time. */
  serverTime(utcMs: number): WireObject {
    const ms = this.serverMs(utcMs);
    const iso = new Date(ms).toISOString();
    const text = `${iso.slice(0, 4)}.${iso.slice(5, 7)}.${iso.slice(8, 10)} ${iso.slice(11, 19)}`;
    return { Time: `${Math.floor(ms / 1000)} ${text}` };
  }

  /**
   * `/api/time/get` (IMTConTime): TimeZone is the zone's standard offset in minutes, Daylight whether it observes
   * daylight saving, DaylightState whether DST is in effect now. Days: 7 × 24 hour modes (1 = trading), Sunday first.
   */
  timeConfig(utcMs: number): WireObject {
    const year = new Date(utcMs).getUTCFullYear();
    const jan = zoneOffsetMinutes(this.zone, Date.UTC(year, 0, 15));
    const jul = zoneOffsetMinutes(this.zone, Date.UTC(year, 6, 15));
    const standard = Math.min(jan, jul);
    const now = zoneOffsetMinutes(this.zone, utcMs);
    const days: string[][] = [];
    for (let d = 0; d < 7; d++) days.push(Array.from({ length: 24 }, () => (d === 0 || d === 6 ? '0' : '1')));
    return {
      Daylight: jan !== jul ? '1' : '0',
      DaylightState: now !== standard ? '1' : '0',
      TimeZone: String(standard),
      TimeServer: '127.0.0.1',
      TimeZoneName: this.zone,
      Days: days,
    };
  }
}
