/**
 * One contract, two implementations: every case below runs against the in-memory twins and against the
 * Redis adapters (when REDIS_URL is set; in CI it must be). Then the Redis adapters pointed at a port
 * where nothing listens: the cache misses, the limiter allows, publish rejects, nothing hangs.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { createMemoryInfra } from "../../src/infra/memory.js";
import { createRedisInfra } from "../../src/infra/redis.js";
import type { Infra, Subscription } from "../../src/infra/types.js";
import { createLogger } from "../../src/logger.js";

const logger = createLogger("silent");
const redisUrl = inject("redisUrl");
const unique = (label: string) => `${label}:${randomBytes(4).toString("hex")}`;
/** Long enough for a 1 s expiry to pass on a loaded machine; a bound on waiting, not a timing claim. */
const EXPIRY_WAIT = { timeout: 10_000, interval: 50 };

interface Adapter {
  /** "memory", or the Redis URL: what a separate process builds to check that close() lets it exit. */
  target: string;
  create(): Infra;
  /** How many connections Redis counts on this topic's channel (Redis only). */
  channelSubscribers?(topic: string): Promise<number>;
  dispose?(): Promise<void>;
}

async function take(sub: Subscription, n: number): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const r = await sub.next();
    if (r.done) throw new Error(`subscription ended after ${i} of ${n} messages`);
    out.push(r.value);
  }
  return out;
}

async function nextValue(sub: Subscription): Promise<Record<string, unknown>> {
  const [value] = await take(sub, 1);
  return value!;
}

/**
 * Runs an infra in a fresh Node process that uses every port, closes the infra and must then exit on
 * its own: a socket or timer left behind would keep it (and vitest) alive. Resolves the exit code.
 */
function exitsOnItsOwn(target: "memory" | string): Promise<number | null> {
  const module = (file: string) => JSON.stringify(new URL(`../../src/infra/${file}`, import.meta.url).href);
  const script = `
    const { createMemoryInfra } = await import(${module("memory.ts")});
    const { createRedisInfra } = await import(${module("redis.ts")});
    const { createLogger } = await import(${module("../logger.ts")});
    const target = process.argv[1];
    const infra = target === "memory" ? createMemoryInfra()
      : createRedisInfra(target, { logger: createLogger("silent"), namespace: "test:exit:" + process.pid + ":" });
    const sub = infra.pubsub.subscribe("topic");
    const pending = sub.next();
    await infra.cache.set("k", "v", 60);
    await infra.cache.get("k");
    await infra.rateLimiter.hit("rl", 1, 60);
    await infra.pubsub.publish("topic", { n: 1 }).catch(() => undefined);
    await infra.ping();
    await infra.close();
    await pending;
  `;
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script, target],
      // A bound on waiting, not a timing claim: a child still alive by then is leaking a handle.
      { timeout: 20_000, killSignal: "SIGKILL" },
      (err) => {
        if (err && child.signalCode) reject(new Error(`still running after close(): ${child.signalCode}`));
      },
    );
    child.on("exit", (code) => resolve(code));
  });
}

