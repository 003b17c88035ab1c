/**
 * The MT4 Manager bridge contract, as data: the records, every call's request and reply, and the pumping events.
 *
 * These zod schemas are the single source of truth. The simulator validates requests with them, the tests check
 * replies against them, and `openapi.ts` renders them into docs/mt4-bridge.openapi.yaml, the document a broker's
 * engineer implements over mtmanapi.dll. Field names, widths and codes follow the DLL's structures (UserRecord,
 * TradeRecord, TradeTransInfo, ConGroup, ConSymbol, MarginLevel, ConManager).
 */
import { z } from 'zod';
import { RET, type RetCode } from './codes.ts';

const INT32_MAX = 2_147_483_647;

/** An MT4 int field (32-bit signed). */
export const int32 = () =>
  z
    .number()
    .int()
    .min(-INT32_MAX - 1)
    .max(INT32_MAX);

export function utf8Bytes(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

/**
 * A fixed-width MT4 text field (char[N+1] in the DLL). Widths are checked in UTF-8 bytes, which is never shorter than
 * the server's single-byte code page, so text that passes here also fits the real field. NUL is refused because it
 * would silently end the C string.
 */
function text(maxBytes: number, description: string) {
  return z
    .string()
    .refine((v) => utf8Bytes(v) <= maxBytes, { message: `longer than ${maxBytes} bytes (UTF-8)` })
    .refine((v) => !v.includes('\u0000'), { message: 'contains a NUL character' })
    .meta({ description, 'x-max-bytes': maxBytes });
}

/** A comment field that MT4 cuts silently instead of refusing (the trade comment, the user comment). */
function cutText(maxBytes: number, description: string) {
  return z
    .string()
    .max(1024, 'longer than 1024 characters')
    .refine((v) => !v.includes('\u0000'), { message: 'contains a NUL character' })
    .meta({ description, 'x-cut-at-bytes': maxBytes });
}

export const flag = (description: string) => z.literal([0, 1]).meta({ description });

export const loginField = z.number().int().min(1).max(INT32_MAX).meta({ description: 'Account login (MT4 int).' });

export const orderField = z.number().int().min(1).max(INT32_MAX).meta({ description: 'Trade ticket (MT4 int).' });

export const serverTime = z
  .number()
  .int()
  .min(0)
  .max(INT32_MAX)
  .meta({
    description:
      'Server wall-clock time: seconds since 1970-01-01 00:00 counted as if the server zone were UTC (the MT4 ' +
      'convention). NOT a UTC instant: subtract the server zone offset in force at that moment to get UTC.',
  });

/** Group masks: comma-separated, `*` matches any run of characters, a leading `!` excludes. */
export const groupMaskField = text(
  255,
  'Group mask list, MT4 syntax: comma-separated masks, `*` matches any characters, a mask starting with `!` ' +
    'excludes. A group matches when it matches at least one positive mask and no excluding mask. Example: ' +
    '`real-*,!real-vip*`.',
);

// ---------------------------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------------------------

export const groupName = text(15, 'Group name (char[16] in MT4: at most 15 bytes).');

export const UserRecord = z
  .object({
    login: loginField,
    group: z.string().meta({ description: 'Group (at most 15 bytes).' }),
    name: z.string().meta({ description: 'Full name (at most 127 bytes).' }),
    email: z.string().meta({ description: 'E-mail (at most 47 bytes).' }),
    country: z.string().meta({ description: 'Country (at most 31 bytes).' }),
    city: z.string().meta({ description: 'City (at most 31 bytes).' }),
    state: z.string().meta({ description: 'State (at most 31 bytes).' }),
    zipcode: z.string().meta({ description: 'Zip code (at most 15 bytes).' }),
    address: z.string().meta({ description: 'Address (at most 95 bytes).' }),
    phone: z.string().meta({ description: 'Phone (at most 31 bytes).' }),
    id: z.string().meta({ description: 'Identity document number (at most 31 bytes).' }),
    status: z.string().meta({ description: 'Free status text (at most 15 bytes).' }),
    comment: z.string().meta({ description: 'Comment (at most 63 bytes; longer input is cut).' }),
    leverage: int32().meta({ description: 'Leverage, 1:N.' }),
    enable: flag('1 = the account may connect; 0 = disabled.'),
    enable_read_only: flag('1 = the client may log in but cannot trade.'),
    enable_change_password: flag('1 = the client may change the password from the terminal.'),
    send_reports: flag('1 = the server e-mails daily reports.'),
    agent_account: z
      .number()
      .int()
      .min(0)
      .max(INT32_MAX)
      .meta({ description: "The introducing broker's login; 0 = none." }),
    balance: z.number().meta({
      description:
        'Balance, IEEE double in the group currency, accumulated by float addition (expect 0.30000000000000004).',
    }),
    credit: z.number().meta({ description: 'Credit, IEEE double in the group currency.' }),
    regdate: serverTime.meta({ description: 'Registration time (server wall-clock seconds).' }),
    timestamp: serverTime.meta({
      description: 'Last change of the record (server wall-clock seconds); use it to find changes when catching up.',
    }),
  })
  .meta({ description: 'MT4 UserRecord. Passwords are write-only and never returned.' });
export type UserRecord = z.infer<typeof UserRecord>;

export const TRADE_CMD = {
  OP_BUY: 0,
  OP_SELL: 1,
  OP_BUY_LIMIT: 2,
  OP_SELL_LIMIT: 3,
  OP_BUY_STOP: 4,
  OP_SELL_STOP: 5,
  OP_BALANCE: 6,
  OP_CREDIT: 7,
} as const;
export type TradeCmd = (typeof TRADE_CMD)[keyof typeof TRADE_CMD];

export const TradeRecord = z
  .object({
    order: orderField,
    login: loginField,
    symbol: z.string().meta({ description: 'Symbol (at most 11 bytes, e.g. `XAUUSD.m`); empty for balance/credit.' }),
    digits: int32().meta({ description: 'Price digits of the symbol; 0 for balance/credit.' }),
    cmd: z
      .literal([0, 1, 2, 3, 4, 5, 6, 7])
      .meta({ description: '0 buy, 1 sell, 2 buy limit, 3 sell limit, 4 buy stop, 5 sell stop, 6 balance, 7 credit.' }),
    volume: z
      .number()
      .int()
      .min(0)
      .max(INT32_MAX)
      .meta({ description: 'Volume in lots × 100 (1 lot = 100, 0.01 lot = 1).' }),
    open_time: serverTime,
    open_price: z.number(),
    sl: z.number(),
    tp: z.number(),
    close_time: serverTime.meta({
      description: '0 while the trade is open. Balance and credit records are born closed: close_time = open_time.',
    }),
    close_price: z.number().meta({ description: 'Closing price; for an open trade the current market price.' }),
    expiration: serverTime.meta({ description: 'Credit expiration (cmd 7) or pending order expiration; 0 = none.' }),
    commission: z.number(),
    commission_agent: z.number(),
    storage: z.number().meta({ description: 'Swap accumulated so far.' }),
    taxes: z.number(),
    profit: z.number().meta({
      description:
        'Profit in the account currency; for cmd 6/7 the signed amount; for an open trade the floating profit.',
    }),
    comment: z.string().meta({ description: 'Comment (at most 31 bytes; longer input is cut silently).' }),
    magic: int32(),
    timestamp: serverTime.meta({ description: 'Last change of the record (server wall-clock seconds).' }),
  })
  .meta({ description: 'MT4 TradeRecord: one record per trade (open or closed) and per balance/credit operation.' });
export type TradeRecord = z.infer<typeof TradeRecord>;

export const GroupConfig = z
  .object({
    group: z.string().meta({ description: 'Group name (at most 15 bytes).' }),
    enable: flag('0 = accounts in the group cannot connect or trade.'),
    currency: z.string().meta({ description: 'Deposit currency (ISO code).' }),
    digits: int32().meta({ description: 'Decimal digits of the deposit currency; money is rounded to them.' }),
    default_leverage: int32(),
    leverage_min: int32().meta({ description: 'Bridge extension: lowest leverage UserRecordNew/Update accept.' }),
    leverage_max: int32().meta({ description: 'Bridge extension: highest leverage accepted.' }),
    margin_call: z.number().meta({ description: 'Margin call level.' }),
    margin_stopout: z.number().meta({ description: 'Stop-out level; below it the server closes losing trades.' }),
    margin_type: z.literal([0, 1]).meta({ description: '0 = levels in percent of margin, 1 = in money.' }),
    commission_per_lot: z
      .number()
      .min(0)
      .meta({
        description:
          'Commission per lot, charged when a trade opens: the trade gets commission = −commission_per_lot × lots ' +
          '(deposit currency). A simplification of ConGroup.secgroups[].comm_base.',
      }),
  })
  .meta({ description: 'The parts of MT4 ConGroup a CRM needs.' });
export type GroupConfig = z.infer<typeof GroupConfig>;

export const SymbolConfig = z
  .object({
    symbol: z.string().meta({ description: 'Symbol (at most 11 bytes).' }),
    description: z.string(),
    digits: int32(),
    point: z.number(),
    contract_size: z.number(),
    margin_currency: z.string(),
    currency: z.string().meta({ description: 'Profit currency.' }),
    spread: int32().meta({ description: 'Spread in points.' }),
    swap_long: z.number().meta({ description: 'Swap per lot per rollover for buys, in the profit currency.' }),
    swap_short: z.number(),
    trade: z.literal([0, 1, 2]).meta({ description: '0 no trading, 1 close only, 2 full access.' }),
  })
  .meta({ description: 'The parts of MT4 ConSymbol a CRM needs.' });
export type SymbolConfig = z.infer<typeof SymbolConfig>;

export const MarginLevel = z
  .object({
    login: loginField,
    group: z.string(),
    leverage: int32(),
    updated: serverTime,
    balance: z.number(),
    equity: z
      .number()
      .meta({ description: 'balance + credit + floating profit, storage and commission of open trades.' }),
    volume: int32().meta({ description: 'Open volume in lots × 100.' }),
    margin: z.number(),
    margin_free: z.number().meta({ description: 'equity − margin.' }),
    margin_level: z.number().meta({ description: 'equity / margin × 100; 0 without open trades.' }),
    margin_type: z.literal([0, 1]),
    level_type: z.literal([0, 1, 2]).meta({ description: '0 normal, 1 margin call, 2 stop out.' }),
  })
  .meta({ description: 'MT4 MarginLevel.' });
export type MarginLevel = z.infer<typeof MarginLevel>;

export const RIGHTS = ['admin', 'money', 'see_trades'] as const;
export type ManagerRight = (typeof RIGHTS)[number];

export const ManagerInfo = z
  .object({
    login: loginField,
    name: z.string(),
    admin: flag('Create and edit accounts, set passwords.'),
    money: flag('Balance and credit operations (TradeTransaction TT_BR_BALANCE).'),
    see_trades: flag('Read accounts, trades and history; subscribe to pumping.'),
    groups: z.string().meta({ description: 'Manageable group masks (see GroupMask).' }),
    ip_filter: z.array(z.string()).meta({ description: 'CIDR allow-list the manager may connect from.' }),
  })
  .meta({ description: 'The logged-in manager (MT4 ConManager subset).' });
export type ManagerInfo = z.infer<typeof ManagerInfo>;

export const PUMPING_EVENT_TYPES = ['user_add', 'user_update', 'trade_add', 'trade_update', 'trade_close'] as const;
export type PumpingEventType = (typeof PUMPING_EVENT_TYPES)[number];

export const PumpingEvent = z
  .object({
    type: z.enum(PUMPING_EVENT_TYPES).meta({
      description:
        'user_add / user_update: a UserRecord was created or changed (any field, balance included). trade_add: a ' +
        'trade opened, or a balance/credit record was posted (cmd 6/7, already closed). trade_update: an open trade ' +
        'changed (e.g. storage at rollover). trade_close: a trade closed (close_time set, profit final).',
    }),
    seq: z
      .number()
      .int()
      .min(1)
      .meta({
        description:
          'Per-server-process sequence for diagnostics. Gaps are normal (other managers’ groups, drops); it is NOT a ' +
          'resume position: nothing is ever replayed.',
      }),
    time: serverTime,
    user: UserRecord.optional().meta({ description: 'Present for user_* events: the full record after the change.' }),
    trade: TradeRecord.optional().meta({
      description: 'Present for trade_* events: the full record after the change.',
    }),
  })
  .meta({ description: 'One pumping event (the JSON in the `data:` line of an SSE event named after `type`).' });
export type PumpingEvent = z.infer<typeof PumpingEvent>;

// ---------------------------------------------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------------------------------------------

const userTextFields = {
  name: text(127, 'Full name (at most 127 bytes).'),
  email: text(47, 'E-mail (at most 47 bytes; not validated, as in MT4).'),
  country: text(31, 'Country (at most 31 bytes).'),
  city: text(31, 'City (at most 31 bytes).'),
  state: text(31, 'State (at most 31 bytes).'),
  zipcode: text(15, 'Zip code (at most 15 bytes).'),
  address: text(95, 'Address (at most 95 bytes).'),
  phone: text(31, 'Phone (at most 31 bytes).'),
  id: text(31, 'Identity document number (at most 31 bytes).'),
  status: text(15, 'Free status text (at most 15 bytes).'),
  comment: cutText(63, 'Comment; cut silently to 63 bytes.'),
};

const userFlagFields = {
  enable: flag('1 = enabled (default 1).'),
  enable_read_only: flag('1 = cannot trade (default 0).'),
  enable_change_password: flag('Default 1.'),
  send_reports: flag('Default 1.'),
};

const leverageField = z
  .number()
  .int()
  .min(0)
  .max(10_000)
  .meta({ description: "Leverage 1:N; must lie within the group's leverage_min..leverage_max." });

const agentField = z.number().int().min(0).max(INT32_MAX).meta({ description: "The IB's login; 0 = none." });

const passwordField = z
  .string()
  .max(64, 'longer than 64 characters')
  .meta({
    description:
      'Password rules (the bridge enforces them; weaker → ret 3): 6 to 15 characters, printable ASCII without spaces, ' +
      'at least one letter and one digit.',
  });

export interface CallSpec<Req extends z.ZodType = z.ZodType, Rep extends z.ZodType = z.ZodType> {
  name: string;
  /** What the session must carry: `public` needs none (Login), `session` any logged-in manager. */
  access: 'public' | 'session' | ManagerRight;
  summary: string;
  description: string;
  request: Req;
  reply: Rep;
  /** Return codes this call answers by its own logic (transport-level codes are documented once, for all calls). */
  returns: readonly RetCode[];
}

function call<Req extends z.ZodType, Rep extends z.ZodType>(spec: CallSpec<Req, Rep>): CallSpec<Req, Rep> {
  return spec;
}

const empty = z.object({}).strict();

export const calls = {
  Login: call({
    name: 'Login',
    access: 'public',
    summary: 'Connect + Login: open a manager session',
    description:
      'The DLL’s Connect() and Login() in one call. Answers a session token to send in the `X-MT4-Session` header of ' +
      'every other call. Sessions live in the bridge’s memory: a bridge or server restart, or a server-side drop, ' +
      'ends them and calls answer ret 6; log in again and repeat the call (for TradeTransaction only after ' +
      'verifying by comment, see there). Checks the manager’s IP allow-list against the connecting address.',
    request: z
      .object({
        login: loginField.meta({ description: 'Manager login.' }),
        password: z.string().max(64).meta({ description: 'Manager password.' }),
      })
      .strict(),
    reply: z.object({
      session: z.string().meta({ description: 'Opaque session token for the X-MT4-Session header.' }),
      manager: ManagerInfo,
    }),
    returns: [RET.INVALID_DATA, RET.NOT_ENOUGH_RIGHTS, RET.ACCOUNT_DISABLED, RET.BAD_ACCOUNT_INFO],
  }),
  Logout: call({
    name: 'Logout',
    access: 'session',
    summary: 'Disconnect: end the session',
    description: 'Ends the session and any pumping stream opened with it.',
    request: empty,
    reply: z.object({}),
    returns: [],
  }),
  Ping: call({
    name: 'Ping',
    access: 'session',
    summary: 'Ping: check the session is alive',
    description: 'Answers ret 0 while the session is valid, ret 6 after it was dropped.',
    request: empty,
    reply: z.object({}),
    returns: [],
  }),
  ServerTime: call({
    name: 'ServerTime',
    access: 'session',
    summary: 'ServerTime: the server wall clock',
    description:
      'The server’s current wall-clock time. MT4 does not report its zone: configure the zone per server in the CRM ' +
      '(the simulator prints it in its banner; default Europe/Nicosia, with daylight saving).',
    request: empty,
    reply: z.object({ time: serverTime }),
    returns: [],
  }),
  ManagerRights: call({
    name: 'ManagerRights',
    access: 'session',
    summary: 'ManagerRights: the logged-in manager’s rights and groups',
    description: 'Lets a go-live check verify rights, group masks and IP filter before the first client needs them.',
    request: empty,
    reply: z.object({ manager: ManagerInfo }),
    returns: [],
  }),
  UserRecordNew: call({
    name: 'UserRecordNew',
    access: 'admin',
    summary: 'UserRecordNew: create an account',
    description:
      'Creates a trading account. `login` 0 (or absent) lets the server allocate the next free login from the ' +
      'group’s range if it has one, else the server’s range; a non-zero login is used as given if free (else ret 2). ' +
      'Logins are never reused, not even after a restart. Balance and credit cannot be set here (non-zero → ret 3): ' +
      'a deposit is a separate TradeTransaction. Oversized text fields → ret 3 (except `comment`, cut silently). ' +
      'A group outside the manager’s masks → ret 7; an unknown group → ret 3; never a silent fallback to another group.',
    request: z
      .object({ ...userTextFields, ...userFlagFields })
      .partial()
      .extend({
        login: z.number().int().min(0).max(INT32_MAX).optional().meta({ description: '0 or absent = allocate.' }),
        group: groupName,
        name: userTextFields.name.refine((v) => v.trim().length > 0, { message: 'must not be empty' }),
        password: passwordField.meta({ description: 'Main (trading) password; see UserPasswordSet for the rules.' }),
        password_investor: passwordField.optional().meta({
          description: 'Investor (read-only) password; absent = investor access off until set with UserPasswordSet.',
        }),
        leverage: leverageField.optional().meta({ description: '0 or absent = the group’s default_leverage.' }),
        agent_account: agentField.optional(),
        balance: z.number().optional().meta({ description: 'Must be absent or 0.' }),
        credit: z.number().optional().meta({ description: 'Must be absent or 0.' }),
      })
      .strict(),
    reply: z.object({ login: loginField, user: UserRecord }),
    returns: [RET.ERROR, RET.INVALID_DATA, RET.NOT_ENOUGH_RIGHTS],
  }),
  UserRecordUpdate: call({
    name: 'UserRecordUpdate',
    access: 'admin',
    summary: 'UserRecordUpdate: change account fields',
    description:
      'Changes the fields present in the request and keeps every other field as the server has it now: the bridge ' +
      'performs the DLL’s read-modify-write (UserRecordGet, change, UserRecordUpdate) in one step, so a dealer’s ' +
      'concurrent change to another field is not overwritten. Balance and credit are not fields here (ret 3): use ' +
      'TradeTransaction. Moving to a group outside the manager’s masks → ret 7; to an unknown group → ret 3; to a ' +
      'group with another currency while the account holds money or open trades → ret 3. Nothing changed → ret 1.',
    request: z
      .object({
        login: loginField,
        group: groupName,
        ...userTextFields,
        leverage: leverageField
          .min(1)
          .meta({ description: "Leverage 1:N within the group's leverage_min..leverage_max." }),
        ...userFlagFields,
        agent_account: agentField,
      })
      .partial()
      .required({ login: true })
      .strict(),
    reply: z.object({ user: UserRecord }),
    returns: [RET.OK_NONE, RET.INVALID_DATA, RET.NOT_ENOUGH_RIGHTS, RET.BAD_ACCOUNT_INFO],
  }),
  UserPasswordSet: call({
    name: 'UserPasswordSet',
    access: 'admin',
    summary: 'UserPasswordSet: set the main or investor password',
    description:
      'Sets the main (trading) password, or with `investor` 1 the investor (read-only) password. Rules: 6 to 15 ' +
      'characters (MT4 keeps 15), printable ASCII without spaces, at least one letter and one digit; anything else → ' +
      'ret 3 with the rule that failed.',
    request: z
      .object({
        login: loginField,
        password: passwordField,
        investor: flag('0 (default) = main password, 1 = investor password.').optional(),
      })
      .strict(),
    reply: z.object({}),
    returns: [RET.INVALID_DATA, RET.NOT_ENOUGH_RIGHTS, RET.BAD_ACCOUNT_INFO],
  }),
  UserPasswordCheck: call({
    name: 'UserPasswordCheck',
    access: 'admin',
    summary: 'UserPasswordCheck: verify an account password',
    description: 'ret 0 when the password matches, ret 65 when it does not, ret 64 when the account is disabled.',
    request: z
      .object({
        login: loginField,
        password: z.string().max(64),
        investor: flag('0 (default) = check the main password, 1 = the investor password.').optional(),
      })
      .strict(),
    reply: z.object({}),
    returns: [RET.NOT_ENOUGH_RIGHTS, RET.ACCOUNT_DISABLED, RET.BAD_ACCOUNT_INFO],
  }),
  UserRecordGet: call({
    name: 'UserRecordGet',
    access: 'see_trades',
    summary: 'UserRecordGet: one account',
    description: 'Unknown login → ret 65; an account in a group outside the manager’s masks → ret 7.',
    request: z.object({ login: loginField }).strict(),
    reply: z.object({ user: UserRecord }),
    returns: [RET.NOT_ENOUGH_RIGHTS, RET.BAD_ACCOUNT_INFO],
  }),
  UserRecordsRequest: call({
    name: 'UserRecordsRequest',
    access: 'see_trades',
    summary: 'UserRecordsRequest: accounts by logins',
    description:
      'As the DLL: answers the records that exist and that the manager may see, in request order; unknown or ' +
      'unmanageable logins are simply absent (compare lengths).',
    request: z.object({ logins: z.array(loginField).min(1).max(10_000) }).strict(),
    reply: z.object({ users: z.array(UserRecord) }),
    returns: [],
  }),
  UsersRequest: call({
    name: 'UsersRequest',
    access: 'see_trades',
    summary: 'UsersRequest: every account the manager may see',
    description: 'All accounts in groups matching the manager’s masks, ordered by login.',
    request: empty,
    reply: z.object({ users: z.array(UserRecord) }),
    returns: [],
  }),
  AdmUsersRequest: call({
    name: 'AdmUsersRequest',
    access: 'see_trades',
    summary: 'AdmUsersRequest: accounts by group mask',
    description: 'Accounts whose group matches `group` (GroupMask syntax) and the manager’s masks, ordered by login.',
    request: z.object({ group: groupMaskField }).strict(),
    reply: z.object({ users: z.array(UserRecord) }),
    returns: [RET.INVALID_DATA],
  }),
  TradeTransaction: call({
    name: 'TradeTransaction',
    access: 'money',
    summary: 'TradeTransaction: balance and credit operations (TT_BR_BALANCE)',
    description:
      'Posts a balance (cmd 6) or credit (cmd 7) operation with `type` 83 (TT_BR_BALANCE), `orderby` = the client ' +
      'login and `price` = the signed amount (negative = withdrawal / credit out). The amount is rounded to the ' +
      'group currency digits; it must not round to 0 and |amount| must not exceed 1e9 (ret 3). `comment` is cut ' +
      'silently to 31 bytes: keep references short. A credit needs `expiration` in the future (server wall clock), ' +
      'else ret 3. A withdrawal beyond min(balance, margin_free), or a credit out beyond min(credit, margin_free), → ' +
      'ret 134. Disabled and read-only accounts accept it (it is the broker’s operation, not the client’s trade). The ' +
      'operation lands in TradesUserHistory as a record with cmd 6/7, profit = amount and the comment.\n\n' +
      'NO IDEMPOTENCY: MT4 has no request key. The DLL does not reliably return the new ticket; this bridge answers ' +
      'it as `order` when it can, but a client MUST identify its operation by a unique reference in the comment: ' +
      'after a timeout, reset or lost reply the operation may or may not have been applied; scan TradesUserHistory ' +
      'for the reference and post again only if it is absent.',
    request: z
      .object({
        type: int32().meta({ description: 'Transaction type; this bridge supports 83 (TT_BR_BALANCE) only.' }),
        cmd: z.literal([6, 7]).meta({ description: '6 = balance (OP_BALANCE), 7 = credit (OP_CREDIT).' }),
        orderby: loginField.meta({ description: 'The client login.' }),
        price: z.number().meta({ description: 'Signed amount in the account currency.' }),
        comment: cutText(31, 'Reference; cut silently to 31 bytes.').optional(),
        expiration: serverTime.optional().meta({ description: 'Credit expiration (server wall-clock seconds).' }),
      })
      .strict(),
    reply: z.object({
      order: orderField.optional().meta({
        description: 'The new ticket when the bridge can tell it. Do not rely on it: find the record by comment.',
      }),
    }),
    returns: [RET.INVALID_DATA, RET.NOT_ENOUGH_RIGHTS, RET.BAD_ACCOUNT_INFO, RET.TRADE_NO_MONEY],
  }),
  TradesRequest: call({
    name: 'TradesRequest',
    access: 'see_trades',
    summary: 'TradesRequest: open trades',
    description:
      'Open trades (cmd 0–5, close_time 0) of accounts the manager may see, ordered by ticket, with close_price and ' +
      'profit at the current market. Optional filters (bridge extension): one `login`, or a `group` mask.',
    request: z.object({ login: loginField.optional(), group: groupMaskField.optional() }).strict(),
    reply: z.object({ trades: z.array(TradeRecord) }),
    returns: [RET.INVALID_DATA],
  }),
  TradesUserHistory: call({
    name: 'TradesUserHistory',
    access: 'see_trades',
    summary: 'TradesUserHistory: closed trades and balance/credit records of one account',
    description:
      'Records of `login` whose close_time lies in [from, to] (server wall-clock seconds, both ends included): ' +
      'closed trades and balance/credit records (cmd 6/7, profit = amount, comment as cut), ordered by close_time ' +
      'then ticket. from > to → ret 3.',
    request: z.object({ login: loginField, from: serverTime, to: serverTime }).strict(),
    reply: z.object({ trades: z.array(TradeRecord) }),
    returns: [RET.INVALID_DATA, RET.NOT_ENOUGH_RIGHTS, RET.BAD_ACCOUNT_INFO],
  }),
  TradeRecordGet: call({
    name: 'TradeRecordGet',
    access: 'see_trades',
    summary: 'TradeRecordGet: one trade or balance record by ticket',
    description: 'Unknown ticket → ret 2.',
    request: z.object({ order: orderField }).strict(),
    reply: z.object({ trade: TradeRecord }),
    returns: [RET.ERROR, RET.NOT_ENOUGH_RIGHTS],
  }),
  MarginLevelRequest: call({
    name: 'MarginLevelRequest',
    access: 'see_trades',
    summary: 'MarginLevelRequest: equity, margin and free margin of one account',
    description: 'What a withdrawal check needs: margin_free is the most a TradeTransaction withdrawal may take.',
    request: z.object({ login: loginField }).strict(),
    reply: z.object({ margin: MarginLevel }),
    returns: [RET.NOT_ENOUGH_RIGHTS, RET.BAD_ACCOUNT_INFO],
  }),
  CfgRequestGroup: call({
    name: 'CfgRequestGroup',
    access: 'session',
    summary: 'CfgRequestGroup: all groups',
    description: 'Every group on the server (not only the manageable ones), ordered by name.',
    request: empty,
    reply: z.object({ groups: z.array(GroupConfig) }),
    returns: [],
  }),
  GroupRecordGet: call({
    name: 'GroupRecordGet',
    access: 'session',
    summary: 'GroupRecordGet: one group',
    description: 'Unknown group → ret 3.',
    request: z.object({ group: groupName }).strict(),
    reply: z.object({ group: GroupConfig }),
    returns: [RET.INVALID_DATA],
  }),
  CfgRequestSymbol: call({
    name: 'CfgRequestSymbol',
    access: 'session',
    summary: 'CfgRequestSymbol: all symbols',
    description: 'Every symbol, ordered by name. Suffixed symbols (`XAUUSD.m`) are separate symbols.',
    request: empty,
    reply: z.object({ symbols: z.array(SymbolConfig) }),
    returns: [],
  }),
  SymbolGet: call({
    name: 'SymbolGet',
    access: 'session',
    summary: 'SymbolGet: one symbol',
    description: 'Unknown symbol → ret 3.',
    request: z.object({ symbol: text(11, 'Symbol (at most 11 bytes).') }).strict(),
    reply: z.object({ symbol: SymbolConfig }),
    returns: [RET.INVALID_DATA],
  }),
} as const;

export type CallName = keyof typeof calls;
export type CallArgs<N extends CallName> = z.output<(typeof calls)[N]['request']>;
export type CallData<N extends CallName> = z.input<(typeof calls)[N]['reply']>;

export const callNames = Object.keys(calls) as CallName[];

export const SESSION_HEADER = 'x-mt4-session';
export const PUMPING_PATH = '/v1/Pumping';
export const callPath = (name: string): string => `/v1/${name}`;

/** Where each manager right applies (for the doc and the rights test). */
export function callsNeeding(right: ManagerRight): CallName[] {
  return callNames.filter((n) => calls[n].access === right);
}
