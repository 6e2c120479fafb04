/**
 * What was read along with a cart (its snapshot, cart-snapshot.ts) and is still true for the record a
 * read or a write returns: the pricing inputs, and the catalog rows of its variants. The pricing
 * service and the GraphQL loaders use it instead of asking the database again; a part that a change
 * made stale is absent and is loaded as before.
 *
 * It rides beside the record (a WeakMap), not in it: records are plain data, and what is attached
 * lives exactly as long as the record.
 */
import type { CatalogProduct, CatalogVariant } from "../catalog.service.js";
import type { SellableVariant } from "./cart.repository.js";
import type { CartRecord } from "./cart.types.js";
import type { DiscountRow, ShippingMethodRow, TaxRateRow } from "./cart-snapshot.js";

export interface CartPrefetch {
  /** Current price and stock of the cart's variants (at least those of its lines). */
  variants?: Map<string, SellableVariant>;
  /** Discount rows of the applied codes. */
  discounts?: Map<string, DiscountRow>;
  /** Redemptions of each applied code by the cart's owner. */
  customerUses?: Map<string, number>;
  /** The selected method's row (null: none selected). */
  shippingMethod?: ShippingMethodRow | null;
  /** Tax rates for the cart's destination. */
  taxRates?: TaxRateRow[];
  /** Catalog rows for the reply's `variant { ... product { ... } }` fields. */
  catalog?: { variants: Map<string, CatalogVariant>; products: Map<string, CatalogProduct> };
}

const attached = new WeakMap<CartRecord, CartPrefetch>();

export function attachPrefetch(cart: CartRecord, prefetch: CartPrefetch): CartRecord {
  attached.set(cart, prefetch);
  return cart;
}

export function prefetchOf(cart: CartRecord): CartPrefetch | undefined {
  return attached.get(cart);
}

/** The pricing view of a catalog variant. */
export function sellableOf(v: CatalogVariant): SellableVariant {
  return {
    id: v.id,
    productId: v.productId,
    sku: v.sku,
    price: v.price,
    available: v.available,
    productActive: v.productStatus === "ACTIVE",
  };
}
