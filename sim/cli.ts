/**
 * The simulators' own program: `brokerdesk sim mt5|mt4|psp|fleet …` runs this file in a separate process, so product
 * code never imports simulator code (they share only the wire protocols).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { z } from 'zod';
import { type FaultRuleInput, parseFaultSpec } from './common/faults.ts';
import { assertTimeZone } from './common/timezone.ts';
import type { SimulatorBaseOptions, SimulatorHandle } from './common/types.ts';
import { startMt4Simulator } from './mt4/server.ts';
import { startMt5Simulator } from './mt5/server.ts';
import { type PspSandboxOptions, startPspSandbox } from './psp/server.ts';

type Platform = 'mt4' | 'mt5';

function int(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

function collectFault(value: string, previous: FaultRuleInput[] = []): FaultRuleInput[] {
  try {
    return [...previous, parseFaultSpec(value)];
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function zone(value: string): string {
  try {
    assertTimeZone(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return value;
}

/** Starts one simulator; this program prints the banners itself (all of a fleet's together, once all are up). */
function start(platform: Platform, options: SimulatorBaseOptions): Promise<SimulatorHandle> {
  const quiet = { ...options, quiet: true };
  return platform === 'mt5' ? startMt5Simulator(quiet) : startMt4Simulator(quiet);
}

/** Closes every simulator on Ctrl-C / SIGTERM so each writes a final snapshot of its state. */
function closeOnSignal(handles: { close(): Promise<void> }[]): void {
  let closing = false;
  const stop = async () => {
    if (closing) return;
    closing = true;
    await Promise.allSettled(handles.map((h) => h.close()));
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('--port <port>', 'protocol port (0 = any free port)', int('--port', 0, 65535), 0)
    .option('--control-port <port>', 'control API port (0 = any free port)', int('--control-port', 0, 65535), 0)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--state-dir <dir>', 'folder for durable state and the TLS certificate (default: memory only)')
    .option('--seed <n>', 'seed for faults and trading activity', int('--seed', 0, 2 ** 31 - 1), 1)
    .option('--time-zone <zone>', 'IANA zone of the server clock', zone, 'Europe/Nicosia')
    .addOption(new Option('--environment <env>', 'live or demo').choices(['live', 'demo']).default('live'))
    .option('--name <name>', 'name shown in banners and logs')
    .option('--control-token <token>', 'bearer token for the control API (default: random)')
    .option('--plain-http', 'serve plain HTTP instead of HTTPS (never in front of real clients)', false)
    .option(
      '--activity-interval-ms <ms>',
      'run the trading activity generator on this interval',
      int('--activity-interval-ms', 10, 3_600_000),
    )
    .option(
      '--fault <spec>',
      'inject a fault, e.g. endpoint=/api/trade/balance,kind=drop_reply,count=1 (repeatable)',
      collectFault,
    );
}

interface CommonFlags {
  port: number;
  controlPort: number;
  host: string;
  stateDir?: string;
  seed: number;
  timeZone: string;
  environment: 'live' | 'demo';
  name?: string;
  controlToken?: string;
  plainHttp: boolean;
  activityIntervalMs?: number;
  fault?: FaultRuleInput[];
}

function toOptions(platform: Platform, flags: CommonFlags): SimulatorBaseOptions {
  return {
    name: flags.name ?? `${platform}-${flags.environment}`,
    environment: flags.environment,
    host: flags.host,
    port: flags.port,
    controlPort: flags.controlPort,
    stateDir: flags.stateDir,
    seed: flags.seed,
    timeZone: flags.timeZone,
    plainHttp: flags.plainHttp,
    controlToken: flags.controlToken,
    activityIntervalMs: flags.activityIntervalMs,
    faults: flags.fault ?? [],
  };
}

const fleetEntry = z
  .object({
    platform: z.enum(['mt4', 'mt5']),
    name: z.string().min(1).optional(),
    environment: z.enum(['live', 'demo']).default('live'),
    port: z.number().int().min(0).max(65535).default(0),
    controlPort: z.number().int().min(0).max(65535).default(0),
    seed: z.number().int().default(1),
    timeZone: z.string().default('Europe/Nicosia'),
    controlToken: z.string().min(8).optional(),
    activityIntervalMs: z.number().int().min(10).optional(),
  })
  .strict();
const pspFleetEntry = z
  .object({
    name: z.string().min(1).optional(),
    port: z.number().int().min(0).max(65535).default(0),
    controlPort: z.number().int().min(0).max(65535).default(0),
    seed: z.number().int().default(31),
    webhookUrl: z.url().optional(),
    apiKey: z.string().min(8).optional(),
    webhookSecret: z.string().min(8).optional(),
    controlToken: z.string().min(8).optional(),
  })
  .strict();
/** `psp` is the PSP sandbox's settings, or false for a fleet without one (default: one on any free port). */
const fleetFile = z
  .object({ servers: z.array(fleetEntry).min(1), psp: z.union([pspFleetEntry, z.literal(false)]).optional() })
  .strict();
export type FleetEntry = z.input<typeof fleetEntry>;
export type PspFleetEntry = z.input<typeof pspFleetEntry>;

/** Where the fleet's PSP sends webhooks unless told otherwise: the API's endpoint for the "sandbox" PSP. */
export const DEFAULT_PSP_WEBHOOK_URL = 'http://127.0.0.1:8080/api/webhooks/psp/sandbox';

function httpUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return value;
  } catch {
    // refused below
  }
  throw new InvalidArgumentError(`${value} is not an absolute http(s) URL`);
}

