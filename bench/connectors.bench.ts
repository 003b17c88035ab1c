/**
 * Connector throughput against the simulators over keep-alive HTTPS on loopback: balance operations per second
 * (many in parallel over the connector's session pool) and deals listed per second (paged, normalised to minor
 * units, lots and UTC). Client and simulator share this process, as they share the machine in production tests.
 */
import type { SimulatorHandle } from '../sim/common/types.ts';
import { startMt4Simulator } from '../sim/mt4/server.ts';
import { startMt5Simulator } from '../sim/mt5/server.ts';
import type { ConnectorConfig } from '../src/platforms/connector.ts';
import { createMt4Connector } from '../src/platforms/mt4/connector.ts';
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

async function fillHistory(platform: Platform, login: number, records: number): Promise<void> {
  const more = records - (await listingThroughput(platform, login)).count;
  await Promise.all(
    Array.from({ length: 16 }, async (_, w) => {
      for (let i = w; i < more; i += 16) {
        await platform.postBalanceOperation({ login, kind: 'balance', amount: 1, reference: newReference('deposit') });
      }
    }),
  );
}

async function measure(label: string, platform: Platform, group: string, passwords: [string, string]): Promise<void> {
  const logins: number[] = [];
  for (let i = 0; i < 50; i++) {
    const account = await platform.openAccount({
      group,
      name: `Bench ${i}`,
      leverage: 100,
      mainPassword: passwords[0],
      investorPassword: passwords[1],
    });
    logins.push(account.login);
  }
  await balanceThroughput(platform, logins, 1, 16); // warm-up
  const balance = await balanceThroughput(platform, logins, 3, 32);
  console.log(
    `${label} connector: ${balance.perSecond.toFixed(0)} balance operations/s (32 in flight), p50 ${balance.p50.toFixed(2)} ms, p99 ${balance.p99.toFixed(2)} ms`,
  );
  await fillHistory(platform, logins[0]!, 5000);
  const listing = await listingThroughput(platform, logins[0]!);
  console.log(`${label} connector: listed ${listing.count} records at ${listing.perSecond.toFixed(0)} records/s`);
}

export default async function bench(): Promise<void> {
  const mt5 = await startMt5Simulator({ name: 'mt5-bench', quiet: true, port: 0, controlPort: 0 });
  const mt5Platform = createMt5Connector(configFor(mt5, 8));
  try {
    await measure('MT5', mt5Platform, 'real\\standard-usd', ['Bench!pass1', 'Bench!pass2']);
  } finally {
    await mt5Platform.close();
    await mt5.close();
  }
  const mt4 = await startMt4Simulator({ name: 'mt4-bench', quiet: true, port: 0, controlPort: 0 });
  const mt4Platform = createMt4Connector(configFor(mt4, 4));
  try {
    await measure('MT4', mt4Platform, 'real-std-usd', ['Bench1pass', 'Bench2pass']);
  } finally {
    await mt4Platform.close();
    await mt4.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await bench();
  process.exit(0);
}
