/**
 * Redis adapters (ioredis), on one node (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES).
 *
 * Degraded modes. Commands fail fast (no offline queue, REDIS_COMMAND_TIMEOUT_MS), and one circuit
 * breaker per Infra (REDIS_BREAKER_OPEN_MS) skips Redis for a while after a timeout or connection error,
 * so a hung Redis costs about one timeout, not one per call. Meanwhile each port answers on its own:
 * the cache misses and its writes are no-ops (the API serves from PostgreSQL); the rate limiter counts in
 * process (fails closed); publish rejects at once (the outbox relay retries); the stock gate admits.
 *
 * Key scheme. `<ns>` is the namespace (default "cartograph:"; tests give each file its own), and must
 * not contain braces, so the only hash tag in a key is the one chosen below:
 *   <ns><key>                          cache entries and rate-limit windows, under the caller's key
 *                                      (cart:<id>, rl:<who>): single-key commands, a one-key script
 *                                      (setIfNewer), a one-key MULTI (hit). del(a, b, ...) is sent as
 *                                      one DEL per key, so those keys never need to share a slot.
 *   <ns>stock:{<storeId>}:<variantId>  stock gate counters; hash tag = store, so every script over a
 *                                      store's counters (take, giveBack, set) and forget's DEL touch
 *                                      one slot. A store's flash sale is served by one shard.
 *   <ns><topic>                        pub/sub channels. Classic pub/sub reaches every node; PUBLISH
 *                                      is still routed by the channel's slot (one script, the channel
 *                                      as its only key), so one topic's messages keep their order.
 * Anything added later that touches several keys in one command or script must put them under one
 * hash tag (per store or per entity) the same way; a cluster refuses it otherwise (CROSSSLOT).
 */
import type { Logger } from "../logger.js";
import { CircuitBreaker } from "./breaker.js";
import { FixedWindowLimiter } from "./fixed-window.js";
import {
  closeClient,
  createCommandClient,
  firstAttemptSettled,
  isCluster,
  isUnavailable,
  type RedisTarget,
  withDeadline,
} from "./redis-connection.js";
import { REDIS_DEFAULTS } from "./redis-defaults.js";
import { createRedisPubSub } from "./redis-pubsub.js";
import { type Connected, defineScripts } from "./redis-scripts.js";
import { createRedisStockGate } from "./redis-stock-gate.js";
import { type Cache, decodeVersioned, type Infra, type RateLimiter } from "./types.js";

export type { RedisNodeAddress, RedisTarget } from "./redis-connection.js";

export interface RedisInfraOptions {
  logger: Logger;
  /** Prefix for every key and channel (tests isolate files with it). No braces. */
  namespace?: string;
  /** Per-command timeout of the command connection (default 500 ms). */
  commandTimeoutMs?: number;
  /** How long the circuit stays open after a failure (default 5000 ms); 0 disables the breaker. */
  breakerOpenMs?: number;
  /** Bound on establishing a connection (default 2000 ms). */
  connectTimeoutMs?: number;
}

