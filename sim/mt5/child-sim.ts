/**
 * Test support: runs one MT5 simulator in its own process so a test can kill it without warning (SIGKILL) and prove
 * that everything it acknowledged survives. Usage: `node bin/run-ts.mjs sim/mt5/child-sim.ts '<options JSON>'`;
 * prints one JSON line with the handle's addresses and credentials, then serves until killed.
 */
import { type Mt5SimulatorOptions, startMt5Simulator } from './server.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as Mt5SimulatorOptions;
const sim = await startMt5Simulator({ ...options, quiet: true });
process.stdout.write(
  `${JSON.stringify({
    url: sim.url,
    controlUrl: sim.controlUrl,
    controlToken: sim.controlToken,
    certPath: sim.certPath,
    manager: sim.manager,
  })}\n`,
);
