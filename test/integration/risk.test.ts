/**
 * Risk and operations through the real checkout: each fraud rule held or refused an order between
 * authorisation and capture; staff approve and reject held orders; held orders that run out of time
 * are voided; stock crossing its threshold is announced once per crossing however many orders race
 * across it; and the staff feed.
 */
import { and, eq, sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { orderStatusHistory, orders, outbox, payments, productVariants } from "../../src/db/schema.js";
import type { StoreRef } from "../../src/services/context.js";
import type { FraudRules } from "../../src/services/store-settings.js";
import {
  checkout,
  productWithStock,
  readyCart,
  type ShopSetup,
  shop,
  testGateway,
  US_ADDRESS,
} from "../support/checkout-fixtures.js";
import {
  createGuest,
  createStaff,
  createStore,
  serviceContext,
  type TestStaff,
} from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";
import { openWs } from "../support/ws-client.js";

const t = useTestApp();
let store: StoreRef;
let setup: ShopSetup;
let staff: TestStaff;

/** A fresh store per test: fraud counts and rules never leak between tests. */
beforeEach(async () => {
  const created = await createStore(t.app);
  staff = await createStaff(t.app, created);
  store = await t.app.runtime.services.stores.resolve(created.handle);
  setup = await shop(t.app, store, { taxBps: 0 });
});

async function rules(r: Partial<FraudRules>) {
  await t.app.runtime.services.stores.updateSettings(serviceContext(store, staff.caller), { fraudRules: r });
}

async function buy(
  opts: {
    email?: string;
    paymentMethod?: string;
    quantity?: number;
    price?: number;
    billingCountry?: string;
  } = {},
) {
  const p = await productWithStock(t.app, store, 100, opts.price ?? 1000);
  const ready = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: opts.quantity ?? 1 }], {
    email: opts.email,
  });
  const billing = opts.billingCountry
    ? { ...US_ADDRESS, country: opts.billingCountry, postalCode: "SW1A 1AA", region: null }
    : undefined;
  const res = await t.app.ok<{
    checkoutComplete: {
      order: { id: string; status: string; paymentStatus: string } | null;
      userErrors: { code: string; message: string }[];
    };
  }>(
    `mutation C($input: CheckoutInput!) { checkoutComplete(input: $input) { order { id status paymentStatus } userErrors { code message } } }`,
    {
      input: {
        cartId: ready.cartId,
        idempotencyKey: `risk-${Math.random().toString(36).slice(2)}-key`,
        paymentMethod: opts.paymentMethod ?? "pm_card_visa",
        ...(billing ? { billingAddress: billing } : {}),
      },
    },
    { store: store.handle, token: ready.guest.token },
  );
  return { ...ready, p, res: res.checkoutComplete };
}

async function orderRow(id: string) {
  const [row] = await t.app.runtime.database.db.select().from(orders).where(eq(orders.id, id));
  if (!row) throw new Error("no order");
  return row;
}

