/**
 * orderStatusChanged over graphql-ws, as a mobile app sees it: its own order's changes in order, each
 * once; staff see the store's orders; anything else is FORBIDDEN; a bad token refuses the connection
 * and an expiring one ends it.
 */
import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import type { StoreRef } from "../../src/services/context.js";
import { checkout, productWithStock, readyCart, type ShopSetup, shop } from "../support/checkout-fixtures.js";
import {
  createCustomer,
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

beforeAll(async () => {
  store = await createStore(t.app);
  setup = await shop(t.app, store, { taxBps: 0 });
  staff = await createStaff(t.app, store);
});

const SUB = `subscription S($id: ID) { orderStatusChanged(orderId: $id) { from to at order { id status trackingNumber } } }`;

interface Event {
  orderStatusChanged: {
    from: string | null;
    to: string;
    order: { id: string; status: string; trackingNumber: string | null };
  };
}

async function move(orderId: string, to: string, trackingNumber?: string) {
  const data = await t.app.ok<{ orderTransition: { userErrors: unknown[] } }>(
    `mutation M($id: ID!, $to: OrderStatus!, $t: String) { orderTransition(orderId: $id, to: $to, trackingNumber: $t) { userErrors { code } } }`,
    { id: orderId, to, t: trackingNumber ?? null },
    { store: store.handle, token: staff.token },
  );
  expect(data.orderTransition.userErrors).toEqual([]);
}

async function paidOrder() {
  const p = await productWithStock(t.app, store, 10);
  const ready = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 1 }]);
  const res = await checkout(t.app, store, ready.guest.token, { cartId: ready.cartId });
  return { ...ready, orderId: res.order!.id };
}

describe("orderStatusChanged", () => {
  it("delivers an order's changes to its shopper, in order, each once", async () => {
    const { guest, orderId } = await paidOrder();
    const ws = await openWs(t.app.wsUrl, { store: store.handle, token: guest.token });
    const sub = ws.subscribe<Event>(SUB, { id: orderId });
    await new Promise((r) => setTimeout(r, 100));
    await move(orderId, "PROCESSING");
    await move(orderId, "SHIPPED", "TRACK-1");
    await move(orderId, "DELIVERED");
    const events = await sub.waitFor(3);
    expect(events.map((e) => [e.data?.orderStatusChanged.from, e.data?.orderStatusChanged.to])).toEqual([
      ["CONFIRMED", "PROCESSING"],
      ["PROCESSING", "SHIPPED"],
      ["SHIPPED", "DELIVERED"],
    ]);
    expect(events[1]?.data?.orderStatusChanged.order.trackingNumber).toBe("TRACK-1");
    await new Promise((r) => setTimeout(r, 200));
    expect(sub.events).toHaveLength(3);
    sub.stop();
    await ws.close();
  });

  it("lets staff follow every order of the store, and forbids everything else", async () => {
    const ws = await openWs(t.app.wsUrl, { store: store.handle, token: staff.token });
    const all = ws.subscribe<Event>(SUB, {});
    await new Promise((r) => setTimeout(r, 100));
    const a = await paidOrder();
    const b = await paidOrder();
    // One change each (PENDING -> CONFIRMED); the creation itself is order.created, not a status change.
    const events = await all.waitFor(2);
    const ids = new Set(events.map((e) => e.data?.orderStatusChanged.order.id));
    expect(ids).toEqual(new Set([a.orderId, b.orderId]));
    all.stop();
    await ws.close();

    const { orderId } = await paidOrder();
    const stranger = await createCustomer(t.app, store);
    const wsStranger = await openWs(t.app.wsUrl, { store: store.handle, token: stranger.token });
    const foreign = await wsStranger.subscribe(SUB, { id: orderId }).waitFor(1);
    expect(foreign[0]?.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const everything = await wsStranger.subscribe(SUB, {}).waitFor(1);
    expect(everything[0]?.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    await wsStranger.close();
    const otherStore = await createStore(t.app);
    const otherStaff = await createStaff(t.app, otherStore);
    const wsOther = await openWs(t.app.wsUrl, { store: otherStore.handle, token: otherStaff.token });
    const crossStore = await wsOther.subscribe(SUB, { id: orderId }).waitFor(1);
    expect(crossStore[0]?.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    await wsOther.close();
  });

  it("reads an event's order once for all its subscribers, not once per subscriber", async () => {
    const sockets = await Promise.all(
      Array.from({ length: 25 }, () => openWs(t.app.wsUrl, { store: store.handle, token: staff.token })),
    );
    const subs = sockets.map((ws) => ws.subscribe<Event>(SUB, {}));
    await new Promise((r) => setTimeout(r, 300));
    const queries = t.app.runtime.services.orders;
    const reads = { count: 0 };
    const original = queries.row.bind(queries);
    queries.row = (storeId, id) => {
      reads.count += 1;
      return original(storeId, id);
    };
    try {
      const { orderId } = await paidOrder();
      const delivered = await Promise.all(subs.map((sub) => sub.waitFor(1)));
      expect(delivered.map((e) => e[0]?.data?.orderStatusChanged.order.id)).toEqual(subs.map(() => orderId));
      // One PENDING -> CONFIRMED event for 25 subscribers: one read of the order.
      expect(reads.count).toBe(1);
    } finally {
      queries.row = original;
      for (const sub of subs) sub.stop();
      await Promise.all(sockets.map((ws) => ws.close()));
    }
  });

  it("refuses a connection with a bad token, and ends one whose token expires", async () => {
    await expect(openWs(t.app.wsUrl, { store: store.handle, token: "not-a-token" })).rejects.toThrow();
    const guest = await createGuest(t.app, store);
    const shortLived = await new SignJWT({ typ: "guest", store: store.id })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(guest.sessionId)
      .setIssuer("cartograph")
      .setIssuedAt()
      .setJti(randomUUID())
      .setExpirationTime(Math.floor(Date.now() / 1000) + 2)
      .sign(new TextEncoder().encode("test-secret-that-is-long-enough-for-hs256!"));
    const cart = await t.app.runtime.services.carts.create(serviceContext(store, guest.caller), {});
    const ws = await openWs(t.app.wsUrl, { store: store.handle, token: shortLived });
    const sub = ws.subscribe(`subscription S($c: ID!) { cartPriceChanged(cartId: $c) { cartId } }`, {
      c: cart.id,
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(sub.events).toEqual([]); // running
    const ended = await Promise.race([
      sub.ended,
      new Promise((r) => setTimeout(() => r("still open"), 6000)),
    ]);
    expect(ended).toEqual({ closed: { code: 4403, reason: "Token expired" } });
    await ws.close();
  });
});