export function createRedisInfra(target: RedisTarget, opts: RedisInfraOptions): Infra {
  const ns = opts.namespace ?? "cartograph:";
  if (/[{}]/.test(ns)) throw new RangeError("the Redis namespace must not contain braces (hash tags)");
  const log = opts.logger;
  const settings = {
    commandTimeoutMs: opts.commandTimeoutMs ?? REDIS_DEFAULTS.commandTimeoutMs,
    connectTimeoutMs: opts.connectTimeoutMs ?? REDIS_DEFAULTS.connectTimeoutMs,
  };
  const client = createCommandClient(target, settings);
  client.on("error", (err: unknown) => log.debug({ err }, "redis error"));
  const connected: Connected = { client, scripts: defineScripts(client) };
  const firstAttempt = firstAttemptSettled(client, settings.connectTimeoutMs);

  const breaker = new CircuitBreaker({
    openMs: opts.breakerOpenMs ?? REDIS_DEFAULTS.breakerOpenMs,
    isFailure: isUnavailable,
    onStateChange: (state, err) => {
      if (state === "open") log.warn({ err }, "redis circuit open: answering without Redis for now");
      else log.info("redis circuit closed: Redis answers again");
    },
  });
  /** Every command of every port goes through here. */
  const guard = <T>(op: (redis: Connected) => Promise<T>): Promise<T> =>
    breaker.call(async () => {
      if (client.status !== "ready") await firstAttempt;
      return withDeadline(op(connected), settings.commandTimeoutMs);
    });

  let warnedAt = 0;
  const degrade = (op: string, err: unknown) => {
    // One warning per 10 s, not one per request, while Redis is down.
    if (Date.now() - warnedAt > 10_000) {
      warnedAt = Date.now();
      log.warn({ err, op }, "redis unavailable: answering in degraded mode");
    }
  };
  /** Cache calls: a failure is a miss (reads) or nothing (writes). */
  const quietly = async <T>(op: string, run: (redis: Connected) => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await guard(run);
    } catch (e) {
      degrade(op, e);
      return fallback;
    }
  };

  const cache: Cache = {
    get: (key) => quietly("get", ({ client }) => client.get(ns + key), null),
    async set(key, value, ttl) {
      await quietly("set", ({ client }) => client.set(ns + key, value, "EX", ttl), undefined);
    },
    async touch(key, ttl) {
      await quietly("expire", ({ client }) => client.expire(ns + key, ttl), undefined);
    },
    async del(...keys) {
      if (keys.length === 0) return;
      await quietly("del", ({ client }) => Promise.all(keys.map((k) => client.del(ns + k))), undefined);
    },
    async setIfNewer(key, version, value, ttl) {
      await quietly(
        "setIfNewer",
        ({ scripts }) => scripts.setIfNewer(ns + key, version, value, ttl),
        undefined,
      );
    },
    async getVersioned(key) {
      return decodeVersioned(await quietly("getVersioned", ({ client }) => client.get(ns + key), null));
    },
  };

  // Throttles fail closed: without Redis, this instance keeps counting on its own.
  const fallbackLimiter = new FixedWindowLimiter();
  const rateLimiter: RateLimiter = {
    async hit(key, limit, windowSeconds) {
      const k = ns + key;
      try {
        return await guard(async ({ client }) => {
          // One MULTI: the window starts (with its expiry) atomically with the first count, so a crash
          // between commands cannot leave a counter that never expires, and concurrent hits never
          // restart a window that is already running.
          const replies = await client.multi().set(k, "0", "EX", windowSeconds, "NX").incr(k).pttl(k).exec();
          if (!replies) throw new Error("rate limit transaction discarded");
          for (const [err] of replies) if (err) throw err;
          const count = Number(replies[1]?.[1]);
          let pttl = Number(replies[2]?.[1]);
          if (pttl < 0) {
            // A counter without expiry (written by something else): give it one rather than block forever.
            await client.expire(k, windowSeconds);
            pttl = windowSeconds * 1000;
          }
          return {
            allowed: count <= limit,
            remaining: Math.max(0, limit - count),
            resetSeconds: Math.max(1, Math.ceil(pttl / 1000)),
          };
        });
      } catch (e) {
        degrade("ratelimit", e);
        return fallbackLimiter.hitNow(key, limit, windowSeconds);
      }
    },
  };

  const pubsub = createRedisPubSub({ target, namespace: ns, settings, guard, logger: log });
  const stockGate = createRedisStockGate({ namespace: ns, guard, degrade });
  const kind = isCluster(target) ? "redis-cluster" : "redis";

  return {
    kind,
    cache,
    pubsub,
    rateLimiter,
    stockGate,
    async ping() {
      try {
        return (await guard(({ client }) => client.ping())) === "PONG";
      } catch {
        return false;
      }
    },
    health() {
      const state = breaker.state;
      return {
        kind,
        reachable: client.status === "ready" && state === "closed",
        breaker: breaker.enabled ? state : null,
      };
    },
    async close() {
      await pubsub.close();
      await closeClient(client);
    },
  };
}
