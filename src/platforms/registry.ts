/**
 * The server registry: which trading servers exist (stored in `trading_servers`), one guarded connector per server
 * (its own pool of sessions, circuit breaker and health), and a cached view of each server's groups for routing.
 * Credentials never leave this module: views carry no password and no secret reference.
 */
import { readFileSync } from 'node:fs';
import { asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { type Clock, systemClock } from '../clock.ts';
import type { Database } from '../db/connect.ts';
import { tradingServers } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import type { CircuitBreakerOptions } from './circuit-breaker.ts';
import type { ConnectorConfig, ConnectorFactory } from './connector.ts';
import { RoutingError } from './errors.ts';
import { GuardedPlatform, type ServerHealth } from './guarded.ts';
import { isSecretReference, resolveSecret } from './secrets.ts';
import { isValidZone } from './server-time.ts';
import type { GroupInfo, PlatformKind } from './types.ts';

export const serverInput = z
  .object({
    code: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{1,39}$/, 'use 2–40 lowercase letters, digits and dashes, e.g. mt5-live-1'),
    platform: z.enum(['mt4', 'mt5']),
    environment: z.enum(['live', 'demo']),
    address: z
      .string()
      .url('must be a URL such as https://10.0.0.5:443')
      .refine(
        (v) => v.startsWith('https://'),
        'must be an https:// URL: trading servers are never called in clear text',
      ),
    managerLogin: z.number().int().positive(),
    passwordSecret: z
      .string()
      .refine(isSecretReference, 'must be env:VARIABLE or file:/path, never the password itself'),
    caCertPath: z.string().min(1).nullable().optional(),
    timeZone: z
      .string()
      .refine(isValidZone, 'must be an IANA time zone such as Europe/Nicosia')
      .default('Europe/Nicosia'),
    connectTimeoutMs: z.number().int().min(100).max(120_000).default(5000),
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(15000),
    enabled: z.boolean().default(true),
  })
  .strict();

export type ServerInput = z.input<typeof serverInput>;

/** Server settings that cannot be saved, each with what to fix. */
export class ServerSettingsError extends Error {
  override readonly name = 'ServerSettingsError';
  readonly code = 'SERVER_SETTINGS_INVALID';
  constructor(readonly problems: { setting: string; message: string }[]) {
    super(`invalid server settings: ${problems.map((p) => `${p.setting}: ${p.message}`).join('; ')}`);
  }
}

export interface ServerView {
  id: string;
  code: string;
  platform: PlatformKind;
  environment: 'live' | 'demo';
  address: string;
  managerLogin: number;
  caCertPath: string | null;
  timeZone: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  enabled: boolean;
}

export interface RegistryOptions {
  database: Database;
  factories: Partial<Record<PlatformKind, ConnectorFactory>>;
  clock?: Clock;
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
  breaker?: CircuitBreakerOptions;
  /** How long a server's group list is trusted for routing checks. */
  groupCacheMs?: number;
}

type Row = typeof tradingServers.$inferSelect;

function toView(row: Row): ServerView {
  return {
    id: row.id,
    code: row.code,
    platform: row.platform,
    environment: row.environment,
    address: row.address,
    managerLogin: row.managerLogin,
    caCertPath: row.caCertPath,
    timeZone: row.timeZone,
    connectTimeoutMs: row.connectTimeoutMs,
    requestTimeoutMs: row.requestTimeoutMs,
    enabled: row.enabled,
  };
}

export class ServerRegistry {
  private readonly clock: Clock;
  private readonly connectors = new Map<string, GuardedPlatform>();
  private readonly groupCache = new Map<string, { at: number; groups: GroupInfo[] }>();

