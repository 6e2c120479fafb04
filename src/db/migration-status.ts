/**
 * Is this database migrated to what this build expects? Readiness needs the answer: an empty or
 * half-migrated database accepts connections and then fails every query.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type postgres from "postgres";
import { migrationsFolder } from "./migrate.js";

/** The number of migrations this build ships (drizzle-kit's journal). */
export function expectedMigrationCount(): number {
  const journal = JSON.parse(readFileSync(path.join(migrationsFolder, "meta", "_journal.json"), "utf8")) as {
    entries: unknown[];
  };
  return journal.entries.length;
}

/** Applied migrations, from drizzle's own bookkeeping table; 0 when the table does not exist. */
export async function appliedMigrationCount(sql: postgres.Sql): Promise<number> {
  const [table] = await sql<{ exists: boolean }[]>`
    select to_regclass('drizzle.__drizzle_migrations') is not null as exists`;
  if (!table?.exists) return 0;
  const [row] = await sql<
    { applied: number }[]
  >`select count(*)::int as applied from drizzle.__drizzle_migrations`;
  return Number(row?.applied ?? 0);
}
