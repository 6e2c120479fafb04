/** Where the embedded PostgreSQL (embedded.ts) is reached: kept apart so that reading it loads nothing else. */

/** Password of the embedded server's `postgres` user (it listens on 127.0.0.1 only). */
export const EMBEDDED_PASSWORD = "cartograph";
/** The database the embedded server creates for Cartograph. */
export const EMBEDDED_DATABASE = "cartograph";

/** URL of a database on an embedded server listening on `port`. */
export function embeddedDatabaseUrl(port: number, database = EMBEDDED_DATABASE): string {
  return `postgres://postgres:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/${database}`;
}
