import { describe, expect, it } from "vitest";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();

describe("server", () => {
  it("answers /healthz and /readyz", async () => {
    const base = t.app.url.replace("/graphql", "");
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ database: true, redis: true });
  });
});