interface PspFlags {
  port: number;
  controlPort: number;
  host: string;
  stateDir?: string;
  seed: number;
  name?: string;
  webhookUrl?: string;
  apiKey?: string;
  webhookSecret?: string;
  controlToken?: string;
  merchantName?: string;
  pendingDelayMs: number;
  payoutDelayMs: number;
  tls: boolean;
  fault?: FaultRuleInput[];
}

function pspOptions(flags: PspFlags): PspSandboxOptions {
  return {
    name: flags.name ?? 'psp-sandbox',
    host: flags.host,
    port: flags.port,
    controlPort: flags.controlPort,
    stateDir: flags.stateDir,
    seed: flags.seed,
    webhookUrl: flags.webhookUrl,
    apiKey: flags.apiKey,
    webhookSecret: flags.webhookSecret,
    controlToken: flags.controlToken,
    merchantName: flags.merchantName,
    pendingDelayMs: flags.pendingDelayMs,
    payoutDelayMs: flags.payoutDelayMs,
    tls: flags.tls,
    faults: flags.fault ?? [],
    quiet: true,
  };
}

/** The default fleet: the four servers a broker typically runs (ports from --base-port). */
export function defaultFleet(basePort: number): FleetEntry[] {
  const servers: FleetEntry[] = [
    { platform: 'mt5', environment: 'live', seed: 11 },
    { platform: 'mt5', environment: 'demo', seed: 12 },
    { platform: 'mt4', environment: 'live', seed: 21 },
    { platform: 'mt4', environment: 'demo', seed: 22 },
  ];
  return servers.map((s, i) => ({ ...s, port: basePort + i, controlPort: basePort + 100 + i }));
}

