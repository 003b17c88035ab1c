CREATE TABLE "commission_batches" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"finished_at" timestamp (3) with time zone,
	"lines" integer DEFAULT 0 NOT NULL,
	"reversals" integer DEFAULT 0 NOT NULL,
	"totals" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"ledger_transaction_ids" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"triggered_by" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "commission_lines" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"batch_id" bigint NOT NULL,
	"trade_record_id" bigint NOT NULL,
	"trade_version" integer NOT NULL,
	"kind" text NOT NULL,
	"reverses_line_id" bigint,
	"partner_id" uuid NOT NULL,
	"level" integer NOT NULL,
	"source_partner_id" uuid NOT NULL,
	"trade_time" timestamp (3) with time zone NOT NULL,
	"base_symbol" text NOT NULL,
	"symbol_group" text NOT NULL,
	"volume" bigint NOT NULL,
	"plan_id" uuid,
	"plan_version_id" uuid,
	"tier_volume_before" bigint,
	"per_lot_rate" numeric,
	"revenue_minor" bigint,
	"revenue_percent" numeric,
	"override_base_minor" bigint,
	"override_percent" numeric,
	"amount_minor" bigint NOT NULL,
	"currency" char(3) NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "commission_lines_kind_ck" CHECK ("commission_lines"."kind" in ('accrual','reversal')),
	CONSTRAINT "commission_lines_level_ck" CHECK ("commission_lines"."level" >= 0),
	CONSTRAINT "commission_lines_reversal_ck" CHECK (("commission_lines"."kind" = 'reversal') = ("commission_lines"."reverses_line_id" is not null))
);
--> statement-breakpoint
CREATE TABLE "commission_plan_versions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"plan_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"effective_from" timestamp (3) with time zone NOT NULL,
	"rules" jsonb NOT NULL,
	"note" text,
	"created_by" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "commission_plans" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"code" text NOT NULL,
	"name" text NOT NULL,
	"currency" char(3) NOT NULL,
	"status" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "commission_plans_code_unique" UNIQUE("code"),
	CONSTRAINT "commission_plans_status_ck" CHECK ("commission_plans"."status" in ('active','archived')),
	CONSTRAINT "commission_plans_currency_ck" CHECK ("commission_plans"."currency" ~ '^[A-Z]{3}$')
);
--> statement-breakpoint
CREATE TABLE "ib_payouts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"partner_id" uuid NOT NULL,
	"amount_minor" bigint NOT NULL,
	"currency" char(3) NOT NULL,
	"destination" text NOT NULL,
	"partner_server_login_id" uuid,
	"trading_account_id" uuid,
	"server_code" text,
	"login" bigint,
	"wallet" jsonb,
	"status" text NOT NULL,
	"requested_by_type" text NOT NULL,
	"requested_by_id" text NOT NULL,
	"decided_by" text,
	"decided_at" timestamp (3) with time zone,
	"decision_comment" text,
	"operation_id" uuid,
	"ticket" text,
	"ledger_transaction_id" uuid,
	"failure_reason" text,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	"completed_at" timestamp (3) with time zone,
	CONSTRAINT "ib_payouts_amount_ck" CHECK ("ib_payouts"."amount_minor" > 0),
	CONSTRAINT "ib_payouts_status_ck" CHECK ("ib_payouts"."status" in ('requested','approved','paid','rejected','failed','cancelled')),
	CONSTRAINT "ib_payouts_destination_ck" CHECK (("ib_payouts"."destination" = 'wallet') = ("ib_payouts"."wallet" is not null) and ("ib_payouts"."destination" = 'trading_account') = ("ib_payouts"."trading_account_id" is not null))
);
--> statement-breakpoint
CREATE TABLE "partner_plan_assignments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"partner_id" uuid NOT NULL,
	"plan_id" uuid,
	"effective_from" timestamp (3) with time zone NOT NULL,
	"reason" text,
	"created_by" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "partner_server_logins" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"partner_id" uuid NOT NULL,
	"server_code" text NOT NULL,
	"login" bigint NOT NULL,
	"trading_account_id" uuid,
	"created_by" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "partner_server_logins_login_ck" CHECK ("partner_server_logins"."login" > 0)
);
--> statement-breakpoint
ALTER TABLE "commission_plan_versions" ADD CONSTRAINT "commission_plan_versions_plan_id_commission_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."commission_plans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ib_payouts" ADD CONSTRAINT "ib_payouts_partner_id_partners_id_fk" FOREIGN KEY ("partner_id") REFERENCES "public"."partners"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ib_payouts" ADD CONSTRAINT "ib_payouts_partner_server_login_id_partner_server_logins_id_fk" FOREIGN KEY ("partner_server_login_id") REFERENCES "public"."partner_server_logins"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ib_payouts" ADD CONSTRAINT "ib_payouts_trading_account_id_trading_accounts_id_fk" FOREIGN KEY ("trading_account_id") REFERENCES "public"."trading_accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ib_payouts" ADD CONSTRAINT "ib_payouts_operation_id_operations_id_fk" FOREIGN KEY ("operation_id") REFERENCES "public"."operations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "partner_plan_assignments" ADD CONSTRAINT "partner_plan_assignments_partner_id_partners_id_fk" FOREIGN KEY ("partner_id") REFERENCES "public"."partners"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "partner_plan_assignments" ADD CONSTRAINT "partner_plan_assignments_plan_id_commission_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."commission_plans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "partner_server_logins" ADD CONSTRAINT "partner_server_logins_partner_id_partners_id_fk" FOREIGN KEY ("partner_id") REFERENCES "public"."partners"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "partner_server_logins" ADD CONSTRAINT "partner_server_logins_server_code_trading_servers_code_fk" FOREIGN KEY ("server_code") REFERENCES "public"."trading_servers"("code") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "partner_server_logins" ADD CONSTRAINT "partner_server_logins_trading_account_id_trading_accounts_id_fk" FOREIGN KEY ("trading_account_id") REFERENCES "public"."trading_accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "commission_lines_trade_idx" ON "commission_lines" USING btree ("trade_record_id","trade_version","partner_id","level","kind");--> statement-breakpoint
CREATE UNIQUE INDEX "commission_lines_reverses_idx" ON "commission_lines" USING btree ("reverses_line_id") WHERE "commission_lines"."reverses_line_id" is not null;--> statement-breakpoint
CREATE INDEX "commission_lines_partner_time_idx" ON "commission_lines" USING btree ("partner_id","trade_time");--> statement-breakpoint
CREATE UNIQUE INDEX "commission_plan_versions_plan_version_idx" ON "commission_plan_versions" USING btree ("plan_id","version");--> statement-breakpoint
CREATE UNIQUE INDEX "commission_plan_versions_plan_from_idx" ON "commission_plan_versions" USING btree ("plan_id","effective_from");--> statement-breakpoint
CREATE INDEX "ib_payouts_partner_idx" ON "ib_payouts" USING btree ("partner_id","created_at");--> statement-breakpoint
CREATE INDEX "ib_payouts_status_idx" ON "ib_payouts" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "ib_payouts_operation_idx" ON "ib_payouts" USING btree ("operation_id");--> statement-breakpoint
CREATE UNIQUE INDEX "partner_plan_assignments_partner_from_idx" ON "partner_plan_assignments" USING btree ("partner_id","effective_from");--> statement-breakpoint
CREATE UNIQUE INDEX "partner_server_logins_partner_server_idx" ON "partner_server_logins" USING btree ("partner_id","server_code");--> statement-breakpoint
CREATE UNIQUE INDEX "partner_server_logins_server_login_idx" ON "partner_server_logins" USING btree ("server_code","login");
--> statement-breakpoint
-- Commission lines and plan versions are append-only like the ledger: a correction is a reversal line, a rule change
-- is a new version (ledger_append_only() is the ledger's generic refusal, migration 0008).
CREATE TRIGGER commission_lines_no_change BEFORE UPDATE OR DELETE ON commission_lines
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
--> statement-breakpoint
CREATE TRIGGER commission_lines_no_truncate BEFORE TRUNCATE ON commission_lines
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
--> statement-breakpoint
CREATE TRIGGER commission_plan_versions_no_change BEFORE UPDATE OR DELETE ON commission_plan_versions
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
