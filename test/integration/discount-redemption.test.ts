/**
 * RedemptionService against real PostgreSQL: limits hold under real concurrency (many transactions at
 * once), consumption is idempotent per order, reversal gives exactly one use back.
 */
import { and, eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { customers, discountRedemptions, discounts } from "../../src/db/schema.js";
import type { StoreRef } from "../../src/services/context.js";
import { UserFacingError } from "../../src/services/errors.js";
import type { ConsumeInput } from "../../src/services/redemption.service.js";
import { createOrderRow, createStore, unique } from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();
let store: StoreRef;
let otherStore: StoreRef;

beforeAll(async () => {
  store = await createStore(t.app);
  otherStore = await createStore(t.app);
});

const db = () => t.app.runtime.database.db;
const redemptions = () => t.app.runtime.services.redemptions;

async function insertDiscount(
  target: StoreRef,
  values: Partial<typeof discounts.$inferInsert> = {},
): Promise<typeof discounts.$inferSelect> {
  const [row] = await db()
    .insert(discounts)
    .values({
      storeId: target.id,
      code: `R${unique()}`.toUpperCase(),
      type: "PERCENTAGE",
      value: 10,
      ...values,
    })
    .returning();
  if (!row) throw new Error("discount insert returned nothing");
  return row;
}

async function insertCustomers(target: StoreRef, n: number): Promise<string[]> {
  const rows = await db()
    .insert(customers)
    .values(
      Array.from({ length: n }, () => ({
        storeId: target.id,
        email: `c-${unique()}@test.example`,
        passwordHash: "not-a-real-hash",
      })),
    )
    .returning({ id: customers.id });
  return rows.map((r) => r.id);
}

/** consume in its own transaction, as checkout's T1 would; a refusal comes back as its ErrorCode. */
async function consumeAlone(
  input: ConsumeInput,
): Promise<{ ok: true; alreadyConsumed: boolean } | { ok: false; code: string }> {
  try {
    const result = await db().transaction((tx) => redemptions().consume(tx, input));
    return { ok: true, alreadyConsumed: result.alreadyConsumed };
  } catch (e) {
    if (e instanceof UserFacingError) return { ok: false, code: e.errors[0]?.code ?? "?" };
    throw e;
  }
}

async function usesCount(discountId: string): Promise<number> {
  const [row] = await db()
    .select({ n: discounts.usesCount })
    .from(discounts)
    .where(eq(discounts.id, discountId));
  return row?.n ?? -1;
}

async function redemptionRows(discountId: string, status?: "APPLIED" | "REVERSED"): Promise<number> {
  const [row] = await db()
    .select({ n: sql<number>`count(*)::int` })
    .from(discountRedemptions)
    .where(
      and(
        eq(discountRedemptions.discountId, discountId),
        status ? eq(discountRedemptions.status, status) : undefined,
      ),
    );
  return Number(row?.n ?? -1);
}

describe("global limit under concurrency", () => {
  it("max_uses 10, 100 concurrent consumers (own transaction, own order, distinct customers): exactly 10", async () => {
    const discount = await insertDiscount(store, { maxUses: 10 });
    const ids = await insertCustomers(store, 100);
    const orders = await Promise.all(ids.map((customerId) => createOrderRow(t.app, store, { customerId })));
    const results = await Promise.all(
      ids.map((customerId, i) =>
        consumeAlone({
          storeId: store.id,
          discountId: discount.id,
          orderId: orders[i]?.id ?? "",
          customerId,
        }),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    const refusals = results.filter((r) => !r.ok);
    expect(refusals).toHaveLength(90);
    expect(new Set(refusals.map((r) => (r.ok ? "" : r.code)))).toEqual(new Set(["DISCOUNT_LIMIT_REACHED"]));
    expect(await usesCount(discount.id)).toBe(10);
    expect(await redemptionRows(discount.id, "APPLIED")).toBe(10);
    expect(await redemptionRows(discount.id)).toBe(10);
  });
});

describe("per-customer limit under concurrency", () => {
  it("per_customer_limit 1, 20 concurrent attempts by one customer with 20 orders: exactly 1", async () => {
    const discount = await insertDiscount(store, { perCustomerLimit: 1 });
    const [customerId] = await insertCustomers(store, 1);
    const orders = await Promise.all(
      Array.from({ length: 20 }, () => createOrderRow(t.app, store, { customerId })),
    );
    const results = await Promise.all(
      orders.map((o) =>
        consumeAlone({ storeId: store.id, discountId: discount.id, orderId: o.id, customerId }),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.code === "DISCOUNT_CUSTOMER_LIMIT_REACHED")).toHaveLength(19);
    expect(await usesCount(discount.id)).toBe(1);
    expect(await redemptionRows(discount.id)).toBe(1);
  });

  it("guests count by email, case-insensitively, also under concurrency", async () => {
    const discount = await insertDiscount(store, { perCustomerLimit: 2 });
    const email = `Guest-${unique()}@Test.Example`;
    const orders = await Promise.all(
      Array.from({ length: 10 }, () => createOrderRow(t.app, store, { email })),
    );
    const results = await Promise.all(
      orders.map((o, i) =>
        consumeAlone({
          storeId: store.id,
          discountId: discount.id,
          orderId: o.id,
          email: i % 2 === 0 ? email.toUpperCase() : ` ${email.toLowerCase()} `,
        }),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(2);
    expect(await usesCount(discount.id)).toBe(2);
    const rows = await db()
      .select({ email: discountRedemptions.email })
      .from(discountRedemptions)
      .where(eq(discountRedemptions.discountId, discount.id));
    expect(rows.map((r) => r.email)).toEqual([email.toLowerCase(), email.toLowerCase()]);
  });

  it("another customer is not held back by someone else's uses", async () => {
    const discount = await insertDiscount(store, { perCustomerLimit: 1 });
    const [a, b] = await insertCustomers(store, 2);
    const orderA = await createOrderRow(t.app, store, { customerId: a });
    const orderB = await createOrderRow(t.app, store, { customerId: b });
    expect(
      (await consumeAlone({ storeId: store.id, discountId: discount.id, orderId: orderA.id, customerId: a }))
        .ok,
    ).toBe(true);
    expect(
      (await consumeAlone({ storeId: store.id, discountId: discount.id, orderId: orderB.id, customerId: b }))
        .ok,
    ).toBe(true);
    expect(await usesCount(discount.id)).toBe(2);
  });
});

describe("idempotency per order", () => {
  it("consuming twice for the same order counts once", async () => {
    const discount = await insertDiscount(store, { maxUses: 5 });
    const [customerId] = await insertCustomers(store, 1);
    const order = await createOrderRow(t.app, store, { customerId });
    const input = { storeId: store.id, discountId: discount.id, orderId: order.id, customerId };
    expect(await consumeAlone(input)).toEqual({ ok: true, alreadyConsumed: false });
    expect(await consumeAlone(input)).toEqual({ ok: true, alreadyConsumed: true });
    expect(await usesCount(discount.id)).toBe(1);
    expect(await redemptionRows(discount.id)).toBe(1);
  });

  it("concurrent consumptions for the same order count once", async () => {
    const discount = await insertDiscount(store, { maxUses: 5 });
    const [customerId] = await insertCustomers(store, 1);
    const order = await createOrderRow(t.app, store, { customerId });
    const input = { storeId: store.id, discountId: discount.id, orderId: order.id, customerId };
    const results = await Promise.all(Array.from({ length: 10 }, () => consumeAlone(input)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(results.filter((r) => r.ok && !r.alreadyConsumed)).toHaveLength(1);
    expect(await usesCount(discount.id)).toBe(1);
    expect(await redemptionRows(discount.id)).toBe(1);
  });

  it("an already consumed order keeps its use even after the code expired or ran out", async () => {
    const discount = await insertDiscount(store, { maxUses: 1 });
    const order = await createOrderRow(t.app, store);
    const input = {
      storeId: store.id,
      discountId: discount.id,
      orderId: order.id,
      email: "late@test.example",
    };
    expect((await consumeAlone(input)).ok).toBe(true);
    await db()
      .update(discounts)
      .set({ validUntil: new Date(Date.now() - 60_000), validFrom: null })
      .where(eq(discounts.id, discount.id));
    expect(await consumeAlone(input)).toEqual({ ok: true, alreadyConsumed: true });
    expect(await usesCount(discount.id)).toBe(1);
  });
});

describe("reverse", () => {
  it("reversing twice gives back one use, which someone else can then consume", async () => {
    const discount = await insertDiscount(store, { maxUses: 1 });
    const [a, b] = await insertCustomers(store, 2);
    const orderA = await createOrderRow(t.app, store, { customerId: a });
    const orderB = await createOrderRow(t.app, store, { customerId: b });
    const consumeB = { storeId: store.id, discountId: discount.id, orderId: orderB.id, customerId: b };
    expect(
      (await consumeAlone({ storeId: store.id, discountId: discount.id, orderId: orderA.id, customerId: a }))
        .ok,
    ).toBe(true);
    expect(await consumeAlone(consumeB)).toEqual({ ok: false, code: "DISCOUNT_LIMIT_REACHED" });

    const reverseA = { storeId: store.id, discountId: discount.id, orderId: orderA.id };
    expect(await db().transaction((tx) => redemptions().reverse(tx, reverseA))).toBe(true);
    expect(await db().transaction((tx) => redemptions().reverse(tx, reverseA))).toBe(false);
    expect(await usesCount(discount.id)).toBe(0);
    const [reversed] = await db()
      .select()
      .from(discountRedemptions)
      .where(eq(discountRedemptions.orderId, orderA.id));
    expect(reversed?.status).toBe("REVERSED");
    expect(reversed?.reversedAt).toBeInstanceOf(Date);

    expect(await consumeAlone(consumeB)).toEqual({ ok: true, alreadyConsumed: false });
    expect(await usesCount(discount.id)).toBe(1);
  });

  it("concurrent reversals of one order give back exactly one use", async () => {
    const discount = await insertDiscount(store, { maxUses: 3 });
    const orders = await Promise.all([1, 2].map(() => createOrderRow(t.app, store)));
    for (const o of orders) {
      const r = await consumeAlone({
        storeId: store.id,
        discountId: discount.id,
        orderId: o.id,
        email: `${unique()}@t.example`,
      });
      expect(r.ok).toBe(true);
    }
    const input = { storeId: store.id, discountId: discount.id, orderId: orders[0]?.id ?? "" };
    const flips = await Promise.all(
      Array.from({ length: 10 }, () => db().transaction((tx) => redemptions().reverse(tx, input))),
    );
    expect(flips.filter(Boolean)).toHaveLength(1);
    expect(await usesCount(discount.id)).toBe(1);
  });

  it("a reversed order can consume the code again (counted again), once", async () => {
    const discount = await insertDiscount(store, { maxUses: 5, perCustomerLimit: 1 });
    const [customerId] = await insertCustomers(store, 1);
    const order = await createOrderRow(t.app, store, { customerId });
    const input = { storeId: store.id, discountId: discount.id, orderId: order.id, customerId };
    expect((await consumeAlone(input)).ok).toBe(true);
    await db().transaction((tx) => redemptions().reverse(tx, input));
    expect(await usesCount(discount.id)).toBe(0);
    expect(await consumeAlone(input)).toEqual({ ok: true, alreadyConsumed: false });
    expect(await consumeAlone(input)).toEqual({ ok: true, alreadyConsumed: true });
    expect(await usesCount(discount.id)).toBe(1);
    expect(await redemptionRows(discount.id, "APPLIED")).toBe(1);
  });

  it("reverseOrder gives back every code the order holds", async () => {
    const first = await insertDiscount(store, { combinable: true });
    const second = await insertDiscount(store, { combinable: true });
    const order = await createOrderRow(t.app, store);
    for (const d of [first, second]) {
      expect(
        (await consumeAlone({ storeId: store.id, discountId: d.id, orderId: order.id, email: "x@t.example" }))
          .ok,
      ).toBe(true);
    }
    const reversed = await db().transaction((tx) =>
      redemptions().reverseOrder(tx, { storeId: store.id, orderId: order.id }),
    );
    expect(reversed.sort()).toEqual([first.id, second.id].sort());
    expect(await usesCount(first.id)).toBe(0);
    expect(await usesCount(second.id)).toBe(0);
    expect(
      await db().transaction((tx) =>
        redemptions().reverseOrder(tx, { storeId: store.id, orderId: order.id }),
      ),
    ).toEqual([]);
  });
});

describe("refusals write nothing", () => {
  const day = 24 * 3600 * 1000;
  it.each([
    ["DISCOUNT_INACTIVE", { isActive: false }],
    ["DISCOUNT_NOT_YET_VALID", { validFrom: new Date(Date.now() + day) }],
    [
      "DISCOUNT_EXPIRED",
      { validFrom: new Date(Date.now() - 2 * day), validUntil: new Date(Date.now() - day) },
    ],
    ["DISCOUNT_LIMIT_REACHED", { maxUses: 2, usesCount: 2 }],
  ] as const)("%s", async (code, values) => {
    const discount = await insertDiscount(store, values);
    const before = await usesCount(discount.id);
    const order = await createOrderRow(t.app, store);
    const result = await consumeAlone({
      storeId: store.id,
      discountId: discount.id,
      orderId: order.id,
      email: "n@t.example",
    });
    expect(result).toEqual({ ok: false, code });
    expect(await usesCount(discount.id)).toBe(before);
    expect(await redemptionRows(discount.id)).toBe(0);
  });

  it("an inactive code reports DISCOUNT_INACTIVE even when the customer's limit is also reached", async () => {
    const discount = await insertDiscount(store, { perCustomerLimit: 1 });
    const [customerId] = await insertCustomers(store, 1);
    const [o1, o2] = await Promise.all([1, 2].map(() => createOrderRow(t.app, store, { customerId })));
    expect(
      (await consumeAlone({ storeId: store.id, discountId: discount.id, orderId: o1?.id ?? "", customerId }))
        .ok,
    ).toBe(true);
    await db().update(discounts).set({ isActive: false }).where(eq(discounts.id, discount.id));
    expect(
      await consumeAlone({ storeId: store.id, discountId: discount.id, orderId: o2?.id ?? "", customerId }),
    ).toEqual({
      ok: false,
      code: "DISCOUNT_INACTIVE",
    });
  });

  it("another store's discount is DISCOUNT_NOT_FOUND", async () => {
    const foreign = await insertDiscount(otherStore);
    const order = await createOrderRow(t.app, store);
    const result = await consumeAlone({
      storeId: store.id,
      discountId: foreign.id,
      orderId: order.id,
      email: "n@t.example",
    });
    expect(result).toEqual({ ok: false, code: "DISCOUNT_NOT_FOUND" });
    expect(await usesCount(foreign.id)).toBe(0);
  });

  it("needs the order's customer or email", async () => {
    const discount = await insertDiscount(store);
    const order = await createOrderRow(t.app, store);
    await expect(
      db().transaction((tx) =>
        redemptions().consume(tx, { storeId: store.id, discountId: discount.id, orderId: order.id }),
      ),
    ).rejects.toThrow(RangeError);
  });
});
