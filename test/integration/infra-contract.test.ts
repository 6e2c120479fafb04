/**
 * One contract, several implementations: every case below runs against the in-memory twins, the Redis
 * adapters on one node (REDIS_URL; in CI it must be set) and on a real 3-master Redis Cluster started
 * here from the machine's redis-server. Then the Redis adapters pointed at ports where nothing listens:
 * the cache misses, the limiter still limits (in process), the stock gate admits, publish rejects,
 * nothing hangs.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { createMemoryInfra } from "../../src/infra/memory.js";
import { createRedisInfra, type RedisTarget } from "../../src/infra/redis.js";
import { stockCounterKey } from "../../src/infra/redis-stock-gate.js";
import type { Infra, Subscription } from "../../src/infra/types.js";
import type { Logger } from "../../src/logger.js";
import { hasRedisServer, type RedisClusterProcesses, startRedisCluster } from "../support/redis-server.js";

const redisUrl = inject("redisUrl");
const unique = (label: string) => `${label}:${randomBytes(4).toString("hex")}`;
/** Long enough for a 1 s expiry to pass on a loaded machine; a bound on waiting, not a timing claim. */
const EXPIRY_WAIT = { timeout: 10_000, interval: 50 };

/** A logger that keeps what the adapters warn about: a Redis target must never answer degraded here. */
function recordingLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      warnings.push(String(chunk));
      done();
    },
  });
  return { logger: pino({ level: "warn" }, sink), warnings };
}
const silent = pino({ level: "silent" });

