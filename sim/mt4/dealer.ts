/**
 * The MT4 simulator's control routes (on the control API of sim/common/control.ts): what a dealer does by hand in
 * the MT4 Administrator/Manager terminal — changes the CRM did not make and must detect — plus the levers tests need
 * (drop pumping or sessions, step the trading activity, set a price) and read-only inspection.
 *
 * Dealer changes go through the same domain code as bridge calls (so they are journaled and pumped identically) but
 * with every group in scope and no CRM reference in their comments.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { ControlError, parseBody } from '../common/control.ts';
import type { ActivityGenerator } from './activity.ts';
import { Mt4Error, retText } from './codes.ts';
import type { Market } from './market.ts';
import { GroupMask } from './masks.ts';
import type { PumpingHub } from './pumping.ts';
import { everyGroup, type SessionRegistry } from './session.ts';
import type { Mt4State } from './state.ts';
import type { TradingDesk } from './trading.ts';
import { publicUser, type UserDirectory } from './users.ts';

export interface DealerDeps {
  state: Mt4State;
  users: UserDirectory;
  desk: TradingDesk;
  market: Market;
  sessions: SessionRegistry;
  pumping: PumpingHub;
  activity: ActivityGenerator;
}

const login = z.number().int().positive();

const bodies = {
  balance: z
    .object({
      login,
      amount: z.number(),
      cmd: z.literal([6, 7]).default(6),
      comment: z.string().max(1024).default('dealer correction'),
      expiration: z.number().int().positive().optional(),
    })
    .strict(),
  group: z.object({ login, group: z.string().min(1) }).strict(),
  trading: z.object({ login, readOnly: z.boolean() }).strict(),
  enable: z.object({ login, enable: z.boolean() }).strict(),
  leverage: z.object({ login, leverage: z.number().int().positive() }).strict(),
  openTrade: z
    .object({
      login,
      symbol: z.string().min(1),
      cmd: z.literal([0, 1]),
      volume: z.number().int().positive(),
      comment: z.string().max(1024).optional(),
    })
    .strict(),
  closeTrade: z.object({ order: z.number().int().positive() }).strict(),
  placeOrder: z
    .object({
      login,
      symbol: z.string().min(1),
      cmd: z.literal([2, 3, 4, 5]),
      volume: z.number().int().positive(),
      price: z.number().positive(),
      expiration: z.number().int().positive().optional(),
      comment: z.string().max(1024).optional(),
    })
    .strict(),
  deleteOrder: z.object({ order: z.number().int().positive() }).strict(),
  price: z.object({ symbol: z.string().min(1), bid: z.number().positive() }).strict(),
  sessionsDrop: z.object({ manager: z.number().int().positive().optional() }).strict(),
  step: z.object({ steps: z.number().int().min(1).max(10_000).default(1) }).strict(),
};

/** A refusal by the server's own rules is 422 with the MT4 code, so a test can tell it from a bad control request. */
function refused(reply: FastifyReply, error: Mt4Error): FastifyReply {
  return reply.code(422).send({ error: error.message, ret: error.ret, ret_text: retText(error.ret) });
}

function asDealer<T>(reply: FastifyReply, action: () => T): T | FastifyReply {
  try {
    return action();
  } catch (error) {
    if (error instanceof Mt4Error) return refused(reply, error);
    if (error instanceof RangeError) throw new ControlError(400, error.message);
    throw error;
  }
}

function positiveInt(value: string | undefined, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ControlError(400, `${name} must be a positive integer`);
  return n;
}

