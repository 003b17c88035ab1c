/**
 * The Web API endpoints. Each one declares whether it needs an authenticated session and which manager right; the
 * handler reads its parameters, calls the server logic and returns the retcode and answer. Refusals are thrown as
 * Mt5Error and become `{"retcode":"<code> <text>"}` replies in protocol.ts.
 */
import { timingSafeEqual } from 'node:crypto';
import type { SimClock } from '../common/clock.ts';
import {
  challengeAnswer,
  isChallengeHex,
  MIN_CLIENT_VERSION,
  newChallenge,
  SERVER_BUILD,
  webApiPasswordHash,
} from './auth.ts';
import type { GroupBook, ManagerRight, Mt5Group, Mt5Manager } from './config.ts';
import type { WireFormat, WireObject } from './format.ts';
import type { Market } from './market.ts';
import { groupMatches, splitMasks } from './masks.ts';
import type { OrderRecord, UserRecord } from './model.ts';
import type { Params } from './params.ts';
import { fail, Retcode } from './retcodes.ts';
import type { Connection } from './sessions.ts';
import type { Mt5State } from './state.ts';
import type { TradingEngine } from './trading.ts';
import { parsePasswordType, type UserService } from './users.ts';

/** The most records one page request returns; asking for more silently gets this many, as on the server. */
export const PAGE_MAX = 100;

export interface RequestContext {
  params: Params;
  connection: Connection;
  remoteAddress: string | undefined;
}

/** What endpoints behind the session gate see: the manager the connection authenticated as. */
export interface SessionContext extends RequestContext {
  manager: Mt5Manager;
}

export interface Reply {
  retcode: number;
  answer?: unknown;
  /** Top-level fields besides retcode (the auth steps answer this way, not inside `answer`). */
  fields?: Record<string, string>;
  /** Close the connection after replying (`/api/quit`). */
  close?: boolean;
  /** HTTP status; 200 unless the pipeline says otherwise. */
  status?: number;
}

/** The handshake steps run on any connection; everything else needs an authenticated session (and maybe a right). */
export type Endpoint =
  | { session: false; handle(ctx: RequestContext): Reply }
  | { session: true; right?: ManagerRight; handle(ctx: SessionContext): Reply };

export interface ApiDependencies {
  clock: SimClock;
  state: Mt5State;
  groups: GroupBook;
  managers: readonly Mt5Manager[];
  users: UserService;
  engine: TradingEngine;
  market: Market;
  wire: WireFormat;
  handshakeWindowMs: number;
}

const done = (answer?: unknown): Reply =>
  answer === undefined ? { retcode: Retcode.OK } : { retcode: Retcode.OK, answer };

