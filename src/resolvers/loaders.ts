/**
 * Per-request DataLoaders. Every field that loads a row goes through one, so a query's statement count
 * does not grow with the number of items it returns. Batch functions are service methods; the catalog
 * ones read where `ctx.reads` allows (the loaders are rebuilt once the operation is known, see
 * server/read-routing.ts).
 */
import DataLoader from "dataloader";
import type { CartRecord } from "../services/cart/cart.types.js";
import { prefetchOf } from "../services/cart/cart-prefetch.js";
import type { CatalogProduct, CatalogVariant } from "../services/catalog.service.js";
import type { ServiceContext } from "../services/context.js";
import type { Services } from "../services/index.js";

export function createLoaders(services: Services, ctx: ServiceContext) {
  return {
    productById: new DataLoader<string, CatalogProduct | null>((ids) =>
      services.catalog.productsByIds(ctx, ids),
    ),
    variantById: new DataLoader<string, CatalogVariant | null>((ids) =>
      services.catalog.variantsByIds(ctx, ids),
    ),
    /** Staff's on hand and reserved, without sold units not yet settled. */
    staffStockByVariantId: new DataLoader((ids: readonly string[]) =>
      services.catalog.staffStockByIds(ctx, ids),
    ),
    variantsByProductId: new DataLoader<string, CatalogVariant[]>((productIds) =>
      services.catalog.variantsByProductIds(ctx, productIds),
    ),
    /** A cart's prices, warnings and codes, computed once per cart version per request. */
    cartPricing: new DataLoader(
      (carts: readonly CartRecord[]) => services.cartPricing.priceMany(ctx.store, carts),
      {
        cacheKeyFn: (cart) => `${cart.id}:${cart.version}`,
      },
    ),
    shippingMethodById: new DataLoader((ids: readonly string[]) =>
      services.shipping.methodsByIds(ctx.store.id, ids),
    ),
    orderLines: new DataLoader((ids: readonly string[]) =>
      services.orders.linesByOrderIds(ctx.store.id, ids),
    ),
    orderHistory: new DataLoader((ids: readonly string[]) =>
      services.orders.historyByOrderIds(ctx.store.id, ids),
    ),
    orderPayments: new DataLoader((ids: readonly string[]) =>
      services.orders.paymentsByOrderIds(ctx.store.id, ids),
    ),
    orderRefunds: new DataLoader((ids: readonly string[]) =>
      services.orders.refundsByOrderIds(ctx.store.id, ids),
    ),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;

/**
 * Hands the loaders the catalog rows a cart was read with, so the cart's `variant { ... product }`
 * fields cost no statement of their own. Rows already loaded in this request are kept.
 */
export function primeFromCart(loaders: Loaders, cart: CartRecord): void {
  const catalog = prefetchOf(cart)?.catalog;
  if (!catalog) return;
  for (const [id, variant] of catalog.variants) loaders.variantById.prime(id, variant);
  for (const [id, product] of catalog.products) loaders.productById.prime(id, product);
}
