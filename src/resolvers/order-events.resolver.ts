import { GraphQLError } from "graphql";
import { Arg, ID, Resolver, Root, type SubscribeResolverData, Subscription } from "type-graphql";
import { describeOperation } from "../schema/operations.js";
import { Order, OrderStatusEvent } from "../schema/order.types.js";
import { ForbiddenError } from "../services/errors.js";
import type { OrderStatusChangeEvent } from "../services/order/order-events.js";
import type { GraphQLContext } from "./context.js";

async function subscribeToOrderStatus({
  args,
  context,
}: SubscribeResolverData<unknown, { orderId?: string | null }, GraphQLContext>): Promise<
  AsyncIterable<OrderStatusChangeEvent>
> {
  try {
    // Ended by graphql-ws calling return() on the iterator when the client unsubscribes or leaves.
    return await context.services.orderEvents.subscribe(
      context,
      args.orderId ?? null,
      new AbortController().signal,
    );
  } catch (e) {
    if (e instanceof ForbiddenError) throw new GraphQLError(e.message, { extensions: { code: "FORBIDDEN" } });
    throw e;
  }
}

@Resolver()
export class OrderEventsResolver {
  @Subscription(() => OrderStatusEvent, {
    subscribe: subscribeToOrderStatus,
    description: describeOperation(
      "orderStatusChanged",
      "Status changes of an order as they commit, in order, each once (over graphql-ws). Customers and guest " +
        "sessions: one of their own orders (orderId required). Staff: any order of the store, or every order " +
        "of the store without orderId. Anything else: a FORBIDDEN error. The subscription ends when the " +
        'connection\'s token expires (close code 4403 "Token expired"): reconnect with a fresh token.',
    ),
  })
  orderStatusChanged(
    @Root() event: OrderStatusChangeEvent,
    @Arg("orderId", () => ID, {
      nullable: true,
      description: "The order to follow; staff may omit it to follow every order of the store.",
    })
    _orderId: string | null,
  ): OrderStatusEvent {
    return Object.assign(new OrderStatusEvent(), {
      order: Order.from(event.order),
      from: event.from,
      to: event.to,
      at: event.at,
    });
  }
}
