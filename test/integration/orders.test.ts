/**
 * Orders after checkout: who sees them, the checked state machine (one winner per race), cancellation
 * and refunds through the gateway (a retry never moves money twice; a gateway failure changes nothing),
 * and the statement budget of a page of orders.
 */
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { discounts, orderStatusHistory, orders, productVariants, refunds } from "../../src/db/schema.js";
import type { StoreRef } from "../../src/services/context.js";
import {
  type CheckoutOrderShape,
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
  createStaff,
  createStore,
  fixtureStaff,
  serviceContext,
  type TestStaff,
  unique,
} from "../support/fixtures.js";
import { settleStock } from "../support/settle.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();
let store: StoreRef;
let setup: ShopSetup;
let staff: TestStaff;

beforeAll(async () => {
  store = await createStore(t.app);
  setup = await shop(t.app, store, { taxBps: 0 });
  staff = await createStaff(t.app, store);
});

const ORDER_FIELDS = `id number status paymentStatus cost { total { amount } refunded { amount } }
  lines { id sku quantity total { amount } } history { from to actor reason }
  refunds { amount { amount } status restockedUnits } trackingNumber carrier`;

interface OrderShape extends Pick<CheckoutOrderShape, "id" | "number" | "status" | "paymentStatus"> {
  cost: { total: { amount: number }; refunded: { amount: number } };
  lines: { id: string; sku: string; quantity: number; total: { amount: number } }[];
  history: { from: string | null; to: string; actor: string; reason: string | null }[];
  refunds: { amount: { amount: number }; status: string; restockedUnits: number }[];
  trackingNumber: string | null;
  carrier: string | null;
}

interface OrderPayloadShape {
  order: OrderShape | null;
  userErrors: { code: string; message: string; field: string[] | null }[];
}

async function paidOrder(quantity = 2, stock = 10, paymentMethod = "pm_card_visa") {
  const p = await productWithStock(t.app, store, stock, 1000);
  const ready = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity }]);
  const res = await checkout(t.app, store, ready.guest.token, { cartId: ready.cartId, paymentMethod });
  expect(res.order?.status).toBe("CONFIRMED");
  return { ...ready, p, order: res.order as CheckoutOrderShape };
}

async function mutate(name: string, args: string, vars: Record<string, unknown>, token: string) {
  const data = await t.app.ok<Record<string, OrderPayloadShape>>(
    `mutation M(${args}) { ${name}(${Object.keys(vars)
      .map((k) => `${k}: $${k}`)
      .join(", ")}) { order { ${ORDER_FIELDS} } userErrors { code message field } } }`,
    vars,
    { store: store.handle, token },
  );
  return data[name] as OrderPayloadShape;
}

const transition = (orderId: string, to: string, extra: Record<string, unknown> = {}, token = staff.token) =>
  mutate(
    "orderTransition",
    `$orderId: ID!, $to: OrderStatus!${"trackingNumber" in extra ? ", $trackingNumber: String" : ""}${"carrier" in extra ? ", $carrier: String" : ""}`,
    { orderId, to, ...extra },
    token,
  );
const cancel = (orderId: string, token: string) => mutate("orderCancel", "$orderId: ID!", { orderId }, token);
const refund = (orderId: string, args: Record<string, unknown>, token = staff.token) =>
  mutate(
    "orderRefund",
    [
      "$orderId: ID!",
      ...Object.keys(args).map(
        (k) =>
          `$${k}: ${{ amount: "Int", lines: "[RefundLineInput!]", restock: "Boolean", idempotencyKey: "String", reason: "String" }[k]}`,
      ),
    ].join(", "),
    { orderId, ...args },
    token,
  );

async function variant(id: string) {
  await settleStock(t.app.runtime.database.db);
  const [row] = await t.app.runtime.database.db
    .select()
    .from(productVariants)
    .where(eq(productVariants.id, id));
  if (!row) throw new Error("no variant");
  return row;
}

