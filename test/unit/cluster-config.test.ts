import { describe, expect, it } from "vitest";
import { restartDelayMs } from "../../src/cluster.js";
import { ConfigError, loadConfig, poolSizeFor } from "../../src/config.js";

describe("pool size per process", () => {
  it("defaults to 10, lowered so that every process fits the connection budget", () => {
    expect(poolSizeFor(1, undefined, 100)).toBe(10);
    expect(poolSizeFor(2, undefined, 100)).toBe(10);
    expect(poolSizeFor(16, undefined, 100)).toBe(5); // floor(100 / 16) - 1 listener
    expect(poolSizeFor(50, undefined, 100)).toBe(1);
    expect(() => poolSizeFor(51, undefined, 100)).toThrow(ConfigError);
  });

  it("refuses a given size that does not fit, and says what would", () => {
    expect(poolSizeFor(2, 49, 100)).toBe(49);
    expect(() => poolSizeFor(2, 50, 100)).toThrow(
      /2 process\(es\) × \(50 pooled \+ 1 listener\) = 102 .*at most 49/,
    );
  });

  it("reads WEB_CONCURRENCY (auto = CPUs) and DATABASE_MAX_CONNECTIONS from the environment", () => {
    const redis = { REDIS_URL: "redis://127.0.0.1:6379" };
    expect(loadConfig({}).WEB_CONCURRENCY).toBe(1);
    expect(loadConfig({}).DATABASE_POOL_SIZE).toBe(10);
    expect(loadConfig({ ...redis, WEB_CONCURRENCY: "auto" }).WEB_CONCURRENCY).toBeGreaterThanOrEqual(1);
    const c = loadConfig({ ...redis, WEB_CONCURRENCY: "4", DATABASE_MAX_CONNECTIONS: "20" });
    expect(c.DATABASE_POOL_SIZE).toBe(4);
    expect(() => loadConfig({ WEB_CONCURRENCY: "2" })).toThrow(/need REDIS_URL or REDIS_CLUSTER_NODES/);
    expect(() => loadConfig({ WEB_CONCURRENCY: "0" })).toThrow(ConfigError);
  });
});

describe("worker restart delay", () => {
  it("doubles with each quick death, from 250 ms up to 30 s", () => {
    expect([1, 2, 3, 4].map(restartDelayMs)).toEqual([250, 500, 1000, 2000]);
    expect(restartDelayMs(50)).toBe(30_000);
  });
});
