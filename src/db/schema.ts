/**
 * The Drizzle schema: the single source of the database's shape. `npm run db:generate` turns changes here into a new
 * SQL migration under `src/db/migrations`, which runs unchanged on PostgreSQL and on embedded PGlite.
 */
import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  bigserial,
  boolean,
  char,
  check,
  doublePrecision,
  foreignKey,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
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

export const operationStatuses = [
  'waiting',
  'pending',
  'in_flight',
  'unknown',
  'succeeded',
  'failed',
  'needs_review',
  'cancelled',
] as const;
export type OperationStatus = (typeof operationStatuses)[number];

export const operationKinds = ['open_account', 'update_account', 'set_password', 'balance', 'credit'] as const;
export type OperationKind = (typeof operationKinds)[number];

/**
 * Operations: every write to a trading server. The row is the queue entry: it is inserted in the same transaction as
 * the business change that causes it, and workers claim rows with SKIP LOCKED. `account_key` serialises operations on
 * one trading account in `seq` order. `sealed_secret` holds a password (encrypted) only until the operation ends.
 */
export const operations = pgTable(
  'operations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    seq: bigserial('seq', { mode: 'number' }).notNull().unique(),
    reference: text('reference').notNull().unique(),
    kind: text('kind', { enum: operationKinds }).notNull(),
    serverCode: text('server_code').notNull(),
    login: bigint('login', { mode: 'number' }),
    accountKey: text('account_key').notNull(),
    payload: jsonb('payload').notNull(),
    sealedSecret: text('sealed_secret'),
    status: text('status', { enum: operationStatuses }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, precision: 3 }).notNull(),
    leaseUntil: timestamp('lease_until', { withTimezone: true, precision: 3 }),
    worker: text('worker'),
    result: jsonb('result'),
    ticket: text('ticket'),
    lastError: jsonb('last_error'),
    /** The module that receives the result (e.g. "funding.deposit"), exactly once, in the finishing transaction. */
    handler: text('handler'),
    /** A transfer's second leg waits for its first. */
    dependsOn: uuid('depends_on'),
    /** Operations that belong together (the legs of a transfer and any compensation). */
    groupId: uuid('group_id'),
    compensates: uuid('compensates'),
    requestedBy: text('requested_by'),
    correlationId: text('correlation_id'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
    finishedAt: timestamp('finished_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    check(
      'operations_status_ck',
      sql`${t.status} in ('waiting','pending','in_flight','unknown','succeeded','failed','needs_review','cancelled')`,
    ),
    check('operations_kind_ck', sql`${t.kind} in ('open_account','update_account','set_password','balance','credit')`),
    index('operations_ready_idx').on(t.seq).where(sql`${t.status} in ('pending','unknown')`),
    index('operations_depends_on_idx').on(t.dependsOn).where(sql`${t.dependsOn} is not null`),
    index('operations_open_by_account_idx')
      .on(t.accountKey, t.seq)
      .where(sql`${t.status} in ('waiting','pending','in_flight','unknown','needs_review')`),
    index('operations_lease_idx').on(t.leaseUntil).where(sql`${t.status} = 'in_flight'`),
    index('operations_status_idx').on(t.status, t.kind),
    index('operations_login_idx').on(t.serverCode, t.login),
    index('operations_group_idx').on(t.groupId),
  ],
);

/** Every call to a server made for an operation: what was sent, when, what came back, how long it took. */
export const operationAttempts = pgTable(
  'operation_attempts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    operationId: uuid('operation_id')
      .notNull()
      .references(() => operations.id),
    reference: text('reference').notNull(),
    attempt: integer('attempt').notNull(),
    /** post: the write itself; verify: the look-up by reference before a retry. */
    action: text('action', { enum: ['post', 'verify'] }).notNull(),
    serverCode: text('server_code').notNull(),
    login: bigint('login', { mode: 'number' }),
    request: jsonb('request'),
    /** ok, found, absent, not_sent, ambiguous, definitive, error */
    outcome: text('outcome').notNull(),
    code: integer('code'),
    serverText: text('server_text'),
    reply: jsonb('reply'),
    startedAt: timestamp('started_at', { withTimezone: true, precision: 3 }).notNull(),
    durationMs: integer('duration_ms').notNull(),
    worker: text('worker').notNull(),
  },
  (t) => [
    index('operation_attempts_operation_idx').on(t.operationId, t.id),
    index('operation_attempts_reference_idx').on(t.reference),
    index('operation_attempts_login_idx').on(t.serverCode, t.login, t.startedAt),
    index('operation_attempts_started_idx').on(t.startedAt),
  ],
);

/** Alerts: stored, deduplicated by key while open, acknowledged and resolved by staff. */
export const alerts = pgTable(
  'alerts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: text('kind').notNull(),
    dedupeKey: text('dedupe_key').notNull(),
    severity: text('severity', { enum: ['info', 'warning', 'critical'] }).notNull(),
    title: text('title').notNull(),
    details: jsonb('details'),
    status: text('status', { enum: ['open', 'acknowledged', 'resolved'] }).notNull(),
    occurrences: integer('occurrences').notNull().default(1),
    firstSeenAt: timestamp('first_seen_at', { withTimezone: true, precision: 3 }).notNull(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true, precision: 3 }).notNull(),
    acknowledgedBy: text('acknowledged_by'),
    acknowledgedAt: timestamp('acknowledged_at', { withTimezone: true, precision: 3 }),
    resolvedBy: text('resolved_by'),
    resolvedAt: timestamp('resolved_at', { withTimezone: true, precision: 3 }),
    resolution: text('resolution'),
  },
  (t) => [
    uniqueIndex('alerts_open_dedupe_idx').on(t.dedupeKey).where(sql`${t.status} <> 'resolved'`),
    index('alerts_status_idx').on(t.status, t.lastSeenAt),
  ],
);

/** Outbound alert deliveries (webhook, email), retried by the worker until delivered. */
export const alertDeliveries = pgTable(
  'alert_deliveries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    alertId: uuid('alert_id')
      .notNull()
      .references(() => alerts.id),
    channel: text('channel', { enum: ['webhook', 'email'] }).notNull(),
    event: text('event').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, precision: 3 }).notNull(),
    lastError: text('last_error'),
    deliveredAt: timestamp('delivered_at', { withTimezone: true, precision: 3 }),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [index('alert_deliveries_pending_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`)],
);

export const staffRoles = ['admin', 'compliance', 'finance', 'support', 'dealing', 'partner_manager'] as const;
export type StaffRole = (typeof staffRoles)[number];

/** Back-office staff. Passwords are argon2id hashes; the TOTP secret is sealed with the installation key. */
export const staffUsers = pgTable('staff_users', {
  id: uuid('id').primaryKey().defaultRandom(),
  email: text('email').notNull().unique(),
  name: text('name').notNull(),
  passwordHash: text('password_hash').notNull(),
  roles: text('roles').array().notNull(),
  totpSecretSealed: text('totp_secret_sealed'),
  totpEnabled: boolean('totp_enabled').notNull().default(false),
  disabled: boolean('disabled').notNull().default(false),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
});

/**
 * Login sessions (staff now; clients and partners later). The cookie carries a random token; only its SHA-256 is
 * stored, so a database read does not yield a usable session.
 */
export const sessions = pgTable(
  'sessions',
  {
    tokenHash: text('token_hash').primaryKey(),
    subjectType: text('subject_type', { enum: ['staff', 'client', 'partner'] }).notNull(),
    subjectId: uuid('subject_id').notNull(),
    /** False until a staff member who must use two-factor has passed it (or enrolled). */
    mfaPassed: boolean('mfa_passed').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true, precision: 3 }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true, precision: 3 }),
    ip: text('ip'),
    userAgent: text('user_agent'),
  },
  (t) => [index('sessions_subject_idx').on(t.subjectType, t.subjectId)],
);