describe("reading orders", () => {
  it("shows an order to its owner and staff only", async () => {
    const { guest, order } = await paidOrder();
    const q = `query Q($id: ID!) { order(id: $id) { id status lines { sku } history { actor } } }`;
    const own = await t.app.ok<{ order: { id: string } | null }>(
      q,
      { id: order.id },
      { store: store.handle, token: guest.token },
    );
    expect(own.order?.id).toBe(order.id);
    const other = await createGuest(t.app, store);
    expect(
      (await t.app.ok<{ order: null }>(q, { id: order.id }, { store: store.handle, token: other.token }))
        .order,
    ).toBeNull();
    const customer = await createCustomer(t.app, store);
    expect(
      (await t.app.ok<{ order: null }>(q, { id: order.id }, { store: store.handle, token: customer.token }))
        .order,
    ).toBeNull();
    const asStaff = await t.app.ok<{ order: { history: { actor: string }[] } }>(
      q,
      { id: order.id },
      { store: store.handle, token: staff.token },
    );
    expect(asStaff.order.history[0]?.actor).toMatch(/^guest:/);
    expect(own.order).toBeTruthy();
    const foreignStore = await createStore(t.app);
    const foreignStaff = await createStaff(t.app, foreignStore);
    expect(
      (
        await t.app.ok<{ order: null }>(
          q,
          { id: order.id },
          { store: foreignStore.handle, token: foreignStaff.token },
        )
      ).order,
    ).toBeNull();
  });

  it("lists the caller's orders newest first, and a page of 50 orders costs what a page of 5 costs", async () => {
    const customer = await createCustomer(t.app, store);
    const p = await productWithStock(t.app, store, 1000, 500);
    const ctx = serviceContext(store, customer.caller);
    const services = t.app.runtime.services;
    const placed: string[] = [];
    for (let i = 0; i < 3; i++) {
      const cart = await services.carts.create(ctx, { lines: [{ variantId: p.variantId, quantity: 1 }] });
      await services.shipping.setCartAddress(ctx, cart.id, {
        firstName: "A",
        lastName: "B",
        line1: "1 St",
        city: "LA",
        region: "CA",
        postalCode: "90001",
        country: "US",
      });
      await services.shipping.selectCartMethod(ctx, cart.id, setup.methodId);
      placed.push((await checkout(t.app, store, customer.token, { cartId: cart.id })).order!.id);
    }
    const mine = await t.app.ok<{ myOrders: { edges: { node: { id: string } }[] } }>(
      `{ myOrders(first: 10) { edges { node { id } } } }`,
      {},
      { store: store.handle, token: customer.token },
    );
    expect(mine.myOrders.edges.map((e) => e.node.id)).toEqual([...placed].reverse());
    // Enough orders for a page of 50.
    await Promise.all(Array.from({ length: 47 }, () => paidOrder(1, 5)));
    const page = `query P($first: Int) { orders(first: $first) { edges { node { id status lines { sku total { amount } } history { from to } payments { status } refunds { status } shippingMethod { id } } } } }`;
    const statements = async (first: number) => {
      const res = await t.app.gql<{ orders: { edges: unknown[] } }>(
        page,
        { first },
        { store: store.handle, token: staff.token },
      );
      expect(res.errors).toBeUndefined();
      expect(res.data?.orders.edges).toHaveLength(first);
      return Number(res.headers.get("x-sql-statements"));
    };
    await statements(1);
    const five = await statements(5);
    const fifty = await statements(50);
    expect(fifty).toBe(five);
    expect(fifty).toBeLessThanOrEqual(7);
    const pending = await t.app.ok<{ orders: { edges: unknown[] } }>(
      `{ orders(first: 10, status: PENDING) { edges { node { id } } } }`,
      {},
      { store: store.handle, token: staff.token },
    );
    expect(pending.orders.edges).toEqual([]);
    const denied = await t.app.gql(
      `{ orders(first: 1) { edges { node { id } } } }`,
      {},
      { store: store.handle, token: customer.token },
    );
    expect(denied.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});

describe("the order state machine", () => {
  it("moves a paid order through processing, shipping (with tracking) and delivery, refusing illegal moves", async () => {
    const { order, guest } = await paidOrder();
    const skip = await transition(order.id, "DELIVERED");
    expect(skip.userErrors.map((e) => e.code)).toEqual(["INVALID_ORDER_TRANSITION"]);
    expect(skip.userErrors[0]?.message).toMatch(/PROCESSING/);
    const byCustomer = await t.app.gql(
      `mutation { orderTransition(orderId: "${order.id}", to: PROCESSING) { userErrors { code } } }`,
      {},
      { store: store.handle, token: guest.token },
    );
    expect(byCustomer.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await transition(order.id, "PROCESSING")).order?.status).toBe("PROCESSING");
    const noTracking = await transition(order.id, "SHIPPED");
    expect(noTracking.userErrors.map((e) => [e.code, e.field])).toEqual([
      ["INVALID_ORDER_TRANSITION", ["trackingNumber"]],
    ]);
    const shipped = await transition(order.id, "SHIPPED", { trackingNumber: "1Z999", carrier: "UPS" });
    expect(shipped.order).toMatchObject({ status: "SHIPPED", trackingNumber: "1Z999", carrier: "UPS" });
    expect((await transition(order.id, "DELIVERED")).order?.status).toBe("DELIVERED");
    expect((await transition(order.id, "CANCELLED")).userErrors.map((e) => e.code)).toEqual([
      "INVALID_ORDER_TRANSITION",
    ]);
    const history = (await transition(order.id, "PROCESSING")).userErrors;
    expect(history.map((e) => e.code)).toEqual(["INVALID_ORDER_TRANSITION"]);
  });

  it("gives exactly one of many concurrent moves the win, and the history stays one chain", async () => {
    const { order } = await paidOrder();
    await transition(order.id, "PROCESSING");
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => transition(order.id, "SHIPPED", { trackingNumber: `T-${i}` })),
    );
    expect(results.filter((r) => r.order?.status === "SHIPPED")).toHaveLength(1);
    expect(results.filter((r) => r.userErrors[0]?.code === "INVALID_ORDER_TRANSITION")).toHaveLength(9);
    const history = await t.app.runtime.database.db
      .select()
      .from(orderStatusHistory)
      .where(eq(orderStatusHistory.orderId, order.id))
      .orderBy(orderStatusHistory.at);
    expect(history.map((h) => `${h.fromStatus}>${h.toStatus}`)).toEqual([
      "null>PENDING",
      "PENDING>CONFIRMED",
      "CONFIRMED>PROCESSING",
      "PROCESSING>SHIPPED",
    ]);
  });
});

