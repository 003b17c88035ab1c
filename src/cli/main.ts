/**
 * The `brokerdesk` command line. Each subcommand is a thin shell over a module: configuration errors and typed
 * errors are printed as one clear message (no stack trace) with a non-zero exit code.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { ConfigError, loadConfig } from '../config.ts';
import { connect } from '../db/connect.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Runs the simulators' own program in a child process (product code never imports simulator code). */
function runSimulatorProgram(args: string[]): Promise<number> {
  const child = spawn(process.execPath, ['bin/run-ts.mjs', 'sim/cli.ts', ...args], { cwd: root, stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

async function migrate(): Promise<void> {
  const config = loadConfig();
  const database = await connect({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    await database.migrate();
    console.log(
      `brokerdesk: database migrated (${database.kind === 'postgres' ? 'PostgreSQL' : `embedded PGlite in ${config.dataDir}`})`,
    );
  } finally {
    await database.close();
  }
}

export function buildProgram(): Command {
  const program = new Command('brokerdesk').description('Back office for MetaTrader 4/5 brokers').showHelpAfterError();

  program.command('migrate').description('apply database migrations').action(migrate);

  program
    .command('sim')
    .description('MetaTrader simulators: `brokerdesk sim mt5|mt4|fleet --help`')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      process.exitCode = await runSimulatorProgram(args.length > 0 ? args : ['--help']);
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
    console.error(`brokerdesk: ${(err as Error).message}`);
    process.exit(1);
  }
}
