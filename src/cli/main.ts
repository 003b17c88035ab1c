/**
 * The `brokerdesk` command line. Each subcommand is a thin shell over a module: configuration errors and typed
 * errors are printed as one clear message (no stack trace) with a non-zero exit code.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { ZodError } from 'zod';
import { ConfigError, loadConfig } from '../config.ts';
import { connect, type Database } from '../db/connect.ts';
import { verifyAuditChain } from '../modules/audit/service.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Runs the simulators' own program in a child process (product code never imports simulator code). */
function runSimulatorProgram(args: string[]): Promise<number> {
  const child = spawn(process.execPath, ['bin/run-ts.mjs', 'sim/cli.ts', ...args], { cwd: root, stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

/** Opens the configured database for one command and closes it afterwards. */
async function withDatabase<T>(work: (database: Database, where: string) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const database = await connect({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const where = database.kind === 'postgres' ? 'PostgreSQL' : `embedded PGlite in ${config.dataDir}`;
  try {
    return await work(database, where);
  } finally {
    await database.close();
  }
}

/** Builds the full application context for one command and closes it afterwards. */
async function withContext<T>(work: (ctx: import('../app/context.ts').AppContext) => Promise<T>): Promise<T> {
  const { createContext } = await import('../app/context.ts');
  const { createLogger } = await import('../log.ts');
  const ctx = await createContext(loadConfig(), { logger: createLogger('warn') });
  try {
    return await work(ctx);
  } finally {
    await ctx.close();
  }
}

function migrate(): Promise<void> {
  return withDatabase(async (database, where) => {
    await database.migrate();
    console.log(`brokerdesk: database migrated (${where})`);
  });
}

export function buildProgram(): Command {
  const program = new Command('brokerdesk').description('Back office for MetaTrader 4/5 brokers').showHelpAfterError();

  program.command('migrate').description('apply database migrations').action(migrate);

  const audit = program.command('audit').description('the hash-chained audit trail');
  audit
    .command('verify')
    .description('walk the whole chain and report the first broken link')
    .action(() =>
      withDatabase(async (database) => {
        const report = await verifyAuditChain(database.db, {
          onProgress: (n) => process.stderr.write(`\rchecked ${n} events`),
        });
        process.stderr.write('\n');
        if (report.ok) {
          console.log(`audit chain intact: ${report.checked} events`);
        } else {
          console.error(
            `audit chain BROKEN at event ${report.brokenAt!.id}: ${report.brokenAt!.reason} (${report.checked} events before it are intact)`,
          );
          process.exitCode = 2;
        }
      }),
    );

  program
    .command('sim')
    .description('MetaTrader and PSP simulators: `brokerdesk sim mt5|mt4|psp|fleet --help`')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      process.exitCode = await runSimulatorProgram(args.length > 0 ? args : ['--help']);
    });

  const servers = program.command('servers').description('the trading servers Brokerdesk talks to');
  servers
    .command('add')
    .description('add or replace a trading server (the password is given as a secret reference, never itself)')
    .requiredOption('--code <code>', 'short name, e.g. mt5-live')
    .requiredOption('--platform <platform>', 'mt4 or mt5')
    .requiredOption('--environment <env>', 'live or demo')
    .requiredOption('--address <url>', 'https:// address of the MT5 Web API or MT4 Manager bridge')
    .requiredOption('--manager-login <login>', 'manager account login', Number)
    .requiredOption('--password-secret <ref>', 'env:VARIABLE or file:/path holding the manager password')
    .option('--ca-cert <path>', 'PEM of the CA the server certificate must chain to')
    .option('--time-zone <zone>', 'IANA zone of the server clock', 'Europe/Nicosia')
    .option('--request-timeout-ms <ms>', 'request timeout', Number, 15000)
    .option('--disabled', 'store it disabled', false)
    .action((o) =>
      withContext(async (ctx) => {
        const view = await ctx.registry.upsert({
          code: o.code,
          platform: o.platform,
          environment: o.environment,
          address: o.address,
          managerLogin: o.managerLogin,
          passwordSecret: o.passwordSecret,
          caCertPath: o.caCert ?? null,
          timeZone: o.timeZone,
          requestTimeoutMs: o.requestTimeoutMs,
          enabled: !o.disabled,
        });
        console.log(`saved ${view.code}: ${view.platform} ${view.environment} at ${view.address}`);
      }),
    );
  servers
    .command('list')
    .description('list configured servers (no credentials)')
    .action(() =>
      withContext(async (ctx) => {
        for (const s of await ctx.registry.list()) {
          console.log(
            `${s.code.padEnd(16)} ${s.platform} ${s.environment.padEnd(4)} ${s.address}  manager ${s.managerLogin}${s.enabled ? '' : '  (disabled)'}`,
          );
        }
      }),
    );
  servers
    .command('check')
    .description('connect to every enabled server: ping, clock, groups')
    .action(() =>
      withContext(async (ctx) => {
        let failed = false;
        for (const s of (await ctx.registry.list()).filter((x) => x.enabled)) {
          try {
            const platform = await ctx.registry.platform(s.code);
            const latency = await platform.ping();
            const clock = await platform.serverTime();
            const groups = await platform.listGroups();
            const drift = clock.observedOffsetMinutes - clock.offsetMinutes;
            console.log(
              `${s.code}: ok, ${latency.toFixed(1)} ms, ${groups.length} groups, clock ${clock.now.toISOString()}${drift === 0 ? '' : ` — WARNING: server clock implies UTC${clock.observedOffsetMinutes >= 0 ? '+' : ''}${clock.observedOffsetMinutes} min but ${clock.zone} is ${clock.offsetMinutes} min now`}`,
            );
          } catch (err) {
            failed = true;
            console.error(`${s.code}: FAILED — ${(err as Error).message}`);
          }
        }
        if (failed) process.exitCode = 2;
      }),
    );

  const staffCmd = program.command('staff').description('back-office staff');
  staffCmd
    .command('add')
    .description('create a staff member (e.g. the first admin); the password comes from a secret reference')
    .requiredOption('--email <email>', 'sign-in email')
    .requiredOption('--name <name>', 'full name')
    .requiredOption('--roles <roles>', 'comma-separated: admin, compliance, finance, support, dealing, partner_manager')
    .requiredOption(
      '--password-secret <ref>',
      'env:VARIABLE or file:/path holding the initial password (at least 12 characters)',
    )
    .action((o: { email: string; name: string; roles: string; passwordSecret: string }) =>
      withContext(async (ctx) => {
        const { StaffService } = await import('../modules/staff/service.ts');
        const { resolveSecret } = await import('../platforms/secrets.ts');
        const staff = new StaffService(ctx.database, ctx.sealer, ctx.clock);
        const created = await staff.create(
          {
            email: o.email,
            name: o.name,
            password: resolveSecret(o.passwordSecret),
            roles: o.roles.split(',').map((r) => r.trim()) as never,
          },
          'system',
        );
        console.log(
          `created ${created.email} (${created.roles.join(', ')}); roles that move money enrol two-factor at first sign-in`,
        );
      }),
    );

  program
    .command('api')
    .description('run the HTTP API (back office, client portal, docs, health, metrics) until stopped')
    .action(async () => {
      const { createContext } = await import('../app/context.ts');
      const { buildApp } = await import('../http/app.ts');
      const config = loadConfig();
      const ctx = await createContext(config);
      const app = await buildApp(ctx);
      await app.listen({ host: config.http.host, port: config.http.port });
      console.log(
        `brokerdesk api listening on http://${config.http.host}:${config.http.port} (API docs: /docs, health: /health, metrics: /metrics)`,
      );
      const stop = async () => {
        await app.close();
        await ctx.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  program
    .command('worker')
    .description('run the operations worker (queue, alert delivery, server health) until stopped')
    .action(async () => {
      const { createContext } = await import('../app/context.ts');
      const { startWorker } = await import('../app/worker.ts');
      const ctx = await createContext(loadConfig());
      const worker = await startWorker(ctx);
      const stop = async () => {
        await worker.stop();
        await ctx.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  program
    .command('demo')
    .description('run everything locally with demo data (embedded database, simulators)')
    .action(async () => {
      await migrate();
      const config = loadConfig();
      process.exitCode = await runSimulatorProgram([
        'fleet',
        '--state-dir',
        `${config.dataDir}/simulators`,
        '--activity-interval-ms',
        '2000',
      ]);
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    if (err instanceof ZodError) {
      console.error(`brokerdesk: ${err.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ')}`);
      process.exit(1);
    }
    console.error(`brokerdesk: ${(err as Error).message}`);
    process.exit(1);
  }
}
