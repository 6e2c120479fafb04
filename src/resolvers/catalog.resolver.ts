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
import type { GraphQLContext } from "./context.js";
import { withUserErrors } from "./payload.js";
import { asQueryResult } from "./query-result.js";

@Resolver()
export class CatalogResolver {
  @Query(() => Product, { nullable: true, description: "A product; null when unknown or not visible." })
  async product(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Product | null> {
    const row = await ctx.services.catalog.product(ctx, id);
    return row ? Product.from(row) : null;
  }

  @Query(() => ProductConnection, { description: "Products in creation order; `query` searches names." })
  async products(
    @Arg("first", () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Arg("query", () => String, { nullable: true }) query: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ProductConnection> {
    const page = await asQueryResult(() => ctx.services.catalog.products(ctx, { first, after, query }));
    // The page came with each product's variants: Product.variants needs no statement of its own.
    for (const [id, variants] of page.variants) ctx.loaders.variantsByProductId.prime(id, variants);
    return ProductConnection.from(page);
  }

  @Query(() => ProductVariant, {
    nullable: true,
    description: "A variant; null when unknown or not visible.",
  })
  async variant(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<ProductVariant | null> {
    const row = await ctx.services.catalog.variant(ctx, id);
    return row ? ProductVariant.from(row) : null;
  }

  @Mutation(() => ProductPayload, {
    description: "Staff: a new product with its variants, prices and stock.",
  })
  async productCreate(
    @Arg("input", () => ProductCreateInput) input: ProductCreateInput,
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

  @Mutation(() => VariantPayload, { description: "Staff: sets a variant's own price (minor units)." })
  async variantPriceUpdate(
    @Arg("variantId", () => ID) variantId: string,
    @Arg("price", () => Int) price: number,
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

  @Mutation(() => VariantPayload, { description: "Staff: adds (or, negative, removes) units on hand." })
  async inventoryAdjust(
    @Arg("variantId", () => ID) variantId: string,
    @Arg("delta", () => Int) delta: number,
    @Arg("reason", () => String, { nullable: true }) reason: string | null,
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
