/**
 * checkoutComplete through the real HTTP path with the TestGateway: the happy path and what it writes,
 * refusals that change nothing, price changes, declines and their compensation, 3-D Secure, capture
 * failures, unknown gateway answers and idempotent retries.
 */
import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import {
  carts,
  discountRedemptions,
  discounts,
  inventoryReservations,
  orderStatusHistory,
  orders,
  payments,
  productVariants,
} from "../../src/db/schema.js";
import type { StoreRef } from "../../src/services/context.js";
import { cartApi } from "../support/cart-api.js";
import {
  checkout,
  productWithStock,
  readyCart,
  type ShopSetup,
  shop,
  testGateway,
} from "../support/checkout-fixtures.js";
import {
  createCustomer,
  createGuest,
  createStore,
  fixtureStaff,
  serviceContext,
  unique,
} from "../support/fixtures.js";
import { settleStock } from "../support/settle.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();
let store: StoreRef;
let setup: ShopSetup;

beforeAll(async () => {
  store = await createStore(t.app);
  setup = await shop(t.app, store);
});

async function variantRow(id: string) {
  await settleStock(t.app.runtime.database.db);
  const [row] = await t.app.runtime.database.db
    .select()
    .from(productVariants)
    .where(eq(productVariants.id, id));
  if (!row) throw new Error("no variant");
  return row;
}

async function cartStatus(id: string) {
  const [row] = await t.app.runtime.database.db
    .select({ status: carts.status })
    .from(carts)
    .where(eq(carts.id, id));
  return row?.status;
}

