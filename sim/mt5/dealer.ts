/**
 * The control API's MT5 routes: what a dealer does by hand in the MT5 Manager terminal (the changes a CRM must detect
 * because it did not make them), the trading-activity stepper, and state inspection for tests. Registered under
 * /control next to the common routes (status, faults, clock, restart); all take and return JSON.
 *
 *   POST /control/accounts             {group, name, leverage, login?, password?, email?, deposit?}  → user
 *   GET  /control/accounts/:login                                    → {user, account, positions, orders}
 *   GET  /control/accounts/:login/deals                              → deals (Web API shape)
 *   POST /control/dealer/balance       {login, amount, type?, comment?, checkMargin?}                → {deal}
 *   POST /control/dealer/move          {login, group}                                                → user
 *   POST /control/dealer/rights        {login, enabled?, trading?, readOnly?}                         → user
 *   POST /control/dealer/leverage      {login, leverage}                                             → user
 *   POST /control/dealer/trade         {login, symbol, side: buy|sell, lots, positionId?, comment?}  → {deals}
 *   POST /control/activity/step        {steps}                                                       → {steps, step, deals}
 *   GET  /control/sessions                                           → {connections, sessions}
 *
 * Server refusals come back as HTTP 404 (retcode 13), 400 (retcode 3) or 409 (any other retcode) with
 * `{error: "<code> <text>: detail"}`; a malformed body is 400 naming the field.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ControlError, parseBody } from '../common/control.ts';
import type { ActivityGenerator } from './activity.ts';
import type { GroupBook } from './config.ts';
import type { WireFormat } from './format.ts';
import { type Market, SYMBOLS } from './market.ts';
import { DealAction, DealReason, lotsToVolume, UserRights } from './model.ts';
import { Params } from './params.ts';
import { Mt5Error, Retcode } from './retcodes.ts';
import type { SessionRegistry } from './sessions.ts';
import type { Mt5State } from './state.ts';
import type { TradingEngine } from './trading.ts';
import type { UserService } from './users.ts';

/** The login recorded as `Dealer` on deals the dealer console makes (not a Web API manager). */
export const DEALER_CONSOLE_LOGIN = 10;

const BALANCE_TYPE_NAMES: Record<string, number> = {
  balance: DealAction.BALANCE,
  credit: DealAction.CREDIT,
  charge: DealAction.CHARGE,
  correction: DealAction.CORRECTION,
  bonus: DealAction.BONUS,
};

const login = z.number().int().positive();

const accountBody = z
  .object({
    group: z.string().min(1),
    name: z.string().min(1),
    leverage: z.number().int().positive(),
    login: login.optional(),
    password: z.string().optional(),
    email: z.string().optional(),
    deposit: z.number().positive().optional(),
  })
  .strict();

const balanceBody = z
  .object({
    login,
    amount: z.number().refine((n) => n !== 0, 'amount must not be zero'),
    type: z
      .union([z.enum(['balance', 'credit', 'charge', 'correction', 'bonus']), z.number().int()])
      .default('correction'),
    comment: z.string().optional(),
    checkMargin: z.boolean().default(false),
  })
  .strict();

const dealUpdateBody = z
  .object({
    deal: z.number().int().positive(),
    amount: z
      .number()
      .refine((n) => n !== 0, 'amount must not be zero')
      .optional(),
    comment: z.string().optional(),
  })
  .strict();
const moveBody = z.object({ login, group: z.string().min(1) }).strict();
const rightsBody = z
  .object({ login, enabled: z.boolean().optional(), trading: z.boolean().optional(), readOnly: z.boolean().optional() })
  .strict();
const leverageBody = z.object({ login, leverage: z.number().int().positive() }).strict();
const tradeBody = z
  .object({
    login,
    symbol: z.enum(SYMBOLS.map((x) => x.name) as [string, ...string[]]),
    side: z.enum(['buy', 'sell']),
    lots: z.number().positive().max(100),
    positionId: z.number().int().positive().optional(),
    comment: z.string().optional(),
  })
  .strict();
