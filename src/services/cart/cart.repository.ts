/** Sellable variants read for pricing and stock checks outside the cart snapshot (saved items, pricing). */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Executor } from "../../db/client.js";
import { products, productVariants } from "../../db/schema.js";

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