interface Adapter {
  /** "memory", a Redis URL or "cluster:host:port,...": what a separate process builds (see exitsOnItsOwn). */
  target: string;
  create(): Infra;
  /** How many connections Redis counts on this topic's channel (Redis only). */
  channelSubscribers?(topic: string): Promise<number>;
  /** Publishes straight to each node in turn (cluster only), bypassing the adapter. */
  publishThroughEachNode?(topic: string, payload: Record<string, unknown>): Promise<number>;
  /**
   * Cluster only: waits until what was published to `topic` has reached every node. A message crosses
   * the cluster bus after PUBLISH returns, so one published just before a subscription is established
   * can still arrive after it (see Subscription.ready).
   */
  settle?(infra: Infra, topic: string): Promise<void>;
  /** CLUSTER KEYSLOT (cluster only). */
  keySlot?(key: string): Promise<number>;
  /** Warnings the adapters logged (Redis only): any means a call fell back to its degraded answer. */
  warnings?: string[];
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
function exitsOnItsOwn(target: string): Promise<number | null> {
  const module = (file: string) => JSON.stringify(new URL(`../../src/infra/${file}`, import.meta.url).href);
  const script = `
    const { createMemoryInfra } = await import(${module("memory.ts")});
    const { createRedisInfra } = await import(${module("redis.ts")});
    const { createLogger } = await import(${module("../logger.ts")});
    const target = process.argv[1];
    const redisTarget = target.startsWith("cluster:")
      ? { clusterNodes: target.slice(8).split(",").map((n) => ({ host: n.split(":")[0], port: Number(n.split(":")[1]) })) }
      : target;
    const infra = target === "memory" ? createMemoryInfra()
      : createRedisInfra(redisTarget, { logger: createLogger("silent"), namespace: "test:exit:" + process.pid + ":" });
    const sub = infra.pubsub.subscribe("topic");
    const pending = sub.next();
    await infra.cache.set("k", "v", 60);
    await infra.cache.get("k");
    await infra.rateLimiter.hit("rl", 1, 60);
    await infra.stockGate.set("store", [{ variantId: "v", available: 1 }]);
    await infra.stockGate.take("store", [{ variantId: "v", quantity: 1 }]);
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

function contract(name: string, adapter: () => Promise<Adapter>, skipReason?: string) {
  describe(name, () => {
    let a: Adapter;
    let infra: Infra;
    beforeAll(async () => {
      if (skipReason) return;
      a = await adapter();
      infra = a.create();
    });
    afterAll(async () => {
      await infra?.close();
      await a?.dispose?.();
    });
    beforeEach((ctx) => {
      if (skipReason) ctx.skip(skipReason);
    });
    afterEach(() => {
      // A failing Redis call would hide behind its degraded answer (a miss, an admit): none may happen.
      expect(a?.warnings ?? []).toEqual([]);
    });

    it("reports its health", async () => {
      expect(await infra.ping()).toBe(true);
      const health = infra.health();
      if (infra.kind === "memory") expect(health).toEqual({ kind: "memory", reachable: null, breaker: null });
      else expect(health).toEqual({ kind: infra.kind, reachable: true, breaker: "closed" });
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
        // Enough keys that, on a cluster, they land on every node.
        const keys = Array.from({ length: 12 }, (_, i) => unique(`del${i}`));
        const kept = unique("kept");
        for (const k of [...keys, kept]) await infra.cache.set(k, k, 60);
        await infra.cache.del(...keys, unique("never-set"));
        await infra.cache.del();
        for (const k of keys) expect(await infra.cache.get(k)).toBeNull();
        expect(await infra.cache.get(kept)).toBe(kept);
      });
    });

    describe("versioned cache entries", () => {
      it("keeps the newest version: an older write never replaces a newer one", async () => {
        const key = unique("v");
        await infra.cache.setIfNewer(key, 2, "two", 60);
        await infra.cache.setIfNewer(key, 1, "one", 60);
        expect(await infra.cache.getVersioned(key)).toEqual({ version: 2, value: "two" });
        await infra.cache.setIfNewer(key, 2, "two again", 60);
        expect(await infra.cache.getVersioned(key)).toEqual({ version: 2, value: "two again" });
        await infra.cache.setIfNewer(key, 3, "", 60);
        expect(await infra.cache.getVersioned(key)).toEqual({ version: 3, value: "" });
        expect(await infra.cache.getVersioned(unique("missing"))).toBeNull();
      });

      it("a burst of concurrent writers ends with the highest version", async () => {
        const key = unique("race");
        const versions = Array.from({ length: 50 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
        await Promise.all(versions.map((v) => infra.cache.setIfNewer(key, v, `v${v}`, 60)));
        expect(await infra.cache.getVersioned(key)).toEqual({ version: 50, value: "v50" });
      });

      it("reading does not extend the ttl: an unvalidated copy expires however often it is read", async () => {
        const key = unique("read");
        await infra.cache.setIfNewer(key, 1, "copy", 1);
        const setAt = Date.now();
        // Read it over and over until it is gone; a read that refreshed the ttl would keep it forever.
        await vi.waitFor(async () => expect(await infra.cache.getVersioned(key)).toBeNull(), EXPIRY_WAIT);
        expect(Date.now() - setAt).toBeGreaterThanOrEqual(900);
      });

      it("touch after a read (the caller validated the copy) keeps it", async () => {
        const read = unique("validated");
        const control = unique("control");
        await infra.cache.setIfNewer(read, 1, "kept", 1);
        await infra.cache.setIfNewer(control, 1, "dropped", 1);
        expect(await infra.cache.getVersioned(read)).toEqual({ version: 1, value: "kept" });
        await infra.cache.touch(read, 60);
        await vi.waitFor(async () => expect(await infra.cache.getVersioned(control)).toBeNull(), EXPIRY_WAIT);
        expect(await infra.cache.getVersioned(read)).toEqual({ version: 1, value: "kept" });
      });
    });

    describe("stock gate", () => {
      const store = () => unique("store");
      const counterOf = async (storeId: string, variantId: string) => {
        // The counter's value, read through the gate: a take of 1 that is refused names it.
        const r = await infra.stockGate.take(storeId, [{ variantId, quantity: Number.MAX_SAFE_INTEGER }]);
        return r.admitted ? "none" : r.short[0]?.available;
      };

      it("admits and decrements while the counter covers the quantity, then refuses naming what is left", async () => {
        const s = store();
        await infra.stockGate.set(s, [{ variantId: "v1", available: 5 }]);
        expect(await infra.stockGate.take(s, [{ variantId: "v1", quantity: 3 }])).toEqual({ admitted: true });
        expect(await infra.stockGate.take(s, [{ variantId: "v1", quantity: 3 }])).toEqual({
          admitted: false,
          short: [{ variantId: "v1", available: 2 }],
        });
        expect(await infra.stockGate.take(s, [{ variantId: "v1", quantity: 2 }])).toEqual({ admitted: true });
        expect(await infra.stockGate.take(s, [{ variantId: "v1", quantity: 1 }])).toEqual({
          admitted: false,
          short: [{ variantId: "v1", available: 0 }],
        });
      });

      it("is all or nothing over the lines and names every short line", async () => {
        const s = store();
        await infra.stockGate.set(s, [
          { variantId: "a", available: 10 },
          { variantId: "b", available: 1 },
          { variantId: "c", available: 0 },
        ]);
        const refused = await infra.stockGate.take(s, [
          { variantId: "a", quantity: 4 },
          { variantId: "b", quantity: 2 },
          { variantId: "c", quantity: 1 },
        ]);
        expect(refused).toEqual({
          admitted: false,
          short: [
            { variantId: "b", available: 1 },
            { variantId: "c", available: 0 },
          ],
        });
        // Nothing was taken from the line that was covered.
        expect(await counterOf(s, "a")).toBe(10);
        expect(
          await infra.stockGate.take(s, [
            { variantId: "a", quantity: 4 },
            { variantId: "b", quantity: 1 },
          ]),
        ).toEqual({ admitted: true });
        expect(await counterOf(s, "a")).toBe(6);
        expect(await counterOf(s, "b")).toBe(0);
      });

      it("lets lines without a counter pass, and takes from the ones that have one", async () => {
        const s = store();
        await infra.stockGate.set(s, [{ variantId: "known", available: 2 }]);
        expect(
          await infra.stockGate.take(s, [
            { variantId: "unknown", quantity: 1_000 },
            { variantId: "known", quantity: 2 },
          ]),
        ).toEqual({ admitted: true });
        expect(await counterOf(s, "known")).toBe(0);
        expect(await infra.stockGate.take(s, [{ variantId: "unknown", quantity: 1 }])).toEqual({
          admitted: true,
        });
        expect(await infra.stockGate.take(s, [])).toEqual({ admitted: true });
      });

      it("counts lines naming the same variant together", async () => {
        const s = store();
        await infra.stockGate.set(s, [{ variantId: "v", available: 1 }]);
        expect(
          await infra.stockGate.take(s, [
            { variantId: "v", quantity: 1 },
            { variantId: "v", quantity: 1 },
          ]),
        ).toEqual({ admitted: false, short: [{ variantId: "v", available: 1 }] });
        expect(await counterOf(s, "v")).toBe(1);
      });

      it("keeps stores apart", async () => {
        const [s1, s2] = [store(), store()];
        await infra.stockGate.set(s1, [{ variantId: "v", available: 0 }]);
        expect(await infra.stockGate.take(s2, [{ variantId: "v", quantity: 1 }])).toEqual({ admitted: true });
        expect((await infra.stockGate.take(s1, [{ variantId: "v", quantity: 1 }])).admitted).toBe(false);
      });

      it("gives units back to counters that exist, and creates none", async () => {
        const s = store();
        await infra.stockGate.set(s, [{ variantId: "v", available: 0 }]);
        await infra.stockGate.giveBack(s, [
          { variantId: "v", quantity: 2 },
          { variantId: "absent", quantity: 5 },
        ]);
        expect(await counterOf(s, "v")).toBe(2);
        expect(await counterOf(s, "absent")).toBe("none");
      });

      it("set replaces counters; forget drops them (those variants pass again)", async () => {
        const s = store();
        await infra.stockGate.set(s, [
          { variantId: "a", available: 1 },
          { variantId: "b", available: 0 },
        ]);
        await infra.stockGate.set(s, [{ variantId: "a", available: 7 }]);
        expect(await counterOf(s, "a")).toBe(7);
        await infra.stockGate.forget(s, ["a", "b", "never-set"]);
        expect(await counterOf(s, "a")).toBe("none");
        expect(await infra.stockGate.take(s, [{ variantId: "b", quantity: 1 }])).toEqual({ admitted: true });
      });

      it("counters expire after their ttl (drift is bounded), and take keeps the ttl", async () => {
        const s = store();
        await infra.stockGate.set(s, [{ variantId: "v", available: 3 }], 1);
        expect(await infra.stockGate.take(s, [{ variantId: "v", quantity: 1 }])).toEqual({ admitted: true });
        await infra.stockGate.giveBack(s, [{ variantId: "v", quantity: 1 }]);
        await vi.waitFor(async () => expect(await counterOf(s, "v")).toBe("none"), EXPIRY_WAIT);
      });

      it("of 500 concurrent takes of 1 on a counter of 50, admits exactly 50", async () => {
        const s = store();
        await infra.stockGate.set(s, [{ variantId: "hot", available: 50 }]);
        const results = await Promise.all(
          Array.from({ length: 500 }, () => infra.stockGate.take(s, [{ variantId: "hot", quantity: 1 }])),
        );
        expect(results.filter((r) => r.admitted)).toHaveLength(50);
        for (const r of results)
          if (!r.admitted) expect(r.short).toEqual([{ variantId: "hot", available: 0 }]);
        expect(await counterOf(s, "hot")).toBe(0);
      });

      it("refuses bad input with a RangeError and changes nothing", async () => {
        const s = store();
        await infra.stockGate.set(s, [{ variantId: "v", available: 5 }]);
        const bad: [string, () => Promise<unknown>][] = [
          ["zero quantity", () => infra.stockGate.take(s, [{ variantId: "v", quantity: 0 }])],
          ["fractional", () => infra.stockGate.take(s, [{ variantId: "v", quantity: 1.5 }])],
          ["negative give back", () => infra.stockGate.giveBack(s, [{ variantId: "v", quantity: -1 }])],
          ["empty variant", () => infra.stockGate.take(s, [{ variantId: "", quantity: 1 }])],
          ["braces in store", () => infra.stockGate.take("{x}", [{ variantId: "v", quantity: 1 }])],
          ["empty store", () => infra.stockGate.forget("", ["v"])],
          ["negative available", () => infra.stockGate.set(s, [{ variantId: "v", available: -1 }])],
          [
            "duplicate count",
            () =>
              infra.stockGate.set(s, [
                { variantId: "v", available: 1 },
                { variantId: "v", available: 2 },
              ]),
          ],
          ["zero ttl", () => infra.stockGate.set(s, [{ variantId: "v", available: 1 }], 0)],
        ];
        for (const [label, call] of bad) await expect(call(), label).rejects.toThrow(RangeError);
        expect(await counterOf(s, "v")).toBe(5);
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
      if (name.includes("cluster")) {
        it("puts every counter of a store in one hash slot, and spreads stores over slots", async () => {
          const slotsOf = (keys: string[]) => Promise.all(keys.map((k) => a.keySlot!(k)));
          const oneStore = await slotsOf(
            ["v1", "v2", "{odd}", "x}y"].map((v) => stockCounterKey("ns:", "s-a", v)),
          );
          expect(new Set(oneStore).size).toBe(1);
          const stores = await slotsOf(
            Array.from({ length: 20 }, (_, i) => stockCounterKey("ns:", `s-${i}`, "v")),
          );
          expect(new Set(stores).size).toBeGreaterThan(1);
        });
      }
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
        await a.settle?.(infra, topic);

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

      if (name.includes("cluster")) {
        it("keeps publish order over many messages (every one of a topic leaves from one node)", async () => {
          const topic = unique("many");
          const sub = infra.pubsub.subscribe(topic);
          await sub.ready;
          for (let n = 1; n <= 200; n++) await infra.pubsub.publish(topic, { n });
          expect((await take(sub, 200)).map((m) => m.n)).toEqual(
            Array.from({ length: 200 }, (_, i) => i + 1),
          );
          await sub.return?.();
        });

        it("delivers to a subscriber whichever node a message is published through", async () => {
          const topic = unique("cross-node");
          const sub = infra.pubsub.subscribe(topic);
          await sub.ready;
          const nodes = await a.publishThroughEachNode!(topic, { via: "node" });
          expect(nodes).toBe(3);
          expect(await take(sub, 3)).toEqual([{ via: "node" }, { via: "node" }, { via: "node" }]);
          // And between two instances (two Infra, each with its own connections).
          const other = a.create();
          await other.pubsub.publish(topic, { from: "other instance" });
          expect(await nextValue(sub)).toEqual({ from: "other instance" });
          await other.close();
          await sub.return?.();
        });
      }

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

contract("in-memory twins", async () => ({ target: "memory", create: () => createMemoryInfra() }));

const redisAdapter = (url: string) => async (): Promise<Adapter> => {
  const namespace = `test:contract:${randomBytes(4).toString("hex")}:`;
  const probe = new Redis(url, { lazyConnect: true });
  const { logger, warnings } = recordingLogger();
  return {
    target: url,
    warnings,
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

const clusterAdapter = async (): Promise<Adapter> => {
  const cluster: RedisClusterProcesses = await startRedisCluster();
  const namespace = `test:cluster:${randomBytes(4).toString("hex")}:`;
  // One plain connection per node: pub/sub introspection and PUBLISH are per node on a cluster.
  const nodes = cluster.hostPorts.map((n) => new Redis({ ...n, lazyConnect: true }));
  const target: RedisTarget = { clusterNodes: cluster.hostPorts };
  const { logger, warnings } = recordingLogger();
  return {
    target: `cluster:${cluster.hostPorts.map((n) => `${n.host}:${n.port}`).join(",")}`,
    warnings,
    create: () => createRedisInfra(target, { logger, namespace }),
    async channelSubscribers(topic) {
      let total = 0;
      for (const node of nodes) {
        const [, count] = (await node.pubsub("NUMSUB", namespace + topic)) as [string, number];
        total += Number(count);
      }
      return total;
    },
    async settle(infra, topic) {
      // A marker published after the messages, through the same node (publish is routed by the
      // channel's slot): once every node has delivered it, every node has seen what came before it.
      const witnesses = cluster.hostPorts.map((n) => new Redis(n));
      const marker = randomBytes(4).toString("hex");
      const arrived = witnesses.map(
        (w) =>
          new Promise<void>((resolve) =>
            w.on("message", (_channel: string, message: string) => {
              if (message.includes(marker)) resolve();
            }),
          ),
      );
      await Promise.all(witnesses.map((w) => w.subscribe(namespace + topic)));
      await infra.pubsub.publish(topic, { marker });
      await Promise.all(arrived);
      for (const w of witnesses) w.disconnect();
    },
    keySlot: async (key) => Number(await nodes[0]!.cluster("KEYSLOT", key)),
    async publishThroughEachNode(topic, payload) {
      let reached = 0;
      for (const node of nodes) {
        await node.publish(namespace + topic, JSON.stringify(payload));
        reached++;
      }
      return reached;
    },
    async dispose() {
      for (const node of nodes) node.disconnect();
      await cluster.stop();
    },
  };
};

if (hasRedisServer()) {
  contract("redis cluster adapters (3 masters)", clusterAdapter);
} else if (process.env.CI === "true") {
  describe("redis cluster adapters (3 masters)", () => {
    it("runs in CI", () => {
      expect.fail("redis-server must be installed in CI: the cluster contract starts a real cluster from it");
    });
  });
} else {
  contract(
    "redis cluster adapters (3 masters)",
    clusterAdapter,
    "redis-server is not installed: the cluster adapters are not exercised (CI requires it)",
  );
}

const downTargets: [string, RedisTarget][] = [
  // Port 1 on loopback: connections are refused at once, as with a stopped Redis.
  ["redis adapters when Redis is down", "redis://127.0.0.1:1"],
  ["redis cluster adapters when the cluster is down", { clusterNodes: [{ host: "127.0.0.1", port: 1 }] }],
];

for (const [title, deadTarget] of downTargets) {
  describe(title, () => {
    let infra: Infra;
    const create = () =>
      createRedisInfra(deadTarget, {
        logger: silent,
        namespace: `test:down:${randomBytes(4).toString("hex")}:`,
      });
    beforeAll(() => {
      infra = create();
    });
    afterAll(async () => {
      await infra.close();
    });

    it("the cache misses and its writes resolve quietly", async () => {
      await expect(infra.cache.set("k", "v", 60)).resolves.toBeUndefined();
      await expect(infra.cache.touch("k", 60)).resolves.toBeUndefined();
      await expect(infra.cache.del("k", "other")).resolves.toBeUndefined();
      await expect(infra.cache.setIfNewer("k", 1, "v", 60)).resolves.toBeUndefined();
      expect(await infra.cache.get("k")).toBeNull();
      expect(await infra.cache.getVersioned("k")).toBeNull();
    });

    it("the rate limiter fails closed: limits still apply, counted in this process", async () => {
      const results = await Promise.all(Array.from({ length: 20 }, () => infra.rateLimiter.hit("rl", 3, 60)));
      expect(results.filter((r) => r.allowed)).toHaveLength(3);
      expect(results.filter((r) => r.allowed).map((r) => r.remaining)).toEqual([2, 1, 0]);
      expect(results.filter((r) => !r.allowed).every((r) => r.remaining === 0 && r.resetSeconds <= 60)).toBe(
        true,
      );
      expect((await infra.rateLimiter.hit("other", 1, 60)).allowed).toBe(true);
    });

    it("the stock gate admits (the database decides) and its other calls do nothing", async () => {
      await expect(infra.stockGate.set("s", [{ variantId: "v", available: 0 }])).resolves.toBeUndefined();
      expect(await infra.stockGate.take("s", [{ variantId: "v", quantity: 1 }])).toEqual({ admitted: true });
      await expect(infra.stockGate.giveBack("s", [{ variantId: "v", quantity: 1 }])).resolves.toBeUndefined();
      await expect(infra.stockGate.forget("s", ["v"])).resolves.toBeUndefined();
    });

    it("ping and health report it unreachable, the circuit open", async () => {
      expect(await infra.ping()).toBe(false);
      expect(infra.health()).toMatchObject({ reachable: false, breaker: "open" });
    });

    it("publish rejects, so the caller decides what to do with the event", async () => {
      await expect(infra.pubsub.publish("topic", { n: 1 })).rejects.toThrow();
    });

    it("close() ends subscriptions still waiting for Redis", async () => {
      const own = create();
      const sub = own.pubsub.subscribe("waiting");
      const pending = sub.next();
      expect(await own.cache.get("k")).toBeNull();
      await own.close();
      expect(await pending).toEqual({ value: undefined, done: true });
      await expect(sub.ready).rejects.toThrow();
    });

    it("close() leaves no handle behind (no reconnect timer): the process exits on its own", async () => {
      const target = typeof deadTarget === "string" ? deadTarget : "cluster:127.0.0.1:1";
      expect(await exitsOnItsOwn(target)).toBe(0);
    });
  });
}
