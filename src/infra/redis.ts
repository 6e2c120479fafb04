/**
 * Redis adapters (ioredis). Cache failures are logged and treated as misses so the API keeps working
 * from PostgreSQL when Redis is down; commands fail fast instead of queueing while disconnected.
 */
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../logger.js";
import {
  type Cache,
  decodeVersioned,
  type Infra,
  type PubSub,
  type RateLimiter,
  type Subscription,
} from "./types.js";

export interface RedisInfraOptions {
  logger: Logger;
  /** Prefix for every key and channel (tests isolate files with it). */
  namespace?: string;
}

/** Compare-and-set on "<version>|<value>" entries: replaced only by an equal or newer version. */
const SET_IF_NEWER = `
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, '|', 1, true)
  if sep and tonumber(string.sub(current, 1, sep - 1)) > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', tonumber(ARGV[3]))
return 1`;

export function createRedisInfra(url: string, opts: RedisInfraOptions): Infra {
  const ns = opts.namespace ?? "cartograph:";
  const log = opts.logger;
  const connectionOptions: RedisOptions = {
    // Fail commands at once while disconnected rather than holding requests hostage.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    // A Redis that accepts connections but stops answering must not hang requests either.
    commandTimeout: 2_000,
    lazyConnect: false,
    retryStrategy: (times: number) => Math.min(times * 200, 2_000),
  };
  const client = new Redis(url, connectionOptions);
  client.on("error", (err) => log.debug({ err }, "redis error"));
  // Without an offline queue, commands issued before the first connection completes would fail even
  // though Redis is up. So they wait for the first attempt to settle (ready, or refused/timed out:
  // bounded by connectTimeout); after that they fail fast whenever the connection is down.
  const firstAttempt = settleOnce(client, ["ready", "error", "close", "end"]);
  const usable = async (): Promise<Redis> => {
    if (client.status !== "ready") await firstAttempt;
    return client;
  };

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
        return await (await usable()).get(ns + key);
      } catch (e) {
        degrade("get", e);
        return null;
      }
    },
    async set(key, value, ttl) {
      try {
        await (await usable()).set(ns + key, value, "EX", ttl);
      } catch (e) {
        degrade("set", e);
      }
    },
    async touch(key, ttl) {
      try {
        await (await usable()).expire(ns + key, ttl);
      } catch (e) {
        degrade("expire", e);
      }
    },
    async del(...keys) {
      if (keys.length === 0) return;
      try {
        await (await usable()).del(...keys.map((k) => ns + k));
      } catch (e) {
        degrade("del", e);
      }
    },
    async setIfNewer(key, version, value, ttl) {
      try {
        await (await usable()).eval(SET_IF_NEWER, 1, ns + key, String(version), value, String(ttl));
      } catch (e) {
        degrade("setIfNewer", e);
      }
    },
    async getVersioned(key, ttl) {
      try {
        return decodeVersioned(await (await usable()).getex(ns + key, "EX", ttl));
      } catch (e) {
        degrade("getVersioned", e);
        return null;
      }
    },
  };

  const rateLimiter: RateLimiter = {
    async hit(key, limit, windowSeconds) {
      try {
        const k = ns + key;
        // One MULTI: the window starts (with its expiry) atomically with the first count, so a crash
        // between commands cannot leave a counter that never expires, and concurrent hits never
        // restart a window that is already running.
        const replies = await (await usable())
          .multi()
          .set(k, "0", "EX", windowSeconds, "NX")
          .incr(k)
          .pttl(k)
          .exec();
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
      } catch (e) {
        // Rate limiting is protection, not correctness: without Redis, let the request through.
        degrade("ratelimit", e);
        return { allowed: true, remaining: limit, resetSeconds: windowSeconds };
      }
    },
  };

  const pubsub = createRedisPubSub(url, ns, connectionOptions, usable, log);

  return {
    kind: "redis",
    cache,
    pubsub,
    rateLimiter,
    async ping() {
      try {
        return (await (await usable()).ping()) === "PONG";
      } catch {
        return false;
      }
    },
    async close() {
      await pubsub.close();
      // QUIT lets commands already sent finish; when Redis is unreachable, just drop the socket (and
      // the reconnect timer with it, so the process can exit).
      if (client.status === "ready") await client.quit().catch(() => undefined);
      client.disconnect();
    },
  };
}

