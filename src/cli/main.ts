/**
 * The `brokerdesk` command line. Each subcommand is a thin shell over a module: configuration errors and typed
 * errors are printed as one clear message (no stack trace) with a non-zero exit code.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
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

function isoDate(value: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new InvalidArgumentError(`"${value}" is not a date (use ISO 8601, e.g. 2026-01-31)`);
  return date;
}

/** A progress bar on stderr: redrawn in place on a terminal, a line per tenth otherwise. */
function progressBar(label: string) {
  const tty = process.stderr.isTTY === true;
  const started = performance.now();
  let lastDraw = 0;
  let lastTenth = -1;
  let drawn = false;
  return {
    update(fraction: number, position: Date, records: number, inserted: number, resumed: boolean) {
      const now = performance.now();
      const rate = records / Math.max(0.001, (now - started) / 1000);
      const pct = Math.floor(fraction * 100);
      const text = `${pct.toString().padStart(3)}% ${position.toISOString().slice(0, 16).replace('T', ' ')} · ${records.toLocaleString('en')} records, ${inserted.toLocaleString('en')} new · ${Math.round(rate).toLocaleString('en')}/s${resumed ? ' (resumed)' : ''}`;
      if (tty) {
        if (now - lastDraw < 100 && fraction < 1) return;
        lastDraw = now;
        const width = 24;
        const full = Math.round(fraction * width);
        process.stderr.write(`\r${label} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${text}\x1b[K`);
        drawn = true;
      } else if (Math.floor(fraction * 10) > lastTenth) {
        lastTenth = Math.floor(fraction * 10);
        process.stderr.write(`${label} ${text}\n`);
      }
    },
    done() {
      if (tty && drawn) process.stderr.write('\n');
    },
  };
}

