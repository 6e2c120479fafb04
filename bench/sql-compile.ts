/**
 * CPU to build one statement's text: drizzle's own builder against src/db/sql-compiler.ts, on a
 * statement shaped like checkout's T1 write (the order and its payment inserted with RETURNING, three
 * lines, three holds, the history row, the cart's move and two events, as writeOutboxMany sends it)
 * and on a cart write's single update. In-process, no database. Usage:
 *   node --import tsx bench/sql-compile.ts [--rounds 20000]
 */
import { parseArgs } from "node:util";
import { and, eq, type SQL, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { drizzle } from "drizzle-orm/postgres-js";
import * as schema from "../src/db/schema.js";
import {
  carts,
  inventoryReservations,
  orderItems,
  orderStatusHistory,
  orders,
  outbox,
  payments,
} from "../src/db/schema.js";
import { compileSql } from "../src/db/sql-compiler.js";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "20000" } } });
const rounds = Number(values.rounds);
const db = drizzle.mock({ schema });
const dialect = new PgDialect();
const id = "00000000-0000-4000-8000-000000000001";
const now = new Date("2026-12-03T12:00:00.000Z");
const address = {
  firstName: "Ada",
  lastName: "Byron",
  line1: "1 Main St",
  city: "Springfield",
  region: "IL",
  postalCode: "62701",
  country: "US",
};

function checkoutWrite(): SQL {
  const order = db
    .insert(orders)
    .values({
      id,
      storeId: id,
      number: "1001",
      customerId: null,
      sessionId: "s",
      email: "a@example.com",
      cartId: id,
      status: "PENDING",
      paymentStatus: "PENDING",
      subtotal: 7500,
      discount: 0,
      shipping: 500,
      shippingTax: 0,
      tax: 600,
      total: 8600,
      currency: "USD",
      shippingAddress: address,
      billingAddress: address,
      shippingMethodId: id,
      idempotencyKey: "k",
      requestHash: "h",
      clientIp: "127.0.0.1",
      sagaLeaseUntil: now,
      reservationExpiresAt: now,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  const lines = [1, 2, 3];
  const items = db.insert(orderItems).values(
    lines.map((n) => ({
      storeId: id,
      orderId: id,
      productId: id,
      variantId: id,
      productName: `Tee ${n}`,
      variantTitle: "M",
      sku: `T-${n}`,
      attributes: { Size: "M" },
      customOptions: {},
      unitPrice: 2500,
      quantity: 1,
      lineSubtotal: 2500,
      lineDiscount: 0,
      lineTax: 200,
      total: 2700,
    })),
  );
  const holds = db.insert(inventoryReservations).values(
    lines.map(() => ({
      storeId: id,
      orderId: id,
      variantId: id,
      quantity: 1,
      status: "ACTIVE" as const,
      expiresAt: now,
    })),
  );
  const history = db.insert(orderStatusHistory).values({
    storeId: id,
    orderId: id,
    fromStatus: null,
    toStatus: "PENDING",
    actor: "guest",
    reason: "checkout",
    at: now,
  });
  const cart = db
    .update(carts)
    .set({ status: "CHECKED_OUT", updatedAt: now, version: sql`${carts.version} + 1` })
    .where(and(eq(carts.storeId, id), eq(carts.id, id)));
  const payment = db
    .insert(payments)
    .values({
      storeId: id,
      orderId: id,
      gateway: "test",
      amount: 8600,
      currency: "USD",
      status: "PENDING",
      paymentMethod: "pm",
      idempotencyKey: "p",
    })
    .returning();
  const events = [1, 2].map(
    (n) =>
      sql`(${id}::uuid, ${"order.created"}, ${id}, ${JSON.stringify({ n, at: now.toISOString() })}::jsonb)`,
  );
  const ctes = [items, holds, history, cart].map(
    (q, i) => sql`${sql.raw(`alongside_${i}`)} as (${q.getSQL()})`,
  );
  [order, payment].forEach((q, i) => {
    ctes.push(sql`${sql.raw(`returned_${i}`)} as (${q.getSQL()})`);
  });
  ctes.push(
    sql`written as (insert into ${outbox} (store_id, topic, key, payload) values ${sql.join(events, sql`, `)} returning id)`,
  );
  return sql`with ${sql.join(ctes, sql`, `)} select json_build_array((select to_json(r) from returned_0 r limit 1), (select to_json(r) from returned_1 r limit 1)) as rows, (select pg_notify(${"cartograph_outbox"}, '') from written limit 1) as notified`;
}

const cartUpdate = (): SQL =>
  db
    .update(carts)
    .set({ version: sql`${carts.version} + 1`, updatedAt: now, email: "a@example.com" })
    .where(and(eq(carts.storeId, id), eq(carts.id, id), eq(carts.version, 3)))
    .getSQL();

function time(label: string, build: () => SQL, compile: (s: SQL) => unknown): number {
  const statements = Array.from({ length: 200 }, build);
  for (let i = 0; i < 2000; i++) compile(statements[i % 200] as SQL);
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) compile(statements[i % 200] as SQL);
  const us = Number(process.hrtime.bigint() - start) / rounds / 1000;
  console.log(`${label.padEnd(44)} ${us.toFixed(1).padStart(7)} µs`);
  return us;
}

for (const [name, build] of [
  ["checkout T1 write", checkoutWrite],
  ["cart update", cartUpdate],
] as const) {
  const text = dialect.sqlToQuery(build());
  console.log(`${name}: ${text.sql.length} characters, ${text.params.length} parameters`);
  const theirs = time(`  drizzle (PgDialect.sqlToQuery)`, build, (s) => dialect.sqlToQuery(s));
  const ours = time(`  sql-compiler.ts`, build, (s) => compileSql(dialect, s));
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds / 4; i++) build();
  const treeUs = Number(process.hrtime.bigint() - start) / (rounds / 4) / 1000;
  console.log(`${"  building the tree (both pay it)".padEnd(44)} ${treeUs.toFixed(1).padStart(7)} µs`);
  console.log(`  ratio ${(theirs / ours).toFixed(1)}x`);
}
