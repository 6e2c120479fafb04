ALTER TABLE "customers" ADD COLUMN "session_epoch" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "staff_users" ADD COLUMN "session_epoch" integer DEFAULT 0 NOT NULL;