export const kycStatuses = [
  'not_started',
  'pending',
  'more_info_requested',
  'approved',
  'rejected',
  'expired',
] as const;
export type KycStatus = (typeof kycStatuses)[number];

/**
 * An introducing broker (partner): signs in to the partner area, refers clients with a referral code. `parentId`
 * places a sub-IB under a master IB (commission trees arrive with the commissions module).
 */
export const partners = pgTable(
  'partners',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    email: text('email').notNull().unique(),
    name: text('name').notNull(),
    passwordHash: text('password_hash').notNull(),
    /** Upper-case letters and digits; appears in the referral link. */
    referralCode: text('referral_code').notNull().unique(),
    status: text('status', { enum: ['active', 'suspended'] }).notNull(),
    parentId: uuid('parent_id').references((): AnyPgColumn => partners.id),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [index('partners_parent_idx').on(t.parentId)],
);

/** A client: one identity holding any number of trading accounts, on MT4 and MT5, live and demo. */
export const clients = pgTable(
  'clients',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    email: text('email').notNull().unique(),
    emailVerifiedAt: timestamp('email_verified_at', { withTimezone: true, precision: 3 }),
    passwordHash: text('password_hash').notNull(),
    name: text('name').notNull(),
    /** ISO 3166-1 alpha-2. */
    country: text('country').notNull(),
    phone: text('phone'),
    status: text('status', { enum: ['active', 'suspended', 'closed'] }).notNull(),
    kycStatus: text('kyc_status', { enum: kycStatuses }).notNull(),
    kycExpiresAt: timestamp('kyc_expires_at', { withTimezone: true, precision: 3 }),
    /** The introducing broker who referred the client. */
    partnerId: uuid('partner_id').references(() => partners.id),
    /** Two-factor sign-in (TOTP): the secret, sealed; on only once a first code confirmed it. */
    totpSecretSealed: text('totp_secret_sealed'),
    totpEnabled: boolean('totp_enabled').notNull().default(false),
    /** The time step of the last code accepted: each code works once. */
    totpLastStep: bigint('totp_last_step', { mode: 'number' }),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [index('clients_kyc_status_idx').on(t.kycStatus), index('clients_partner_idx').on(t.partnerId)],
);

/** Single-use email verification links; only the token's SHA-256 is stored. */
export const emailVerificationTokens = pgTable('email_verification_tokens', {
  tokenHash: text('token_hash').primaryKey(),
  clientId: uuid('client_id')
    .notNull()
    .references(() => clients.id),
  expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
  usedAt: timestamp('used_at', { withTimezone: true, precision: 3 }),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
});

