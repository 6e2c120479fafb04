-- Written by hand (drizzle-kit does not manage functions). Outbox ids are handed out only to a
-- transaction that already has its transaction id: an outbox consumer relies on that to know when
-- every id up to some value is final (src/services/events/commit-horizon.ts).
CREATE OR REPLACE FUNCTION outbox_next_id() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_current_xact_id();
  RETURN nextval('outbox_id_seq');
END
$$;
--> statement-breakpoint
CREATE TABLE "outbox_consumers" (
	"name" text PRIMARY KEY NOT NULL,
	"last_id" bigint NOT NULL,
	"claimed_by" text,
	"claimed_until" timestamp (3) with time zone,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "outbox" ALTER COLUMN "id" SET DATA TYPE bigint;--> statement-breakpoint
ALTER TABLE "outbox" ALTER COLUMN "id" SET DEFAULT outbox_next_id();--> statement-breakpoint
CREATE INDEX "outbox_id_idx" ON "outbox" USING btree ("id");