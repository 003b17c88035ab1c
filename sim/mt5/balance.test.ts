/** Balance operations and the trade history they leave: deals, positions, orders, over the Web API. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toServerTime } from '../common/timezone.ts';
import { field, type Mt5TestClient } from './test-client.ts';
import { allDeals, deposit, openAccount, startTestSim, type TestSim } from './test-support.ts';

let t: TestSim;
let c: Mt5TestClient;
const USD = 'real\\standard-usd';
const EUR = 'real\\pro-eur';
const JPY = 'real\\standard-jpy';
const ZONE = 'Europe/Nicosia';

beforeAll(async () => {
  t = await startTestSim();
  c = await t.authed();
});
afterAll(async () => {
  await t?.close();
});

async function account(login: number): Promise<Record<string, string>> {
  return (await c.get('/api/user/account/get', { login })).answer as Record<string, string>;
}

async function dealerTrade(login: number, side: 'buy' | 'sell', lots: number, symbol = 'EURUSD', positionId?: number) {
  const r = await t.control('POST', '/control/dealer/trade', {
    login,
    symbol,
    side,
    lots,
    ...(positionId ? { positionId } : {}),
  });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r.json.deals as Record<string, string>[];
}

const serverNow = (): number => Math.floor(toServerTime(Date.now(), ZONE) / 1000);

describe('/api/trade/balance', () => {
  it('posts a deposit as a balance deal and answers its ticket', async () => {
    const login = await openAccount(c, USD);
    const before = serverNow();
    const reply = await c.get('/api/trade/balance', { login, type: 2, balance: 2000, comment: 'crm:dep-0001' });
    expect(reply.body).toEqual({ retcode: '0 Done', answer: { Ticket: expect.stringMatching(/^\d+$/) } });
    const ticket = Number(field(reply.answer, 'ticket'));
    const deal = (await c.get('/api/deal/get', { ticket })).answer as Record<string, string>;
    expect(deal).toMatchObject({
      Deal: String(ticket),
      Login: String(login),
      Action: '2',
      Entry: '0',
      Profit: '2000.00',
      Comment: 'crm:dep-0001',
      Dealer: String(t.sim.manager.login),
      Volume: '0',
      Symbol: '',
    });
    expect(Number(deal.Time)).toBeGreaterThanOrEqual(before);
    expect(Number(deal.Time)).toBeLessThanOrEqual(serverNow());
    expect(Math.floor(Number(deal.TimeMsc) / 1000)).toBe(Number(deal.Time));
    expect(await account(login)).toMatchObject({ Balance: '2000.00', Equity: '2000.00', MarginFree: '2000.00' });
  });

  it('keeps credit apart from balance and records each type as its deal action', async () => {
    const login = await openAccount(c, USD);
    await deposit(c, login, 1000);
    const ops: [number, number][] = [
      [3, 500], // credit
      [4, -25], // charge
      [5, 10.5], // correction
      [6, 40], // bonus
    ];
    for (const [type, amount] of ops) {
      const reply = await c.get('/api/trade/balance', { login, type, balance: amount, comment: `type ${type}` });
      expect(reply.retcode, `type ${type}`).toBe(0);
      const deal = (await c.get('/api/deal/get', { ticket: Number(field(reply.answer, 'ticket')) })).answer;
      expect(field(deal, 'action')).toBe(String(type));
    }
    expect(await account(login)).toMatchObject({ Balance: '1025.50', Credit: '500.00', Equity: '1525.50' });
    const credit = await c.get('/api/trade/balance', { login, type: 3, balance: -200 });
    expect(credit.retcode).toBe(0);
    expect(await account(login)).toMatchObject({ Balance: '1025.50', Credit: '300.00' });
  });

  it('refuses a bad type with 3 and applies nothing', async () => {
    const login = await openAccount(c, USD);
    for (const type of [0, 1, 7, 18, 'x']) {
      expect((await c.get('/api/trade/balance', { login, type, balance: 10 })).retcode, String(type)).toBe(3);
    }
    expect((await allDeals(c, login)).length).toBe(0);
  });

  it('refuses more than 1e9 in one operation with 4005 (exactly 1e9 is allowed)', async () => {
    const login = await openAccount(c, USD);
    expect((await c.get('/api/trade/balance', { login, type: 2, balance: 1_000_000_000.01 })).body.retcode).toBe(
      '4005 Money limit reached',
    );
    expect((await c.get('/api/trade/balance', { login, type: 2, balance: -2e9 })).retcode).toBe(4005);
    expect((await c.get('/api/trade/balance', { login, type: 2, balance: 1e9 })).retcode).toBe(0);
  });

  it('refuses a withdrawal beyond the balance, or beyond the credit given, with 10019 and applies nothing', async () => {
    const login = await openAccount(c, USD);
    await deposit(c, login, 100);
    await c.get('/api/trade/balance', { login, type: 3, balance: 50 });
    const tooMuch = await c.get('/api/trade/balance', { login, type: 2, balance: -100.01, check_margin: 0 });
    expect(tooMuch.body.retcode).toBe('10019 Not enough money');
    expect((await c.get('/api/trade/balance', { login, type: 3, balance: -50.01 })).retcode).toBe(10019);
    expect(await account(login)).toMatchObject({ Balance: '100.00', Credit: '50.00' });
    expect((await allDeals(c, login)).length).toBe(2);
    expect((await c.get('/api/trade/balance', { login, type: 2, balance: -100 })).retcode).toBe(0);
  });

  it('checks free margin on withdrawals by default; check_margin=0 skips that check', async () => {
    const login = await openAccount(c, USD);
    await deposit(c, login, 1000);
    await dealerTrade(login, 'buy', 0.5); // ~542 USD margin at 1:100
    const state = await account(login);
    const free = Number(state.MarginFree);
    expect(Number(state.Margin)).toBeGreaterThan(500);
    expect(free).toBeLessThan(500);
    const beyondFree = -(Math.floor(free) + 50);
    expect((await c.get('/api/trade/balance', { login, type: 2, balance: beyondFree })).retcode).toBe(10019);
    expect((await c.get('/api/trade/balance', { login, type: 2, balance: beyondFree, check_margin: 1 })).retcode).toBe(
      10019,
    );
    expect((await c.get('/api/trade/balance', { login, type: 2, balance: -10 })).retcode).toBe(0);
    expect((await c.get('/api/trade/balance', { login, type: 2, balance: beyondFree, check_margin: 0 })).retcode).toBe(
      0,
    );
  });

  it("rounds to the group's currency digits (JPY has none) and refuses an amount that rounds to zero", async () => {
    const login = await openAccount(c, JPY);
    await c.get('/api/trade/balance', { login, type: 2, balance: 150000.4 });
    expect(await account(login)).toMatchObject({ Balance: '150000', CurrencyDigits: '0' });
    expect((await c.get('/api/trade/balance', { login, type: 2, balance: 0.4 })).retcode).toBe(3);
    const usd = await openAccount(c, USD);
    await c.get('/api/trade/balance', { login: usd, type: 2, balance: 0.1 });
    await c.get('/api/trade/balance', { login: usd, type: 2, balance: 0.2 });
    expect((await account(usd)).Balance).toBe('0.30');
  });

  it('cuts the comment to 31 characters without saying so', async () => {
    const login = await openAccount(c, USD);
    const comment = 'ref:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    const reply = await c.get('/api/trade/balance', { login, type: 2, balance: 5, comment });
    expect(reply.retcode).toBe(0);
    const deal = (await c.get('/api/deal/get', { ticket: Number(field(reply.answer, 'ticket')) })).answer;
    expect(field(deal, 'comment')).toBe(comment.slice(0, 31));
  });

  it('answers 13 for an unknown account, 8 outside the manager groups, 3 for missing or malformed values', async () => {
    expect((await c.get('/api/trade/balance', { login: 4_999_990, type: 2, balance: 1 })).retcode).toBe(13);
    const vip = await t.control('POST', '/control/accounts', { group: 'real\\vip-usd', name: 'VIP', leverage: 100 });
    expect((await c.get('/api/trade/balance', { login: Number(vip.json.Login), type: 2, balance: 1 })).retcode).toBe(8);
    const login = await openAccount(c, USD);
    expect((await c.get('/api/trade/balance', { login, type: 2 })).retcode).toBe(3);
    expect((await c.get('/api/trade/balance', { login, type: 2, balance: '1,000' })).retcode).toBe(3);
    expect((await c.get('/api/trade/balance', { login, balance: 5 })).retcode).toBe(3);
    expect((await c.get('/api/trade/balance', { type: 2, balance: 5 })).retcode).toBe(3);
  });

  it('gives every operation a new, increasing ticket', async () => {
    const login = await openAccount(c, EUR);
    const tickets: number[] = [];
    for (let i = 0; i < 5; i++) tickets.push(Number(field((await deposit(c, login, 1 + i)).answer, 'ticket')));
    expect(tickets).toEqual([...tickets].sort((a, b) => a - b));
    expect(new Set(tickets).size).toBe(5);
  });
});

describe('deal history', () => {
  it('pages at most 100 deals at a time, oldest first', async () => {
    const login = await openAccount(c, EUR);
    for (let i = 0; i < 105; i++) await deposit(c, login, 1, `p${i}`);
    const window = { login, from: 0, to: 2_000_000_000 };
    expect((await c.get('/api/deal/get_total', window)).answer).toEqual({ Total: '105' });
    const first = (await c.get('/api/deal/get_page', { ...window, offset: 0, total: 100 })).answer as Record<
      string,
      string
    >[];
    const rest = (await c.get('/api/deal/get_page', { ...window, offset: 100, total: 100 })).answer as Record<
      string,
      string
    >[];
    expect(first).toHaveLength(100);
    expect(rest).toHaveLength(5);
    expect(first[0]!.Comment).toBe('p0');
    expect(rest[4]!.Comment).toBe('p104');
    const tickets = [...first, ...rest].map((d) => Number(d.Deal));
    expect(tickets).toEqual([...tickets].sort((a, b) => a - b));
    // Asking for more than 100 silently gets 100.
    expect(((await c.get('/api/deal/get_page', { ...window, offset: 0, total: 500 })).answer as unknown[]).length).toBe(
      100,
    );
    expect((await c.get('/api/deal/get_page', { ...window, offset: 200, total: 10 })).answer).toEqual([]);
    expect((await c.get('/api/deal/get_page', { ...window, offset: -1, total: 10 })).retcode).toBe(3);
  });

  it('selects by server wall-clock seconds, not UTC', async () => {
    const login = await openAccount(c, USD);
    await deposit(c, login, 10);
    const now = serverNow();
    const utcNow = Math.floor(Date.now() / 1000);
    expect(now - utcNow).toBeGreaterThanOrEqual(7200 - 1); // Nicosia is UTC+2 or +3
    const inServerTime = await c.get('/api/deal/get_total', { login, from: now - 60, to: now + 60 });
    expect(field(inServerTime.answer, 'total')).toBe('1');
    const inUtc = await c.get('/api/deal/get_total', { login, from: utcNow - 60, to: utcNow + 60 });
    expect(field(inUtc.answer, 'total')).toBe('0');
    expect((await c.get('/api/deal/get_page', { login, from: now + 60, to: now + 120 })).answer).toEqual([]);
  });

  it('needs a login, from and to; 13 for unknown accounts and deals', async () => {
    const login = await openAccount(c, USD);
    expect((await c.get('/api/deal/get_page', { login, from: 0 })).retcode).toBe(3);
    expect((await c.get('/api/deal/get_total', { login, from: 10, to: 5 })).retcode).toBe(3);
    expect((await c.get('/api/deal/get_total', { login: 4_999_989, from: 0, to: 1 })).retcode).toBe(13);
    expect((await c.get('/api/deal/get', { ticket: 999_999 })).retcode).toBe(13);
    expect((await c.get('/api/deal/get')).retcode).toBe(3);
  });

  it('keeps a deleted account’s history readable', async () => {
    const login = await openAccount(c, USD);
    await deposit(c, login, 10);
    await c.get('/api/trade/balance', { login, type: 2, balance: -10 });
    expect((await c.get('/api/user/delete', { login })).retcode).toBe(0);
    expect(field((await c.get('/api/deal/get_total', { login, from: 0, to: 2e9 })).answer, 'total')).toBe('2');
  });
});

describe('orders, deals and positions are kept apart', () => {
  it('hedging: each buy is its own position; closing one books profit, commission and volume units', async () => {
    const login = await openAccount(c, USD);
    await deposit(c, login, 10_000);
    const [open1] = await dealerTrade(login, 'buy', 0.5);
    await dealerTrade(login, 'buy', 0.1, 'XAUUSD');
    expect(open1).toMatchObject({
      Action: '0',
      Entry: '0',
      Symbol: 'EURUSD',
      Volume: '5000',
      VolumeExt: '50000000',
      Digits: '5',
    });
    expect(Number(open1!.Commission)).toBeLessThan(0);

    const positions = (await c.get('/api/position/get_page', { login, offset: 0, total: 10 })).answer as Record<
      string,
      string
    >[];
    expect(positions).toHaveLength(2);
    expect(positions[0]).toMatchObject({ Position: open1!.PositionID, Symbol: 'EURUSD', Action: '0', Volume: '5000' });
    expect(field((await c.get('/api/position/get_total', { login })).answer, 'total')).toBe('2');

    const balanceBefore = Number((await account(login)).Balance);
    const [close] = await dealerTrade(login, 'sell', 0.5, 'EURUSD', Number(open1!.PositionID));
    expect(close).toMatchObject({
      Action: '1',
      Entry: '1',
      PositionID: open1!.PositionID,
      PricePosition: open1!.Price,
    });
    const booked = Number(close!.Profit) + Number(close!.Commission) + Number(close!.Storage);
    expect(Number((await account(login)).Balance)).toBeCloseTo(balanceBefore + booked, 2);
    expect(field((await c.get('/api/position/get_total', { login })).answer, 'total')).toBe('1');

    const history = (await c.get('/api/history/get_page', { login, from: 0, to: 2e9, offset: 0, total: 10 }))
      .answer as Record<string, string>[];
    expect(history.map((o) => o.State)).toEqual(['4', '4', '4']);
    expect(history.map((o) => o.Order)).toEqual([open1!.Order, expect.any(String), close!.Order]);
    expect(field((await c.get('/api/history/get_total', { login, from: 0, to: 2e9 })).answer, 'total')).toBe('3');
    expect((await c.get('/api/order/get_page', { login, offset: 0, total: 10 })).answer).toEqual([]);
    expect(field((await c.get('/api/order/get_total', { login })).answer, 'total')).toBe('0');
  });

  it('netting: one position per symbol; adding averages, an opposite larger order reverses (in/out)', async () => {
    const login = await openAccount(c, EUR);
    await deposit(c, login, 10_000);
    await dealerTrade(login, 'buy', 0.1);
    await dealerTrade(login, 'buy', 0.2);
    let positions = (await c.get('/api/position/get_page', { login, offset: 0, total: 10 })).answer as Record<
      string,
      string
    >[];
    expect(positions).toHaveLength(1);
    expect(positions[0]).toMatchObject({ Action: '0', Volume: '3000' });
    const [reversal] = await dealerTrade(login, 'sell', 0.5);
    expect(reversal).toMatchObject({ Entry: '2', Volume: '5000' });
    positions = (await c.get('/api/position/get_page', { login, offset: 0, total: 10 })).answer as Record<
      string,
      string
    >[];
    expect(positions).toHaveLength(1);
    expect(positions[0]).toMatchObject({ Action: '1', Volume: '2000' });
    const [out] = await dealerTrade(login, 'buy', 0.2);
    expect(out).toMatchObject({ Entry: '1' });
    expect(field((await c.get('/api/position/get_total', { login })).answer, 'total')).toBe('0');
  });

  it('values open positions in the account currency', async () => {
    const login = await openAccount(c, JPY);
    await deposit(c, login, 5_000_000);
    await dealerTrade(login, 'buy', 0.1, 'XAUUSD');
    const state = await account(login);
    expect(state.Margin).toMatch(/^\d+$/); // JPY: no decimals
    expect(Number(state.Margin)).toBeGreaterThan(10_000); // ~235 USD × ~150 JPY
    expect(Number(state.Equity)).toBeLessThan(5_000_000); // spread and commission
  });
});
