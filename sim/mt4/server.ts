/**
 * The MT4 Manager bridge simulator: the contract in docs/mt4-bridge.openapi.yaml served over HTTPS, with durable
 * state, fault injection, pumping, a dealer console and a trading activity generator. Started by the demo, the CLI
 * and tests; never imported by product code (they share only the wire contract).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { SimClock } from '../common/clock.ts';
import { startControlServer } from '../common/control.ts';
import { FaultInjector } from '../common/faults.ts';
import { ListenerControl } from '../common/listener.ts';
import { Rng } from '../common/rng.ts';
import { StateStore } from '../common/store.ts';
import { assertTimeZone } from '../common/timezone.ts';
import { ensureCertificate } from '../common/tls.ts';
import type { SimulatorHandle } from '../common/types.ts';
import { ActivityGenerator } from './activity.ts';
import { type Mt4Config, Mt4ConfigError, type Mt4SimulatorOptions, resolveConfig } from './config.ts';
import { registerDealerRoutes } from './dealer.ts';
import { createManagerApi } from './manager-api.ts';
import { Market } from './market.ts';
import { PumpingHub } from './pumping.ts';
import { BODY_LIMIT_BYTES, registerBridgeRoutes } from './routes.ts';
import { ServerClock } from './server-clock.ts';
import { SessionRegistry } from './session.ts';
import { Mt4State } from './state.ts';
import { TradingDesk } from './trading.ts';
import { UserDirectory } from './users.ts';

export type { Mt4SimulatorOptions } from './config.ts';

export interface Mt4SimulatorHandle extends SimulatorHandle {
  platform: 'mt4';
  timeZone: string;
  /** Where state is kept; undefined = memory only. */
  stateDir: string | undefined;
  loginRange: { from: number; to: number };
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export async function startMt4Simulator(options: Mt4SimulatorOptions = {}): Promise<Mt4SimulatorHandle> {
  const timeZone = options.timeZone ?? 'Europe/Nicosia';
  assertTimeZone(timeZone);
  const store = StateStore.open({ dir: options.stateDir, ...(options.fsync ? { fsync: true } : {}) });
  const cleanups: (() => Promise<void> | void)[] = [() => store.close()];
  const cleanUp = async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  };

  try {
    const state = new Mt4State(store);
    // The default manager's password is generated once per state folder, so a CRM configured with it keeps working
    // across restarts; in memory it is new on every start.
    let managerPassword = state.meta.get('managerPassword') as string | undefined;
    if (!managerPassword && !options.managers) {
      managerPassword = randomBytes(9).toString('base64url');
      state.meta.put('managerPassword', managerPassword);
    }
    const config: Mt4Config = resolveConfig(options, managerPassword ?? '');

    const clock = new SimClock();
    const serverClock = new ServerClock(clock, timeZone);
    const market = new Market(config.symbols, ActivityGenerator.savedBids(state));
    const pumping = new PumpingHub(() => serverClock.now(), clock, config.pumpingDropIntervalMs);
    cleanups.push(() => pumping.close());
    const publish = pumping.publish.bind(pumping);
    const users = new UserDirectory(config, state, serverClock, publish);
    const desk = new TradingDesk(state, users, market, serverClock, publish);
    const activity = new ActivityGenerator(state, market, users, desk, config.seed);
    cleanups.push(() => activity.stop());
    const sessions = new SessionRegistry(config.managers, () => serverClock.now());
    sessions.onDrop((session) => pumping.dropSession(session.token));

    const faults = new FaultInjector(new Rng(config.seed), () => clock.now());
    for (const [i, rule] of (options.faults ?? []).entries()) {
      try {
        faults.add(rule);
      } catch (error) {
        throw new Mt4ConfigError([`faults[${i}]: ${(error as Error).message}`]);
      }
    }

    let tlsDir = options.stateDir;
    if (!options.plainHttp && !tlsDir) {
      const temp = mkdtempSync(join(tmpdir(), 'brokerdesk-mt4-'));
      tlsDir = temp;
      cleanups.push(() => rmSync(temp, { recursive: true, force: true }));
    }
    const identity = options.plainHttp ? undefined : await ensureCertificate(tlsDir!, 'brokerdesk-mt4-simulator');

    const fastifyOptions = { logger: false, bodyLimit: BODY_LIMIT_BYTES, forceCloseConnections: true } as const;
    const app = (identity
      ? Fastify({ ...fastifyOptions, https: { key: identity.key, cert: identity.cert } })
      : Fastify(fastifyOptions)) as unknown as FastifyInstance;
    cleanups.push(() => app.close());

    let listener: ListenerControl | undefined;
    /** A restart: sessions and pumping end, connections are cut, the port refuses connections for `seconds`. */
    const restart = async (seconds: number): Promise<void> => {
      sessions.drop();
      pumping.dropAll();
      await listener?.goDown(seconds);
    };

    registerBridgeRoutes(app, {
      api: createManagerApi({
        config,
        clock: serverClock,
        sessions,
        users,
        desk,
        market,
        endPumping: (token) => pumping.dropSession(token),
      }),
      sessions,
      faults,
      pumping,
      goDown: restart,
      logError: (message, error) => {
        process.stderr.write(`[${config.name}] ${message}: ${error instanceof Error ? error.stack : String(error)}\n`);
      },
    });

    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    listener = new ListenerControl(app.server as unknown as Server, port, config.host);
    // After a simulated restart the listener re-binds its port; should that fail (the port was taken meanwhile), say
    // so instead of crashing the process on an unhandled 'error' event.
    app.server.on('error', (error) => {
      process.stderr.write(`[${config.name}] bridge listener: ${error.message}\n`);
    });
    const control = listener;
    cleanups.push(() => control.dispose());

    const controlToken = options.controlToken ?? randomBytes(24).toString('hex');
    const controlServer = await startControlServer({
      host: '127.0.0.1',
      port: options.controlPort ?? 0,
      token: controlToken,
      platform: 'mt4',
      clock,
      faults,
      restart,
      status: () => ({
        name: config.name,
        environment: config.environment,
        serverTime: serverClock.now(),
        timeZone,
        accounts: state.users.size,
        records: state.trades.size,
        sessions: sessions.size,
        pumping: pumping.stats(),
        activityStep: activity.steps,
        listening: app.server.listening,
      }),
      routes: (controlApp) =>
        registerDealerRoutes(controlApp, {
          state,
          users,
          desk,
          market,
          sessions,
          pumping,
          activity,
        }),
    });
    cleanups.push(() => controlServer.close());

    if (config.activityIntervalMs) activity.start(config.activityIntervalMs);

    const scheme = identity ? 'https' : 'http';
    const url = `${scheme}://${urlHost(config.host)}:${port}`;
    const manager = config.managers[0]!;
    // MT4 keeps every trade as its own position: hedging, in MT5's terms.
    const groups = config.groups.map((g) => ({
      name: g.group,
      currency: g.currency,
      currencyDigits: g.digits,
      marginMode: 'hedging' as const,
    }));

    const banner = (): string =>
      [
        `MT4 Manager bridge simulator "${config.name}" (${config.environment})`,
        `  bridge       ${url}   contract: docs/mt4-bridge.openapi.yaml`,
        identity
          ? `  certificate  ${identity.certPath}   (pin it as the CA; valid for 127.0.0.1, ::1, localhost)`
          : '  certificate  none (plain HTTP)',
        `  manager      login ${manager.login}  password ${manager.password}  rights ${[...manager.rights].join(',')}`,
        `               groups ${manager.groups}  ip ${manager.ipAllow.join(',')}`,
        ...config.managers.slice(1).map((m) => `  manager      login ${m.login}  rights ${[...m.rights].join(',')}`),
        `  control      ${controlServer.url}   token ${controlToken}`,
        `  groups       ${config.groups.map((g) => `${g.group} (${g.currency})`).join(', ')}`,
        `  logins       ${config.loginRange.from}-${config.loginRange.to}`,
        `  time zone    ${timeZone} (server time is wall-clock seconds in this zone)`,
        `  state        ${options.stateDir ?? 'memory only'}`,
        `  pumping      dropped every ${config.pumpingDropIntervalMs > 0 ? `${config.pumpingDropIntervalMs / 1000} s` : 'never'}`,
        `  activity     ${config.activityIntervalMs ? `a step every ${config.activityIntervalMs} ms` : 'manual (POST /control/activity/step)'}`,
      ].join('\n');

    if (!options.quiet) process.stdout.write(`${banner()}\n`);

    let closing: Promise<void> | undefined;
    return {
      platform: 'mt4',
      name: config.name,
      environment: config.environment,
      url,
      host: config.host,
      port,
      controlUrl: controlServer.url,
      controlToken,
      ...(identity ? { certPath: identity.certPath } : {}),
      manager: { login: manager.login, password: manager.password },
      groups,
      timeZone,
      stateDir: options.stateDir,
      loginRange: { ...config.loginRange },
      banner,
      close: () => {
        closing ??= (async () => {
          activity.stop();
          await cleanUp();
        })();
        return closing;
      },
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}
