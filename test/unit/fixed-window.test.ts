import { describe, expect, it } from "vitest";
import { FixedWindowLimiter } from "../../src/infra/fixed-window.js";

function clock() {
  let now = 1_000_000;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("FixedWindowLimiter (in-process)", () => {
  it("counts per key within a window and starts a new window after it", () => {
    const c = clock();
    const limiter = new FixedWindowLimiter({ now: c.now });
    const results = [1, 2, 3, 4].map(() => limiter.hitNow("k", 3, 10));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results.map((r) => r.remaining)).toEqual([2, 1, 0, 0]);
    expect(results[0]!.resetSeconds).toBe(10);
    c.advance(4_500);
    expect(limiter.hitNow("k", 3, 10)).toEqual({ allowed: false, remaining: 0, resetSeconds: 6 });
    expect(limiter.hitNow("other", 3, 10).allowed).toBe(true);
    c.advance(5_500);
    expect(limiter.hitNow("k", 3, 10)).toEqual({ allowed: true, remaining: 2, resetSeconds: 10 });
  });

  it("stays within maxEntries under a flood of junk keys, evicting the oldest windows", () => {
    const c = clock();
    const limiter = new FixedWindowLimiter({ maxEntries: 100, now: c.now });
    for (let i = 0; i < 10_000; i++) {
      limiter.hitNow(`junk:${i}`, 5, 60);
      expect(limiter.size).toBeLessThanOrEqual(100);
    }
    // The newest windows are the ones kept: the last key still counts, the first was evicted.
    expect(limiter.hitNow("junk:9999", 1, 60).allowed).toBe(false);
    expect(limiter.hitNow("junk:0", 1, 60).allowed).toBe(true);
  });

  it("a key at its limit stays limited while fewer than maxEntries other keys arrive", () => {
    const c = clock();
    const limiter = new FixedWindowLimiter({ maxEntries: 1_000, now: c.now });
    for (let i = 0; i < 3; i++) limiter.hitNow("victim-of-brute-force", 3, 60);
    for (let i = 0; i < 998; i++) limiter.hitNow(`junk:${i}`, 3, 60);
    expect(limiter.hitNow("victim-of-brute-force", 3, 60).allowed).toBe(false);
  });

  it("drops windows that have ended, on a sweep, before evicting live ones", () => {
    const c = clock();
    const limiter = new FixedWindowLimiter({ maxEntries: 10, sweepEveryMs: 60_000, now: c.now });
    for (let i = 0; i < 5; i++) limiter.hitNow(`short:${i}`, 1, 1);
    for (let i = 0; i < 5; i++) limiter.hitNow(`long:${i}`, 1, 600);
    expect(limiter.size).toBe(10);
    c.advance(2_000);
    limiter.hitNow("new", 1, 600); // full: the ended short windows go, the long ones stay
    expect(limiter.size).toBe(6);
    for (let i = 0; i < 5; i++) expect(limiter.hitNow(`long:${i}`, 1, 600).allowed).toBe(false);
    c.advance(600_000);
    limiter.hitNow("later", 1, 1); // the periodic sweep removes what ended meanwhile
    expect(limiter.size).toBe(1);
  });

  it("refuses a nonsensical bound", () => {
    expect(() => new FixedWindowLimiter({ maxEntries: 0 })).toThrow(RangeError);
  });
});