/** Outgoing email, written in the transaction that causes it and sent by the worker over SMTP. */
export const outboxEmails = pgTable(
  'outbox_emails',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    kind: text('kind').notNull(),
    to: text('to').notNull(),
    subject: text('subject').notNull(),
    text: text('text').notNull(),
    status: text('status', { enum: ['pending', 'sent', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, precision: 3 }).notNull(),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    sentAt: timestamp('sent_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [index('outbox_emails_pending_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`)],
);

export const kycDocumentTypes = [
  'passport',
  'id_card',
  'driving_licence',
  'proof_of_address',
  'selfie',
  'other',
] as const;

/** KYC documents: stored outside the web root under random names; served only to their client and entitled staff. */
export const kycDocuments = pgTable(
  'kyc_documents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    clientId: uuid('client_id')
      .notNull()
      .references(() => clients.id),
    type: text('type', { enum: kycDocumentTypes }).notNull(),
    storageKey: text('storage_key').notNull().unique(),
    originalName: text('original_name').notNull(),
    /** The type found by sniffing the content, not the one the upload claimed. */
    contentType: text('content_type').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
    sha256: text('sha256').notNull(),
    status: text('status', { enum: ['pending', 'approved', 'rejected'] }).notNull(),
    reviewNote: text('review_note'),
    reviewedBy: text('reviewed_by'),
    reviewedAt: timestamp('reviewed_at', { withTimezone: true, precision: 3 }),
    uploadedAt: timestamp('uploaded_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    index('kyc_documents_client_idx').on(t.clientId),
    index('kyc_documents_status_idx').on(t.status, t.uploadedAt),
  ],
);

/** Every KYC status change of a client, with who made it and why. */
export const kycStatusHistory = pgTable(
  'kyc_status_history',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    clientId: uuid('client_id')
      .notNull()
      .references(() => clients.id),
    fromStatus: text('from_status', { enum: kycStatuses }).notNull(),
    toStatus: text('to_status', { enum: kycStatuses }).notNull(),
    reason: text('reason'),
    actorType: text('actor_type').notNull(),
    actorId: text('actor_id'),
    at: timestamp('at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [index('kyc_status_history_client_idx').on(t.clientId, t.id)],
);

export const kycPolicies = [
  'none',
  'create_on_approval',
  'enable_trading_on_approval',
  'move_group_on_approval',
] as const;
export type KycPolicy = (typeof kycPolicies)[number];

/**
 * Products (account types): which server and group an account of this type opens in, its currency and leverages,
 * and what KYC approval does to it. The mapping is validated against the server's own groups when saved.
 */
export const products = pgTable('products', {
  id: uuid('id').primaryKey().defaultRandom(),
  code: text('code').notNull().unique(),
  name: text('name').notNull(),
  environment: text('environment', { enum: ['live', 'demo'] }).notNull(),
  serverCode: text('server_code')
    .notNull()
    .references(() => tradingServers.code),
  groupName: text('group_name').notNull(),
  currency: text('currency').notNull(),
  allowedLeverages: integer('allowed_leverages').array().notNull(),
  defaultLeverage: integer('default_leverage').notNull(),
  kycPolicy: text('kyc_policy', { enum: kycPolicies }).notNull(),
  /** For move_group_on_approval: where the account waits until KYC is approved. */
  restrictedGroupName: text('restricted_group_name'),
  /** Demo accounts: the balance they open with, in minor units. */
  demoDeposit: bigint('demo_deposit', { mode: 'number' }),
  enabled: boolean('enabled').notNull().default(true),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
});

export const tradingAccountStatuses = ['requested', 'opening', 'open', 'failed', 'closed'] as const;

/** A client's trading account on a server: requested → opening → open (or failed with the server's reason). */
export const tradingAccounts = pgTable(
  'trading_accounts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    clientId: uuid('client_id')
      .notNull()
      .references(() => clients.id),
    productId: uuid('product_id')
      .notNull()
      .references(() => products.id),
    serverCode: text('server_code').notNull(),
    login: bigint('login', { mode: 'number' }),
    groupName: text('group_name').notNull(),
    currency: text('currency').notNull(),
    leverage: integer('leverage').notNull(),
    status: text('status', { enum: tradingAccountStatuses }).notNull(),
    tradingEnabled: boolean('trading_enabled').notNull(),
    failureReason: text('failure_reason'),
    openOperationId: uuid('open_operation_id'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    uniqueIndex('trading_accounts_server_login_idx').on(t.serverCode, t.login),
    index('trading_accounts_client_idx').on(t.clientId),
  ],
);

/** The kinds of ledger account (see src/modules/ledger/service.ts for what each holds and its sign). */
export const ledgerAccountTypes = [
  'psp_clearing',
  'client_funds',
  'trading_account',
  'trading_credit',
  'payouts_pending',
  'ib_payable',
  'broker_revenue',
  'bonus_expense',
  'external_adjustments',
  'fx_conversion',
  'write_offs',
] as const;

/**
 * Ledger accounts: one per (type, owner, currency), named by a canonical `code` such as `client_funds:<clientId>:USD`.
 * A check ties the code to the other columns, and a trigger refuses UPDATE and DELETE, so an account can never be
 * re-pointed at another owner (which would move its balance without an entry).
 */
export const ledgerAccounts = pgTable(
  'ledger_accounts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    code: text('code').notNull().unique(),
    type: text('type', { enum: ledgerAccountTypes }).notNull(),
    ownerId: text('owner_id'),
    currency: char('currency', { length: 3 }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    unique('ledger_accounts_id_currency_unique').on(t.id, t.currency),
    check(
      'ledger_accounts_type_ck',
      sql`${t.type} in ('psp_clearing','client_funds','trading_account','trading_credit','payouts_pending','ib_payable','broker_revenue','bonus_expense','external_adjustments','fx_conversion','write_offs')`,
    ),
    check('ledger_accounts_currency_ck', sql`${t.currency} ~ '^[A-Z]{3}$'`),
    check(
      'ledger_accounts_owner_ck',
      sql`${t.ownerId} is not null or ${t.type} in ('broker_revenue','bonus_expense','fx_conversion','write_offs')`,
    ),
    check(
      'ledger_accounts_code_ck',
      sql`${t.code} = ${t.type} || ':' || coalesce(${t.ownerId} || ':', '') || ${t.currency}`,
    ),
    index('ledger_accounts_owner_idx').on(t.ownerId),
  ],
);

/**
 * A ledger transaction: one business event's money movement. Its entries sum to zero per currency (a deferred
 * constraint trigger checks at commit); it never changes (a trigger refuses UPDATE and DELETE). `created_xid` is set
 * by a trigger to the database transaction that wrote it: entries can only be added within that same transaction.
 */
export const ledgerTransactions = pgTable(
  'ledger_transactions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: text('kind').notNull(),
    description: text('description').notNull(),
    /** The event's natural key: a replay finds the transaction already posted. */
    idempotencyKey: text('idempotency_key').unique(),
    /** Ids the movement belongs to (movementId, operationId, pspEventId, …), searched by containment. */
    correlation: jsonb('correlation').notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    createdBy: text('created_by').notNull(),
    createdXid: bigint('created_xid', { mode: 'number' }).notNull().default(sql`txid_current()`),
  },
  (t) => [
    index('ledger_transactions_correlation_idx').using('gin', t.correlation),
    index('ledger_transactions_created_idx').on(t.createdAt),
  ],
);

/** Ledger entries: signed amounts in minor units, positive = debit. Immutable; balances are sums over them. */
export const ledgerEntries = pgTable(
  'ledger_entries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    transactionId: uuid('transaction_id')
      .notNull()
      .references(() => ledgerTransactions.id),
    accountId: uuid('account_id').notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    amountMinor: bigint('amount_minor', { mode: 'number' }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    foreignKey({
      name: 'ledger_entries_account_currency_fk',
      columns: [t.accountId, t.currency],
      foreignColumns: [ledgerAccounts.id, ledgerAccounts.currency],
    }),
    check('ledger_entries_amount_ck', sql`${t.amountMinor} <> 0`),
    index('ledger_entries_account_idx').on(t.accountId, t.id),
    index('ledger_entries_transaction_idx').on(t.transactionId),
  ],
);

export const moneyMovementKinds = ['deposit', 'withdrawal', 'credit', 'transfer', 'adjustment'] as const;
export type MoneyMovementKind = (typeof moneyMovementKinds)[number];

/**
 * Every state a money movement can be in (each kind uses its own subset; see src/modules/funding/states.ts).
 * Deposits: awaiting_payment → payment_pending → approved → posted (or payment_failed, posting_failed; after posting
 * a refund or chargeback: reversing → refunded | charged_back | reversal_failed). Withdrawals: requested →
 * awaiting_second_approval → approved → debited → payout_pending → completed (or rejected, cancelled, failed;
 * payout_failed → returning → returned). Credits and adjustments: awaiting_approval → approved → posted (or rejected,
 * failed). Transfers: approved → posted (or failed, compensated).
 */
export const moneyMovementStatuses = [
  'awaiting_payment',
  'payment_pending',
  'payment_failed',
  'requested',
  'awaiting_approval',
  'awaiting_second_approval',
  'approved',
  'posted',
  'posting_failed',
  'debited',
  'payout_pending',
  'completed',
  'payout_failed',
  'returning',
  'returned',
  'reversing',
  'refunded',
  'charged_back',
  'reversal_failed',
  'rejected',
  'cancelled',
  'failed',
] as const;
export type MoneyMovementStatus = (typeof moneyMovementStatuses)[number];

/**
 * Money movements: deposits, withdrawals, credits (bonus), internal transfers and manual adjustments. Amounts are
 * positive minor units; `direction` says whether money goes into the trading account or out of it. The PSP payment and
 * payout ids are unique per PSP (a second webhook can never create a second deposit).
 */
export const moneyMovements = pgTable(
  'money_movements',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: text('kind', { enum: moneyMovementKinds }).notNull(),
    direction: text('direction', { enum: ['in', 'out'] }).notNull(),
    status: text('status', { enum: moneyMovementStatuses }).notNull(),
    clientId: uuid('client_id')
      .notNull()
      .references(() => clients.id),
    tradingAccountId: uuid('trading_account_id')
      .notNull()
      .references(() => tradingAccounts.id),
    amountMinor: bigint('amount_minor', { mode: 'number' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    /** Transfers: the receiving account, what it receives, and the rate used (a decimal string, quote per base). */
    counterAccountId: uuid('counter_account_id').references(() => tradingAccounts.id),
    counterAmountMinor: bigint('counter_amount_minor', { mode: 'number' }),
    counterCurrency: char('counter_currency', { length: 3 }),
    fxRate: text('fx_rate'),
    psp: text('psp'),
    pspPaymentId: text('psp_payment_id'),
    pspPayoutId: text('psp_payout_id'),
    /** Where the client pays (the PSP's hosted page). */
    paymentUrl: text('payment_url'),
    /** Withdrawals: where the payout goes, as the client gave it (masked). */
    destination: jsonb('destination'),
    refundedMinor: bigint('refunded_minor', { mode: 'number' }).notNull().default(0),
    /** The operation that moves the money on the server, and the one that returns or reverses it. */
    operationId: uuid('operation_id').references(() => operations.id),
    returnOperationId: uuid('return_operation_id').references(() => operations.id),
    ticket: text('ticket'),
    requestedByType: text('requested_by_type', { enum: ['client', 'staff'] }).notNull(),
    requestedById: text('requested_by_id').notNull(),
    /** Why (staff-initiated credits and adjustments; a client's note). */
    reason: text('reason'),
    /** What went wrong, in words a client can read. */
    failureReason: text('failure_reason'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
    completedAt: timestamp('completed_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    check('money_movements_amount_ck', sql`${t.amountMinor} > 0`),
    uniqueIndex('money_movements_psp_payment_idx').on(t.psp, t.pspPaymentId),
    uniqueIndex('money_movements_psp_payout_idx').on(t.psp, t.pspPayoutId),
    // One open withdrawal request per trading account.
    uniqueIndex('money_movements_open_withdrawal_idx')
      .on(t.tradingAccountId)
      .where(
        sql`${t.kind} = 'withdrawal' and ${t.status} in ('requested','awaiting_second_approval','approved','debited','payout_pending','payout_failed','returning')`,
      ),
    index('money_movements_client_idx').on(t.clientId, t.createdAt),
    index('money_movements_account_idx').on(t.tradingAccountId, t.createdAt),
    index('money_movements_status_idx').on(t.status, t.kind),
    // The dashboard's deposits per day and the back office's newest-first lists.
    index('money_movements_kind_created_idx').on(t.kind, t.createdAt),
    index('money_movements_operation_idx').on(t.operationId),
  ],
);

/** Staff decisions on a movement; one per staff member (the maker may not approve). */
export const movementApprovals = pgTable(
  'movement_approvals',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    movementId: uuid('movement_id')
      .notNull()
      .references(() => moneyMovements.id),
    staffId: uuid('staff_id').notNull(),
    decision: text('decision', { enum: ['approve', 'reject'] }).notNull(),
    comment: text('comment'),
    at: timestamp('at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [uniqueIndex('movement_approvals_staff_idx').on(t.movementId, t.staffId)],
);

/** The timeline of a movement: what happened, from which side, in plain words (and details for staff). */
export const movementEvents = pgTable(
  'movement_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    movementId: uuid('movement_id')
      .notNull()
      .references(() => moneyMovements.id),
    at: timestamp('at', { withTimezone: true, precision: 3 }).notNull(),
    source: text('source', { enum: ['client', 'staff', 'psp', 'crm', 'server'] }).notNull(),
    type: text('type').notNull(),
    /** For the client: plain words. */
    message: text('message').notNull(),
    details: jsonb('details'),
    /** Shown to staff only. */
    internal: boolean('internal').notNull().default(false),
  },
  (t) => [index('movement_events_movement_idx').on(t.movementId, t.id)],
);

/**
 * Every PSP webhook accepted (signature and timestamp good), keyed by the PSP's event id: a replay with the same body
 * is acknowledged and changes nothing; the same id with another body is a conflict.
 */
export const pspEvents = pgTable(
  'psp_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    psp: text('psp').notNull(),
    eventId: text('event_id').notNull(),
    type: text('type').notNull(),
    bodySha256: text('body_sha256').notNull(),
    payload: jsonb('payload').notNull(),
    movementId: uuid('movement_id').references(() => moneyMovements.id),
    /** applied, ignored (stale or not applicable), unmatched (no such payment) */
    outcome: text('outcome').notNull(),
    note: text('note'),
    occurredAt: timestamp('occurred_at', { withTimezone: true, precision: 3 }).notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [uniqueIndex('psp_events_event_idx').on(t.psp, t.eventId), index('psp_events_movement_idx').on(t.movementId)],
);

/** Exchange rates finance sets for internal transfers between accounts of different currencies. */
export const fxRates = pgTable(
  'fx_rates',
  {
    base: char('base', { length: 3 }).notNull(),
    quote: char('quote', { length: 3 }).notNull(),
    /** Quote units per base unit, as a decimal string (never a float in storage). */
    rate: text('rate').notNull(),
    updatedBy: text('updated_by').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.base, t.quote] }),
    check('fx_rates_rate_ck', sql`${t.rate} ~ '^[0-9]+(\\.[0-9]{1,10})?$'`),
  ],
);

/** Risk flags on a client (a chargeback, money the client owes): shown to staff until cleared. */
export const clientFlags = pgTable(
  'client_flags',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    clientId: uuid('client_id')
      .notNull()
      .references(() => clients.id),
    kind: text('kind').notNull(),
    reason: text('reason').notNull(),
    movementId: uuid('movement_id').references(() => moneyMovements.id),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    clearedAt: timestamp('cleared_at', { withTimezone: true, precision: 3 }),
    clearedBy: text('cleared_by'),
  },
  (t) => [index('client_flags_client_idx').on(t.clientId)],
);

// --- trade sync (src/modules/trades) and manual changes (src/modules/external-changes) ------------------------------

export const tradeRecordTypes = ['deal', 'closed_trade', 'balance', 'order'] as const;
export type TradeRecordType = (typeof tradeRecordTypes)[number];

export const orderTypes = [
  'buy',
  'sell',
  'buy_limit',
  'sell_limit',
  'buy_stop',
  'sell_stop',
  'buy_stop_limit',
  'sell_stop_limit',
  'close_by',
] as const;
export const orderStates = [
  'started',
  'placed',
  'canceled',
  'partial',
  'filled',
  'rejected',
  'expired',
  'request_add',
  'request_modify',
  'request_cancel',
] as const;

/**
 * Every history record synced from a trading server, one model for both platforms: an MT5 deal (with its entry
 * in/out/inout/out_by, order and position id), an MT4 closed trade (MT4's single record per trade, with open and
 * close), a balance record (balance, credit, charge, correction, bonus) of either platform, and a finished order
 * (MT5 history orders: filled, canceled, expired, rejected; MT4 deleted or expired pending orders; `time` is when it
 * finished, `open_time` when it was placed, `price` the order price, `volume` as placed). Keyed by
 * (server, record type, ticket): a record seen again is the same record; when its content changed on the server
 * (a dealer's correction) the row is updated, `version` goes up and an audit event keeps the old and new values.
 * Linked to a trading account by (server_code, login). Volumes are lots × 10 000; money is integer minor units of
 * the account currency at the group's digits (as the connector read them).
 */
export const tradeRecords = pgTable(
  'trade_records',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    serverCode: text('server_code').notNull(),
    platform: text('platform', { enum: ['mt4', 'mt5'] }).notNull(),
    recordType: text('record_type', { enum: tradeRecordTypes }).notNull(),
    ticket: text('ticket').notNull(),
    login: bigint('login', { mode: 'number' }).notNull(),
    /** Deal time; an MT4 trade's close time; a balance record's time. */
    time: timestamp('time', { withTimezone: true, precision: 3 }).notNull(),
    /** MT4 closed trades: when the trade was opened. */
    openTime: timestamp('open_time', { withTimezone: true, precision: 3 }),
    symbol: text('symbol'),
    side: text('side', { enum: ['buy', 'sell'] }),
    /** MT5 deals: in, out, inout (netting reversal), out_by (hedging close by an opposite position). */
    entry: text('entry', { enum: ['in', 'out', 'inout', 'out_by'] }),
    orderTicket: text('order_ticket'),
    positionId: text('position_id'),
    /** Lots × 10 000 (0.01 lot = 100), for both platforms. */
    volume: bigint('volume', { mode: 'number' }),
    /** Deal price; an MT4 trade's open price. */
    price: doublePrecision('price'),
    /** MT4 closed trades: the close price. */
    closePrice: doublePrecision('close_price'),
    profitMinor: bigint('profit_minor', { mode: 'number' }),
    commissionMinor: bigint('commission_minor', { mode: 'number' }),
    swapMinor: bigint('swap_minor', { mode: 'number' }),
    /** Balance records: the signed amount and its kind. */
    amountMinor: bigint('amount_minor', { mode: 'number' }),
    balanceKind: text('balance_kind', { enum: ['balance', 'credit', 'charge', 'correction', 'bonus'] }),
    /** Orders: buy, sell, buy_limit … close_by (the platform's order type) and the final state. */
    orderType: text('order_type', { enum: orderTypes }),
    orderState: text('order_state', { enum: orderStates }),
    /** Orders: lots × 10 000 left unfilled (0 when filled). */
    volumeRemaining: bigint('volume_remaining', { mode: 'number' }),
    stopLoss: doublePrecision('stop_loss'),
    takeProfit: doublePrecision('take_profit'),
    /** The Brokerdesk reference parsed from the comment (null: not made by the CRM). */
    reference: text('reference'),
    comment: text('comment').notNull().default(''),
    anomalies: jsonb('anomalies'),
    /** A digest (MD5) of the normalised content: a record seen again with another hash was changed on the server. */
    contentHash: text('content_hash').notNull(),
    version: integer('version').notNull().default(1),
    /** poll, pumping or backfill: what first brought it in. */
    source: text('source').notNull(),
    firstSeenAt: timestamp('first_seen_at', { withTimezone: true, precision: 3 }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    uniqueIndex('trade_records_key_idx').on(t.serverCode, t.recordType, t.ticket),
    index('trade_records_account_idx').on(t.serverCode, t.login, t.time),
    index('trade_records_server_time_idx').on(t.serverCode, t.recordType, t.time),
    check('trade_records_type_ck', sql`${t.recordType} in ('deal','closed_trade','balance','order')`),
  ],
);

/**
 * Open positions as last seen on each server (MT5 positions, MT4 open market trades): a snapshot, replaced by each
 * position sync and kept current by MT4 pumping; not versioned (floating profit changes all the time).
 */
export const tradePositions = pgTable(
  'trade_positions',
  {
    serverCode: text('server_code').notNull(),
    ticket: text('ticket').notNull(),
    platform: text('platform', { enum: ['mt4', 'mt5'] }).notNull(),
    login: bigint('login', { mode: 'number' }).notNull(),
    symbol: text('symbol').notNull(),
    side: text('side', { enum: ['buy', 'sell'] }).notNull(),
    /** Lots × 10 000. */
    volume: bigint('volume', { mode: 'number' }).notNull(),
    openPrice: doublePrecision('open_price').notNull(),
    currentPrice: doublePrecision('current_price').notNull(),
    openTime: timestamp('open_time', { withTimezone: true, precision: 3 }).notNull(),
    profitMinor: bigint('profit_minor', { mode: 'number' }).notNull(),
    swapMinor: bigint('swap_minor', { mode: 'number' }).notNull(),
    commissionMinor: bigint('commission_minor', { mode: 'number' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.serverCode, t.ticket] }),
    index('trade_positions_account_idx').on(t.serverCode, t.login),
  ],
);

/**
 * Open orders as last seen on each server (MT5 pending and partly filled orders, MT4 pending orders cmd 2–5): a
 * snapshot keyed by (server, ticket), replaced by each position sync. A finished order leaves it for `trade_records`
 * (record type `order`).
 */
export const tradeOpenOrders = pgTable(
  'trade_open_orders',
  {
    serverCode: text('server_code').notNull(),
    ticket: text('ticket').notNull(),
    platform: text('platform', { enum: ['mt4', 'mt5'] }).notNull(),
    login: bigint('login', { mode: 'number' }).notNull(),
    symbol: text('symbol').notNull(),
    orderType: text('order_type', { enum: orderTypes }).notNull(),
    side: text('side', { enum: ['buy', 'sell'] }).notNull(),
    state: text('state', { enum: orderStates }).notNull(),
    /** Lots × 10 000, as placed and still to fill. */
    volume: bigint('volume', { mode: 'number' }).notNull(),
    volumeRemaining: bigint('volume_remaining', { mode: 'number' }).notNull(),
    price: doublePrecision('price').notNull(),
    triggerPrice: doublePrecision('trigger_price').notNull(),
    stopLoss: doublePrecision('stop_loss').notNull(),
    takeProfit: doublePrecision('take_profit').notNull(),
    setupTime: timestamp('setup_time', { withTimezone: true, precision: 3 }).notNull(),
    expiration: timestamp('expiration', { withTimezone: true, precision: 3 }),
    positionId: text('position_id'),
    comment: text('comment').notNull().default(''),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.serverCode, t.ticket] }),
    index('trade_open_orders_account_idx').on(t.serverCode, t.login),
  ],
);

/**
 * Sync state per server: history is complete up to `synced_to` (the next pass reads from a little before it, so
 * late records are not missed); a lease so that one worker at a time runs a server's pass; the last error; and a
 * resumable backfill window (`backfill_next` is where an interrupted backfill continues).
 */
export const tradeSyncCursors = pgTable('trade_sync_cursors', {
  serverCode: text('server_code')
    .primaryKey()
    .references(() => tradingServers.code),
  syncedTo: timestamp('synced_to', { withTimezone: true, precision: 3 }),
  leaseOwner: text('lease_owner'),
  leaseUntil: timestamp('lease_until', { withTimezone: true, precision: 3 }),
  lastPassStartedAt: timestamp('last_pass_started_at', { withTimezone: true, precision: 3 }),
  lastSuccessAt: timestamp('last_success_at', { withTimezone: true, precision: 3 }),
  lastError: text('last_error'),
  lastErrorAt: timestamp('last_error_at', { withTimezone: true, precision: 3 }),
  consecutiveFailures: integer('consecutive_failures').notNull().default(0),
  recordsIngested: bigint('records_ingested', { mode: 'number' }).notNull().default(0),
  recordsChanged: bigint('records_changed', { mode: 'number' }).notNull().default(0),
  positionsSyncedAt: timestamp('positions_synced_at', { withTimezone: true, precision: 3 }),
  accountsCheckedAt: timestamp('accounts_checked_at', { withTimezone: true, precision: 3 }),
  backfillFrom: timestamp('backfill_from', { withTimezone: true, precision: 3 }),
  backfillTo: timestamp('backfill_to', { withTimezone: true, precision: 3 }),
  backfillNext: timestamp('backfill_next', { withTimezone: true, precision: 3 }),
  backfillFinishedAt: timestamp('backfill_finished_at', { withTimezone: true, precision: 3 }),
  // The finished-orders pass (MT5 history orders, MT4 deleted pending orders) has a cursor and a lease of its own, so
  // the deals and balance pass (money: reconciliation, external changes) never waits for orders.
  ordersSyncedTo: timestamp('orders_synced_to', { withTimezone: true, precision: 3 }),
  ordersLeaseOwner: text('orders_lease_owner'),
  ordersLeaseUntil: timestamp('orders_lease_until', { withTimezone: true, precision: 3 }),
  ordersLastPassStartedAt: timestamp('orders_last_pass_started_at', { withTimezone: true, precision: 3 }),
  ordersLastSuccessAt: timestamp('orders_last_success_at', { withTimezone: true, precision: 3 }),
  ordersLastError: text('orders_last_error'),
  ordersLastErrorAt: timestamp('orders_last_error_at', { withTimezone: true, precision: 3 }),
  ordersConsecutiveFailures: integer('orders_consecutive_failures').notNull().default(0),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
});

export const externalChangeKinds = [
  'balance_record',
  'group_change',
  'leverage_change',
  'trading_change',
  'unknown_account',
] as const;
export type ExternalChangeKind = (typeof externalChangeKinds)[number];

/**
 * Changes made on a trading server that the CRM did not make (scenario 2): a balance or credit record without a
 * Brokerdesk reference, a group, leverage or trading-permission change, an account the CRM does not know. Each is
 * recorded once (`natural_key`), reflected in the CRM (a ledger transaction for money; the account row for group,
 * leverage and trading), alerted, and waits for an operator to acknowledge or explain it.
 */
export const externalChanges = pgTable(
  'external_changes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    naturalKey: text('natural_key').notNull().unique(),
    kind: text('kind', { enum: externalChangeKinds }).notNull(),
    serverCode: text('server_code').notNull(),
    login: bigint('login', { mode: 'number' }).notNull(),
    /** The CRM's account and client, when the CRM knows the account. */
    tradingAccountId: uuid('trading_account_id').references(() => tradingAccounts.id),
    clientId: uuid('client_id').references(() => clients.id),
    /** Balance records: the server ticket, kind, signed amount and the account's currency. */
    ticket: text('ticket'),
    recordKind: text('record_kind'),
    amountMinor: bigint('amount_minor', { mode: 'number' }),
    currency: char('currency', { length: 3 }),
    comment: text('comment'),
    /** The CRM's value and the server's (group, leverage, trading), or what is known of an unknown account. */
    before: jsonb('before'),
    after: jsonb('after'),
    details: jsonb('details'),
    ledgerTransactionId: uuid('ledger_transaction_id').references(() => ledgerTransactions.id),
    /** When the server made the change (its record time), if known; else when it was detected. */
    occurredAt: timestamp('occurred_at', { withTimezone: true, precision: 3 }).notNull(),
    detectedAt: timestamp('detected_at', { withTimezone: true, precision: 3 }).notNull(),
    status: text('status', { enum: ['open', 'acknowledged', 'explained'] }).notNull(),
    reviewedBy: text('reviewed_by'),
    reviewedAt: timestamp('reviewed_at', { withTimezone: true, precision: 3 }),
    reviewNote: text('review_note'),
  },
  (t) => [
    check(
      'external_changes_kind_ck',
      sql`${t.kind} in ('balance_record','group_change','leverage_change','trading_change','unknown_account')`,
    ),
    check('external_changes_status_ck', sql`${t.status} in ('open','acknowledged','explained')`),
    index('external_changes_status_idx').on(t.status, t.detectedAt),
    index('external_changes_account_idx').on(t.serverCode, t.login),
    index('external_changes_client_idx').on(t.clientId),
  ],
);

// --- introducing-broker commissions and payouts (src/modules/commissions) ----------------------------------------

/**
 * A partner's own login on a trading server (MT4/MT5 "agent account"): set as the agent of every account a referred
 * client opens on that server, and (when it is a CRM trading account) where commission payouts to a trading account
 * go. One per partner and server; a login belongs to one partner.
 */
export const partnerServerLogins = pgTable(
  'partner_server_logins',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    partnerId: uuid('partner_id')
      .notNull()
      .references(() => partners.id),
    serverCode: text('server_code')
      .notNull()
      .references(() => tradingServers.code),
    login: bigint('login', { mode: 'number' }).notNull(),
    /** The CRM's trading account with this login, when there is one (needed for payouts to a trading account). */
    tradingAccountId: uuid('trading_account_id').references(() => tradingAccounts.id),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    uniqueIndex('partner_server_logins_partner_server_idx').on(t.partnerId, t.serverCode),
    uniqueIndex('partner_server_logins_server_login_idx').on(t.serverCode, t.login),
    check('partner_server_logins_login_ck', sql`${t.login} > 0`),
  ],
);

/** A commission plan: a name and the currency its amounts are in; its rules live in immutable versions. */
export const commissionPlans = pgTable(
  'commission_plans',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    code: text('code').notNull().unique(),
    name: text('name').notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    status: text('status', { enum: ['active', 'archived'] }).notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    check('commission_plans_status_ck', sql`${t.status} in ('active','archived')`),
    check('commission_plans_currency_ck', sql`${t.currency} ~ '^[A-Z]{3}$'`),
  ],
);

/**
 * A version of a plan's rules (symbol groups, per-lot rates with volume tiers, revenue share, master-IB overrides),
 * in force from `effective_from`. Never changed once written: a trade is commissioned by the version in force at its
 * close time, and each line names the version it used.
 */
export const commissionPlanVersions = pgTable(
  'commission_plan_versions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    planId: uuid('plan_id')
      .notNull()
      .references(() => commissionPlans.id),
    version: integer('version').notNull(),
    effectiveFrom: timestamp('effective_from', { withTimezone: true, precision: 3 }).notNull(),
    rules: jsonb('rules').notNull(),
    note: text('note'),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    uniqueIndex('commission_plan_versions_plan_version_idx').on(t.planId, t.version),
    uniqueIndex('commission_plan_versions_plan_from_idx').on(t.planId, t.effectiveFrom),
  ],
);

/** Which plan a partner is on from when: the assignment in force at a trade's close time applies. */
export const partnerPlanAssignments = pgTable(
  'partner_plan_assignments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    partnerId: uuid('partner_id')
      .notNull()
      .references(() => partners.id),
    /** Null: no plan from this date (the partner earns nothing on later trades). */
    planId: uuid('plan_id').references(() => commissionPlans.id),
    effectiveFrom: timestamp('effective_from', { withTimezone: true, precision: 3 }).notNull(),
    reason: text('reason'),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [uniqueIndex('partner_plan_assignments_partner_from_idx').on(t.partnerId, t.effectiveFrom)],
);

/**
 * One database transaction of commission calculation: the lines it wrote and the ledger accrual that books them
 * (broker_revenue debit, ib_payable credit per partner), posted in the same transaction, so every line is accrued
 * exactly once.
 */
export const commissionBatches = pgTable('commission_batches', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  startedAt: timestamp('started_at', { withTimezone: true, precision: 3 }).notNull(),
  finishedAt: timestamp('finished_at', { withTimezone: true, precision: 3 }),
  lines: integer('lines').notNull().default(0),
  reversals: integer('reversals').notNull().default(0),
  /** {currency: total minor units accrued}. */
  totals: jsonb('totals').notNull().default({}),
  ledgerTransactionIds: jsonb('ledger_transaction_ids').notNull().default([]),
  triggeredBy: text('triggered_by').notNull(),
});

/**
 * Commission lines: one per (closed trade record, its version, partner, level, kind). Level 0 is the client's own
 * partner; level n the n-th master above it (an override). A dealer's correction of a trade (its version goes up)
 * adds a `reversal` line (the negative of the old line, `reverses_line_id`) and a new `accrual` line for the new
 * version; lines are never updated or deleted. Amounts are integer minor units of the plan's currency, rounded half
 * to even once per line; `volume` is the counted volume (lots × 10 000) by the volume rules. The trade's ticket,
 * login and raw symbol are read through `trade_record_id`. No foreign keys: lines are written only by the set-based
 * calculation, which joins the rows they name (and those are never deleted), and a per-row foreign-key check would
 * cost more than the rest of the insert (see bench/commissions.ts).
 */
export const commissionLines = pgTable(
  'commission_lines',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    batchId: bigint('batch_id', { mode: 'number' }).notNull(),
    tradeRecordId: bigint('trade_record_id', { mode: 'number' }).notNull(),
    tradeVersion: integer('trade_version').notNull(),
    kind: text('kind', { enum: ['accrual', 'reversal'] }).notNull(),
    reversesLineId: bigint('reverses_line_id', { mode: 'number' }),
    partnerId: uuid('partner_id').notNull(),
    level: integer('level').notNull(),
    /** The client's own partner (level 0), on whose clients' volume an override is earned. */
    sourcePartnerId: uuid('source_partner_id').notNull(),
    tradeTime: timestamp('trade_time', { withTimezone: true, precision: 3 }).notNull(),
    baseSymbol: text('base_symbol').notNull(),
    symbolGroup: text('symbol_group').notNull(),
    /** Counted volume, lots × 10 000 (negative on a reversal). */
    volume: bigint('volume', { mode: 'number' }).notNull(),
    planId: uuid('plan_id'),
    planVersionId: uuid('plan_version_id'),
    /** Level 0: the partner's counted volume earlier in the same month (the volume tier is chosen by it). */
    tierVolumeBefore: bigint('tier_volume_before', { mode: 'number' }),
    /** Per-lot rate used, in minor units of the plan currency per lot (exact decimal). */
    perLotRate: numeric('per_lot_rate'),
    /** Revenue share: the broker's revenue on the trade (minor units) and the percent applied. */
    revenueMinor: bigint('revenue_minor', { mode: 'number' }),
    revenuePercent: numeric('revenue_percent'),
    /** Overrides by percent: the level-0 line amount the percent is applied to. */
    overrideBaseMinor: bigint('override_base_minor', { mode: 'number' }),
    overridePercent: numeric('override_percent'),
    amountMinor: bigint('amount_minor', { mode: 'number' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    uniqueIndex('commission_lines_trade_idx').on(t.tradeRecordId, t.tradeVersion, t.partnerId, t.level, t.kind),
    uniqueIndex('commission_lines_reverses_idx').on(t.reversesLineId).where(sql`${t.reversesLineId} is not null`),
    index('commission_lines_partner_time_idx').on(t.partnerId, t.tradeTime),
    check('commission_lines_kind_ck', sql`${t.kind} in ('accrual','reversal')`),
    check('commission_lines_level_ck', sql`${t.level} >= 0`),
    check('commission_lines_reversal_ck', sql`(${t.kind} = 'reversal') = (${t.reversesLineId} is not null)`),
  ],
);

export const ibPayoutStatuses = ['requested', 'approved', 'paid', 'rejected', 'failed', 'cancelled'] as const;
export type IbPayoutStatus = (typeof ibPayoutStatuses)[number];

/**
 * A partner's payout of commission earned (their `ib_payable` balance): to their trading account (a balance
 * operation with an `ib_payout` reference, after a finance approval) or to a wallet outside Brokerdesk (recorded;
 * the transfer is made outside). The requester can never approve.
 */
export const ibPayouts = pgTable(
  'ib_payouts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    partnerId: uuid('partner_id')
      .notNull()
      .references(() => partners.id),
    amountMinor: bigint('amount_minor', { mode: 'number' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    destination: text('destination', { enum: ['trading_account', 'wallet'] }).notNull(),
    partnerServerLoginId: uuid('partner_server_login_id').references(() => partnerServerLogins.id),
    tradingAccountId: uuid('trading_account_id').references(() => tradingAccounts.id),
    serverCode: text('server_code'),
    login: bigint('login', { mode: 'number' }),
    /** Wallet payouts: where the money goes, as the partner gave it. */
    wallet: jsonb('wallet'),
    status: text('status', { enum: ibPayoutStatuses }).notNull(),
    requestedByType: text('requested_by_type', { enum: ['partner', 'staff'] }).notNull(),
    requestedById: text('requested_by_id').notNull(),
    decidedBy: text('decided_by'),
    decidedAt: timestamp('decided_at', { withTimezone: true, precision: 3 }),
    decisionComment: text('decision_comment'),
    operationId: uuid('operation_id').references(() => operations.id),
    ticket: text('ticket'),
    /** The ledger transaction that paid it (no foreign key: the ledger's tables stay truncation-proof by trigger). */
    ledgerTransactionId: uuid('ledger_transaction_id'),
    failureReason: text('failure_reason'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
    completedAt: timestamp('completed_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    check('ib_payouts_amount_ck', sql`${t.amountMinor} > 0`),
    check('ib_payouts_status_ck', sql`${t.status} in ('requested','approved','paid','rejected','failed','cancelled')`),
    check(
      'ib_payouts_destination_ck',
      sql`(${t.destination} = 'wallet') = (${t.wallet} is not null) and (${t.destination} = 'trading_account') = (${t.tradingAccountId} is not null)`,
    ),
    index('ib_payouts_partner_idx').on(t.partnerId, t.createdAt),
    index('ib_payouts_status_idx').on(t.status, t.createdAt),
    index('ib_payouts_operation_idx').on(t.operationId),
  ],
);

// --- daily reconciliation (src/modules/reconciliation) ---------------------------------------------------------------

export const reconBreakClasses = [
  'missing_on_server',
  'server_not_in_crm',
  'psp_not_in_crm',
  'crm_not_in_psp',
  'amount_mismatch',
  'duplicate',
  'balance_drift',
] as const;
export type ReconBreakClass = (typeof reconBreakClasses)[number];

/** Which comparison found a break: CRM ↔ server records, CRM ↔ PSP settlement lines, or ledger ↔ account balance. */
export const reconBreakSides = ['server', 'psp', 'account'] as const;
export type ReconBreakSide = (typeof reconBreakSides)[number];

/**
 * One reconciliation run for a business date: the cut-off it compared at (the date at `cutoff_local` in `time_zone`),
 * each source's own cut-off and completeness (`sources`: the PSP fetch, each server's synced-to and balance
 * snapshot), and the counts it found (`summary`). One run per date at a time; a date may be run again.
 */
export const reconRuns = pgTable(
  'recon_runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** YYYY-MM-DD in `time_zone`. */
    businessDate: text('business_date').notNull(),
    status: text('status', { enum: ['running', 'completed', 'failed'] }).notNull(),
    trigger: text('trigger', { enum: ['schedule', 'manual'] }).notNull(),
    requestedBy: text('requested_by').notNull(),
    timeZone: text('time_zone').notNull(),
    /** HH:MM, the configured cut-off time of day. */
    cutoffLocal: text('cutoff_local').notNull(),
    cutoffAt: timestamp('cutoff_at', { withTimezone: true, precision: 3 }).notNull(),
    /** The previous date's cut-off: the day's window is [window_start, cutoff_at). */
    windowStart: timestamp('window_start', { withTimezone: true, precision: 3 }).notNull(),
    /** How far back this run looked: the window start, or earlier to re-examine breaks still open. */
    horizonStart: timestamp('horizon_start', { withTimezone: true, precision: 3 }),
    sources: jsonb('sources').notNull().default({}),
    summary: jsonb('summary'),
    error: text('error'),
    startedAt: timestamp('started_at', { withTimezone: true, precision: 3 }).notNull(),
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true, precision: 3 }).notNull(),
    finishedAt: timestamp('finished_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    check('recon_runs_status_ck', sql`${t.status} in ('running','completed','failed')`),
    check('recon_runs_trigger_ck', sql`${t.trigger} in ('schedule','manual')`),
    check('recon_runs_date_ck', sql`${t.businessDate} ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'`),
    // One run of a date at a time (a second one is refused while the first is running).
    uniqueIndex('recon_runs_running_idx').on(t.businessDate).where(sql`${t.status} = 'running'`),
    // One scheduled run per date (a failed one may be tried again), however many workers race for it.
    uniqueIndex('recon_runs_schedule_idx')
      .on(t.businessDate)
      .where(sql`${t.trigger} = 'schedule' and ${t.status} <> 'failed'`),
    index('recon_runs_date_idx').on(t.businessDate, t.startedAt),
    index('recon_runs_started_idx').on(t.startedAt),
  ],
);

/**
 * The PSP settlement lines a run fetched, exactly as the adapter returned them (each transaction id once per run), so
 * the run can be reproduced and a break shows the PSP's own record. A run compares its own lines; only refunds and
 * chargebacks are summed across runs. No foreign key and no unique index: a run inserts a day's lines in bulk, and
 * each index on a random key costs a million random insertions (see bench/reconciliation.ts).
 */
export const reconPspLines = pgTable(
  'recon_psp_lines',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: uuid('run_id').notNull(),
    psp: text('psp').notNull(),
    pspTransactionId: text('psp_transaction_id').notNull(),
    type: text('type').notNull(),
    sourceId: text('source_id').notNull(),
    pspPaymentId: text('psp_payment_id'),
    pspPayoutId: text('psp_payout_id'),
    merchantReference: text('merchant_reference').notNull(),
    /** The merchant reference read as a money movement id (Brokerdesk's references are movement ids), else null. */
    movementId: uuid('movement_id'),
    /** Signed minor units: money to the merchant positive. */
    amountMinor: bigint('amount_minor', { mode: 'number' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    status: text('status').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    index('recon_psp_lines_run_idx').on(t.runId),
    // Refunds and chargebacks add up over many days: their lines are found by movement across runs.
    index('recon_psp_lines_refunds_idx').on(t.psp, t.movementId).where(sql`${t.type} in ('refund', 'chargeback')`),
  ],
);

/**
 * Each live account's balance and credit as its server reported them during a run (the snapshot the balance-drift
 * comparison uses). `skipped_reason`: not compared (the read failed, or an operation on the account was in motion
 * while it was read).
 */
export const reconAccountBalances = pgTable(
  'recon_account_balances',
  {
    runId: uuid('run_id').notNull(),
    serverCode: text('server_code').notNull(),
    login: bigint('login', { mode: 'number' }).notNull(),
    balanceMinor: bigint('balance_minor', { mode: 'number' }),
    creditMinor: bigint('credit_minor', { mode: 'number' }),
    readAt: timestamp('read_at', { withTimezone: true, precision: 3 }).notNull(),
    skippedReason: text('skipped_reason'),
  },
  (t) => [primaryKey({ columns: [t.runId, t.serverCode, t.login] })],
);

/**
 * A break: one mismatch between the sources, identified by a stable `key` (class and the natural key of what it is
 * about, e.g. `missing_on_server:<operation reference>`), so that runs can be compared: a later run that sees the
 * same key continues the break, one that no longer sees it clears it (`resolution = 'cleared'`). Staff resolve the
 * rest: retry the operation (then a later run clears it), link an external change, or write it off (maker-checker).
 * The link columns point at what explains it: movement, operation (and so its attempt log), trade record, PSP line,
 * external change. Amounts: the CRM's figure, the other source's, and the difference (other − CRM).
 */
export const reconBreaks = pgTable(
  'recon_breaks',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    key: text('key').notNull().unique(),
    class: text('class', { enum: reconBreakClasses }).notNull(),
    side: text('side', { enum: reconBreakSides }).notNull(),
    status: text('status', { enum: ['open', 'resolved'] }).notNull(),
    resolution: text('resolution', { enum: ['cleared', 'linked_external_change', 'written_off'] }),
    serverCode: text('server_code'),
    login: bigint('login', { mode: 'number' }),
    tradingAccountId: uuid('trading_account_id'),
    clientId: uuid('client_id'),
    movementId: uuid('movement_id'),
    operationId: uuid('operation_id'),
    reference: text('reference'),
    tradeRecordId: bigint('trade_record_id', { mode: 'number' }),
    psp: text('psp'),
    pspTransactionId: text('psp_transaction_id'),
    externalChangeId: uuid('external_change_id'),
    currency: char('currency', { length: 3 }),
    crmAmountMinor: bigint('crm_amount_minor', { mode: 'number' }),
    otherAmountMinor: bigint('other_amount_minor', { mode: 'number' }),
    differenceMinor: bigint('difference_minor', { mode: 'number' }),
    details: jsonb('details').notNull().default({}),
    /** When the thing it is about happened (operation created, record or line time); balance drift: when read. */
    subjectAt: timestamp('subject_at', { withTimezone: true, precision: 3 }).notNull(),
    firstSeenRunId: uuid('first_seen_run_id').notNull(),
    firstSeenAt: timestamp('first_seen_at', { withTimezone: true, precision: 3 }).notNull(),
    lastSeenRunId: uuid('last_seen_run_id').notNull(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true, precision: 3 }).notNull(),
    /** The cut-off of the run that last saw it: only a run at this cut-off or later may clear it. */
    lastSeenCutoff: timestamp('last_seen_cutoff', { withTimezone: true, precision: 3 }).notNull(),
    timesSeen: integer('times_seen').notNull().default(1),
    resolvedAt: timestamp('resolved_at', { withTimezone: true, precision: 3 }),
    resolvedBy: text('resolved_by'),
    resolvedByRunId: uuid('resolved_by_run_id'),
    resolutionNote: text('resolution_note'),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    check(
      'recon_breaks_class_ck',
      sql`${t.class} in ('missing_on_server','server_not_in_crm','psp_not_in_crm','crm_not_in_psp','amount_mismatch','duplicate','balance_drift')`,
    ),
    check('recon_breaks_side_ck', sql`${t.side} in ('server','psp','account')`),
    check('recon_breaks_status_ck', sql`${t.status} in ('open','resolved')`),
    check(
      'recon_breaks_resolution_ck',
      sql`(${t.status} = 'open') = (${t.resolution} is null) and (${t.resolution} is null or ${t.resolution} in ('cleared','linked_external_change','written_off'))`,
    ),
    index('recon_breaks_status_idx').on(t.status, t.class),
    index('recon_breaks_movement_idx').on(t.movementId),
    index('recon_breaks_operation_idx').on(t.operationId),
    index('recon_breaks_account_idx').on(t.serverCode, t.login),
  ],
);

