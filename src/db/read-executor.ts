/**
 * Where a read that may tolerate a slightly stale answer runs. The caller says whether its request
 * allows the replica (`ReadTarget`, decided in server/read-routing.ts); this decides whether the
 * replica can take it now, and answers from the primary when the replica fails underneath the read.
 * Only idempotent reads go through here, so running one again on the primary is always safe.
 */
import type { Db } from "./client.js";
import type { ReadReplica } from "./read-replica.js";
import { errorCodes, isConflict } from "./sql-state.js";

export type ReadTarget = "primary" | "replica";

export interface ReadExecutor {
  /**
   * Runs `read` on the replica when `target` is "replica" and the replica is up and within its lag
   * bound, else on the primary. A read that fails on the replica because its connection failed, or
   * because replay cancelled it (a recovery conflict), is run again on the primary.
   */
  run<T>(target: ReadTarget | undefined, read: (db: Db) => PromiseLike<T>): Promise<T>;
}

type ReplicaPool = Pick<ReadReplica, "db" | "usable" | "readFailed">;

export function createReadExecutor(primary: Db, replica?: ReplicaPool): ReadExecutor {
  return {
    async run(target, read) {
      if (target !== "replica" || !replica?.usable()) return read(primary);
      try {
        return await read(replica.db);
      } catch (e) {
        const connectionLost = isConnectionFailure(e);
        if (!connectionLost && !isRecoveryConflict(e)) throw e;
        replica.readFailed(e, connectionLost);
        return read(primary);
      }
    },
  };
}

// postgres.js codes for a connection that failed or went away, and Node's socket errors.
const CONNECTION_ERROR_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
// SQLSTATEs of a server that is shutting down, crashed or is not accepting connections yet.
const SERVER_GOING_AWAY = new Set(["57P01", "57P02", "57P03"]);

/** The read could not complete because the connection or the server went away. */
export function isConnectionFailure(error: unknown): boolean {
  return errorCodes(error).some(
    (code) => CONNECTION_ERROR_CODES.has(code) || SERVER_GOING_AWAY.has(code) || code.startsWith("08"),
  );
}

/**
 * A hot standby cancels a query whose rows replay must change (SQLSTATE 40001, or 40P01 when it
 * deadlocks with replay); the primary can answer it.
 */
export function isRecoveryConflict(error: unknown): boolean {
  return isConflict(error);
}
