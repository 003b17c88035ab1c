import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { accountsTestbed, rightsOf, type Testbed } from '../../../test/support/accounts-testbed.ts';
import { clients, operations, partnerServerLogins, partners, tradingAccounts } from '../../db/schema.ts';
import { verifyAuditChain } from '../audit/service.ts';
import { generateTradingPassword, isValidTradingPassword } from './password.ts';

const USD = 'real\\standard-usd';
const RESTRICTED = 'real\\restricted-usd';

describe('trading accounts and KYC policies (against MT5 simulators)', () => {
  let t: Testbed;
  beforeAll(async () => {
    t = await accountsTestbed();
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(async () => {
    expect((await verifyAuditChain(t.database.db)).ok).toBe(true);
  });

  async function account(id: string) {
    const [row] = await t.database.db.select().from(tradingAccounts).where(eq(tradingAccounts.id, id));
    return row!;
  }
  async function opsOf(id: string) {
    return t.database.db.select().from(operations).where(eq(operations.correlationId, id)).orderBy(operations.seq);
  }
  async function onServer(id: string) {
    const row = await account(id);
    expect(row.status).toBe('open');
    return t.simAccount(t.live, row.login!);
  }

  it('generates passwords both MT4 and MT5 accept', () => {
    for (let i = 0; i < 500; i++) expect(isValidTradingPassword(generateTradingPassword())).toBe(true);
    expect(isValidTradingPassword('shrt1A!')).toBe(false);
    expect(isValidTradingPassword('Abcdefgh1234567!')).toBe(false);
    expect(isValidTradingPassword('Abcdefgh1234')).toBe(false);
    expect(isValidTradingPassword('Abcdefgh12!!')).toBe(false);
  });

  it('opens a demo account at once, without KYC, and credits its demo deposit on the demo server', async () => {
    const clientId = await t.addClient({ kycStatus: 'not_started', verified: false });
    const productId = await t.product({
      environment: 'demo',
      serverCode: 'mt5-demo',
      groupName: 'demo\\standard-usd',
      demoDeposit: 1_000_000,
    });
    const requested = await t.accounts.request(clientId, { productId });
    expect(requested.account.status).toBe('opening');
    expect(requested.credentials?.mainPassword).toSatisfy(isValidTradingPassword);
    await t.engine.drain();
    const row = await account(requested.account.id);
    expect(row).toMatchObject({ status: 'open', groupName: 'demo\\standard-usd', currency: 'USD', leverage: 100 });
    const server = await t.simAccount(t.demo, row.login!);
    expect(server.user.Group).toBe('demo\\standard-usd');
    expect(Number(server.account.Balance)).toBe(10_000);
    const ops = await opsOf(row.id);
    expect(ops.map((o) => [o.kind, o.status])).toEqual([
      ['open_account', 'succeeded'],
      ['balance', 'succeeded'],
    ]);
    expect(ops[0]!.sealedSecret).toBeNull();
  });

  it('create_on_approval: waits as requested, opens on approval in the live group with trading allowed', async () => {
    const clientId = await t.addClient({ kycStatus: 'pending' });
    const productId = await t.product({ kycPolicy: 'create_on_approval' });
    const requested = await t.accounts.request(clientId, { productId, leverage: 200 });
    expect(requested).toMatchObject({ account: { status: 'requested' }, credentials: null, operation: null });
    await t.engine.drain();
    expect(await opsOf(requested.account.id)).toEqual([]);
    await t.setKyc(clientId, 'approved');
    expect((await account(requested.account.id)).status).toBe('opening');
    await t.engine.drain();
    const server = await onServer(requested.account.id);
    expect(server.user.Group).toBe(USD);
    expect(Number(server.user.Leverage)).toBe(200);
    expect(rightsOf(server)).toEqual({ enabled: true, tradingAllowed: true });
  });

  it('create_on_approval: rejection fails the requested account with the reason; approved clients open at once', async () => {
    const clientId = await t.addClient({ kycStatus: 'pending' });
    const productId = await t.product({ kycPolicy: 'create_on_approval' });
    const requested = await t.accounts.request(clientId, { productId });
    await t.setKyc(clientId, 'rejected');
    expect(await account(requested.account.id)).toMatchObject({
      status: 'failed',
      failureReason: 'KYC rejected: the account was not created',
    });
    expect(await opsOf(requested.account.id)).toEqual([]);

    const approved = await t.addClient({ kycStatus: 'approved' });
    const now = await t.accounts.request(approved, { productId });
    expect(now.account.status).toBe('opening');
    await t.engine.drain();
    expect(rightsOf(await onServer(now.account.id)).tradingAllowed).toBe(true);
  });

  it('create_on_approval: a later expiry withdraws trading from the created account, a new approval restores it', async () => {
    const clientId = await t.addClient({ kycStatus: 'approved' });
    const productId = await t.product({ kycPolicy: 'create_on_approval' });
    const { account: opened } = await t.accounts.request(clientId, { productId });
    await t.engine.drain();
    expect(rightsOf(await onServer(opened.id)).tradingAllowed).toBe(true);
    await t.setKyc(clientId, 'expired');
    await t.engine.drain();
    expect(rightsOf(await onServer(opened.id))).toEqual({ enabled: true, tradingAllowed: false });
    await t.setKyc(clientId, 'approved');
    await t.engine.drain();
    expect(rightsOf(await onServer(opened.id)).tradingAllowed).toBe(true);
  });

  it('enable_trading_on_approval: opens without trading, approval enables it, rejection disables it again', async () => {
    const clientId = await t.addClient({ kycStatus: 'pending' });
    const productId = await t.product({ kycPolicy: 'enable_trading_on_approval' });
    const { account: opened } = await t.accounts.request(clientId, { productId });
    await t.engine.drain();
    let server = await onServer(opened.id);
    expect(server.user.Group).toBe(USD);
    expect(rightsOf(server)).toEqual({ enabled: true, tradingAllowed: false });
    expect((await account(opened.id)).tradingEnabled).toBe(false);

    await t.setKyc(clientId, 'approved');
    await t.engine.drain();
    server = await onServer(opened.id);
    expect(rightsOf(server).tradingAllowed).toBe(true);
    expect((await account(opened.id)).tradingEnabled).toBe(true);

    await t.setKyc(clientId, 'rejected');
    await t.engine.drain();
    expect(rightsOf(await onServer(opened.id)).tradingAllowed).toBe(false);
    expect((await account(opened.id)).tradingEnabled).toBe(false);
    const kinds = (await opsOf(opened.id)).map((o) => [o.kind, o.payload, o.status]);
    expect(kinds.slice(1)).toEqual([
      ['update_account', { tradingAllowed: true }, 'succeeded'],
      ['update_account', { tradingAllowed: false }, 'succeeded'],
    ]);
  });

  it('enable_trading_on_approval: an approval while the account is opening still enables trading', async () => {
    const clientId = await t.addClient({ kycStatus: 'pending' });
    const productId = await t.product({ kycPolicy: 'enable_trading_on_approval' });
    const { account: opened } = await t.accounts.request(clientId, { productId });
    await t.setKyc(clientId, 'approved'); // before the worker ran
    await t.engine.drain();
    expect(rightsOf(await onServer(opened.id)).tradingAllowed).toBe(true);
  });

  it('move_group_on_approval: opens in the restricted group, approval moves it to the live group, expiry moves it back', async () => {
    const clientId = await t.addClient({ kycStatus: 'more_info_requested' });
    const productId = await t.product({ kycPolicy: 'move_group_on_approval', restrictedGroupName: RESTRICTED });
    const { account: opened } = await t.accounts.request(clientId, { productId });
    await t.engine.drain();
    expect((await onServer(opened.id)).user.Group).toBe(RESTRICTED);
    expect((await account(opened.id)).groupName).toBe(RESTRICTED);

    await t.setKyc(clientId, 'approved');
    await t.engine.drain();
    const moved = await onServer(opened.id);
    expect(moved.user.Group).toBe(USD);
    expect(rightsOf(moved)).toEqual({ enabled: true, tradingAllowed: true });
    expect((await account(opened.id)).groupName).toBe(USD);

    await t.setKyc(clientId, 'expired');
    await t.engine.drain();
    expect((await onServer(opened.id)).user.Group).toBe(RESTRICTED);
    expect((await account(opened.id)).groupName).toBe(RESTRICTED);
  });

  it('live accounts need a verified email and an offered leverage', async () => {
    const productId = await t.product();
    const unverified = await t.addClient({ kycStatus: 'approved', verified: false });
    await expect(t.accounts.request(unverified, { productId })).rejects.toMatchObject({
      code: 'EMAIL_NOT_VERIFIED',
      status: 403,
    });
    const clientId = await t.addClient({ kycStatus: 'approved' });
    await expect(t.accounts.request(clientId, { productId, leverage: 300 })).rejects.toMatchObject({
      code: 'LEVERAGE_NOT_ALLOWED',
      status: 400,
    });
    expect(await t.accounts.listForClient(clientId)).toEqual([]);
  });

  it('changes leverage only to an allowed one, through an operation', async () => {
    const clientId = await t.addClient({ kycStatus: 'approved' });
    const productId = await t.product();
    const { account: opened } = await t.accounts.request(clientId, { productId });
    await t.engine.drain();
    await expect(
      t.accounts.changeLeverage(opened.id, 500, { type: 'client', id: clientId }, clientId),
    ).rejects.toMatchObject({ code: 'LEVERAGE_NOT_ALLOWED' });
    const other = await t.addClient({ kycStatus: 'approved' });
    await expect(t.accounts.changeLeverage(opened.id, 50, { type: 'client', id: other }, other)).rejects.toMatchObject({
      code: 'ACCOUNT_NOT_FOUND',
      status: 404,
    });
    const op = await t.accounts.changeLeverage(opened.id, 50, { type: 'client', id: clientId }, clientId);
    expect(op).toMatchObject({ kind: 'update_account', status: 'pending' });
    expect(op.reference).toMatch(/^BD-UPD-/);
    await t.engine.drain();
    expect(Number((await onServer(opened.id)).user.Leverage)).toBe(50);
    expect((await account(opened.id)).leverage).toBe(50);
  });

  it('fails an opening loudly with the server reason', async () => {
    const clientId = await t.addClient({ kycStatus: 'approved' });
    const productId = await t.product();
    const { account: opened } = await t.accounts.request(clientId, { productId });
    // The dealer removes the manager's rights on the group after the product was saved: the server refuses.
    await t.database.db
      .update(operations)
      .set({ payload: { group: 'real\\vip-usd', name: 'X', leverage: 100, enabled: true, tradingAllowed: true } })
      .where(eq(operations.correlationId, opened.id));
    await t.engine.drain();
    const row = await account(opened.id);
    expect(row.status).toBe('failed');
    expect(row.failureReason).toMatch(/open_account BD-OPN-\S+ failed: /);
    expect(row.login).toBeNull();
  });

  it('staff enable and disable trading, and move groups only when no money is pending in another currency', async () => {
    const clientId = await t.addClient({ kycStatus: 'approved' });
    const productId = await t.product();
    const { account: opened } = await t.accounts.request(clientId, { productId });
    await t.engine.drain();
    await t.accounts.setTrading(opened.id, false, 'staff-9');
    await expect(t.accounts.setTrading(opened.id, false, 'staff-9')).rejects.toMatchObject({
      code: 'NOTHING_TO_CHANGE',
    });
    await t.engine.drain();
    expect(rightsOf(await onServer(opened.id)).tradingAllowed).toBe(false);

    const row = await account(opened.id);
    const { enqueueOperation } = await import('../../operations/enqueue.ts');
    const deposit = await t.database.db.transaction((tx) =>
      enqueueOperation(tx, t.ctx.operationsDeps(), {
        kind: 'balance',
        serverCode: row.serverCode,
        login: row.login,
        payload: { amount: 5000 },
      }),
    );
    await expect(t.accounts.changeGroup(opened.id, 'real\\pro-eur', 'staff-9')).rejects.toMatchObject({
      code: 'MONEY_PENDING',
      status: 409,
      details: { pending: [{ reference: deposit.reference, status: 'pending' }] },
    });
    await expect(t.accounts.changeGroup(opened.id, 'real\\nowhere', 'staff-9')).rejects.toMatchObject({
      code: 'GROUP_NOT_ON_SERVER',
    });
    // Same currency: allowed even while money is pending.
    const move = await t.accounts.changeGroup(opened.id, RESTRICTED, 'staff-9');
    expect(move.kind).toBe('update_account');
    await t.engine.drain();
    expect((await onServer(opened.id)).user.Group).toBe(RESTRICTED);
    // Money settled: the guard lets the move through; the server itself refuses moving money across currencies.
    await t.accounts.changeGroup(opened.id, 'real\\pro-eur', 'staff-9');
    await t.engine.drain();
    expect((await onServer(opened.id)).user.Group).toBe(RESTRICTED);
    expect((await opsOf(opened.id)).at(-1)!.status).toBe('failed');
    expect((await account(opened.id)).currency).toBe('USD');
  });
  it("gives a referred client's account the partner's login on that server as its agent, also when KYC opens it", async () => {
    const now = t.clock.now();
    const [partner] = await t.database.db
      .insert(partners)
      .values({
        email: `ib-${Math.random().toString(36).slice(2, 8)}@ib.example`,
        name: 'IB',
        passwordHash: 'not-used',
        referralCode: `AG${Math.random().toString(36).slice(2, 8).toUpperCase()}`,
        status: 'active',
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    await t.database.db.insert(partnerServerLogins).values({
      partnerId: partner!.id,
      serverCode: t.live.name,
      login: 880_001,
      createdBy: 'staff-9',
      createdAt: now,
      updatedAt: now,
    });
    const referred = await t.addClient({ kycStatus: 'pending' });
    await t.database.db.update(clients).set({ partnerId: partner!.id }).where(eq(clients.id, referred));
    const atOnce = await t.accounts.request(referred, { productId: await t.product() });
    const onKyc = await t.accounts.request(referred, {
      productId: await t.product({ kycPolicy: 'create_on_approval' }),
    });
    await t.setKyc(referred, 'approved');
    await t.engine.drain();
    for (const id of [atOnce.account.id, onKyc.account.id]) {
      const [open] = (await opsOf(id)).filter((op) => op.kind === 'open_account');
      expect(open!.payload).toMatchObject({ agentLogin: 880_001 });
      expect(((await onServer(id)).user as unknown as { Agent: string }).Agent).toBe('880001');
    }
    // An account on a server where the partner has no login, and a client nobody referred, get no agent.
    const plain = await t.accounts.request(await t.addClient(), { productId: await t.product() });
    await t.engine.drain();
    const [open] = (await opsOf(plain.account.id)).filter((op) => op.kind === 'open_account');
    expect(open!.payload).not.toHaveProperty('agentLogin');
  });
});
