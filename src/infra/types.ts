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
}

export interface PubSubMessage {
  topic: string;
  payload: Record<string, unknown>;
}

/** Fan-out of events between instances (Redis pub/sub) or within one process (memory). */
export interface PubSub {
  publish(topic: string, payload: Record<string, unknown>): Promise<void>;
  /** Yields every message published to `topic` after the subscription is established. */
  subscribe(topic: string, signal?: AbortSignal): AsyncIterableIterator<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface RateLimitResult {
  allowed: boolean;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
}

/** Fixed-window counter per key. */
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
