import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { RoutingError } from './errors.ts';
import { ServerRegistry } from './registry.ts';
import { resolveSecret, SecretError } from './secrets.ts';

describe('ServerRegistry (storage and validation)', () => {
  let database: TestDatabase;
  let registry: ServerRegistry;
  beforeAll(async () => {
    database = await createTestDatabase();
    registry = new ServerRegistry({ database, factories: {}, env: { MT5_LIVE_PASSWORD: 'S3cret!pass' } });
  });
  afterAll(async () => {
    await registry.close();
    await database.drop();
  });

  const server = {
    code: 'mt5-live',
    platform: 'mt5' as const,
    environment: 'live' as const,
    address: 'https://127.0.0.1:18400',
    managerLogin: 1000,
    passwordSecret: 'env:MT5_LIVE_PASSWORD',
  };

  it('stores a server and never shows its password or secret reference', async () => {
    const view = await registry.upsert(server);
    expect(view).toMatchObject({ code: 'mt5-live', environment: 'live', timeZone: 'Europe/Nicosia', enabled: true });
    const listed = JSON.stringify(await registry.list());
    expect(listed).not.toContain('S3cret');
    expect(listed).not.toContain('MT5_LIVE_PASSWORD');
    const rows = await database.query<{ password_secret: string }>('SELECT password_secret FROM trading_servers');
    expect(rows[0]!.password_secret).toBe('env:MT5_LIVE_PASSWORD');
  });

  it('updates in place by code', async () => {
    await registry.upsert({ ...server, requestTimeoutMs: 3000 });
    const list = await registry.list();
    expect(list).toHaveLength(1);
    expect(list[0]!.requestTimeoutMs).toBe(3000);
  });

  it('refuses bad settings with a message saying what to fix', async () => {
    await expect(registry.upsert({ ...server, passwordSecret: 'hunter2' })).rejects.toThrow(
      /env:VARIABLE or file:\/path/,
    );
    await expect(registry.upsert({ ...server, address: 'http://127.0.0.1:1' })).rejects.toThrow(/https:\/\//);
    await expect(registry.upsert({ ...server, timeZone: 'Cyprus Time' })).rejects.toThrow(/IANA time zone/);
    await expect(registry.upsert({ ...server, code: 'MT5 Live!' })).rejects.toThrow(/lowercase/);
  });

  it('refuses unknown and disabled servers, and platforms with no connector', async () => {
    await expect(registry.platform('nope')).rejects.toThrow(RoutingError);
    await registry.upsert({ ...server, code: 'mt5-off', enabled: false });
    await expect(registry.platform('mt5-off')).rejects.toThrow(/disabled/);
    await expect(registry.platform('mt5-live')).rejects.toThrow(/no connector is installed for mt5/);
  });
});

describe('secret references', () => {
  it('read env and file secrets, and explain what is missing', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'bd-secret-'));
    writeFileSync(join(dir, 'pw'), 'from-file\n');
    expect(resolveSecret(`file:${join(dir, 'pw')}`)).toBe('from-file');
    expect(resolveSecret('env:X', { X: 'from-env' })).toBe('from-env');
    expect(() => resolveSecret('env:MISSING', {})).toThrow(/MISSING is not set/);
    expect(() => resolveSecret(`file:${join(dir, 'none')}`)).toThrow(/ENOENT/);
    expect(() => resolveSecret('plain')).toThrow(SecretError);
  });
});
