/**
 * Checkout under real concurrency, over HTTP: many buyers for few units, duplicates of one submission,
 * carts over the same variants in opposite orders, and a code with few uses left. Every claim here is
 * a race that runs, not an argument.
 */
import { eq, inArray, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { discountRedemptions, discounts, orders, productVariants } from "../../src/db/schema.js";
import type { StoreRef } from "../../src/services/context.js";
import {
  type CheckoutPayloadShape,
  checkout,
  productWithStock,
  type ReadyCart,
  readyCart,
  type ShopSetup,
  shop,
  testGateway,
} from "../support/checkout-fixtures.js";
import { createStore, fixtureStaff, serviceContext, unique } from "../support/fixtures.js";
import { settleStock } from "../support/settle.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp({ env: { DATABASE_POOL_SIZE: "20" } });
let store: StoreRef;
let setup: ShopSetup;

beforeAll(async () => {
  store = await createStore(t.app);
  setup = await shop(t.app, store, { taxBps: 0 });
});

async function inBatches<T>(n: number, size: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += size) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, j) => make(i + j)))));
  }
  return out;
}

async function variant(id: string) {
  await settleStock(t.app.runtime.database.db);
  const [row] = await t.app.runtime.database.db
    .select()
    .from(productVariants)
    .where(eq(productVariants.id, id));
  if (!row) throw new Error("no variant");
  return row;
}

describe("checkout races", () => {
  it("500 buyers, 50 units: exactly 50 confirmed orders, 450 told INSUFFICIENT_STOCK, nothing oversold", {
    timeout: 120_000,
  }, async () => {
    const p = await productWithStock(t.app, store, 50);
    const buyers = await inBatches(500, 50, () =>
      readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 1 }]),
    );
    const results = await Promise.all(
      buyers.map((b) => checkout(t.app, store, b.guest.token, { cartId: b.cartId })),
    );
    const confirmed = results.filter((r) => r.order?.status === "CONFIRMED");
    const short = results.filter((r) => r.userErrors.some((e) => e.code === "INSUFFICIENT_STOCK"));
    const other = results.filter((r) => !confirmed.includes(r) && !short.includes(r));
    expect(other.map((r) => r.userErrors)).toEqual([]);
    expect(confirmed).toHaveLength(50);
    expect(short).toHaveLength(450);
    for (const r of short) expect(r.userErrors[0]?.available).toBe(0);
    expect(await variant(p.variantId)).toMatchObject({ stockOnHand: 0, reserved: 0, stockState: "OUT" });
    const placed = await t.app.runtime.database.db
      .select({ n: sql<number>`count(*)::int` })
      .from(orders)
      .where(
        inArray(
          orders.cartId,
          buyers.map((b) => b.cartId),
        ),
      );
    expect(placed[0]?.n).toBe(50);
  });

  it("20 concurrent submissions of one key: one order, one authorisation, identical payloads", async () => {
    const p = await productWithStock(t.app, store, 10);
    const { guest, cartId } = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 2 }]);
    const idempotencyKey = `dup-${unique()}-${unique()}`;
    const results = await Promise.all(
      Array.from({ length: 20 }, () => checkout(t.app, store, guest.token, { cartId, idempotencyKey })),
    );
    const first = results[0] as CheckoutPayloadShape;
    expect(first.order?.status).toBe("CONFIRMED");
    for (const r of results) expect(r).toEqual(first);
    const rows = await t.app.runtime.database.db
      .select()
      .from(orders)
      .where(eq(orders.idempotencyKey, idempotencyKey));
    expect(rows).toHaveLength(1);
    const auths = testGateway(t.app).log.filter(
      (c) => c.method === "authorize" && c.effect && (c.input as { orderId: string }).orderId === rows[0]?.id,
    );
    expect(auths).toHaveLength(1);
    expect(await variant(p.variantId)).toMatchObject({ stockOnHand: 8, reserved: 0 });
  });

  it("carts over the same variants in opposite orders, checked out at once: no deadlock, all confirmed", async () => {
    const variants = await Promise.all(Array.from({ length: 4 }, () => productWithStock(t.app, store, 1000)));
    const ids = variants.map((v) => v.variantId);
    const carts: ReadyCart[] = await inBatches(40, 20, (i) => {
      const order = i % 2 === 0 ? ids : [...ids].reverse();
      return readyCart(
        t.app,
        setup,
        order.map((variantId) => ({ variantId, quantity: 1 + (i % 3) })),
      );
    });
    const results = await Promise.all(
      carts.map((c) => checkout(t.app, store, c.guest.token, { cartId: c.cartId })),
    );
    expect(results.flatMap((r) => r.userErrors)).toEqual([]);
    expect(results.every((r) => r.order?.status === "CONFIRMED")).toBe(true);
    const sold = carts.reduce((n, _, i) => n + 1 + (i % 3), 0);
    for (const id of ids) expect(await variant(id)).toMatchObject({ stockOnHand: 1000 - sold, reserved: 0 });
  });

  it("a code with 5 uses under 50 concurrent checkouts: exactly 5 orders carry it", async () => {
    const p = await productWithStock(t.app, store, 500);
    const code = `FIVE${unique()}`.toUpperCase();
    const discount = await t.app.runtime.services.discounts.create(serviceContext(store, fixtureStaff), {
      code,
      type: "FIXED_AMOUNT",
      value: 100,
      maxUses: 5,
    });
    const buyers = await inBatches(50, 25, async () => {
      const ready = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 1 }]);
      await t.app.runtime.services.discounts.applyCode(
        serviceContext(store, ready.guest.caller),
        ready.cartId,
        code,
      );
      return ready;
    });
    const results = await Promise.all(
      buyers.map((b) => checkout(t.app, store, b.guest.token, { cartId: b.cartId })),
    );
    const withCode = results.filter(
      (r) => r.order?.status === "CONFIRMED" && r.order.cost.discount.amount === 100,
    );
    const limited = results.filter((r) => r.userErrors.some((e) => e.code === "DISCOUNT_LIMIT_REACHED"));
    expect(withCode).toHaveLength(5);
    expect(limited).toHaveLength(45);
    expect(results.filter((r) => r.order?.status === "CONFIRMED")).toHaveLength(5);
    const [row] = await t.app.runtime.database.db
      .select()
      .from(discounts)
      .where(eq(discounts.id, discount.id));
    expect(row?.usesCount).toBe(5);
    const applied = await t.app.runtime.database.db
      .select({ n: sql<number>`count(*)::int` })
      .from(discountRedemptions)
      .where(eq(discountRedemptions.discountId, discount.id));
    expect(applied[0]?.n).toBe(5);
    expect(await variant(p.variantId)).toMatchObject({ stockOnHand: 495, reserved: 0 });
  });
});

