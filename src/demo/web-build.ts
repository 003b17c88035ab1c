/**
 * Builds the web application (web/dist) for the demo when it is missing or older than its sources. The build goes
 * to a scratch folder first and replaces web/dist by renames, so the API (or another build) never serves half of one.
 * A failed build is reported, not fatal: an older web/dist keeps being served, and without one the API answers
 * browser routes with a page that says how to build it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The newest modification time under `path` (files and folders), 0 when absent. */
function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const name of readdirSync(path)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    latest = Math.max(latest, newest(join(path, name)));
  }
  return latest;
}

export interface WebBuildResult {
  status: 'up_to_date' | 'built' | 'failed';
  /** The reason a build was needed, or the failure. */
  message: string;
  durationMs: number;
  /** Whether web/dist can be served (built now or earlier). */
  available: boolean;
}

export function webBuildNeeded(webDir = join(root, 'web')): string | null {
  const index = join(webDir, 'dist', 'index.html');
  if (!existsSync(index)) return 'web/dist is missing';
  const built = statSync(index).mtimeMs;
  const sources = Math.max(
    newest(join(webDir, 'src')),
    newest(join(webDir, 'index.html')),
    newest(join(webDir, 'vite.config.ts')),
  );
  return sources > built ? 'web/src changed since web/dist was built' : null;
}

export async function ensureWebBuild(options: { timeoutMs?: number } = {}): Promise<WebBuildResult> {
  const started = performance.now();
  const webDir = join(root, 'web');
  const reason = webBuildNeeded(webDir);
  const dist = join(webDir, 'dist');
  if (!reason) return { status: 'up_to_date', message: 'web/dist is up to date', durationMs: 0, available: true };
  const scratch = join(root, 'node_modules', '.cache', 'brokerdesk-demo');
  mkdirSync(scratch, { recursive: true });
  const out = join(scratch, `web-${process.pid}-${Date.now()}`);
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const result = await new Promise<{ ok: boolean; output: string }>((resolve) => {
    const child = spawn(
      process.execPath,
      [
        vite,
        'build',
        '--config',
        join(webDir, 'vite.config.ts'),
        '--logLevel',
        'warn',
        '--outDir',
        out,
        '--emptyOutDir',
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } },
    );
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-6000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, output: err.message });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, output });
    });
  });
  const durationMs = performance.now() - started;
  if (!result.ok || !existsSync(join(out, 'index.html'))) {
    rmSync(out, { recursive: true, force: true });
    const firstError =
      result.output
        .split('\n')
        .map((l) => l.trim())
        .find((l) => /error|could not|failed/i.test(l)) ?? result.output.trim().split('\n').pop();
    return {
      status: 'failed',
      message: `${reason}, and building it failed: ${firstError ?? 'no output'}`,
      durationMs,
      available: existsSync(join(dist, 'index.html')),
    };
  }
  // Swap by renames: the old build moves aside, the new one takes its place, the old one is removed.
  const aside = `${out}-old`;
  if (existsSync(dist)) renameSync(dist, aside);
  renameSync(out, dist);
  rmSync(aside, { recursive: true, force: true });
  return { status: 'built', message: `${reason}: built`, durationMs, available: true };
}
