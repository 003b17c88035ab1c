/**
 * The MT5 Web API simulator: an HTTPS (keep-alive) server speaking the access server's REST protocol, a separate
 * loopback control API (dealer console, faults, clock, activity), durable state, and a seeded trading-activity
 * generator. A third-party MT5 Web API client pointed at it (with cert.pem pinned as its CA) should not notice.
 *
 * Module map: auth.ts (hashes) · sessions.ts (connection-bound sessions, idle drop) · protocol.ts (request pipeline,
 * faults) · routes.ts (endpoints) · users.ts / trading.ts (server logic) · activity.ts (simulated clients) ·
 * dealer.ts (control routes) · format.ts (wire shapes) · state.ts (records over the shared store).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimClock } from '../common/clock.ts';
import { startControlServer } from '../common/control.ts';
import { FaultInjector } from '../common/faults.ts';
import { ListenerControl } from '../common/listener.ts';
import { Rng } from '../common/rng.ts';
import { StateStore } from '../common/store.ts';
import { assertTimeZone } from '../common/timezone.ts';
import { ensureCertificate } from '../common/tls.ts';
import type { Environment, SimulatorBaseOptions, SimulatorGroupInfo, SimulatorHandle } from '../common/types.ts';
import { ActivityGenerator, savedBids } from './activity.ts';
import {
  defaultGroups,
  GroupBook,
  type Mt5GroupInput,
  type Mt5Manager,
  type Mt5ManagerInput,
  resolveGroup,
  resolveManager,
} from './config.ts';
import { registerDealerRoutes } from './dealer.ts';
import { WireFormat } from './format.ts';
import { Market } from './market.ts';
import { MarginMode } from './model.ts';
import { ProtocolHandler } from './protocol.ts';
import { Retcode, retcodeString } from './retcodes.ts';
import { buildEndpoints } from './routes.ts';
import { SessionRegistry } from './sessions.ts';
import { Mt5State } from './state.ts';
import { TradingEngine } from './trading.ts';
import { UserService } from './users.ts';

export interface Mt5SimulatorOptions extends SimulatorBaseOptions {
  /** The CRM's manager (all rights). Default login 1000; default password generated once and kept in the state. */
  manager?: { login?: number; password?: string };
  /** Further manager accounts (e.g. a read-only one, one whose IP allow-list excludes the client). */
  managers?: Mt5ManagerInput[];
  /** Replaces the environment's default groups. */
  groups?: Mt5GroupInput[];
  /** Silence after which the server closes a connection (simulated clock). Default 180. */
  idleTimeoutSeconds?: number;
  /** Time allowed between /api/auth/start and /api/auth/answer (simulated clock). Default 10. */
  handshakeWindowSeconds?: number;
  /** fsync every journal write (survives power loss, slower). */
  fsync?: boolean;
  /** Where diagnostics go (default stderr; silenced by `quiet`). */
  log?: (line: string) => void;
}

export interface Mt5SimulatorHandle extends SimulatorHandle {
  platform: 'mt5';
  /** Every manager account, the CRM's first. */
  managers: { login: number; password: string; description: string }[];
  timeZone: string;
}

const DEFAULT_MANAGER_LOGIN = 1000;
const META_MANAGER_PASSWORD = 'crmManagerPassword';

/** A password that passes MT5's strength rule (lower, upper, digit, special; ≤ 16 characters). */
function generatePassword(): string {
  return `${randomBytes(6).toString('base64url').replace(/[-_]/g, 'x')}Aa1!`;
}

function marginModeName(mode: number): 'netting' | 'hedging' {
  return mode === MarginMode.NETTING ? 'netting' : 'hedging';
}

