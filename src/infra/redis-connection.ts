/**
 * Connections to Redis, one node (REDIS_URL) or a cluster (REDIS_CLUSTER_NODES), through ioredis.
 * Two kinds per Infra: a command connection that fails fast (no offline queue, a short command timeout,
 * behind the circuit breaker), and a subscriber connection that waits for Redis instead (pub/sub).
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions, ReplyError } from "ioredis";

export interface RedisNodeAddress {
  host: string;
  port: number;
}

/** A Redis URL (one node), or the seed nodes of a cluster (ioredis discovers the rest). */
export type RedisTarget = string | { clusterNodes: RedisNodeAddress[] };

export type RedisClient = Redis | Cluster;

export interface ConnectionSettings {
  /** Bound on each command of the command connection (a hung Redis costs at most this, once). */
  commandTimeoutMs: number;
  connectTimeoutMs: number;
}

const retryDelay = (times: number) => Math.min(times * 200, 2_000);
/**
 * How long a closing socket may take to end gracefully. ioredis arms this timer even for a socket that
 * already failed (a refused cluster node) and never clears it, so it also bounds how long a closed Infra
 * keeps the process alive (default 2 s).
 */
const DISCONNECT_TIMEOUT_MS = 300;

export function isCluster(target: RedisTarget): target is { clusterNodes: RedisNodeAddress[] } {
  return typeof target !== "string";
}

export function createCommandClient(target: RedisTarget, s: ConnectionSettings): RedisClient {
  const node: RedisOptions = {
    // Fail commands at once while disconnected rather than holding requests hostage.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: s.connectTimeoutMs,
    // Callers stop waiting after commandTimeoutMs (see withDeadline); this later backstop makes
    // ioredis drop commands a hung Redis never answers, so they do not pile up in its queue.
    commandTimeout: s.commandTimeoutMs + 1_000,
    lazyConnect: false,
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
  };
  if (!isCluster(target)) return new Redis(target, { ...node, retryStrategy: retryDelay });
  const { enableOfflineQueue: _queue, lazyConnect: _lazy, ...redisOptions } = node;
  const options: ClusterOptions = {
    enableOfflineQueue: false,
    lazyConnect: false,
    clusterRetryStrategy: retryDelay,
    slotsRefreshTimeout: s.connectTimeoutMs,
    redisOptions,
  };
  return new Cluster(target.clusterNodes, options);
}

/**
 * The subscriber connection: unlike the command connection it queues while disconnected, and ioredis
 * subscribes again after a reconnect (in a cluster, on whichever node it picks: classic PUBLISH reaches
 * every node over the cluster bus). So a subscription waits for Redis instead of failing.
 */
export function createSubscriberClient(target: RedisTarget, s: ConnectionSettings): RedisClient {
  const node: RedisOptions = {
    maxRetriesPerRequest: null,
    connectTimeout: s.connectTimeoutMs,
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
  };
  if (!isCluster(target)) {
    return new Redis(target, { ...node, enableOfflineQueue: true, retryStrategy: retryDelay });
  }
  return new Cluster(target.clusterNodes, {
    enableOfflineQueue: true,
    clusterRetryStrategy: retryDelay,
    slotsRefreshTimeout: s.connectTimeoutMs,
    redisOptions: node,
  });
}

export class RedisTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = "RedisTimeoutError";
  }
}

/**
 * Rejects with RedisTimeoutError when `command` has not settled after `ms`. Unlike a bare timer, a
 * reply that arrived while the event loop was busy (GC, a long synchronous task) is not mistaken for a
 * timeout: timers run before the loop reads sockets, so on expiry it looks once more after that read
 * (setImmediate runs after it) before giving up. A busy process must not open the circuit on a Redis
 * that answered in time.
 */
export function withDeadline<T>(command: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      setImmediate(() => {
        if (!settled) reject(new RedisTimeoutError(ms));
      });
    }, ms);
    command.then(
      (value) => {
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        settled = true;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * Does this error mean Redis is not answering (so the circuit should open)? Timeouts and connection
 * errors do; an error reply about the command itself (WRONGTYPE, a script error) means Redis answered,
 * except the replies a cluster or a starting node gives while it cannot serve.
 */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof ReplyError) {
    return /^(CLUSTERDOWN|LOADING|MASTERDOWN|TRYAGAIN|BUSY)\b/.test(String((err as Error).message));
  }
  return true;
}

/**
 * Resolves once the client's first connection attempt has settled (ready, or failed), and at the latest
 * after `boundMs`. Without an offline queue, commands issued before the first connection completes
 * would fail even though Redis is up; so they wait for this first, and fail fast from then on.
 */
export function firstAttemptSettled(client: RedisClient, boundMs: number): Promise<void> {
  const events = ["ready", "error", "close", "end"];
  return new Promise((resolve) => {
    const done = () => {
      for (const e of events) client.off(e, done);
      clearTimeout(timer);
      resolve();
    };
    for (const e of events) client.on(e, done);
    const timer = setTimeout(done, boundMs);
    timer.unref();
  });
}

/** Closes a client: QUIT lets commands already sent finish; then the socket and reconnect timers go. */
export async function closeClient(client: RedisClient): Promise<void> {
  if (client.status === "ready") await client.quit().catch(() => undefined);
  client.disconnect();
}
