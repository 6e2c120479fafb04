import { eq, inArray, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { cartItems, carts, outbox } from "../../src/db/schema.js";
import type { StoreRef } from "../../src/services/context.js";
import { CartLifecycleJob } from "../../src/services/jobs/cart-lifecycle.job.js";
import { cartApi, okCart } from "../support/cart-api.js";
import {
  createCustomer,
  createGuest,
  createProduct,
  createStore,
  type TestGuest,
} from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();
let store: StoreRef;
let api: ReturnType<typeof cartApi>;
let guest: TestGuest;
let variantId: string;

beforeAll(async () => {
  store = await createStore(t.app);
  api = cartApi(t.app, store.handle);
  guest = await createGuest(t.app, store);
  variantId = (await createProduct(t.app, store, { variants: [{ stockOnHand: 100 }] })).variants[0]!.id;
});

async function idleFor(cartId: string, interval: string) {
  await t.app.runtime.database.db
    .update(carts)
    .set({ updatedAt: sql`now() - ${interval}::interval` })
    .where(eq(carts.id, cartId));
}

async function statusOf(cartId: string) {
  const [row] = await t.app.runtime.database.db
    .select({ status: carts.status })
    .from(carts)
    .where(eq(carts.id, cartId));
  return row?.status;
}

describe("cart lifecycle sweeps", () => {
  it("abandons idle carts with items (with one cart.abandoned event), not empty or recent ones", async () => {
    const idle = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 1 }] }));
    const empty = okCart(await api.create(guest.token));
    const recent = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 1 }] }));
    await idleFor(idle.id, "61 minutes");
    await idleFor(empty.id, "61 minutes");
    await idleFor(recent.id, "59 minutes");
    await t.app.runtime.services.cartLifecycle.sweep();
    expect(await statusOf(idle.id)).toBe("ABANDONED");
    expect(await statusOf(empty.id)).toBe("ACTIVE");
    expect(await statusOf(recent.id)).toBe("ACTIVE");
    const events = await t.app.runtime.database.db.select().from(outbox).where(eq(outbox.key, idle.id));
    expect(events).toEqual([
      expect.objectContaining({
        topic: "cart.abandoned",
        payload: expect.objectContaining({ cartId: idle.id }),
      }),
    ]);
  });

  it("activity on an abandoned cart makes it active again", async () => {
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 1 }] }));
    await idleFor(cart.id, "2 hours");
    await t.app.runtime.services.cartLifecycle.abandonIdleCarts();
    expect((await api.get(guest.token, cart.id))?.status).toBe("ABANDONED");
    const revived = okCart(await api.add(guest.token, cart.id, [{ variantId, quantity: 1 }]));
    expect(revived.status).toBe("ACTIVE");
  });

  it("expires guest carts idle for 30 days, never customer carts", async () => {
    const guestCart = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 1 }] }));
    const customer = await createCustomer(t.app, store);
    const customerCart = okCart(await api.create(customer.token, { lines: [{ variantId, quantity: 1 }] }));
    await idleFor(guestCart.id, "31 days");
    await idleFor(customerCart.id, "31 days");
    await t.app.runtime.services.cartLifecycle.sweep();
    expect(await statusOf(guestCart.id)).toBe("EXPIRED");
    expect(await statusOf(customerCart.id)).toBe("ABANDONED");
    const res = await api.add(guest.token, guestCart.id, [{ variantId, quantity: 1 }]);
    expect(res.userErrors.map((e) => e.code)).toEqual(["CART_NOT_ACTIVE"]);
  });

  it("is safe with several instances sweeping at once: each cart changes and is announced once", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const cart = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 1 }] }));
      await idleFor(cart.id, "3 hours");
      ids.push(cart.id);
    }
    const deps = t.app.runtime.services.deps;
    const jobs = Array.from(
      { length: 4 },
      () =>
        new CartLifecycleJob(deps.db, deps.logger, {
          abandonAfterSeconds: 3600,
          guestExpireAfterSeconds: 30 * 86400,
          expiredRetentionSeconds: 7 * 86400,
          batchSize: 5,
        }),
    );
    const abandoned = (
      await Promise.all(
        jobs.flatMap((j) => [j.abandonIdleCarts(), j.abandonIdleCarts(), j.abandonIdleCarts()]),
      )
    ).flat();
    const ours = abandoned.filter((id) => ids.includes(id));
    expect(ours.sort()).toEqual([...ids].sort());
    const events = await t.app.runtime.database.db
      .select({ key: outbox.key })
      .from(outbox)
      .where(inArray(outbox.key, ids));
    expect(events).toHaveLength(ids.length);
  });

  it("thresholds are configurable", async () => {
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 1 }] }));
    await idleFor(cart.id, "10 minutes");
    const deps = t.app.runtime.services.deps;
    const eager = new CartLifecycleJob(deps.db, deps.logger, {
      abandonAfterSeconds: 300,
      guestExpireAfterSeconds: 30 * 86400,
      expiredRetentionSeconds: 7 * 86400,
    });
    expect(await eager.abandonIdleCarts()).toContain(cart.id);
  });

  it("deletes EXPIRED carts past the retention, lines and codes with them", async () => {
    const fresh = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 1 }] }));
    const old = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 2 }] }));
    const db = t.app.runtime.database.db;
    await db.execute(
      sql`update carts set status = 'EXPIRED', updated_at = now() - interval '8 days' where id = ${old.id}`,
    );
    await db.execute(
      sql`update carts set status = 'EXPIRED', updated_at = now() - interval '1 day' where id = ${fresh.id}`,
    );
    const purged = await t.app.runtime.services.cartLifecycle.purgeExpiredCarts();
    expect(purged).toBeGreaterThanOrEqual(1);
    const left = await db
      .select({ id: carts.id })
      .from(carts)
      .where(inArray(carts.id, [old.id, fresh.id]));
    expect(left.map((c) => c.id)).toEqual([fresh.id]);
    const lines = await db.select({ id: cartItems.id }).from(cartItems).where(eq(cartItems.cartId, old.id));
    expect(lines).toEqual([]);
  });
});
