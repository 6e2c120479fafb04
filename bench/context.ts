/**
 * What every scenario of one run shares: the target, the settings, one staff token and the split of
 * the catalog between scenarios (so that no scenario's stock or price changes reach another's carts).
 */
import { GraphQLClient } from "./graphql-client.js";
import type { BenchOptions } from "./options.js";
import { type CatalogVariant, catalogVariants, staffToken } from "./shop-api.js";

export interface BenchVariants {
  /** add-to-cart rotates through these (their stock is raised to a line's maximum). */
  add: CatalogVariant[];
  /** read-cart's carts hold one of each. */
  read: CatalogVariant[];
  /** checkout, shopper and the pgbench checkout ceiling draw 3 lines from these. */
  checkout: CatalogVariant[];
  /** flash-sale's one variant (stock set to --flash-stock). */
  flash: CatalogVariant;
  /** subscriptions (cart-price feed): its price changes. */
  subscription: CatalogVariant;
}

export function allocateVariants(all: CatalogVariant[], opts: BenchOptions): BenchVariants {
  const shared = Math.max(opts.addVariants, opts.cartLines);
  const needed = shared + opts.checkoutVariants + 2;
  if (all.length < needed) {
    throw new Error(
      `the store has ${all.length} variants of active products; the bench needs ${needed} ` +
        "(--add-variants / --cart-lines, then --checkout-variants, then one for flash-sale and one for subscriptions)",
    );
  }
  return {
    add: all.slice(0, opts.addVariants),
    read: all.slice(0, opts.cartLines),
    checkout: all.slice(shared, shared + opts.checkoutVariants),
    flash: all[all.length - 1]!,
    subscription: all[all.length - 2]!,
  };
}

export class BenchContext {
  readonly client: GraphQLClient;
  private staff?: Promise<string>;
  private variantSplit?: Promise<BenchVariants>;

  constructor(
    readonly url: string,
    readonly opts: BenchOptions,
    sockets: number,
  ) {
    this.client = new GraphQLClient({ url, store: opts.store, sockets });
  }

  /** A client with its own pool of `sockets` keep-alive connections (close it when done). */
  newClient(sockets: number): GraphQLClient {
    return new GraphQLClient({ url: this.url, store: this.opts.store, sockets });
  }

  staffToken(): Promise<string> {
    this.staff ??= staffToken(this.client, this.opts.staffEmail, this.opts.staffPassword);
    return this.staff;
  }

  variants(): Promise<BenchVariants> {
    this.variantSplit ??= this.staffToken().then(async (staff) =>
      allocateVariants(await catalogVariants(this.client, staff), this.opts),
    );
    return this.variantSplit;
  }

  close(): void {
    this.client.close();
  }
}
