import { GraphQLError } from "graphql";
import { Arg, ID, Resolver, Root, type SubscribeResolverData, Subscription } from "type-graphql";
import { CartLine, CartPriceChangeEvent } from "../schema/cart.types.js";
import { Money } from "../schema/common.types.js";
import { describeOperation } from "../schema/operations.js";
import type { CartPriceChange } from "../services/cart/cart-price-events.js";
import { UserFacingError } from "../services/errors.js";
import type { GraphQLContext } from "./context.js";

async function subscribeToCartPrices({
  args,
  context,
}: SubscribeResolverData<unknown, { cartId: string }, GraphQLContext>): Promise<
  AsyncIterable<CartPriceChange>
> {
  try {
    // Ended by graphql-ws calling return() on the iterator when the client unsubscribes or leaves.
    return await context.services.cartPriceEvents.subscribe(
      context,
      args.cartId,
      new AbortController().signal,
    );
  } catch (e) {
    if (e instanceof UserFacingError) {
      throw new GraphQLError(e.errors[0]?.message ?? "Not found", { extensions: { code: "NOT_FOUND" } });
    }
    throw e;
  }
}

@Resolver()
export class CartEventsResolver {
  @Subscription(() => CartPriceChangeEvent, {
    subscribe: subscribeToCartPrices,
    description: describeOperation(
      "cartPriceChanged",
      "Price changes of variants that have a line in one of the caller's carts, as staff make them (over " +
        "graphql-ws); the lines keep their captured prices, and checkout asks for consent to a rise. A cart " +
        "that is not the caller's is a NOT_FOUND error.",
    ),
  })
  cartPriceChanged(
    @Root() change: CartPriceChange,
    @Arg("cartId", () => ID, { description: "A cart of the caller." }) _cartId: string,
  ): CartPriceChangeEvent {
    const currency = change.cart.currency;
    return Object.assign(new CartPriceChangeEvent(), {
      cartId: change.cart.id,
      line: CartLine.from(change.cart, change.line),
      previousUnitPrice: Money.of(change.previousUnitPrice, currency),
      newUnitPrice: Money.of(change.newUnitPrice, currency),
      at: change.at,
    });
  }
}
