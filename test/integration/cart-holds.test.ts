/**
 * Reserve at add-to-cart (a store's reservation policy CART): a cart holds its quantities from the
 * moment they are added, so shoppers learn "sold out" before they pay; holds follow every change,
 * run out after the store's hold time, move into the order at checkout and leave with a merge.
 */
import { and, eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { inventoryReservations, productVariants } from "../../src/db/schema.js";
import type { StoreRef } from "../../src/services/context.js";
import { cartApi, okCart } from "../support/cart-api.js";
import { checkout, productWithStock, readyCart, type ShopSetup, shop } from "../support/checkout-fixtures.js";
import { createCustomer, createGuest, createStaff, createStore } from "../support/fixtures.js";
import { settleStock } from "../support/settle.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();
let store: StoreRef;
let setup: ShopSetup;
let api: ReturnType<typeof cartApi>;

beforeAll(async () => {
  const created = await createStore(t.app);
  const staff = await createStaff(t.app, created);
  const res = await t.app.ok<{ storeSettingsUpdate: { store: { reservationPolicy: string } } }>(
    `mutation { storeSettingsUpdate(input: { reservationPolicy: CART, cartHoldMinutes: 20 }) { store { reservationPolicy cartHoldMinutes } userErrors { code } } }`,
    {},
    { store: created.handle, token: staff.token },
  );
  expect(res.storeSettingsUpdate.store.reservationPolicy).toBe("CART");
  store = await t.app.runtime.services.stores.resolve(created.handle);
  setup = await shop(t.app, store, { taxBps: 0 });
  api = cartApi(t.app, store.handle);
});

async function reservedOf(variantId: string) {
  const [row] = await t.app.runtime.database.db
    .select()
    .from(productVariants)
    .where(eq(productVariants.id, variantId));
  return row?.reserved;
}

async function holdsOf(cartId: string) {
  return t.app.runtime.database.db
    .select({ variantId: inventoryReservations.variantId, quantity: inventoryReservations.quantity })
    .from(inventoryReservations)
    .where(and(eq(inventoryReservations.cartId, cartId), eq(inventoryReservations.status, "ACTIVE")));
}

describe("reserve at add-to-cart", () => {
  it("holds what a cart holds, follows every change, and says sold out before anyone pays", async () => {
    const p = await productWithStock(t.app, store, 3);
    const a = await createGuest(t.app, store);
    const b = await createGuest(t.app, store);
    const cartA = okCart(await api.create(a.token, { lines: [{ variantId: p.variantId, quantity: 2 }] }));
    expect(await reservedOf(p.variantId)).toBe(2);
    const cartB = okCart(await api.create(b.token));
    const tooMany = await api.add(b.token, cartB.id, [{ variantId: p.variantId, quantity: 2 }]);
    expect(tooMany.userErrors.map((e) => [e.code, e.available])).toEqual([["INSUFFICIENT_STOCK", 1]]);
    okCart(await api.add(b.token, cartB.id, [{ variantId: p.variantId, quantity: 1 }]));
    expect(await reservedOf(p.variantId)).toBe(3);
    // A cart's own hold is its own to change: A can go from 2 to 2 (re-add nothing) or less, never more.
    okCart(await api.update(a.token, cartA.id, [{ lineId: cartA.lines[0]!.id, quantity: 1 }]));
    expect(await reservedOf(p.variantId)).toBe(2);
    okCart(await api.remove(a.token, cartA.id, [cartA.lines[0]!.id]));
    expect(await reservedOf(p.variantId)).toBe(1);
    expect(await holdsOf(cartA.id)).toEqual([]);
    expect(await holdsOf(cartB.id)).toEqual([{ variantId: p.variantId, quantity: 1 }]);
  });

  it("lets exactly the stock through when many shoppers add at once", async () => {
    const p = await productWithStock(t.app, store, 10);
    const guests = await Promise.all(Array.from({ length: 30 }, () => createGuest(t.app, store)));
    const results = await Promise.all(
      guests.map((g) => api.create(g.token, { lines: [{ variantId: p.variantId, quantity: 1 }] })),
    );
    expect(results.filter((r) => r.cart).length).toBe(10);
    expect(results.filter((r) => r.userErrors[0]?.code === "INSUFFICIENT_STOCK").length).toBe(20);
    expect(await reservedOf(p.variantId)).toBe(10);
  });

  it("turns the cart's hold into the order's reservation at checkout, counted once", async () => {
    const p = await productWithStock(t.app, store, 2);
    const { guest, cartId } = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 2 }]);
    expect(await reservedOf(p.variantId)).toBe(2);
    const res = await checkout(t.app, store, guest.token, { cartId });
    expect(res.userErrors).toEqual([]);
    expect(res.order?.status).toBe("CONFIRMED");
    const counters = async () => {
      const [row] = await t.app.runtime.database.db
        .select()
        .from(productVariants)
        .where(eq(productVariants.id, p.variantId));
      return [row?.stockOnHand, row?.reserved];
    };
    // Sold, not settled yet: both counters still hold the units, so none can be sold again.
    expect(await counters()).toEqual([2, 2]);
    expect(await settleStock(t.app.runtime.database.db)).toBe(1);
    expect(await counters()).toEqual([0, 0]);
    expect(await holdsOf(cartId)).toEqual([]);
  });

  it("gives the cart its hold back after a decline", async () => {
    const p = await productWithStock(t.app, store, 5);
    const { guest, cartId } = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 2 }]);
    const res = await checkout(t.app, store, guest.token, {
      cartId,
      paymentMethod: "pm_card_chargeDeclined",
    });
    expect(res.order?.status).toBe("CANCELLED");
    expect(await reservedOf(p.variantId)).toBe(2);
    expect(await holdsOf(cartId)).toEqual([{ variantId: p.variantId, quantity: 2 }]);
  });

  it("releases holds that ran out, and the cart holds again on its next change", async () => {
    const p = await productWithStock(t.app, store, 4);
    const guest = await createGuest(t.app, store);
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId: p.variantId, quantity: 3 }] }));
    await t.app.runtime.database.db
      .update(inventoryReservations)
      .set({ expiresAt: sql`now() - interval '1 minute'` })
      .where(eq(inventoryReservations.cartId, cart.id));
    await t.app.runtime.services.cartLifecycle.sweep();
    expect(await reservedOf(p.variantId)).toBe(0);
    const after = await api.get(guest.token, cart.id);
    expect(after?.itemCount).toBe(3);
    expect(after?.warnings.map((w) => w.code)).toContain("INSUFFICIENT_STOCK");
    okCart(await api.add(guest.token, cart.id, [{ variantId: p.variantId, quantity: 1 }]));
    expect(await reservedOf(p.variantId)).toBe(4);
  });

  it("never refuses a change that asks for no more stock, after its hold ran out and the stock sold", async () => {
    const p = await productWithStock(t.app, store, 4);
    const guest = await createGuest(t.app, store);
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId: p.variantId, quantity: 3 }] }));
    await t.app.runtime.database.db
      .update(inventoryReservations)
      .set({ expiresAt: sql`now() - interval '1 minute'` })
      .where(eq(inventoryReservations.cartId, cart.id));
    await t.app.runtime.services.cartLifecycle.sweep();
    // Someone else takes 3 of the 4 while this cart holds nothing.
    const other = await createGuest(t.app, store);
    okCart(await api.create(other.token, { lines: [{ variantId: p.variantId, quantity: 3 }] }));
    // An email, a smaller quantity: nothing more is asked of the stock, so nothing is refused.
    okCart(await api.setEmail(guest.token, cart.id, "holds@example.com"));
    expect(await holdsOf(cart.id)).toEqual([{ variantId: p.variantId, quantity: 1 }]);
    okCart(await api.update(guest.token, cart.id, [{ lineId: cart.lines[0]!.id, quantity: 2 }]));
    // Asking for more than is left is still refused, naming what there is.
    const more = await api.add(guest.token, cart.id, [{ variantId: p.variantId, quantity: 1 }]);
    expect(more.userErrors.map((e) => [e.code, e.available])).toEqual([["INSUFFICIENT_STOCK", 1]]);
    expect(await reservedOf(p.variantId)).toBe(4);
  });

  it("moves holds with a merge on sign-in", async () => {
    const p = await productWithStock(t.app, store, 6);
    const guest = await createGuest(t.app, store);
    const guestCart = okCart(
      await api.create(guest.token, { lines: [{ variantId: p.variantId, quantity: 2 }] }),
    );
    const customer = await createCustomer(t.app, store);
    okCart(await api.create(customer.token, { lines: [{ variantId: p.variantId, quantity: 1 }] }));
    expect(await reservedOf(p.variantId)).toBe(3);
    const login = await t.app.ok<{ customerLogin: { cart: { id: string; itemCount: number } } }>(
      `mutation L($e: String!, $p: String!, $g: ID) { customerLogin(email: $e, password: $p, guestCartId: $g) { cart { id itemCount } userErrors { code } } }`,
      { e: customer.email, p: customer.password, g: guestCart.id },
      { store: store.handle, token: guest.token },
    );
    expect(login.customerLogin.cart.itemCount).toBe(3);
    expect(await reservedOf(p.variantId)).toBe(3);
    expect(await holdsOf(guestCart.id)).toEqual([]);
    expect(await holdsOf(login.customerLogin.cart.id)).toEqual([{ variantId: p.variantId, quantity: 3 }]);
  });
});