/** Resolves the first time `emitter` emits any of `events`. */
function settleOnce(client: Redis, events: string[]): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      for (const e of events) client.off(e, done);
      resolve();
    };
    for (const e of events) client.on(e, done);
  });
}

function createRedisPubSub(
  url: string,
  ns: string,
  connectionOptions: RedisOptions,
  publisher: () => Promise<Redis>,
  log: Logger,
): PubSub {
  // A subscriber connection cannot run other commands, so it is separate, and created on first use.
  // Unlike the command connection it queues while disconnected (and ioredis re-subscribes after a
  // reconnect): a subscription waits for Redis instead of failing; `ready` tells when it is live.
  let subscriber: Redis | null = null;
  let closed = false;
  const ensureSubscriber = (): Redis => {
    if (subscriber) return subscriber;
    const sub = new Redis(url, {
      ...connectionOptions,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
    });
    sub.on("error", (err) => log.debug({ err }, "redis subscriber error"));
    sub.on("message", (channel: string, message: string) => {
      let first: Record<string, unknown> | undefined;
      try {
        first = JSON.parse(message);
      } catch {
        // Not ours (publish always sends a JSON object); the next check drops it.
      }
      if (typeof first !== "object" || first === null || Array.isArray(first)) {
        log.warn({ channel }, "ignoring a pub/sub message that is not a JSON object");
        return;
      }
      // Parsed again for every further listener: each subscriber owns its copy.
      hub.deliver(channel.slice(ns.length), () => {
        const copy = first ?? JSON.parse(message);
        first = undefined;
        return copy;
      });
    });
    subscriber = sub;
    return sub;
  };
  const hub = new TopicHub({
    subscribe: (topic) => ensureSubscriber().subscribe(ns + topic),
    unsubscribe: (topic) => ensureSubscriber().unsubscribe(ns + topic),
  });

  return {
    async publish(topic, payload) {
      if (closed) throw new Error("pub/sub is closed");
      await (await publisher()).publish(ns + topic, JSON.stringify(payload));
    },
    subscribe: (topic, signal) => hub.subscribe(topic, signal),
    async close() {
      closed = true;
      await hub.closeAll();
      subscriber?.disconnect();
      subscriber = null;
    },
  };
}

type Listener = (makePayload: () => Record<string, unknown>) => void;

interface TopicState {
  listeners: Set<Listener>;
  /** Settles when the backing subscription for this topic is established (shared by its listeners). */
  ready: Promise<void>;
}

export interface TopicHooks {
  /** Runs when a topic gets its first listener; its settling is the subscription's `ready`. */
  subscribe?: (topic: string) => Promise<unknown>;
  /** Runs when a topic's last listener leaves. */
  unsubscribe?: (topic: string) => Promise<unknown>;
}

/**
 * The listeners of each topic in this process, and one async iterator per subscriber that buffers
 * between pulls. Shared by the Redis adapter and the in-memory twin, so both end, release and copy
 * exactly alike.
 */
export class TopicHub {
  private readonly topics = new Map<string, TopicState>();
  private readonly open = new Set<() => Promise<unknown>>();
  /** While closing, leaving topics does not unsubscribe: the connection is dropped anyway. */
  private closing = false;
  /** Rejected by closeAll: fails every `ready` still waiting (e.g. for a Redis that is down). */
  private readonly closed: Promise<never>;
  private rejectClosed: (err: Error) => void = () => undefined;