/** What one run saw: a copy of each break as observed then (the run's report). No foreign keys (bulk writes). */
export const reconRunBreaks = pgTable(
  'recon_run_breaks',
  {
    runId: uuid('run_id').notNull(),
    breakKey: text('break_key').notNull(),
    breakId: uuid('break_id'),
    /** First seen by this run (or seen again after it had cleared). */
    isNew: boolean('is_new').notNull().default(false),
    class: text('class', { enum: reconBreakClasses }).notNull(),
    side: text('side', { enum: reconBreakSides }).notNull(),
    serverCode: text('server_code'),
    login: bigint('login', { mode: 'number' }),
    tradingAccountId: uuid('trading_account_id'),
    clientId: uuid('client_id'),
    movementId: uuid('movement_id'),
    operationId: uuid('operation_id'),
    reference: text('reference'),
    tradeRecordId: bigint('trade_record_id', { mode: 'number' }),
    psp: text('psp'),
    pspTransactionId: text('psp_transaction_id'),
    externalChangeId: uuid('external_change_id'),
    currency: char('currency', { length: 3 }),
    crmAmountMinor: bigint('crm_amount_minor', { mode: 'number' }),
    otherAmountMinor: bigint('other_amount_minor', { mode: 'number' }),
    differenceMinor: bigint('difference_minor', { mode: 'number' }),
    details: jsonb('details').notNull().default({}),
    subjectAt: timestamp('subject_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.breakKey] }), index('recon_run_breaks_break_idx').on(t.breakId)],
);

/** The resolution trail of a break: seen, cleared, reopened, retry requested, linked, write-off asked and decided. */
export const reconBreakEvents = pgTable(
  'recon_break_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    breakId: uuid('break_id').notNull(),
    runId: uuid('run_id'),
    action: text('action').notNull(),
    actorType: text('actor_type', { enum: ['staff', 'system'] }).notNull(),
    actorId: text('actor_id'),
    at: timestamp('at', { withTimezone: true, precision: 3 }).notNull(),
    details: jsonb('details'),
  },
  (t) => [index('recon_break_events_break_idx').on(t.breakId, t.id)],
);

/**
 * A write-off of a break (maker-checker): requested by one staff member with a reason, approved by another, which
 * posts `lines` as one ledger transaction against `write_offs` and resolves the break. One open request per break.
 */
export const reconWriteOffs = pgTable(
  'recon_write_offs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    breakId: uuid('break_id')
      .notNull()
      .references(() => reconBreaks.id),
    status: text('status', { enum: ['requested', 'approved', 'rejected'] }).notNull(),
    /** The difference written off (other source − CRM), in minor units of `currency`. */
    amountMinor: bigint('amount_minor', { mode: 'number' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    /** The ledger lines the approval posts: [{account: {type, ownerId, currency}, amountMinor}]. */
    lines: jsonb('lines').notNull(),
    reason: text('reason').notNull(),
    requestedBy: text('requested_by').notNull(),
    requestedAt: timestamp('requested_at', { withTimezone: true, precision: 3 }).notNull(),
    decidedBy: text('decided_by'),
    decidedAt: timestamp('decided_at', { withTimezone: true, precision: 3 }),
    decisionComment: text('decision_comment'),
    ledgerTransactionId: uuid('ledger_transaction_id'),
  },
  (t) => [
    check('recon_write_offs_status_ck', sql`${t.status} in ('requested','approved','rejected')`),
    check('recon_write_offs_amount_ck', sql`${t.amountMinor} <> 0`),
    uniqueIndex('recon_write_offs_open_idx').on(t.breakId).where(sql`${t.status} = 'requested'`),
  ],
);
