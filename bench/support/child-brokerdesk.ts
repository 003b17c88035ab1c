/**
 * Bench support: a `brokerdesk` command (`api`, `worker`) in a process of its own, started exactly as an operator
 * starts it (`node bin/brokerdesk.mjs <command>`, configured by environment variables), so a benchmark measures the
 * product in its deployed shape: the API and the worker each with their own event loop and CPU. Resolves once the
 * process has printed the line that says it is ready; `close()` stops it the way an operator does (SIGTERM).
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface ChildBrokerdesk {
  /** The line that said it was ready (the API prints its address in it). */
  readyLine: string;
  /** Its process id (the bench reads its CPU time). */
  pid?: number;
  close(): Promise<void>;
}

/** A TCP port nothing listens on right now (the process that is given it binds it moments later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startChildBrokerdesk(
  command: 'api' | 'worker',
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 60_000,
): Promise<ChildBrokerdesk> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  // Diagnostics: BENCH_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles each child.
  const nodeArgs = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, 'bin/brokerdesk.mjs', command], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const seen: string[] = [];
  const readyLine = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`brokerdesk ${command} did not say it was ready within ${timeoutMs} ms: ${seen.join(' | ')}`));
    }, timeoutMs);
    lines.on('line', (line) => {
      if (seen.length < 20) seen.push(line);
      if (ready.test(line)) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    void exit.then(() => {
      clearTimeout(timer);
      reject(new Error(`brokerdesk ${command} exited before it was ready: ${seen.join(' | ')}`));
    });
  });
  return {
    readyLine,
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    async close() {
      if (exited) return;
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.kill('SIGTERM');
      await exit;
      clearTimeout(killer);
    },
  };
}
