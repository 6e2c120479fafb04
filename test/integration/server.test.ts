import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStore } from "../support/fixtures.js";
import { createTestApp, type TestApp, useTestApp } from "../support/test-app.js";

const t = useTestApp();
let storeHandle: string;

beforeAll(async () => {
  storeHandle = (await createStore(t.app)).handle;
});

describe("server", () => {
  it("answers /healthz and /readyz", async () => {
    const base = t.app.url.replace("/graphql", "");
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: "ready",
      database: { reachable: true, migrated: true },
    });
    const metrics = await fetch(`${base}/metrics`);
    expect(await metrics.text()).toContain("cartograph_graphql_duration_seconds");
  });

  it("rejects a query deeper than MAX_QUERY_DEPTH before running it", async () => {
    // 13 levels: one more than the default MAX_QUERY_DEPTH of 12.
    const deep = `{ products(first: 1) { edges { node { variants { product { variants { product { variants { product { variants { product { variants { id } } } } } } } } } } } } }`;
    const res = await t.app.gql(deep, {}, { store: storeHandle });
    expect(res.errors?.[0]?.message).toMatch(/Query is too deep: depth 13 exceeds the limit of 12/);
    expect(res.errors?.[0]?.extensions?.code).toBe("QUERY_TOO_DEEP");
    expect(res.data).toBeUndefined();
  });

  it("rejects a query over the complexity budget, counting `first` and unpaged lists", async () => {
    // 100 products x 10 variants (assumed for an unpaged list) x their product's 10 variants: ~22 000.
    const wide = `{ products(first: 100) { edges { node { variants { product { variants { id sku } } } } } } }`;
    const res = await t.app.gql(wide, {}, { store: storeHandle });
    expect(res.errors?.[0]?.extensions?.code).toBe("QUERY_TOO_COMPLEX");
    expect(res.data).toBeUndefined();
    // The same shape with a small page is fine.
    const small = await t.app.gql(wide.replace("first: 100", "first: 5"), {}, { store: storeHandle });
    expect(small.errors).toBeUndefined();
  });

  it("refuses an oversized body with 413", async () => {
    const res = await fetch(t.app.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: `{ store { id } }`, variables: { pad: "x".repeat(300 * 1024) } }),
    });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]?.extensions.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("names an unknown store clearly and rejects a malformed authorization header", async () => {
    const unknown = await t.app.gql(`{ store { id } }`, {}, { store: "no-such-store" });
    expect(unknown.errors?.[0]?.extensions?.code).toBe("STORE_NOT_FOUND");
    expect(unknown.errors?.[0]?.message).toContain("no-such-store");
    const malformed = await t.app.gql(
      `{ store { id } }`,
      {},
      { store: storeHandle, headers: { authorization: "Token abc" } },
    );
    expect(malformed.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const bare = await t.app.gql(
      `{ store { handle } }`,
      {},
      { store: storeHandle, headers: { authorization: "Bearer" } },
    );
    expect(bare.data).toEqual({ store: { handle: storeHandle } });
  });

  it("answers bad GraphQL with a client error, not an internal one, and echoes a request id", async () => {
    const res = await t.app.gql(
      `{ products(first: "ten") { edges { node { id } } } }`,
      {},
      { store: storeHandle },
    );
    expect(res.errors?.[0]?.extensions?.code).toMatch(/GRAPHQL_VALIDATION_FAILED|BAD_USER_INPUT/);
    const syntax = await t.app.gql(`{ products(`, {}, { store: storeHandle });
    expect(syntax.errors?.[0]?.extensions?.code).toBe("GRAPHQL_PARSE_FAILED");
    const withId = await t.app.gql(
      `{ store { id } }`,
      {},
      { store: storeHandle, headers: { "x-request-id": "req-123" } },
    );
    expect(withId.headers.get("x-request-id")).toBe("req-123");
  });
});

