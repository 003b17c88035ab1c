/**
 * Bench-only: counts the statements every pg.Client sends, by their text, and prints the table at exit.
 *   node --import ./bench/support/count-queries.mjs bin/run-ts.mjs bench/index.ts deposits
 * BENCH_COUNT_TOP (default 40) rows are printed, most frequent first. Transaction control (BEGIN/COMMIT) counts too.
 */
import pg from 'pg';

const counts = new Map();
let total = 0;
const original = pg.Client.prototype.query;
pg.Client.prototype.query = function counted(config, ...rest) {
  const text = typeof config === 'string' ? config : config?.text;
  if (typeof text === 'string') {
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 140);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    total += 1;
  }
  return original.call(this, config, ...rest);
};

/** The counts so far (and a reset), for a bench that wants to report statements per unit of work. */
globalThis.__benchQueryCounts = () => ({ total, counts: new Map(counts) });
globalThis.__benchQueryReset = () => {
  counts.clear();
  total = 0;
};

process.on('exit', () => {
  const top = Number(process.env.BENCH_COUNT_TOP ?? 40);
  const rows = [...counts].sort((a, b) => b[1] - a[1]).slice(0, top);
  process.stderr.write(`\nstatements sent: ${total}\n`);
  for (const [text, n] of rows) process.stderr.write(`${String(n).padStart(8)}  ${text}\n`);
});
