CREATE TABLE "client_flags" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"client_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"reason" text NOT NULL,
	"movement_id" uuid,
	"created_at" timestamp (3) with time zone NOT NULL,
	"cleared_at" timestamp (3) with time zone,
	"cleared_by" text
);
--> statement-breakpoint
CREATE TABLE "fx_rates" (
	"base" char(3) NOT NULL,
	"quote" char(3) NOT NULL,
	"rate" text NOT NULL,
	"updated_by" text NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "fx_rates_base_quote_pk" PRIMARY KEY("base","quote"),
	CONSTRAINT "fx_rates_rate_ck" CHECK ("fx_rates"."rate" ~ '^[0-9]+(\.[0-9]{1,10})?$')
);
--> statement-breakpoint
CREATE TABLE "money_movements" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" text NOT NULL,
	"direction" text NOT NULL,
	"status" text NOT NULL,
	"client_id" uuid NOT NULL,
	"trading_account_id" uuid NOT NULL,
	"amount_minor" bigint NOT NULL,
	"currency" char(3) NOT NULL,
	"counter_account_id" uuid,
	"counter_amount_minor" bigint,
	"counter_currency" char(3),
	"fx_rate" text,
	"psp" text,
	"psp_payment_id" text,
	"psp_payout_id" text,
	"payment_url" text,
	"destination" jsonb,
	"refunded_minor" bigint DEFAULT 0 NOT NULL,
	"operation_id" uuid,
	"return_operation_id" uuid,
	"ticket" text,
	"requested_by_type" text NOT NULL,
	"requested_by_id" text NOT NULL,
	"reason" text,
	"failure_reason" text,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	"completed_at" timestamp (3) with time zone,
	CONSTRAINT "money_movements_amount_ck" CHECK ("money_movements"."amount_minor" > 0)
);
--> statement-breakpoint
CREATE TABLE "movement_approvals" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"movement_id" uuid NOT NULL,
	"staff_id" uuid NOT NULL,
	"decision" text NOT NULL,
	"comment" text,
	"at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "movement_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"movement_id" uuid NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	"source" text NOT NULL,
	"type" text NOT NULL,
	"message" text NOT NULL,
	"details" jsonb,
	"internal" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "psp_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"psp" text NOT NULL,
	"event_id" text NOT NULL,
	"type" text NOT NULL,
	"body_sha256" text NOT NULL,
	"payload" jsonb NOT NULL,
	"movement_id" uuid,
	"outcome" text NOT NULL,
	"note" text,
	"occurred_at" timestamp (3) with time zone NOT NULL,
	"received_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "client_flags" ADD CONSTRAINT "client_flags_client_id_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."clients"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "client_flags" ADD CONSTRAINT "client_flags_movement_id_money_movements_id_fk" FOREIGN KEY ("movement_id") REFERENCES "public"."money_movements"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "money_movements" ADD CONSTRAINT "money_movements_client_id_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."clients"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "money_movements" ADD CONSTRAINT "money_movements_trading_account_id_trading_accounts_id_fk" FOREIGN KEY ("trading_account_id") REFERENCES "public"."trading_accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "money_movements" ADD CONSTRAINT "money_movements_counter_account_id_trading_accounts_id_fk" FOREIGN KEY ("counter_account_id") REFERENCES "public"."trading_accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "money_movements" ADD CONSTRAINT "money_movements_operation_id_operations_id_fk" FOREIGN KEY ("operation_id") REFERENCES "public"."operations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "money_movements" ADD CONSTRAINT "money_movements_return_operation_id_operations_id_fk" FOREIGN KEY ("return_operation_id") REFERENCES "public"."operations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "movement_approvals" ADD CONSTRAINT "movement_approvals_movement_id_money_movements_id_fk" FOREIGN KEY ("movement_id") REFERENCES "public"."money_movements"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "movement_events" ADD CONSTRAINT "movement_events_movement_id_money_movements_id_fk" FOREIGN KEY ("movement_id") REFERENCES "public"."money_movements"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "psp_events" ADD CONSTRAINT "psp_events_movement_id_money_movements_id_fk" FOREIGN KEY ("movement_id") REFERENCES "public"."money_movements"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "client_flags_client_idx" ON "client_flags" USING btree ("client_id");--> statement-breakpoint
CREATE UNIQUE INDEX "money_movements_psp_payment_idx" ON "money_movements" USING btree ("psp","psp_payment_id");--> statement-breakpoint
CREATE UNIQUE INDEX "money_movements_psp_payout_idx" ON "money_movements" USING btree ("psp","psp_payout_id");--> statement-breakpoint
CREATE UNIQUE INDEX "money_movements_open_withdrawal_idx" ON "money_movements" USING btree ("trading_account_id") WHERE "money_movements"."kind" = 'withdrawal' and "money_movements"."status" in ('requested','awaiting_second_approval','approved','debited','payout_pending','payout_failed','returning');--> statement-breakpoint
CREATE INDEX "money_movements_client_idx" ON "money_movements" USING btree ("client_id","created_at");--> statement-breakpoint
CREATE INDEX "money_movements_account_idx" ON "money_movements" USING btree ("trading_account_id","created_at");--> statement-breakpoint
CREATE INDEX "money_movements_status_idx" ON "money_movements" USING btree ("status","kind");--> statement-breakpoint
CREATE INDEX "money_movements_operation_idx" ON "money_movements" USING btree ("operation_id");--> statement-breakpoint
CREATE UNIQUE INDEX "movement_approvals_staff_idx" ON "movement_approvals" USING btree ("movement_id","staff_id");--> statement-breakpoint
CREATE INDEX "movement_events_movement_idx" ON "movement_events" USING btree ("movement_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "psp_events_event_idx" ON "psp_events" USING btree ("psp","event_id");--> statement-breakpoint
CREATE INDEX "psp_events_movement_idx" ON "psp_events" USING btree ("movement_id");