CREATE TABLE "alert_deliveries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"alert_id" uuid NOT NULL,
	"channel" text NOT NULL,
	"event" text NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp (3) with time zone NOT NULL,
	"last_error" text,
	"delivered_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "alerts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" text NOT NULL,
	"dedupe_key" text NOT NULL,
	"severity" text NOT NULL,
	"title" text NOT NULL,
	"details" jsonb,
	"status" text NOT NULL,
	"occurrences" integer DEFAULT 1 NOT NULL,
	"first_seen_at" timestamp (3) with time zone NOT NULL,
	"last_seen_at" timestamp (3) with time zone NOT NULL,
	"acknowledged_by" text,
	"acknowledged_at" timestamp (3) with time zone,
	"resolved_by" text,
	"resolved_at" timestamp (3) with time zone,
	"resolution" text
);
--> statement-breakpoint
CREATE TABLE "operation_attempts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"operation_id" uuid NOT NULL,
	"reference" text NOT NULL,
	"attempt" integer NOT NULL,
	"action" text NOT NULL,
	"server_code" text NOT NULL,
	"login" bigint,
	"request" jsonb,
	"outcome" text NOT NULL,
	"code" integer,
	"server_text" text,
	"reply" jsonb,
	"started_at" timestamp (3) with time zone NOT NULL,
	"duration_ms" integer NOT NULL,
	"worker" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "operations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"seq" bigserial NOT NULL,
	"reference" text NOT NULL,
	"kind" text NOT NULL,
	"server_code" text NOT NULL,
	"login" bigint,
	"account_key" text NOT NULL,
	"payload" jsonb NOT NULL,
	"sealed_secret" text,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp (3) with time zone NOT NULL,
	"lease_until" timestamp (3) with time zone,
	"worker" text,
	"result" jsonb,
	"ticket" text,
	"last_error" jsonb,
	"handler" text,
	"depends_on" uuid,
	"group_id" uuid,
	"compensates" uuid,
	"requested_by" text,
	"correlation_id" text,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	"finished_at" timestamp (3) with time zone,
	CONSTRAINT "operations_seq_unique" UNIQUE("seq"),
	CONSTRAINT "operations_reference_unique" UNIQUE("reference"),
	CONSTRAINT "operations_status_ck" CHECK ("operations"."status" in ('waiting','pending','in_flight','unknown','succeeded','failed','needs_review','cancelled')),
	CONSTRAINT "operations_kind_ck" CHECK ("operations"."kind" in ('open_account','update_account','set_password','balance','credit'))
);
--> statement-breakpoint
ALTER TABLE "alert_deliveries" ADD CONSTRAINT "alert_deliveries_alert_id_alerts_id_fk" FOREIGN KEY ("alert_id") REFERENCES "public"."alerts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "operation_attempts" ADD CONSTRAINT "operation_attempts_operation_id_operations_id_fk" FOREIGN KEY ("operation_id") REFERENCES "public"."operations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "alert_deliveries_pending_idx" ON "alert_deliveries" USING btree ("next_attempt_at") WHERE "alert_deliveries"."status" = 'pending';--> statement-breakpoint
CREATE UNIQUE INDEX "alerts_open_dedupe_idx" ON "alerts" USING btree ("dedupe_key") WHERE "alerts"."status" <> 'resolved';--> statement-breakpoint
CREATE INDEX "alerts_status_idx" ON "alerts" USING btree ("status","last_seen_at");--> statement-breakpoint
CREATE INDEX "operation_attempts_operation_idx" ON "operation_attempts" USING btree ("operation_id","id");--> statement-breakpoint
CREATE INDEX "operation_attempts_reference_idx" ON "operation_attempts" USING btree ("reference");--> statement-breakpoint
CREATE INDEX "operation_attempts_login_idx" ON "operation_attempts" USING btree ("server_code","login","started_at");--> statement-breakpoint
CREATE INDEX "operation_attempts_started_idx" ON "operation_attempts" USING btree ("started_at");--> statement-breakpoint
CREATE INDEX "operations_ready_idx" ON "operations" USING btree ("seq") WHERE "operations"."status" in ('pending','unknown');--> statement-breakpoint
CREATE INDEX "operations_depends_on_idx" ON "operations" USING btree ("depends_on") WHERE "operations"."depends_on" is not null;--> statement-breakpoint
CREATE INDEX "operations_open_by_account_idx" ON "operations" USING btree ("account_key","seq") WHERE "operations"."status" in ('waiting','pending','in_flight','unknown','needs_review');--> statement-breakpoint
CREATE INDEX "operations_lease_idx" ON "operations" USING btree ("lease_until") WHERE "operations"."status" = 'in_flight';--> statement-breakpoint
CREATE INDEX "operations_status_idx" ON "operations" USING btree ("status","kind");--> statement-breakpoint
CREATE INDEX "operations_login_idx" ON "operations" USING btree ("server_code","login");--> statement-breakpoint
CREATE INDEX "operations_group_idx" ON "operations" USING btree ("group_id");