  constructor(private readonly options: RegistryOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** Adds or replaces a server; a replaced server's open connections are closed. */
  async upsert(input: ServerInput): Promise<ServerView> {
    const parsed = serverInput.safeParse(input);
    if (!parsed.success) {
      throw new ServerSettingsError(
        parsed.error.issues.map((i) => ({ setting: i.path.join('.') || 'server', message: i.message })),
      );
    }
    const value = parsed.data;
    const row = {
      ...value,
      caCertPath: value.caCertPath ?? null,
      updatedAt: this.clock.now(),
    };
    const [saved] = await this.options.database.db
      .insert(tradingServers)
      .values(row)
      .onConflictDoUpdate({ target: tradingServers.code, set: row })
      .returning();
    await this.forget(value.code);
    return toView(saved!);
  }

  async list(): Promise<ServerView[]> {
    const rows = await this.options.database.db.select().from(tradingServers).orderBy(asc(tradingServers.code));
    return rows.map(toView);
  }

  async get(code: string): Promise<ServerView> {
    const [row] = await this.options.database.db.select().from(tradingServers).where(eq(tradingServers.code, code));
    if (!row) throw new RoutingError('server_unknown', `no trading server "${code}" is configured`);
    return toView(row);
  }

  /** The guarded connector of a server (created on first use). */
  async platform(code: string): Promise<GuardedPlatform> {
    const existing = this.connectors.get(code);
    if (existing) return existing;
    const [row] = await this.options.database.db.select().from(tradingServers).where(eq(tradingServers.code, code));
    if (!row) throw new RoutingError('server_unknown', `no trading server "${code}" is configured`);
    if (!row.enabled) throw new RoutingError('server_disabled', `trading server "${code}" is disabled`);
    const again = this.connectors.get(code);
    if (again) return again;
    const factory = this.options.factories[row.platform];
    if (!factory) throw new RoutingError('server_unknown', `no connector is installed for ${row.platform} servers`);
    const guarded = new GuardedPlatform(
      factory(this.connectorConfig(row), { logger: this.options.logger }),
      this.clock,
      {
        ...this.options.breaker,
        onStateChange: (state, previous) => {
          this.options.logger?.warn({ server: code, circuit: state, previous }, 'trading server circuit changed');
          this.options.breaker?.onStateChange?.(state, previous);
        },
      },
    );
    this.connectors.set(code, guarded);
    return guarded;
  }

  /** Health of every server that has a connector (servers never called yet report nothing). */
  health(): ServerHealth[] {
    return [...this.connectors.values()].map((c) => c.health());
  }

  /** Pings every enabled server once; failures are recorded in health, not thrown. */
  async pingAll(): Promise<ServerHealth[]> {
    const servers = (await this.list()).filter((s) => s.enabled);
    await Promise.all(
      servers.map(async (s) => {
        try {
          await (await this.platform(s.code)).ping();
        } catch {
          // recorded by the guard
        }
      }),
    );
    return this.health();
  }

  /** The server's groups, cached for `groupCacheMs` (default 60 s). */
  async groups(code: string, options: { fresh?: boolean } = {}): Promise<GroupInfo[]> {
    const cached = this.groupCache.get(code);
    const maxAge = this.options.groupCacheMs ?? 60_000;
    if (!options.fresh && cached && this.clock.now().getTime() - cached.at < maxAge) return cached.groups;
    const groups = await (await this.platform(code)).listGroups();
    this.groupCache.set(code, { at: this.clock.now().getTime(), groups });
    return groups;
  }

  async close(): Promise<void> {
    const all = [...this.connectors.keys()];
    await Promise.allSettled(all.map((code) => this.forget(code)));
  }

  private async forget(code: string): Promise<void> {
    const connector = this.connectors.get(code);
    this.connectors.delete(code);
    this.groupCache.delete(code);
    if (connector) await connector.close().catch(() => {});
  }

  private connectorConfig(row: Row): ConnectorConfig {
    let ca: string | undefined;
    if (row.caCertPath) {
      try {
        ca = readFileSync(row.caCertPath, 'utf8');
      } catch (err) {
        throw new RoutingError(
          'server_unknown',
          `trading server "${row.code}": cannot read its CA certificate ${row.caCertPath} (${(err as NodeJS.ErrnoException).code})`,
        );
      }
    }
    return {
      code: row.code,
      platform: row.platform,
      environment: row.environment,
      address: row.address,
      managerLogin: row.managerLogin,
      password: resolveSecret(row.passwordSecret, this.options.env),
      ca,
      timeZone: row.timeZone,
      connectTimeoutMs: row.connectTimeoutMs,
      requestTimeoutMs: row.requestTimeoutMs,
    };
  }
}