const orderBody = z
  .object({
    login,
    symbol: z.enum(SYMBOLS.map((x) => x.name) as [string, ...string[]]),
    side: z.enum(['buy', 'sell']),
    lots: z.number().positive().max(100),
    price: z.number().positive(),
    /** Activity steps until it expires; absent = good till canceled. */
    expiresAfterSteps: z.number().int().positive().optional(),
    comment: z.string().optional(),
  })
  .strict();
const cancelOrderBody = z.object({ order: z.number().int().positive() }).strict();
const stepBody = z.object({ steps: z.number().int().min(1).max(100_000).default(1) }).strict();

export interface DealerDependencies {
  state: Mt5State;
  groups: GroupBook;
  users: UserService;
  engine: TradingEngine;
  activity: ActivityGenerator;
  sessions: SessionRegistry;
  market: Market;
  wire: WireFormat;
}

/** Runs a server action and turns its retcode refusal into a control-API error a human can read. */
function serverAction<T>(action: () => T): T {
  try {
    return action();
  } catch (err) {
    if (err instanceof Mt5Error) {
      const status = err.code === Retcode.ERR_NOTFOUND ? 404 : err.code === Retcode.ERR_PARAMS ? 400 : 409;
      throw new ControlError(status, err.message);
    }
    throw err;
  }
}

