/**
 * cartPriceChanged fan-out: every subscriber whose cart holds the variant hears of a price change once;
 * their cart re-reads go out together (one statement for many carts, not one per subscriber); and a
 * re-read that fails skips that event for that subscriber instead of ending its stream.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { countStatements } from "../../src/db/statement-counter.js";
import type { StoreRef } from "../../src/services/context.js";
import {
  createGuest,
  createProduct,
  createStaff,
  createStore,
  serviceContext,
  type TestGuest,
  type TestStaff,
} from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";
import { openWs, type WsSession } from "../support/ws-client.js";

const t = useTestApp();
let store: StoreRef;
let staff: TestStaff;
let variantId: string;

const SUBSCRIBE = `subscription S($c: ID!) { cartPriceChanged(cartId: $c) {
  cartId previousUnitPrice { amount } newUnitPrice { amount } line { quantity variant { id } } } }`;
const PRICE = `mutation P($v: ID!, $p: Int!) { variantPriceUpdate(variantId: $v, price: $p) { userErrors { code } } }`;

interface PriceEvent {
  cartPriceChanged: {
    cartId: string;
    previousUnitPrice: { amount: number };
    newUnitPrice: { amount: number };
  };
}

beforeAll(async () => {
  store = await createStore(t.app);
  staff = await createStaff(t.app, store);
  const p = await createProduct(t.app, store, { basePrice: 1000, variants: [{ stockOnHand: 500 }] });
  variantId = p.variants[0]!.id;
});

async function shopperWithCart(): Promise<{ guest: TestGuest; cartId: string }> {
  const guest = await createGuest(t.app, store);
  const cart = await t.app.runtime.services.carts.create(serviceContext(store, guest.caller), {
    lines: [{ variantId, quantity: 1 }],
  });
  return { guest, cartId: cart.id };
}

async function setPrice(price: number): Promise<void> {
  await t.app.ok(PRICE, { v: variantId, p: price }, { token: staff.token, store: store.handle });
}

describe("cartPriceChanged", () => {
  it("reaches every one of 30 subscribers once", async () => {
    const shoppers = await Promise.all(Array.from({ length: 30 }, shopperWithCart));
    const sessions: WsSession[] = [];
    try {
      const subs = await Promise.all(
        shoppers.map(async (s) => {
          const ws = await openWs(t.app.wsUrl, { store: store.handle, token: s.guest.token });
          sessions.push(ws);
          return { s, sub: ws.subscribe<PriceEvent>(SUBSCRIBE, { c: s.cartId }) };
        }),
      );
      await new Promise((r) => setTimeout(r, 300));
      await setPrice(1200);
      for (const { s, sub } of subs) {
        const [event] = await sub.waitFor(1, 10_000);
        expect(event?.data?.cartPriceChanged).toMatchObject({
          cartId: s.cartId,
          previousUnitPrice: { amount: 1000 },
          newUnitPrice: { amount: 1200 },
        });
      }
      await new Promise((r) => setTimeout(r, 300));
      for (const { sub } of subs) expect(sub.events).toHaveLength(1);
    } finally {
      await Promise.all(sessions.map((ws) => ws.close()));
      await setPrice(1000);
    }
  });

  it("re-reads the carts of one event together: one statement for 40 carts", async () => {
    const shoppers = await Promise.all(Array.from({ length: 40 }, shopperWithCart));
    const carts = t.app.runtime.services.carts;
    const { result, statements } = await countStatements(() =>
      Promise.all(shoppers.map((s) => carts.getBatched(serviceContext(store, s.guest.caller), s.cartId))),
    );
    expect(statements).toBe(1);
    for (const [i, s] of shoppers.entries()) {
      expect(result[i]).toEqual(await carts.get(serviceContext(store, s.guest.caller), s.cartId));
    }
    // Ownership holds as for a single read: someone else's cart reads as null.
    const other = await createGuest(t.app, store);
    expect(await carts.getBatched(serviceContext(store, other.caller), shoppers[0]!.cartId)).toBeNull();
  });

  it("skips an event whose re-read failed, and keeps the stream", async () => {
    const s = await shopperWithCart();
    const ws = await openWs(t.app.wsUrl, { store: store.handle, token: s.guest.token });
    const carts = t.app.runtime.services.carts;
    const getBatched = carts.getBatched.bind(carts);
    try {
      const sub = ws.subscribe<PriceEvent>(SUBSCRIBE, { c: s.cartId });
      await new Promise((r) => setTimeout(r, 300));
      let failures = 1;
      carts.getBatched = async (...args) => {
        if (failures-- > 0) throw new Error("connection reset (injected)");
        return getBatched(...args);
      };
      await setPrice(1300);
      await new Promise((r) => setTimeout(r, 500));
      expect(sub.events).toEqual([]);
      await setPrice(1400);
      const [event] = await sub.waitFor(1, 10_000);
      expect(event?.data?.cartPriceChanged.newUnitPrice.amount).toBe(1400);
    } finally {
      carts.getBatched = getBatched;
      await ws.close();
      await setPrice(1000);
    }
  });
});
