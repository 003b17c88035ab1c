/** Builds the web application once before the browser tests (they test what `npm start` serves). */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync(
    process.execPath,
    ['node_modules/vite/bin/vite.js', 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'],
    {
      stdio: 'inherit',
    },
  );
}
