/** Which requests may read from the replica (src/server/read-routing.ts): one rule, every case. */
import { OperationTypeNode } from "graphql";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { readTargetFor } from "../../src/server/read-routing.js";
import type { Caller } from "../../src/services/context.js";

const callers: Record<Caller["kind"], Caller> = {
  anonymous: { kind: "anonymous" },
  guest: { kind: "guest", sessionId: "s" },
  customer: { kind: "customer", customerId: "c", email: "c@example.com" },
  staff: { kind: "staff", staffId: "st", role: "STAFF", email: "st@example.com" },
};

describe("read routing", () => {
  it.each([
    [OperationTypeNode.QUERY, "anonymous", "replica"],
    [OperationTypeNode.QUERY, "guest", "replica"],
    [OperationTypeNode.QUERY, "customer", "replica"],
    [OperationTypeNode.QUERY, "staff", "primary"],
    [OperationTypeNode.MUTATION, "anonymous", "primary"],
    [OperationTypeNode.MUTATION, "guest", "primary"],
    [OperationTypeNode.MUTATION, "customer", "primary"],
    [OperationTypeNode.MUTATION, "staff", "primary"],
    [OperationTypeNode.SUBSCRIPTION, "guest", "primary"],
    [OperationTypeNode.SUBSCRIPTION, "staff", "primary"],
  ] as const)("a %s by %s reads from the %s", (operation, caller, target) => {
    expect(readTargetFor(operation, callers[caller])).toBe(target);
  });
});

describe("read replica configuration", () => {
  const base = { DATABASE_READ_URL: "postgres://reader@replica:5432/cartograph" };

  it("is off without DATABASE_READ_URL and has a 1 s lag bound probed every 250 ms", () => {
    expect(loadConfig({}).DATABASE_READ_URL).toBeUndefined();
    const config = loadConfig(base);
    expect(config.DATABASE_READ_URL).toBe(base.DATABASE_READ_URL);
    expect(config.DATABASE_READ_MAX_LAG_MS).toBe(1000);
    expect(config.DATABASE_READ_PROBE_MS).toBe(250);
  });

  it("refuses a probe interval that is not below the lag bound", () => {
    expect(() =>
      loadConfig({ ...base, DATABASE_READ_MAX_LAG_MS: "500", DATABASE_READ_PROBE_MS: "500" }),
    ).toThrow(/DATABASE_READ_PROBE_MS: must be below DATABASE_READ_MAX_LAG_MS/);
  });

  it("refuses a URL that is not PostgreSQL", () => {
    expect(() => loadConfig({ DATABASE_READ_URL: "redis://replica:6379" })).toThrow(/DATABASE_READ_URL/);
  });
});
