/**
 * Renders the bridge contract (contract.ts) as OpenAPI 3.1: docs/mt4-bridge.openapi.yaml is generated from the very
 * schemas the simulator validates with, and a test fails when the file and the code disagree.
 *
 *   node bin/run-ts.mjs sim/mt4/openapi.ts          rewrite docs/mt4-bridge.openapi.yaml
 *   node bin/run-ts.mjs sim/mt4/openapi.ts --check  exit 1 if it is out of date
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ALL_RET_CODES, RET, RET_TEXT, type RetCode } from './codes.ts';
import {
  type CallName,
  callNames,
  callPath,
  calls,
  GroupConfig,
  ManagerInfo,
  MarginLevel,
  PUMPING_PATH,
  PumpingEvent,
  SymbolConfig,
  TradeRecord,
  UserRecord,
} from './contract.ts';
import { toYaml } from './yaml.ts';

export const OPENAPI_PATH = fileURLToPath(new URL('../../docs/mt4-bridge.openapi.yaml', import.meta.url));

export const CONTRACT_VERSION = '1.0.0';

const TAGS: Record<string, { description: string; calls: readonly (CallName | 'Pumping')[] }> = {
  session: {
    description: 'Connect, log in, keep alive, server time and the manager’s own rights.',
    calls: ['Login', 'Logout', 'Ping', 'ServerTime', 'ManagerRights'],
  },
  accounts: {
    description: 'Trading accounts (UserRecord).',
    calls: [
      'UserRecordNew',
      'UserRecordUpdate',
      'UserPasswordSet',
      'UserPasswordCheck',
      'UserRecordGet',
      'UserRecordsRequest',
      'UsersRequest',
      'AdmUsersRequest',
    ],
  },
  money: { description: 'Balance and credit operations.', calls: ['TradeTransaction'] },
  trades: {
    description: 'Open trades, history and margin (TradeRecord, MarginLevel).',
    calls: ['TradesRequest', 'TradesUserHistory', 'TradeRecordGet', 'MarginLevelRequest'],
  },
  config: {
    description: 'Group and symbol configuration.',
    calls: ['CfgRequestGroup', 'GroupRecordGet', 'CfgRequestSymbol', 'SymbolGet'],
  },
  pumping: { description: 'The push stream of user and trade changes.', calls: ['Pumping'] },
};

const RET_MEANING: Record<RetCode, string> = {
  0: 'Done.',
  1: 'Done, nothing needed changing (UserRecordUpdate with no difference).',
  2: 'Definitive: unknown call or ticket, login already exists, login range exhausted.',
  3: 'Definitive: the request is wrong (field, width, group, leverage, password rule, amount, expiration). Fix it.',
  4: 'Server-side technical problem. For a write the outcome is unknown: verify before any retry.',
  5: 'The bridge or DLL is too old for the server. Definitive; alert operations.',
  6: 'Not sent: no session (never logged in, dropped, restarted) or no connection to the server. Log in, retry.',
  7: 'Definitive: the manager lacks the right, the group is outside its masks, or its IP is not allowed. Alert.',
  8: 'Not applied: too frequent. Back off, then retry.',
  9: 'Malfunction inside the bridge. For a write the outcome is unknown: verify before any retry.',
  64: 'Definitive: the account (or the manager) is disabled.',
  65: 'Definitive: no such account, or wrong credentials.',
  128: 'Trade timeout. The outcome is unknown: verify by comment before any retry.',
  133: 'Definitive for that account: trading is disabled.',
  134: 'Definitive: not enough money (balance, credit or free margin).',
  137: 'Not applied: the server is busy. Retry later.',
  141: 'Not applied: too many trade requests. Back off.',
};

const RET_NAME: Record<number, string> = Object.fromEntries(Object.entries(RET).map(([k, v]) => [v, `RET_${k}`]));

function retTable(): string {
  const rows = ALL_RET_CODES.map((c) => `| ${c} | ${RET_NAME[c]} | ${RET_TEXT[c]} | ${RET_MEANING[c]} |`);
  return ['| ret | name | ret_text | meaning and what a client does |', '|---|---|---|---|', ...rows].join('\n');
}

function rightsTable(): string {
  const rows = (['admin', 'money', 'see_trades', 'session', 'public'] as const).map((access) => {
    const names = callNames.filter((n) => calls[n].access === access);
    if (access === 'see_trades') names.push('Pumping' as CallName);
    const what = {
      admin: '`admin`',
      money: '`money`',
      see_trades: '`see_trades`',
      session: 'any valid session',
      public: 'nothing (opens the session)',
    }[access];
    return `| ${what} | ${names.join(', ')} |`;
  });
  return ['| needs | calls |', '|---|---|', ...rows].join('\n');
}

const DESCRIPTION = `MT4 has no public network protocol: the Manager API is a Windows DLL (mtmanapi.dll). Brokerdesk therefore defines this
**bridge contract**: JSON over HTTPS, one endpoint per Manager API call a CRM needs, with MT4's field names, widths and
return codes, plus a pumping stream. A broker runs a small bridge next to the DLL that implements it; Brokerdesk ships a
simulator of it (sim/mt4). Everything below is normative for both.

## Transport

- HTTPS. The simulator presents a self-signed certificate valid for 127.0.0.1, ::1 and localhost; clients pin that PEM
  as their only CA and never switch verification off. Plain HTTP only where explicitly configured (a lab).
- Every call is \`POST /v1/<Call>\` with \`Content-Type: application/json\` and a JSON object body (an empty body counts
  as \`{}\`). Numbers are JSON numbers (a login sent as a string is ret 3); flags are 0 or 1. Unknown request fields
  are refused with ret 3, so a misspelt field never passes unnoticed.
- Use keep-alive connections. One session may carry concurrent calls.

## Sessions

\`Login\` (the DLL's Connect + Login) answers a session token; send it as \`X-MT4-Session\` on every other call. A manager
(ConManager) has rights, a list of manageable group masks and an IP allow-list (checked at login: ret 7). Sessions live
in the bridge's memory: a restart or a server-side drop ends them, after which calls answer **ret 6**: log in again and
repeat the call (a write only after verifying it, see Idempotency).

${rightsTable()}

Accounts in groups outside the manager's masks are invisible to list calls and answer ret 7 to single-account calls.

## Reply envelope

Every answer is a JSON object: \`{"ret": <code>, "ret_text": "<fixed text for the code>", "message": "<detail>", ...data}\`.
\`message\` is optional, human-readable and may change; decide on \`ret\` only. The call's data fields are present when
ret is 0 (or 1 where documented). Clients must ignore fields they do not know (a bridge may add some).

HTTP status is 200 for every answer of a known call, whatever its ret. Other statuses only mark requests the bridge
could not interpret: 400 (body not a JSON object), 404 (unknown call), 405 (wrong method), 413 (body over 1 MiB),
415 (not JSON); each still carries an envelope with ret 2 or 3. 500 carries ret 9. No answer contains a stack trace.

## Return codes

${retTable()}

Transport outcomes matter as much: a refused connection means nothing was sent (retry later). A reset, a timeout, or
a connection closed without an answer after the request was sent means the call **may have been applied**: for a write,
verify before retrying.

## Times

Every time is **server wall-clock seconds**: the server zone's local time counted as if it were UTC (MT4's convention),
e.g. 12:00 in Nicosia in summer is 12:00 "UTC" here, not 09:00. The zone (often with daylight saving) is configuration
of the server, not part of any answer. \`ServerTime\` gives the current value.

## Money

Balances, credit, prices and profits are IEEE doubles. Each amount is rounded to the group currency's digits, but
balances accumulate by float addition, so \`0.1 + 0.2\` deposits read \`0.30000000000000004\`. Normalise at the boundary
(round to the currency digits, convert to integer minor units) and never compare doubles for equality.

## Text fields

Widths are MT4's fixed char arrays, counted here in UTF-8 bytes (never shorter than the server's single-byte code page,
so what fits here fits there): group 15, name 127, email 47, comment 63 (UserRecord), symbol 11, trade comment 31.
Oversized fields are refused with ret 3, except comments, which MT4 cuts silently: the user comment at 63 bytes, the
trade comment at 31. NUL characters are refused.

## Idempotency of balance operations

MT4 has no idempotency key and the DLL does not reliably return the new ticket. The proven pattern: put a short unique
reference (well under 31 bytes) in the TradeTransaction comment; after any unknown outcome (timeout, reset, lost reply,
ret 4/9/128), look the reference up with TradesUserHistory around the attempt's time and post again only if it is
absent. This bridge answers \`order\` when it can, but clients must not depend on it.

## Pumping

\`GET /v1/Pumping\` (with the session header, right \`see_trades\`) is a Server-Sent Events stream of changes to accounts
and trades in the manager's groups. The first event is \`pumping_start\`; then one event per change, named by its type
(\`user_add\`, \`user_update\`, \`trade_add\`, \`trade_update\`, \`trade_close\`) with a PumpingEvent JSON in \`data:\`,
carrying the full record after the change. Comment lines (\`: keep-alive\`) arrive every 15 s.

Pumping is lossy, like MT4's: the server drops streams every few hours, on restarts, and when a consumer falls behind,
with no closing event (the connection just ends). **Nothing is replayed** and \`seq\` is not a resume position. After a
drop: re-subscribe, wait for \`pumping_start\`, then catch up by polling (UsersRequest / UserRecordsRequest,
TradesRequest, TradesUserHistory from a little before the last event seen; UserRecord and TradeRecord carry
\`timestamp\` for this). Everything missed happened before \`pumping_start\`; everything after it is delivered. A
balance or credit operation arrives as \`trade_add\` of an already-closed cmd 6/7 record followed by \`user_update\`.
An account moved out of the manager's groups arrives one last time, as the \`user_update\` showing its new group;
after that the manager no longer sees it (single-account calls answer 7).
If the answer to the subscribe request is \`application/json\` instead, it is an envelope saying why (ret 6, 7, 8 …).

## The simulator

sim/mt4 implements this contract and adds, outside it, a control API on a separate loopback port (dealer changes,
clock, fault injection: latency, lost replies after applying, resets, refusals, error codes, restarts, rate limits).
Connectors are tested against it; see the repository README.`;

function componentSchemas(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  const records = { UserRecord, TradeRecord, GroupConfig, SymbolConfig, MarginLevel, ManagerInfo, PumpingEvent };
  for (const [id, schema] of Object.entries(records)) registry.add(schema, { id });

  const failureCodes = ALL_RET_CODES.filter((c) => c !== RET.OK && c !== RET.OK_NONE);
  registry.add(
    z
      .object({
        ret: z.literal(failureCodes).meta({ description: 'A return code other than 0 and 1 (see the table above).' }),
        ret_text: z.string().meta({ description: 'The fixed text of the code.' }),
        message: z.string().optional().meta({ description: 'What went wrong, for humans; may change.' }),
      })
      .meta({ description: 'The envelope of an unsuccessful call: no data fields.' }),
    { id: 'Failure' },
  );
  registry.add(z.object({ time: z.number().int() }).meta({ description: 'Data of the `pumping_start` event.' }), {
    id: 'PumpingStart',
  });

  for (const name of callNames) {
    const spec = calls[name];
    registry.add(spec.request, { id: `${name}Request` });
    const okCodes = spec.returns.includes(RET.OK_NONE) ? [RET.OK, RET.OK_NONE] : [RET.OK];
    const reply = z
      .object({
        ret: z.literal(okCodes).meta({ description: okCodes.length > 1 ? '0 changed, 1 nothing to change.' : '0.' }),
        ret_text: z.string(),
        message: z.string().optional(),
      })
      .extend((spec.reply as unknown as z.ZodObject).shape)
      .meta({ description: `The envelope of a successful ${name}.` });
    registry.add(reply, { id: `${name}Reply` });
  }

  const out = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io: 'input',
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, Record<string, unknown>> };
  for (const schema of Object.values(out.schemas)) {
    delete schema.$schema;
    delete schema.$id;
    integerLiterals(schema);
  }
  return {
    RetCode: {
      type: 'integer',
      enum: [...ALL_RET_CODES],
      description: ALL_RET_CODES.map((c) => `${c} ${RET_NAME[c]}`).join(', '),
    },
    ...out.schemas,
  };
}

/** zod renders integer literals (cmd 6 | 7, flags 0 | 1) as `type: number`; MT4 fields are ints, so say integer. */
function integerLiterals(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) integerLiterals(item);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const schema = node as Record<string, unknown>;
  const values = Array.isArray(schema.enum) ? schema.enum : 'const' in schema ? [schema.const] : undefined;
  if (schema.type === 'number' && values?.every((v) => Number.isInteger(v))) schema.type = 'integer';
  for (const value of Object.values(schema)) integerLiterals(value);
}

