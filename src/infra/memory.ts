/** In-memory twins of the Redis adapters (single process: embedded default and tests without Redis). */
import { FixedWindowLimiter } from "./fixed-window.js";
import { checkCounts, checkStoreId, checkTtl, checkVariantIds, mergeLines } from "./stock-gate-input.js";
import { TopicHub } from "./topic-hub.js";
import {
  type Cache,
  decodeVersioned,
  encodeVersioned,
  type Infra,
  type PubSub,
  STOCK_GATE_DEFAULT_TTL_SECONDS,
  type StockCount,
  type StockGate,
} from "./types.js";

/** Expired entries are dropped on read and by a sweep at most this often, so keys never read again go too. */
const SWEEP_EVERY_MS = 60_000;

interface Expiring<T> {
  value: T;
  expiresAt: number;
}

/** A map whose entries expire like Redis keys: gone once their time has passed, swept now and then. */
class ExpiringMap<T> {
  private readonly entries = new Map<string, Expiring<T>>();
  private sweptAt = Date.now();

  live(key: string, now: number): Expiring<T> | undefined {
    const e = this.entries.get(key);
    if (e && e.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  set(key: string, value: T, ttlSeconds: number, now: number): void {
    if (now - this.sweptAt >= SWEEP_EVERY_MS) {
      this.sweptAt = now;
      for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
    }
    this.entries.set(key, { value, expiresAt: now + ttlSeconds * 1000 });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}

export function createMemoryInfra(): Infra {
  const store = new ExpiringMap<string>();

  const cache: Cache = {
    async get(key) {
      return store.live(key, Date.now())?.value ?? null;
    },
    async set(key, value, ttl) {
      store.set(key, value, ttl, Date.now());
    },
    async touch(key, ttl) {
      // Like EXPIRE: an entry that has already expired is gone and stays gone.
      const now = Date.now();
      const e = store.live(key, now);
      if (e) e.expiresAt = now + ttl * 1000;
    },
    async del(...keys) {
      for (const k of keys) store.delete(k);
    },
    async setIfNewer(key, version, value, ttl) {
      const now = Date.now();
      const current = decodeVersioned(store.live(key, now)?.value ?? null);
      if (current && current.version > version) return;
      store.set(key, encodeVersioned(version, value), ttl, now);
    },
    async getVersioned(key) {
      return decodeVersioned(store.live(key, Date.now())?.value ?? null);
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
    rateLimiter: new FixedWindowLimiter(),
    stockGate: createMemoryStockGate(),
    ping: async () => true,
    health: () => ({ kind: "memory", reachable: null, breaker: null }),
    close: () => pubsub.close(),
  };
}

/** The Redis stock gate's semantics, on one process's counters (each call runs without a pause: atomic). */
function createMemoryStockGate(): StockGate {
  const counters = new ExpiringMap<number>();
  const key = (storeId: string, variantId: string) => `${storeId}\u0000${variantId}`;

  return {
    async take(storeId, lines) {
      checkStoreId(storeId);
      const wanted = mergeLines(lines);
      const now = Date.now();
      const short: StockCount[] = [];
      const present: Expiring<number>[] = [];
      const quantities: number[] = [];
      for (const [variantId, quantity] of wanted) {
        const counter = counters.live(key(storeId, variantId), now);
        if (!counter) continue;
        if (counter.value < quantity) short.push({ variantId, available: counter.value });
        present.push(counter);
        quantities.push(quantity);
      }
      if (short.length > 0) return { admitted: false, short };
      present.forEach((counter, i) => {
        counter.value -= quantities[i]!;
      });
      return { admitted: true };
    },
    async giveBack(storeId, lines) {
      checkStoreId(storeId);
      const now = Date.now();
      for (const [variantId, quantity] of mergeLines(lines)) {
        const counter = counters.live(key(storeId, variantId), now);
        if (counter) counter.value += quantity;
      }
    },
    async set(storeId, counts, ttlSeconds = STOCK_GATE_DEFAULT_TTL_SECONDS) {
      checkStoreId(storeId);
      checkCounts(counts);
      checkTtl(ttlSeconds);
      const now = Date.now();
      for (const { variantId, available } of counts) {
        counters.set(key(storeId, variantId), available, ttlSeconds, now);
      }
    },
    async forget(storeId, variantIds) {
      checkStoreId(storeId);
      checkVariantIds(variantIds);
      for (const variantId of variantIds) counters.delete(key(storeId, variantId));
    },
  };
}
