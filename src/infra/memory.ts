/** In-memory twins of the Redis adapters (single process: embedded default and tests without Redis). */
import { TopicHub } from "./redis.js";
import {
  type Cache,
  decodeVersioned,
  encodeVersioned,
  type Infra,
  type PubSub,
  type RateLimiter,
} from "./types.js";

/** Expired entries are dropped on read and by a sweep at most this often, so keys never read again go too. */
const SWEEP_EVERY_MS = 60_000;

export function createMemoryInfra(): Infra {
  const store = new Map<string, { value: string; expiresAt: number }>();
  const counters = new Map<string, { count: number; resetAt: number }>();
  let sweptAt = Date.now();
  const sweepExpired = (now: number) => {
    if (now - sweptAt < SWEEP_EVERY_MS) return;
    sweptAt = now;
    for (const [k, e] of store) if (e.expiresAt <= now) store.delete(k);
    for (const [k, c] of counters) if (c.resetAt <= now) counters.delete(k);
  };
  const live = (key: string, now: number) => {
    const e = store.get(key);
    if (e && e.expiresAt <= now) {
      store.delete(key);
      return undefined;
    }
    return e;
  };

  const cache: Cache = {
    async get(key) {
      return live(key, Date.now())?.value ?? null;
    },
    async set(key, value, ttl) {
      const now = Date.now();
      sweepExpired(now);
      store.set(key, { value, expiresAt: now + ttl * 1000 });
    },
    async touch(key, ttl) {
      // Like EXPIRE: an entry that has already expired is gone and stays gone.
      const now = Date.now();
      const e = live(key, now);
      if (e) e.expiresAt = now + ttl * 1000;
    },
    async del(...keys) {
      for (const k of keys) store.delete(k);
    },
    async setIfNewer(key, version, value, ttl) {
      const now = Date.now();
      const current = decodeVersioned(live(key, now)?.value ?? null);
      if (current && current.version > version) return;
      store.set(key, { value: encodeVersioned(version, value), expiresAt: now + ttl * 1000 });
    },
    async getVersioned(key, ttl) {
      const now = Date.now();
      const e = live(key, now);
      if (!e) return null;
      e.expiresAt = now + ttl * 1000;
      return decodeVersioned(e.value);
    },
  };

  const rateLimiter: RateLimiter = {
    async hit(key, limit, windowSeconds) {
      const now = Date.now();
      sweepExpired(now);
      let c = counters.get(key);
      if (!c || c.resetAt <= now) {
        c = { count: 0, resetAt: now + windowSeconds * 1000 };
        counters.set(key, c);
      }
      c.count++;
      return {
        allowed: c.count <= limit,
        remaining: Math.max(0, limit - c.count),
        resetSeconds: Math.max(1, Math.ceil((c.resetAt - now) / 1000)),
      };
    },
  };

  const hub = new TopicHub();
  const pubsub: PubSub = {
    async publish(topic, payload) {
      // Through JSON, as Redis carries it: subscribers see the same shapes in both modes (a Date
      // arrives as a string), each gets its own copy, and the publisher may reuse its object at once.
      const message = JSON.stringify(payload);
      hub.deliver(topic, () => JSON.parse(message));
    },
    subscribe: (topic, signal) => hub.subscribe(topic, signal),
    close: () => hub.closeAll(),
  };

  return {
    kind: "memory",
    cache,
    pubsub,
    rateLimiter,
    ping: async () => true,
    close: () => pubsub.close(),
  };
}
