/**
 * Cart writes run optimistically (read, then apply only if the cart's version did not move) and fall
 * back to the row lock when they lose. These tests race writers against each other and against a
 * checkout, and check that a lost race changes nothing.
 */
import { and, eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { rawSql } from "../../src/db/raw-sql.js";
import { cartItems, carts, orderItems, orders } from "../../src/db/schema.js";
import { loadCartSnapshot } from "../../src/services/cart/cart-snapshot.js";
import { applyCartChanges, noChanges } from "../../src/services/cart/cart-write.js";
import type { StoreRef } from "../../src/services/context.js";
import { cartApi, okCart } from "../support/cart-api.js";
import { checkout, readyCart, type ShopSetup, shop } from "../support/checkout-fixtures.js";
import { createGuest, createProduct, createStore } from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();

let store: StoreRef;
let setup: ShopSetup;
let api: ReturnType<typeof cartApi>;
let variants: string[];

beforeAll(async () => {
  store = await createStore(t.app);
  setup = await shop(t.app, store);
  api = cartApi(t.app, store.handle);
  const product = await createProduct(t.app, store, {
    variants: Array.from({ length: 12 }, () => ({ stockOnHand: 1_000 })),
  });
  variants = product.variants.map((v) => v.id);
});

async function linesOf(cartId: string) {
  return t.app.runtime.database.db
    .select({ id: cartItems.id, variantId: cartItems.variantId, quantity: cartItems.quantity })
    .from(cartItems)
    .where(eq(cartItems.cartId, cartId))
    .orderBy(cartItems.variantId);
}

describe("an optimistic cart write", () => {
  it("changes nothing when the cart has moved past the version it read", async () => {
    const guest = await createGuest(t.app, store);
    const cart = okCart(
      await api.create(guest.token, {
        lines: [
          { variantId: variants[0]!, quantity: 1 },
          { variantId: variants[1]!, quantity: 2 },
        ],
      }),
    );
    const db = t.app.runtime.database.db;
    const snapshot = await loadCartSnapshot(rawSql(db), store.id, cart.id);
    const [first, second] = snapshot!.cart.lines;
    const [codeless] = await db.select().from(carts).where(eq(carts.id, cart.id));
    const changes = noChanges();
    changes.inserts.push({
      productId: first!.productId,
      variantId: variants[2]!,
      quantity: 3,
      unitPrice: 1000,
      customOptions: {},
      optionsHash: "",
    });
    changes.updates.push({ id: first!.id, quantity: 7, unitPrice: 1 });
    changes.deletes.push(second!.id);
    changes.fields.email = "stale@example.com";
    const before = await linesOf(cart.id);

    const stale = snapshot!.cart.version - 1;
    const applied = await applyCartChanges(rawSql(db), store.id, cart.id, changes, new Date(), stale);

    expect(applied).toBeNull();
    expect(await linesOf(cart.id)).toEqual(before);
    const [after] = await db.select().from(carts).where(eq(carts.id, cart.id));
    expect(after!.version).toBe(codeless!.version);
    expect(after!.email).toBe(codeless!.email);

    // At the version it read, the same change applies.
    const current = await applyCartChanges(
      rawSql(db),
      store.id,
      cart.id,
      changes,
      new Date(),
      snapshot!.cart.version,
    );
    expect(current?.cart.version).toBe(snapshot!.cart.version + 1);
    expect((await linesOf(cart.id)).map((l) => [l.variantId, l.quantity])).toEqual(
      [
        [first!.variantId, 7],
        [variants[2]!, 3],
      ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
    );
  });

  it("12 writers adding different lines to one cart at once: every line lands, every reply is whole", async () => {
    const guest = await createGuest(t.app, store);
    const cart = okCart(await api.create(guest.token));
    const replies = await Promise.all(
      variants.map((variantId) => api.add(guest.token, cart.id, [{ variantId, quantity: 1 }])),
    );
    for (const reply of replies) expect(reply.userErrors).toEqual([]);
    // The writes were serialised: the k-th to apply saw k - 1 lines, so the replies hold 1 to 12 lines.
    expect(replies.map((r) => r.cart!.lines.length).sort((a, b) => a - b)).toEqual(
      variants.map((_, i) => i + 1),
    );
    expect((await linesOf(cart.id)).map((l) => l.variantId)).toEqual([...variants].sort());
  });

  it("adds racing a checkout: the order holds exactly the lines its cart was checked out with", async () => {
    for (let round = 0; round < 6; round++) {
      const ready = await readyCart(t.app, setup, [{ variantId: variants[0]!, quantity: 1 }]);
      const adds = Array.from({ length: 8 }, (_, i) =>
        api.add(ready.guest.token, ready.cartId, [{ variantId: variants[1 + (i % 4)]!, quantity: 1 }]),
      );
      const [placed, ...added] = await Promise.all([
        checkout(t.app, store, ready.guest.token, { cartId: ready.cartId }),
        ...adds,
      ]);
      for (const reply of added) {
        expect(reply.userErrors.map((e) => e.code).filter((c) => c !== "CART_NOT_ACTIVE")).toEqual([]);
      }
      const db = t.app.runtime.database.db;
      const [cart] = await db.select().from(carts).where(eq(carts.id, ready.cartId));
      if (!placed.order) {
        // A checkout that saw the lines change under it refuses; the cart stays open with them all.
        expect(cart!.status).toBe("ACTIVE");
        continue;
      }
      expect(cart!.status).toBe("CHECKED_OUT");
      const cartLines = await db
        .select({ variantId: cartItems.variantId, quantity: sql<number>`sum(${cartItems.quantity})::int` })
        .from(cartItems)
        .where(eq(cartItems.cartId, ready.cartId))
        .groupBy(cartItems.variantId)
        .orderBy(cartItems.variantId);
      const orderLines = await db
        .select({ variantId: orderItems.variantId, quantity: sql<number>`sum(${orderItems.quantity})::int` })
        .from(orderItems)
        .innerJoin(orders, eq(orders.id, orderItems.orderId))
        .where(and(eq(orders.cartId, ready.cartId), eq(orders.storeId, store.id)))
        .groupBy(orderItems.variantId)
        .orderBy(orderItems.variantId);
      expect(orderLines).toEqual(cartLines);
      const accepted = added.filter((r) => r.userErrors.length === 0).length;
      expect(orderLines.reduce((n, l) => n + l.quantity, 0)).toBe(1 + accepted);
    }
  });
});
