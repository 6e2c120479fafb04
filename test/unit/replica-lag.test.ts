/**
 * The replica staleness arithmetic (src/db/replica-lag.ts) on hand-made probe samples. Times are ms on
 * our clock (`atMs`) and on the primary's clock (`clockMs`), which deliberately disagree by an hour:
 * nothing may compare them directly.
 */
import { describe, expect, it } from "vitest";
import { ReplicaLagTracker } from "../../src/db/replica-lag.js";

const PRIMARY_CLOCK_OFFSET = 3_600_000;

function primary(atMs: number, lsn: number) {
  return { atMs, lsn: BigInt(lsn), clockMs: atMs + PRIMARY_CLOCK_OFFSET };
}
/** A replica sample; `commitAtMs` is on OUR clock and converted to the primary's here. */
function replica(replayLsn: number, commitAtMs: number | null = null) {
  return {
    replayLsn: BigInt(replayLsn),
    lastReplayedCommitMs: commitAtMs === null ? null : commitAtMs + PRIMARY_CLOCK_OFFSET,
  };
}

describe("replica lag from WAL positions", () => {
  it("knows nothing before the first probe", () => {
    const lag = new ReplicaLagTracker();
    expect(lag.lagMs()).toBeNull();
    expect(lag.stalenessMs(1000)).toBeNull();
    expect(lag.lagBytes()).toBeNull();
  });

  it("reports no lag for an idle primary, however old its last commit", () => {
    const lag = new ReplicaLagTracker();
    // The last commit was 10 minutes ago; nothing has been written since.
    for (let t = 0; t <= 60_000; t += 500) lag.record(primary(t, 5000), replica(5000, -600_000));
    expect(lag.lagMs()).toBe(0);
    expect(lag.lagBytes()).toBe(0);
    // Between probes the bound grows from the last one.
    expect(lag.stalenessMs(60_300)).toBe(300);
  });

  it("grows while replay is paused and writes continue", () => {
    const lag = new ReplicaLagTracker();
    lag.record(primary(0, 100), replica(100, -50)); // caught up
    // Replay stops at 100; the primary writes from t=10 on.
    lag.record(primary(500, 300), replica(100, -50));
    expect(lag.lagMs()).toBe(500); // current as of t=0, the last time it had all the primary had
    lag.record(primary(1000, 600), replica(100, -50));
    expect(lag.lagMs()).toBe(1000);
    expect(lag.lagBytes()).toBe(500);
    expect(lag.stalenessMs(1200)).toBe(1200);
  });

  it("catches up to the newest position it has replayed past", () => {
    const lag = new ReplicaLagTracker();
    lag.record(primary(0, 100), replica(100));
    lag.record(primary(500, 300), replica(100));
    lag.record(primary(1000, 600), replica(100));
    // Replay resumes and passes 300 but not 600 (no commit time known).
    lag.record(primary(1500, 700), replica(350));
    expect(lag.lagMs()).toBe(1000); // holds what the primary had at t=500
    lag.record(primary(2000, 700), replica(700));
    expect(lag.lagMs()).toBe(0);
  });

  it("uses the last replayed commit to see a small lag under steady writes", () => {
    const lag = new ReplicaLagTracker();
    // Every probe finds the replica a little behind the position just read, but its last replayed
    // commit is only 20 ms old: positions alone would say a whole probe interval.
    lag.record(primary(0, 1000), replica(990, -20));
    lag.record(primary(500, 2000), replica(1990, 480));
    expect(lag.lagMs()).toBe(20);
    const positionsOnly = new ReplicaLagTracker();
    positionsOnly.record(primary(0, 1000), replica(990));
    positionsOnly.record(primary(500, 2000), replica(1990));
    expect(positionsOnly.lagMs()).toBe(500);
  });

  it("never reports a negative lag when the commit time is ahead of the primary's reading", () => {
    const lag = new ReplicaLagTracker();
    lag.record(primary(0, 1000), replica(990, 5));
    expect(lag.lagMs()).toBe(0);
  });

  it("starts over when replay goes backwards (another server behind the address)", () => {
    const lag = new ReplicaLagTracker();
    lag.record(primary(0, 5000), replica(5000));
    lag.record(primary(500, 5000), replica(4000));
    expect(lag.lagMs()).toBeNull(); // not current as of t=0 any more: unknown until it passes a sample
    lag.record(primary(1000, 5000), replica(5000));
    expect(lag.lagMs()).toBe(0);
  });

  it("stays cautious when old samples are dropped", () => {
    const lag = new ReplicaLagTracker(2);
    lag.record(primary(0, 100), replica(50));
    lag.record(primary(500, 200), replica(50));
    lag.record(primary(1000, 300), replica(50)); // the t=0 sample is dropped
    lag.record(primary(1500, 300), replica(150)); // replaces t=1000: same position, later
    // It passed 100, but the sample that says when the primary was there is gone: still unknown,
    // never a guess that could be fresher than the truth.
    expect(lag.lagMs()).toBeNull();
    lag.record(primary(2000, 300), replica(250));
    expect(lag.lagMs()).toBe(1500); // passed 200, read at t=500
    lag.record(primary(2500, 300), replica(300));
    expect(lag.lagMs()).toBe(0);
  });
});
