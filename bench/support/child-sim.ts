/**
 * Bench support: an MT5 simulator in a process of its own (sim/mt5/child-sim.ts), as a trading server would be: its
 * CPU is not the measured process's. Resolves with its addresses once it serves; `close()` stops it and removes its
 * temporary certificate folder.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface ChildSimulator {
  url: string;
  controlUrl: string;
  controlToken: string;
  certPath?: string;
  manager: { login: number; password: string };
  /** Its process id (the bench reads its CPU time). */
  pid?: number;
  close(): Promise<void>;
}

export async function startChildSimulator(options: Record<string, unknown>): Promise<ChildSimulator> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const child = spawn(process.execPath, ['bin/run-ts.mjs', 'sim/mt5/child-sim.ts', JSON.stringify(options)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the simulator exited (${code}) before it served`)));
  });
  const handle = JSON.parse(line) as Omit<ChildSimulator, 'close'>;
  return {
    ...handle,
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    async close() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      // Without a state folder its certificate lives in a temporary folder of its own.
      if (handle.certPath) rmSync(dirname(dirname(handle.certPath)), { recursive: true, force: true });
    },
  };
}