export function registerDealerRoutes(app: FastifyInstance, deps: DealerDeps): void {
  const { users, desk, market, pumping, sessions, activity, state } = deps;

  app.post('/control/dealer/balance', async (request, reply) => {
    const b = parseBody(bodies.balance, request.body);
    return asDealer(reply, () => {
      const trade = desk.balanceOperation(
        { login: b.login, cmd: b.cmd, amount: b.amount, comment: b.comment, expiration: b.expiration },
        everyGroup,
      );
      return reply.code(201).send({ trade });
    });
  });
  app.post('/control/dealer/group', async (request, reply) => {
    const b = parseBody(bodies.group, request.body);
    return asDealer(reply, () => ({ user: publicUser(users.update(b.login, { group: b.group }, everyGroup).user) }));
  });
  app.post('/control/dealer/trading', async (request, reply) => {
    const b = parseBody(bodies.trading, request.body);
    const change = { enable_read_only: b.readOnly ? (1 as const) : (0 as const) };
    return asDealer(reply, () => ({ user: publicUser(users.update(b.login, change, everyGroup).user) }));
  });
  app.post('/control/dealer/enable', async (request, reply) => {
    const b = parseBody(bodies.enable, request.body);
    const change = { enable: b.enable ? (1 as const) : (0 as const) };
    return asDealer(reply, () => ({ user: publicUser(users.update(b.login, change, everyGroup).user) }));
  });
  app.post('/control/dealer/leverage', async (request, reply) => {
    const b = parseBody(bodies.leverage, request.body);
    return asDealer(reply, () => ({
      user: publicUser(users.update(b.login, { leverage: b.leverage }, everyGroup).user),
    }));
  });
  app.post('/control/dealer/trades/open', async (request, reply) => {
    const b = parseBody(bodies.openTrade, request.body);
    return asDealer(reply, () => {
      const trade = desk.openTrade(
        {
          login: b.login,
          symbol: b.symbol,
          cmd: b.cmd,
          volume: b.volume,
          ...(b.comment !== undefined ? { comment: b.comment } : {}),
        },
        everyGroup,
      );
      return reply.code(201).send({ trade });
    });
  });
  app.post('/control/dealer/trades/close', async (request, reply) => {
    const b = parseBody(bodies.closeTrade, request.body);
    return asDealer(reply, () => ({ trade: desk.closeTrade(b.order, everyGroup) }));
  });

  app.post('/control/dealer/orders/place', async (request, reply) => {
    const b = parseBody(bodies.placeOrder, request.body);
    return asDealer(reply, () => {
      const trade = desk.placePending(
        {
          login: b.login,
          symbol: b.symbol,
          cmd: b.cmd,
          volume: b.volume,
          price: b.price,
          ...(b.expiration !== undefined ? { expiration: b.expiration } : {}),
          ...(b.comment !== undefined ? { comment: b.comment } : {}),
        },
        everyGroup,
      );
      return reply.code(201).send({ trade });
    });
  });
  app.post('/control/dealer/orders/delete', async (request, reply) => {
    const b = parseBody(bodies.deleteOrder, request.body);
    return asDealer(reply, () => ({ trade: desk.deletePending(b.order, everyGroup) }));
  });

  app.post('/control/market/price', async (request) => {
    const b = parseBody(bodies.price, request.body);
    if (!market.symbol(b.symbol)) throw new ControlError(404, `no symbol ${b.symbol}`);
    market.setBid(b.symbol, b.bid);
    // A price jump is when a real server stops accounts out; do it now rather than at the next activity step.
    const stoppedOut = desk.stopOuts().map((t) => t.order);
    return { symbol: b.symbol, ...market.quote(b.symbol), stoppedOut };
  });
  app.get('/control/market', async () => Object.fromEntries(market.names().map((name) => [name, market.quote(name)])));

  app.post('/control/pumping/drop', async () => ({ dropped: pumping.dropAll() }));
  app.get('/control/pumping', async () => pumping.stats());

  app.post('/control/sessions/drop', async (request) => {
    const b = parseBody(bodies.sessionsDrop, request.body);
    return { dropped: sessions.drop(b.manager) };
  });
  app.get('/control/sessions', async () => sessions.list());

  app.post('/control/activity/step', async (request) => {
    const b = parseBody(bodies.step, request.body);
    return activity.step(b.steps);
  });

  app.get('/control/users', async (request) => {
    const group = (request.query as { group?: string }).group;
    const mask = group ? new GroupMask(group) : undefined;
    return users.list(everyGroup, mask).map(publicUser);
  });
  app.get('/control/users/:login', async (request) => {
    const n = positiveInt((request.params as { login?: string }).login, 'login');
    const user = state.user(n);
    if (!user) throw new ControlError(404, `no account ${n}`);
    return publicUser(user);
  });
  app.get('/control/trades', async (request) => {
    const query = request.query as { login?: string; open?: string };
    const onlyLogin = query.login === undefined ? undefined : positiveInt(query.login, 'login');
    if (query.open === '1' || query.open === 'true') {
      return desk.openTrades((u) => onlyLogin === undefined || u.login === onlyLogin);
    }
    const all = onlyLogin === undefined ? [...state.trades.values()] : state.tradesOf(onlyLogin);
    return all.sort((a, b) => a.order - b.order).map((t) => desk.record(t.order, everyGroup));
  });
  app.get('/control/trades/:order', async (request) => {
    const order = positiveInt((request.params as { order?: string }).order, 'order');
    if (!state.trade(order)) throw new ControlError(404, `no order ${order}`);
    return desk.record(order, everyGroup);
  });
}
