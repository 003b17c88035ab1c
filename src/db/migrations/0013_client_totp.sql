ALTER TABLE "clients" ADD COLUMN "totp_secret_sealed" text;--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "totp_enabled" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "totp_last_step" bigint;