/**
 * Faults that only a real Redis process can produce: it is started here (its own port), frozen with
 * SIGSTOP (it keeps its sockets open and stops answering: a hung Redis, the worst case), resumed with
 * SIGCONT, and stopped by its pid. The claims are about counts (how many calls waited for a timeout),
 * with durations only to tell a call that waited from one that did not.
 */
import { randomBytes } from "node:crypto";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createRedisInfra, type RedisInfraOptions, type RedisTarget } from "../../src/infra/redis.js";
import type { Infra } from "../../src/infra/types.js";
import {
  hasRedisServer,
  type RedisClusterProcesses,
  type RedisProcess,
  startRedisCluster,
  startRedisServer,
} from "../support/redis-server.js";

const COMMAND_TIMEOUT_MS = 500;
const BREAKER_OPEN_MS = 1_500;
/** A call that took this long waited for the command timeout; one that did not returned at once. */
const WAITED_MS = COMMAND_TIMEOUT_MS * 0.8;
/** Bounds on waiting for recovery, not timing claims. */
const RECOVERY_WAIT = { timeout: BREAKER_OPEN_MS + 10_000, interval: 50 };

const canRun = hasRedisServer();
const skip = !canRun && process.env.CI !== "true";
if (!canRun && process.env.CI === "true") {
  describe("faults of a real Redis process", () => {
    it("runs in CI", () => {
      expect.fail("redis-server must be installed in CI: the fault tests start and freeze their own Redis");
    });
  });
}
if (skip) console.warn("redis-server is not installed: the Redis fault tests are skipped (CI requires them)");

function infraOn(target: RedisTarget, extra: Partial<RedisInfraOptions> = {}): Infra {
  return createRedisInfra(target, {
    logger: pino({ level: "silent" }),
    namespace: `test:faults:${randomBytes(4).toString("hex")}:`,
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    breakerOpenMs: BREAKER_OPEN_MS,
    ...extra,
  });
}

