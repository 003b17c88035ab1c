CREATE TABLE "ledger_accounts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"code" text NOT NULL,
	"type" text NOT NULL,
	"owner_id" text,
	"currency" char(3) NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "ledger_accounts_code_unique" UNIQUE("code"),
	CONSTRAINT "ledger_accounts_id_currency_unique" UNIQUE("id","currency"),
	CONSTRAINT "ledger_accounts_type_ck" CHECK ("ledger_accounts"."type" in ('psp_clearing','client_funds','trading_account','trading_credit','payouts_pending','ib_payable','broker_revenue','bonus_expense','external_adjustments','fx_conversion','write_offs')),
	CONSTRAINT "ledger_accounts_currency_ck" CHECK ("ledger_accounts"."currency" ~ '^[A-Z]{3}$'),
	CONSTRAINT "ledger_accounts_owner_ck" CHECK ("ledger_accounts"."owner_id" is not null or "ledger_accounts"."type" in ('broker_revenue','bonus_expense','fx_conversion','write_offs')),
	CONSTRAINT "ledger_accounts_code_ck" CHECK ("ledger_accounts"."code" = "ledger_accounts"."type" || ':' || coalesce("ledger_accounts"."owner_id" || ':', '') || "ledger_accounts"."currency")
);
--> statement-breakpoint
CREATE TABLE "ledger_entries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"transaction_id" uuid NOT NULL,
	"account_id" uuid NOT NULL,
	"currency" char(3) NOT NULL,
	"amount_minor" bigint NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "ledger_entries_amount_ck" CHECK ("ledger_entries"."amount_minor" <> 0)
);
--> statement-breakpoint
CREATE TABLE "ledger_transactions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" text NOT NULL,
	"description" text NOT NULL,
	"idempotency_key" text,
	"correlation" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"created_by" text NOT NULL,
	"created_xid" bigint DEFAULT txid_current() NOT NULL,
	CONSTRAINT "ledger_transactions_idempotency_key_unique" UNIQUE("idempotency_key")
);
--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_transaction_id_ledger_transactions_id_fk" FOREIGN KEY ("transaction_id") REFERENCES "public"."ledger_transactions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_account_currency_fk" FOREIGN KEY ("account_id","currency") REFERENCES "public"."ledger_accounts"("id","currency") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ledger_accounts_owner_idx" ON "ledger_accounts" USING btree ("owner_id");--> statement-breakpoint
CREATE INDEX "ledger_entries_account_idx" ON "ledger_entries" USING btree ("account_id","id");--> statement-breakpoint
CREATE INDEX "ledger_entries_transaction_idx" ON "ledger_entries" USING btree ("transaction_id");--> statement-breakpoint
CREATE INDEX "ledger_transactions_correlation_idx" ON "ledger_transactions" USING gin ("correlation");--> statement-breakpoint
CREATE INDEX "ledger_transactions_created_idx" ON "ledger_transactions" USING btree ("created_at");--> statement-breakpoint
-- Double entry, enforced by the database so that no code path can bypass it. A ledger transaction must, by the time
-- its database transaction commits, have at least two entries, and its entries must sum to zero in every currency.
-- The check is a deferred constraint trigger: it runs at COMMIT (or at SET CONSTRAINTS … IMMEDIATE), after every
-- entry of the posting is in. It fires for the transaction row too, so a transaction with no entries is refused.
CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  txn uuid;
  entry_count bigint;
  imbalance text;
BEGIN
  IF TG_TABLE_NAME = 'ledger_transactions' THEN
    txn := NEW.id;
  ELSE
    txn := NEW.transaction_id;
  END IF;
  SELECT count(*) INTO entry_count FROM ledger_entries WHERE transaction_id = txn;
  IF entry_count < 2 THEN
    RAISE EXCEPTION 'ledger transaction % has % entries; double entry needs at least two', txn, entry_count
      USING ERRCODE = 'check_violation';
  END IF;
  SELECT string_agg(currency || ' ' || total::text, ', ' ORDER BY currency) INTO imbalance
    FROM (SELECT currency, sum(amount_minor) AS total FROM ledger_entries WHERE transaction_id = txn
          GROUP BY currency HAVING sum(amount_minor) <> 0) AS unbalanced;
  IF imbalance IS NOT NULL THEN
    RAISE EXCEPTION 'ledger transaction % is unbalanced: its entries sum to % (minor units) instead of zero', txn, imbalance
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER ledger_transactions_balanced AFTER INSERT ON ledger_transactions
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
--> statement-breakpoint
-- The ledger is append-only: corrections are new transactions. Accounts cannot change either (re-pointing one at
-- another owner would move its balance without an entry).
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % is not allowed (post a correcting transaction instead)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER ledger_accounts_no_change BEFORE UPDATE OR DELETE ON ledger_accounts
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
--> statement-breakpoint
CREATE TRIGGER ledger_accounts_no_truncate BEFORE TRUNCATE ON ledger_accounts
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
--> statement-breakpoint
CREATE TRIGGER ledger_transactions_no_change BEFORE UPDATE OR DELETE ON ledger_transactions
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
--> statement-breakpoint
CREATE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
--> statement-breakpoint
CREATE TRIGGER ledger_entries_no_change BEFORE UPDATE OR DELETE ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
--> statement-breakpoint
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
--> statement-breakpoint
-- A posted transaction is closed: entries can be added to a ledger transaction only by the database transaction that
-- created it (otherwise a later, balanced pair could be slipped into an old transaction). created_xid records that
-- database transaction; txid_current() is the top-level id, so savepoints (nested transactions) are fine.
CREATE FUNCTION ledger_transactions_stamp_xid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.created_xid := txid_current();
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER ledger_transactions_stamp_xid BEFORE INSERT ON ledger_transactions
  FOR EACH ROW EXECUTE FUNCTION ledger_transactions_stamp_xid();
--> statement-breakpoint
CREATE FUNCTION ledger_entries_same_xact() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM ledger_transactions WHERE id = NEW.transaction_id AND created_xid = txid_current()) THEN
    RAISE EXCEPTION 'ledger transaction % is closed (or does not exist): entries are added only together with their transaction', NEW.transaction_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER ledger_entries_same_xact BEFORE INSERT ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_entries_same_xact();
