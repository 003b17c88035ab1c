/**
 * The demo's simulators: `brokerdesk sim fleet` (MT5 live/demo, MT4 live/demo, the PSP sandbox) in a child process,
 * its state under the data folder (so a restart keeps accounts, deals and payments), and the credentials it prints
 * read back from its banners. Product code never imports simulator code: this module only speaks to the program.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface FleetServer {
  name: string;
  platform: 'mt4' | 'mt5';
  environment: 'live' | 'demo';
  url: string;
  certPath: string | null;
  managerLogin: number;
  managerPassword: string;
  controlUrl: string;
  controlToken: string;
}

export interface FleetPsp {
  name: string;
  url: string;
  apiKey: string;
  webhookSecret: string;
  webhookUrl: string | null;
  controlUrl: string;
  controlToken: string;
  testCards: { number: string; description: string }[];
}

export interface Fleet {
  servers: FleetServer[];
  psp: FleetPsp;
  server(name: string): FleetServer;
  /** Calls a simulator's control API (bearer token); throws with the answer on a non-2xx status. */
  control<T = unknown>(
    target: { controlUrl: string; controlToken: string },
    method: string,
    path: string,
    body?: unknown,
  ): Promise<T>;
  stop(): Promise<void>;
}

export interface FleetOptions {
  stateDir: string;
  basePort: number;
  activityIntervalMs: number;
  pspWebhookUrl: string;
  /** Bounded wait for the banners. */
  startTimeoutMs?: number;
}

function field(block: string, pattern: RegExp, what: string, name: string): string {
  const match = pattern.exec(block);
  if (!match?.[1]) throw new Error(`the simulator fleet's banner for ${name} has no ${what}`);
  return match[1];
}

/** Reads the fleet's banners (one block per simulator, as `brokerdesk sim fleet` prints them). */
export function parseFleetBanners(output: string): { servers: FleetServer[]; psp: FleetPsp | null } {
  const servers: FleetServer[] = [];
  let psp: FleetPsp | null = null;
  const blocks = output.split(/\n(?=MT5 Web API simulator |MT4 Manager bridge simulator |PSP sandbox )/);
  for (const block of blocks) {
    const server = /^(MT5 Web API|MT4 Manager bridge) simulator "([^"]+)" \((live|demo)\)/m.exec(block);
    if (server) {
      const platform = server[1] === 'MT5 Web API' ? 'mt5' : 'mt4';
      const name = server[2]!;
      const manager = /^ {2}manager\s+login (\d+)\s+password (\S+)/m.exec(block);
      if (!manager) throw new Error(`the simulator fleet's banner for ${name} has no manager login`);
      const cert = /^ {2}certificate\s+(\/\S+|[A-Za-z]:\\\S+)/m.exec(block);
      servers.push({
        name,
        platform,
        environment: server[3] as 'live' | 'demo',
        url: field(block, /^ {2}(?:address|bridge)\s+(https?:\/\/\S+)/m, 'address', name),
        certPath: cert?.[1] ?? null,
        managerLogin: Number(manager[1]),
        managerPassword: manager[2]!,
        controlUrl: field(block, /^ {2}control\s+(https?:\/\/\S+)/m, 'control address', name),
        controlToken: field(block, /^ {2}control\s+\S+\s+token (\S+)/m, 'control token', name),
      });
      continue;
    }
    const sandbox = /^PSP sandbox "([^"]+)"/m.exec(block);
    if (sandbox) {
      const name = sandbox[1]!;
      const webhook = /^ {2}webhook\s+(\S+)/m.exec(block)?.[1];
      psp = {
        name,
        url: field(block, /^ {2}merchant API\s+(https?:\/\/\S+?)\/v1\b/m, 'merchant API address', name),
        apiKey: field(block, /^ {2}api key\s+(\S+)/m, 'API key', name),
        webhookSecret: field(block, /^ {2}signing\s.*\ssecret (\S+)/m, 'webhook secret', name),
        webhookUrl: webhook && /^https?:/.test(webhook) ? webhook : null,
        controlUrl: field(block, /^ {2}control\s+(https?:\/\/\S+)/m, 'control address', name),
        controlToken: field(block, /^ {2}control\s+\S+\s+token (\S+)/m, 'control token', name),
        testCards: [...block.matchAll(/^ {4}((?:\d{4} ){3}\d{4})\s+(.+)$/gm)].map((m) => ({
          number: m[1]!,
          description: m[2]!.trim(),
        })),
      };
    }
  }
  return { servers, psp };
}

async function controlCall<T>(
  target: { controlUrl: string; controlToken: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${target.controlUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${target.controlToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  if (!response.ok)
    throw new Error(`simulator control ${method} ${path}: HTTP ${response.status} ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : null) as T;
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const args = [
    'bin/run-ts.mjs',
    'sim/cli.ts',
    'fleet',
    '--base-port',
    String(options.basePort),
    '--state-dir',
    options.stateDir,
    '--activity-interval-ms',
    String(options.activityIntervalMs),
    '--psp-webhook-url',
    options.pspWebhookUrl,
  ];
  const child: ChildProcess = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  // Whatever way this process ends, the simulators end with it.
  const killChild = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  process.once('exit', killChild);

  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  const parsed = await new Promise<{ servers: FleetServer[]; psp: FleetPsp }>((resolve, reject) => {
    const timer = setTimeout(() => {
      killChild();
      reject(new Error(`the simulators did not start within ${(options.startTimeoutMs ?? 90_000) / 1000} s`));
    }, options.startTimeoutMs ?? 90_000);
    const onData = (chunk: string) => {
      stdout += chunk;
      // The fleet prints every banner at once when all are up; the PSP's ends with its payouts line.
      if (!/^PSP sandbox [\s\S]*^ {2}payouts /m.test(stdout)) return;
      child.stdout!.off('data', onData);
      clearTimeout(timer);
      child.off('exit', onExit);
      try {
        const banners = parseFleetBanners(stdout);
        if (!banners.psp) throw new Error('the simulator fleet printed no PSP sandbox');
        resolve({ servers: banners.servers, psp: banners.psp });
      } catch (err) {
        killChild();
        reject(err);
      }
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(
        new Error(
          `the simulators stopped before starting (exit ${code}): ${stderr.trim().split('\n').slice(-5).join(' | ') || 'no message'}`,
        ),
      );
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-8000);
    });
    child.once('exit', onExit);
  });
  // Keep draining, so a chatty simulator never blocks on a full pipe.
  child.stdout!.resume();

  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    ...parsed,
    server(name) {
      const s = parsed.servers.find((x) => x.name === name);
      if (!s) throw new Error(`the simulator fleet has no server ${name}`);
      return s;
    },
    control: controlCall,
    async stop() {
      process.off('exit', killChild);
      killChild();
      // Each simulator writes a final snapshot on SIGTERM; then the child exits by itself.
      const timeout = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timeout);
    },
  };
}
