/**
 * One statement that reads everything a cart write or a cart read needs: the cart row (locked for a
 * write), its lines and applied codes (with the discount rows and how often the cart's owner used
 * each), the variants of its lines and of the variants about to be added (with their products), its
 * shipping method and the tax rates of its destination. A write then needs only its change and the
 * cart's version bump; the reply and its prices are built from this, without reading again.
 *
 * Locking and reading in one statement has one catch, in READ COMMITTED: when the cart row is locked by
 * another writer, the statement waits, then sees that writer's version of the cart row but, in its
 * subqueries, the lines and codes as they were before that writer committed (the statement's snapshot
 * is older than the row it locked). The `seen_version` column is the cart version as the snapshot saw
 * it: when it differs from the locked row's, the statement runs again, now holding the lock, with a
 * snapshot that sees the other writer's commit. So the retry happens only under contention.
 */

import { jsonValueIndex, jsonValuesOf, rowFromJson, rowFromJsonValues } from "../../db/json-rows.js";
import type { RawSql } from "../../db/raw-sql.js";
import {
  cartDiscounts,
  cartItems,
  carts,
  discounts,
  orderNumbers,
  products,
  productVariants,
  shippingMethods,
} from "../../db/schema.js";
import { type CatalogProduct, type CatalogVariant, catalogVariantOf } from "../catalog.service.js";
import { type CartRecord, cartRecordOf } from "./cart.types.js";

export type DiscountRow = typeof discounts.$inferSelect;
export type ShippingMethodRow = typeof shippingMethods.$inferSelect;
export interface TaxRateRow {
  country: string;
  region: string;
  rateBps: number;
}

export interface CartSnapshot {
  cart: CartRecord;
  /** Variants of the cart's lines and of `alsoVariants`, whatever their product's status. */
  variants: Map<string, CatalogVariant>;
  products: Map<string, CatalogProduct>;
  /** The applied codes' discount rows, by discount id. */
  discounts: Map<string, DiscountRow>;
  /** APPLIED redemptions of each applied code by this cart's owner (customer, else email). */
  customerUses: Map<string, number>;
  shippingMethod: ShippingMethodRow | null;
  /** Rates of the destination's country; null when the cart has no address. */
  taxRates: TaxRateRow[] | null;
  /** The number of the order this cart is becoming (a snapshot taken with `forOrder`). */
  orderNumber?: string;
}

/*
 * The variants are looked up one by one from the ids the cart names (`offset 0` keeps PostgreSQL from
 * flattening the lookups into a join). Planned as a join, a store of a few dozen variants had it scan
 * every variant of the store, analysed or not, to keep the few it wanted: the statement took 0.60 ms
 * (median, pgbench, a 3-line cart of an 84-variant store) where the lookups take 0.50. Large catalogs
 * were planned well either way (catalog-scale.test.ts).
 *
 * The owner rule of the per-customer limit (ownerKey in cart-pricing.service.ts: the customer, else the
 * email) spelled for one cart: a redemption counts when it is the customer's, or, for a guest cart, when
 * it was made without an account under the cart's email.
 */
const COLUMNS = `
to_json(c) as cart,
  (select s.version from carts s where s.store_id = c.store_id and s.id = c.id) as seen_version,
  (select coalesce(json_agg(${jsonValuesOf(cartItems, "i")} order by i.created_at, i.id), '[]')
     from cart_items i where i.store_id = c.store_id and i.cart_id = c.id) as lines,
  (select coalesce(json_agg(json_build_array(to_json(cd), to_json(d),
       (select count(*) from discount_redemptions r
         where r.store_id = cd.store_id and r.discount_id = cd.discount_id and r.status = 'APPLIED'
           and (r.customer_id = c.customer_id
                or (c.customer_id is null and r.customer_id is null and r.email = c.email))))
       order by cd.created_at, cd.discount_id), '[]')
     from cart_discounts cd join discounts d on d.store_id = cd.store_id and d.id = cd.discount_id
     where cd.store_id = c.store_id and cd.cart_id = c.id) as codes,
  (select coalesce(json_agg(json_build_array(${jsonValuesOf(productVariants, "v")}, ${jsonValuesOf(products, "p")})), '[]')
     from (select unnest($3::uuid[]) as id
           union select i.variant_id from cart_items i where i.store_id = c.store_id and i.cart_id = c.id) w
     cross join lateral (select * from product_variants v
                          where v.store_id = c.store_id and v.id = w.id offset 0) v
     cross join lateral (select * from products p
                          where p.store_id = c.store_id and p.id = v.product_id offset 0) p
  ) as variants,
  (select to_json(m) from shipping_methods m
     where m.store_id = c.store_id and m.id = c.shipping_method_id) as method,
  case when c.shipping_address is not null then
    (select coalesce(json_agg(json_build_array(t.country, t.region, t.rate_bps)), '[]') from tax_rates t
      where t.store_id = c.store_id and t.country = upper(c.shipping_address->>'country'))
  end as tax_rates`;