export function buildEndpoints(deps: ApiDependencies): Map<string, Endpoint> {
  const { clock, state, groups, users, engine, market, wire } = deps;
  const managerKeys = new Map(
    deps.managers.map((m) => [m.login, { manager: m, hash: webApiPasswordHash(m.password) }]),
  );

  const visibleGroups = (manager: Mt5Manager): Mt5Group[] =>
    groups.list.filter((g) => users.canAccess(manager, g.name));
  const digitsOf = (user: UserRecord): number => groups.get(user.group)?.currencyDigits ?? 2;
  const userWire = (user: UserRecord): WireObject => wire.user(user, digitsOf(user));

  /** Trade history reads: the account must exist (or have left history behind) and be within the manager's groups. */
  const tradesLogin = (ctx: SessionContext): number => {
    const login = ctx.params.requireInt('login');
    const user = state.users.get(login);
    if (user) users.get(login, ctx.manager);
    else if (!state.hasDeals(login)) fail(Retcode.ERR_NOTFOUND, `no account ${login}`);
    return login;
  };
  const range = (params: Params): { from: number; to: number } => {
    const from = params.requireInt('from');
    const to = params.requireInt('to');
    if (from < 0 || to < from) fail(Retcode.ERR_PARAMS, 'from/to must satisfy 0 ≤ from ≤ to');
    return { from, to };
  };
  const inRange = (utcMs: number, r: { from: number; to: number }): boolean => {
    const seconds = Math.floor(wire.serverMs(utcMs) / 1000);
    return seconds >= r.from && seconds <= r.to;
  };
  /**
   * `get_batch` of orders: `ticket=1,2,3` (tickets the server does not have, or whose account the manager may not
   * see, are left out), or `login=1,2` (every order of those accounts).
   */
  const ordersByTicketOrLogin = (
    ctx: SessionContext,
    collection: { get(ticket: number): OrderRecord | undefined },
    ofLogin: (login: number) => OrderRecord[],
  ): OrderRecord[] => {
    const list = (name: string) =>
      (ctx.params.string(name) ?? '')
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '')
        .map((v) => (/^\d+$/.test(v) ? Number(v) : fail(Retcode.ERR_PARAMS, `${name} must be a list of numbers`)));
    const tickets = list('ticket');
    const logins = list('login');
    if (tickets.length === 0 && logins.length === 0) fail(Retcode.ERR_PARAMS, 'ticket or login is required');
    const visible = (o: OrderRecord) => {
      const user = state.users.get(o.login);
      return !user || users.canAccess(ctx.manager, user.group);
    };
    const found: OrderRecord[] = [];
    for (const t of tickets) {
      const o = collection.get(t);
      if (o && visible(o)) found.push(o);
    }
    for (const l of logins) for (const o of ofLogin(l)) if (visible(o)) found.push(o);
    return found;
  };
  const page = <T>(list: T[], params: Params): T[] => {
    const offset = params.int('offset') ?? 0;
    const total = params.int('total') ?? PAGE_MAX;
    if (offset < 0 || total < 1) fail(Retcode.ERR_PARAMS, 'offset must be ≥ 0 and total ≥ 1');
    return list.slice(offset, offset + Math.min(total, PAGE_MAX));
  };
  const total = (n: number): Reply => done({ Total: String(n) });
  /** Users named by `login=` (comma list) and/or `group=` (masks), limited to what the manager may see. */
  const selectUsers = (ctx: SessionContext): UserRecord[] => {
    const logins = ctx.params.intList('login');
    const masks = splitMasks(ctx.params.string('group') ?? '');
    if (logins.length === 0 && masks.length === 0) fail(Retcode.ERR_PARAMS, 'give login or group');
    const picked = new Map<number, UserRecord>();
    for (const login of logins) {
      const u = state.users.get(login);
      if (u && users.canAccess(ctx.manager, u.group)) picked.set(login, u);
    }
    if (masks.length > 0) {
      for (const u of state.users.values()) {
        if (groupMatches(masks, u.group) && users.canAccess(ctx.manager, u.group)) picked.set(u.login, u);
      }
    }
    return [...picked.values()].sort((a, b) => a.login - b.login);
  };

  const endpoints: [string, Endpoint][] = [
    [
      '/api/auth/start',
      {
        session: false,
        handle: ({ params, connection }) => {
          const version = params.requireInt('version');
          const agent = params.requireString('agent');
          const login = params.requireInt('login');
          if (version < MIN_CLIENT_VERSION) fail(Retcode.AUTH_CLIENT_OLD, `version ${version} < ${MIN_CLIENT_VERSION}`);
          if (/\s/.test(agent)) fail(Retcode.ERR_PARAMS, 'agent must not contain spaces');
          if (login <= 0) fail(Retcode.ERR_PARAMS, 'login must be positive');
          if ((params.string('type') ?? '').toLowerCase() !== 'manager')
            fail(Retcode.AUTH_CLIENT_INVALID, 'type must be manager');
          // Starting a handshake ends whatever session the connection had. Unknown logins get a challenge too, so
          // the start step does not reveal which manager accounts exist.
          connection.session = undefined;
          const srvRand = newChallenge();
          connection.handshake = { login, srvRand, startedAt: clock.now() };
          return { retcode: Retcode.OK, fields: { version_access: SERVER_BUILD, srv_rand: srvRand } };
        },
      },
    ],
    [
      '/api/auth/answer',
      {
        session: false,
        handle: ({ params, connection, remoteAddress }) => {
          const handshake = connection.handshake;
          connection.handshake = undefined; // a challenge is answered once, right or wrong
          if (!handshake) fail(Retcode.ERR_PARAMS, 'no /api/auth/start on this connection');
          const srvRandAnswer = params.requireString('srv_rand_answer').toLowerCase();
          const cliRand = params.requireString('cli_rand');
          if (!isChallengeHex(srvRandAnswer) || !isChallengeHex(cliRand))
            fail(Retcode.ERR_PARAMS, 'answers are 32 hex digits');
          if (clock.now() - handshake.startedAt > deps.handshakeWindowMs) {
            fail(Retcode.ERR_TIMEOUT, 'the answer came after the handshake window');
          }
          const key = managerKeys.get(handshake.login);
          const expected = key ? challengeAnswer(key.hash, handshake.srvRand) : '';
          if (!key || !timingSafeEqual(Buffer.from(expected), Buffer.from(srvRandAnswer))) {
            fail(Retcode.AUTH_ACCOUNT_INVALID, `bad login or password for ${handshake.login}`);
          }
          if (!key.manager.ip.allows(remoteAddress)) {
            fail(Retcode.AUTH_MANAGER_IPBLOCK, `${remoteAddress} is not allowed for manager ${handshake.login}`);
          }
          connection.session = { manager: key.manager, since: clock.now() };
          return {
            retcode: Retcode.OK,
            fields: { cli_rand_answer: challengeAnswer(key.hash, cliRand), version_trade: SERVER_BUILD },
          };
        },
      },
    ],
    ['/api/test/access', { session: true, handle: () => done() }],
    [
      '/api/quit',
      {
        session: true,
        handle: ({ connection }) => {
          connection.session = undefined;
          return { retcode: Retcode.OK, close: true };
        },
      },
    ],
    ['/api/time/server', { session: true, handle: () => done(wire.serverTime(clock.now())) }],
    ['/api/time/get', { session: true, handle: () => done(wire.timeConfig(clock.now())) }],

    [
      '/api/group/get',
      {
        session: true,
        handle: ({ params, manager }) => {
          const name = params.requireString('group');
          const group = groups.get(name) ?? fail(Retcode.ERR_NOTFOUND, `no group ${name}`);
          if (!users.canAccess(manager, group.name))
            fail(Retcode.ERR_PERMISSIONS, `group ${name} is outside the manager's groups`);
          return done(wire.group(group));
        },
      },
    ],
    ['/api/group/total', { session: true, handle: ({ manager }) => total(visibleGroups(manager).length) }],
    [
      '/api/group/next',
      {
        session: true,
        handle: ({ params, manager }) => {
          const index = params.requireInt('index');
          const group = visibleGroups(manager)[index] ?? fail(Retcode.ERR_NOTFOUND, `no group at index ${index}`);
          return done(wire.group(group));
        },
      },
    ],

    [
      '/api/user/add',
      {
        session: true,
        right: 'accounts_write',
        handle: ({ params, manager }) => done(userWire(users.add(params, manager))),
      },
    ],
    [
      '/api/user/update',
      {
        session: true,
        right: 'accounts_write',
        handle: ({ params, manager }) => done(userWire(users.update(params, manager))),
      },
    ],
    [
      '/api/user/delete',
      {
        session: true,
        right: 'accounts_delete',
        handle: ({ params, manager }) => {
          users.delete(params.requireInt('login'), manager);
          return done();
        },
      },
    ],
    [
      '/api/user/get',
      {
        session: true,
        right: 'accounts_read',
        handle: ({ params, manager }) => done(userWire(users.get(params.requireInt('login'), manager))),
      },
    ],
    [
      '/api/user/get_batch',
      { session: true, right: 'accounts_read', handle: (ctx) => done(selectUsers(ctx).map(userWire)) },
    ],
    [
      '/api/user/logins',
      {
        session: true,
        right: 'accounts_read',
        handle: ({ params, manager }) => {
          const masks = splitMasks(params.requireString('group'));
          const logins: number[] = [];
          for (const u of state.users.values()) {
            if (groupMatches(masks, u.group) && users.canAccess(manager, u.group)) logins.push(u.login);
          }
          return done(logins.sort((a, b) => a - b).map(String));
        },
      },
    ],
    [
      '/api/user/total',
      {
        session: true,
        right: 'accounts_read',
        handle: ({ manager }) => {
          let n = 0;
          for (const u of state.users.values()) if (users.canAccess(manager, u.group)) n += 1;
          return total(n);
        },
      },
    ],
    [
      '/api/user/group',
      {
        session: true,
        right: 'accounts_read',
        handle: ({ params, manager }) => done({ Group: users.get(params.requireInt('login'), manager).group }),
      },
    ],
    [
      '/api/user/change_password',
      {
        session: true,
        right: 'passwords',
        handle: ({ params, manager }) => {
          const login = params.requireInt('login');
          const type = parsePasswordType(params.string('type'));
          users.changePassword(login, type, params.requireString('password'), manager);
          return done();
        },
      },
    ],
    [
      '/api/user/check_password',
      {
        session: true,
        right: 'passwords',
        handle: ({ params, manager }) => {
          const login = params.requireInt('login');
          const type = parsePasswordType(params.string('type'));
          users.checkPassword(login, type, params.requireString('password'), manager);
          return done();
        },
      },
    ],
    [
      '/api/user/account/get',
      {
        session: true,
        right: 'accounts_read',
        handle: ({ params, manager }) =>
          done(wire.account(engine.accountState(users.get(params.requireInt('login'), manager)))),
      },
    ],
    [
      '/api/user/account/get_batch',
      {
        session: true,
        right: 'accounts_read',
        handle: (ctx) => done(selectUsers(ctx).map((u) => wire.account(engine.accountState(u)))),
      },
    ],

    [
      '/api/trade/balance',
      {
        session: true,
        right: 'balance',
        handle: ({ params, manager }) => {
          const login = params.requireInt('login');
          const type = params.requireInt('type');
          const amount = params.requireNumber('balance');
          const checkMargin = (params.int('check_margin') ?? 1) !== 0;
          users.get(login, manager);
          const deal = engine.balanceOperation({
            login,
            type,
            amount,
            comment: params.string('comment'),
            checkMargin,
            dealer: manager.login,
          });
          return done({ Ticket: String(deal.deal) });
        },
      },
    ],

    [
      '/api/deal/get',
      {
        session: true,
        right: 'trades_read',
        handle: ({ params, manager }) => {
          const ticket = params.requireInt('ticket');
          const deal = state.deals.get(ticket) ?? fail(Retcode.ERR_NOTFOUND, `no deal ${ticket}`);
          if (state.users.has(deal.login)) users.get(deal.login, manager);
          return done(wire.deal(deal));
        },
      },
    ],
    [
      '/api/deal/get_total',
      {
        session: true,
        right: 'trades_read',
        handle: (ctx) => {
          const login = tradesLogin(ctx);
          const r = range(ctx.params);
          return total(state.dealsOf(login).filter((d) => inRange(d.time, r)).length);
        },
      },
    ],
    [
      '/api/deal/get_page',
      {
        session: true,
        right: 'trades_read',
        handle: (ctx) => {
          const login = tradesLogin(ctx);
          const r = range(ctx.params);
          const deals = state.dealsOf(login).filter((d) => inRange(d.time, r));
          return done(page(deals, ctx.params).map((d) => wire.deal(d)));
        },
      },
    ],
    [
      '/api/position/get_total',
      { session: true, right: 'trades_read', handle: (ctx) => total(state.positionsOf(tradesLogin(ctx)).length) },
    ],
    [
      '/api/position/get_page',
      {
        session: true,
        right: 'trades_read',
        handle: (ctx) => {
          const login = tradesLogin(ctx);
          const user = state.users.get(login);
          const group = user ? groups.get(user.group) : undefined;
          return done(
            page(state.positionsOf(login), ctx.params).map((p) =>
              wire.position(p, group ? engine.positionProfit(p, group) : 0, market.closePrice(p.symbol, p.action)),
            ),
          );
        },
      },
    ],
    [
      '/api/order/get',
      {
        session: true,
        right: 'trades_read',
        handle: ({ params, manager }) => {
          const ticket = params.requireInt('ticket');
          const order = state.orders.get(ticket) ?? fail(Retcode.ERR_NOTFOUND, `no open order ${ticket}`);
          if (state.users.has(order.login)) users.get(order.login, manager);
          return done(wire.order(order));
        },
      },
    ],
    [
      '/api/order/get_batch',
      {
        session: true,
        right: 'trades_read',
        handle: (ctx) =>
          done(ordersByTicketOrLogin(ctx, state.orders, (l) => state.ordersOf(l)).map((o) => wire.order(o))),
      },
    ],
    [
      '/api/history/get',
      {
        session: true,
        right: 'trades_read',
        handle: ({ params, manager }) => {
          const ticket = params.requireInt('ticket');
          const order = state.history.get(ticket) ?? fail(Retcode.ERR_NOTFOUND, `no history order ${ticket}`);
          if (state.users.has(order.login)) users.get(order.login, manager);
          return done(wire.order(order));
        },
      },
    ],
    [
      '/api/history/get_batch',
      {
        session: true,
        right: 'trades_read',
        handle: (ctx) =>
          done(ordersByTicketOrLogin(ctx, state.history, (l) => state.historyOf(l)).map((o) => wire.order(o))),
      },
    ],
    [
      '/api/order/get_total',
      { session: true, right: 'trades_read', handle: (ctx) => total(state.ordersOf(tradesLogin(ctx)).length) },
    ],
    [
      '/api/order/get_page',
      {
        session: true,
        right: 'trades_read',
        handle: (ctx) => done(page(state.ordersOf(tradesLogin(ctx)), ctx.params).map((o) => wire.order(o))),
      },
    ],
    [
      '/api/history/get_total',
      {
        session: true,
        right: 'trades_read',
        handle: (ctx) => {
          const login = tradesLogin(ctx);
          const r = range(ctx.params);
          return total(state.historyOf(login).filter((o) => inRange(o.timeSetup, r)).length);
        },
      },
    ],
    [
      '/api/history/get_page',
      {
        session: true,
        right: 'trades_read',
        handle: (ctx) => {
          const login = tradesLogin(ctx);
          const r = range(ctx.params);
          const orders = state.historyOf(login).filter((o) => inRange(o.timeSetup, r));
          return done(page(orders, ctx.params).map((o) => wire.order(o)));
        },
      },
    ],
  ];
  return new Map(endpoints);
}
