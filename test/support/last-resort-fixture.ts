/**
 * A process with the real last-resort handlers and one unawaited failure (LAST_RESORT_CASE):
 *  - `connection-loss`: a real postgres.js query whose backend is terminated, with nobody awaiting it;
 *  - `rejection`: any other unhandled rejection;  - `exception`: an uncaught exception.
 * It logs `still serving` 500 ms later if it survived.
 */
import postgres from "postgres";
import { createLogger } from "../../src/logger.js";
import { installLastResortHandlers } from "../../src/startup/process-guards.js";

const logger = createLogger("info", { format: "json" });
installLastResortHandlers({ logger, cleanup: async () => logger.info({ event: "cleanup" }, "cleanup ran") });

const sql = postgres(process.env.DATABASE_URL ?? "", { max: 1, onnotice: () => {} });
switch (process.env.LAST_RESORT_CASE) {
  case "connection-loss":
    await sql`select 1`;
    // Deliberately left without a rejection handler.
    void sql`select pg_terminate_backend(pg_backend_pid())`.then(() => {});
    break;
  case "rejection":
    void Promise.reject(new TypeError("not a connection problem"));
    break;
  case "exception":
    setImmediate(() => {
      throw new TypeError("Cannot read properties of null (reading 'write')");
    });
    break;
}
setTimeout(() => {
  logger.info({ event: "alive" }, "still serving");
  void sql.end({ timeout: 1 }).then(() => process.exit(0));
}, 500);