describe("the flash-sale gate", () => {
  it("refuses a sold-out variant from the gate, without a transaction, and never admits past stock", async () => {
    const p = await productWithStock(t.app, store, 2);
    const [a, b, c] = await inBatches(3, 3, () =>
      readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 1 }]),
    );
    for (const buyer of [a, b]) {
      expect(
        (await checkout(t.app, store, buyer!.guest.token, { cartId: buyer!.cartId })).order?.status,
      ).toBe("CONFIRMED");
    }
    const res = await t.app.gql<{ checkoutComplete: { userErrors: { code: string; available: number }[] } }>(
      `mutation C($input: CheckoutInput!) { checkoutComplete(input: $input) { userErrors { code available } } }`,
      { input: { cartId: c!.cartId, idempotencyKey: `gate-${unique()}-x`, paymentMethod: "pm_card_visa" } },
      { store: store.handle, token: c!.guest.token },
    );
    expect(res.data?.checkoutComplete.userErrors).toEqual([{ code: "INSUFFICIENT_STOCK", available: 0 }]);
    // The key lookup and the cart read; the transaction that would lock the variant never began.
    expect(Number(res.headers.get("x-sql-statements"))).toBeLessThanOrEqual(4);
    // Restocked, the gate admits again at once (it is set from PostgreSQL on every stock change).
    await t.app.runtime.services.catalog.adjustInventory(serviceContext(store, fixtureStaff), {
      variantId: p.variantId,
      delta: 1,
    });
    expect((await checkout(t.app, store, c!.guest.token, { cartId: c!.cartId })).order?.status).toBe(
      "CONFIRMED",
    );
  });
});