describe("fraud review between authorisation and capture", () => {
  it("accepts when no rule matches, and costs nothing when the store has none", async () => {
    const { res } = await buy();
    expect(res.order?.status).toBe("CONFIRMED");
    expect((await orderRow(res.order!.id)).risk).toBeNull();
  });

  it("holds an order above the total for review: authorised, not captured, stock held, reasons in history", async () => {
    await rules({ totalAbove: { amount: 5000, action: "REVIEW" } });
    const { res, p } = await buy({ quantity: 6 });
    expect(res.userErrors).toEqual([]);
    expect(res.order).toMatchObject({ status: "ON_HOLD", paymentStatus: "AUTHORIZED" });
    const [v] = await t.app.runtime.database.db
      .select()
      .from(productVariants)
      .where(eq(productVariants.id, p.variantId));
    expect(v).toMatchObject({ stockOnHand: 100, reserved: 6 });
    const history = await t.app.runtime.database.db
      .select()
      .from(orderStatusHistory)
      .where(and(eq(orderStatusHistory.orderId, res.order!.id), eq(orderStatusHistory.toStatus, "ON_HOLD")));
    expect(history[0]?.reason).toMatch(/total 6500 is above 5000/);
    const [payment] = await t.app.runtime.database.db
      .select()
      .from(payments)
      .where(eq(payments.orderId, res.order!.id));
    const captures = testGateway(t.app).log.filter(
      (c) => c.method === "capture" && (c.input as { intentId: string }).intentId === payment?.intentId,
    );
    expect(captures).toEqual([]);
  });

  it("rejects like a decline, without saying which rule: voided, stock and cart back", async () => {
    await rules({ totalAbove: { amount: 5000, action: "REJECT" } });
    const { res, p, cartId, guest } = await buy({ quantity: 6 });
    expect(res.order?.status).toBe("CANCELLED");
    expect(res.userErrors.map((e) => e.code)).toEqual(["PAYMENT_DECLINED"]);
    expect(res.userErrors[0]?.message).not.toMatch(/5000|total|rule/i);
    const [v] = await t.app.runtime.database.db
      .select()
      .from(productVariants)
      .where(eq(productVariants.id, p.variantId));
    expect(v).toMatchObject({ stockOnHand: 100, reserved: 0 });
    const [payment] = await t.app.runtime.database.db
      .select()
      .from(payments)
      .where(eq(payments.orderId, res.order!.id));
    const voids = testGateway(t.app).log.filter(
      (c) =>
        c.method === "cancel" && c.effect && (c.input as { intentId: string }).intentId === payment?.intentId,
    );
    expect(voids).toHaveLength(1);
    const cart = await t.app.ok<{ cart: { status: string; itemCount: number } }>(
      `query Q($id: ID!) { cart(id: $id) { status itemCount } }`,
      { id: cartId },
      { store: store.handle, token: guest.token },
    );
    expect(cart.cart).toEqual({ status: "ACTIVE", itemCount: 6 });
  });

  it("counts orders and failed payments per email, and flags a card used across emails", async () => {
    await rules({ ordersInWindow: { count: 1, action: "REVIEW" } });
    const first = await buy({ email: "repeat@test.example" });
    expect(first.res.order?.status).toBe("CONFIRMED");
    const second = await buy({ email: "repeat@test.example" });
    expect(second.res.order?.status).toBe("ON_HOLD");
    const reasons = JSON.stringify((await orderRow(second.res.order!.id)).risk);
    expect(reasons).toMatch(/2 orders by this email/);
    // Another email, the same card (every pm_card_visa of the TestGateway has one fingerprint).
    const sameCard = await buy({ email: "other@test.example" });
    expect(JSON.stringify((await orderRow(sameCard.res.order!.id)).risk)).toMatch(/orders by this card/);
    await rules({ failedPaymentsInWindow: { count: 1, action: "REVIEW" } });
    await buy({ email: "decliner@test.example", paymentMethod: "pm_card_chargeDeclined" });
    await buy({ email: "decliner@test.example", paymentMethod: "pm_card_chargeDeclined" });
    const third = await buy({ email: "decliner@test.example" });
    expect(third.res.order?.status).toBe("ON_HOLD");
    expect(JSON.stringify((await orderRow(third.res.order!.id)).risk)).toMatch(
      /2 failed payments by this email/,
    );
  });

  it("stops each count at the rule's count + 1: a busy email, address or card costs what the rule needs", async () => {
    for (let i = 0; i < 4; i++) {
      expect((await buy({ email: "busy@test.example" })).res.order?.status).toBe("CONFIRMED");
    }
    await rules({ ordersInWindow: { count: 1, action: "REVIEW" } });
    const fifth = await buy({ email: "busy@test.example" });
    expect(fifth.res.order?.status).toBe("ON_HOLD");
    const reasons = (await orderRow(fifth.res.order!.id)).risk as { reasons: string[] } | null;
    // Five orders share the email, the address (127.0.0.1) and the card; each count read two rows.
    expect(reasons?.reasons).toEqual(
      expect.arrayContaining([
        "at least 2 orders by this email in 60 min (more than 1)",
        "at least 2 orders by this address in 60 min (more than 1)",
        "at least 2 orders by this card in 60 min (more than 1)",
      ]),
    );
    expect(JSON.stringify(reasons)).not.toMatch(/5 orders/);
  });

  it("reviews a shipping country unlike the billing one, and a big first order", async () => {
    await rules({ countryMismatch: "REVIEW" });
    const mismatch = await buy({ billingCountry: "GB" });
    expect(mismatch.res.order?.status).toBe("ON_HOLD");
    const matching = await buy();
    expect(matching.res.order?.status).toBe("CONFIRMED");
    await rules({ firstOrderAbove: { amount: 2000, action: "REVIEW" } });
    const firstBig = await buy({ email: "newbie@test.example", quantity: 3 });
    expect(firstBig.res.order?.status).toBe("ON_HOLD");
    await rules({});
    await buy({ email: "regular@test.example" });
    await rules({ firstOrderAbove: { amount: 2000, action: "REVIEW" } });
    const returning = await buy({ email: "regular@test.example", quantity: 3 });
    expect(returning.res.order?.status).toBe("CONFIRMED");
  });
});