describe("cancelling", () => {
  it("lets a shopper cancel a paid order: refunded in full, restocked, the code's use given back", async () => {
    const p = await productWithStock(t.app, store, 10, 1000);
    const code = `CANCEL${unique()}`.toUpperCase();
    const d = await t.app.runtime.services.discounts.create(serviceContext(store, fixtureStaff), {
      code,
      type: "FIXED_AMOUNT",
      value: 100,
      maxUses: 1,
    });
    const ready = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 3 }]);
    await t.app.runtime.services.discounts.applyCode(
      serviceContext(store, ready.guest.caller),
      ready.cartId,
      code,
    );
    const placed = await checkout(t.app, store, ready.guest.token, { cartId: ready.cartId });
    expect(await variant(p.variantId)).toMatchObject({ stockOnHand: 7 });
    const res = await cancel(placed.order!.id, ready.guest.token);
    expect(res.userErrors).toEqual([]);
    expect(res.order).toMatchObject({ status: "CANCELLED", paymentStatus: "REFUNDED" });
    expect(res.order?.cost.refunded.amount).toBe(placed.order?.cost.total.amount);
    expect(await variant(p.variantId)).toMatchObject({ stockOnHand: 10, reserved: 0 });
    const [row] = await t.app.runtime.database.db.select().from(discounts).where(eq(discounts.id, d.id));
    expect(row?.usesCount).toBe(0);
    const again = await cancel(placed.order!.id, ready.guest.token);
    expect(again.userErrors.map((e) => e.code)).toEqual(["INVALID_ORDER_TRANSITION"]);
    const gatewayRefunds = testGateway(t.app).log.filter((c) => c.method === "refund" && c.effect);
    expect(
      gatewayRefunds.filter((c) => (c.input as { amount: number }).amount === placed.order!.cost.total.amount)
        .length,
    ).toBeGreaterThanOrEqual(1);
  });

  it("refunds once when the same cancel arrives many times at once", async () => {
    const { order, guest } = await paidOrder(1);
    const gateway = testGateway(t.app);
    const before = gateway.effects("refund");
    const results = await Promise.all(Array.from({ length: 8 }, () => cancel(order.id, guest.token)));
    expect(results.filter((r) => r.order?.status === "CANCELLED")).toHaveLength(1);
    expect(gateway.effects("refund") - before).toBe(1);
    const rows = await t.app.runtime.database.db.select().from(refunds).where(eq(refunds.orderId, order.id));
    expect(rows).toHaveLength(1);
  });

  it("lets only staff cancel once processing starts, and voids an order not yet paid", async () => {
    const { order, guest, p } = await paidOrder(2);
    await transition(order.id, "PROCESSING");
    expect((await cancel(order.id, guest.token)).userErrors.map((e) => e.code)).toEqual([
      "INVALID_ORDER_TRANSITION",
    ]);
    expect((await cancel(order.id, staff.token)).order?.status).toBe("CANCELLED");
    expect(await variant(p.variantId)).toMatchObject({ stockOnHand: 10, reserved: 0 });

    const q = await productWithStock(t.app, store, 5);
    const ready = await readyCart(t.app, setup, [{ variantId: q.variantId, quantity: 2 }]);
    const pending = await checkout(t.app, store, ready.guest.token, {
      cartId: ready.cartId,
      paymentMethod: "pm_card_authenticationRequired",
    });
    expect(pending.order?.status).toBe("PENDING");
    const voided = await cancel(pending.order!.id, ready.guest.token);
    expect(voided.order).toMatchObject({ status: "CANCELLED", paymentStatus: "CANCELLED" });
    expect(await variant(q.variantId)).toMatchObject({ stockOnHand: 5, reserved: 0 });
  });

  it("leaves the order as it was when the gateway refuses the refund", async () => {
    const { order, guest, p } = await paidOrder(1, 10, "pm_test_refund_fails");
    const res = await cancel(order.id, guest.token);
    expect(res.userErrors.map((e) => e.code)).toEqual(["PAYMENT_FAILED"]);
    const [row] = await t.app.runtime.database.db.select().from(orders).where(eq(orders.id, order.id));
    expect(row).toMatchObject({ status: "CONFIRMED", paymentStatus: "CAPTURED", refunded: 0 });
    expect(await variant(p.variantId)).toMatchObject({ stockOnHand: 9 });
  });
});

