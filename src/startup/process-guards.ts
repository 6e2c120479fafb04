/**
 * The last resort for errors nothing awaited. A lost PostgreSQL connection (the driver's
 * connection-closed family, see db/connection-loss.ts) is known to be safe: the pool reconnects and
 * the request it belonged to has already failed, so it is logged and the process keeps serving.
 * Anything else means state we cannot vouch for: it is logged, the embedded database and pools are
 * stopped (bounded), and the process exits.
 */
import { isConnectionLoss } from "../db/connection-loss.js";
import type { Logger } from "../logger.js";
import { EXIT_CODES } from "./startup-error.js";

export interface LastResortOptions {
  logger: Logger;
  /** Best-effort clean-up before exiting (stop the embedded database); bounded by `cleanupMs`. */
  cleanup: () => Promise<void>;
  cleanupMs?: number;
  exit?: (code: number) => void;
}

export function installLastResortHandlers(opts: LastResortOptions): void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let exiting = false;
  const handle = (kind: "unhandledRejection" | "uncaughtException") => (err: unknown) => {
    if (isConnectionLoss(err)) {
      opts.logger.warn({ err, kind }, "PostgreSQL connection lost outside any request; the pool reconnects");
      return;
    }
    opts.logger.fatal({ err, kind }, `${kind}: exiting`);
    if (exiting) return;
    exiting = true;
    const timer = setTimeout(() => exit(EXIT_CODES.unexpected), opts.cleanupMs ?? 10_000);
    timer.unref();
    opts
      .cleanup()
      .catch((e: unknown) => opts.logger.error({ err: e }, "clean-up after a fatal error failed"))
      .finally(() => exit(EXIT_CODES.unexpected));
  };
  process.on("unhandledRejection", handle("unhandledRejection"));
  process.on("uncaughtException", handle("uncaughtException"));
}
