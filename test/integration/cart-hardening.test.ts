/**
 * Carts under an attacker's and an operator's hands: a cached copy is never served once PostgreSQL
 * moved on (even when the cache write failed), money and stock stay within the bounds every figure can
 * be represented in, guest sessions and client addresses cannot mint carts without end, and forged
 * cursors or absurd dates are the client's error, not the server's.
 */
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { carts, productVariants } from "../../src/db/schema.js";
import type { StoreRef } from "../../src/services/context.js";
import { MAX_STOCK } from "../../src/services/money-bounds.js";
import { cartApi, okCart } from "../support/cart-api.js";
import { createGuest, createProduct, createStaff, createStore } from "../support/fixtures.js";
import { createTestApp, type TestApp, useTestApp } from "../support/test-app.js";

const t = useTestApp();
let store: StoreRef;
let api: ReturnType<typeof cartApi>;

beforeAll(async () => {
  store = await createStore(t.app);
  api = cartApi(t.app, store.handle);
});

describe("money and stock stay representable", () => {
  it("refuses a cart whose goods would pass the bound, before writing anything, and keeps reading it", async () => {
    const p = await createProduct(t.app, store, { basePrice: 2_500_000, variants: [{ stockOnHand: 1000 }] });
    const guest = await createGuest(t.app, store);
    const cart = okCart(
      await api.create(guest.token, { lines: [{ variantId: p.variants[0]!.id, quantity: 10 }] }),
    );
    const big = await api.add(guest.token, cart.id, [{ variantId: p.variants[0]!.id, quantity: 890 }]);
    expect(big.userErrors.map((e) => e.code)).toEqual(["CART_LIMIT_REACHED"]);
    expect(big.userErrors[0]).toMatchObject({
      message: "A cart may hold at most $5,000,000.00 of goods; this would make $22,500,000.00",
      requiredAmount: { amount: 500_000_000, currencyCode: "USD", formatted: "$5,000,000.00" },
    });
    const still = await api.get(guest.token, cart.id);
    expect(still?.itemCount).toBe(10);
    expect(still?.cost.total.amount).toBe(25_000_000);
    const update = await api.update(guest.token, cart.id, [{ lineId: cart.lines[0]!.id, quantity: 900 }]);
    expect(update.userErrors.map((e) => e.code)).toEqual(["CART_LIMIT_REACHED"]);
    expect((await api.get(guest.token, cart.id))?.itemCount).toBe(10);
  });

  it("refuses stock beyond the bound however many adjustments race", async () => {
    const staff = await createStaff(t.app, store);
    const p = await createProduct(t.app, store, { variants: [{ stockOnHand: 0 }] });
    const variantId = p.variants[0]!.id;
    await t.app.runtime.database.db
      .update(productVariants)
      .set({ stockOnHand: MAX_STOCK - 5_000_000 })
      .where(eq(productVariants.id, variantId));
    const adjust = `mutation A($v: ID!) { inventoryAdjust(variantId: $v, delta: 1000000) { variant { stockOnHand } userErrors { code } } }`;
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        t.app.ok<{ inventoryAdjust: { userErrors: { code: string }[] } }>(
          adjust,
          { v: variantId },
          { store: store.handle, token: staff.token },
        ),
      ),
    );
    const refused = results.filter((r) => r.inventoryAdjust.userErrors.length > 0);
    expect(results.length - refused.length).toBe(5);
    expect(new Set(refused.flatMap((r) => r.inventoryAdjust.userErrors.map((e) => e.code)))).toEqual(
      new Set(["INVALID_INPUT"]),
    );
    const [row] = await t.app.runtime.database.db
      .select({ stock: productVariants.stockOnHand })
      .from(productVariants)
      .where(eq(productVariants.id, variantId));
    expect(row?.stock).toBe(MAX_STOCK);
  });
});

describe("forged cursors and absurd dates", () => {
  it("answers a forged cursor with a clear client error", async () => {
    const forged = [
      "0000-01-01T00:00:00.000Z",
      "-000001-01-01T00:00:00.000Z",
      "+275760-09-13T00:00:00.000Z",
    ].map((at) => Buffer.from(`${at}|00000000-0000-4000-8000-000000000000`).toString("base64url"));
    const staff = await createStaff(t.app, store);
    for (const after of [...forged, "not-a-cursor", "x".repeat(5000)]) {
      for (const [query, token] of [
        [`query Q($after: String) { products(first: 2, after: $after) { edges { cursor } } }`, undefined],
        [`query Q($after: String) { discounts(first: 2, after: $after) { edges { cursor } } }`, staff.token],
      ] as const) {
        const res = await t.app.gql(query, { after }, { store: store.handle, token });
        expect(res.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
        expect(res.errors?.[0]?.message).toMatch(/cursor/i);
      }
    }
  });

  it("refuses validity dates outside a sane range", async () => {
    const staff = await createStaff(t.app, store);
    const res = await t.app.ok<{ discountCreate: { userErrors: { code: string; field: string[] }[] } }>(
      `mutation { discountCreate(input: { code: "OLD", type: PERCENTAGE, value: 10, validFrom: "0000-01-01T00:00:00Z" }) { userErrors { code field } } }`,
      {},
      { store: store.handle, token: staff.token },
    );
    expect(res.discountCreate.userErrors).toEqual([{ code: "INVALID_INPUT", field: ["input", "validFrom"] }]);
  });
});

describe("carts per guest session and per address", () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await createTestApp({
      env: { GUEST_MAX_OPEN_CARTS: "3", CARTS_PER_IP_PER_HOUR: "6", TRUST_PROXY_HOPS: "1" },
    });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it("caps open carts of one guest session, even when its creates race", async () => {
    const s = await createStore(limited);
    const a = cartApi(limited, s.handle);
    const guest = await createGuest(limited, s);
    const results = await Promise.all(Array.from({ length: 6 }, () => a.create(guest.token)));
    expect(results.filter((r) => r.cart).length).toBe(3);
    expect(results.filter((r) => r.userErrors[0]?.code === "CART_LIMIT_REACHED").length).toBe(3);
    const open = await limited.runtime.database.db
      .select({ id: carts.id })
      .from(carts)
      .where(eq(carts.sessionId, guest.sessionId));
    expect(open).toHaveLength(3);
  });

  it("caps carts created from one address across guest sessions", async () => {
    const s = await createStore(limited);
    const create = `mutation { cartCreate { cart { id } userErrors { code } } }`;
    const codes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const guest = await createGuest(limited, s);
      const res = await limited.ok<{ cartCreate: { userErrors: { code: string }[] } }>(
        create,
        {},
        { store: s.handle, token: guest.token, headers: { "x-forwarded-for": "10.9.9.9" } },
      );
      codes.push(res.cartCreate.userErrors[0]?.code ?? "OK");
    }
    expect(codes).toEqual([...Array(6).fill("OK"), "RATE_LIMITED", "RATE_LIMITED"]);
  });
});
