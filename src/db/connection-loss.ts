/**
 * Which errors mean "the connection to PostgreSQL went away" (a failover, a restart, a terminated
 * backend, a reset socket), as opposed to a statement that failed. One home for the rule: the
 * transaction guard and the process's last-resort handlers both ask here.
 */
import postgres from "postgres";

/** Codes postgres.js gives its own connection errors (`Errors.connection` in the driver). */
const DRIVER_CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

/** Socket errors; only counted when they came through the driver (it tags them with the query). */
const SOCKET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ETIMEDOUT"]);

/**
 * SQLSTATE class 08 (connection exception) and 57P01-57P03: the server is shutting down or
 * terminating this backend (`pg_terminate_backend`, a restart, a failover), or cannot take it now.
 */
const SERVER_CONNECTION_STATE = /^(08...|57P0[123])$/;

/** True for a connection loss, also when wrapped (drizzle's DrizzleQueryError keeps it as `cause`). */
export function isConnectionLoss(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    if (isOwnConnectionLoss(e)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

function isOwnConnectionLoss(err: object): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== "string") return false;
  if (err instanceof postgres.PostgresError) return SERVER_CONNECTION_STATE.test(code);
  if (DRIVER_CONNECTION_CODES.has(code)) return true;
  return SOCKET_CODES.has(code) && Object.hasOwn(err, "query");
}