describe("rate limiting", () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await createTestApp({ env: { RATE_LIMIT_PER_MINUTE: "3" } });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it("answers 429 RATE_LIMITED past the per-minute limit", async () => {
    const store = await createStore(limited);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await limited.gql(`{ store { id } }`, {}, { store: store.handle })).status);
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.slice(3)).toEqual([429, 429]);
    const res = await limited.gql(`{ store { id } }`, {}, { store: store.handle });
    expect(res.errors?.[0]?.extensions?.code).toBe("RATE_LIMITED");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});

describe("operations endpoints", () => {
  it("keeps /metrics labels bounded whatever operation names clients send", async () => {
    const s = (await createStore(t.app)).handle;
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => t.app.gql(`query Client${i} { store { id } }`, {}, { store: s })),
    );
    const text = await (await fetch(t.app.url.replace("/graphql", "/metrics"))).text();
    expect(text).not.toMatch(/Client\d+/);
    expect(text).toContain('operation="query:store"');
    const series = text.split("\n").filter((l) => l.startsWith("cartograph_graphql_duration_seconds_count"));
    expect(series.length).toBeLessThan(30);
  });

  it("reports not ready on a database that is not migrated", async () => {
    const empty = await createTestApp({ emptyDatabase: true });
    try {
      const res = await fetch(empty.url.replace("/graphql", "/readyz"));
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ database: { reachable: true, migrated: false } });
    } finally {
      await empty.close();
    }
  });

  it("reports the in-memory twins as Redis not configured", async () => {
    const body = (await (await fetch(t.app.url.replace("/graphql", "/readyz"))).json()) as { redis: unknown };
    expect(body.redis).toEqual(
      t.app.runtime.infra.kind === "memory"
        ? { configured: false }
        : expect.objectContaining({ configured: true, reachable: true, breaker: "closed" }),
    );
  });

  it("can put /metrics behind a token, or on a port of its own", async () => {
    const guarded = await createTestApp({ env: { METRICS_TOKEN: "metrics-token-0123456789" } });
    try {
      const url = guarded.url.replace("/graphql", "/metrics");
      expect((await fetch(url)).status).toBe(401);
      const ok = await fetch(url, { headers: { authorization: "Bearer metrics-token-0123456789" } });
      expect(ok.status).toBe(200);
    } finally {
      await guarded.close();
    }
    const separate = await createTestApp({ env: { METRICS_PORT: "0" } });
    try {
      expect((await fetch(separate.url.replace("/graphql", "/metrics"))).status).toBe(404);
      const port = separate.runtime.app.metricsPort();
      expect(port).toBeGreaterThan(0);
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain("process_cpu");
    } finally {
      await separate.close();
    }
  });
});

describe("CORS", () => {
  it("answers a preflight from an allowed origin and keeps strangers out", async () => {
    const preflight = (origin: string) =>
      fetch(t.app.url, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type, authorization, x-store",
        },
      });
    const local = await preflight("http://localhost:5173");
    expect(local.status).toBe(204);
    expect(local.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(local.headers.get("access-control-allow-headers")).toMatch(/authorization/);
    expect(local.headers.get("access-control-allow-credentials")).toBeNull();
    const stranger = await preflight("https://evil.example");
    expect(stranger.headers.get("access-control-allow-origin")).toBeNull();
    const post = await t.app.gql(`{ __typename }`, {}, { headers: { origin: "http://localhost:3000" } });
    expect(post.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
    expect(post.headers.get("vary")).toMatch(/Origin/);
  });

  it("allows only the configured origins in production", async () => {
    const prod = await createTestApp({
      env: {
        NODE_ENV: "production",
        CORS_ORIGINS: "https://shop.example.com",
        // Production refuses to start without a real gateway; nothing here reaches it.
        STRIPE_SECRET_KEY: "sk_test_cors",
        STRIPE_WEBHOOK_SECRET: "whsec_cors",
      },
    });
    try {
      const ask = (origin: string) =>
        fetch(prod.url, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST" } });
      expect((await ask("https://shop.example.com")).headers.get("access-control-allow-origin")).toBe(
        "https://shop.example.com",
      );
      expect((await ask("http://localhost:5173")).headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await prod.close();
    }
  });
});
