/**
 * Up to which outbox id every event is final: committed (visible to any later snapshot) or never going
 * to be. An outbox consumer may move its cursor only that far.
 *
 * Why it is needed. Ids come from a sequence when a row is inserted, but transactions commit in any
 * order: a transaction holding id 41 may still be open while the one holding 42 has committed. A
 * cursor that moved past 42 because 41 was not visible yet would skip 41 forever.
 *
 * The rule (exact, no time margin). A mark is taken in two statements, in this order:
 *   1. `upTo` := the sequence's last value: every id <= upTo has been handed out by now;
 *   2. `xid` := a new transaction id, `pg_current_xact_id()` of the observing statement itself.
 * Every transaction that holds an id <= upTo took it before step 1, and had its transaction id before
 * taking it (the outbox id default, `outbox_next_id()`, makes sure of that). Transaction ids are handed
 * out in increasing order, so each of those transactions has an id below `xid`. Once the oldest
 * transaction still running is at least `xid` (pg_snapshot_xmin of a later snapshot >= xid), all of
 * them have finished, and every outbox id <= upTo is final: a read that starts after that check sees
 * every committed row up to `upTo`.
 *
 * Why a new transaction id and not the snapshot's xmax: xmax is one past the latest *completed*
 * transaction, and transactions still running can have ids at or above it, so "xmin >= xmax" would
 * not wait for them (a test that commits out of order caught exactly that). Taking an id costs one
 * transaction id and a commit record per observation: one per pass of the lease holder.
 *
 * Marks are kept in memory, oldest first; each observation adds one and settles every mark whose
 * `xid` the oldest running transaction has reached. When nothing else is writing, a mark settles in
 * its own observation (the snapshot's xmin is then the new id itself). A long-running writing
 * transaction anywhere in the database holds every later mark back until it ends: events are then
 * late, never skipped.
 */
import { sql } from "drizzle-orm";
import type { Executor } from "../../db/client.js";

/** The sequence behind outbox ids (the `id` column was a bigserial; its sequence kept the name). */
export const OUTBOX_ID_SEQUENCE = "outbox_id_seq";

interface Mark {
  upTo: number;
  /** A transaction id taken after `upTo` was read. */
  xid: bigint;
}

/** At most this many unsettled marks are kept; past it, the newest replaces the last one. */
const MAX_MARKS = 64;

export interface HorizonObservation {
  /** Every outbox id <= this is final; null when no mark has settled yet. */
  settled: number | null;
  /** Marks still waiting for older transactions to finish: ask again soon. */
  pending: boolean;
}

export class CommitHorizon {
  private marks: Mark[] = [];
  private settledUpTo: number | null = null;

  /**
   * Takes a new mark and settles what can be settled now. Two statements, in this order, on the pool
   * (not inside a transaction of the caller's: the new transaction id must be a fresh one).
   */
  async observe(db: Executor): Promise<HorizonObservation> {
    const upTo = await lastHandedOutId(db);
    // The snapshot is the statement's, taken before the new id is assigned: its xmin is at most that id.
    const [snap] = await db.execute<{ xid: string; xmin: string }>(sql`
      select pg_current_xact_id()::text as xid, pg_snapshot_xmin(pg_current_snapshot())::text as xmin`);
    if (!snap) throw new Error("pg_current_xact_id returned no row");
    this.addMark({ upTo, xid: BigInt(snap.xid) });
    const xmin = BigInt(snap.xmin);
    // Marks grow in both fields, so the settled ones are a prefix.
    while (this.marks[0] && this.marks[0].xid <= xmin) {
      const mark = this.marks.shift() as Mark;
      this.settledUpTo = Math.max(this.settledUpTo ?? 0, mark.upTo);
    }
    return { settled: this.settledUpTo, pending: this.marks.length > 0 };
  }

  private addMark(mark: Mark): void {
    const last = this.marks.at(-1);
    // Nothing handed out since the last mark: the older mark settles no later than this one.
    if (last && mark.upTo <= last.upTo) return;
    if (mark.upTo <= (this.settledUpTo ?? -1)) return;
    if (this.marks.length >= MAX_MARKS) this.marks.pop();
    this.marks.push(mark);
  }
}

/** The highest id the outbox sequence has handed out (0 before the first). Counts uncommitted ones too. */
export async function lastHandedOutId(db: Executor): Promise<number> {
  const [row] = await db.execute<{ upTo: string }>(
    sql`select (case when is_called then last_value else last_value - 1 end)::text as "upTo"
        from ${sql.identifier(OUTBOX_ID_SEQUENCE)}`,
  );
  if (!row) throw new Error(`${OUTBOX_ID_SEQUENCE} returned no row`);
  return Number(row.upTo);
}
