import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('gives defaults with an empty environment', () => {
    const config = loadConfig({ env: {} });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.dataDir).toBe('./data');
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8080, secureCookies: false });
  });

  it('reads environment variables', () => {
    const config = loadConfig({ env: { DATABASE_URL: 'postgres://u@h/db', HTTP_PORT: '9000', LOG_LEVEL: 'debug' } });
    expect(config.databaseUrl).toBe('postgres://u@h/db');
    expect(config.http.port).toBe(9000);
    expect(config.logLevel).toBe('debug');
  });

  it('names the environment variable that is wrong and says what to fix', () => {
    const err = configError(() => loadConfig({ env: { HTTP_PORT: 'eighty', DATABASE_URL: 'mysql://x' } }));
    expect(err.problems).toEqual(
      expect.arrayContaining([
        { setting: 'HTTP_PORT', message: 'must be a port number from 0 to 65535' },
        { setting: 'DATABASE_URL', message: 'must be a postgres:// or postgresql:// URL' },
      ]),
    );
    expect(err.message).toContain('HTTP_PORT');
  });

  it('overlays the environment on a config file and rejects unknown settings in it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bd-config-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ dataDir: '/var/lib/bd', http: { port: 7000 } }));
    const config = loadConfig({ env: { BROKERDESK_CONFIG: file, HTTP_PORT: '7001' } });
    expect(config.dataDir).toBe('/var/lib/bd');
    expect(config.http.port).toBe(7001);

    writeFileSync(file, JSON.stringify({ dataDirectory: 'x' }));
    const err = configError(() => loadConfig({ env: { BROKERDESK_CONFIG: file } }));
    expect(err.problems[0]).toEqual({ setting: 'dataDirectory', message: 'unknown setting' });
  });

  it('reports an unreadable or malformed config file', () => {
    expect(configError(() => loadConfig({ env: { BROKERDESK_CONFIG: '/nonexistent/x.json' } })).message).toContain(
      'cannot read /nonexistent/x.json',
    );
    const dir = mkdtempSync(join(tmpdir(), 'bd-config-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{ not json');
    expect(configError(() => loadConfig({ env: { BROKERDESK_CONFIG: file } })).message).toContain('is not valid JSON');
  });
});