describe("staff review of held orders", () => {
  it("approves (captured, confirmed) and rejects (voided, cancelled, stock back), staff only", async () => {
    await rules({ totalAbove: { amount: 0, action: "REVIEW" } });
    const a = await buy();
    const b = await buy({ quantity: 2 });
    const gateway = testGateway(t.app);
    const approve = `mutation A($id: ID!) { orderReviewApprove(orderId: $id) { order { status paymentStatus } userErrors { code } } }`;
    const reject = `mutation R($id: ID!) { orderReviewReject(orderId: $id, reason: "stolen card") { order { status paymentStatus } userErrors { code } } }`;
    const asShopper = await t.app.gql(
      approve,
      { id: a.res.order!.id },
      { store: store.handle, token: a.guest.token },
    );
    expect(asShopper.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const capturesBefore = gateway.effects("capture");
    const approved = await t.app.ok<{
      orderReviewApprove: { order: { status: string; paymentStatus: string } };
    }>(
      approve,
      { id: a.res.order!.id },
      {
        store: store.handle,
        token: staff.token,
      },
    );
    expect(approved.orderReviewApprove.order).toEqual({ status: "CONFIRMED", paymentStatus: "CAPTURED" });
    expect(gateway.effects("capture") - capturesBefore).toBe(1);
    const voidsBefore = gateway.effects("cancel");
    const rejected = await t.app.ok<{
      orderReviewReject: { order: { status: string; paymentStatus: string } };
    }>(
      reject,
      { id: b.res.order!.id },
      {
        store: store.handle,
        token: staff.token,
      },
    );
    expect(rejected.orderReviewReject.order).toEqual({ status: "CANCELLED", paymentStatus: "CANCELLED" });
    expect(gateway.effects("cancel") - voidsBefore).toBe(1);
    const [v] = await t.app.runtime.database.db
      .select()
      .from(productVariants)
      .where(eq(productVariants.id, b.p.variantId));
    expect(v).toMatchObject({ stockOnHand: 100, reserved: 0 });
    const again = await t.app.ok<{ orderReviewReject: { userErrors: { code: string }[] } }>(
      reject,
      { id: b.res.order!.id },
      {
        store: store.handle,
        token: staff.token,
      },
    );
    expect(again.orderReviewReject.userErrors.map((e) => e.code)).toEqual(["INVALID_ORDER_TRANSITION"]);
  });

  it("warns once as a held order's deadline nears, then voids and cancels it", async () => {
    await rules({ totalAbove: { amount: 0, action: "REVIEW" } });
    const held = await buy();
    const db = t.app.runtime.database.db;
    await db
      .update(payments)
      .set({ authorizedAt: sql`now() - interval '130 hours'` })
      .where(eq(payments.orderId, held.res.order!.id));
    await t.app.runtime.services.reviews.sweepHeldOrders();
    await t.app.runtime.services.reviews.sweepHeldOrders();
    const warnings = await db
      .select()
      .from(outbox)
      .where(and(eq(outbox.key, held.res.order!.id), eq(outbox.topic, "order.review_expiring")));
    expect(warnings).toHaveLength(1);
    expect((await orderRow(held.res.order!.id)).status).toBe("ON_HOLD");
    await db
      .update(payments)
      .set({ authorizedAt: sql`now() - interval '145 hours'` })
      .where(eq(payments.orderId, held.res.order!.id));
    expect(await t.app.runtime.services.reviews.sweepHeldOrders()).toBe(1);
    expect(await orderRow(held.res.order!.id)).toMatchObject({
      status: "CANCELLED",
      paymentStatus: "CANCELLED",
    });
  });
});

describe("low-stock alerts", () => {
  it("announces each crossing once, however many checkouts race across the threshold", async () => {
    const p = await productWithStock(t.app, store, 20);
    await t.app.runtime.database.db
      .update(productVariants)
      .set({ lowStockThreshold: 10 })
      .where(eq(productVariants.id, p.variantId));
    const carts = await Promise.all(
      Array.from({ length: 20 }, () => readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 1 }])),
    );
    const ws = await openWs(t.app.wsUrl, { store: store.handle, token: staff.token });
    const alerts = ws.subscribe<{ lowStockAlerts: { from: string; to: string; variant: { id: string } } }>(
      `subscription { lowStockAlerts { from to available variant { id } } }`,
    );
    await new Promise((r) => setTimeout(r, 200));
    const results = await Promise.all(
      carts.map((c) => checkout(t.app, store, c.guest.token, { cartId: c.cartId })),
    );
    expect(results.filter((r) => r.order?.status === "CONFIRMED")).toHaveLength(20);
    const events = await t.app.runtime.database.db
      .select({ id: outbox.id, payload: outbox.payload })
      .from(outbox)
      .where(and(eq(outbox.key, p.variantId), eq(outbox.topic, "inventory.stock_state_changed")))
      .orderBy(outbox.id);
    expect(events.map((e) => `${e.payload.from}>${e.payload.to}`).sort()).toEqual([
      "IN_STOCK>LOW",
      "LOW>OUT",
    ]);
    const received = await alerts.waitFor(2);
    expect(received.map((r) => r.data?.lowStockAlerts.to)).toEqual(["LOW", "OUT"]);
    alerts.stop();
    await ws.close();
    const shopper = await createGuest(t.app, store);
    const wsShopper = await openWs(t.app.wsUrl, { store: store.handle, token: shopper.token });
    const refused = await wsShopper.subscribe(`subscription { lowStockAlerts { to } }`).waitFor(1);
    expect(refused[0]?.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    await wsShopper.close();
  });
});

