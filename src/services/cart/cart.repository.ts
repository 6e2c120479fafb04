/** Reads of carts inside or outside a transaction. Writes live in the use cases (cart.service.ts). */
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { Executor } from "../../db/client.js";
import { cartDiscounts, cartItems, carts, products, productVariants } from "../../db/schema.js";
import type { CartLineRecord, CartRecord } from "./cart.types.js";

type CartRow = typeof carts.$inferSelect;

/** Loads a cart with its lines; `lock` takes the cart row FOR UPDATE (serialises writers of one cart). */
export async function loadCart(
  db: Executor,
  storeId: string,
  cartId: string,
  opts: { lock?: boolean } = {},
): Promise<CartRecord | null> {
  const base = db
    .select()
    .from(carts)
    .where(and(eq(carts.storeId, storeId), eq(carts.id, cartId)));
  const [row] = opts.lock ? await base.for("update") : await base;
  if (!row) return null;
  return withLines(db, row);
}

export async function withLines(db: Executor, row: CartRow): Promise<CartRecord> {
  const [lines, discounts] = await Promise.all([
    db
      .select({
        id: cartItems.id,
        productId: cartItems.productId,
        variantId: cartItems.variantId,
        quantity: cartItems.quantity,
        unitPrice: cartItems.unitPrice,
        customOptions: cartItems.customOptions,
        createdAt: cartItems.createdAt,
      })
      .from(cartItems)
      .where(and(eq(cartItems.storeId, row.storeId), eq(cartItems.cartId, row.id)))
      .orderBy(asc(cartItems.createdAt), asc(cartItems.id)),
    db
      .select({ discountId: cartDiscounts.discountId, appliedAt: cartDiscounts.createdAt })
      .from(cartDiscounts)
      .where(and(eq(cartDiscounts.storeId, row.storeId), eq(cartDiscounts.cartId, row.id)))
      .orderBy(asc(cartDiscounts.createdAt), asc(cartDiscounts.discountId)),
  ]);
  return {
    id: row.id,
    storeId: row.storeId,
    customerId: row.customerId,
    sessionId: row.sessionId,
    email: row.email,
    status: row.status,
    currency: row.currency,
    shippingAddress: row.shippingAddress,
    shippingMethodId: row.shippingMethodId,
    version: row.version,
    mergedIntoCartId: row.mergedIntoCartId,
    notices: row.notices,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    expiresAt: row.expiresAt,
    lines: lines satisfies CartLineRecord[],
    discounts,
  };
}

export interface SellableVariant {
  id: string;
  productId: string;
  sku: string;
  /** price_override, else the product's base price. */
  price: number;
  /** stock_on_hand - reserved. */
  available: number;
  productActive: boolean;
}

/** Variants of this store with their current price and availability, keyed by id. */
export async function loadSellableVariants(
  db: Executor,
  storeId: string,
  variantIds: string[],
): Promise<Map<string, SellableVariant>> {
  if (variantIds.length === 0) return new Map();
  const rows = await db
    .select({
      id: productVariants.id,
      productId: productVariants.productId,
      sku: productVariants.sku,
      price: sql<number>`coalesce(${productVariants.priceOverride}, ${products.basePrice})`,
      available: sql<number>`${productVariants.stockOnHand} - ${productVariants.reserved}`,
      productActive: sql<boolean>`${products.status} = 'ACTIVE'`,
    })
    .from(productVariants)
    .innerJoin(
      products,
      and(eq(products.storeId, productVariants.storeId), eq(products.id, productVariants.productId)),
    )
    .where(and(eq(productVariants.storeId, storeId), inArray(productVariants.id, [...new Set(variantIds)])));
  return new Map(rows.map((r) => [r.id, { ...r, price: Number(r.price), available: Number(r.available) }]));
}