describe("checkoutComplete", () => {
  it("places, pays for and confirms an order; stock leaves the shelf; the figures add up", async () => {
    const a = await productWithStock(t.app, store, 10, 1999);
    const b = await productWithStock(t.app, store, 5, 333);
    const { guest, cartId } = await readyCart(t.app, setup, [
      { variantId: a.variantId, quantity: 2 },
      { variantId: b.variantId, quantity: 3 },
    ]);
    const res = await checkout(t.app, store, guest.token, { cartId });
    expect(res.userErrors).toEqual([]);
    const order = res.order!;
    expect(order.status).toBe("CONFIRMED");
    expect(order.paymentStatus).toBe("CAPTURED");
    // 2 x 1999 + 3 x 333 = 4997; shipping 500; tax 8.25 % of 5497 = 453.50 -> 454.
    expect(order.cost.subtotal.amount).toBe(4997);
    expect(order.cost.shipping.amount).toBe(500);
    expect(order.cost.tax.amount).toBe(454);
    expect(order.cost.total.amount).toBe(4997 + 500 + 454);
    const c = order.cost;
    expect(c.subtotal.amount - c.discount.amount + c.shipping.amount + c.tax.amount).toBe(c.total.amount);
    expect(order.lines.reduce((s, l) => s + l.subtotal.amount, 0)).toBe(c.subtotal.amount);
    expect(order.lines.reduce((s, l) => s + l.tax.amount, 0) + c.shippingTax.amount).toBe(c.tax.amount);
    expect(
      order.lines.reduce((s, l) => s + l.total.amount, 0) + c.shipping.amount + c.shippingTax.amount,
    ).toBe(c.total.amount);
    expect(order.history.map((h) => [h.from, h.to])).toEqual([
      [null, "PENDING"],
      ["PENDING", "CONFIRMED"],
    ]);
    for (const [v, left] of [
      [a.variantId, 8],
      [b.variantId, 2],
    ] as const) {
      const row = await variantRow(v);
      expect([row.stockOnHand, row.reserved]).toEqual([left, 0]);
    }
    const reservations = await t.app.runtime.database.db
      .select({ status: inventoryReservations.status })
      .from(inventoryReservations)
      .where(eq(inventoryReservations.orderId, order.id));
    expect(reservations.map((r) => r.status)).toEqual(["COMMITTED", "COMMITTED"]);
    expect(await cartStatus(cartId)).toBe("CHECKED_OUT");
    expect(await cartApi(t.app, store.handle).mine(guest.token)).toBeNull();
    const calls = testGateway(t.app).log.filter(
      (x) => (x.input as { orderId?: string }).orderId === order.id || x.method === "capture",
    );
    expect(calls.filter((x) => x.method === "authorize" && x.effect)).toHaveLength(1);
  });

  it("refuses what cannot be ordered, naming the reason, and writes nothing", async () => {
    const p = await productWithStock(t.app, store, 10);
    const guest = await createGuest(t.app, store);
    const ctx = serviceContext(store, guest.caller);
    const empty = await t.app.runtime.services.carts.create(ctx, {});
    expect(
      (await checkout(t.app, store, guest.token, { cartId: empty.id })).userErrors.map((e) => e.code),
    ).toEqual(["CART_EMPTY"]);
    const bare = await t.app.runtime.services.carts.create(ctx, {
      lines: [{ variantId: p.variantId, quantity: 1 }],
    });
    const missing = await checkout(t.app, store, guest.token, { cartId: bare.id });
    expect(missing.userErrors.map((e) => e.code).sort()).toEqual([
      "INVALID_INPUT",
      "SHIPPING_ADDRESS_REQUIRED",
      "SHIPPING_METHOD_REQUIRED",
    ]);
    expect(missing.order).toBeNull();
    const bad = await checkout(t.app, store, guest.token, {
      cartId: bare.id,
      idempotencyKey: "short",
      paymentMethod: "x;",
    });
    expect(bad.userErrors.map((e) => e.field?.join("."))).toEqual([
      "input.idempotencyKey",
      "input.paymentMethod",
    ]);
    const foreign = await checkout(t.app, store, (await createGuest(t.app, store)).token, {
      cartId: bare.id,
    });
    expect(foreign.userErrors.map((e) => e.code)).toEqual(["NOT_FOUND"]);
    const none = await t.app.runtime.database.db.select().from(orders).where(eq(orders.cartId, bare.id));
    expect(none).toEqual([]);
    expect((await variantRow(p.variantId)).reserved).toBe(0);
    expect(await cartStatus(bare.id)).toBe("ACTIVE");
  });

  it("charges today's lower price, and asks before charging a higher one", async () => {
    const p = await productWithStock(t.app, store, 10, 1000);
    const staffCtx = serviceContext(store, fixtureStaff);
    const down = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 1 }]);
    await t.app.runtime.services.catalog.updateVariantPrice(staffCtx, { variantId: p.variantId, price: 800 });
    const cheaper = await checkout(t.app, store, down.guest.token, { cartId: down.cartId });
    expect(cheaper.userErrors).toEqual([]);
    expect(cheaper.order?.lines[0]?.unitPrice.amount).toBe(800);

    const up = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 1 }]);
    await t.app.runtime.services.catalog.updateVariantPrice(staffCtx, {
      variantId: p.variantId,
      price: 1200,
    });
    const refused = await checkout(t.app, store, up.guest.token, { cartId: up.cartId });
    expect(refused.userErrors.map((e) => e.code)).toEqual(["PRICE_CHANGED"]);
    expect(refused.order).toBeNull();
    expect(refused.priceChanges).toEqual([
      expect.objectContaining({
        variantId: p.variantId,
        previousUnitPrice: { amount: 800 },
        newUnitPrice: { amount: 1200 },
      }),
    ]);
    expect((await variantRow(p.variantId)).reserved).toBe(0);
    // 1200 + 500 shipping + 8.25 % of 1700 (140.25 -> 140) = 1840: that total is consent enough.
    const wrongTotal = await checkout(t.app, store, up.guest.token, {
      cartId: up.cartId,
      expectedTotal: 1839,
    });
    expect(wrongTotal.userErrors.map((e) => e.code)).toEqual(["PRICE_CHANGED"]);
    const agreed = await checkout(t.app, store, up.guest.token, { cartId: up.cartId, expectedTotal: 1840 });
    expect(agreed.userErrors).toEqual([]);
    expect(agreed.order?.cost.total.amount).toBe(1840);
    const again = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 1 }]);
    await t.app.runtime.services.catalog.updateVariantPrice(staffCtx, {
      variantId: p.variantId,
      price: 1300,
    });
    const accepted = await checkout(t.app, store, again.guest.token, {
      cartId: again.cartId,
      acceptPriceChanges: true,
    });
    expect(accepted.order?.lines[0]?.unitPrice.amount).toBe(1300);
  });

  it("gives everything back after a decline: stock, the code's use and the cart; another key then succeeds", async () => {
    const p = await productWithStock(t.app, store, 4);
    const code = `ONCE${unique()}`.toUpperCase();
    const discount = await t.app.runtime.services.discounts.create(serviceContext(store, fixtureStaff), {
      code,
      type: "PERCENTAGE",
      value: 10,
      maxUses: 1,
    });
    const { guest, cartId } = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 3 }]);
    await t.app.runtime.services.discounts.applyCode(serviceContext(store, guest.caller), cartId, code);
    const declinedKey = `declined-${unique()}`;
    const declined = await checkout(t.app, store, guest.token, {
      cartId,
      paymentMethod: "pm_card_chargeDeclined",
      idempotencyKey: declinedKey,
    });
    expect(declined.userErrors.map((e) => e.code)).toEqual(["PAYMENT_DECLINED"]);
    expect(declined.userErrors[0]?.message).toMatch(/generic_decline/);
    expect(declined.order?.status).toBe("CANCELLED");
    expect(declined.order?.paymentStatus).toBe("FAILED");
    expect(await variantRow(p.variantId)).toMatchObject({ stockOnHand: 4, reserved: 0 });
    const [d] = await t.app.runtime.database.db.select().from(discounts).where(eq(discounts.id, discount.id));
    expect(d?.usesCount).toBe(0);
    const redemptions = await t.app.runtime.database.db
      .select({ status: discountRedemptions.status })
      .from(discountRedemptions)
      .where(eq(discountRedemptions.orderId, declined.order!.id));
    expect(redemptions.map((r) => r.status)).toEqual(["REVERSED"]);
    const cart = await cartApi(t.app, store.handle).get(guest.token, cartId);
    expect(cart?.status).toBe("ACTIVE");
    expect(cart?.itemCount).toBe(3);
    expect(cart?.discountCodes.map((c) => c.code)).toEqual([code]);
    // The declined key again, on the cart that is active again: the same answer, and nothing held.
    const again = await checkout(t.app, store, guest.token, {
      cartId,
      paymentMethod: "pm_card_chargeDeclined",
      idempotencyKey: declinedKey,
    });
    expect(again.order?.id).toBe(declined.order?.id);
    expect(again.userErrors.map((e) => e.code)).toEqual(["PAYMENT_DECLINED"]);
    expect(await variantRow(p.variantId)).toMatchObject({ stockOnHand: 4, reserved: 0 });

    const paid = await checkout(t.app, store, guest.token, { cartId });
    expect(paid.userErrors).toEqual([]);
    expect(paid.order?.status).toBe("CONFIRMED");
    expect(paid.order?.cost.discount.amount).toBeGreaterThan(0);
    expect(await variantRow(p.variantId)).toMatchObject({ stockOnHand: 1, reserved: 0 });
  });

  it("answers a retry with the same key with the same order and payload, and a reused key is refused", async () => {
    const p = await productWithStock(t.app, store, 10);
    const { guest, cartId } = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 1 }]);
    const idempotencyKey = `retry-${unique()}-${unique()}`;
    const first = await checkout(t.app, store, guest.token, { cartId, idempotencyKey });
    const second = await checkout(t.app, store, guest.token, { cartId, idempotencyKey });
    expect(second).toEqual(first);
    const withTotal = await checkout(t.app, store, guest.token, {
      cartId,
      idempotencyKey,
      expectedTotal: first.order!.cost.total.amount,
    });
    expect(withTotal).toEqual(first);
    const other = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 1 }], { guest });
    const reused = await checkout(t.app, store, guest.token, { cartId: other.cartId, idempotencyKey });
    expect(reused.userErrors.map((e) => e.code)).toEqual(["IDEMPOTENCY_KEY_REUSED"]);
    const wrongAmount = await checkout(t.app, store, guest.token, {
      cartId,
      idempotencyKey,
      expectedTotal: 1,
    });
    expect(wrongAmount.userErrors.map((e) => e.code)).toEqual(["IDEMPOTENCY_KEY_REUSED"]);
    const stranger = await createGuest(t.app, store);
    // Someone else's cart is not found, whatever key comes with it: a stranger learns neither the
    // order nor whether the key was ever used.
    const stolen = await checkout(t.app, store, stranger.token, { cartId, idempotencyKey });
    expect(stolen.userErrors.map((e) => e.code)).toEqual(["NOT_FOUND"]);
    expect(stolen.order).toBeNull();
  });

  it("holds the order PENDING with a client secret when the card needs 3-D Secure", async () => {
    const p = await productWithStock(t.app, store, 10);
    const { guest, cartId } = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 2 }]);
    const res = await checkout(t.app, store, guest.token, {
      cartId,
      paymentMethod: "pm_card_authenticationRequired",
    });
    expect(res.userErrors.map((e) => e.code)).toEqual(["PAYMENT_REQUIRES_ACTION"]);
    expect(res.paymentClientSecret).toMatch(/secret/);
    expect(res.order?.status).toBe("PENDING");
    expect(res.order?.paymentStatus).toBe("REQUIRES_ACTION");
    expect(await variantRow(p.variantId)).toMatchObject({ stockOnHand: 10, reserved: 2 });
  });

  it("voids and compensates when the capture is refused, and charges nothing", async () => {
    const p = await productWithStock(t.app, store, 10);
    const { guest, cartId } = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 2 }]);
    const res = await checkout(t.app, store, guest.token, { cartId, paymentMethod: "pm_test_capture_fails" });
    expect(res.userErrors.map((e) => e.code)).toEqual(["PAYMENT_FAILED"]);
    expect(res.order?.status).toBe("CANCELLED");
    const gateway = testGateway(t.app);
    const [payment] = await t.app.runtime.database.db
      .select()
      .from(payments)
      .where(eq(payments.orderId, res.order!.id));
    const forIntent = gateway.log.filter(
      (c) => (c.input as { intentId?: string }).intentId === payment?.intentId,
    );
    expect(forIntent.filter((c) => c.method === "cancel" && c.effect)).toHaveLength(1);
    expect(await variantRow(p.variantId)).toMatchObject({ stockOnHand: 10, reserved: 0 });
    expect(await cartStatus(cartId)).toBe("ACTIVE");
  });

  it("keeps the order PENDING when the gateway does not answer, and settles it on a retry with the same key", async () => {
    const p = await productWithStock(t.app, store, 10);
    const { guest, cartId } = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 1 }]);
    const idempotencyKey = `lost-${unique()}-${unique()}`;
    const first = await checkout(t.app, store, guest.token, {
      cartId,
      idempotencyKey,
      paymentMethod: "pm_test_reply_lost",
    });
    expect(first.userErrors.map((e) => e.code)).toEqual(["PAYMENT_FAILED"]);
    expect(first.order?.status).toBe("PENDING");
    expect(await variantRow(p.variantId)).toMatchObject({ reserved: 1 });
    const retry = await checkout(t.app, store, guest.token, {
      cartId,
      idempotencyKey,
      paymentMethod: "pm_test_reply_lost",
    });
    expect(retry.userErrors).toEqual([]);
    expect(retry.order?.id).toBe(first.order?.id);
    expect(retry.order?.status).toBe("CONFIRMED");
    const gateway = testGateway(t.app);
    const auths = gateway.log.filter(
      (c) =>
        c.method === "authorize" && (c.input as { orderId?: string }).orderId === first.order?.id && c.effect,
    );
    expect(auths).toHaveLength(1);
  });

  it("lets a signed-in customer check out, and their next cart is a new one", async () => {
    const p = await productWithStock(t.app, store, 10);
    const customer = await createCustomer(t.app, store);
    const ctx = serviceContext(store, customer.caller);
    const services = t.app.runtime.services;
    const cart = await services.carts.create(ctx, { lines: [{ variantId: p.variantId, quantity: 1 }] });
    await services.shipping.setCartAddress(ctx, cart.id, {
      firstName: "A",
      lastName: "B",
      line1: "2 Oak",
      city: "LA",
      region: "CA",
      postalCode: "90001",
      country: "US",
    });
    await services.shipping.selectCartMethod(ctx, cart.id, setup.methodId);
    const res = await checkout(t.app, store, customer.token, { cartId: cart.id });
    expect(res.order?.email).toBe(customer.email);
    expect(res.order?.status).toBe("CONFIRMED");
    expect(await cartApi(t.app, store.handle).mine(customer.token)).toBeNull();
    const next = await services.carts.create(ctx, { lines: [{ variantId: p.variantId, quantity: 1 }] });
    expect(next.id).not.toBe(cart.id);
    const [history] = await t.app.runtime.database.db
      .select()
      .from(orderStatusHistory)
      .where(and(eq(orderStatusHistory.orderId, res.order!.id), eq(orderStatusHistory.toStatus, "PENDING")));
    expect(history?.actor).toBe(`customer:${customer.id}`);
  });
});
