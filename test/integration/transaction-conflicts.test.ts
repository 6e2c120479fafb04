/**
 * Transactions PostgreSQL ends to break a deadlock are run again (src/db/conflict-retry.ts), so a
 * checkout chosen as a deadlock's victim still answers with its order. Every deadlock here is real:
 * two sessions locking in crossed order, staged so that PostgreSQL picks the transaction under test as
 * the victim (the staging session waits with a long deadlock_timeout, so the other one's check runs
 * first and finds the cycle).
 */
import { eq, sql } from "drizzle-orm";
import type postgres from "postgres";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { retryConflicts } from "../../src/db/conflict-retry.js";
import { orders, productVariants } from "../../src/db/schema.js";
import { isConflict } from "../../src/db/sql-state.js";
import type { StoreRef } from "../../src/services/context.js";
import {
  checkout,
  productWithStock,
  readyCart,
  type ShopSetup,
  shop,
  testGateway,
} from "../support/checkout-fixtures.js";
import { createStore } from "../support/fixtures.js";
import { settleStock } from "../support/settle.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();
let store: StoreRef;
let setup: ShopSetup;

beforeAll(async () => {
  store = await createStore(t.app);
  setup = await shop(t.app, store, { taxBps: 0 });
});

afterEach(() => {
  testGateway(t.app).latencyMs = 0;
});

const raw = () => t.app.runtime.database.sql as unknown as postgres.Sql;

/** Polls until some session of this database waits for a lock while running a statement like `pattern`. */
async function lockWaitOf(pattern: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const rows = await raw()`
      select pid from pg_stat_activity
       where datname = current_database() and wait_event_type = 'Lock' and query like ${pattern}`;
    if (rows.length > 0) return;
    if (Date.now() > deadline) throw new Error(`no session waits for a lock in ${pattern}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A guest's cart ready to pay for one unit each of 3 variants with 10 in stock; `last` is locked last. */
async function threeLineCart() {
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await productWithStock(t.app, store, 10)).variantId);
  // Variants are locked in ascending id order.
  ids.sort();
  const ready = await readyCart(
    t.app,
    setup,
    ids.map((variantId) => ({ variantId, quantity: 1 })),
  );
  return { ready, last: ids[2] as string };
}

async function stockOf(variantId: string) {
  await settleStock(t.app.runtime.database.db);
  return t.app.runtime.database.db
    .select({ onHand: productVariants.stockOnHand, reserved: productVariants.reserved })
    .from(productVariants)
    .where(eq(productVariants.id, variantId));
}

describe("transactions ended by a deadlock", () => {
  it("run again until they commit; other errors are not retried", { timeout: 30_000 }, async () => {
    const { db } = t.app.runtime.database;
    await db.execute(sql`create table if not exists conflict_probe (id int primary key, n int not null)`);
    await db.execute(
      sql`insert into conflict_probe values (1, 0), (2, 0) on conflict (id) do update set n = 0`,
    );
    let attempts = 0;
    // Each locks one row, waits until both hold one, then asks for the other's: a real deadlock.
    let holding = 0;
    const bothHold = () =>
      new Promise<void>((resolve) => {
        const check = () => (holding >= 2 ? resolve() : setTimeout(check, 5));
        check();
      });
    const crossing = (first: number, second: number) =>
      retryConflicts(() =>
        db.transaction(async (tx) => {
          attempts++;
          await tx.execute(sql`update conflict_probe set n = n + 1 where id = ${first}`);
          holding++;
          await bothHold();
          await tx.execute(sql`update conflict_probe set n = n + 1 where id = ${second}`);
        }),
      );
    await Promise.all([crossing(1, 2), crossing(2, 1)]);
    // One of the two was the victim and ran again: both increments of both rows are there, once.
    expect(attempts).toBe(3);
    const rows = await db.execute<{ id: number; n: number }>(
      sql`select id, n from conflict_probe order by id`,
    );
    expect(rows.map((r) => [r.id, r.n])).toEqual([
      [1, 2],
      [2, 2],
    ]);

    let runs = 0;
    await expect(
      retryConflicts(async () => {
        runs++;
        await db.execute(sql`select 1 / 0`);
      }),
    ).rejects.toThrow();
    expect(runs).toBe(1);
    await db.execute(sql`drop table conflict_probe`);
  });

  it("a checkout whose order-placing transaction is the victim still places and confirms its order", {
    timeout: 30_000,
  }, async () => {
    const { ready, last } = await threeLineCart();
    let answer: Promise<Awaited<ReturnType<typeof checkout>>> | undefined;
    await raw().begin(async (tx) => {
      await tx`set local deadlock_timeout = '10s'`;
      await tx`select id from product_variants where id = ${last} for no key update`;
      // The checkout locks its cart, then its variants in id order, and waits here for the last.
      answer = checkout(t.app, store, ready.guest.token, { cartId: ready.cartId });
      answer.catch(() => undefined);
      await lockWaitOf("%for no key update of v%");
      // The cart's lock closes the cycle; the checkout's backend finds it first and is ended.
      await tx`select id from carts where id = ${ready.cartId} for update`;
    });
    const result = await answer;
    expect(result?.userErrors).toEqual([]);
    expect(result?.order?.status).toBe("CONFIRMED");
    expect(await stockOf(last)).toEqual([{ onHand: 9, reserved: 0 }]);
  });

  it("a checkout whose confirming transaction is the victim, after the capture, still answers CONFIRMED", {
    timeout: 30_000,
  }, async () => {
    const { ready, last } = await threeLineCart();
    // Authorisation and capture each take a while: time to lock a variant between T1 and T2.
    testGateway(t.app).latencyMs = 700;
    const answer = checkout(t.app, store, ready.guest.token, { cartId: ready.cartId });
    answer.catch(() => undefined);
    const { db } = t.app.runtime.database;
    let orderId: string | undefined;
    for (const deadline = Date.now() + 10_000; !orderId; ) {
      const [row] = await db.select({ id: orders.id }).from(orders).where(eq(orders.cartId, ready.cartId));
      orderId = row?.id;
      if (Date.now() > deadline) throw new Error("the order was not placed");
      if (!orderId) await new Promise((r) => setTimeout(r, 10));
    }
    await raw().begin(async (tx) => {
      await tx`set local deadlock_timeout = '10s'`;
      await tx`select id from inventory_reservations where order_id = ${orderId as string} and variant_id = ${last} for update`;
      // T2 takes the order's row, then its reservations (no variant: the sale settles later), and waits here.
      await lockWaitOf("%flipped as%");
      await tx`select id from orders where id = ${orderId as string} for update`;
    });
    const result = await answer;
    expect(result.userErrors).toEqual([]);
    expect(result.order?.status).toBe("CONFIRMED");
    expect(result.order?.paymentStatus).toBe("CAPTURED");
    expect(await stockOf(last)).toEqual([{ onHand: 9, reserved: 0 }]);
  });

  it("are told apart from other failures by their SQLSTATE, also wrapped", () => {
    const deadlock = Object.assign(new Error("deadlock detected"), { code: "40P01" });
    expect(isConflict(new Error("Failed query", { cause: deadlock }))).toBe(true);
    expect(isConflict(Object.assign(new Error("x"), { code: "40001" }))).toBe(true);
    expect(isConflict(Object.assign(new Error("x"), { code: "23505" }))).toBe(false);
  });
});