/** Wraps prose paragraphs at about 110 columns (Markdown renders the result identically; the YAML reads better). */
function wrapProse(text: string): string {
  return text
    .split('\n\n')
    .map((paragraph) => {
      if (paragraph.includes('\n') || paragraph.length <= 110) return paragraph;
      const lines: string[] = [];
      let line = '';
      for (const word of paragraph.split(' ')) {
        if (line && line.length + 1 + word.length > 110) {
          lines.push(line);
          line = word;
        } else line = line ? `${line} ${word}` : word;
      }
      lines.push(line);
      return lines.join('\n');
    })
    .join('\n\n');
}

function errorResponse(description: string) {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Failure' } } } };
}

function tagOf(name: string): string {
  return Object.entries(TAGS).find(([, t]) => (t.calls as readonly string[]).includes(name))![0];
}

export function buildOpenApiDocument(): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const name of callNames) {
    const spec = calls[name];
    const codes = [RET.OK, ...spec.returns.filter((c) => c !== RET.OK)];
    const right =
      spec.access === 'public'
        ? 'none'
        : spec.access === 'session'
          ? 'a valid session'
          : `the \`${spec.access}\` right`;
    const hasArgs = Object.keys((spec.request as unknown as z.ZodObject).shape).length > 0;
    paths[callPath(name)] = {
      post: {
        operationId: name,
        tags: [tagOf(name)],
        summary: spec.summary,
        description: wrapProse(
          `${spec.description}\n\nNeeds ${right}. Return codes of its own: ${codes.join(', ')}; plus, as for every ` +
            'call, 6 (no session or no connection), 8 and 137 (busy: not applied), 4, 9 and 128 (outcome unknown).',
        ),
        security: spec.access === 'public' ? [] : [{ session: [] }],
        'x-mt4-access': spec.access,
        'x-mt4-returns': codes,
        requestBody: {
          required: hasArgs,
          content: { 'application/json': { schema: { $ref: `#/components/schemas/${name}Request` } } },
        },
        responses: {
          '200': {
            description: `An envelope: ${name}Reply when ret is ${spec.returns.includes(RET.OK_NONE) ? '0 or 1' : '0'}, Failure otherwise.`,
            content: {
              'application/json': {
                schema: {
                  oneOf: [{ $ref: `#/components/schemas/${name}Reply` }, { $ref: '#/components/schemas/Failure' }],
                },
              },
            },
          },
          '400': { $ref: '#/components/responses/BadRequest' },
          '413': { $ref: '#/components/responses/TooLarge' },
          '415': { $ref: '#/components/responses/NotJson' },
          '500': { $ref: '#/components/responses/Malfunction' },
        },
      },
    };
  }
  paths[PUMPING_PATH] = {
    get: {
      operationId: 'Pumping',
      tags: ['pumping'],
      summary: 'Pumping: subscribe to user and trade changes (SSE)',
      description:
        'Server-Sent Events. First `event: pumping_start` (data: PumpingStart), then one event per change named by ' +
        'its type, data: PumpingEvent. Dropped without notice from time to time; nothing is replayed; see Pumping ' +
        'in the introduction for the re-subscribe and catch-up protocol. An `application/json` answer instead of ' +
        'the stream is a Failure envelope (ret 6, 7, 8, …).',
      security: [{ session: [] }],
      'x-mt4-access': 'see_trades',
      'x-events': {
        pumping_start: { $ref: '#/components/schemas/PumpingStart' },
        user_add: { $ref: '#/components/schemas/PumpingEvent' },
        user_update: { $ref: '#/components/schemas/PumpingEvent' },
        trade_add: { $ref: '#/components/schemas/PumpingEvent' },
        trade_update: { $ref: '#/components/schemas/PumpingEvent' },
        trade_close: { $ref: '#/components/schemas/PumpingEvent' },
      },
      responses: {
        '200': {
          description: 'The event stream, or a Failure envelope when the subscription is refused.',
          content: {
            'text/event-stream': {
              schema: { type: 'string', description: 'SSE frames: `event: <type>` and `data: <JSON>` lines.' },
            },
            'application/json': { schema: { $ref: '#/components/schemas/Failure' } },
          },
        },
      },
    },
  };

  return {
    openapi: '3.1.0',
    info: {
      title: 'Brokerdesk MT4 Manager bridge',
      version: CONTRACT_VERSION,
      summary: 'JSON over HTTPS for the MT4 Manager API calls a CRM needs, with MT4 field names and return codes.',
      description: DESCRIPTION,
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [
      {
        url: 'https://{host}:{port}',
        description: 'A bridge (or the simulator: see its banner).',
        variables: { host: { default: '127.0.0.1' }, port: { default: '8443' } },
      },
    ],
    tags: Object.entries(TAGS).map(([name, t]) => ({ name, description: t.description })),
    paths,
    components: {
      securitySchemes: {
        session: {
          type: 'apiKey',
          in: 'header',
          name: 'X-MT4-Session',
          description: 'The session token answered by Login.',
        },
      },
      responses: {
        BadRequest: errorResponse('The body is not a JSON object (ret 3).'),
        TooLarge: errorResponse('The body exceeds 1 MiB (ret 3).'),
        NotJson: errorResponse('The body is not sent as application/json (ret 3).'),
        Malfunction: errorResponse('An internal error of the bridge (ret 9): the outcome of a write is unknown.'),
      },
      schemas: componentSchemas(),
    },
  };
}

export function renderOpenApiYaml(): string {
  return `# Generated from sim/mt4/contract.ts by \`node bin/run-ts.mjs sim/mt4/openapi.ts\`; edit the source, not this file.\n${toYaml(buildOpenApiDocument())}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rendered = renderOpenApiYaml();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(OPENAPI_PATH, 'utf8');
    } catch {
      // Missing counts as out of date.
    }
    if (current !== rendered) {
      process.stderr.write(`${OPENAPI_PATH} is out of date: run node bin/run-ts.mjs sim/mt4/openapi.ts\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(OPENAPI_PATH, rendered);
    process.stdout.write(`wrote ${OPENAPI_PATH}\n`);
  }
}
