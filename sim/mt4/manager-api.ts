/**
 * The Manager API calls: one function per bridge endpoint, from validated arguments to reply data. The HTTP layer
 * (routes.ts) has already resolved the session and checked the call's right; here each call applies the manager's
 * group masks and does its work through the domain modules.
 */
import { invalidData, RET } from './codes.ts';
import type { Mt4Config } from './config.ts';
import { type CallArgs, type CallData, type CallName, TRADE_CMD } from './contract.ts';
import type { Market } from './market.ts';
import { GroupMask } from './masks.ts';
import type { ServerClock } from './server-clock.ts';
import { managerInfo, type Session, type SessionRegistry, scopeOf } from './session.ts';
import { type TradingDesk, TT_BR_BALANCE } from './trading.ts';
import { publicUser, type UserDirectory } from './users.ts';

/** A reply other than plain OK (only RET_OK_NONE is used: "nothing to change"). */
export class Answer<T> {
  constructor(
    readonly ret: typeof RET.OK | typeof RET.OK_NONE,
    readonly data: T,
  ) {}
}

export interface CallContext {
  /** Absent only for Login. */
  session: Session | undefined;
  remoteAddress: string;
}

type Handler<N extends CallName> = (args: CallArgs<N>, ctx: CallContext) => CallData<N> | Answer<CallData<N>>;
export type ManagerApi = { [N in CallName]: Handler<N> };

export interface ManagerApiDeps {
  config: Mt4Config;
  clock: ServerClock;
  sessions: SessionRegistry;
  users: UserDirectory;
  desk: TradingDesk;
  market: Market;
  /** Ends the pumping streams of a session that logged out. */
  endPumping(token: string): void;
}

function sessionOf(ctx: CallContext): Session {
  // routes.ts resolves the session for every call but Login; reaching here without one is a wiring bug.
  if (!ctx.session) throw new Error('call dispatched without a session');
  return ctx.session;
}

function mask(source: string): GroupMask {
  const parsed = new GroupMask(source);
  if (parsed.isEmpty) throw invalidData('group: the mask list names no group to include');
  return parsed;
}

export function createManagerApi(deps: ManagerApiDeps): ManagerApi {
  const { users, desk, market, sessions, clock, config } = deps;
  const scope = (ctx: CallContext) => scopeOf(sessionOf(ctx));

  return {
    Login: (args, ctx) => {
      const session = sessions.login(args.login, args.password, ctx.remoteAddress);
      return { session: session.token, manager: managerInfo(session.manager) };
    },
    Logout: (_args, ctx) => {
      const session = sessionOf(ctx);
      sessions.logout(session.token);
      deps.endPumping(session.token);
      return {};
    },
    Ping: () => ({}),
    ServerTime: () => ({ time: clock.now() }),
    ManagerRights: (_args, ctx) => ({ manager: managerInfo(sessionOf(ctx).manager) }),

    UserRecordNew: (args, ctx) => {
      const user = users.create(args, scope(ctx));
      return { login: user.login, user: publicUser(user) };
    },
    UserRecordUpdate: (args, ctx) => {
      const { login, ...changes } = args;
      const { user, changed } = users.update(login, changes, scope(ctx));
      const data = { user: publicUser(user) };
      return changed ? data : new Answer(RET.OK_NONE, data);
    },
    UserPasswordSet: (args, ctx) => {
      users.setPassword(args.login, args.password, args.investor === 1, scope(ctx));
      return {};
    },
    UserPasswordCheck: (args, ctx) => {
      users.checkPassword(args.login, args.password, args.investor === 1, scope(ctx));
      return {};
    },
    UserRecordGet: (args, ctx) => ({ user: publicUser(users.account(args.login, scope(ctx))) }),
    UserRecordsRequest: (args, ctx) => ({ users: users.many(args.logins, scope(ctx)).map(publicUser) }),
    UsersRequest: (_args, ctx) => ({ users: users.list(scope(ctx)).map(publicUser) }),
    AdmUsersRequest: (args, ctx) => ({ users: users.list(scope(ctx), mask(args.group)).map(publicUser) }),

    TradeTransaction: (args, ctx) => {
      if (args.type !== TT_BR_BALANCE) {
        throw invalidData(`transaction type ${args.type} is not supported by this bridge; use 83 (TT_BR_BALANCE)`);
      }
      const record = desk.balanceOperation(
        {
          login: args.orderby,
          cmd: args.cmd === TRADE_CMD.OP_CREDIT ? 7 : 6,
          amount: args.price,
          comment: args.comment ?? '',
          expiration: args.expiration,
        },
        scope(ctx),
      );
      return config.returnTicket ? { order: record.order } : {};
    },
    TradesRequest: (args, ctx) => {
      const see = scope(ctx);
      const only = args.group === undefined ? undefined : mask(args.group);
      return {
        trades: desk.openTrades(
          (u) =>
            see(u.group) && (args.login === undefined || u.login === args.login) && (!only || only.matches(u.group)),
        ),
      };
    },
    TradesUserHistory: (args, ctx) => ({ trades: desk.history(args.login, args.from, args.to, scope(ctx)) }),
    TradeRecordGet: (args, ctx) => ({ trade: desk.record(args.order, scope(ctx)) }),
    MarginLevelRequest: (args, ctx) => ({ margin: desk.marginLevel(args.login, scope(ctx)) }),

    CfgRequestGroup: () => ({ groups: config.groups.map(groupConfig) }),
    GroupRecordGet: (args) => {
      const group = users.group(args.group);
      if (!group) throw invalidData(`group "${args.group}" does not exist on this server`);
      return { group: groupConfig(group) };
    },
    CfgRequestSymbol: () => ({ symbols: market.configs() }),
    SymbolGet: (args) => {
      const symbol = market.configs().find((s) => s.symbol === args.symbol);
      if (!symbol) throw invalidData(`symbol "${args.symbol}" does not exist on this server`);
      return { symbol };
    },
  };
}

function groupConfig(group: Mt4Config['groups'][number]) {
  const { loginRange: _range, ...config } = group;
  return config;
}
