/** Order queries and the parts of an order, loaded through the per-request DataLoaders. */
import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { describeOperation } from "../schema/operations.js";
import {
  Order,
  OrderConnection,
  OrderLine,
  OrderPayload,
  OrderRisk,
  OrderStatus,
  OrderStatusChange,
  Payment,
  Refund,
  RefundLineInput,
} from "../schema/order.types.js";
import { ShippingMethod } from "../schema/shipping.types.js";
import { isStaff } from "../services/context.js";
import type { OrderStatus as OrderStatusValue } from "../services/order/order-status.js";
import type { OrderRow } from "../services/order/transition.js";
import type { GraphQLContext } from "./context.js";
import { withUserErrors } from "./payload.js";
import { asQueryResult } from "./query-result.js";

async function orderPayload(fn: () => Promise<OrderRow>): Promise<OrderPayload> {
  const { value, userErrors } = await withUserErrors(fn);
  return Object.assign(new OrderPayload(), { order: value ? Order.from(value) : null, userErrors });
}

@Resolver(() => Order)
export class OrderResolver {
  @Query(() => Order, {
    nullable: true,
    description: describeOperation(
      "order",
      "An order by id: one of the caller's (its customer or guest session), or any order of the store for " +
        "staff; null otherwise.",
    ),
  })
  async order(
    @Arg("id", () => ID, { description: "The order's id." }) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Order | null> {
    const row = await ctx.services.orders.get(ctx, id);
    return row ? Order.from(row) : null;
  }

  @Query(() => OrderConnection, {
    description: describeOperation(
      "myOrders",
      "The caller's orders, newest first: a customer's, or those a guest session placed. Anonymous callers " +
        "get an UNAUTHENTICATED GraphQL error; a bad `first` or cursor is BAD_USER_INPUT.",
    ),
  })
  async myOrders(
    @Arg("first", () => Int, { nullable: true, defaultValue: 20, description: "Page size, 0 to 100." })
    first: number | null,
    @Arg("after", () => String, {
      nullable: true,
      description: "A cursor from a previous page (pageInfo.endCursor): the orders after it.",
    })
    after: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<OrderConnection> {
    return OrderConnection.from(await asQueryResult(() => ctx.services.orders.mine(ctx, { first, after })));
  }

  @Query(() => OrderConnection, {
    description: describeOperation(
      "orders",
      "The store's orders, newest first, optionally only those of one status. Anyone but staff gets a " +
        "FORBIDDEN GraphQL error; a bad `first` or cursor is BAD_USER_INPUT.",
    ),
  })
  async orders(
    @Arg("first", () => Int, { nullable: true, defaultValue: 20, description: "Page size, 0 to 100." })
    first: number | null,
    @Arg("after", () => String, {
      nullable: true,
      description: "A cursor from a previous page (pageInfo.endCursor): the orders after it.",
    })
    after: string | null,
    @Arg("status", () => OrderStatus, { nullable: true, description: "Only orders in this status." })
    status: OrderStatusValue | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<OrderConnection> {
    return OrderConnection.from(
      await asQueryResult(() => ctx.services.orders.list(ctx, { first, after, status })),
    );
  }

  @Mutation(() => OrderPayload, {
    description: describeOperation(
      "orderCancel",
      "Cancels an order: its customer (or guest session) while PENDING or CONFIRMED, staff also when ON_HOLD " +
        "or PROCESSING. Unpaid: the authorisation is voided; paid: what is left of the capture is refunded " +
        "first. Then stock comes back, discount uses are given back and the order is CANCELLED. The gateway " +
        "failing or not answering is PAYMENT_FAILED and changes nothing; an order whose payment is being " +
        "settled right now is INVALID_ORDER_TRANSITION (try again).",
    ),
  })
  orderCancel(
    @Arg("orderId", () => ID, { description: "The order." }) orderId: string,
    @Arg("reason", () => String, {
      nullable: true,
      description: "Why, up to 500 characters (default: cancelled by the customer / by staff).",
    })
    reason: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<OrderPayload> {
    return orderPayload(() => ctx.services.orderCommands.cancel(ctx, orderId, reason));
  }

  @Mutation(() => OrderPayload, {
    description: describeOperation(
      "orderTransition",
      "Moves an order along fulfilment: CONFIRMED to PROCESSING, PROCESSING to SHIPPED (needs trackingNumber), " +
        "SHIPPED to DELIVERED. Other statuses have their own operations (orderCancel, orderRefund, " +
        "orderReviewApprove) and are INVALID_ORDER_TRANSITION here. SHIPPED emails the buyer the tracking number.",
    ),
  })
  orderTransition(
    @Arg("orderId", () => ID, { description: "The order." }) orderId: string,
    @Arg("to", () => OrderStatus, { description: "PROCESSING, SHIPPED or DELIVERED." }) to: OrderStatusValue,
    @Arg("trackingNumber", () => String, {
      nullable: true,
      description: "Required to ship; up to 100 characters. Stored only with SHIPPED.",
    })
    trackingNumber: string | null,
    @Arg("carrier", () => String, {
      nullable: true,
      description: "The carrier, up to 100 characters. Stored only with SHIPPED.",
    })
    carrier: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<OrderPayload> {
    return orderPayload(() =>
      ctx.services.orderCommands.transition(ctx, { orderId, to, trackingNumber, carrier }),
    );
  }

  @Mutation(() => OrderPayload, {
    description: describeOperation(
      "orderRefund",
      "Gives money back on a paid order (CONFIRMED, PROCESSING, SHIPPED or DELIVERED), in full or in part: by " +
        "amount, or by lines (each line's total, tax included, shared over its units), optionally restocking " +
        "those units. The gateway refunds first; only then is it recorded, so a failing gateway " +
        "(PAYMENT_FAILED) changes nothing and a retry never refunds twice. A full refund of a DELIVERED order " +
        "makes it REFUNDED; other orders keep their status with paymentStatus REFUNDED or PARTIALLY_REFUNDED.",
    ),
  })
  orderRefund(
    @Arg("orderId", () => ID, { description: "The order." }) orderId: string,
    @Arg("amount", () => Int, {
      nullable: true,
      description:
        "Minor units to give back, 1 to what is left; default: the given lines' share, or everything left.",
    })
    amount: number | null,
    @Arg("reason", () => String, { nullable: true, description: "Why, up to 500 characters." })
    reason: string | null,
    @Arg("lines", () => [RefundLineInput], {
      nullable: true,
      description: "Lines and units refunded (each unit at most once over all refunds).",
    })
    lines: RefundLineInput[] | null,
    @Arg("restock", () => Boolean, {
      nullable: true,
      description: "Put the refunded lines' units back on hand (default false).",
    })
    restock: boolean | null,
    @Arg("idempotencyKey", () => String, {
      nullable: true,
      description:
        "Up to 200 characters, reused on retries; without it, an identical request is taken as a retry of the same refund.",
    })
    idempotencyKey: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<OrderPayload> {
    return orderPayload(() =>
      ctx.services.orderCommands.refund(ctx, { orderId, amount, reason, lines, restock, idempotencyKey }),
    );
  }

  @FieldResolver(() => [OrderLine], { description: "What was bought, as sold, by SKU." })
  async lines(@Root() order: Order, @Ctx() ctx: GraphQLContext): Promise<OrderLine[]> {
    const rows = await ctx.loaders.orderLines.load(order.id);
    return rows.map((r) => OrderLine.from(r, order.currencyCode));
  }

  @FieldResolver(() => [OrderStatusChange], { description: "Every status change, oldest first." })
  async history(@Root() order: Order, @Ctx() ctx: GraphQLContext): Promise<OrderStatusChange[]> {
    const rows = await ctx.loaders.orderHistory.load(order.id);
    const staff = isStaff(ctx.caller);
    return rows.map((r) => OrderStatusChange.from(r, staff));
  }

  @FieldResolver(() => [Payment], { description: "The order's payments (one per checkout), oldest first." })
  async payments(@Root() order: Order, @Ctx() ctx: GraphQLContext): Promise<Payment[]> {
    return (await ctx.loaders.orderPayments.load(order.id)).map(Payment.from);
  }

  @FieldResolver(() => [Refund], { description: "Money given back on the order, oldest first." })
  async refunds(@Root() order: Order, @Ctx() ctx: GraphQLContext): Promise<Refund[]> {
    return (await ctx.loaders.orderRefunds.load(order.id)).map((r) => Refund.from(r, order.currencyCode));
  }

  @Mutation(() => OrderPayload, {
    description: describeOperation(
      "orderReviewApprove",
      "Approves an order held for review (ON_HOLD): the authorisation is captured and the order CONFIRMED. A " +
        "capture the gateway refuses cancels the order (PAYMENT_FAILED); a gateway that does not answer leaves " +
        "it on hold (PAYMENT_FAILED, try again). Not ON_HOLD, or being settled right now: INVALID_ORDER_TRANSITION.",
    ),
  })
  orderReviewApprove(
    @Arg("orderId", () => ID, { description: "An order ON_HOLD." }) orderId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<OrderPayload> {
    return orderPayload(() => ctx.services.reviews.approve(ctx, orderId));
  }

  @Mutation(() => OrderPayload, {
    description: describeOperation(
      "orderReviewReject",
      "Rejects an order held for review: the authorisation is voided and the order CANCELLED (stock and " +
        "discount uses come back). A gateway that does not answer leaves it on hold (PAYMENT_FAILED, try " +
        "again). Not ON_HOLD, or being settled right now: INVALID_ORDER_TRANSITION.",
    ),
  })
  orderReviewReject(
    @Arg("orderId", () => ID, { description: "An order ON_HOLD." }) orderId: string,
    @Arg("reason", () => String, {
      nullable: true,
      description: 'Why, kept in the order\'s history (first 500 characters; default "review rejected").',
    })
    reason: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<OrderPayload> {
    return orderPayload(() => ctx.services.reviews.reject(ctx, orderId, reason));
  }

  @FieldResolver(() => OrderRisk, {
    nullable: true,
    description:
      "Staff only (null for others): the fraud rules' verdict and reasons; null too when no rule matched.",
  })
  risk(@Root() order: Order, @Ctx() ctx: GraphQLContext): OrderRisk | null {
    const risk = order.record.risk as {
      verdict?: "ACCEPT" | "REVIEW" | "REJECT";
      reasons?: string[];
      at?: string;
    } | null;
    if (!isStaff(ctx.caller) || !risk?.verdict) return null;
    return Object.assign(new OrderRisk(), {
      verdict: risk.verdict,
      reasons: risk.reasons ?? [],
      assessedAt: risk.at ? new Date(risk.at) : null,
    });
  }

  @FieldResolver(() => Date, {
    nullable: true,
    description:
      "Staff only: for an order ON_HOLD, when it must be reviewed by (then it is voided and cancelled).",
  })
  async reviewDeadline(@Root() order: Order, @Ctx() ctx: GraphQLContext): Promise<Date | null> {
    if (!isStaff(ctx.caller) || order.status !== "ON_HOLD") return null;
    const [payment] = await ctx.loaders.orderPayments.load(order.id);
    return ctx.services.reviews.deadlineOf(payment?.authorizedAt ?? null);
  }

  @FieldResolver(() => ShippingMethod, {
    nullable: true,
    description: "The shipping method chosen at checkout, as it is now.",
  })
  async shippingMethod(@Root() order: Order, @Ctx() ctx: GraphQLContext): Promise<ShippingMethod | null> {
    const id = order.record.shippingMethodId;
    const method = id ? await ctx.loaders.shippingMethodById.load(id) : null;
    return method ? ShippingMethod.from(method, order.currencyCode) : null;
  }
}
