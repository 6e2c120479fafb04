/** checkoutComplete: the checkout saga behind one mutation. */
import { Arg, Ctx, Mutation, Resolver } from "type-graphql";
import { Money, UserError } from "../schema/common.types.js";
import { describeOperation } from "../schema/operations.js";
import { CheckoutInput, CheckoutPayload, Order, PriceChange } from "../schema/order.types.js";
import type { GraphQLContext } from "./context.js";
import { withUserErrors } from "./payload.js";

@Resolver()
export class CheckoutResolver {
  @Mutation(() => CheckoutPayload, {
    description: describeOperation(
      "checkoutComplete",
      "Places the caller's cart as an order and pays for it. In order: the cart is repriced at today's prices " +
        "(a drop is the buyer's; a rise, or a total other than expectedTotal, is PRICE_CHANGED unless accepted), " +
        "every applied code must still apply, stock is reserved and code uses counted (PENDING order, cart " +
        "CHECKED_OUT), the card is authorised, the store's fraud rules are asked (they may hold the order " +
        "ON_HOLD for review, or refuse it), then the payment is captured (CONFIRMED). Refused before an order " +
        "exists (order null): nothing was written. After: the payload carries the order whatever became of its " +
        "payment: CONFIRMED, ON_HOLD (no userErrors: staff will review it), CANCELLED with PAYMENT_DECLINED " +
        "(the cart is open again), PENDING with " +
        "PAYMENT_REQUIRES_ACTION (3-D Secure) or PAYMENT_FAILED (the gateway did not answer; it settles " +
        "later). Safe to retry with the same idempotencyKey: the same order and payload, never a second charge.",
    ),
  })
  async checkoutComplete(
    @Arg("input", () => CheckoutInput, { description: "The cart, payment and idempotency key." })
    input: CheckoutInput,
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
