/**
 * Rows read as JSON arrays of values (jsonValuesOf / rowFromJsonValues, what the products page and the
 * cart snapshot select) are the rows drizzle reads: same keys, same values, timestamps as the same
 * Dates, jsonb as the same objects, nulls as null. Compared on real rows, with awkward values in them
 * (quotes, unicode, a null price override, sub-millisecond timestamps, nested jsonb).
 */
import { getTableName, sql, type Table } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { jsonValuesOf, rowFromJsonValues } from "../../src/db/json-rows.js";
import { cartItems, products, productVariants } from "../../src/db/schema.js";
import { createGuest, createProduct, createStore } from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();

describe("rows as JSON arrays of values", () => {
  it("are the rows drizzle reads, for products, variants and cart lines", async () => {
    const store = await createStore(t.app);
    const product = await createProduct(t.app, store, {
      name: `Tee "quoted" ü ✓ ${"x".repeat(3)}`,
      description: null,
      variants: [
        { stockOnHand: 3, attributes: { Size: "M", Note: 'a "b" \\ c' } },
        { stockOnHand: 5, price: 1999, attributes: {} },
      ],
    });
    const guest = await createGuest(t.app, store);
    await t.app.runtime.services.carts.create(
      { store, caller: guest.caller, requestId: "json-rows" },
      { lines: product.variants.map((v) => ({ variantId: v.id, quantity: 2 })) },
    );
    const { db, sql: raw } = t.app.runtime.database;
    // Sub-millisecond parts, which both readings must cut the same way.
    await db.execute(
      sql`update product_variants set updated_at = updated_at + interval '123 microseconds' where store_id = ${store.id}`,
    );

    const tables: [Table, string][] = [
      [products, "t"],
      [productVariants, "t"],
      [cartItems, "t"],
    ];
    for (const [table, alias] of tables) {
      const name = getTableName(table);
      const expected = await db.select().from(table).where(sql`store_id = ${store.id}`).orderBy(sql`id`);
      const rows = (await raw.unsafe(
        `select ${jsonValuesOf(table, alias)} as v from ${name} ${alias} where ${alias}.store_id = $1 order by ${alias}.id`,
        [store.id],
      )) as unknown as { v: unknown[] }[];
      expect(rows.length, name).toBe(expected.length);
      expect(rows.length, name).toBeGreaterThan(0);
      expect(
        rows.map((r) => rowFromJsonValues(table, r.v)),
        name,
      ).toEqual(expected);
    }
  });

  it("refuses an array that does not match the table's columns", () => {
    expect(() => rowFromJsonValues(products, ["only one value"])).toThrow(/1 values for \d+ columns/);
  });
});
