/**
 * Fields of Product and ProductVariant that load rows: through the per-request DataLoaders, unless the
 * rows came with the product (a products page).
 */
import { Ctx, FieldResolver, Int, Resolver, Root } from "type-graphql";
import { PriceRange, Product, ProductVariant } from "../schema/catalog.types.js";
import { type CatalogVariant, priceRangeOf } from "../services/catalog.service.js";
import { isStaff } from "../services/context.js";
import type { GraphQLContext } from "./context.js";

@Resolver(() => Product)
export class ProductFieldsResolver {
  @FieldResolver(() => [ProductVariant], {
    description: "The product's variants, in the order they were created.",
  })
  variants(
    @Root() product: Product,
    @Ctx() ctx: GraphQLContext,
  ): ProductVariant[] | Promise<ProductVariant[]> {
    const known = product.variantRows;
    if (known) return known.map((v) => ProductVariant.from(v));
    return ctx.loaders.variantsByProductId
      .load(product.id)
      .then((rows) => rows.map((v) => ProductVariant.from(v)));
  }

  @FieldResolver(() => PriceRange, { description: "The lowest and highest price among its variants." })
  priceRange(@Root() product: Product, @Ctx() ctx: GraphQLContext): PriceRange | Promise<PriceRange> {
    const rangeOf = (rows: CatalogVariant[]) =>
      PriceRange.of(priceRangeOf(product.record, rows), product.record.currency);
    const known = product.variantRows;
    if (known) return rangeOf(known);
    return ctx.loaders.variantsByProductId.load(product.id).then(rangeOf);
  }
}

@Resolver(() => ProductVariant)
export class ProductVariantFieldsResolver {
  @FieldResolver(() => Product, { description: "The product this variant belongs to." })
  async product(@Root() variant: ProductVariant, @Ctx() ctx: GraphQLContext): Promise<Product> {
    const row = await ctx.loaders.productById.load(variant.record.productId);
    // The composite foreign key makes this impossible; say so loudly if it ever happens.
    if (!row) throw new Error(`product ${variant.record.productId} of variant ${variant.id} not found`);
    return Product.from(row);
  }

  @FieldResolver(() => Int, { nullable: true, description: "Units on hand. Staff only: null for others." })
  async stockOnHand(@Root() variant: ProductVariant, @Ctx() ctx: GraphQLContext): Promise<number | null> {
    if (!isStaff(ctx.caller)) return null;
    return (
      (await ctx.loaders.staffStockByVariantId.load(variant.id))?.stockOnHand ?? variant.record.stockOnHand
    );
  }

  @FieldResolver(() => Int, {
    nullable: true,
    description: "Units reserved for pending orders and cart holds. Staff only: null for others.",
  })
  async reserved(@Root() variant: ProductVariant, @Ctx() ctx: GraphQLContext): Promise<number | null> {
    if (!isStaff(ctx.caller)) return null;
    return (await ctx.loaders.staffStockByVariantId.load(variant.id))?.reserved ?? variant.record.reserved;
  }

  @FieldResolver(() => Boolean, {
    nullable: true,
    description: "Sellable units are at or below the low-stock threshold. Staff only: null for others.",
  })
  lowStock(@Root() variant: ProductVariant, @Ctx() ctx: GraphQLContext): boolean | null {
    return isStaff(ctx.caller) ? variant.record.available <= variant.record.lowStockThreshold : null;
  }
}
