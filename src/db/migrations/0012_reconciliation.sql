CREATE TABLE "recon_account_balances" (
	"run_id" uuid NOT NULL,
	"server_code" text NOT NULL,
	"login" bigint NOT NULL,
	"balance_minor" bigint,
	"credit_minor" bigint,
	"read_at" timestamp (3) with time zone NOT NULL,
	"skipped_reason" text,
	CONSTRAINT "recon_account_balances_run_id_server_code_login_pk" PRIMARY KEY("run_id","server_code","login")
);
--> statement-breakpoint
CREATE TABLE "recon_break_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"break_id" uuid NOT NULL,
	"run_id" uuid,
	"action" text NOT NULL,
	"actor_type" text NOT NULL,
	"actor_id" text,
	"at" timestamp (3) with time zone NOT NULL,
	"details" jsonb
);
--> statement-breakpoint
CREATE TABLE "recon_breaks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"key" text NOT NULL,
	"class" text NOT NULL,
	"side" text NOT NULL,
	"status" text NOT NULL,
	"resolution" text,
	"server_code" text,
	"login" bigint,
	"trading_account_id" uuid,
	"client_id" uuid,
	"movement_id" uuid,
	"operation_id" uuid,
	"reference" text,
	"trade_record_id" bigint,
	"psp" text,
	"psp_transaction_id" text,
	"external_change_id" uuid,
	"currency" char(3),
	"crm_amount_minor" bigint,
	"other_amount_minor" bigint,
	"difference_minor" bigint,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"subject_at" timestamp (3) with time zone NOT NULL,
	"first_seen_run_id" uuid NOT NULL,
	"first_seen_at" timestamp (3) with time zone NOT NULL,
	"last_seen_run_id" uuid NOT NULL,
	"last_seen_at" timestamp (3) with time zone NOT NULL,
	"last_seen_cutoff" timestamp (3) with time zone NOT NULL,
	"times_seen" integer DEFAULT 1 NOT NULL,
	"resolved_at" timestamp (3) with time zone,
	"resolved_by" text,
	"resolved_by_run_id" uuid,
	"resolution_note" text,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "recon_breaks_key_unique" UNIQUE("key"),
	CONSTRAINT "recon_breaks_class_ck" CHECK ("recon_breaks"."class" in ('missing_on_server','server_not_in_crm','psp_not_in_crm','crm_not_in_psp','amount_mismatch','duplicate','balance_drift')),
	CONSTRAINT "recon_breaks_side_ck" CHECK ("recon_breaks"."side" in ('server','psp','account')),
	CONSTRAINT "recon_breaks_status_ck" CHECK ("recon_breaks"."status" in ('open','resolved')),
	CONSTRAINT "recon_breaks_resolution_ck" CHECK (("recon_breaks"."status" = 'open') = ("recon_breaks"."resolution" is null) and ("recon_breaks"."resolution" is null or "recon_breaks"."resolution" in ('cleared','linked_external_change','written_off')))
);
--> statement-breakpoint
CREATE TABLE "recon_psp_lines" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" uuid NOT NULL,
	"psp" text NOT NULL,
	"psp_transaction_id" text NOT NULL,
	"type" text NOT NULL,
	"source_id" text NOT NULL,
	"psp_payment_id" text,
	"psp_payout_id" text,
	"merchant_reference" text NOT NULL,
	"movement_id" uuid,
	"amount_minor" bigint NOT NULL,
	"currency" char(3) NOT NULL,
	"status" text NOT NULL,
	"occurred_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "recon_run_breaks" (
	"run_id" uuid NOT NULL,
	"break_key" text NOT NULL,
	"break_id" uuid,
	"is_new" boolean DEFAULT false NOT NULL,
	"class" text NOT NULL,
	"side" text NOT NULL,
	"server_code" text,
	"login" bigint,
	"trading_account_id" uuid,
	"client_id" uuid,
	"movement_id" uuid,
	"operation_id" uuid,
	"reference" text,
	"trade_record_id" bigint,
	"psp" text,
	"psp_transaction_id" text,
	"external_change_id" uuid,
	"currency" char(3),
	"crm_amount_minor" bigint,
	"other_amount_minor" bigint,
	"difference_minor" bigint,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"subject_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "recon_run_breaks_run_id_break_key_pk" PRIMARY KEY("run_id","break_key")
);
--> statement-breakpoint
CREATE TABLE "recon_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"business_date" text NOT NULL,
	"status" text NOT NULL,
	"trigger" text NOT NULL,
	"requested_by" text NOT NULL,
	"time_zone" text NOT NULL,
	"cutoff_local" text NOT NULL,
	"cutoff_at" timestamp (3) with time zone NOT NULL,
	"window_start" timestamp (3) with time zone NOT NULL,
	"horizon_start" timestamp (3) with time zone,
	"sources" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"summary" jsonb,
	"error" text,
	"started_at" timestamp (3) with time zone NOT NULL,
	"heartbeat_at" timestamp (3) with time zone NOT NULL,
	"finished_at" timestamp (3) with time zone,
	CONSTRAINT "recon_runs_status_ck" CHECK ("recon_runs"."status" in ('running','completed','failed')),
	CONSTRAINT "recon_runs_trigger_ck" CHECK ("recon_runs"."trigger" in ('schedule','manual')),
	CONSTRAINT "recon_runs_date_ck" CHECK ("recon_runs"."business_date" ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$')
);
--> statement-breakpoint
CREATE TABLE "recon_write_offs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"break_id" uuid NOT NULL,
	"status" text NOT NULL,
	"amount_minor" bigint NOT NULL,
	"currency" char(3) NOT NULL,
	"lines" jsonb NOT NULL,
	"reason" text NOT NULL,
	"requested_by" text NOT NULL,
	"requested_at" timestamp (3) with time zone NOT NULL,
	"decided_by" text,
	"decided_at" timestamp (3) with time zone,
	"decision_comment" text,
	"ledger_transaction_id" uuid,
	CONSTRAINT "recon_write_offs_status_ck" CHECK ("recon_write_offs"."status" in ('requested','approved','rejected')),
	CONSTRAINT "recon_write_offs_amount_ck" CHECK ("recon_write_offs"."amount_minor" <> 0)
);
--> statement-breakpoint
ALTER TABLE "recon_write_offs" ADD CONSTRAINT "recon_write_offs_break_id_recon_breaks_id_fk" FOREIGN KEY ("break_id") REFERENCES "public"."recon_breaks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "recon_break_events_break_idx" ON "recon_break_events" USING btree ("break_id","id");--> statement-breakpoint
CREATE INDEX "recon_breaks_status_idx" ON "recon_breaks" USING btree ("status","class");--> statement-breakpoint
CREATE INDEX "recon_breaks_movement_idx" ON "recon_breaks" USING btree ("movement_id");--> statement-breakpoint
CREATE INDEX "recon_breaks_operation_idx" ON "recon_breaks" USING btree ("operation_id");--> statement-breakpoint
CREATE INDEX "recon_breaks_account_idx" ON "recon_breaks" USING btree ("server_code","login");--> statement-breakpoint
CREATE INDEX "recon_psp_lines_run_idx" ON "recon_psp_lines" USING btree ("run_id");--> statement-breakpoint
CREATE INDEX "recon_psp_lines_refunds_idx" ON "recon_psp_lines" USING btree ("psp","movement_id") WHERE "recon_psp_lines"."type" in ('refund', 'chargeback');--> statement-breakpoint
CREATE INDEX "recon_run_breaks_break_idx" ON "recon_run_breaks" USING btree ("break_id");--> statement-breakpoint
CREATE UNIQUE INDEX "recon_runs_running_idx" ON "recon_runs" USING btree ("business_date") WHERE "recon_runs"."status" = 'running';--> statement-breakpoint
CREATE UNIQUE INDEX "recon_runs_schedule_idx" ON "recon_runs" USING btree ("business_date") WHERE "recon_runs"."trigger" = 'schedule' and "recon_runs"."status" <> 'failed';--> statement-breakpoint
CREATE INDEX "recon_runs_date_idx" ON "recon_runs" USING btree ("business_date","started_at");--> statement-breakpoint
CREATE INDEX "recon_runs_started_idx" ON "recon_runs" USING btree ("started_at");--> statement-breakpoint
CREATE UNIQUE INDEX "recon_write_offs_open_idx" ON "recon_write_offs" USING btree ("break_id") WHERE "recon_write_offs"."status" = 'requested';