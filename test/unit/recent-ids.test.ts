import { describe, expect, it } from "vitest";
import { RecentIds } from "../../src/infra/recent-ids.js";

describe("RecentIds", () => {
  it("says whether an id is new, and drops repeats", () => {
    const seen = new RecentIds<number>(10);
    expect(seen.add(1)).toBe(true);
    expect(seen.add(2)).toBe(true);
    expect(seen.add(1)).toBe(false);
    expect(seen.has(2)).toBe(true);
    expect(seen.has(3)).toBe(false);
  });

  it("keeps at most `capacity` ids, forgetting the oldest first", () => {
    const seen = new RecentIds<number>(100);
    for (let id = 1; id <= 10_000; id++) expect(seen.add(id)).toBe(true);
    expect(seen.size).toBe(100);
    expect(seen.has(9_901)).toBe(true);
    expect(seen.has(9_900)).toBe(false);
    // An id older than the window is handled again rather than dropped.
    expect(seen.add(1)).toBe(true);
  });

  it("a repeat does not refresh an id's place in the window", () => {
    const seen = new RecentIds<string>(2);
    seen.add("a");
    seen.add("b");
    expect(seen.add("a")).toBe(false);
    seen.add("c"); // evicts "a", the first seen
    expect(seen.has("a")).toBe(false);
    expect(seen.has("b")).toBe(true);
  });

  it("refuses a capacity that is not a positive integer", () => {
    expect(() => new RecentIds(0)).toThrow(RangeError);
    expect(() => new RecentIds(1.5)).toThrow(RangeError);
  });
});
