/**
 * Costs that must not grow with the catalog. A cart's read must cost what the cart holds, not what the
 * store sells: the snapshot statement that
 * every cart read and write runs is executed for a 3-line cart before and after its store's catalog
 * grows to 10,000 variants, and the pages it touches are compared. (Its OR of "= any(...)" and
 * "in (the lines' variants)" once read every variant of the store: 6.5 ms of PostgreSQL CPU per cart
 * write at 20,000 variants.)
 */
import { describe, expect, it } from "vitest";
import { CART_SNAPSHOT_READ } from "../../src/services/cart/cart-snapshot.js";
import { productPageStatement } from "../../src/services/catalog.service.js";
import type { StoreRef } from "../../src/services/context.js";
import { createGuest, createProduct, createStore } from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();
const BULK_PRODUCTS = 2_500;
const VARIANTS_EACH = 4;

interface PlanNode {
  "Shared Hit Blocks"?: number;
  "Shared Read Blocks"?: number;
  Plans?: PlanNode[];
}

async function cartWithThreeLines(store: StoreRef) {
  const product = await createProduct(t.app, store, {
    variants: Array.from({ length: 3 }, () => ({ stockOnHand: 50 })),
  });
  const guest = await createGuest(t.app, store);
  const cart = await t.app.runtime.services.carts.create(
    { store, caller: guest.caller, requestId: "scale" },
    { lines: product.variants.map((v) => ({ variantId: v.id, quantity: 1 })) },
  );
  return { cartId: cart.id, alsoVariant: product.variants[0]!.id };
}

/** 2,500 products of 4 variants each in `store`. */
async function growCatalog(store: StoreRef): Promise<void> {
  await t.app.runtime.database.sql`
    with ps as (
      insert into products (store_id, name, description, base_price, currency)
      select ${store.id}::uuid, 'Bulk ' || g, 'A product of a large catalog', 1000, 'USD'
        from generate_series(1, ${BULK_PRODUCTS}::int) g
      returning id)
    insert into product_variants (store_id, product_id, sku, title, stock_on_hand)
    select ${store.id}::uuid, ps.id, 'BULK-' || ps.id || '-' || k, 'Size ' || k, 10
      from ps, generate_series(1, ${VARIANTS_EACH}::int) k`;
}

/** Pages the snapshot statement touches (hit or read) for one cart, from its executed plan. */
async function pagesOfSnapshot(store: StoreRef, cartId: string, alsoVariant: string): Promise<number> {
  const sql = t.app.runtime.database.sql;
  const [row] = await sql.unsafe(`explain (analyze, buffers, format json) ${CART_SNAPSHOT_READ}`, [
    store.id,
    cartId,
    [alsoVariant],
  ] as never[]);
  const plan = (row as unknown as { "QUERY PLAN": [{ Plan: PlanNode }] })["QUERY PLAN"][0].Plan;
  // A node's buffer counts include its children's: the root's are the statement's.
  return (plan["Shared Hit Blocks"] ?? 0) + (plan["Shared Read Blocks"] ?? 0);
}

// First in the file: it needs tables no test has analysed yet.
describe("a cart's reads do not lean on statistics", () => {
  it("touches a few dozen pages in a store of 10,000 variants that nothing has analysed yet", async () => {
    // A catalog imported into a new database, before autovacuum (if it runs at all) analysed it.
    const store = await createStore(t.app);
    const { cartId, alsoVariant } = await cartWithThreeLines(store);
    const smallPages = await pagesOfSnapshot(store, cartId, alsoVariant);
    await growCatalog(store);
    const bigPages = await pagesOfSnapshot(store, cartId, alsoVariant);
    expect(bigPages, `3 variants: ${smallPages} pages; 10,003 variants: ${bigPages}`).toBeLessThanOrEqual(
      Math.max(80, smallPages * 2),
    );
  });
});

describe("cart reads and writes do not grow with the catalog", () => {
  it("touches a few dozen pages in a store of 10,000 variants, as in one of three", async () => {
    const store = await createStore(t.app);
    const { cartId, alsoVariant } = await cartWithThreeLines(store);
    const smallPages = await pagesOfSnapshot(store, cartId, alsoVariant);
    const sql = t.app.runtime.database.sql;
    await growCatalog(store);
    await sql`analyze products`;
    await sql`analyze product_variants`;
    await sql`analyze cart_items`;
    const bigPages = await pagesOfSnapshot(store, cartId, alsoVariant);
    // Index descents are a level deeper in the big catalog (about 40 pages here); reading the
    // store's variants and products was about 300.
    expect(bigPages, `3 variants: ${smallPages} pages; 10,003 variants: ${bigPages}`).toBeLessThanOrEqual(
      Math.max(80, smallPages * 2),
    );
  });
});

describe("the products page has a good generic plan for every filter", () => {
  it("reads a page of a 2,500-product catalog from the listing index, whatever plan PostgreSQL caches", async () => {
    const store = await createStore(t.app);
    const sql = t.app.runtime.database.sql;
    await sql`
      insert into products (store_id, name, description, base_price, currency)
      select ${store.id}::uuid, 'Bulk ' || g, 'A product of a large catalog', 1000, 'USD'
        from generate_series(1, ${BULK_PRODUCTS}::int) g`;
    await sql`analyze products`;
    const [first] = await sql<{ created_at: string; id: string }[]>`
      select created_at::text as created_at, id from products where store_id = ${store.id} order by created_at, id limit 1`;
    // A generic plan is what a named statement may run on after five executions (plan_cache_mode
    // auto); forced here, in a transaction of its own, for each text the page can send.
    for (const cursor of [false, true]) {
      for (const search of [false, true]) {
        const text = productPageStatement({ staff: false, cursor, search });
        const params: unknown[] = [store.id];
        if (cursor) params.push(first!.created_at, first!.id);
        if (search) params.push("%bulk 1%");
        params.push(21);
        const plan = await sql.begin(async (tx) => {
          await tx`set local plan_cache_mode = force_generic_plan`;
          const explain = async () => {
            const [row] = await tx.unsafe(
              `explain (analyze, buffers, format json) ${text}`,
              params as never[],
            );
            return (row as unknown as { "QUERY PLAN": [{ Plan: PlanNode }] })["QUERY PLAN"][0].Plan;
          };
          // The second run's pages: the first also counts the catalog pages a fresh session reads to
          // look up the output functions of the columns it turns into JSON (up to ~15, seen to push a
          // good plan past the bound below), which say nothing about the plan.
          await explain();
          return explain();
        });
        const pages = (plan["Shared Hit Blocks"] ?? 0) + (plan["Shared Read Blocks"] ?? 0);
        // The listing index gives the page in order: a few dozen pages (a scan and sort read about
        // a hundred, all the store's products).
        expect(JSON.stringify(plan), `cursor ${cursor}, search ${search}: ${pages} pages`).toContain(
          "products_store_listing_idx",
        );
        if (!search) expect(pages, `cursor ${cursor}: pages`).toBeLessThan(80);
      }
    }
  });
});
