CREATE TABLE "external_changes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"natural_key" text NOT NULL,
	"kind" text NOT NULL,
	"server_code" text NOT NULL,
	"login" bigint NOT NULL,
	"trading_account_id" uuid,
	"client_id" uuid,
	"ticket" text,
	"record_kind" text,
	"amount_minor" bigint,
	"currency" char(3),
	"comment" text,
	"before" jsonb,
	"after" jsonb,
	"details" jsonb,
	"ledger_transaction_id" uuid,
	"occurred_at" timestamp (3) with time zone NOT NULL,
	"detected_at" timestamp (3) with time zone NOT NULL,
	"status" text NOT NULL,
	"reviewed_by" text,
	"reviewed_at" timestamp (3) with time zone,
	"review_note" text,
	CONSTRAINT "external_changes_natural_key_unique" UNIQUE("natural_key"),
	CONSTRAINT "external_changes_kind_ck" CHECK ("external_changes"."kind" in ('balance_record','group_change','leverage_change','trading_change','unknown_account')),
	CONSTRAINT "external_changes_status_ck" CHECK ("external_changes"."status" in ('open','acknowledged','explained'))
);
--> statement-breakpoint
CREATE TABLE "trade_positions" (
	"server_code" text NOT NULL,
	"ticket" text NOT NULL,
	"platform" text NOT NULL,
	"login" bigint NOT NULL,
	"symbol" text NOT NULL,
	"side" text NOT NULL,
	"volume" bigint NOT NULL,
	"open_price" double precision NOT NULL,
	"current_price" double precision NOT NULL,
	"open_time" timestamp (3) with time zone NOT NULL,
	"profit_minor" bigint NOT NULL,
	"swap_minor" bigint NOT NULL,
	"commission_minor" bigint NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "trade_positions_server_code_ticket_pk" PRIMARY KEY("server_code","ticket")
);
--> statement-breakpoint
CREATE TABLE "trade_records" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"server_code" text NOT NULL,
	"platform" text NOT NULL,
	"record_type" text NOT NULL,
	"ticket" text NOT NULL,
	"login" bigint NOT NULL,
	"time" timestamp (3) with time zone NOT NULL,
	"open_time" timestamp (3) with time zone,
	"symbol" text,
	"side" text,
	"entry" text,
	"order_ticket" text,
	"position_id" text,
	"volume" bigint,
	"price" double precision,
	"close_price" double precision,
	"profit_minor" bigint,
	"commission_minor" bigint,
	"swap_minor" bigint,
	"amount_minor" bigint,
	"balance_kind" text,
	"reference" text,
	"comment" text DEFAULT '' NOT NULL,
	"anomalies" jsonb,
	"content_hash" text NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"source" text NOT NULL,
	"first_seen_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "trade_records_type_ck" CHECK ("trade_records"."record_type" in ('deal','closed_trade','balance'))
);
--> statement-breakpoint
CREATE TABLE "trade_sync_cursors" (
	"server_code" text PRIMARY KEY NOT NULL,
	"synced_to" timestamp (3) with time zone,
	"lease_owner" text,
	"lease_until" timestamp (3) with time zone,
	"last_pass_started_at" timestamp (3) with time zone,
	"last_success_at" timestamp (3) with time zone,
	"last_error" text,
	"last_error_at" timestamp (3) with time zone,
	"consecutive_failures" integer DEFAULT 0 NOT NULL,
	"records_ingested" bigint DEFAULT 0 NOT NULL,
	"records_changed" bigint DEFAULT 0 NOT NULL,
	"positions_synced_at" timestamp (3) with time zone,
	"accounts_checked_at" timestamp (3) with time zone,
	"backfill_from" timestamp (3) with time zone,
	"backfill_to" timestamp (3) with time zone,
	"backfill_next" timestamp (3) with time zone,
	"backfill_finished_at" timestamp (3) with time zone,
	"updated_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "external_changes" ADD CONSTRAINT "external_changes_trading_account_id_trading_accounts_id_fk" FOREIGN KEY ("trading_account_id") REFERENCES "public"."trading_accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "external_changes" ADD CONSTRAINT "external_changes_client_id_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."clients"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "external_changes" ADD CONSTRAINT "external_changes_ledger_transaction_id_ledger_transactions_id_fk" FOREIGN KEY ("ledger_transaction_id") REFERENCES "public"."ledger_transactions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "trade_sync_cursors" ADD CONSTRAINT "trade_sync_cursors_server_code_trading_servers_code_fk" FOREIGN KEY ("server_code") REFERENCES "public"."trading_servers"("code") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "external_changes_status_idx" ON "external_changes" USING btree ("status","detected_at");--> statement-breakpoint
CREATE INDEX "external_changes_account_idx" ON "external_changes" USING btree ("server_code","login");--> statement-breakpoint
CREATE INDEX "external_changes_client_idx" ON "external_changes" USING btree ("client_id");--> statement-breakpoint
CREATE INDEX "trade_positions_account_idx" ON "trade_positions" USING btree ("server_code","login");--> statement-breakpoint
CREATE UNIQUE INDEX "trade_records_key_idx" ON "trade_records" USING btree ("server_code","record_type","ticket");--> statement-breakpoint
CREATE INDEX "trade_records_account_idx" ON "trade_records" USING btree ("server_code","login","time");--> statement-breakpoint
CREATE INDEX "trade_records_server_time_idx" ON "trade_records" USING btree ("server_code","record_type","time");