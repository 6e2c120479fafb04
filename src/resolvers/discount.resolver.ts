/** Discount codes on carts (shoppers) and the staff operations on codes. */
import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import { CartPayload } from "../schema/cart.types.js";
import { Discount, DiscountConnection, DiscountInput, DiscountPayload } from "../schema/discount.types.js";
import { describeOperation } from "../schema/operations.js";
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
  @Mutation(() => CartPayload, {
    description: describeOperation(
      "cartDiscountCodeApply",
      "Applies a discount code (trimmed, any case) to a cart, if it would count on the cart as it is: else " +
        "the rule that fails is the userError (DISCOUNT_MIN_ORDER_NOT_MET with requiredAmount) and nothing is " +
        "written. A code that gives 0 today but qualifies (e.g. BUY_X_GET_Y short of a full group) is " +
        "accepted. Applying an applied code again changes nothing and succeeds. A code that stops qualifying " +
        "later stays applied, inapplicable with its reason, and counts again once the cart qualifies; checkout " +
        "refuses a cart with an inapplicable code.",
    ),
  })
  cartDiscountCodeApply(
    @Arg("cartId", () => ID, { description: "A cart of the caller." }) cartId: string,
    @Arg("code", () => String, { description: "The code, any case." }) code: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.discounts.applyCode(ctx, cartId, code));
  }

  @Mutation(() => CartPayload, {
    description: describeOperation(
      "cartDiscountCodeRemove",
      "Removes a code from a cart; a code that is not applied to it is DISCOUNT_NOT_FOUND.",
    ),
  })
  cartDiscountCodeRemove(
    @Arg("cartId", () => ID, { description: "A cart of the caller." }) cartId: string,
    @Arg("code", () => String, { description: "The applied code, any case." }) code: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.discounts.removeCode(ctx, cartId, code));
  }

  @Mutation(() => DiscountPayload, {
    description: describeOperation(
      "discountCreate",
      "Creates a discount code. Every problem comes back at once, each an INVALID_INPUT naming its field " +
        "(input.*): a code already used in the store, products that are not the store's, values outside " +
        "their type's range, validUntil not after validFrom.",
    ),
  })
  discountCreate(
    @Arg("input", () => DiscountInput, { description: "The code and its rules." }) input: DiscountInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<DiscountPayload> {
    return discountPayload(ctx, () => ctx.services.discounts.create(ctx, input));
  }

  @Mutation(() => DiscountPayload, {
    description: describeOperation(
      "discountUpdate",
      "Replaces every editable field of a discount (omitted optional fields become null, combinable false, " +
        "isActive true); usesCount is kept, and maxUses may not go below it. Carts that have the code applied " +
        "are repriced with the new rules on their next read.",
    ),
  })
  discountUpdate(
    @Arg("id", () => ID, { description: "The discount." }) id: string,
    @Arg("input", () => DiscountInput, { description: "All of its editable fields." }) input: DiscountInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<DiscountPayload> {
    return discountPayload(ctx, () => ctx.services.discounts.update(ctx, id, input));
  }

  @Query(() => DiscountConnection, {
    description: describeOperation(
      "discounts",
      "The store's discount codes, oldest first. Anyone but staff gets a FORBIDDEN GraphQL error; a bad " +
        "`first` or cursor a BAD_USER_INPUT one.",
    ),
  })
  async discounts(
    @Arg("first", () => Int, { nullable: true, defaultValue: 20, description: "Page size, 0 to 100." })
    first: number | null,
    @Arg("after", () => String, {
      nullable: true,
      description: "A cursor from a previous page (pageInfo.endCursor): the codes after it.",
    })
    after: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<DiscountConnection> {
    return DiscountConnection.from(
      await asQueryResult(() => ctx.services.discounts.list(ctx, { first, after })),
      ctx.store.currency,
    );
  }
}
