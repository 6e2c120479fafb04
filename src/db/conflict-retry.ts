/**
 * Transactions PostgreSQL ended to break a conflict: a deadlock (40P01) or a serialization failure
 * (40001). Rolled back whole, nothing of them stays, and running the whole transaction again is the
 * remedy PostgreSQL documents.
 *
 * Locking rows in one fixed order keeps our own statements from deadlocking with each other, but not
 * every lock is ours to order: a foreign key check takes KEY SHARE on the row it points at, and a
 * transaction that locks a row it already holds can be queued behind a waiter when the row's lockers
 * changed meanwhile. One checkout in ~1,000 of the 64-client shopper bench (2026-12-03) died of a
 * deadlock in its confirming transaction, after the card was captured, and answered
 * INTERNAL_SERVER_ERROR while recovery settled the order later. A retry answers it at once.
 *
 * Only for a transaction whose body does nothing outside the database (no network call, no state
 * kept across attempts): then a second run is a fresh start from the same inputs.
 */
import type { Logger } from "../logger.js";
import type { Db, Tx } from "./client.js";
import { isConflict } from "./sql-state.js";

export interface ConflictRetryOptions {
  /** Runs in all, the first included (default 4). */
  attempts?: number;
  /** Told before each rerun, with the conflict and the number of the run that failed (from 1). */
  onRetry?: (error: unknown, attempt: number) => void;
}

/**
 * Runs `transaction` (one whole transaction: `db.transaction(...)`), again after a conflict, with a
 * short random pause that grows per attempt so the transactions that collided do not collide again.
 * Any other error, or a conflict on the last attempt, is thrown as it came.
 */
export async function retryConflicts<T>(
  transaction: () => Promise<T>,
  options: ConflictRetryOptions = {},
): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 4);
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (error) {
      if (attempt >= attempts || !isConflict(error)) throw error;
      options.onRetry?.(error, attempt);
      await new Promise((resolve) => setTimeout(resolve, attempt * (5 + Math.random() * 20)));
    }
  }
}

/**
 * `db.transaction(body)`, run again after a conflict, each rerun logged (a warning: a deadlock is
 * worth knowing about even when the rerun succeeds). `what` names the transaction in the log.
 */
export function transactionRetryingConflicts<T>(
  db: Db,
  logger: Logger,
  what: string,
  body: (tx: Tx) => Promise<T>,
): Promise<T> {
  return retryConflicts(() => db.transaction(body), {
    onRetry: (err, attempt) =>
      logger.warn({ err, transaction: what, attempt }, "transaction conflict; running it again"),
  });
}