  constructor(private readonly hooks: TopicHooks = {}) {
    this.closed = new Promise<never>((_, reject) => {
      this.rejectClosed = reject;
    });
    this.closed.catch(() => undefined);
  }

  /** Hands a message to every listener of `topic`; `makePayload` is called once per listener. */
  deliver(topic: string, makePayload: () => Record<string, unknown>): void {
    const state = this.topics.get(topic);
    if (!state) return;
    for (const listener of [...state.listeners]) listener(makePayload);
  }

  subscribe(topic: string, signal?: AbortSignal): Subscription {
    if (signal?.aborted || this.closing) return endedSubscription();
    type Result = IteratorResult<Record<string, unknown>>;
    const buffered: Record<string, unknown>[] = [];
    const waiters: ((r: Result) => void)[] = [];
    let done = false;
    let markEnded: () => void = () => undefined;
    const ended = new Promise<void>((resolve) => {
      markEnded = resolve;
    });

    const listener: Listener = (makePayload) => {
      const value = makePayload();
      const waiter = waiters.shift();
      if (waiter) waiter({ value, done: false });
      else buffered.push(value);
    };
    let state = this.topics.get(topic);
    if (!state) {
      const hooked = this.hooks.subscribe?.(topic) ?? Promise.resolve();
      state = { listeners: new Set(), ready: Promise.race([hooked.then(() => undefined), this.closed]) };
      // Marked handled here: a failure surfaces through `ready` / `next()` to whoever awaits them.
      state.ready.catch(() => undefined);
      this.topics.set(topic, state);
    }
    state.listeners.add(listener);
    const ready = state.ready;

    const finish = async (): Promise<Result> => {
      if (done) return { value: undefined, done: true };
      done = true;
      markEnded();
      this.open.delete(finish);
      signal?.removeEventListener("abort", onAbort);
      buffered.length = 0;
      for (const w of waiters.splice(0)) w({ value: undefined, done: true });
      const current = this.topics.get(topic);
      if (current?.listeners.delete(listener) && current.listeners.size === 0) {
        this.topics.delete(topic);
        if (!this.closing) await this.hooks.unsubscribe?.(topic).catch(() => undefined);
      }
      return { value: undefined, done: true };
    };
    const onAbort = () => void finish();
    signal?.addEventListener("abort", onAbort, { once: true });
    this.open.add(finish);

    const subscription: Subscription = {
      ready,
      async next(): Promise<Result> {
        try {
          // Ending the subscription must not wait for a Redis that is down.
          await Promise.race([ready, ended]);
        } catch (e) {
          // Closed before Redis acknowledged the subscription: that is an ending, not a failure.
          if (done) return { value: undefined, done: true };
          throw e;
        }
        if (buffered.length > 0) return { value: buffered.shift()!, done: false };
        if (done) return { value: undefined, done: true };
        return new Promise((resolve) => waiters.push(resolve));
      },
      return: finish,
      async throw(err: unknown): Promise<Result> {
        await finish();
        throw err;
      },
      [Symbol.asyncIterator]() {
        return subscription;
      },
    };
    return subscription;
  }

  /** Ends every open subscription (pending `next()` calls resolve as done); later ones start ended. */
  async closeAll(): Promise<void> {
    this.closing = true;
    this.rejectClosed(new Error("pub/sub closed before the subscription was established"));
    await Promise.all([...this.open].map((finish) => finish()));
    this.topics.clear();
  }
}

/** A subscription that is over before it starts (closed adapter, or an already aborted signal). */
function endedSubscription(): Subscription {
  const subscription: Subscription = {
    ready: Promise.resolve(),
    next: async () => ({ value: undefined, done: true }),
    return: async () => ({ value: undefined, done: true }),
    async throw(err: unknown) {
      throw err;
    },
    [Symbol.asyncIterator]() {
      return subscription;
    },
  };
  return subscription;
}
