/**
 * Events become notification records, and records are sent: a checkout's confirmation, shipping,
 * cancellation and refund of orders (real transitions through applyTransition), abandoned carts (the
 * real lifecycle sweep) and stock alerts to staff (the real stock event builder). One row per event,
 * template and recipient, however often an event is handled: handled twice, a consumer killed between
 * handler and commit, a consumer stopped mid-batch and another started.
 */
import { randomUUID } from "node:crypto";
import { and, asc, eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import type { Db, Tx } from "../../src/db/client.js";
import { carts, notifications, outbox, outboxConsumers } from "../../src/db/schema.js";
import { createLogger } from "../../src/logger.js";
import type { StoreRef } from "../../src/services/context.js";
import { OutboxConsumer } from "../../src/services/events/outbox-consumer.js";
import type { StockStateChange } from "../../src/services/inventory/stock.js";
import { stockStateEvents } from "../../src/services/inventory/stock-events.js";
import { formatMoney } from "../../src/services/money-format.js";
import {
  NOTIFICATION_TOPICS,
  recordNotifications,
} from "../../src/services/notifications/notification-events.js";
import {
  NOTIFICATIONS_CONSUMER,
  NotificationJobs,
} from "../../src/services/notifications/notification-jobs.js";
import type {
  NotificationTransport,
  RenderedNotification,
} from "../../src/services/notifications/notification-transport.js";
import type { OrderStatus } from "../../src/services/order/order-status.js";
import { applyTransition, type TransitionInput } from "../../src/services/order/transition.js";
import type { OutboxMessage } from "../../src/services/outbox.js";
import { writeOutboxMany } from "../../src/services/outbox.js";
import { checkout, productWithStock, readyCart, shop } from "../support/checkout-fixtures.js";
import {
  createCustomer,
  createGuest,
  createOrderRow,
  createProduct,
  createStaff,
  createStore,
  serviceContext,
  unique,
} from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";

// The runtime's notification jobs are off: this file runs its own, with a recording transport.
const t = useTestApp({ env: { NOTIFICATIONS_ENABLED: "false" } });
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? "silent");
const db = (): Db => t.app.runtime.database.db;

class RecordingTransport implements NotificationTransport {
  readonly sent: RenderedNotification[] = [];
  async send(message: RenderedNotification): Promise<void> {
    this.sent.push(message);
  }
  to(storeId: string): RenderedNotification[] {
    return this.sent.filter((m) => m.storeId === storeId);
  }
}

const transport = new RecordingTransport();
let jobs: NotificationJobs;

beforeAll(async () => {
  jobs = new NotificationJobs({
    db: db(),
    logger,
    config: t.app.runtime.config,
    cartRecovery: t.app.runtime.services.cartRecovery,
    transport,
  });
  await jobs.consumer.drain(); // the cursor starts here: events from now on are this file's
});

async function rowsOf(storeId: string) {
  return db()
    .select()
    .from(notifications)
    .where(eq(notifications.storeId, storeId))
    .orderBy(asc(notifications.eventId), asc(notifications.recipient));
}

async function move(
  store: StoreRef,
  orderId: string,
  steps: [OrderStatus, OrderStatus, Partial<TransitionInput>?][],
): Promise<void> {
  for (const [from, to, extra] of steps) {
    await db().transaction(async (tx) => {
      const row = await applyTransition(tx, {
        storeId: store.id,
        orderId,
        from,
        to,
        by: to === "CONFIRMED" ? "system" : "staff",
        actor: "test",
        at: new Date(),
        ...extra,
      });
      if (!row) throw new Error(`order was not ${from}`);
    });
  }
}

const CONFIRM: [OrderStatus, OrderStatus] = ["PENDING", "CONFIRMED"];

async function sendAll(): Promise<void> {
  while ((await jobs.sender.sendDue()).claimed > 0) {}
}

