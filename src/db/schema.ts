/**
 * The Drizzle schema: the single source of the database's shape. `npm run db:generate` turns changes here into a new
 * SQL migration under `src/db/migrations`, which runs unchanged on PostgreSQL and on embedded PGlite.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';

/** Facts about this installation (its id, when the schema was created). */
export const installation = pgTable('installation', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * The trading servers Brokerdesk talks to. The manager password is never stored: `passwordSecret` names where to
 * read it (`env:VAR` or `file:/path`), so neither the database nor an API response can leak it.
 */
export const tradingServers = pgTable(
  'trading_servers',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    code: text('code').notNull().unique(),
    platform: text('platform', { enum: ['mt4', 'mt5'] }).notNull(),
    environment: text('environment', { enum: ['live', 'demo'] }).notNull(),
    /** Base URL of the MT5 Web API or the MT4 Manager bridge, e.g. https://10.0.0.5:443. */
    address: text('address').notNull(),
    managerLogin: bigint('manager_login', { mode: 'number' }).notNull(),
    passwordSecret: text('password_secret').notNull(),
    /** PEM file of the CA (or self-signed certificate) that the server's TLS certificate must chain to. */
    caCertPath: text('ca_cert_path'),
    timeZone: text('time_zone').notNull().default('Europe/Nicosia'),
    connectTimeoutMs: integer('connect_timeout_ms').notNull().default(5000),
    requestTimeoutMs: integer('request_timeout_ms').notNull().default(15000),
    enabled: boolean('enabled').notNull().default(true),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check('trading_servers_platform_ck', sql`${t.platform} in ('mt4', 'mt5')`),
    check('trading_servers_environment_ck', sql`${t.environment} in ('live', 'demo')`),
    check('trading_servers_timeouts_ck', sql`${t.connectTimeoutMs} > 0 and ${t.requestTimeoutMs} > 0`),
  ],
);

/**
 * The audit trail: append-only (a trigger refuses UPDATE and DELETE) and hash-chained: each event stores the hash of
 * the one before, so any edit or removal is found by `brokerdesk audit verify`.
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true, precision: 3 }).notNull(),
    /** client, staff, system, server (a trading server's own change), psp */
    actorType: text('actor_type').notNull(),
    actorId: text('actor_id'),
    action: text('action').notNull(),
    entityType: text('entity_type').notNull(),
    entityId: text('entity_id').notNull(),
    before: jsonb('before'),
    after: jsonb('after'),
    /** The operation reference, request id or PSP event id this change belongs to. */
    correlationId: text('correlation_id'),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull().unique(),
  },
  (t) => [
    index('audit_events_entity_idx').on(t.entityType, t.entityId),
    index('audit_events_correlation_idx').on(t.correlationId),
  ],
);