/** A progress bar on stderr for a run of phases: redrawn in place on a terminal, a line per phase otherwise. */
function reconProgressBar(label: string) {
  const tty = process.stderr.isTTY === true;
  let lastMessage = '';
  let lastDraw = 0;
  let drawn = false;
  return {
    update(fraction: number, message: string) {
      const pct = Math.floor(fraction * 100);
      if (tty) {
        const now = performance.now();
        if (now - lastDraw < 100 && fraction < 1 && message === lastMessage) return;
        lastDraw = now;
        const width = 24;
        const full = Math.round(fraction * width);
        process.stderr.write(
          `\r${label} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${pct.toString().padStart(3)}% ${message}\x1b[K`,
        );
        drawn = true;
      } else if (message !== lastMessage) {
        process.stderr.write(`${label} ${pct.toString().padStart(3)}% ${message}\n`);
      }
      lastMessage = message;
    },
    done() {
      if (tty && drawn) process.stderr.write('\n');
    },
  };
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

  const trades = program.command('trades').description('trade and deal history synced from the trading servers');
  trades
    .command('backfill')
    .description(
      "read a server's history (deals, balance records and finished orders, in one walk) for a window into the database (resumable: run it again to continue)",
    )
    .requiredOption('--server <code>', 'the server, e.g. mt5-live')
    .requiredOption('--from <iso>', 'start of the window, e.g. 2026-01-01 or 2026-01-01T00:00:00Z', isoDate)
    .option('--to <iso>', 'end of the window (default now)', isoDate)
    .option('--chunk-hours <hours>', 'hours of history per request window', Number, 24)
    .option('--parallel <n>', 'windows listed at once', Number, 1)
    .action((o: { server: string; from: Date; to?: Date; chunkHours: number; parallel: number }) =>
      withContext(async (ctx) => {
        let interrupted = false;
        const onSigint = () => {
          interrupted = true;
        };
        process.once('SIGINT', onSigint);
        const bar = progressBar(o.server);
        try {
          const result = await ctx.trades.backfill(o.server, {
            from: o.from,
            to: o.to,
            chunkMs: Math.max(1 / 60, o.chunkHours) * 3_600_000,
            parallel: Math.max(1, Math.floor(o.parallel) || 1),
            onProgress: (p) => {
              if (interrupted) throw new Error('interrupted');
              bar.update(p.fraction, p.position, p.records, p.inserted, p.resumed);
            },
          });
          bar.done();
          console.log(
            `${o.server}: ${result.records} records read, ${result.inserted} new, ${result.changed} changed on the server, in ${(result.durationMs / 1000).toFixed(1)} s${result.resumedFrom ? ` (resumed from ${result.resumedFrom.toISOString()})` : ''}`,
          );
        } catch (err) {
          bar.done();
          if (!interrupted) throw err;
          console.error(`${o.server}: backfill interrupted; run the same command again to continue where it stopped`);
          process.exitCode = 130;
        } finally {
          process.off('SIGINT', onSigint);
        }
      }),
    );
  trades
    .command('sync')
    .description('run one incremental sync pass now (every enabled server, or one)')
    .option('--server <code>', 'only this server')
    .action((o: { server?: string }) =>
      withContext(async (ctx) => {
        const results = o.server
          ? [await ctx.trades.syncServer(o.server), await ctx.trades.syncOrders(o.server)]
          : await ctx.trades.syncAll();
        for (const r of results) {
          console.log(
            r.status === 'ok'
              ? `${r.server} ${r.pass}: ${r.records} records read, ${r.inserted} new, ${r.changed} changed (${Math.round(r.durationMs)} ms)`
              : `${r.server} ${r.pass}: ${r.status.toUpperCase()}${r.error ? ` — ${r.error}` : ' (another worker holds it)'}`,
          );
          if (r.status === 'failed') process.exitCode = 2;
        }
      }),
    );
  trades
    .command('status')
    .description('sync state and lag of every enabled server')
    .action(() =>
      withContext(async (ctx) => {
        for (const s of await ctx.trades.status()) {
          const lag = s.lagSeconds === null ? 'never synced' : `lag ${Math.round(s.lagSeconds)} s`;
          console.log(
            `${s.server.padEnd(16)} ${lag.padEnd(14)} synced to ${s.syncedTo?.toISOString() ?? '—'}  ${s.recordsIngested} records${s.lastError ? `  last error: ${s.lastError} (${s.consecutiveFailures}×)` : ''}${s.backfill.next && !s.backfill.finishedAt ? `  backfill unfinished at ${s.backfill.next.toISOString()}` : ''}`,
          );
          const ordersLag = s.orders.lagSeconds === null ? 'never synced' : `lag ${Math.round(s.orders.lagSeconds)} s`;
          console.log(
            `${''.padEnd(16)} orders ${ordersLag} synced to ${s.orders.syncedTo?.toISOString() ?? '—'}${s.orders.lastError ? `  last error: ${s.orders.lastError} (${s.orders.consecutiveFailures}×)` : ''}`,
          );
        }
      }),
    );

  const recon = program.command('recon').description('the daily three-way reconciliation (PSP, CRM, servers)');
  recon
    .command('run')
    .description('reconcile a business date (after its cut-off: RECON_CUTOFF in RECON_TIME_ZONE) and print its breaks')
    .requiredOption('--date <YYYY-MM-DD>', 'the business date', (value: string) => {
      if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(value)) {
        throw new InvalidArgumentError(`"${value}" is not a date; give it as YYYY-MM-DD`);
      }
      return value;
    })
    .option('--csv <file>', "also write the run's breaks as CSV to this file")
    .action((o: { date: string; csv?: string }) =>
      withContext(async (ctx) => {
        const { reconciliationFor } = await import('../modules/reconciliation/from-context.ts');
        const { runReportCsv } = await import('../modules/reconciliation/report.ts');
        const service = reconciliationFor(ctx);
        const bar = reconProgressBar(`recon ${o.date}`);
        let run: Awaited<ReturnType<typeof service.run>>;
        try {
          run = await service.run({
            date: o.date,
            trigger: 'manual',
            requestedBy: 'cli',
            onProgress: (p) => bar.update(p.fraction, p.message),
          });
        } finally {
          bar.done();
        }
        const summary = run.summary as {
          breaks: number;
          byClass: Record<string, number>;
          opened: number;
          reopened: number;
          cleared: number;
          openTotal: number;
          accountsCompared: number;
          accountsSkipped: number;
        };
        const sources = run.sources as {
          psp: { name: string | null; status: string; lines?: number; error?: string };
          servers: Record<string, { status: string; cutoffAt: string | null; complete: boolean; note?: string }>;
        };
        console.log(
          `reconciliation of ${run.businessDate} (cut-off ${run.cutoffLocal} ${run.timeZone} = ${run.cutoffAt.toISOString()}), run ${run.id}`,
        );
        console.log(
          `  PSP ${sources.psp.name ?? '(none)'}: ${sources.psp.status}${sources.psp.lines !== undefined ? `, ${sources.psp.lines} lines` : ''}${sources.psp.error ? ` — ${sources.psp.error}` : ''}`,
        );
        for (const [code, server] of Object.entries(sources.servers)) {
          console.log(
            `  server ${code}: ${server.status}${server.cutoffAt ? ` up to ${server.cutoffAt}` : ''}${server.note ? ` — ${server.note}` : ''}`,
          );
        }
        console.log(
          `  accounts compared ${summary.accountsCompared}, skipped ${summary.accountsSkipped}; breaks ${summary.breaks} (${summary.opened + summary.reopened} new), cleared ${summary.cleared}, open in total ${summary.openTotal}`,
        );
        for (const [cls, n] of Object.entries(summary.byClass).sort(([a], [b]) => (a < b ? -1 : 1))) {
          console.log(`    ${cls.padEnd(20)} ${n}`);
        }
        if (o.csv) {
          const { writeFileSync } = await import('node:fs');
          writeFileSync(o.csv, await runReportCsv(ctx.database.db, run.id));
          console.log(`  breaks written to ${o.csv}`);
        }
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

  const golive = program
    .command('golive')
    .description('go-live: the pre-launch checklist and the full-workflow rehearsal');
  golive
    .command('check')
    .description(
      'check servers, products, payments, sync, alerts, staff and audit: pass/warn/fail with the fix (exit 1 on a fail)',
    )
    .option('--json', 'print the report as JSON')
    .option('--send-test-alert', 'send a test alert through every alert channel')
    .action((o: { json?: boolean; sendTestAlert?: boolean }) =>
      withContext(async (ctx) => {
        const { formatChecklist, runChecklist } = await import('../modules/golive/checks.ts');
        const report = await runChecklist(ctx, { sendTestAlert: o.sendTestAlert === true });
        console.log(o.json ? JSON.stringify(report, null, 2) : formatChecklist(report));
        if (report.summary.fail > 0) process.exitCode = 1;
      }),
    );
  golive
    .command('rehearse')
    .description(
      'run a whole client journey on the demo server and the PSP sandbox (GOLIVE_* settings), each step timed, then clean up (exit 1 unless it passes)',
    )
    .requiredOption('--as <email>', 'the staff member in whose name it approves KYC and the withdrawal')
    .option('--with-worker', 'run the worker in this process meanwhile (when no `brokerdesk worker` is running)')
    .option('--json', 'print the report as JSON')
    .action((o: { as: string; withWorker?: boolean; json?: boolean }) =>
      withContext(async (ctx) => {
        const { and, eq } = await import('drizzle-orm');
        const { staffUsers } = await import('../db/schema.ts');
        const { formatRehearsal, rehearse } = await import('../modules/golive/rehearse.ts');
        const [staff] = await ctx.database.db
          .select()
          .from(staffUsers)
          .where(and(eq(staffUsers.email, o.as.trim().toLowerCase()), eq(staffUsers.disabled, false)));
        if (!staff)
          throw new Error(`no enabled staff member ${o.as}: give --as the email of one (brokerdesk staff add)`);
        const worker = o.withWorker ? await (await import('../app/worker.ts')).startWorker(ctx) : null;
        const shown = new Set<string>();
        try {
          const report = await rehearse(ctx, {
            staffId: staff.id,
            requestedBy: `cli:${staff.email}`,
            onProgress: (r) => {
              for (const s of r.steps) {
                if ((s.status === 'passed' || s.status === 'failed') && !shown.has(s.id)) {
                  shown.add(s.id);
                  process.stderr.write(`${s.status === 'passed' ? 'PASS' : 'FAIL'} ${s.id} (${s.durationMs} ms)\n`);
                }
              }
            },
          });
          console.log(o.json ? JSON.stringify(report, null, 2) : formatRehearsal(report));
          if (report.status !== 'passed') process.exitCode = 1;
        } finally {
          await worker?.stop();
        }
      }),
    );

  program
    .command('demo')
    .description(
      'run everything locally with demo data: API + web application, worker, embedded database, MT5/MT4 simulators, PSP sandbox, mailbox',
    )
    .option(
      '--data-dir <dir>',
      'embedded database, simulator state, mailbox and secrets (default BROKERDESK_DATA_DIR or ./data)',
    )
    .option(
      '--port <port>',
      'API and web application port',
      (value: string) => {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('give a port from 1 to 65535');
        return n;
      },
      8080,
    )
    .option(
      '--base-port <port>',
      'first simulator port: MT5 live/demo P, P+1; MT4 live/demo P+2, P+3; PSP P+4; mailbox P+5 (SMTP P+6); control APIs P+100…',
      (value: string) => {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1024 || n > 65_000)
          throw new InvalidArgumentError('give a port from 1024 to 65000');
        return n;
      },
      18_400,
    )
    .action(async (o: { dataDir?: string; port: number; basePort: number }) => {
      // Ctrl-C while starting: stop at once (the simulators' child process is stopped on exit).
      const early = () => {
        console.error('brokerdesk demo: stopped while starting');
        process.exit(130);
      };
      process.once('SIGINT', early);
      process.once('SIGTERM', early);
      const { startDemo } = await import('../demo/stack.ts');
      const { demoBanner } = await import('../demo/banner.ts');
      const demo = await startDemo({
        dataDir: o.dataDir ?? (process.env.BROKERDESK_DATA_DIR || './data'),
        port: o.port,
        basePort: o.basePort,
        databaseUrl: process.env.DATABASE_URL || undefined,
      });
      process.off('SIGINT', early);
      process.off('SIGTERM', early);
      console.log(demoBanner(demo));
      let stopping = false;
      const stop = async () => {
        if (stopping) return;
        stopping = true;
        console.log('brokerdesk demo: stopping (the data stays for the next start)…');
        await demo.stop();
        console.log('brokerdesk demo: stopped');
        process.exit(0);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
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
