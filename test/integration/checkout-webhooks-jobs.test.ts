/**
 * What finishes a checkout outside its request: the signed gateway webhook (3-D Secure done or
 * failed; replays processed once; unverifiable bodies refused) and the jobs that expire reservations
 * and recover orders left PENDING.
 */
import { eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { carts, orderStatusHistory, orders, payments, productVariants } from "../../src/db/schema.js";
import { signWebhookPayload } from "../../src/payments/index.js";
import type { StoreRef } from "../../src/services/context.js";
import {
  checkout,
  productWithStock,
  readyCart,
  type ShopSetup,
  shop,
  testGateway,
} from "../support/checkout-fixtures.js";
import { createStore } from "../support/fixtures.js";
import { settleStock } from "../support/settle.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();
let store: StoreRef;
let setup: ShopSetup;

beforeAll(async () => {
  store = await createStore(t.app);
  setup = await shop(t.app, store, { taxBps: 0 });
});

function webhookUrl() {
  return t.app.url.replace("/graphql", "/webhooks/stripe");
}

function post(body: string, signature?: string) {
  return fetch(webhookUrl(), {
    method: "POST",
    headers: { "content-type": "application/json", ...(signature ? { "stripe-signature": signature } : {}) },
    body,
  });
}

async function orderRow(id: string) {
  const [row] = await t.app.runtime.database.db.select().from(orders).where(eq(orders.id, id));
  if (!row) throw new Error("no order");
  return row;
}

async function paymentOf(orderId: string) {
  const [row] = await t.app.runtime.database.db.select().from(payments).where(eq(payments.orderId, orderId));
  if (!row) throw new Error("no payment");
  return row;
}

async function variantRow(id: string) {
  await settleStock(t.app.runtime.database.db);
  const [row] = await t.app.runtime.database.db
    .select()
    .from(productVariants)
    .where(eq(productVariants.id, id));
  if (!row) throw new Error("no variant");
  return row;
}

async function pendingWith3ds(quantity = 2) {
  const p = await productWithStock(t.app, store, 10);
  const { guest, cartId } = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity }]);
  const res = await checkout(t.app, store, guest.token, {
    cartId,
    paymentMethod: "pm_card_authenticationRequired",
  });
  expect(res.order?.status).toBe("PENDING");
  const payment = await paymentOf(res.order!.id);
  return { p, guest, cartId, order: res.order!, intentId: payment.intentId as string };
}

describe("the Stripe webhook", () => {
  it("finishes a 3-D Secure checkout: captured and confirmed", async () => {
    const { p, order, intentId } = await pendingWith3ds();
    const signed = testGateway(t.app).completeAction(intentId, "authorized");
    const res = await post(signed.payload, signed.header);
    expect(res.status).toBe(200);
    expect(await orderRow(order.id)).toMatchObject({ status: "CONFIRMED", paymentStatus: "CAPTURED" });
    expect(await variantRow(p.variantId)).toMatchObject({ stockOnHand: 8, reserved: 0 });
  });

  it("compensates a failed 3-D Secure: stock back, cart usable", async () => {
    const { p, order, intentId, cartId } = await pendingWith3ds();
    const signed = testGateway(t.app).completeAction(intentId, "declined");
    expect((await post(signed.payload, signed.header)).status).toBe(200);
    expect(await orderRow(order.id)).toMatchObject({ status: "CANCELLED", paymentStatus: "FAILED" });
    expect(await variantRow(p.variantId)).toMatchObject({ stockOnHand: 10, reserved: 0 });
    const [cart] = await t.app.runtime.database.db.select().from(carts).where(eq(carts.id, cartId));
    expect(cart?.status).toBe("ACTIVE");
  });

  it("refuses unsigned, wrongly signed, stale and tampered bodies, and changes nothing", async () => {
    const { order, intentId } = await pendingWith3ds();
    const gateway = testGateway(t.app);
    const good = gateway.completeAction(intentId, "authorized");
    const stale = signWebhookPayload(
      good.payload,
      gateway.webhookSecret,
      Math.floor(Date.now() / 1000) - 3600,
    );
    const otherSecret = signWebhookPayload(good.payload, "whsec_not_ours_at_all_0123456789");
    for (const [body, sig] of [
      [good.payload, undefined],
      [good.payload, otherSecret.header],
      [good.payload, stale.header],
      [good.payload.replace("amount_capturable_updated", "succeeded"), good.header],
    ] as const) {
      const res = await post(body, sig);
      expect(res.status).toBe(400);
    }
    expect(await orderRow(order.id)).toMatchObject({ status: "PENDING", paymentStatus: "REQUIRES_ACTION" });
    expect((await post(good.payload, good.header)).status).toBe(200);
    expect((await orderRow(order.id)).status).toBe("CONFIRMED");
  });

  it("processes an event once when it is delivered 10 times at once", async () => {
    const { order, intentId } = await pendingWith3ds();
    const gateway = testGateway(t.app);
    const signed = gateway.completeAction(intentId, "authorized");
    const statuses = await Promise.all(Array.from({ length: 10 }, () => post(signed.payload, signed.header)));
    expect(statuses.every((r) => r.status === 200)).toBe(true);
    expect((await orderRow(order.id)).status).toBe("CONFIRMED");
    const captures = gateway.log.filter(
      (c) => c.method === "capture" && c.effect && (c.input as { intentId: string }).intentId === intentId,
    );
    expect(captures).toHaveLength(1);
    const history = await t.app.runtime.database.db
      .select()
      .from(orderStatusHistory)
      .where(eq(orderStatusHistory.orderId, order.id));
    expect(history.map((h) => h.toStatus)).toEqual(["PENDING", "CONFIRMED"]);
    const bodies = await Promise.all(statuses.map((r) => r.json() as Promise<{ duplicate?: boolean }>));
    expect(bodies.filter((b) => !b.duplicate)).toHaveLength(1);
  });
});

