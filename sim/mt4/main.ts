/**
 * Runs one MT4 bridge simulator as its own process until SIGINT/SIGTERM:
 *
 *   node bin/run-ts.mjs sim/mt4/main.ts [--options '<Mt4SimulatorOptions as JSON>']
 *
 * Prints the banner, then one line `READY <json>` with the addresses and credentials, for a parent process (tests,
 * scripts) to read. The product's CLI may start simulators its own way; this entry exists so a simulator can be run,
 * and killed, on its own.
 */
import { fileURLToPath } from 'node:url';
import type { Mt4SimulatorOptions } from './config.ts';
import { startMt4Simulator } from './server.ts';

export function parseArgs(argv: readonly string[]): Mt4SimulatorOptions {
  const at = argv.indexOf('--options');
  if (at < 0) return {};
  const text = argv[at + 1];
  if (!text) throw new Error('--options needs a JSON object');
  const parsed = JSON.parse(text) as unknown;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('--options needs a JSON object');
  }
  return parsed as Mt4SimulatorOptions;
}

async function main(): Promise<void> {
  const sim = await startMt4Simulator(parseArgs(process.argv.slice(2)));
  const ready = {
    url: sim.url,
    certPath: sim.certPath,
    controlUrl: sim.controlUrl,
    controlToken: sim.controlToken,
    manager: sim.manager,
  };
  process.stdout.write(`READY ${JSON.stringify(ready)}\n`);
  const stop = () => {
    sim.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`close failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
