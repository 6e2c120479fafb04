/**
 * The in-process fixed-window rate limiter: the in-memory twin's limiter, and the Redis limiter's
 * fallback while Redis cannot be reached (so throttles fail closed, per instance).
 *
 * Memory is bounded whatever the keys: windows that have ended are dropped (on touch, and by a sweep at
 * most every `sweepEveryMs`), and at `maxEntries` the oldest windows are evicted to make room. Evicting
 * forgets a count (that key starts afresh) but never lets a request through unchecked; windows are kept
 * in start order, so the oldest one is also the one closest to ending on its own.
 */
import type { RateLimiter, RateLimitResult } from "./types.js";

export interface FixedWindowLimiterOptions {
  /** Most windows kept at once (default 100 000, a few tens of MB at worst). */
  maxEntries?: number;
  sweepEveryMs?: number;
  now?: () => number;
}

interface Window {
  count: number;
  resetAt: number;
}

export class FixedWindowLimiter implements RateLimiter {
  /** Insertion order is window start order: a restarted window is deleted and inserted again. */
  private readonly windows = new Map<string, Window>();
  private readonly maxEntries: number;
  private readonly sweepEveryMs: number;
  private readonly now: () => number;
  private sweptAt: number;

  constructor(opts: FixedWindowLimiterOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 100_000;
    this.sweepEveryMs = opts.sweepEveryMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    if (!Number.isSafeInteger(this.maxEntries) || this.maxEntries < 1) {
      throw new RangeError("maxEntries must be a positive integer");
    }
    this.sweptAt = this.now();
  }

  /** How many windows are held (for tests and metrics). */
  get size(): number {
    return this.windows.size;
  }

  async hit(key: string, limit: number, windowSeconds: number): Promise<RateLimitResult> {
    return this.hitNow(key, limit, windowSeconds);
  }

  /** The synchronous core: atomic by construction (no await between read and write). */
  hitNow(key: string, limit: number, windowSeconds: number): RateLimitResult {
    const now = this.now();
    if (now - this.sweptAt >= this.sweepEveryMs) this.sweep(now);
    let w = this.windows.get(key);
    if (w && w.resetAt <= now) {
      this.windows.delete(key);
      w = undefined;
    }
    if (!w) {
      this.makeRoom(now);
      w = { count: 0, resetAt: now + windowSeconds * 1000 };
      this.windows.set(key, w);
    }
    w.count++;
    return {
      allowed: w.count <= limit,
      remaining: Math.max(0, limit - w.count),
      resetSeconds: Math.max(1, Math.ceil((w.resetAt - now) / 1000)),
    };
  }

  private makeRoom(now: number): void {
    if (this.windows.size < this.maxEntries) return;
    // Full: first drop what has ended (at most once a second: a flood of new keys must not turn every
    // hit into a full scan), then the oldest windows.
    if (now - this.sweptAt >= 1_000) this.sweep(now);
    for (const key of this.windows.keys()) {
      if (this.windows.size < this.maxEntries) break;
      this.windows.delete(key);
    }
  }

  private sweep(now: number): void {
    this.sweptAt = now;
    for (const [key, w] of this.windows) if (w.resetAt <= now) this.windows.delete(key);
  }
}
