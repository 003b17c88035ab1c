/**
 * Bench support: CPU time used so far by other processes, read from Linux's /proc (null elsewhere), so a benchmark
 * can say which side of a run (this process, PostgreSQL, a simulator, a child process) used the cores. On a machine
 * this small they share them: wall time includes waiting for a CPU, this does not.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** utime + stime of one process, in seconds (fields 14 and 15 of stat, 11 and 12 after the command; 100 ticks/s). */
function statCpuSeconds(pid: number | string): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds used so far by one process (null without a pid, or where /proc cannot be read). */
export function processCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    return statCpuSeconds(pid);
  } catch {
    return null;
  }
}

/** CPU seconds used so far by the PostgreSQL backends serving `database` (null where /proc cannot be read). */
export function backendCpuSeconds(database: string): number | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  let total = 0;
  for (const pid of pids) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.startsWith('postgres:') && cmd.includes(` ${database} `)) total += statCpuSeconds(pid);
    } catch {
      // The process ended meanwhile.
    }
  }
  return total;
}