describe("orders", () => {
  it("a checkout's confirmation becomes one order_confirmed to the buyer, sent with the total in the store's currency", async () => {
    const store = await createStore(t.app, { currency: "USD" });
    const setup = await shop(t.app, store);
    const { variantId } = await productWithStock(t.app, store, 10, 1999);
    const email = `buyer-${unique()}@test.example`;
    const ready = await readyCart(t.app, setup, [{ variantId, quantity: 2 }], { email });
    const placed = await checkout(t.app, store, ready.guest.token, { cartId: ready.cartId });
    expect(placed.order?.status).toBe("CONFIRMED");
    await jobs.consumer.drain();
    const rows = await rowsOf(store.id);
    expect(rows.map((r) => [r.template, r.recipient, r.status])).toEqual([
      ["order_confirmed", email, "PENDING"],
    ]);
    expect(rows[0]?.payload).toMatchObject({
      orderNumber: placed.order?.number,
      total: placed.order?.cost.total.amount,
      currency: "USD",
    });
    await sendAll();
    const [message] = transport.to(store.id);
    expect(message?.to).toBe(email);
    expect(message?.subject).toContain(`#${placed.order?.number}`);
    expect(message?.text).toContain(`Total: ${formatMoney(placed.order?.cost.total.amount ?? -1, "USD")}`);
    expect(message?.text).toMatch(/Total: \$\d+\.\d\d\b/);
    expect((await rowsOf(store.id)).map((r) => r.status)).toEqual(["SENT"]);
  });

  it("shipped, cancelled and refunded carry tracking, reason and amount; a PENDING order's cancellation is not mailed", async () => {
    const store = await createStore(t.app);
    const shipped = await createOrderRow(t.app, store, { total: 4200, email: "ship@test.example" });
    const cancelled = await createOrderRow(t.app, store, { email: "cancel@test.example" });
    const declined = await createOrderRow(t.app, store, { email: "declined@test.example" });
    await move(store, shipped.id, [
      CONFIRM,
      ["CONFIRMED", "PROCESSING"],
      [
        "PROCESSING",
        "SHIPPED",
        { facts: { trackingNumber: "1Z999AA1" }, set: { trackingNumber: "1Z999AA1", carrier: "UPS" } },
      ],
      ["SHIPPED", "DELIVERED"],
      ["DELIVERED", "REFUNDED", { set: { refunded: 4200 } }],
    ]);
    await move(store, cancelled.id, [CONFIRM, ["CONFIRMED", "CANCELLED", { reason: "Out of stock" }]]);
    await move(store, declined.id, [["PENDING", "CANCELLED", { by: "system", reason: "payment declined" }]]);
    await jobs.consumer.drain();
    const rows = await rowsOf(store.id);
    expect(rows.map((r) => [r.recipient, r.template])).toEqual([
      ["ship@test.example", "order_confirmed"],
      ["ship@test.example", "order_shipped"],
      ["ship@test.example", "order_refunded"],
      ["cancel@test.example", "order_confirmed"],
      ["cancel@test.example", "order_cancelled"],
    ]);
    const byTemplate = (recipient: string, template: string) =>
      rows.find((r) => r.recipient === recipient && r.template === template)?.payload;
    expect(byTemplate("ship@test.example", "order_shipped")).toMatchObject({
      trackingNumber: "1Z999AA1",
      carrier: "UPS",
    });
    expect(byTemplate("ship@test.example", "order_refunded")).toMatchObject({ refundedAmount: 4200 });
    expect(byTemplate("cancel@test.example", "order_cancelled")).toMatchObject({ reason: "Out of stock" });

    await sendAll();
    const texts = new Map(transport.to(store.id).map((m) => [`${m.to} ${m.template}`, m.text]));
    expect(texts.get("ship@test.example order_shipped")).toContain("Carrier: UPS");
    expect(texts.get("ship@test.example order_shipped")).toContain("Tracking number: 1Z999AA1");
    expect(texts.get("ship@test.example order_refunded")).toContain("Refunded: $42.00");
    expect(texts.get("cancel@test.example order_cancelled")).toContain("Reason: Out of stock");
  });

  it("formats money of a currency without minor units as whole units (JPY)", async () => {
    const store = await createStore(t.app, { currency: "JPY" });
    const order = await createOrderRow(t.app, store, { total: 1500, email: "yen@test.example" });
    await move(store, order.id, [CONFIRM]);
    await jobs.consumer.drain();
    await sendAll();
    expect(transport.to(store.id)[0]?.text).toContain("Total: ¥1,500");
  });

  it("a customer's order is mailed to the customer's email (the order row has none)", async () => {
    const store = await createStore(t.app);
    const customer = await createCustomer(t.app, store);
    const order = await createOrderRow(t.app, store, { customerId: customer.id });
    await move(store, order.id, [CONFIRM]);
    await jobs.consumer.drain();
    expect((await rowsOf(store.id)).map((r) => r.recipient)).toEqual([customer.email]);
  });
});

