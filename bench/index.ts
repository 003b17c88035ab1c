/**
 * `npm run bench`: runs every `bench/*.bench.ts` (and the standalone ones below) in name order, or those named on the
 * command line, and lets each print its figures and ratios. Benchmarks talk only to 127.0.0.1 and stop by themselves.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const wanted = process.argv.slice(2);
/** Benchmarks that are also scripts of their own (`node bin/run-ts.mjs bench/<name>`). */
const standalone = new Set(['reconciliation.ts']);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts') || standalone.has(f))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();

for (const file of files) {
  console.log(`\n=== ${file}`);
  const mod = (await import(pathToFileURL(`${dir}${file}`).href)) as { default: () => Promise<void> };
  await mod.default();
}
process.exit(0);