describe("stock states", () => {
  it("match the sellable stock after every kind of movement", async () => {
    const { lockVariants, moveStock, stockStateFor } = await import("../../src/services/inventory/stock.js");
    const p = await productWithStock(t.app, store, 10);
    const db = t.app.runtime.database.db;
    await db.update(productVariants).set({ lowStockThreshold: 4 }).where(eq(productVariants.id, p.variantId));
    const steps: [Parameters<typeof moveStock>[2], number][] = [
      ["reserve", 5],
      ["reserve", 3],
      ["release", 2],
      ["commit", 4],
      ["restock", 1],
      ["adjust", -3],
      ["adjust", 6],
      ["release", 2],
    ];
    for (const [movement, quantity] of steps) {
      await db.transaction(async (tx) => {
        const locked = await lockVariants(tx, store.id, [p.variantId]);
        const moved = await moveStock(tx, store.id, movement, [{ variantId: p.variantId, quantity }], locked);
        expect(moved.refused).toEqual([]);
      });
      const [v] = await db.select().from(productVariants).where(eq(productVariants.id, p.variantId));
      expect(v?.stockState).toBe(stockStateFor(v!.stockOnHand - v!.reserved, 4));
    }
  });
});

describe("the staff live feed", () => {
  it("streams the store's orders, holds and stock events, filterable by type", async () => {
    const ws = await openWs(t.app.wsUrl, { store: store.handle, token: staff.token });
    const all = ws.subscribe<{ storeEvents: { type: string; orderId: string | null } }>(
      `subscription { storeEvents { type orderId variantId } }`,
    );
    const held = ws.subscribe<{ storeEvents: { type: string } }>(
      `subscription { storeEvents(types: [ORDER_HELD_FOR_REVIEW]) { type orderId } }`,
    );
    await new Promise((r) => setTimeout(r, 200));
    await rules({ totalAbove: { amount: 1500, action: "REVIEW" } });
    const small = await buy();
    const big = await buy({ quantity: 2 });
    const events = await all.waitFor(4);
    expect(events.map((e) => e.data?.storeEvents.type)).toEqual([
      "ORDER_CREATED",
      "ORDER_STATUS_CHANGED",
      "ORDER_CREATED",
      "ORDER_HELD_FOR_REVIEW",
    ]);
    expect(events[1]?.data?.storeEvents.orderId).toBe(small.res.order?.id);
    const onlyHeld = await held.waitFor(1);
    expect(onlyHeld[0]?.data?.storeEvents).toEqual({
      type: "ORDER_HELD_FOR_REVIEW",
      orderId: big.res.order?.id,
    });
    all.stop();
    held.stop();
    await ws.close();
  });
});