describe("refunds", () => {
  it("refunds by amount and by lines (restocking), up to what is left; a full refund of a delivered order makes it REFUNDED", async () => {
    const { order, p } = await paidOrder(4, 10);
    const total = order.cost.total.amount;
    const part = await refund(order.id, { amount: 300, reason: "scratched" });
    expect(part.order).toMatchObject({ status: "CONFIRMED", paymentStatus: "PARTIALLY_REFUNDED" });
    expect(part.order?.cost.refunded.amount).toBe(300);
    const lineId = part.order!.lines[0]!.id;
    const byLine = await refund(order.id, { lines: [{ lineId, quantity: 2 }], restock: true });
    expect(byLine.userErrors).toEqual([]);
    expect(byLine.order?.refunds.map((r) => r.restockedUnits)).toEqual([0, 2]);
    expect(await variant(p.variantId)).toMatchObject({ stockOnHand: 8 });
    const tooMuch = await refund(order.id, { amount: total });
    expect(tooMuch.userErrors.map((e) => [e.code, e.field])).toEqual([["INVALID_INPUT", ["amount"]]]);
    const left = /^amount must be an integer from 1 to (\d+) \(minor units\): (\S+) is left to refund$/.exec(
      tooMuch.userErrors[0]?.message ?? "",
    );
    expect(left?.[2]).toBe(`$${(Number(left?.[1]) / 100).toFixed(2)}`);
    const tooMany = await refund(order.id, { lines: [{ lineId, quantity: 3 }] });
    expect(tooMany.userErrors.map((e) => e.code)).toEqual(["INVALID_INPUT"]);
    await transition(order.id, "PROCESSING");
    await transition(order.id, "SHIPPED", { trackingNumber: "X1" });
    await transition(order.id, "DELIVERED");
    const rest = await refund(order.id, {});
    expect(rest.order).toMatchObject({ status: "REFUNDED", paymentStatus: "REFUNDED" });
    expect(rest.order?.cost.refunded.amount).toBe(total);
  });

  it("never refunds twice for one key, and changes nothing when the gateway refuses", async () => {
    const { order } = await paidOrder(1);
    const gateway = testGateway(t.app);
    const before = gateway.effects("refund");
    const key = `rf-${unique()}`;
    const results = await Promise.all(
      Array.from({ length: 5 }, () => refund(order.id, { amount: 200, idempotencyKey: key })),
    );
    expect(results.every((r) => r.userErrors.length === 0)).toBe(true);
    expect(gateway.effects("refund") - before).toBe(1);
    const [row] = await t.app.runtime.database.db.select().from(orders).where(eq(orders.id, order.id));
    expect(row?.refunded).toBe(200);
    const failing = await paidOrder(1, 10, "pm_test_refund_fails");
    const refused = await refund(failing.order.id, { amount: 100 });
    expect(refused.userErrors.map((e) => e.code)).toEqual(["PAYMENT_FAILED"]);
    const [unchanged] = await t.app.runtime.database.db
      .select()
      .from(orders)
      .where(eq(orders.id, failing.order.id));
    expect(unchanged).toMatchObject({ refunded: 0, paymentStatus: "CAPTURED" });
  });
});
