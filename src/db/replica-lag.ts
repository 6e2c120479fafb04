/**
 * How stale a streaming replica may be, from WAL positions: pure arithmetic over probe samples.
 *
 * The question is "the replica holds everything the primary held at time T; how long ago was T?".
 * Each probe asks the primary for its WAL write position (remembering when, on our monotonic clock)
 * and then the replica for its replay position. Once the replica has replayed past a remembered
 * position, it holds everything the primary held when that position was read. An idle primary does not
 * look like lag: both positions stand still and equal, so the replica is current as of every probe
 * (the replay timestamp alone would keep growing there).
 *
 * Under steady writes the replica is rarely past the position just read, which alone would report a
 * whole probe interval of lag. The last replayed commit time refines it: the replica holds every
 * transaction committed before it. That time is on the primary's clock, so it is placed on ours through
 * the primary's clock reading of the same probe; no clocks of different machines are compared.
 * Both are upper bounds of the true staleness; the tighter one wins.
 */

export interface PrimarySample {
  /** Our monotonic clock (ms), read just before the primary was asked. */
  atMs: number;
  /** pg_current_wal_lsn() as a byte position. */
  lsn: bigint;
  /** The primary's clock_timestamp() in the same statement (epoch ms). */
  clockMs: number;
}

export interface ReplicaSample {
  /** pg_last_wal_replay_lsn() as a byte position, read after the primary sample. */
  replayLsn: bigint;
  /** pg_last_xact_replay_timestamp(): commit time of the last replayed transaction, primary clock (epoch ms). */
  lastReplayedCommitMs: number | null;
}

export class ReplicaLagTracker {
  /** Our clock time at which the replica is known to hold all the primary held; null = unknown. */
  private freshAsOfMs: number | null = null;
  private lastProbeAtMs: number | null = null;
  private lastReplayLsn: bigint | null = null;
  private bytesBehind: number | null = null;
  /** Primary samples the replica has not replayed past yet, oldest (and lowest LSN) first. */
  private pending: PrimarySample[] = [];

  constructor(private readonly maxPending = 1000) {}

  record(primary: PrimarySample, replica: ReplicaSample): void {
    if (this.lastReplayLsn !== null && replica.replayLsn < this.lastReplayLsn) {
      // Replay went backwards: another server behind the same address. Start over.
      this.reset();
    }
    this.lastReplayLsn = replica.replayLsn;
    // A later sample at the same position says strictly more; dropping the oldest one only makes the
    // answer more cautious.
    if (this.pending.at(-1)?.lsn === primary.lsn) this.pending.pop();
    this.pending.push(primary);
    if (this.pending.length > this.maxPending) this.pending.shift();
    let fresh = this.freshAsOfMs ?? Number.NEGATIVE_INFINITY;
    for (let next = this.pending[0]; next && next.lsn <= replica.replayLsn; next = this.pending[0]) {
      fresh = Math.max(fresh, next.atMs);
      this.pending.shift();
    }
    if (replica.lastReplayedCommitMs !== null) {
      const commitAge = Math.max(0, primary.clockMs - replica.lastReplayedCommitMs);
      fresh = Math.max(fresh, primary.atMs - commitAge);
    }
    this.freshAsOfMs = Number.isFinite(fresh) ? fresh : null;
    this.lastProbeAtMs = primary.atMs;
    const behind = primary.lsn - replica.replayLsn;
    this.bytesBehind = behind > 0n ? Number(behind) : 0;
  }

  /** Forget everything (the replica went away; its next answer starts a new history). */
  reset(): void {
    this.freshAsOfMs = null;
    this.lastProbeAtMs = null;
    this.lastReplayLsn = null;
    this.bytesBehind = null;
    this.pending = [];
  }

  /** Staleness as of the last probe (0 = it had replayed all the primary had then); null = unknown. */
  lagMs(): number | null {
    if (this.freshAsOfMs === null || this.lastProbeAtMs === null) return null;
    return Math.max(0, this.lastProbeAtMs - this.freshAsOfMs);
  }

  /** Upper bound of the replica's staleness at `nowMs`: it grows between probes. */
  stalenessMs(nowMs: number): number | null {
    return this.freshAsOfMs === null ? null : Math.max(0, nowMs - this.freshAsOfMs);
  }

  /** WAL bytes the replica had not replayed at the last probe. */
  lagBytes(): number | null {
    return this.bytesBehind;
  }

  /** Our clock time of the last recorded probe. */
  probedAtMs(): number | null {
    return this.lastProbeAtMs;
  }
}
