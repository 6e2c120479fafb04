/** checkoutComplete: the checkout saga behind one mutation. */
import { Arg, Ctx, Mutation, Resolver } from "type-graphql";
import { Money, UserError } from "../schema/common.types.js";
import { CheckoutInput, CheckoutPayload, Order, PriceChange } from "../schema/order.types.js";
import type { GraphQLContext } from "./context.js";
import { withUserErrors } from "./payload.js";

@Resolver()
export class CheckoutResolver {
  @Mutation(() => CheckoutPayload, {
    description:
      "Places the caller's cart as an order and pays for it (authorise, then capture). Safe to retry with the " +
      "same idempotencyKey: it returns the same order and payload and never charges twice.",
  })
  async checkoutComplete(
    @Arg("input", () => CheckoutInput) input: CheckoutInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CheckoutPayload> {
    const { value, userErrors } = await withUserErrors(() => ctx.services.checkout.complete(ctx, input));
    const currency = value?.order?.currency ?? ctx.store.currency;
    return Object.assign(new CheckoutPayload(), {
      order: value?.order ? Order.from(value.order) : null,
      paymentClientSecret: value?.paymentClientSecret ?? null,
      priceChanges: (value?.priceChanges ?? []).map((c) =>
        Object.assign(new PriceChange(), {
          lineId: c.lineId,
          variantId: c.variantId,
          previousUnitPrice: Money.of(c.previousUnitPrice, currency),
          newUnitPrice: Money.of(c.newUnitPrice, currency),
        }),
      ),
      userErrors: [...userErrors, ...(value?.userErrors ?? []).map(UserError.from)],
    });
  }
}
