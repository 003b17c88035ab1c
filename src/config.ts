/**
 * Every Brokerdesk setting, in one zod schema.
 *
 * Settings come from an optional JSON config file (`BROKERDESK_CONFIG=path`) overlaid by environment variables.
 * A bad setting stops start-up with a `ConfigError` that names each setting and what is wrong with it, so an
 * operator can fix the file or variable without reading code.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export const configSchema = z
  .object({
    /** PostgreSQL connection string. Absent: embedded PGlite in `dataDir`. */
    databaseUrl: z
      .string()
      .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL')
      .optional(),
    /** Folder for embedded-database files and other local state. */
    dataDir: z.string().min(1).default('./data'),
    logLevel: logLevel.default('info'),
    http: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.coerce
          .number({ error: 'must be a port number from 0 to 65535' })
          .int('must be a port number from 0 to 65535')
          .min(0, 'must be a port number from 0 to 65535')
          .max(65535, 'must be a port number from 0 to 65535')
          .default(8080),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080 }),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;

/** Environment variable → path in the config object. Only these variables are read. */
const envMap: Record<string, string[]> = {
  DATABASE_URL: ['databaseUrl'],
  BROKERDESK_DATA_DIR: ['dataDir'],
  LOG_LEVEL: ['logLevel'],
  HTTP_HOST: ['http', 'host'],
  HTTP_PORT: ['http', 'port'],
};

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly problems: { setting: string; message: string }[],
    readonly source: string,
  ) {
    super(`Invalid configuration (${source}):\n${problems.map((p) => `  - ${p.setting}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** Name a setting the way the operator wrote it: the env variable if it came from one, else the file path. */
function settingName(path: PropertyKey[], fromEnv: Map<string, string>): string {
  const dotted = path.map(String).join('.');
  return fromEnv.get(dotted) ?? (dotted || '(root)');
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides applied last (used by tests and the CLI's flags). */
  overrides?: Record<string, unknown>;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const raw: Record<string, unknown> = {};
  const sources: string[] = [];
  const file = env.BROKERDESK_CONFIG;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(
        [{ setting: 'BROKERDESK_CONFIG', message: `cannot read ${file}: ${(err as Error).message}` }],
        file,
      );
    }
    try {
      Object.assign(raw, JSON.parse(text));
    } catch (err) {
      throw new ConfigError(
        [{ setting: 'BROKERDESK_CONFIG', message: `${file} is not valid JSON: ${(err as Error).message}` }],
        file,
      );
    }
    sources.push(`file ${file}`);
  }
  const fromEnv = new Map<string, string>();
  for (const [name, path] of Object.entries(envMap)) {
    const value = env[name];
    if (value !== undefined && value !== '') {
      setPath(raw, path, value);
      fromEnv.set(path.join('.'), name);
    }
  }
  if (fromEnv.size > 0) sources.push('environment');
  for (const [key, value] of Object.entries(options.overrides ?? {})) setPath(raw, key.split('.'), value);

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        setting: settingName(
          issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys.join(', ')] : issue.path,
          fromEnv,
        ),
        message: issue.code === 'unrecognized_keys' ? 'unknown setting' : issue.message,
      })),
      sources.join(' + ') || 'defaults',
    );
  }
  return parsed.data;
}
