/**
 * src/db/sql-compiler.ts builds the same text and parameters as drizzle's own builder, for every kind
 * of node drizzle has: the corpus below covers each case of the compiler (and the test runs check
 * every statement the suite sends, through `verify`).
 */
import { and, asc, desc, eq, gt, inArray, isNull, or, type SQL, sql } from "drizzle-orm";
import { alias, PgDialect, pgMaterializedView, pgView, unique } from "drizzle-orm/pg-core";
import { drizzle } from "drizzle-orm/postgres-js";
import { describe, expect, it } from "vitest";
import * as schema from "../../src/db/schema.js";
import { carts, orderItems, orders, outbox, products, productVariants } from "../../src/db/schema.js";
import { compileSql, useSqlCompiler } from "../../src/db/sql-compiler.js";

const db = drizzle.mock({ schema });
const dialect = new PgDialect();
const at = new Date("2026-12-03T10:00:00.000Z");
const storeId = "00000000-0000-4000-8000-000000000001";

function statements(): [string, SQL][] {
  const v2 = alias(productVariants, "v2");
  const sub = db.select({ id: products.id }).from(products).where(eq(products.storeId, storeId)).as("sub");
  const cte = db.$with("recent").as(db.select().from(orders).where(gt(orders.createdAt, at)));
  const view = pgView("active_products").as((qb) => qb.select().from(products));
  const matView = pgMaterializedView("product_counts").as((qb) =>
    qb.select({ storeId: products.storeId }).from(products),
  );
  void unique;
  return [
    [
      "select with filters",
      db
        .select()
        .from(products)
        .where(and(eq(products.storeId, storeId), isNull(products.description)))
        .orderBy(asc(products.createdAt), desc(products.id))
        .limit(20)
        .getSQL(),
    ],
    [
      "join and alias",
      db
        .select({ a: productVariants.sku, b: v2.sku, n: sql<number>`count(*)`.as("n") })
        .from(productVariants)
        .innerJoin(v2, eq(v2.productId, productVariants.productId))
        .groupBy(productVariants.sku, v2.sku)
        .getSQL(),
    ],
    ["subquery", db.select().from(sub).getSQL()],
    ["with", db.with(cte).select().from(cte).getSQL()],
    [
      "in list and or",
      db
        .select()
        .from(orders)
        .where(or(inArray(orders.status, ["PENDING", "CONFIRMED"]), eq(orders.total, 0)))
        .getSQL(),
    ],
    ["view", db.select().from(view).getSQL()],
    ["materialized view", db.select().from(matView).getSQL()],
    [
      "insert with jsonb, timestamps, defaults, returning",
      db
        .insert(orderItems)
        .values([
          {
            storeId,
            orderId: storeId,
            productId: storeId,
            variantId: storeId,
            productName: "Tee",
            variantTitle: "S",
            sku: "T-S",
            attributes: { Size: "S" },
            customOptions: {},
            unitPrice: 2500,
            quantity: 2,
            lineSubtotal: 5000,
            lineDiscount: 0,
            lineTax: 0,
            total: 5000,
          },
          {
            storeId,
            orderId: storeId,
            productId: storeId,
            variantId: storeId,
            productName: "Tee 'quoted'",
            variantTitle: 'M "x"',
            sku: "T-M",
            attributes: {},
            customOptions: {},
            unitPrice: 2500,
            quantity: 1,
            lineSubtotal: 2500,
            lineDiscount: 100,
            lineTax: 0,
            total: 2400,
          },
        ])
        .returning()
        .getSQL(),
    ],
    [
      "upsert",
      db
        .insert(outbox)
        .values({ storeId, topic: "order.created", key: "k", payload: { at: at.toISOString() } })
        .onConflictDoUpdate({
          target: outbox.id,
          set: { publishedAt: at, claimedBy: sql`excluded.claimed_by` },
        })
        .getSQL(),
    ],
    [
      "update with enum and Date",
      db
        .update(carts)
        .set({ status: "CHECKED_OUT", updatedAt: at, version: sql`${carts.version} + 1` })
        .where(and(eq(carts.storeId, storeId), eq(carts.id, storeId)))
        .returning({ id: carts.id })
        .getSQL(),
    ],
    ["delete", db.delete(outbox).where(gt(outbox.id, 5)).getSQL()],
    [
      "raw, identifier, placeholder, nested builder",
      sql`with w as (${db.update(products).set({ name: "x" }).where(eq(products.id, storeId))}) select ${sql.identifier("w")}.*, ${sql.placeholder("p")}, ${sql.raw("1 + 1")}, ${[1, "two", null]}, ${null}, ${true}, ${at} from w where ${products.status} = ${schema.productStatus}`,
    ],
    ["inline params", sql`select ${"it's"}, ${3}, ${false}, ${null}, ${{ a: 1 }}, ${at} `.inlineParams()],
    ["inline inside", sql`select ${1}, ${sql`${"in'side"}, ${2}`.inlineParams()}, ${"after"}`],
    [
      "aliased field reference",
      sql`select ${sql`lower(${products.name})`.as("lname")} from ${products} order by ${sql.identifier("lname")}`,
    ],
  ];
}

describe("sql-compiler", () => {
  it.each(statements())("builds %s as drizzle does", (_, statement) => {
    const ours = compileSql(dialect, statement);
    const theirs = dialect.sqlToQuery(statement);
    expect(ours.sql).toBe(theirs.sql);
    expect(ours.params).toEqual(theirs.params);
  });

  it("checks every statement against drizzle when asked, and says where they differ", () => {
    const target = { dialect: new PgDialect() };
    // A drizzle that builds something else stands in for a compiler that went wrong.
    target.dialect.sqlToQuery = () => ({ sql: "select 2", params: [] });
    useSqlCompiler(target, { verify: true });
    expect(() => target.dialect.sqlToQuery(sql`select ${1}`)).toThrow(/differs from drizzle/);
  });

  it("is what a database built by createDatabase uses", async () => {
    const { createDatabase } = await import("../../src/db/client.js");
    const database = createDatabase("postgres://nobody@127.0.0.1:1/none");
    const query = database.db.select().from(products).where(eq(products.id, storeId)).toSQL();
    expect(query.sql).toContain('from "products" where "products"."id" = $1');
    const compile = (database.db as unknown as { dialect: PgDialect }).dialect.sqlToQuery;
    expect(compile).not.toBe(PgDialect.prototype.sqlToQuery);
    await database.close();
  });
});