describe("one record per event, template and recipient", () => {
  async function threeConfirmations(store: StoreRef): Promise<string[]> {
    const emails = ["a", "b", "c"].map((x) => `${x}-${unique()}@test.example`);
    for (const email of emails) {
      const order = await createOrderRow(t.app, store, { email });
      await move(store, order.id, [CONFIRM]);
    }
    return emails;
  }

  it("an event handled twice (cursor moved back, or the handler run again) writes nothing more", async () => {
    const store = await createStore(t.app);
    await threeConfirmations(store);
    await jobs.consumer.drain();
    const rows = await rowsOf(store.id);
    expect(rows).toHaveLength(3);
    const firstEvent = Math.min(...rows.map((r) => r.eventId));
    // At-least-once delivery: the cursor goes back (as if the cursor move had been lost) ...
    await db()
      .update(outboxConsumers)
      .set({ lastId: firstEvent - 1 })
      .where(eq(outboxConsumers.name, NOTIFICATIONS_CONSUMER));
    expect(await jobs.consumer.drain()).toBeGreaterThanOrEqual(3);
    // ... and the handler runs once more on an event it already handled.
    const [event] = await db().select().from(outbox).where(eq(outbox.id, firstEvent));
    if (!event) throw new Error("event gone");
    const message: OutboxMessage = { ...event, occurredAt: event.createdAt.toISOString() };
    expect(await db().transaction((tx) => recordNotifications(tx, message, logger))).toBe(0);
    expect(await rowsOf(store.id)).toEqual(rows);
  });

  it("a consumer killed between its handler and the commit, then another: each event once", async () => {
    const store = await createStore(t.app);
    const name = `notify-crash-${unique()}`;
    // The store's events in the order this consumer first met them: the second one "kills" it.
    const met: number[] = [];
    const crashing = new OutboxConsumer({
      name,
      db: db(),
      logger,
      topics: NOTIFICATION_TOPICS,
      pollMs: 1000,
      handle: async (tx: Tx, m: OutboxMessage) => {
        await recordNotifications(tx, m, logger);
        // The rows of the second event are written; the process dies before the commit, each time
        // it gets there (a group of events is retried one by one after a failure).
        if (m.storeId !== store.id) return;
        if (!met.includes(m.id)) met.push(m.id);
        if (m.id === met[1]) throw new Error("killed before commit");
      },
    });
    await crashing.drain();
    const emails = await threeConfirmations(store);
    await expect(crashing.drain()).rejects.toThrow("killed before commit");
    expect((await rowsOf(store.id)).map((r) => r.recipient)).toEqual(emails.slice(0, 1));
    // Its lease runs out (a dead process renews nothing); the next instance takes over.
    await db()
      .update(outboxConsumers)
      .set({ claimedUntil: sql`now() - interval '1 second'` })
      .where(eq(outboxConsumers.name, name));
    const next = new OutboxConsumer({
      name,
      db: db(),
      logger,
      topics: NOTIFICATION_TOPICS,
      pollMs: 1000,
      handle: (tx, m) => recordNotifications(tx, m, logger).then(() => undefined),
    });
    await next.drain();
    const rows = await rowsOf(store.id);
    expect(rows.map((r) => [r.recipient, r.template])).toEqual(emails.map((e) => [e, "order_confirmed"]));
    await db().delete(outboxConsumers).where(eq(outboxConsumers.name, name));
  });

  it("a consumer stopped mid-batch and another started: each event once", async () => {
    const store = await createStore(t.app);
    const name = `notify-restart-${unique()}`;
    const make = () =>
      new OutboxConsumer({
        name,
        db: db(),
        logger,
        topics: NOTIFICATION_TOPICS,
        pollMs: 50,
        batchSize: 3,
        handle: async (tx, m) => {
          await recordNotifications(tx, m, logger);
          await new Promise((r) => setTimeout(r, 15));
        },
      });
    const first = make();
    await first.drain();
    const emails: string[] = [];
    for (let i = 0; i < 4; i++) emails.push(...(await threeConfirmations(store)));
    await first.start();
    while ((await rowsOf(store.id)).length < 4) await new Promise((r) => setTimeout(r, 10));
    await first.stop();
    expect((await rowsOf(store.id)).length).toBeLessThan(12);
    const second = make();
    await second.start();
    try {
      while ((await rowsOf(store.id)).length < 12) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 100));
      const rows = await rowsOf(store.id);
      expect(rows).toHaveLength(12);
      expect(new Set(rows.map((r) => r.recipient))).toEqual(new Set(emails));
    } finally {
      await second.stop();
      await db().delete(outboxConsumers).where(eq(outboxConsumers.name, name));
    }
  });
});