/** Runs `calls` one after another; resolves each call's duration in ms. */
async function timed(calls: (() => Promise<unknown>)[]): Promise<number[]> {
  const durations: number[] = [];
  for (const call of calls) {
    const started = performance.now();
    await call();
    durations.push(performance.now() - started);
  }
  return durations;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe.skipIf(!canRun)("a hung Redis (SIGSTOP) behind the circuit breaker", () => {
  let server: RedisProcess;
  let infra: Infra;
  beforeAll(async () => {
    server = await startRedisServer();
    infra = infraOn(server.url);
  });
  afterAll(async () => {
    await infra?.close();
    await server?.stop();
  });

  it("20 cache reads cost one timeout in total, not 20; the other ports answer at once; then it recovers", async () => {
    await infra.cache.set("k", "v", 600);
    expect(await infra.cache.get("k")).toBe("v");
    expect(infra.health()).toEqual({ kind: "redis", reachable: true, breaker: "closed" });

    server.pause();
    let resumedAt = 0;
    try {
      const reads = await timed(Array.from({ length: 20 }, () => () => infra.cache.get("k")));
      // The first read waited for its timeout and opened the circuit; the 19 others did not wait.
      expect(reads.filter((d) => d >= WAITED_MS)).toHaveLength(1);
      expect(reads[0]).toBeGreaterThanOrEqual(WAITED_MS);
      expect(sum(reads)).toBeLessThan(20 * WAITED_MS * 0.25);
      expect(infra.health()).toEqual({ kind: "redis", reachable: false, breaker: "open" });
      expect(await infra.cache.get("k")).toBeNull();

      // Throttles fail closed: counted in process while Redis is out.
      const hits = await Promise.all(
        Array.from({ length: 10 }, () => infra.rateLimiter.hit("rl:hung", 3, 60)),
      );
      expect(hits.filter((h) => h.allowed)).toHaveLength(3);
      // Publish rejects at once (the outbox relay retries later); the stock gate admits.
      const others = await timed([
        () => expect(infra.pubsub.publish("t", { n: 1 })).rejects.toThrow(/circuit open/),
        () =>
          expect(infra.stockGate.take("s", [{ variantId: "v", quantity: 1 }])).resolves.toEqual({
            admitted: true,
          }),
        () => expect(infra.ping()).resolves.toBe(false),
      ]);
      expect(others.filter((d) => d >= WAITED_MS)).toHaveLength(0);
    } finally {
      server.resume();
      resumedAt = performance.now();
    }

    // Within the open window (plus the probe), reads are served by Redis again.
    await vi.waitFor(async () => expect(await infra.cache.get("k")).toBe("v"), RECOVERY_WAIT);
    expect(performance.now() - resumedAt).toBeLessThan(BREAKER_OPEN_MS + 5_000);
    expect(infra.health()).toEqual({ kind: "redis", reachable: true, breaker: "closed" });
    // Redis's own counting is back (a fresh key starts a fresh window there).
    expect(await infra.rateLimiter.hit("rl:after", 1, 60)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it("half-open lets exactly one probe through while Redis is still hung; the rest answer at once", async () => {
    server.pause();
    try {
      await infra.cache.get("k"); // fails after a timeout, opens the circuit
      expect(infra.health().breaker).toBe("open");
      await vi.waitFor(() => expect(infra.health().breaker).toBe("half-open"), RECOVERY_WAIT);
      const concurrent = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const started = performance.now();
          await infra.cache.get("k");
          return performance.now() - started;
        }),
      );
      expect(concurrent.filter((d) => d >= WAITED_MS)).toHaveLength(1);
      // The probe failed: open again, for another window.
      expect(infra.health().breaker).toBe("open");
    } finally {
      server.resume();
    }
    await vi.waitFor(async () => expect(await infra.cache.get("k")).toBe("v"), RECOVERY_WAIT);
  });

  it("rate-limit hits with Redis hung: one timeout in total, limits applied", async () => {
    server.pause();
    try {
      const hits: boolean[] = [];
      const durations = await timed(
        Array.from({ length: 20 }, () => async () => {
          hits.push((await infra.rateLimiter.hit("rl:sequential", 5, 60)).allowed);
        }),
      );
      expect(durations.filter((d) => d >= WAITED_MS)).toHaveLength(1);
      expect(hits.filter(Boolean)).toHaveLength(5);
    } finally {
      server.resume();
    }
    await vi.waitFor(() => expect(infra.ping()).resolves.toBe(true), RECOVERY_WAIT);
  });

  it("without the breaker (REDIS_BREAKER_OPEN_MS=0) every read waits for the timeout", async () => {
    const unguarded = infraOn(server.url, { breakerOpenMs: 0 });
    try {
      await unguarded.cache.set("k", "v", 600);
      expect(unguarded.health()).toEqual({ kind: "redis", reachable: true, breaker: null });
      server.pause();
      try {
        const reads = await timed(Array.from({ length: 4 }, () => () => unguarded.cache.get("k")));
        expect(reads.filter((d) => d >= WAITED_MS)).toHaveLength(4);
      } finally {
        server.resume();
      }
      await vi.waitFor(async () => expect(await unguarded.cache.get("k")).toBe("v"), RECOVERY_WAIT);
    } finally {
      await unguarded.close();
    }
  });
});

describe.skipIf(!canRun)("a hung node of a Redis Cluster", () => {
  let cluster: RedisClusterProcesses;
  let infra: Infra;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    infra = infraOn({ clusterNodes: cluster.hostPorts });
  });
  afterAll(async () => {
    await infra?.close();
    await cluster?.stop();
  });

  it("opens the circuit for the whole Infra after one timeout, and closes again after SIGCONT", async () => {
    // Keys on every node, so that some live on the node that hangs.
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    for (const k of keys) await infra.cache.set(k, k, 600);
    for (const k of keys) expect(await infra.cache.get(k)).toBe(k);
    expect(infra.health()).toEqual({ kind: "redis-cluster", reachable: true, breaker: "closed" });

    const hung = cluster.nodes[0]!;
    hung.pause();
    try {
      const reads = await timed(keys.map((k) => () => infra.cache.get(k)));
      expect(reads.filter((d) => d >= WAITED_MS)).toHaveLength(1);
      expect(infra.health()).toMatchObject({ kind: "redis-cluster", breaker: "open", reachable: false });
    } finally {
      hung.resume();
    }
    await vi.waitFor(async () => {
      for (const k of keys) expect(await infra.cache.get(k)).toBe(k);
    }, RECOVERY_WAIT);
    expect(infra.health().breaker).toBe("closed");
  });
});
