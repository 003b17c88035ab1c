/**
 * Connector throughput against the simulators over keep-alive HTTPS on loopback: balance operations per second
 * (many in parallel over the connector's session pool) and deals listed per second (paged, normalised to minor
 * units, lots and UTC). Client and simulator share this process, as they share the machine in production tests.
 */
import type { SimulatorHandle } from '../sim/common/types.ts';
import { startMt5Simulator } from '../sim/mt5/server.ts';
import type { ConnectorConfig } from '../src/platforms/connector.ts';
import { createMt5Connector } from '../src/platforms/mt5/connector.ts';
import { newReference } from '../src/platforms/reference.ts';
import type { Platform } from '../src/platforms/types.ts';
import { connectorConfig } from '../test/support/simulators.ts';

export function configFor(sim: SimulatorHandle, sessions: number): ConnectorConfig {
  return connectorConfig(sim, { connectTimeoutMs: 5000, requestTimeoutMs: 15000, sessions });
}

export async function balanceThroughput(platform: Platform, logins: number[], seconds: number, concurrency: number) {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const login = logins[next++ % logins.length]!;
        const started = performance.now();
        await platform.postBalanceOperation({
          login,
          kind: 'balance',
          amount: 100,
          reference: newReference('deposit'),
        });
        latencies.push(performance.now() - started);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  return { perSecond: latencies.length / seconds, p50: at(0.5), p99: at(0.99) };
}

export async function listingThroughput(platform: Platform, login: number) {
  const started = performance.now();
  let count = 0;
  for await (const _ of platform.listHistory({
    login,
    from: new Date(Date.now() - 7 * 86_400_000),
    to: new Date(Date.now() + 86_400_000),
  })) {
    count++;
  }
  return { count, perSecond: count / ((performance.now() - started) / 1000) };
}

export default async function bench(): Promise<void> {
  const sim = await startMt5Simulator({ name: 'mt5-bench', quiet: true, port: 0, controlPort: 0 });
  const platform = createMt5Connector(configFor(sim, 8));
  try {
    const logins: number[] = [];
    for (let i = 0; i < 50; i++) {
      const account = await platform.openAccount({
        group: 'real\\standard-usd',
        name: `Bench ${i}`,
        leverage: 100,
        mainPassword: 'Bench!pass1',
        investorPassword: 'Bench!pass2',
      });
      logins.push(account.login);
    }
    await balanceThroughput(platform, logins, 1, 16); // warm-up
    const balance = await balanceThroughput(platform, logins, 3, 32);
    console.log(
      `MT5 connector: ${balance.perSecond.toFixed(0)} balance operations/s (32 in flight over 8 sessions), p50 ${balance.p50.toFixed(2)} ms, p99 ${balance.p99.toFixed(2)} ms`,
    );
    // One account with 5,000 records: deposits, then listing pages of 100.
    const heavy = logins[0]!;
    const more = 5000 - (await listingThroughput(platform, heavy)).count;
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        for (let i = w; i < more; i += 16) {
          await platform.postBalanceOperation({
            login: heavy,
            kind: 'balance',
            amount: 1,
            reference: newReference('deposit'),
          });
        }
      }),
    );
    const listing = await listingThroughput(platform, heavy);
    console.log(
      `MT5 connector: listed ${listing.count} deal records at ${listing.perSecond.toFixed(0)} deals/s (pages of 100)`,
    );
  } finally {
    await platform.close();
    await sim.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await bench();
  process.exit(0);
}
