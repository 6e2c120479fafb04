/**
 * The ports Cartograph needs from Redis. Each has a Redis adapter (production, several instances) and
 * an in-memory twin (embedded default, single process); the contract tests run the same cases on both.
 */

/** A string cache. Failures never propagate: a cache that is down is a cache that misses (and a no-op). */
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
  /**
   * Reads a versioned entry WITHOUT touching its TTL: a copy is only worth keeping warm once the caller
   * has checked its version against PostgreSQL, and then the caller says so with `touch`.
   */
  getVersioned(key: string): Promise<{ version: number; value: string } | null>;
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
   * On a Redis Cluster a message published shortly BEFORE may still arrive (it was crossing the cluster
   * bus between nodes); subscribers already tolerate extra deliveries (they dedupe by id).
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
 * Fails closed: a limiter that cannot reach Redis keeps counting in process (per instance, same
 * fixed-window rule) instead of letting requests through.
 */
export interface RateLimiter {
  hit(key: string, limit: number, windowSeconds: number): Promise<RateLimitResult>;
}

export interface StockLine {
  variantId: string;
  /** Units, a positive integer. Lines naming the same variant count together. */
  quantity: number;
}

export interface StockCount {
  variantId: string;
  /** What PostgreSQL says can still be sold (on hand - reserved), a non-negative integer. */
  available: number;
}

export type StockGateResult = { admitted: true } | { admitted: false; short: StockCount[] };

/**
 * An early "sold out" answer for flash sales, so that buyers of a sold-out variant are refused from
 * Redis alone instead of queueing on PostgreSQL row locks. PostgreSQL stays the only truth: the gate
 * may refuse early, it is never the reason stock is oversold (checkout re-checks everything there).
 * Without Redis (down, or the circuit open) `take` admits and the others do nothing.
 */
export interface StockGate {
  /**
   * Atomically over all lines: if every line whose counter exists has counter >= quantity, decrements
   * those counters and admits; otherwise changes nothing and refuses, naming each short line with its
   * counter's value. Lines without a counter pass (unknown: the database decides).
   */
  take(storeId: string, lines: StockLine[]): Promise<StockGateResult>;
  /** Gives units back to counters that exist (compensation, reservation release or expiry). */
  giveBack(storeId: string, lines: StockLine[]): Promise<void>;
  /** Sets counters from PostgreSQL's figures; the TTL (default 60 s) bounds how long they can drift. */
  set(storeId: string, counts: StockCount[], ttlSeconds?: number): Promise<void>;
  /** Drops counters: those variants pass until they are set again. */
  forget(storeId: string, variantIds: string[]): Promise<void>;
}

/** How long stock gate counters live unless `set` is given a TTL. */
export const STOCK_GATE_DEFAULT_TTL_SECONDS = 60;

/** closed: calls go to Redis; open: they are answered at once in degraded mode; half-open: one probe. */
export type BreakerState = "closed" | "open" | "half-open";

export interface InfraHealth {
  kind: Infra["kind"];
  /** Last known reachability of Redis: connected and the circuit closed. null: no Redis configured. */
  reachable: boolean | null;
  /** null: no circuit breaker (in-memory infra, or REDIS_BREAKER_OPEN_MS=0). */
  breaker: BreakerState | null;
}

export interface Infra {
  kind: "redis" | "redis-cluster" | "memory";
  cache: Cache;
  pubsub: PubSub;
  rateLimiter: RateLimiter;
  stockGate: StockGate;
  /** Readiness: is the backing store reachable (a PING answered)? Memory is always ready. */
  ping(): Promise<boolean>;
  /** What is known right now, without a round trip (for /readyz and logs). */
  health(): InfraHealth;
  close(): Promise<void>;
}