function contract(name: string, adapter: () => Adapter, skipReason?: string) {
  describe(name, () => {
    let a: Adapter;
    let infra: Infra;
    beforeAll(() => {
      if (skipReason) return;
      a = adapter();
      infra = a.create();
    });
    afterAll(async () => {
      await infra?.close();
      await a?.dispose?.();
    });
    beforeEach((ctx) => {
      if (skipReason) ctx.skip(skipReason);
    });

    describe("cache", () => {
      it("returns what was set, and null for a miss", async () => {
        const key = unique("k");
        await infra.cache.set(key, "value", 60);
        expect(await infra.cache.get(key)).toBe("value");
        expect(await infra.cache.get(unique("missing"))).toBeNull();
        await infra.cache.set(key, "replaced", 60);
        expect(await infra.cache.get(key)).toBe("replaced");
      });

      it("forgets an entry once its ttl has passed", async () => {
        const key = unique("ttl");
        await infra.cache.set(key, "short-lived", 1);
        expect(await infra.cache.get(key)).toBe("short-lived");
        await vi.waitFor(async () => expect(await infra.cache.get(key)).toBeNull(), EXPIRY_WAIT);
      });

      it("touch extends the ttl of an existing entry and does not create a missing one", async () => {
        const touched = unique("touched");
        const control = unique("control");
        await infra.cache.set(touched, "kept", 1);
        await infra.cache.set(control, "dropped", 1);
        await infra.cache.touch(touched, 60);
        // The control entry had the same 1 s ttl: once it is gone, the touched one would be too.
        await vi.waitFor(async () => expect(await infra.cache.get(control)).toBeNull(), EXPIRY_WAIT);
        expect(await infra.cache.get(touched)).toBe("kept");

        const missing = unique("missing");
        await infra.cache.touch(missing, 60);
        expect(await infra.cache.get(missing)).toBeNull();
      });

      it("deletes several keys at once and leaves the others", async () => {
        const [k1, k2, k3] = [unique("a"), unique("b"), unique("c")];
        for (const k of [k1, k2, k3]) await infra.cache.set(k, k, 60);
        await infra.cache.del(k1, k2, unique("never-set"));
        await infra.cache.del();
        expect(await infra.cache.get(k1)).toBeNull();
        expect(await infra.cache.get(k2)).toBeNull();
        expect(await infra.cache.get(k3)).toBe(k3);
      });
    });

    describe("versioned cache entries", () => {
      it("keeps the newest version: an older write never replaces a newer one", async () => {
        const key = unique("v");
        await infra.cache.setIfNewer(key, 2, "two", 60);
        await infra.cache.setIfNewer(key, 1, "one", 60);
        expect(await infra.cache.getVersioned(key, 60)).toEqual({ version: 2, value: "two" });
        await infra.cache.setIfNewer(key, 2, "two again", 60);
        expect(await infra.cache.getVersioned(key, 60)).toEqual({ version: 2, value: "two again" });
        await infra.cache.setIfNewer(key, 3, "", 60);
        expect(await infra.cache.getVersioned(key, 60)).toEqual({ version: 3, value: "" });
        expect(await infra.cache.getVersioned(unique("missing"), 60)).toBeNull();
      });

      it("a burst of concurrent writers ends with the highest version", async () => {
        const key = unique("race");
        const versions = Array.from({ length: 50 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
        await Promise.all(versions.map((v) => infra.cache.setIfNewer(key, v, `v${v}`, 60)));
        expect(await infra.cache.getVersioned(key, 60)).toEqual({ version: 50, value: "v50" });
      });

      it("reading refreshes the ttl", async () => {
        const read = unique("read");
        const control = unique("control");
        await infra.cache.setIfNewer(read, 1, "kept", 1);
        await infra.cache.setIfNewer(control, 1, "dropped", 1);
        expect(await infra.cache.getVersioned(read, 60)).toEqual({ version: 1, value: "kept" });
        // Plain get: reading the control with getVersioned would keep it alive.
        await vi.waitFor(async () => expect(await infra.cache.get(control)).toBeNull(), EXPIRY_WAIT);
        expect(await infra.cache.getVersioned(read, 60)).toEqual({ version: 1, value: "kept" });
      });
    });

    describe("rate limiter", () => {
      it("counts hits within a window and blocks past the limit", async () => {
        const key = unique("rl");
        const results = [];
        for (let i = 0; i < 4; i++) results.push(await infra.rateLimiter.hit(key, 3, 60));
        expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
        expect(results.map((r) => r.remaining)).toEqual([2, 1, 0, 0]);
        for (const r of results) {
          expect(r.resetSeconds).toBeGreaterThanOrEqual(1);
          expect(r.resetSeconds).toBeLessThanOrEqual(60);
        }
      });

      it("keeps keys independent", async () => {
        const [k1, k2] = [unique("rl-a"), unique("rl-b")];
        expect((await infra.rateLimiter.hit(k1, 1, 60)).allowed).toBe(true);
        expect((await infra.rateLimiter.hit(k1, 1, 60)).allowed).toBe(false);
        expect(await infra.rateLimiter.hit(k2, 1, 60)).toMatchObject({ allowed: true, remaining: 0 });
      });

      it("starts a new window once the old one has passed", async () => {
        const key = unique("rl-reset");
        expect((await infra.rateLimiter.hit(key, 1, 1)).allowed).toBe(true);
        expect((await infra.rateLimiter.hit(key, 1, 1)).allowed).toBe(false);
        // Set after the window started, with the same length: when it is gone, so is the window.
        const control = unique("control");
        await infra.cache.set(control, "x", 1);
        await vi.waitFor(async () => expect(await infra.cache.get(control)).toBeNull(), EXPIRY_WAIT);
        expect(await infra.rateLimiter.hit(key, 1, 1)).toMatchObject({ allowed: true, remaining: 0 });
      });

      it("allows exactly `limit` of 100 concurrent hits", async () => {
        const key = unique("rl-race");
        const results = await Promise.all(
          Array.from({ length: 100 }, () => infra.rateLimiter.hit(key, 10, 60)),
        );
        expect(results.filter((r) => r.allowed)).toHaveLength(10);
        expect(results.filter((r) => !r.allowed).every((r) => r.remaining === 0)).toBe(true);
      });
    });

    describe("pub/sub", () => {
      it("delivers messages published after subscribing, in publish order", async () => {
        const topic = unique("order");
        const sub = infra.pubsub.subscribe(topic);
        await sub.ready;
        for (let n = 1; n <= 5; n++) await infra.pubsub.publish(topic, { n });
        expect(await take(sub, 5)).toEqual([1, 2, 3, 4, 5].map((n) => ({ n })));
        await sub.return?.();
      });

      it("delivers to every subscriber of a topic", async () => {
        const topic = unique("fanout");
        const first = infra.pubsub.subscribe(topic);
        const second = infra.pubsub.subscribe(topic);
        await Promise.all([first.ready, second.ready]);
        await infra.pubsub.publish(topic, { hello: "both" });
        expect(await nextValue(first)).toEqual({ hello: "both" });
        expect(await nextValue(second)).toEqual({ hello: "both" });
        await Promise.all([first.return?.(), second.return?.()]);
      });

      it("return() ends one subscriber; the channel is released when the last one leaves", async () => {
        const topic = unique("leave");
        const leaving = infra.pubsub.subscribe(topic);
        const staying = infra.pubsub.subscribe(topic);
        await Promise.all([leaving.ready, staying.ready]);
        expect(await a.channelSubscribers?.(topic)).toBe(a.channelSubscribers ? 1 : undefined);

        expect(await leaving.return?.()).toEqual({ value: undefined, done: true });
        await infra.pubsub.publish(topic, { n: 1 });
        expect(await nextValue(staying)).toEqual({ n: 1 });
        expect(await leaving.next()).toEqual({ value: undefined, done: true });
        // The other subscriber in this process still needs the channel.
        expect(await a.channelSubscribers?.(topic)).toBe(a.channelSubscribers ? 1 : undefined);

        await staying.return?.();
        expect(await a.channelSubscribers?.(topic)).toBe(a.channelSubscribers ? 0 : undefined);
        expect(await staying.next()).toEqual({ value: undefined, done: true });
        await infra.pubsub.publish(topic, { n: 2 });

        // A later subscriber starts afresh and only sees what is published after it subscribed.
        const again = infra.pubsub.subscribe(topic);
        await again.ready;
        await infra.pubsub.publish(topic, { n: 3 });
        expect(await nextValue(again)).toEqual({ n: 3 });
        await again.return?.();
      });

      it("an aborted signal ends the subscription, a pending next() included, and releases the channel", async () => {
        const topic = unique("abort");
        const controller = new AbortController();
        const sub = infra.pubsub.subscribe(topic, controller.signal);
        await sub.ready;
        const pending = sub.next();
        controller.abort();
        expect(await pending).toEqual({ value: undefined, done: true });
        if (a.channelSubscribers) {
          await vi.waitFor(async () => expect(await a.channelSubscribers?.(topic)).toBe(0));
        }
        await infra.pubsub.publish(topic, { late: true });
        expect(await sub.next()).toEqual({ value: undefined, done: true });

        const already = infra.pubsub.subscribe(topic, AbortSignal.abort());
        expect(await already.next()).toEqual({ value: undefined, done: true });
      });

      it("keeps topics isolated", async () => {
        const [ta, tb] = [unique("topic-a"), unique("topic-b")];
        const subA = infra.pubsub.subscribe(ta);
        const subB = infra.pubsub.subscribe(tb);
        await Promise.all([subA.ready, subB.ready]);
        await infra.pubsub.publish(ta, { to: "a", n: 1 });
        await infra.pubsub.publish(tb, { to: "b", n: 2 });
        await infra.pubsub.publish(ta, { to: "a", n: 3 });
        await infra.pubsub.publish(tb, { to: "b", n: 4 });
        expect(await take(subA, 2)).toEqual([
          { to: "a", n: 1 },
          { to: "a", n: 3 },
        ]);
        expect(await take(subB, 2)).toEqual([
          { to: "b", n: 2 },
          { to: "b", n: 4 },
        ]);
        await Promise.all([subA.return?.(), subB.return?.()]);
      });

      it("gives every subscriber its own copy, carried as JSON", async () => {
        const topic = unique("copies");
        const first = infra.pubsub.subscribe(topic);
        const second = infra.pubsub.subscribe(topic);
        await Promise.all([first.ready, second.ready]);
        const payload = { nested: { v: 1 }, list: [1, 2], at: new Date(0) };
        await infra.pubsub.publish(topic, payload);
        payload.nested.v = 99;
        payload.list.push(3);

        const got1 = (await nextValue(first)) as { nested: { v: number }; list: number[]; at: unknown };
        got1.nested.v = 2;
        got1.list.length = 0;
        const got2 = await nextValue(second);
        expect(got2).toEqual({ nested: { v: 1 }, list: [1, 2], at: "1970-01-01T00:00:00.000Z" });
        await Promise.all([first.return?.(), second.return?.()]);
      });

      it("close() ends open subscriptions", async () => {
        const own = a.create();
        const topic = unique("closing");
        const sub = own.pubsub.subscribe(topic);
        await sub.ready;
        await own.cache.set(unique("k"), "v", 60);
        const pending = sub.next();
        await own.close();
        expect(await pending).toEqual({ value: undefined, done: true });
        await expect(own.pubsub.subscribe(topic).next()).resolves.toEqual({ value: undefined, done: true });
      });

      it("close() leaves no handle behind: the process exits on its own", async () => {
        expect(await exitsOnItsOwn(a.target)).toBe(0);
      });
    });
  });
}

contract("in-memory twins", () => ({ target: "memory", create: () => createMemoryInfra() }));

const redisAdapter = (url: string) => (): Adapter => {
  const namespace = `test:contract:${randomBytes(4).toString("hex")}:`;
  const probe = new Redis(url, { lazyConnect: true });
  return {
    target: url,
    create: () => createRedisInfra(url, { logger, namespace }),
    async channelSubscribers(topic) {
      const [, count] = (await probe.pubsub("NUMSUB", namespace + topic)) as [string, number];
      return Number(count);
    },
    async dispose() {
      await probe.quit().catch(() => probe.disconnect());
    },
  };
};

if (redisUrl) {
  contract("redis adapters", redisAdapter(redisUrl));
} else if (process.env.CI === "true") {
  describe("redis adapters", () => {
    it("runs in CI", () => {
      expect.fail("REDIS_URL must be set in CI: the Redis adapters are part of the contract");
    });
  });
} else {
  contract(
    "redis adapters",
    redisAdapter("redis://127.0.0.1:6379"),
    "REDIS_URL is not set: the Redis adapters are not exercised (CI requires it)",
  );
}

describe("redis adapters when Redis is down", () => {
  // Port 1 on loopback: connections are refused at once, as with a stopped Redis.
  const deadUrl = "redis://127.0.0.1:1";
  let infra: Infra;
  beforeAll(() => {
    infra = createRedisInfra(deadUrl, { logger, namespace: `test:down:${randomBytes(4).toString("hex")}:` });
  });
  afterAll(async () => {
    await infra.close();
  });

  it("the cache misses and its writes resolve quietly", async () => {
    await expect(infra.cache.set("k", "v", 60)).resolves.toBeUndefined();
    await expect(infra.cache.touch("k", 60)).resolves.toBeUndefined();
    await expect(infra.cache.del("k", "other")).resolves.toBeUndefined();
    expect(await infra.cache.get("k")).toBeNull();
  });

  it("the rate limiter lets every request through", async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => infra.rateLimiter.hit("rl", 1, 60)));
    expect(results.every((r) => r.allowed && r.remaining === 1 && r.resetSeconds === 60)).toBe(true);
  });

  it("ping reports not ready", async () => {
    expect(await infra.ping()).toBe(false);
  });

  it("publish rejects, so the caller decides what to do with the event", async () => {
    await expect(infra.pubsub.publish("topic", { n: 1 })).rejects.toThrow();
  });

  it("close() ends subscriptions still waiting for Redis", async () => {
    const own = createRedisInfra(deadUrl, { logger, namespace: "test:down-close:" });
    const sub = own.pubsub.subscribe("waiting");
    const pending = sub.next();
    expect(await own.cache.get("k")).toBeNull();
    await own.close();
    expect(await pending).toEqual({ value: undefined, done: true });
    await expect(sub.ready).rejects.toThrow();
  });

  it("close() leaves no handle behind (no reconnect timer): the process exits on its own", async () => {
    expect(await exitsOnItsOwn(deadUrl)).toBe(0);
  });
});