describe("checkout jobs", () => {
  it("expires a reservation whose 3-D Secure was never finished: voided, cancelled, everything back", async () => {
    const { p, order, intentId, cartId } = await pendingWith3ds(3);
    await t.app.runtime.database.db
      .update(orders)
      .set({ reservationExpiresAt: sql`now() - interval '1 minute'` })
      .where(eq(orders.id, order.id));
    expect(await t.app.runtime.services.checkoutRecovery.expireReservations()).toBeGreaterThanOrEqual(1);
    expect(await orderRow(order.id)).toMatchObject({ status: "CANCELLED", paymentStatus: "CANCELLED" });
    const voids = testGateway(t.app).log.filter(
      (c) => c.method === "cancel" && c.effect && (c.input as { intentId: string }).intentId === intentId,
    );
    expect(voids).toHaveLength(1);
    expect(await variantRow(p.variantId)).toMatchObject({ stockOnHand: 10, reserved: 0 });
    const [cart] = await t.app.runtime.database.db.select().from(carts).where(eq(carts.id, cartId));
    expect(cart?.status).toBe("ACTIVE");
  });

  it("confirms an expiring order that was paid at the last moment instead of cancelling it", async () => {
    const { p, order, intentId } = await pendingWith3ds(1);
    testGateway(t.app).completeAction(intentId, "authorized"); // the webhook is never delivered
    await t.app.runtime.database.db
      .update(orders)
      .set({ reservationExpiresAt: sql`now() - interval '1 minute'` })
      .where(eq(orders.id, order.id));
    await t.app.runtime.services.checkoutRecovery.expireReservations();
    expect((await orderRow(order.id)).status).toBe("CONFIRMED");
    expect(await variantRow(p.variantId)).toMatchObject({ stockOnHand: 9, reserved: 0 });
  });

  it("recovers an order the gateway did not answer for: the same keys, one authorisation, confirmed", async () => {
    const p = await productWithStock(t.app, store, 10);
    const { guest, cartId } = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 1 }]);
    const res = await checkout(t.app, store, guest.token, { cartId, paymentMethod: "pm_test_reply_lost" });
    expect(res.order?.status).toBe("PENDING");
    await t.app.runtime.database.db
      .update(orders)
      .set({ updatedAt: sql`now() - interval '1 minute'` })
      .where(eq(orders.id, res.order!.id));
    expect(await t.app.runtime.services.checkoutRecovery.recoverStuckOrders()).toBeGreaterThanOrEqual(1);
    expect(await orderRow(res.order!.id)).toMatchObject({ status: "CONFIRMED", paymentStatus: "CAPTURED" });
    const auths = testGateway(t.app).log.filter(
      (c) =>
        c.method === "authorize" && c.effect && (c.input as { orderId: string }).orderId === res.order!.id,
    );
    expect(auths).toHaveLength(1);
    expect(await variantRow(p.variantId)).toMatchObject({ stockOnHand: 9, reserved: 0 });
  });
});
