/**
 * Bench-only: samples pg_stat_activity of the databases whose name starts with a prefix (default bd_bench_) every
 * few milliseconds and prints how often backends were seen in each wait event, and what the holder of each
 * heavyweight lock others wait for was doing.
 *   node bench/support/pg-waits.mjs [seconds=10] [intervalMs=5] [prefix=bd_bench_]
 */
import pg from 'pg';

const seconds = Number(process.argv[2] ?? 10);
const interval = Number(process.argv[3] ?? 5);
const prefix = process.argv[4] ?? 'bd_bench_';
const client = new pg.Client({
  connectionString: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
});
await client.connect();
const waits = new Map();
const holders = new Map();
let samples = 0;
const end = Date.now() + seconds * 1000;
const bump = (m, k) => m.set(k, (m.get(k) ?? 0) + 1);
while (Date.now() < end) {
  const { rows } = await client.query(
    `select a.pid, coalesce(a.wait_event_type, 'CPU') as t, coalesce(a.wait_event, '-') as e, a.state,
            left(regexp_replace(a.query, '\\s+', ' ', 'g'), 50) as q,
            pg_blocking_pids(a.pid) as blockers
     from pg_stat_activity a where a.datname like $1 and a.state <> 'idle' and a.pid <> pg_backend_pid()`,
    [`${prefix}%`],
  );
  if (rows.length < 4) {
    await new Promise((r) => setTimeout(r, interval));
    continue;
  }
  samples += 1;
  const byPid = new Map(rows.map((r) => [r.pid, r]));
  const blockerPids = new Set();
  for (const r of rows) {
    bump(waits, `${r.t}:${r.e}${r.t === 'Client' ? ` (${r.state})` : ''}`);
    for (const b of r.blockers) blockerPids.add(b);
  }
  for (const pid of blockerPids) {
    const h = byPid.get(pid);
    bump(holders, h ? `${h.t}:${h.e} ${h.state} | ${h.q}` : 'not sampled');
  }
  await new Promise((r) => setTimeout(r, interval));
}
await client.end();
const print = (title, m) => {
  console.log(`\n${title}`);
  for (const [k, n] of [...m].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${String(n).padStart(7)}  ${k}`);
};
console.log(`${samples} samples with active backends`);
print('backends by wait event (count over samples)', waits);
print('blocking backends (what a backend others wait for was doing)', holders);