describe("abandoned carts", () => {
  async function idle(cartId: string) {
    await db().update(carts).set({ updatedAt: sql`now() - interval '2 hours'` }).where(eq(carts.id, cartId));
  }

  it("mails the cart's email, or its customer's, with a working recovery link; a cart that came back is not mailed", async () => {
    const store = await createStore(t.app);
    const { variantId } = await productWithStock(t.app, store, 50);
    const guest = await createGuest(t.app, store);
    const guestEmail = `guest-${unique()}@test.example`;
    const carts_ = t.app.runtime.services.carts;
    const guestCart = await carts_.create(serviceContext(store, guest.caller), {
      lines: [{ variantId, quantity: 3 }],
      email: guestEmail,
    });
    const customer = await createCustomer(t.app, store);
    const customerCart = await carts_.create(serviceContext(store, customer.caller), {
      lines: [{ variantId, quantity: 1 }],
    });
    const otherGuest = await createGuest(t.app, store);
    const cameBack = await carts_.create(serviceContext(store, otherGuest.caller), {
      lines: [{ variantId, quantity: 1 }],
      email: `back-${unique()}@test.example`,
    });
    for (const c of [guestCart, customerCart, cameBack]) await idle(c.id);
    const abandoned = await t.app.runtime.services.cartLifecycle.abandonIdleCarts();
    expect(abandoned).toEqual(expect.arrayContaining([guestCart.id, customerCart.id, cameBack.id]));
    // The shopper is back before the event is handled.
    await carts_.addLines(serviceContext(store, otherGuest.caller), cameBack.id, [
      { variantId, quantity: 1 },
    ]);

    await jobs.consumer.drain();
    const rows = await rowsOf(store.id);
    expect(rows.map((r) => [r.template, r.recipient]).sort()).toEqual(
      [
        ["cart_abandoned", guestEmail],
        ["cart_abandoned", customer.email],
      ].sort(),
    );
    expect(rows.find((r) => r.recipient === guestEmail)?.payload).toMatchObject({
      cartId: guestCart.id,
      itemCount: 3,
    });
    // The stored payload holds no link: it is signed when the message is rendered.
    expect(JSON.stringify(rows.map((r) => r.payload))).not.toContain("token");

    await sendAll();
    const message = transport.to(store.id).find((m) => m.to === guestEmail);
    expect(message?.text).toContain("You left 3 items in your cart.");
    const link = message?.text.split("\n").find((l) => l.startsWith("http"));
    if (!link) throw new Error(`no link in ${message?.text}`);
    const url = new URL(link);
    expect(`${url.origin}${url.pathname}`).toBe(t.app.runtime.config.CART_RECOVERY_URL);
    expect(url.searchParams.get("store")).toBe(store.handle);
    const res = await t.app.ok<{
      cartRecover: {
        token: string | null;
        cart: { id: string; status: string } | null;
        userErrors: unknown[];
      };
    }>(
      `mutation R($token: String!) { cartRecover(token: $token) { token cart { id status } userErrors { code } } }`,
      { token: url.searchParams.get("token") },
      { store: store.handle },
    );
    expect(res.cartRecover.userErrors).toEqual([]);
    expect(res.cartRecover.cart).toEqual({ id: guestCart.id, status: "ACTIVE" });
    expect(res.cartRecover.token).toEqual(expect.any(String));
  });
});

