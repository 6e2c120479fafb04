/**
 * Replies of cart writes are built from what the write's transaction read and wrote, not read back, so
 * they must be exactly what a read returns afterwards, however many writers of one cart race (a writer
 * that waited for the cart lock must not answer from a snapshot older than the cart it locked), and
 * carts work with Redis down.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisInfra } from "../../src/infra/redis.js";
import { createLogger } from "../../src/logger.js";
import type { StoreRef } from "../../src/services/context.js";
import { CART_FIELDS, type CartPayloadShape, type CartShape, cartApi, okCart } from "../support/cart-api.js";
import { createGuest, createProduct, createStore, type TestGuest } from "../support/fixtures.js";
import { createTestApp, type TestApp, useTestApp } from "../support/test-app.js";

const t = useTestApp();
let store: StoreRef;
let guest: TestGuest;
let variants: string[];

beforeAll(async () => {
  store = await createStore(t.app);
  guest = await createGuest(t.app, store);
  const p = await createProduct(t.app, store, {
    variants: Array.from({ length: 30 }, () => ({ stockOnHand: 500 })),
  });
  variants = p.variants.map((v) => v.id);
});

const ADD_WITH_VERSION = `mutation A($cartId: ID!, $lines: [CartLineInput!]!) {
  cartLinesAdd(cartId: $cartId, lines: $lines) { cart { ${CART_FIELDS} } userErrors { code message } } }`;

describe("a cart write's reply", () => {
  it("equals the next read of the cart", async () => {
    const api = cartApi(t.app, store.handle);
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId: variants[0]!, quantity: 2 }] }));
    const steps: (() => Promise<CartPayloadShape>)[] = [
      () => api.add(guest.token, cart.id, [{ variantId: variants[1]!, quantity: 1 }]),
      () => api.add(guest.token, cart.id, [{ variantId: variants[0]!, quantity: 3 }]),
      () =>
        api.add(guest.token, cart.id, [
          { variantId: variants[2]!, quantity: 1, customOptions: { giftWrap: true } },
        ]),
      () => api.update(guest.token, cart.id, [{ lineId: cart.lines[0]!.id, quantity: 7 }]),
      () => api.setEmail(guest.token, cart.id, "Reply@Example.com"),
      () => api.remove(guest.token, cart.id, [cart.lines[0]!.id]),
    ];
    for (const step of steps) {
      const reply = okCart(await step());
      expect(await api.get(guest.token, cart.id)).toEqual(reply);
    }
  });

  it("is never older than the cart it changed, with 24 writers of one cart at once", async () => {
    const api = cartApi(t.app, store.handle);
    const cart = okCart(await api.create(guest.token));
    const replies = await Promise.all(
      variants.slice(0, 24).map(async (variantId) => {
        const res = await t.app.gql<{ cartLinesAdd: CartPayloadShape }>(
          ADD_WITH_VERSION,
          { cartId: cart.id, lines: [{ variantId, quantity: 1 }] },
          { token: guest.token, store: store.handle },
        );
        expect(res.errors).toBeUndefined();
        return okCart(res.data!.cartLinesAdd);
      }),
    );
    // Writers queue on the cart row: the k-th to commit saw the k-1 before it, so its reply has k lines.
    const counts = replies.map((r) => r.lines.length).sort((a, b) => a - b);
    expect(counts).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    const last = replies.find((r) => r.lines.length === 24) as CartShape;
    expect(await api.get(guest.token, cart.id)).toEqual(last);
  });
});

describe("with Redis down", () => {
  let down: TestApp;
  afterAll(async () => {
    await down?.close();
  });

  it("carts keep working from PostgreSQL", async () => {
    down = await createTestApp({
      infra: createRedisInfra("redis://127.0.0.1:1", { logger: createLogger("silent"), namespace: "down:" }),
    });
    const s = await createStore(down);
    const g = await createGuest(down, s);
    const p = await createProduct(down, s, { variants: [{ stockOnHand: 10 }] });
    const api = cartApi(down, s.handle);
    const cart = okCart(
      await api.create(g.token, { lines: [{ variantId: p.variants[0]!.id, quantity: 2 }] }),
    );
    okCart(await api.add(g.token, cart.id, [{ variantId: p.variants[0]!.id, quantity: 1 }]));
    expect((await api.get(g.token, cart.id))?.itemCount).toBe(3);
    // Ready all the same: PostgreSQL serves everything; Redis being down is reported as detail.
    const ready = await fetch(down.url.replace("/graphql", "/readyz"));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ redis: { configured: true, reachable: false } });
  });
});
