import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RET } from './codes.ts';
import { Mt4ConfigError } from './config.ts';
import { startMt4Simulator } from './server.ts';
import { Mt4TestClient, TransportError } from './test-client.ts';
import { Harness } from './test-support.ts';

describe('MT4 simulator environments, options and banner', () => {
  let live: Harness;
  let demo: Harness;

  beforeAll(async () => {
    [live, demo] = await Promise.all([Harness.start(), Harness.start({ environment: 'demo' })]);
  });
  afterAll(async () => {
    await Promise.all([live.close(), demo.close()]);
  });

  it('gives live and demo different groups, managers and non-overlapping login ranges', async () => {
    expect(live.sim.environment).toBe('live');
    expect(demo.sim.environment).toBe('demo');
    const liveGroups = live.sim.groups.map((g) => g.name);
    const demoGroups = demo.sim.groups.map((g) => g.name);
    expect(liveGroups.every((g) => g.startsWith('real-'))).toBe(true);
    expect(demoGroups.every((g) => g.startsWith('demo-'))).toBe(true);
    expect(live.sim.loginRange.to < demo.sim.loginRange.from || demo.sim.loginRange.to < live.sim.loginRange.from).toBe(
      true,
    );
    expect(live.sim.manager.login).not.toBe(demo.sim.manager.login);

    const liveLogin = await live.openAccount(await live.client(), 'real-std-usd');
    const demoClient = await demo.client();
    const demoLogin = await demo.openAccount(demoClient, 'demo-std-usd');
    expect(liveLogin).toBeGreaterThanOrEqual(live.sim.loginRange.from);
    expect(demoLogin).toBeGreaterThanOrEqual(demo.sim.loginRange.from);
    // A live group on the demo server is refused loudly, never mapped to something else.
    expect(
      (await demoClient.call('UserRecordNew', { group: 'real-std-usd', name: 'X', password: 'Secret123' })).ret,
    ).toBe(RET.INVALID_DATA);
    // The live manager's credentials do not open the demo server.
    const wrong = demo.anonymous();
    expect(
      (await wrong.call('Login', { login: live.sim.manager.login, password: live.sim.manager.password })).ret,
    ).toBe(RET.BAD_ACCOUNT_INFO);
  });

  it('prints a banner with everything a client needs', () => {
    const banner = live.sim.banner();
    for (const part of [
      live.sim.url,
      live.sim.certPath!,
      String(live.sim.manager.login),
      live.sim.manager.password,
      live.sim.controlUrl,
      live.sim.controlToken,
      'real-std-usd',
      'Europe/Nicosia',
    ]) {
      expect(banner).toContain(part);
    }
  });

  it('serves HTTPS that verifies against the pinned certificate only', async () => {
    expect(live.sim.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(readFileSync(live.sim.certPath!, 'utf8')).toContain('BEGIN CERTIFICATE');
    const unpinned = new Mt4TestClient({ url: live.sim.url });
    try {
      const failure = await unpinned.call('Ping').catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(TransportError);
      expect((failure as TransportError).code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
    } finally {
      unpinned.close();
    }
    const other = new Mt4TestClient({ url: live.sim.url, ca: readFileSync(demo.sim.certPath!, 'utf8') });
    try {
      await expect(other.call('Ping')).rejects.toBeInstanceOf(TransportError);
    } finally {
      other.close();
    }
  });

  it('serves plain HTTP only when asked', async () => {
    const plain = await Harness.start({ plainHttp: true });
    try {
      expect(plain.sim.url).toMatch(/^http:\/\//);
      expect(plain.sim.certPath).toBeUndefined();
      expect((await (await plain.client()).call('Ping')).ret).toBe(RET.OK);
    } finally {
      await plain.close();
    }
  });

  it('refuses bad options with one message naming every problem', async () => {
    const attempt = startMt4Simulator({
      quiet: true,
      port: 0,
      groups: [
        { group: 'a-group-name-too-long', currency: 'USD' },
        { group: 'dup', currency: 'USD' },
        { group: 'dup', currency: 'USD' },
        { group: 'chf', currency: 'CHF' },
      ],
      managers: [
        { login: 100_001, password: 'x', rights: ['admin'], groups: '*' },
        { login: 7, password: 'x', rights: ['admin'], groups: '*', ipAllow: ['10.0.0.0/33'] },
      ],
    });
    await expect(attempt).rejects.toBeInstanceOf(Mt4ConfigError);
    const message = await attempt.catch((e: Error) => e.message);
    for (const part of ['15 bytes', '"dup" is defined twice', 'CHF', 'inside a client login range', 'CIDR']) {
      expect(message).toContain(part);
    }
    await expect(startMt4Simulator({ quiet: true, timeZone: 'Mars/Olympus' })).rejects.toThrow(/time zone/);
    await expect(startMt4Simulator({ quiet: true, faults: [{ endpoint: '*', kind: 'error' }] })).rejects.toThrow(
      /faults\[0\].*code/s,
    );
  });
});
