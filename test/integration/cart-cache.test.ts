import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { carts } from "../../src/db/schema.js";
import { createRedisInfra } from "../../src/infra/redis.js";
import { createLogger } from "../../src/logger.js";
import { loadCart } from "../../src/services/cart/cart.repository.js";
import type { StoreRef } from "../../src/services/context.js";
import { cartApi, okCart } from "../support/cart-api.js";
import { createGuest, createProduct, createStore, type TestGuest } from "../support/fixtures.js";
import { createTestApp, type TestApp, useTestApp } from "../support/test-app.js";

const t = useTestApp();
let store: StoreRef;
let guest: TestGuest;
let variantId: string;

beforeAll(async () => {
  store = await createStore(t.app);
  guest = await createGuest(t.app, store);
  const p = await createProduct(t.app, store, { variants: [{ stockOnHand: 500 }] });
  variantId = p.variants[0]!.id;
});

describe("the Redis copy of carts", () => {
  it("is written after each committed write and served on reads", async () => {
    const api = cartApi(t.app, store.handle);
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 1 }] }));
    const cached = await t.app.runtime.services.carts.cache.get(cart.id);
    expect(cached?.lines.map((l) => l.quantity)).toEqual([1]);
    okCart(await api.add(guest.token, cart.id, [{ variantId, quantity: 2 }]));
    expect((await t.app.runtime.services.carts.cache.get(cart.id))?.lines.map((l) => l.quantity)).toEqual([
      3,
    ]);
    // Served from the cache: a change made behind the service's back (never done in production) is not seen...
    await t.app.runtime.database.db
      .update(carts)
      .set({ email: "behind@the.back" })
      .where(eq(carts.id, cart.id));
    expect((await api.get(guest.token, cart.id))?.email).toBeNull();
    // ...until the next write through the service replaces the copy.
    okCart(await api.setEmail(guest.token, cart.id, "shopper@example.com"));
    expect((await api.get(guest.token, cart.id))?.email).toBe("shopper@example.com");
  });

  it("a slow reader holding an older version cannot put it back over a newer one", async () => {
    const api = cartApi(t.app, store.handle);
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 1 }] }));
    const stale = await loadCart(t.app.runtime.database.db, store.id, cart.id);
    okCart(await api.add(guest.token, cart.id, [{ variantId, quantity: 4 }]));
    if (!stale) throw new Error("cart not loaded");
    await t.app.runtime.services.carts.cache.put(stale); // the late reader's write-back
    expect((await api.get(guest.token, cart.id))?.lines[0]?.quantity).toBe(5);
  });

  it("never shows a stale cart under concurrent writes and reads", async () => {
    const api = cartApi(t.app, store.handle);
    const cart = okCart(await api.create(guest.token));
    await t.app.runtime.services.carts.cache.invalidate({ id: cart.id, version: 0 });
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      ops.push(api.add(guest.token, cart.id, [{ variantId, quantity: 1 }]));
      ops.push(api.get(guest.token, cart.id));
    }
    await Promise.all(ops);
    const [row] = await t.app.runtime.database.db
      .select({ version: carts.version })
      .from(carts)
      .where(eq(carts.id, cart.id));
    const cached = await t.app.runtime.services.carts.cache.get(cart.id);
    expect(cached?.version).toBe(row?.version);
    expect((await api.get(guest.token, cart.id))?.lines[0]?.quantity).toBe(20);
  });

  it("a sweep that changes a cart leaves a tombstone, so the next read comes from PostgreSQL", async () => {
    const api = cartApi(t.app, store.handle);
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 1 }] }));
    await t.app.runtime.database.db
      .update(carts)
      .set({ updatedAt: sql`now() - interval '2 hours'` })
      .where(eq(carts.id, cart.id));
    await t.app.runtime.services.cartLifecycle.abandonIdleCarts();
    expect(await t.app.runtime.services.carts.cache.get(cart.id)).toBeNull();
    expect((await api.get(guest.token, cart.id))?.status).toBe("ABANDONED");
  });
});

describe("with Redis down", () => {
  let down: TestApp;
  afterAll(async () => {
    await down?.close();
  });

  it("keeps working from PostgreSQL", async () => {
    down = await createTestApp({
      infra: createRedisInfra("redis://127.0.0.1:1", { logger: createLogger("silent"), namespace: "down:" }),
    });
    const s = await createStore(down);
    const g = await createGuest(down, s);
    const p = await createProduct(down, s, { variants: [{ stockOnHand: 10 }] });
    const api = cartApi(down, s.handle);
    const cart = okCart(
      await api.create(g.token, { lines: [{ variantId: p.variants[0]!.id, quantity: 2 }] }),
    );
    okCart(await api.add(g.token, cart.id, [{ variantId: p.variants[0]!.id, quantity: 1 }]));
    expect((await api.get(g.token, cart.id))?.itemCount).toBe(3);
    // Ready all the same: PostgreSQL serves everything; Redis being down is reported as detail.
    const ready = await fetch(down.url.replace("/graphql", "/readyz"));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ redis: { configured: true, reachable: false } });
  });
});
