import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

describe("Redis settings", () => {
  it("default to a 500 ms command timeout and a 5 s circuit breaker window", () => {
    const c = loadConfig({});
    expect(c.REDIS_COMMAND_TIMEOUT_MS).toBe(500);
    expect(c.REDIS_BREAKER_OPEN_MS).toBe(5_000);
    expect(c.REDIS_CLUSTER_NODES).toBeUndefined();
    expect(loadConfig({ REDIS_BREAKER_OPEN_MS: "0" }).REDIS_BREAKER_OPEN_MS).toBe(0);
  });

  it("parse REDIS_CLUSTER_NODES as host:port pairs (IPv6 in brackets)", () => {
    const c = loadConfig({ REDIS_CLUSTER_NODES: "10.0.0.1:7000, redis-b.internal:7001,[::1]:7002" });
    expect(c.REDIS_CLUSTER_NODES).toEqual([
      { host: "10.0.0.1", port: 7000 },
      { host: "redis-b.internal", port: 7001 },
      { host: "::1", port: 7002 },
    ]);
  });

  it.each([
    "10.0.0.1",
    "10.0.0.1:0",
    "host:65536",
    "host:70000,other:1",
    "redis://host:6379",
    "a:1,,b:2",
  ])("refuse %j, naming the variable", (value) => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: value })).toThrow(/REDIS_CLUSTER_NODES: must be/);
  });

  it("refuse REDIS_URL and REDIS_CLUSTER_NODES together", () => {
    expect(() =>
      loadConfig({ REDIS_URL: "redis://127.0.0.1:6379", REDIS_CLUSTER_NODES: "127.0.0.1:7000" }),
    ).toThrow(ConfigError);
  });

  it("refuse out-of-range timeouts", () => {
    expect(() => loadConfig({ REDIS_COMMAND_TIMEOUT_MS: "0" })).toThrow(/REDIS_COMMAND_TIMEOUT_MS/);
    expect(() => loadConfig({ REDIS_BREAKER_OPEN_MS: "-1" })).toThrow(/REDIS_BREAKER_OPEN_MS/);
  });
});
