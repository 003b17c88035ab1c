import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RET } from './codes.ts';
import { PumpingEvent } from './contract.ts';
import { type Mt4TestClient, RetError } from './test-client.ts';
import { Harness } from './test-support.ts';

const HOUR_MS = 3600_000;

describe('MT4 bridge pumping', () => {
  let h: Harness;
  let crm: Mt4TestClient;

  beforeAll(async () => {
    h = await Harness.start({
      pumpingDropIntervalMs: 3 * HOUR_MS,
      managers: [
        { login: 10, password: 'crm-pass', rights: ['admin', 'money', 'see_trades'], groups: 'real-*,!real-vip*' },
        { login: 11, password: 'vip-pass', rights: ['see_trades'], groups: 'real-vip*' },
        { login: 12, password: 'cash-pass', rights: ['money'], groups: 'real-*' },
      ],
    });
    crm = await h.client(10, 'crm-pass');
  });
  afterAll(async () => h.close());

  it('delivers user and trade changes with full records, in order', async () => {
    const stream = await crm.pumping();
    const login = await h.openAccount(crm, 'real-std-usd', { email: 'p@example.com' });
    const order = await h.deposit(crm, login, 250, 'BD-PUMP-1');

    const added = await stream.nextChange('user_add', (e) => e.user?.login === login);
    expect(PumpingEvent.parse(added).user).toMatchObject({
      login,
      group: 'real-std-usd',
      email: 'p@example.com',
      balance: 0,
    });
    const trade = await stream.nextChange('trade_add', (e) => e.trade?.login === login);
    expect(trade.trade).toMatchObject({ order, cmd: 6, profit: 250, comment: 'BD-PUMP-1' });
    expect(trade.trade!.close_time).toBeGreaterThan(0);
    const updated = await stream.nextChange('user_update', (e) => e.user?.login === login);
    expect(updated.user!.balance).toBe(250);
    expect(added.seq).toBeLessThan(trade.seq);
    expect(trade.seq).toBeLessThan(updated.seq);
    stream.close();
  });

  it('refuses a subscription without a session (6) or without see_trades (7) with a JSON envelope', async () => {
    const anonymous = h.anonymous();
    await expect(anonymous.pumping()).rejects.toSatisfy(
      (e) => e instanceof RetError && e.envelope.ret === RET.NO_CONNECT,
    );
    const cashier = await h.client(12, 'cash-pass');
    await expect(cashier.pumping()).rejects.toSatisfy(
      (e) => e instanceof RetError && e.envelope.ret === RET.NOT_ENOUGH_RIGHTS,
    );
  });

  it('a drop ends the stream; nothing is replayed; a new subscription delivers again', async () => {
    const stream = await crm.pumping();
    const login = await h.openAccount(crm, 'real-std-usd');
    await stream.nextChange('user_add', (e) => e.user?.login === login);

    const { dropped } = await h.control.post<{ dropped: number }>('/control/pumping/drop');
    expect(dropped).toBeGreaterThanOrEqual(1);
    await stream.closed;
    expect(stream.isClosed).toBe(true);

    // Changes while nobody listens are gone for good: the connector must catch up by polling.
    await h.deposit(crm, login, 10, 'BD-MISSED');
    const again = await crm.pumping();
    await h.deposit(crm, login, 20, 'BD-SEEN');
    const seen = await again.nextChange('trade_add', (e) => e.trade?.login === login);
    expect(seen.trade!.comment).toBe('BD-SEEN');
    expect(
      again.pending().some((e) => (e.data as { trade?: { comment: string } }).trade?.comment === 'BD-MISSED'),
    ).toBe(false);
    // Polling finds what the stream missed.
    expect((await h.history(crm, login)).map((t) => t.comment)).toEqual(['BD-MISSED', 'BD-SEEN']);
    again.close();
  });

  it('drops every stream when the simulator clock passes the drop interval', async () => {
    const stream = await crm.pumping();
    await h.control.post('/control/clock', { advanceSeconds: 3 * 3600 });
    await stream.closed;
    const again = await crm.pumping();
    expect(again.isClosed).toBe(false);
    again.close();
  });

  it('ends the stream with the session (Logout, a session drop)', async () => {
    const client = await h.client(10, 'crm-pass');
    const first = await client.pumping();
    await client.ok('Logout');
    await first.closed;
    await client.login(10, 'crm-pass');
    const second = await client.pumping();
    await h.control.post('/control/sessions/drop', { manager: 10 });
    await second.closed;
    await crm.login(10, 'crm-pass');
  });

  it("only carries changes in the subscriber's groups", async () => {
    const vipReader = await h.client(11, 'vip-pass');
    const vipStream = await vipReader.pumping();
    const crmStream = await crm.pumping();
    const std = await h.openAccount(crm, 'real-std-usd');
    // A dealer moves the account into a VIP group and corrects its balance: only the VIP desk's stream sees that.
    await h.control.post('/control/dealer/group', { login: std, group: 'real-vip-usd' });
    const moved = await vipStream.nextChange('user_update', (e) => e.user?.login === std);
    expect(moved.user!.group).toBe('real-vip-usd');
    await h.control.post('/control/dealer/balance', { login: std, amount: 5 });
    await vipStream.nextChange('trade_add', (e) => e.trade?.login === std);
    // The CRM stream saw the account created and, one last time, the move out of its groups; nothing after that. A
    // later change in the CRM's groups marks the point by which anything about `std` would have arrived.
    await crmStream.nextChange('user_add', (e) => e.user?.login === std);
    const leaving = await crmStream.nextChange('user_update', (e) => e.user?.login === std);
    expect(leaving.user!.group).toBe('real-vip-usd');
    expect((await crm.call('UserRecordGet', { login: std })).ret).toBe(RET.NOT_ENOUGH_RIGHTS);
    const sentinel = await h.openAccount(crm, 'real-std-usd');
    await crmStream.nextChange('user_add', (e) => e.user?.login === sentinel);
    const aboutStd = crmStream.pending().filter((e) => {
      const event = e.data as PumpingEvent;
      return event.trade?.login === std || event.user?.login === std;
    });
    expect(aboutStd).toEqual([]);
    vipStream.close();
    crmStream.close();
  });

  describe('dealer console changes', () => {
    it('are visible through the bridge and on the stream', async () => {
      const stream = await crm.pumping();
      const login = await h.openAccount(crm, 'real-std-usd');
      await h.deposit(crm, login, 1000, 'BD-D1');

      // A balance correction posted by hand: no CRM reference in the comment.
      const correction = await h.control.post<{ trade: { order: number; comment: string } }>(
        '/control/dealer/balance',
        {
          login,
          amount: -45.5,
          comment: 'fee refund reversal',
        },
      );
      const pumped = await stream.nextChange('trade_add', (e) => e.trade?.order === correction.trade.order);
      expect(pumped.trade).toMatchObject({ cmd: 6, profit: -45.5, comment: 'fee refund reversal' });
      const history = await h.history(crm, login);
      expect(history.map((t) => [t.comment, t.profit])).toEqual([
        ['BD-D1', 1000],
        ['fee refund reversal', -45.5],
      ]);
      expect((await crm.ok('UserRecordGet', { login })).user.balance).toBe(954.5);

      await h.control.post('/control/dealer/group', { login, group: 'real-pro-usd' });
      expect((await stream.nextChange('user_update', (e) => e.user?.group === 'real-pro-usd')).user!.login).toBe(login);
      await h.control.post('/control/dealer/trading', { login, readOnly: true });
      await stream.nextChange('user_update', (e) => e.user?.login === login && e.user.enable_read_only === 1);
      await h.control.post('/control/dealer/leverage', { login, leverage: 30 });
      await stream.nextChange('user_update', (e) => e.user?.login === login && e.user.leverage === 30);
      await h.control.post('/control/dealer/enable', { login, enable: false });
      await stream.nextChange('user_update', (e) => e.user?.login === login && e.user.enable === 0);

      const { user } = await crm.ok('UserRecordGet', { login });
      expect(user).toMatchObject({ group: 'real-pro-usd', enable_read_only: 1, leverage: 30, enable: 0 });
      stream.close();
    });

    it('follow the server rules and say why when refused', async () => {
      const login = await h.openAccount(crm, 'real-std-usd');
      const tooMuch = await h.control.request<{ ret: number }>('POST', '/control/dealer/balance', {
        login,
        amount: -1,
      });
      expect(tooMuch.status).toBe(422);
      expect(tooMuch.body.ret).toBe(RET.TRADE_NO_MONEY);
      const badGroup = await h.control.request<{ ret: number }>('POST', '/control/dealer/group', {
        login,
        group: 'nope',
      });
      expect(badGroup.body.ret).toBe(RET.INVALID_DATA);
      const badBody = await h.control.request('POST', '/control/dealer/leverage', { login, leverage: 'high' });
      expect(badBody.status).toBe(400);
      const noToken = await fetch(`${h.sim.controlUrl}/control/status`);
      expect(noToken.status).toBe(401);
    });
  });
});
