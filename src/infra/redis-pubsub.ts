/**
 * Pub/sub on Redis: channel `<ns><topic>`, classic PUBLISH/SUBSCRIBE. On a cluster a classic PUBLISH is
 * forwarded to every node over the cluster bus, so a subscriber connected to any node receives what is
 * published through any other. Publishing is routed by the channel's hash slot (see redis-scripts.ts),
 * so all messages of one topic leave from one node and keep their order.
 */
import type { Logger } from "../logger.js";
import {
  type ConnectionSettings,
  createSubscriberClient,
  type RedisClient,
  type RedisTarget,
} from "./redis-connection.js";
import type { Connected } from "./redis-scripts.js";
import { TopicHub } from "./topic-hub.js";
import type { PubSub } from "./types.js";

export interface RedisPubSubDeps {
  target: RedisTarget;
  namespace: string;
  settings: ConnectionSettings;
  /** Runs an operation on the command connection behind the circuit breaker. */
  guard<T>(op: (redis: Connected) => Promise<T>): Promise<T>;
  logger: Logger;
}

export function createRedisPubSub({
  target,
  namespace: ns,
  settings,
  guard,
  logger: log,
}: RedisPubSubDeps): PubSub {
  // A subscriber connection cannot run other commands, so it is separate, and created on first use.
  let subscriber: RedisClient | null = null;
  let closed = false;
  const ensureSubscriber = (): RedisClient => {
    if (subscriber) return subscriber;
    const sub = createSubscriberClient(target, settings);
    sub.on("error", (err: unknown) => log.debug({ err }, "redis subscriber error"));
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
      // Rejects at once while the circuit is open: the outbox relay keeps the event and retries.
      await guard(({ scripts }) => scripts.publish(ns + topic, JSON.stringify(payload)));
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
