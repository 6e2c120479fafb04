/** In-memory twins of the Redis adapters (single process: embedded default and tests without Redis). */
import { iterateTopic } from "./redis.js";
import type { Cache, Infra, PubSub, RateLimiter } from "./types.js";

export function createMemoryInfra(): Infra {
  const store = new Map<string, { value: string; expiresAt: number }>();
  const cache: Cache = {
    async get(key) {
      const e = store.get(key);
      if (!e) return null;
      if (e.expiresAt <= Date.now()) {
        store.delete(key);
        return null;
      }
      return e.value;
    },
    async set(key, value, ttl) {
      store.set(key, { value, expiresAt: Date.now() + ttl * 1000 });
    },
    async touch(key, ttl) {
      const e = store.get(key);
      if (e) e.expiresAt = Date.now() + ttl * 1000;
    },
    async del(...keys) {
      for (const k of keys) store.delete(k);
    },
  };
  const counters = new Map<string, { count: number; resetAt: number }>();
  const rateLimiter: RateLimiter = {
    async hit(key, limit, windowSeconds) {
      const now = Date.now();
      let c = counters.get(key);
      if (!c || c.resetAt <= now) {
        c = { count: 0, resetAt: now + windowSeconds * 1000 };
        counters.set(key, c);
      }
      c.count++;
      return {
        allowed: c.count <= limit,
        remaining: Math.max(0, limit - c.count),
        resetSeconds: Math.ceil((c.resetAt - now) / 1000),
      };
    },
  };
  const listeners = new Map<string, Set<(payload: Record<string, unknown>) => void>>();
  const pubsub: PubSub = {
    async publish(topic, payload) {
      // A copy per listener, as Redis would deliver: a subscriber mutating its event harms no one.
      for (const fn of listeners.get(topic) ?? []) fn(structuredClone(payload));
    },
    subscribe(topic, signal) {
      return iterateTopic(topic, signal, listeners);
    },
    async close() {
      listeners.clear();
    },
  };
  return { kind: "memory", cache, pubsub, rateLimiter, ping: async () => true, close: async () => {} };
}
