/**
 * `--vacuum`: VACUUM (ANALYZE) of the run's database before each measured window, standing in for
 * autovacuum on a PostgreSQL that has it off (the machine line says which; `auto`, the default, does
 * it exactly then). Without it, nothing ever analyses or vacuums a run's tables: every plan is made
 * without statistics, and the rows a run updates over and over (variants, carts, orders, outbox) pile
 * up dead versions for the whole run. On this project's 2-core machine, whose PostgreSQL has
 * autovacuum off, that cost the shopper flow about half its orders per second by the end of a run.
 */
import postgres from "postgres";

/** Seconds the VACUUM (ANALYZE) took. */
export async function vacuumAnalyze(databaseUrl: string): Promise<number> {
  const started = performance.now();
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe("vacuum (analyze)");
  } finally {
    await sql.end({ timeout: 5 });
  }
  return Math.round((performance.now() - started) / 100) / 10;
}
