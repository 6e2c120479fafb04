/** Discount codes on carts (shoppers) and the staff operations on codes. */
import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import { CartPayload } from "../schema/cart.types.js";
import { Discount, DiscountConnection, DiscountInput, DiscountPayload } from "../schema/discount.types.js";
import type { DiscountRecord } from "../services/discount.service.js";
import { cartPayload } from "./cart-payload.js";
import type { GraphQLContext } from "./context.js";
import { withUserErrors } from "./payload.js";
import { asQueryResult } from "./query-result.js";

async function discountPayload(
  ctx: GraphQLContext,
  fn: () => Promise<DiscountRecord>,
): Promise<DiscountPayload> {
  const { value, userErrors } = await withUserErrors(fn);
  return Object.assign(new DiscountPayload(), {
    discount: value ? Discount.from(value, ctx.store.currency) : null,
    userErrors,
  });
}

@Resolver()
export class DiscountResolver {
  @Mutation(() => CartPayload, { description: "Applies a code (any case) if it gives the cart something." })
  cartDiscountCodeApply(
    @Arg("cartId", () => ID) cartId: string,
    @Arg("code", () => String) code: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.discounts.applyCode(ctx, cartId, code));
  }

  @Mutation(() => CartPayload)
  cartDiscountCodeRemove(
    @Arg("cartId", () => ID) cartId: string,
    @Arg("code", () => String) code: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.discounts.removeCode(ctx, cartId, code));
  }

  @Mutation(() => DiscountPayload, { description: "Staff: a new discount code." })
  discountCreate(
    @Arg("input", () => DiscountInput) input: DiscountInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<DiscountPayload> {
    return discountPayload(ctx, () => ctx.services.discounts.create(ctx, input));
  }

  @Mutation(() => DiscountPayload, { description: "Staff: replaces every editable field of a discount." })
  discountUpdate(
    @Arg("id", () => ID) id: string,
    @Arg("input", () => DiscountInput) input: DiscountInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<DiscountPayload> {
    return discountPayload(ctx, () => ctx.services.discounts.update(ctx, id, input));
  }

  @Query(() => DiscountConnection, { description: "Staff: the store's discount codes in creation order." })
  async discounts(
    @Arg("first", () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<DiscountConnection> {
    return DiscountConnection.from(
      await asQueryResult(() => ctx.services.discounts.list(ctx, { first, after })),
      ctx.store.currency,
    );
  }
}
