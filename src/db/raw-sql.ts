/**
 * The postgres.js client under a drizzle handle, for the hot paths' hand-written statements.
 *
 * Drizzle rebuilds a statement's SQL text, and maps its parameters and rows, on every call. The few
 * statements that run on every cart write and read are constant text sent straight to the driver, and
 * do more work each (one statement instead of several); everything else stays on drizzle. Like
 * drizzle's, they run as named prepared statements (see `prepare` in client.ts). Inside a transaction the client is the
 * transaction's own connection (with the transaction guard around it), so a hand-written statement and
 * drizzle ones share the transaction.
 *
 * One thing differs from a plain postgres.js client: drizzle turns off the driver's timestamp parsing
 * and serialising and its JSON serialising (it maps those itself), so timestamps go in as ISO strings
 * and come out as strings, and JSON parameters go in as JSON text.
 */
import type postgres from "postgres";
import type { Executor } from "./client.js";

/** What hot-path statements are issued through: the pool or an open transaction's connection. */
export type RawSql = postgres.Sql | postgres.TransactionSql;

interface WithClient {
  $client?: RawSql;
  session?: { client?: RawSql };
}

export function rawSql(executor: Executor): RawSql {
  const handle = executor as unknown as WithClient;
  // A transaction's session carries its connection; the database handle carries the pool.
  const client = handle.session?.client ?? handle.$client;
  if (typeof client !== "function") throw new Error("no postgres.js client under this drizzle handle");
  return client;
}
