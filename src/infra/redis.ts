/**
 * Redis adapters (ioredis). Cache failures are logged and treated as misses so the API keeps working
 * from PostgreSQL when Redis is down; commands fail fast instead of queueing while disconnected.
 */
import { Redis } from "ioredis";
import type { Logger } from "../logger.js";
import type { Cache, Infra, PubSub, RateLimiter } from "./types.js";

export interface RedisInfraOptions {
  logger: Logger;
  /** Prefix for every key and channel (tests isolate files with it). */
  namespace?: string;
}

export function createRedisInfra(url: string, opts: RedisInfraOptions): Infra {
  const ns = opts.namespace ?? "cartograph:";
  const log = opts.logger;
  const connectionOptions = {
    // Fail commands at once while disconnected rather than holding requests hostage.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    lazyConnect: false,
    retryStrategy: (times: number) => Math.min(times * 200, 2_000),
  };
  const client = new Redis(url, connectionOptions);
  client.on("error", (err) => log.debug({ err }, "redis error"));

  let warnedAt = 0;
  const degrade = (op: string, err: unknown) => {
    // One warning per 10 s, not one per request, while Redis is down.
    if (Date.now() - warnedAt > 10_000) {
      warnedAt = Date.now();
      log.warn({ err, op }, "redis unavailable: serving from PostgreSQL");
    }
  };

  const cache: Cache = {
    async get(key) {
      try {
        return await client.get(ns + key);
      } catch (e) {
        degrade("get", e);
        return null;
      }
    },
    async set(key, value, ttl) {
      try {
        await client.set(ns + key, value, "EX", ttl);
      } catch (e) {
        degrade("set", e);
      }
    },
    async touch(key, ttl) {
      try {
        await client.expire(ns + key, ttl);
      } catch (e) {
        degrade("expire", e);
      }
    },
    async del(...keys) {
      if (keys.length === 0) return;
      try {
        await client.del(...keys.map((k) => ns + k));
      } catch (e) {
        degrade("del", e);
      }
    },
  };

  const rateLimiter: RateLimiter = {
    async hit(key, limit, windowSeconds) {
      try {
        const k = ns + key;
        const [[, count], [, ttl]] = (await client.multi().incr(k).ttl(k).exec()) as [
          [Error | null, number],
          [Error | null, number],
        ];
        if (ttl < 0) await client.expire(k, windowSeconds);
        const resetSeconds = ttl > 0 ? ttl : windowSeconds;
        return { allowed: count <= limit, remaining: Math.max(0, limit - count), resetSeconds };
      } catch (e) {
        // Rate limiting is protection, not correctness: without Redis, let the request through.
        degrade("ratelimit", e);
        return { allowed: true, remaining: limit, resetSeconds: windowSeconds };
      }
    },
  };

  const pubsub = createRedisPubSub(url, ns, connectionOptions, client, log);

  return {
    kind: "redis",
    cache,
    pubsub,
    rateLimiter,
    async ping() {
      try {
        return (await client.ping()) === "PONG";
      } catch {
        return false;
      }
    },
    async close() {
      await pubsub.close();
      client.disconnect();
    },
  };
}

function createRedisPubSub(
  url: string,
  ns: string,
  connectionOptions: Record<string, unknown>,
  publisher: Redis,
  log: Logger,
): PubSub {
  // A subscriber connection cannot run other commands, so it is separate, and created on first use.
  let subscriber: Redis | null = null;
  const listeners = new Map<string, Set<(payload: Record<string, unknown>) => void>>();

  const ensureSubscriber = (): Redis => {
    if (subscriber) return subscriber;
    subscriber = new Redis(url, { ...connectionOptions, enableOfflineQueue: true, maxRetriesPerRequest: null });
    subscriber.on("error", (err) => log.debug({ err }, "redis subscriber error"));
    subscriber.on("message", (channel: string, message: string) => {
      const set = listeners.get(channel.slice(ns.length));
      if (!set) return;
      let payload: Record<string, unknown>;
      try {
        payload = JSON.parse(message);
      } catch {
        return;
      }
      for (const fn of set) fn(payload);
    });
    return subscriber;
  };

  return {
    async publish(topic, payload) {
      await publisher.publish(ns + topic, JSON.stringify(payload));
    },
    subscribe(topic, signal) {
      const sub = ensureSubscriber();
      return iterateTopic(topic, signal, listeners, {
        onFirst: () => sub.subscribe(ns + topic),
        onLast: () => sub.unsubscribe(ns + topic).then(() => undefined),
      });
    },
    async close() {
      listeners.clear();
      subscriber?.disconnect();
      subscriber = null;
    },
  };
}

/**
 * An async iterator over a topic's messages, buffering between pulls. `onFirst` runs when the first
 * listener of a topic arrives (and is awaited before the first pull resolves), `onLast` when the last
 * one leaves. Shared by the Redis adapter and the in-memory twin.
 */
export function iterateTopic(
  topic: string,
  signal: AbortSignal | undefined,
  listeners: Map<string, Set<(payload: Record<string, unknown>) => void>>,
  hooks: { onFirst?: () => Promise<unknown>; onLast?: () => Promise<unknown> } = {},
): AsyncIterableIterator<Record<string, unknown>> {
  const queue: Record<string, unknown>[] = [];
  let waiting: ((r: IteratorResult<Record<string, unknown>>) => void) | null = null;
  let done = false;
  const listener = (payload: Record<string, unknown>) => {
    if (done) return;
    if (waiting) {
      const w = waiting;
      waiting = null;
      w({ value: payload, done: false });
    } else queue.push(payload);
  };
  let set = listeners.get(topic);
  const first = !set;
  if (!set) {
    set = new Set();
    listeners.set(topic, set);
  }
  set.add(listener);
  const ready = first && hooks.onFirst ? hooks.onFirst() : Promise.resolve();

  const finish = async (): Promise<IteratorResult<Record<string, unknown>>> => {
    if (!done) {
      done = true;
      const s = listeners.get(topic);
      s?.delete(listener);
      if (s && s.size === 0) {
        listeners.delete(topic);
        await hooks.onLast?.().catch(() => undefined);
      }
      waiting?.({ value: undefined, done: true });
      waiting = null;
    }
    return { value: undefined, done: true };
  };
  signal?.addEventListener("abort", () => void finish(), { once: true });

  const iterator: AsyncIterableIterator<Record<string, unknown>> = {
    async next() {
      await ready;
      const next = queue.shift();
      if (next) return { value: next, done: false };
      if (done) return { value: undefined, done: true };
      return new Promise((resolve) => {
        waiting = resolve;
      });
    },
    return: finish,
    async throw(err) {
      await finish();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