const SELECT = `select ${COLUMNS} from carts c`;

const READ = `${SELECT} where c.store_id = $1 and c.id = $2`;
/** The read of one cart ($1 store, $2 cart, $3 variants also wanted), for tests of its plan. */
export const CART_SNAPSHOT_READ = READ;
const LOCK = `${READ} for update of c`;
/**
 * The lock of a cart about to become an order, which also draws the order's number (a number drawn by
 * a checkout that then fails is skipped, as with any sequence).
 */
const LOCK_FOR_ORDER = `select nextval('${orderNumbers.seqName}')::text as order_number, ${COLUMNS}
from carts c where c.store_id = $1 and c.id = $2 for update of c`;
/** Several carts of one store at once (no lock): $2 is their ids. */
const READ_MANY = `${SELECT} where c.store_id = $1 and c.id = any($2::uuid[])`;

type Json = Record<string, unknown>;
interface SnapshotRow {
  order_number?: string;
  cart: Json;
  seen_version: number;
  lines: unknown[][];
  codes: [Json, Json, number][];
  variants: [unknown[], unknown[]][];
  method: Json | null;
  tax_rates: [string, string, number][] | null;
}

/**
 * The cart's snapshot, or null if this store has no such cart. `lock` takes the cart row FOR UPDATE
 * (a write: concurrent writers of one cart queue here). `alsoVariants`: variants the change is about
 * to add, read in the same statement. `forOrder` (with `lock`): the cart is becoming an order, whose
 * number is drawn in the same statement.
 */
export async function loadCartSnapshot(
  q: RawSql,
  storeId: string,
  cartId: string,
  opts: { lock?: boolean; alsoVariants?: readonly string[]; forOrder?: boolean } = {},
): Promise<CartSnapshot | null> {
  const params = [storeId, cartId, opts.alsoVariants ?? []];
  const text = opts.lock ? (opts.forOrder ? LOCK_FOR_ORDER : LOCK) : READ;
  let [row] = (await q.unsafe(text, params as never[])) as unknown as SnapshotRow[];
  if (row && opts.lock && row.seen_version !== (row.cart.version as number)) {
    // Waited for another writer: read again under the lock we now hold (see the top of this file).
    [row] = (await q.unsafe(text, params as never[])) as unknown as SnapshotRow[];
  }
  return row ? toSnapshot(row) : null;
}

/** Snapshots of several carts of one store, by id (missing ones are absent), in one statement. */
export async function loadCartSnapshots(
  q: RawSql,
  storeId: string,
  cartIds: readonly string[],
): Promise<Map<string, CartSnapshot>> {
  if (cartIds.length === 0) return new Map();
  const rows = (await q.unsafe(READ_MANY, [
    storeId,
    [...cartIds],
    [],
  ] as never[])) as unknown as SnapshotRow[];
  return new Map(rows.map((row) => [row.cart.id as string, toSnapshot(row)]));
}

const PRODUCT_ID = jsonValueIndex(products, "id");

function toSnapshot(row: SnapshotRow): CartSnapshot {
  const cart = rowFromJson(carts, row.cart);
  const productsById = new Map<string, CatalogProduct>();
  const variants = new Map<string, CatalogVariant>();
  for (const [v, p] of row.variants) {
    const product = productsById.get(p[PRODUCT_ID] as string) ?? rowFromJsonValues(products, p);
    productsById.set(product.id, product);
    const variant = catalogVariantOf(rowFromJsonValues(productVariants, v), product);
    variants.set(variant.id, variant);
  }
  const discountsById = new Map<string, DiscountRow>();
  const customerUses = new Map<string, number>();
  const applied: CartRecord["discounts"] = [];
  for (const [cd, d, uses] of row.codes) {
    const code = rowFromJson(cartDiscounts, cd);
    discountsById.set(code.discountId, rowFromJson(discounts, d));
    customerUses.set(code.discountId, Number(uses));
    applied.push({ discountId: code.discountId, appliedAt: code.createdAt });
  }
  return {
    cart: cartRecordOf(
      cart,
      row.lines.map((values) => {
        const l = rowFromJsonValues(cartItems, values);
        return {
          id: l.id,
          productId: l.productId,
          variantId: l.variantId,
          quantity: l.quantity,
          unitPrice: l.unitPrice,
          customOptions: l.customOptions,
          createdAt: l.createdAt,
        };
      }),
      applied,
    ),
    variants,
    products: productsById,
    discounts: discountsById,
    customerUses,
    shippingMethod: row.method ? rowFromJson(shippingMethods, row.method) : null,
    taxRates: row.tax_rates
      ? row.tax_rates.map(([country, region, rateBps]) => ({ country, region, rateBps }))
      : null,
    ...(row.order_number === undefined ? {} : { orderNumber: row.order_number }),
  };
}