function readFleetFile(path: string): z.output<typeof fleetFile> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`cannot read fleet file ${path}: ${(err as Error).message}`);
  }
  const parsed = fleetFile.safeParse(raw);
  if (!parsed.success) {
    throw new InvalidArgumentError(
      `fleet file ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

export function buildSimProgram(): Command {
  const program = new Command('brokerdesk sim').description('MetaTrader server simulators for development and tests');
  for (const platform of ['mt5', 'mt4'] as const) {
    addCommonOptions(
      program
        .command(platform)
        .description(platform === 'mt5' ? 'an MT5 Web API server' : 'an MT4 Manager bridge server'),
    ).action(async (flags: CommonFlags) => {
      const handle = await start(platform, toOptions(platform, flags));
      console.log(handle.banner());
      closeOnSignal([handle]);
    });
  }
  program
    .command('psp')
    .description('a payment service provider sandbox: merchant API, hosted card page, signed webhooks, payouts')
    .option('--port <port>', 'merchant API and hosted page port (0 = any free port)', int('--port', 0, 65535), 0)
    .option('--control-port <port>', 'control API port (0 = any free port)', int('--control-port', 0, 65535), 0)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--state-dir <dir>', 'folder for durable state (default: memory only)')
    .option('--seed <n>', 'seed for ids and faults', int('--seed', 0, 2 ** 31 - 1), 1)
    .option('--name <name>', 'name shown in the banner')
    .option('--webhook-url <url>', 'where signed webhooks go (default: kept in the state, else none)', httpUrl)
    .option('--api-key <key>', 'the merchant API key (default: random, kept in the state)')
    .option('--webhook-secret <secret>', 'the webhook signing secret (default: random, kept in the state)')
    .option('--control-token <token>', 'bearer token for the control API (default: random)')
    .option('--merchant-name <name>', 'merchant name on the hosted page')
    .option(
      '--pending-delay-ms <ms>',
      'how long pending card payments wait before they resolve',
      int('--pending-delay-ms', 0, 86_400_000),
      10_000,
    )
    .option(
      '--payout-delay-ms <ms>',
      'how long payouts wait before they complete',
      int('--payout-delay-ms', 0, 86_400_000),
      10_000,
    )
    .option('--tls', 'serve HTTPS with a self-signed certificate (default plain HTTP on loopback)', false)
    .option(
      '--fault <spec>',
      'inject a fault on the merchant API, e.g. endpoint=/v1/payouts,kind=error,code=503',
      collectFault,
    )
    .action(async (flags: PspFlags) => {
      const handle = await startPspSandbox(pspOptions(flags));
      console.log(handle.banner());
      closeOnSignal([handle]);
    });

  program
    .command('fleet')
    .description('several servers at once (default: MT5 live and demo, MT4 live and demo) and the PSP sandbox')
    .option(
      '--config <file>',
      'JSON file {"servers":[{platform, environment, port, controlPort, seed, …}], "psp": {port, …} | false}',
    )
    .option('--base-port <port>', 'first port of the default fleet', int('--base-port', 1024, 65000), 18_400)
    .option('--state-dir <dir>', 'parent folder of each server’s state folder (default: memory only)')
    .option(
      '--activity-interval-ms <ms>',
      'run trading activity on every server',
      int('--activity-interval-ms', 10, 3_600_000),
    )
    .option('--plain-http', 'serve plain HTTP instead of HTTPS', false)
    .option('--no-psp', 'leave the PSP sandbox out (default: on port P+4, control P+104)')
    .option(
      '--psp-webhook-url <url>',
      `where the PSP sandbox sends webhooks (default ${DEFAULT_PSP_WEBHOOK_URL})`,
      httpUrl,
    )
    .action(
      async (flags: {
        config?: string;
        basePort: number;
        stateDir?: string;
        activityIntervalMs?: number;
        plainHttp: boolean;
        psp: boolean;
        pspWebhookUrl?: string;
      }) => {
        const file = flags.config ? readFleetFile(flags.config) : undefined;
        const entries = file ? file.servers : defaultFleet(flags.basePort);
        const handles: { banner(): string; close(): Promise<void> }[] = [];
        closeOnSignal(handles);
        for (const entry of entries) {
          const parsed = fleetEntry.parse(entry);
          const name = parsed.name ?? `${parsed.platform}-${parsed.environment}`;
          handles.push(
            await start(parsed.platform, {
              ...parsed,
              name,
              activityIntervalMs: parsed.activityIntervalMs ?? flags.activityIntervalMs,
              stateDir: flags.stateDir ? join(flags.stateDir, name) : undefined,
              plainHttp: flags.plainHttp,
            }),
          );
        }
        const psp = file ? file.psp : { port: flags.basePort + 4, controlPort: flags.basePort + 104 };
        if (flags.psp && psp !== false) {
          const entry = pspFleetEntry.parse(psp ?? {});
          const name = entry.name ?? 'psp-sandbox';
          handles.push(
            await startPspSandbox({
              ...entry,
              name,
              webhookUrl: entry.webhookUrl ?? flags.pspWebhookUrl ?? DEFAULT_PSP_WEBHOOK_URL,
              stateDir: flags.stateDir ? join(flags.stateDir, name) : undefined,
              quiet: true,
            }),
          );
        }
        for (const h of handles) console.log(`${h.banner()}\n`);
      },
    );
  return program;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildSimProgram()
    .parseAsync(process.argv)
    .catch((err: Error) => {
      console.error(`brokerdesk sim: ${err.message}`);
      process.exit(1);
    });
}
