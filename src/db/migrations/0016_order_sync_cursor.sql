ALTER TABLE "trade_sync_cursors" ADD COLUMN "orders_synced_to" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "trade_sync_cursors" ADD COLUMN "orders_lease_owner" text;--> statement-breakpoint
ALTER TABLE "trade_sync_cursors" ADD COLUMN "orders_lease_until" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "trade_sync_cursors" ADD COLUMN "orders_last_pass_started_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "trade_sync_cursors" ADD COLUMN "orders_last_success_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "trade_sync_cursors" ADD COLUMN "orders_last_error" text;--> statement-breakpoint
ALTER TABLE "trade_sync_cursors" ADD COLUMN "orders_last_error_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "trade_sync_cursors" ADD COLUMN "orders_consecutive_failures" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Until now finished orders were listed in the same pass as deals: they are complete up to where the deals are.
UPDATE "trade_sync_cursors" SET "orders_synced_to" = "synced_to";