export function registerDealerRoutes(app: FastifyInstance, deps: DealerDependencies): void {
  const { state, groups, users, engine, activity, sessions, market, wire } = deps;
  const digits = (group: string): number => groups.get(group)?.currencyDigits ?? 2;
  const userWire = (login: number) => {
    const u = users.get(login, null);
    return wire.user(u, digits(u.group));
  };
  const loginParam = (params: unknown): number => {
    const n = Number((params as { login: string }).login);
    if (!Number.isSafeInteger(n) || n <= 0) throw new ControlError(400, 'login must be a positive integer');
    return n;
  };

  app.post('/control/accounts', async (request, reply) => {
    const body = parseBody(accountBody, request.body);
    const password = body.password ?? 'Sim-Pass1!';
    const user = serverAction(() => {
      const created = users.add(
        Params.from('', {
          group: body.group,
          name: body.name,
          leverage: body.leverage,
          login: body.login ?? 0,
          email: body.email ?? '',
          PassMain: password,
          PassInvestor: password,
        }),
        null,
      );
      if (body.deposit !== undefined) {
        engine.balanceOperation({
          login: created.login,
          type: DealAction.BALANCE,
          amount: body.deposit,
          comment: 'initial deposit',
          checkMargin: false,
          dealer: DEALER_CONSOLE_LOGIN,
        });
      }
      return created;
    });
    return reply.code(201).send(userWire(user.login));
  });

  app.get('/control/accounts/:login', async (request) => {
    const l = loginParam(request.params);
    return serverAction(() => {
      const user = users.get(l, null);
      const group = groups.get(user.group);
      return {
        user: wire.user(user, digits(user.group)),
        account: wire.account(engine.accountState(user)),
        positions: state
          .positionsOf(l)
          .map((p) =>
            wire.position(p, group ? engine.positionProfit(p, group) : 0, market.closePrice(p.symbol, p.action)),
          ),
        orders: state.ordersOf(l).map((o) => wire.order(o)),
      };
    });
  });

  app.get('/control/accounts/:login/deals', async (request) => {
    const l = loginParam(request.params);
    return state.dealsOf(l).map((d) => wire.deal(d));
  });

  /** History orders (filled, canceled, expired) of an account. */
  app.get('/control/accounts/:login/history', async (request) => {
    const l = loginParam(request.params);
    return state.historyOf(l).map((o) => wire.order(o));
  });

  app.post('/control/dealer/balance', async (request) => {
    const body = parseBody(balanceBody, request.body);
    const type = typeof body.type === 'number' ? body.type : BALANCE_TYPE_NAMES[body.type]!;
    const deal = serverAction(() =>
      engine.balanceOperation({
        login: body.login,
        type,
        amount: body.amount,
        comment: body.comment,
        checkMargin: body.checkMargin,
        dealer: DEALER_CONSOLE_LOGIN,
      }),
    );
    return { deal: wire.deal(deal) };
  });

  // A dealer edits a balance deal already posted (its amount or comment): the server's history changes under the CRM.
  app.post('/control/dealer/deal/update', async (request) => {
    const body = parseBody(dealUpdateBody, request.body);
    const deal = serverAction(() =>
      engine.updateBalanceDeal(body.deal, {
        ...(body.amount === undefined ? {} : { amount: body.amount }),
        ...(body.comment === undefined ? {} : { comment: body.comment }),
      }),
    );
    return { deal: wire.deal(deal) };
  });

  app.post('/control/dealer/move', async (request) => {
    const body = parseBody(moveBody, request.body);
    serverAction(() => {
      const user = users.get(body.login, null);
      const target = groups.get(body.group);
      if (!target) throw new Mt5Error(Retcode.ERR_NOTFOUND, `no group ${body.group}`);
      users.assertCanMove(user, target);
      state.putUser({ ...user, group: target.name });
    });
    return userWire(body.login);
  });

  app.post('/control/dealer/rights', async (request) => {
    const body = parseBody(rightsBody, request.body);
    serverAction(() => {
      const user = users.get(body.login, null);
      let rights = user.rights;
      const set = (bit: number, on: boolean | undefined): void => {
        if (on === true) rights |= bit;
        else if (on === false) rights &= ~bit;
      };
      set(UserRights.ENABLED, body.enabled);
      // "trading: false" means trading disabled: the flag is inverted on the server.
      set(UserRights.TRADE_DISABLED, body.trading === undefined ? undefined : !body.trading);
      set(UserRights.READONLY, body.readOnly);
      state.putUser({ ...user, rights });
    });
    return userWire(body.login);
  });

  app.post('/control/dealer/leverage', async (request) => {
    const body = parseBody(leverageBody, request.body);
    serverAction(() => {
      const user = users.get(body.login, null);
      const group = engine.groupOf(user);
      if (!users.leverageFits(body.leverage, group)) {
        throw new Mt5Error(
          Retcode.ERR_PARAMS,
          `leverage must be ${group.leverageMin}–${group.leverageMax} in ${group.name}`,
        );
      }
      state.putUser({ ...user, leverage: body.leverage });
    });
    return userWire(body.login);
  });

  // A dealer trading on a client's behalf (market execution, no margin check: the dealer decides).
  app.post('/control/dealer/trade', async (request) => {
    const body = parseBody(tradeBody, request.body);
    const volume = lotsToVolume(body.lots);
    if (volume < 1) throw new ControlError(400, 'lots must be at least 0.0001');
    const deals = serverAction(() =>
      engine.executeMarket(body.login, {
        symbol: body.symbol,
        action: body.side === 'buy' ? 0 : 1,
        volume,
        positionId: body.positionId,
        reason: DealReason.DEALER,
        comment: body.comment,
      }),
    );
    return { deals: deals.map((d) => wire.deal(d)) };
  });

  // A dealer placing a limit order for a client (pending until the market reaches it, it expires or is canceled).
  app.post('/control/dealer/order', async (request) => {
    const body = parseBody(orderBody, request.body);
    const volume = lotsToVolume(body.lots);
    if (volume < 1) throw new ControlError(400, 'lots must be at least 0.0001');
    const order = serverAction(() =>
      engine.placeLimit(
        body.login,
        {
          symbol: body.symbol,
          action: body.side === 'buy' ? 0 : 1,
          volume,
          reason: DealReason.DEALER,
          ...(body.comment === undefined ? {} : { comment: body.comment }),
        },
        body.price,
        body.expiresAfterSteps === undefined ? Number.POSITIVE_INFINITY : activity.step + body.expiresAfterSteps,
      ),
    );
    return { order: wire.order(order) };
  });

  app.post('/control/dealer/order/cancel', async (request) => {
    const body = parseBody(cancelOrderBody, request.body);
    const order = state.orders.get(body.order);
    if (!order) throw new ControlError(404, `no open order ${body.order}`);
    serverAction(() => engine.cancelOrder(order));
    return { order: wire.order(state.history.get(body.order)!) };
  });

  app.post('/control/activity/step', async (request) => {
    const { steps } = parseBody(stepBody, request.body);
    return activity.run(steps);
  });

  app.get('/control/sessions', async () => ({
    connections: sessions.connectionCount,
    sessions: sessions.sessionCount,
  }));
}
