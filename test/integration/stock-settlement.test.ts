/**
 * Sold units leave on hand and reserved at settlement, not in the confirming transaction
 * (src/services/inventory/settlement.ts). What this file proves, each by running it: confirming an order
 * writes no variant row (it completes while another connection holds the variant's lock); between sale
 * and settlement nothing can be sold twice and staff read the true counts; settlement racing with
 * checkouts, cancellations, staff adjustments and a second settling instance takes each sale off once;
 * a settling backend killed mid-statement leaves nothing half done.
 */
import { desc, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { beforeAll, describe, expect, it } from "vitest";
import { inventoryMovements, inventoryReservations, orders, productVariants } from "../../src/db/schema.js";
import type { StoreRef } from "../../src/services/context.js";
import { settleSales } from "../../src/services/inventory/settlement.js";
import {
  checkout,
  productWithStock,
  readyCart,
  type ShopSetup,
  shop,
  testGateway,
} from "../support/checkout-fixtures.js";
import { createStaff, createStore, fixtureStaff, serviceContext } from "../support/fixtures.js";
import { settleStock } from "../support/settle.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp({ env: { DATABASE_POOL_SIZE: "20" } });
let store: StoreRef;
let setup: ShopSetup;
let staffToken: string;

beforeAll(async () => {
  store = await createStore(t.app);
  setup = await shop(t.app, store, { taxBps: 0 });
  staffToken = (await createStaff(t.app, store)).token;
});

const db = () => t.app.runtime.database.db;

async function counters(variantId: string) {
  const [row] = await db()
    .select({ onHand: productVariants.stockOnHand, reserved: productVariants.reserved })
    .from(productVariants)
    .where(eq(productVariants.id, variantId));
  if (!row) throw new Error("no variant");
  return row;
}

async function staffView(variantId: string) {
  const res = await t.app.gql<{
    variant: { stockOnHand: number; reserved: number; inStock: boolean };
  }>(
    `query ($id: ID!) { variant(id: $id) { stockOnHand reserved inStock } }`,
    { id: variantId },
    { token: staffToken, store: store.handle },
  );
  expect(res.errors).toBeUndefined();
  return res.data!.variant;
}

async function unsettledOf(variantId: string): Promise<number> {
  const [row] = await db().execute<{ n: number }>(
    sql`select count(*)::int as n from inventory_reservations where variant_id = ${variantId} and unsettled`,
  );
  return Number(row?.n ?? 0);
}

/** Movements of a variant: their deltas add up to what is on hand, whatever raced. */
async function movementsOf(variantId: string) {
  return db()
    .select()
    .from(inventoryMovements)
    .where(eq(inventoryMovements.variantId, variantId))
    .orderBy(inventoryMovements.createdAt, desc(inventoryMovements.stockAfter));
}

/** Holds a variant's row lock on a connection of its own (as a checkout would) until released. */
async function holdVariantLock(variantId: string): Promise<{ release: () => Promise<void> }> {
  const raw = postgres(t.app.runtime.databaseUrl, { max: 1, onnotice: () => {} });
  let letGo = () => {};
  const held = new Promise<void>((r) => {
    letGo = r;
  });
  let locked = () => {};
  const isLocked = new Promise<void>((r) => {
    locked = r;
  });
  const done = raw.begin(async (tx) => {
    await tx`select id from product_variants where id = ${variantId} for update`;
    locked();
    await held;
  });
  await Promise.race([isLocked, done]);
  return {
    release: async () => {
      letGo();
      await done;
      await raw.end({ timeout: 5 });
    },
  };
}

describe("stock settlement", () => {
  it("confirms a paid order without writing its variants: it completes while another connection holds their lock", {
    timeout: 30_000,
  }, async () => {
    const p = await productWithStock(t.app, store, 10);
    const ready = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 2 }]);
    testGateway(t.app).latencyMs = 500;
    try {
      const answer = checkout(t.app, store, ready.guest.token, { cartId: ready.cartId });
      answer.catch(() => undefined);
      // Wait for T1 (the order placed), then hold the variant's row lock through T2.
      for (const deadline = Date.now() + 10_000; ; ) {
        const [row] = await db()
          .select({ id: orders.id })
          .from(orders)
          .where(eq(orders.cartId, ready.cartId));
        if (row) break;
        if (Date.now() > deadline) throw new Error("the order was not placed");
        await new Promise((r) => setTimeout(r, 10));
      }
      const lock = await holdVariantLock(p.variantId);
      // Before, T2 moved the counters under this lock and waited for it: the answer never came in time.
      const outcome = await Promise.race([
        answer.then((r) => r.order?.status ?? "none"),
        new Promise<string>((r) => setTimeout(() => r("still waiting"), 8_000)),
      ]);
      await lock.release();
      expect(outcome).toBe("CONFIRMED");
    } finally {
      testGateway(t.app).latencyMs = 0;
    }
    expect(await counters(p.variantId)).toEqual({ onHand: 10, reserved: 2 });
    expect(await settleStock(db())).toBe(1);
    expect(await counters(p.variantId)).toEqual({ onHand: 8, reserved: 0 });
  });

  it("sold and not settled: what can be sold is already right, staff read the true counts, settling twice moves once", async () => {
    const p = await productWithStock(t.app, store, 3);
    const first = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 2 }]);
    const second = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 2 }]);
    const placed = await checkout(t.app, store, first.guest.token, { cartId: first.cartId });
    expect(placed.order?.status).toBe("CONFIRMED");
    expect(await counters(p.variantId)).toEqual({ onHand: 3, reserved: 2 });
    expect(await staffView(p.variantId)).toEqual({ stockOnHand: 1, reserved: 0, inStock: true });
    // Two more units cannot be had: only one is left.
    const refused = await checkout(t.app, store, second.guest.token, { cartId: second.cartId });
    expect(refused.order).toBeNull();
    expect(refused.userErrors.map((e) => e.code)).toEqual(["INSUFFICIENT_STOCK"]);

    expect(await settleStock(db())).toBeGreaterThanOrEqual(1);
    expect(await settleStock(db())).toBe(0);
    expect(await counters(p.variantId)).toEqual({ onHand: 1, reserved: 0 });
    expect(await staffView(p.variantId)).toEqual({ stockOnHand: 1, reserved: 0, inStock: true });
    const sale = (await movementsOf(p.variantId)).filter((m) => m.orderId === placed.order?.id);
    expect(sale.map(({ delta, stockAfter, reason }) => ({ delta, stockAfter, reason }))).toEqual([
      { delta: -2, stockAfter: 1, reason: `order ${placed.order?.number}` },
    ]);
  });

  it("the batch skips a variant a checkout holds (no convoy), the job then settles it alone", {
    timeout: 30_000,
  }, async () => {
    const a = await productWithStock(t.app, store, 5);
    const b = await productWithStock(t.app, store, 5);
    const ready = await readyCart(t.app, setup, [
      { variantId: a.variantId, quantity: 1 },
      { variantId: b.variantId, quantity: 1 },
    ]);
    expect((await checkout(t.app, store, ready.guest.token, { cartId: ready.cartId })).order?.status).toBe(
      "CONFIRMED",
    );
    const lock = await holdVariantLock(a.variantId);
    const batch = await settleSales(db(), { limit: 1000 }, new Date());
    expect(batch.busy).toEqual([{ storeId: store.id, variantId: a.variantId }]);
    expect(await counters(b.variantId)).toEqual({ onHand: 4, reserved: 0 });
    expect(await counters(a.variantId)).toEqual({ onHand: 5, reserved: 1 });
    // The job waits for the busy variant alone, and settles it once the holder lets go.
    const before = t.app.runtime.services.stockSettlement.stats().settled;
    const job = t.app.runtime.services.stockSettlement.settle();
    await new Promise((r) => setTimeout(r, 200));
    await lock.release();
    expect((await job).settled).toBe(1);
    const metrics = await (await fetch(t.app.url.replace("/graphql", "/metrics"))).text();
    expect(metrics).toMatch(new RegExp(`^cartograph_stock_settled_total ${before + 1}$`, "m"));
    expect(metrics).toMatch(/^cartograph_stock_settlement_refused_total 0$/m);
    expect(metrics).toMatch(/^cartograph_stock_settlement_last_run_timestamp_seconds [1-9]/m);
    expect(await counters(a.variantId)).toEqual({ onHand: 4, reserved: 0 });
  });

  it("a staff adjustment settles the variant first: its movement's stock_after is the real count", async () => {
    const p = await productWithStock(t.app, store, 10);
    const ready = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 4 }]);
    expect((await checkout(t.app, store, ready.guest.token, { cartId: ready.cartId })).order?.status).toBe(
      "CONFIRMED",
    );
    const adjusted = await t.app.runtime.services.catalog.adjustInventory(
      serviceContext(store, fixtureStaff),
      {
        variantId: p.variantId,
        delta: -6,
      },
    );
    expect(adjusted).toMatchObject({ stockOnHand: 0, reserved: 0 });
    expect(await unsettledOf(p.variantId)).toBe(0);
    expect((await movementsOf(p.variantId)).map((m) => [m.delta, m.stockAfter])).toEqual([
      [10, 10],
      [-4, 6],
      [-6, 0],
    ]);
  });

  it("a cancelled paid order settles its sale before the restock: each movement's stock_after is the real count", async () => {
    const p = await productWithStock(t.app, store, 10);
    const ready = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 3 }]);
    const placed = await checkout(t.app, store, ready.guest.token, { cartId: ready.cartId });
    expect(placed.order?.status).toBe("CONFIRMED");
    await t.app.runtime.services.orderCommands.cancel(
      serviceContext(store, ready.guest.caller),
      placed.order?.id as string,
    );
    expect(await unsettledOf(p.variantId)).toBe(0);
    expect(await counters(p.variantId)).toEqual({ onHand: 10, reserved: 0 });
    const movements = (await movementsOf(p.variantId)).map((m) => [m.delta, m.stockAfter]);
    expect(movements).toHaveLength(3);
    expect(movements).toEqual(
      expect.arrayContaining([
        [10, 10],
        [-3, 7],
        [3, 10],
      ]),
    );
  });

  it("races: checkouts, cancellations, staff adjustments and two settling instances take each sale off once", {
    timeout: 120_000,
  }, async () => {
    const p = await productWithStock(t.app, store, 200);
    const buyers = await Promise.all(
      Array.from({ length: 40 }, () => readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 2 }])),
    );
    const staffCtx = serviceContext(store, fixtureStaff);
    let settling = true;
    const settler = async () => {
      let n = 0;
      while (settling) {
        n += (await settleSales(db(), { limit: 7 }, new Date())).settled;
        await new Promise((r) => setTimeout(r, 5));
      }
      return n;
    };
    const settlers = [settler(), settler()];
    const adjustments = Array.from({ length: 10 }, (_, i) =>
      t.app.runtime.services.catalog.adjustInventory(staffCtx, {
        variantId: p.variantId,
        delta: i % 2 ? 3 : -1,
      }),
    );
    const placed = await Promise.all(
      buyers.map(async (b, i) => {
        const res = await checkout(t.app, store, b.guest.token, { cartId: b.cartId });
        // Every fourth buyer cancels straight away (refunded, restocked), racing the settlers.
        if (i % 4 === 0 && res.order) {
          await t.app.runtime.services.orderCommands.cancel(
            serviceContext(store, b.guest.caller),
            res.order.id,
          );
        }
        return res;
      }),
    );
    await Promise.all(adjustments);
    settling = false;
    const settledByRacers = (await Promise.all(settlers)).reduce((a, b) => a + b, 0);
    const settledAfter = await settleStock(db());

    expect(placed.flatMap((r) => r.userErrors.map((e) => e.code))).toEqual([]);
    expect(placed.filter((r) => r.order)).toHaveLength(40);
    // Cancellations and adjustments settle the variant too (they write movements), so the racers and the
    // final run settle some of the 40, never more.
    expect(settledByRacers + settledAfter).toBeLessThanOrEqual(40);
    const cancelled = Math.ceil(40 / 4);
    const adjusted = 5 * 3 - 5 * 1;
    const { onHand, reserved } = await counters(p.variantId);
    expect(reserved).toBe(0);
    expect(onHand).toBe(200 + adjusted - 2 * 40 + 2 * cancelled);
    const movements = await movementsOf(p.variantId);
    expect(movements.reduce((a, m) => a + m.delta, 0)).toBe(onHand);
    // One sale movement per order, never two.
    const sales = movements.filter((m) => m.delta < 0 && m.orderId);
    expect(new Set(sales.map((m) => m.orderId)).size).toBe(40);
    expect(sales).toHaveLength(40);
    const reservations = await db()
      .select({ status: inventoryReservations.status, unsettled: inventoryReservations.unsettled })
      .from(inventoryReservations)
      .where(eq(inventoryReservations.variantId, p.variantId));
    expect(reservations.filter((r) => r.unsettled)).toEqual([]);
    expect(reservations.filter((r) => r.status === "COMMITTED")).toHaveLength(40);
  });

  it("a settling backend terminated mid-statement leaves nothing half done; the next run settles once", {
    timeout: 30_000,
  }, async () => {
    const p = await productWithStock(t.app, store, 10);
    const ready = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 3 }]);
    expect((await checkout(t.app, store, ready.guest.token, { cartId: ready.cartId })).order?.status).toBe(
      "CONFIRMED",
    );
    const settlerSql = postgres(t.app.runtime.databaseUrl, { max: 1, onnotice: () => {} });
    const lock = await holdVariantLock(p.variantId);
    try {
      const [me] = await settlerSql<{ pid: number }[]>`select pg_backend_pid() as pid`;
      const pid = me?.pid ?? 0;
      const attempt = settleSales(
        drizzle(settlerSql),
        { storeId: store.id, variantIds: [p.variantId] },
        new Date(),
      );
      attempt.catch(() => undefined);
      // The settlement has locked the reservation and waits for the variant: kill it there.
      for (const deadline = Date.now() + 10_000; ; ) {
        const [w] = await db().execute<{ waiting: boolean }>(
          sql`select wait_event_type = 'Lock' as waiting from pg_stat_activity where pid = ${pid}`,
        );
        if (w?.waiting) break;
        if (Date.now() > deadline) throw new Error("the settlement never waited for the lock");
        await new Promise((r) => setTimeout(r, 10));
      }
      await db().execute(sql`select pg_terminate_backend(${pid})`);
      await expect(attempt).rejects.toThrow();
    } finally {
      await lock.release();
      await settlerSql.end({ timeout: 5 });
    }
    expect(await counters(p.variantId)).toEqual({ onHand: 10, reserved: 3 });
    expect(await unsettledOf(p.variantId)).toBe(1);
    expect(await settleStock(db())).toBeGreaterThanOrEqual(1);
    expect(await counters(p.variantId)).toEqual({ onHand: 7, reserved: 0 });
    expect((await movementsOf(p.variantId)).map((m) => [m.delta, m.stockAfter])).toEqual([
      [10, 10],
      [-3, 7],
    ]);
  });
});