describe("stock alerts", () => {
  it("go to every staff member of the store, one row each: low, sold out, back in stock", async () => {
    const store = await createStore(t.app);
    const staff = [await createStaff(t.app, store), await createStaff(t.app, store, { role: "STAFF" })];
    const other = await createStore(t.app);
    await createStaff(t.app, other);
    const product = await createProduct(t.app, store, { name: "Blue Mug", variants: [{ title: "Large" }] });
    const variant = product.variants[0];
    if (!variant) throw new Error("no variant");
    const change = (from: string, to: string, available: number): StockStateChange =>
      ({ variantId: variant.id, from, to, available, threshold: 3 }) as StockStateChange;
    const changes = [
      change("IN_STOCK", "LOW", 2),
      change("LOW", "OUT", 0),
      change("OUT", "IN_STOCK", 20),
      change("IN_STOCK", "LOW", 3),
      change("LOW", "IN_STOCK", 10),
    ];
    for (const c of changes) {
      await db().transaction((tx) => writeOutboxMany(tx, stockStateEvents(store.id, [c], new Date())));
    }
    await jobs.consumer.drain();
    const rows = await rowsOf(store.id);
    const emails = staff.map((s) => s.email).sort();
    const expected = ["stock_low", "stock_out", "stock_back", "stock_low"].flatMap((template) =>
      emails.map((e) => [template, e]),
    );
    expect(rows.map((r) => [r.template, r.recipient])).toEqual(expected);
    await sendAll();
    const subjects = transport.to(store.id).map((m) => m.subject);
    expect(subjects).toContain(`${store.name}: low stock, Blue Mug (${variant.sku})`);
    expect(subjects).toContain(`${store.name}: sold out, Blue Mug (${variant.sku})`);
    expect(subjects).toContain(`${store.name}: back in stock, Blue Mug (${variant.sku})`);
    expect(transport.to(store.id).find((m) => m.template === "stock_low")?.text).toBe(
      `Blue Mug / Large (SKU ${variant.sku}) is running low: 2 left (alert threshold 3).`,
    );
    expect(await rowsOf(other.id)).toEqual([]);
  });

  it("an event whose payload is not what its producer writes is passed over, and what follows is handled", async () => {
    const store = await createStore(t.app);
    await createStaff(t.app, store);
    const product = await createProduct(t.app, store);
    const variantId = product.variants[0]?.id ?? randomUUID();
    await db().transaction(async (tx) => {
      await writeOutboxMany(tx, [
        {
          storeId: store.id,
          topic: "inventory.stock_state_changed",
          key: variantId,
          payload: { variantId, from: "SOMETHING", to: "OUT" },
        },
        ...stockStateEvents(
          store.id,
          [{ variantId, from: "IN_STOCK", to: "OUT", available: 0, threshold: 1 } as StockStateChange],
          new Date(),
        ),
      ]);
    });
    await jobs.consumer.drain();
    expect((await rowsOf(store.id)).map((r) => r.template)).toEqual(["stock_out"]);
    const [cursor] = await db()
      .select({ lastId: outboxConsumers.lastId })
      .from(outboxConsumers)
      .where(and(eq(outboxConsumers.name, NOTIFICATIONS_CONSUMER)));
    const [last] = await db()
      .select({ id: outbox.id })
      .from(outbox)
      .where(eq(outbox.storeId, store.id))
      .orderBy(sql`${outbox.id} desc`)
      .limit(1);
    expect(cursor?.lastId).toBeGreaterThanOrEqual(last?.id ?? Number.POSITIVE_INFINITY);
  });
});
