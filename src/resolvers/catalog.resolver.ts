/** Catalog queries (shoppers and staff) and the staff mutations on products, prices and stock. */
import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import {
  Product,
  ProductConnection,
  ProductCreateInput,
  ProductPayload,
  ProductVariant,
  VariantPayload,
} from "../schema/catalog.types.js";
import { describeOperation } from "../schema/operations.js";
import type { GraphQLContext } from "./context.js";
import { withUserErrors } from "./payload.js";
import { asQueryResult } from "./query-result.js";

@Resolver()
export class CatalogResolver {
  @Query(() => Product, {
    nullable: true,
    description: describeOperation(
      "product",
      "A product of this store by id; null when unknown, malformed, of another store, or not ACTIVE and the " +
        "caller is not staff.",
    ),
  })
  async product(
    @Arg("id", () => ID, { description: "The product's id." }) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Product | null> {
    const row = await ctx.services.catalog.product(ctx, id);
    return row ? Product.from(row) : null;
  }

  @Query(() => ProductConnection, {
    description: describeOperation(
      "products",
      "The store's products, oldest first, each with its variants; only ACTIVE ones unless the caller is " +
        "staff. A `first` outside 0-100, a cursor this server did not issue or a `query` over its length " +
        "limit is a BAD_USER_INPUT GraphQL error (its extensions.userErrors say which argument).",
    ),
  })
  async products(
    @Arg("first", () => Int, {
      nullable: true,
      defaultValue: 20,
      description: "Page size, 0 to 100.",
    })
    first: number | null,
    @Arg("after", () => String, {
      nullable: true,
      description: "A cursor from a previous page (pageInfo.endCursor): the products after it.",
    })
    after: string | null,
    @Arg("query", () => String, {
      nullable: true,
      description: "Only products whose name contains this text, case-insensitively.",
    })
    query: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ProductConnection> {
    const page = await asQueryResult(() => ctx.services.catalog.products(ctx, { first, after, query }));
    // The page came with each product's variants: its products answer `variants` from them, and the
    // loader has them for the same products reached another way (a variant's product).
    for (const [id, variants] of page.variants) ctx.loaders.variantsByProductId.prime(id, variants);
    return ProductConnection.from(page);
  }

  @Query(() => ProductVariant, {
    nullable: true,
    description: describeOperation(
      "variant",
      "A variant of this store by id; null when unknown, malformed, of another store, or its product is not " +
        "ACTIVE and the caller is not staff.",
    ),
  })
  async variant(
    @Arg("id", () => ID, { description: "The variant's id." }) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ProductVariant | null> {
    const row = await ctx.services.catalog.variant(ctx, id);
    return row ? ProductVariant.from(row) : null;
  }

  @Mutation(() => ProductPayload, {
    description: describeOperation(
      "productCreate",
      "Creates a product with its variants (prices in the store's currency, opening stock recorded as a " +
        "stock movement), all or nothing. Every problem comes back at once, each naming its field; a SKU " +
        "already used in the store is INVALID_INPUT on that variant's sku.",
    ),
  })
  async productCreate(
    @Arg("input", () => ProductCreateInput, { description: "The product and its variants." })
    input: ProductCreateInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ProductPayload> {
    const { value, userErrors } = await withUserErrors(() => ctx.services.catalog.createProduct(ctx, input));
    // The new variants are at hand: spare Product.variants a query.
    if (value) ctx.loaders.variantsByProductId.prime(value.product.id, value.variants);
    return Object.assign(new ProductPayload(), {
      product: value ? Product.from(value.product) : null,
      userErrors,
    });
  }

  @Mutation(() => VariantPayload, {
    description: describeOperation(
      "variantPriceUpdate",
      "Sets a variant's own price (it no longer follows the product's base price). Lines already in carts " +
        "keep their captured price; their carts show PRICE_CHANGED warnings and cartPriceChanged subscribers " +
        "are told. Setting the price it already has changes nothing visible.",
    ),
  })
  async variantPriceUpdate(
    @Arg("variantId", () => ID, { description: "The variant." }) variantId: string,
    @Arg("price", () => Int, {
      description: "The new price in minor units of the store currency, 0 to 100,000,000.",
    })
    price: number,
    @Ctx() ctx: GraphQLContext,
  ): Promise<VariantPayload> {
    const { value, userErrors } = await withUserErrors(() =>
      ctx.services.catalog.updateVariantPrice(ctx, { variantId, price }),
    );
    return Object.assign(new VariantPayload(), {
      variant: value ? ProductVariant.from(value) : null,
      userErrors,
    });
  }

  @Mutation(() => VariantPayload, {
    description: describeOperation(
      "inventoryAdjust",
      "Adds units on hand (or, with a negative delta, removes them) and records the movement. Stock never " +
        "drops below what is reserved for pending orders and cart holds (INSUFFICIENT_STOCK says how many can " +
        "go) nor rises above 1,000,000,000. Crossing the low-stock threshold sends a low-stock alert.",
    ),
  })
  async inventoryAdjust(
    @Arg("variantId", () => ID, { description: "The variant." }) variantId: string,
    @Arg("delta", () => Int, {
      description: "Units to add (negative: remove), -1,000,000 to 1,000,000, not 0.",
    })
    delta: number,
    @Arg("reason", () => String, {
      nullable: true,
      description: 'Why, up to 200 characters, kept with the movement (default "manual adjustment").',
    })
    reason: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<VariantPayload> {
    const { value, userErrors } = await withUserErrors(() =>
      ctx.services.catalog.adjustInventory(ctx, { variantId, delta, reason }),
    );
    return Object.assign(new VariantPayload(), {
      variant: value ? ProductVariant.from(value) : null,
      userErrors,
    });
  }
}
