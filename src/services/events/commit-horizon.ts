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
 *   2. `waitFor` := the transaction ids of every transaction running in this database now (client
 *      backends in pg_stat_activity, and prepared transactions).
 * Every transaction that holds an id <= upTo took it before step 1, and had its transaction id before
 * taking it (the outbox id default, `outbox_next_id()`, makes sure of that). At step 2 it has either
 * finished or is running with that id, in this database (it wrote our outbox table): then it is in
 * `waitFor`. Once none of `waitFor` is running any more, all of them have finished, and every outbox
 * id <= upTo is final: a read that starts after that check sees every committed row up to `upTo`.
 *
 * Why not the snapshot's xmin/xmax. xmax is one past the latest *completed* transaction, and running
 * transactions can have ids at or above it, so "xmin >= xmax" does not wait for them (the out-of-order
 * stress test caught exactly that); and xmin is cluster-wide, so a transaction left open in another
 * database of the same server would hold every consumer here back. Transaction ids in
 * pg_stat_activity are 32-bit; one cannot be handed out again while a mark waits on it (that takes
 * two billion transactions).
 *
 * Marks are kept in memory, oldest first; each observation adds one and settles every mark whose
 * transactions have all finished. When nothing else is writing, a mark settles in its own
 * observation. A long-running writing transaction of this database holds every later mark back until
 * it ends: events are then late, never skipped.
 */
import { sql } from "drizzle-orm";
import type { Executor } from "../../db/client.js";

/** The sequence behind outbox ids (the `id` column was a bigserial; its sequence kept the name). */
export const OUTBOX_ID_SEQUENCE = "outbox_id_seq";

interface Mark {
  upTo: number;
  /** Transactions running (with an id) after `upTo` was read. */
  waitFor: string[];
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

  /** Takes a new mark and settles what can be settled now. Two statements, in this order. */
  async observe(db: Executor): Promise<HorizonObservation> {
    const upTo = await lastHandedOutId(db);
    const running = await runningTransactions(db);
    this.addMark({ upTo, waitFor: running });
    const stillRunning = new Set(running);
    // Every mark waits on whatever ran when it was taken; a later mark also on what started since.
    // So once a mark has settled every older one has too: the settled ones are a prefix.
    while (this.marks[0]?.waitFor.every((xid) => !stillRunning.has(xid))) {
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

/** The ids of the transactions running in this database that have one (prepared ones included). */
async function runningTransactions(db: Executor): Promise<string[]> {
  const rows = await db.execute<{ xid: string }>(sql`
    select backend_xid::text as xid from pg_stat_activity
     where datname = current_database() and backend_xid is not null
    union
    select transaction::text from pg_prepared_xacts where database = current_database()`);
  return rows.map((r) => r.xid);
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
