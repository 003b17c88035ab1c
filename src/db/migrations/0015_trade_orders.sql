CREATE TABLE "trade_open_orders" (
	"server_code" text NOT NULL,
	"ticket" text NOT NULL,
	"platform" text NOT NULL,
	"login" bigint NOT NULL,
	"symbol" text NOT NULL,
	"order_type" text NOT NULL,
	"side" text NOT NULL,
	"state" text NOT NULL,
	"volume" bigint NOT NULL,
	"volume_remaining" bigint NOT NULL,
	"price" double precision NOT NULL,
	"trigger_price" double precision NOT NULL,
	"stop_loss" double precision NOT NULL,
	"take_profit" double precision NOT NULL,
	"setup_time" timestamp (3) with time zone NOT NULL,
	"expiration" timestamp (3) with time zone,
	"position_id" text,
	"comment" text DEFAULT '' NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "trade_open_orders_server_code_ticket_pk" PRIMARY KEY("server_code","ticket")
);
--> statement-breakpoint
ALTER TABLE "trade_records" DROP CONSTRAINT "trade_records_type_ck";--> statement-breakpoint
ALTER TABLE "trade_records" ADD COLUMN "order_type" text;--> statement-breakpoint
ALTER TABLE "trade_records" ADD COLUMN "order_state" text;--> statement-breakpoint
ALTER TABLE "trade_records" ADD COLUMN "volume_remaining" bigint;--> statement-breakpoint
ALTER TABLE "trade_records" ADD COLUMN "stop_loss" double precision;--> statement-breakpoint
ALTER TABLE "trade_records" ADD COLUMN "take_profit" double precision;--> statement-breakpoint
CREATE INDEX "trade_open_orders_account_idx" ON "trade_open_orders" USING btree ("server_code","login");--> statement-breakpoint
ALTER TABLE "trade_records" ADD CONSTRAINT "trade_records_type_ck" CHECK ("trade_records"."record_type" in ('deal','closed_trade','balance','order'));