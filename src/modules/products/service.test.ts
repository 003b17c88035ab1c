import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountsTestbed, DEMO, LIVE, type Testbed } from '../../../test/support/accounts-testbed.ts';
import { auditEvents, products } from '../../db/schema.ts';
import { verifyAuditChain } from '../audit/service.ts';
import { ProductError, type ProductInput } from './service.ts';

const base: ProductInput = {
  code: 'std-usd',
  name: 'Standard USD',
  environment: 'live',
  serverCode: LIVE,
  groupName: 'real\\standard-usd',
  currency: 'USD',
  allowedLeverages: [50, 100, 200],
  defaultLeverage: 100,
  kycPolicy: 'create_on_approval',
};

describe('products: mapping validated against the server', () => {
  let t: Testbed;
  beforeAll(async () => {
    t = await accountsTestbed();
  });
  afterAll(async () => {
    await t?.close();
  });

  async function refusal(input: Partial<ProductInput>): Promise<ProductError> {
    const err = await t.products.create(
      { ...base, code: `x-${Math.random().toString(36).slice(2, 8)}`, ...input },
      's',
    );
    throw new Error(`expected a refusal, the product was saved: ${JSON.stringify(err)}`);
  }
  async function refused(input: Partial<ProductInput>): Promise<ProductError> {
    try {
      await refusal(input);
    } catch (err) {
      if (err instanceof ProductError) return err;
      throw err;
    }
    throw new Error('unreachable');
  }

  it('saves a correct mapping, audited', async () => {
    const saved = await t.products.create(base, 'staff-1');
    expect(saved).toMatchObject({ code: 'std-usd', enabled: true, restrictedGroupName: null, demoDeposit: null });
    const [event] = await t.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.entityId, saved.id), eq(auditEvents.action, 'product.created')));
    expect(event).toMatchObject({ actorType: 'staff', actorId: 'staff-1' });
    await expect(t.products.create(base, 'staff-1')).rejects.toMatchObject({ code: 'PRODUCT_EXISTS', status: 409 });
  });

  it('refuses a live product on a demo server and a demo product on a live server', async () => {
    const liveOnDemo = await refused({ serverCode: DEMO, groupName: 'demo\\standard-usd' });
    expect(liveOnDemo).toMatchObject({ code: 'PRODUCT_INVALID', status: 422 });
    expect(liveOnDemo.message).toMatch(/is live but server "mt5-demo" is demo/);
    expect(liveOnDemo.details).toMatchObject({ problems: [{ setting: 'environment' }] });

    const demoOnLive = await refused({ environment: 'demo', kycPolicy: 'none', demoDeposit: 1_000_000 });
    expect(demoOnLive.message).toMatch(/is demo but server "mt5-live" is live/);
  });

  it('refuses a group the server does not have, and one in another currency', async () => {
    const unknown = await refused({ groupName: 'real\\no-such-group' });
    expect(unknown.message).toMatch(/real\\no-such-group/);
    expect(unknown.details).toMatchObject({ problems: [{ setting: 'groupName' }], reason: 'group_not_on_server' });

    const currency = await refused({ currency: 'EUR' });
    expect(currency.message).toMatch(/in EUR but group "real\\standard-usd" .* is in USD/);
    expect(currency.details).toMatchObject({ problems: [{ setting: 'currency' }] });
  });

  it('refuses leverages the product or the group does not allow', async () => {
    const notAllowed = await refused({ defaultLeverage: 500 });
    expect(notAllowed.details).toMatchObject({ problems: [{ setting: 'defaultLeverage' }] });
    // real\pro-eur accepts 1–200.
    const beyondGroup = await refused({
      groupName: 'real\\pro-eur',
      currency: 'EUR',
      allowedLeverages: [100, 500],
    });
    expect(beyondGroup.message).toMatch(/accepts leverage 1–200; 500 is outside it/);
  });

  it('checks the restricted group of move_group_on_approval on the server too', async () => {
    const missing = await refused({ kycPolicy: 'move_group_on_approval' });
    expect(missing.details).toMatchObject({ problems: [{ setting: 'restrictedGroupName' }] });
    const otherCurrency = await refused({ kycPolicy: 'move_group_on_approval', restrictedGroupName: 'real\\pro-eur' });
    expect(otherCurrency.details).toMatchObject({
      problems: [{ setting: 'restrictedGroupName' }],
      reason: 'currency_mismatch',
    });
    const unknown = await refused({ kycPolicy: 'move_group_on_approval', restrictedGroupName: 'real\\nowhere' });
    expect(unknown.details).toMatchObject({ reason: 'group_not_on_server' });
    const ok = await t.products
      .create(
        {
          ...base,
          code: 'restricted-ok',
          kycPolicy: 'move_group_on_approval',
          restrictedGroupName: 'real\\standard-jpy',
          currency: 'USD',
        },
        's',
      )
      .catch((e: ProductError) => e);
    // standard-jpy is JPY: refused; restricted-usd is USD: accepted.
    expect(ok).toBeInstanceOf(ProductError);
    const good = await t.products.create(
      {
        ...base,
        code: 'restricted-ok',
        kycPolicy: 'move_group_on_approval',
        restrictedGroupName: 'real\\restricted-usd',
      },
      's',
    );
    expect(good.restrictedGroupName).toBe('real\\restricted-usd');
  });

  it('validates a change against the server again and leaves the product as it was when refused', async () => {
    const created = await t.products.create({ ...base, code: 'to-change' }, 's');
    await expect(t.products.update(created.id, { groupName: 'real\\gone' }, 's')).rejects.toMatchObject({
      code: 'PRODUCT_INVALID',
    });
    await expect(t.products.update(created.id, { environment: 'demo' }, 's')).rejects.toMatchObject({
      code: 'PRODUCT_INVALID',
    });
    const [unchanged] = await t.database.db.select().from(products).where(eq(products.id, created.id));
    expect(unchanged!.groupName).toBe('real\\standard-usd');
    const changed = await t.products.update(created.id, { allowedLeverages: [100, 300], defaultLeverage: 300 }, 's');
    expect(changed).toMatchObject({ allowedLeverages: [100, 300], defaultLeverage: 300 });
    const events = await t.database.db.select().from(auditEvents).where(eq(auditEvents.entityId, created.id));
    expect(events.map((e) => e.action)).toEqual(['product.created', 'product.updated']);
    expect((await verifyAuditChain(t.database.db)).ok).toBe(true);
  });
});
