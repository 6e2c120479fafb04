/**
 * The ports Cartograph needs from Redis. Each has a Redis adapter (production, several instances) and
 * an in-memory twin (embedded default, single process); the contract tests run the same cases on both.
 */

/** A string cache. Failures never propagate: a cache that is down is a cache that misses. */
export interface Cache {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Extends the TTL of an existing key (no-op when absent). */
  touch(key: string, ttlSeconds: number): Promise<void>;
  del(...keys: string[]): Promise<void>;
  /**
   * Versioned entries, for copies of rows that change (carts): the stored value is replaced only by a
   * version at least as new, atomically, so a slow writer holding an old version can never overwrite a
   * newer one. Read them with getVersioned, not get.
   */
  setIfNewer(key: string, version: number, value: string, ttlSeconds: number): Promise<void>;
  /** Reads a versioned entry and, when present, resets its TTL (activity keeps it warm). */
  getVersioned(key: string, ttlSeconds: number): Promise<{ version: number; value: string } | null>;
}

/** How versioned entries are stored: "<version>|<value>". */
export function encodeVersioned(version: number, value: string): string {
  return `${version}|${value}`;
}

export function decodeVersioned(raw: string | null): { version: number; value: string } | null {
  if (raw === null) return null;
  const sep = raw.indexOf("|");
  const version = Number(raw.slice(0, sep));
  if (sep < 0 || !Number.isSafeInteger(version)) return null;
  return { version, value: raw.slice(sep + 1) };
}

export interface PubSubMessage {
  topic: string;
  payload: Record<string, unknown>;
}

/**
 * One subscriber's view of a topic. Ending it (`return()`, or aborting the signal given to `subscribe`)
 * stops delivery; when a topic's last subscriber in this process leaves, the Redis subscription is
 * released.
 */
export interface Subscription extends AsyncIterableIterator<Record<string, unknown>> {
  /**
   * Resolves once the subscription is established: every message published from then on is delivered.
   * (Redis acknowledges SUBSCRIBE asynchronously; while Redis is down this waits for it to come back.)
   * Rejects when the subscription could not be made (the adapter was closed first).
   */
  readonly ready: Promise<void>;
}

/**
 * Fan-out of events between instances (Redis pub/sub) or within one process (memory). Delivery is
 * at-most-once and in publish order per topic; payloads travel as JSON (so a Date arrives as its ISO
 * string) and every subscriber receives its own copy.
 */
export interface PubSub {
  /**
   * Unlike the cache, publish REJECTS when it cannot reach Redis (fail fast, no queueing): losing an
   * event is the caller's decision. The outbox relay, for one, keeps the event and retries.
   */
  publish(topic: string, payload: Record<string, unknown>): Promise<void>;
  /** Yields every message published to `topic` after the subscription is established (see `ready`). */
  subscribe(topic: string, signal?: AbortSignal): Subscription;
  /** Ends every open subscription (their iterators finish) and releases connections. */
  close(): Promise<void>;
}

export interface RateLimitResult {
  allowed: boolean;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
}

/**
 * Fixed-window counter per key; counting is atomic, so N concurrent hits allow exactly `limit`.
 * A limiter that cannot reach Redis allows the request (protection, not correctness).
 */
export interface RateLimiter {
  hit(key: string, limit: number, windowSeconds: number): Promise<RateLimitResult>;
}

export interface Infra {
  kind: "redis" | "memory";
  cache: Cache;
  pubsub: PubSub;
  rateLimiter: RateLimiter;
  /** Readiness: is the backing store reachable? Memory is always ready. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