export async function startMt5Simulator(options: Mt5SimulatorOptions = {}): Promise<Mt5SimulatorHandle> {
  const environment: Environment = options.environment ?? 'live';
  const name = options.name ?? `mt5-${environment}`;
  const host = options.host ?? '127.0.0.1';
  const timeZone = options.timeZone ?? 'Europe/Nicosia';
  assertTimeZone(timeZone);
  const seed = options.seed ?? 1;
  const idleTimeoutMs = (options.idleTimeoutSeconds ?? 180) * 1000;
  const handshakeWindowMs = (options.handshakeWindowSeconds ?? 10) * 1000;
  const log = options.log ?? ((line: string) => (options.quiet ? undefined : console.error(line)));

  const groups = new GroupBook((options.groups ?? defaultGroups(environment)).map((g) => resolveGroup(g, environment)));
  const store = StateStore.open({ dir: options.stateDir, fsync: options.fsync });
  const state = new Mt5State(store);

  let crmPassword = options.manager?.password ?? (state.meta.get(META_MANAGER_PASSWORD) as string | undefined);
  if (!crmPassword) {
    crmPassword = generatePassword();
    state.meta.put(META_MANAGER_PASSWORD, crmPassword);
  }
  const managers: Mt5Manager[] = [
    resolveManager(
      {
        login: options.manager?.login ?? DEFAULT_MANAGER_LOGIN,
        password: crmPassword,
        description: 'CRM manager, all rights',
      },
      environment,
    ),
    ...(options.managers ?? []).map((m) => resolveManager(m, environment)),
  ];
  const managerLogins = new Set(managers.map((m) => m.login));
  if (managerLogins.size !== managers.length) throw new RangeError('two MT5 managers share a login');

  const clock = new SimClock();
  const market = new Market(savedBids(state));
  const engine = new TradingEngine(state, groups, market, clock);
  const users = new UserService(state, groups, clock, managerLogins);
  const wire = new WireFormat(timeZone);
  const sessions = new SessionRegistry(clock, idleTimeoutMs);
  const faults = new FaultInjector(new Rng(seed), () => clock.now());
  for (const rule of options.faults ?? []) faults.add(rule);
  const activity = new ActivityGenerator(state, engine, market, groups, seed);

  let listener: ListenerControl | undefined;
  const protocol = new ProtocolHandler({
    endpoints: buildEndpoints({ clock, state, groups, managers, users, engine, market, wire, handshakeWindowMs }),
    sessions,
    faults,
    listener: () => listener,
    log,
  });

  let certPath: string | undefined;
  let tempDir: string | undefined;
  let server: http.Server;
  if (options.plainHttp) {
    server = http.createServer(protocol.onRequest);
    server.on('connection', (socket: Socket) => sessions.track(socket));
  } else {
    // Without a state folder the certificate lives in a fresh temp folder, removed on close.
    if (!options.stateDir) tempDir = mkdtempSync(join(tmpdir(), 'brokerdesk-mt5-'));
    const certDir = options.stateDir ?? tempDir!;
    const identity = await ensureCertificate(certDir, `brokerdesk-${name}`);
    certPath = identity.certPath;
    server = https.createServer({ key: identity.key, cert: identity.cert }, protocol.onRequest);
    server.on('secureConnection', (socket: Socket) => sessions.track(socket));
  }
  // Idle connections are the protocol's business (180 s on the simulated clock), not Node's 5 s keep-alive default.
  server.keepAliveTimeout = 0;
  server.on('error', (err) => log(`mt5 simulator ${name}: listener error: ${err.message}`));
  // Garbage that is not HTTP still gets a protocol-shaped refusal, then the connection closes.
  server.on('clientError', (_err, socket: Socket) => {
    if (socket.writable) {
      const body = JSON.stringify({ retcode: retcodeString(Retcode.ERR_PARAMS) });
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
    } else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  listener = new ListenerControl(server, port, host);

  const sweepTimer = setInterval(() => sessions.sweep(), 1000);
  sweepTimer.unref();
  const stopWatchingClock = clock.onChange(() => sessions.sweep());
  let activityTimer: NodeJS.Timeout | undefined;
  if (options.activityIntervalMs && options.activityIntervalMs > 0) {
    activityTimer = setInterval(() => {
      try {
        activity.run(1);
      } catch (err) {
        log(`mt5 simulator ${name}: activity step failed: ${(err as Error).stack ?? String(err)}`);
      }
    }, options.activityIntervalMs);
    activityTimer.unref();
  }

  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const url = `${options.plainHttp ? 'http' : 'https'}://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${port}`;
  const controlToken = options.controlToken ?? randomBytes(18).toString('base64url');
  const control = await startControlServer({
    host: '127.0.0.1',
    port: options.controlPort ?? 0,
    token: controlToken,
    platform: 'mt5',
    clock,
    faults,
    restart: (seconds) => listener!.goDown(seconds),
    status: () => ({
      name,
      environment,
      url,
      timeZone,
      connections: sessions.connectionCount,
      sessions: sessions.sessionCount,
      activityStep: activity.step,
      users: state.users.size,
      deals: state.deals.size,
    }),
    routes: (app) => registerDealerRoutes(app, { state, groups, users, engine, activity, sessions, market, wire }),
  });

  const groupInfo: SimulatorGroupInfo[] = groups.list.map((g) => ({
    name: g.name,
    currency: g.currency,
    currencyDigits: g.currencyDigits,
    marginMode: marginModeName(g.marginMode),
  }));
  const crm = managers[0]!;
  const banner = (): string => {
    const lines = [
      `MT5 Web API simulator "${name}" (${environment})`,
      `  address       ${url}${options.plainHttp ? '  (plain HTTP)' : ''}`,
      ...(certPath ? [`  certificate   ${certPath}  (pin as CA)`] : []),
      `  manager       login ${crm.login}  password ${crm.password}  (${crm.description})`,
      ...managers
        .slice(1)
        .map((m) => `  manager       login ${m.login}  password ${m.password}  (${m.description || 'extra'})`),
      `  control       ${control.url}  token ${controlToken}`,
      `  server time   ${timeZone}`,
      '  groups:',
      ...groups.list.map(
        (g) =>
          `    ${g.name.padEnd(24)} ${g.currency}/${g.currencyDigits}  ${marginModeName(g.marginMode).padEnd(7)}  ` +
          `leverage 1:${g.leverageMin}–1:${g.leverageMax}  logins ${g.loginFrom}–${g.loginTo}` +
          (users.canAccess(crm, g.name) ? '' : "  (outside the CRM manager's groups)"),
      ),
    ];
    return lines.join('\n');
  };

  let closed = false;
  const handle: Mt5SimulatorHandle = {
    platform: 'mt5',
    name,
    environment,
    url,
    host,
    port,
    controlUrl: control.url,
    controlToken,
    ...(certPath ? { certPath } : {}),
    manager: { login: crm.login, password: crm.password },
    managers: managers.map((m) => ({ login: m.login, password: m.password, description: m.description })),
    groups: groupInfo,
    timeZone,
    banner,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweepTimer);
      if (activityTimer) clearInterval(activityTimer);
      stopWatchingClock();
      listener?.dispose();
      await control.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        listener?.dropAll();
      });
      store.close();
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    },
  };
  if (!options.quiet) console.log(banner());
  return handle;
}
