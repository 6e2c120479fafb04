/** Order queries and the parts of an order, loaded through the per-request DataLoaders. */
import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
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
    description:
      "An order of the caller (its customer or guest session), or any order of the store for staff; null otherwise.",
  })
  async order(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Order | null> {
    const row = await ctx.services.orders.get(ctx, id);
    return row ? Order.from(row) : null;
  }

  @Query(() => OrderConnection, {
    description: "The caller's orders, newest first (customers and guest sessions).",
  })
  async myOrders(
    @Arg("first", () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<OrderConnection> {
    return OrderConnection.from(await asQueryResult(() => ctx.services.orders.mine(ctx, { first, after })));
  }

  @Query(() => OrderConnection, {
    description: "Staff: the store's orders, newest first, optionally of one status.",
  })
  async orders(
    @Arg("first", () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Arg("status", () => OrderStatus, { nullable: true }) status: OrderStatusValue | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<OrderConnection> {
    return OrderConnection.from(
      await asQueryResult(() => ctx.services.orders.list(ctx, { first, after, status })),
    );
  }

  @Mutation(() => OrderPayload, {
    description:
      "Cancels an order: its customer (or guest session) while PENDING or CONFIRMED, staff up to PROCESSING. " +
      "Unpaid: the authorisation is voided; paid: refunded in full. Stock and discount uses come back.",
  })
  orderCancel(
    @Arg("orderId", () => ID) orderId: string,
    @Arg("reason", () => String, { nullable: true }) reason: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<OrderPayload> {
    return orderPayload(() => ctx.services.orderCommands.cancel(ctx, orderId, reason));
  }

  @Mutation(() => OrderPayload, {
    description: "Staff: moves an order to PROCESSING, SHIPPED (needs trackingNumber) or DELIVERED.",
  })
  orderTransition(
    @Arg("orderId", () => ID) orderId: string,
    @Arg("to", () => OrderStatus) to: OrderStatusValue,
    @Arg("trackingNumber", () => String, { nullable: true }) trackingNumber: string | null,
    @Arg("carrier", () => String, { nullable: true }) carrier: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<OrderPayload> {
    return orderPayload(() =>
      ctx.services.orderCommands.transition(ctx, { orderId, to, trackingNumber, carrier }),
    );
  }

  @Mutation(() => OrderPayload, {
    description:
      "Staff: refunds a paid order in full or in part: by amount (minor units; default everything left), or by " +
      "lines, optionally restocking their units. A full refund of a DELIVERED order makes it REFUNDED.",
  })
  orderRefund(
    @Arg("orderId", () => ID) orderId: string,
    @Arg("amount", () => Int, { nullable: true }) amount: number | null,
    @Arg("reason", () => String, { nullable: true }) reason: string | null,
    @Arg("lines", () => [RefundLineInput], { nullable: true }) lines: RefundLineInput[] | null,
    @Arg("restock", () => Boolean, { nullable: true }) restock: boolean | null,
    @Arg("idempotencyKey", () => String, {
      nullable: true,
      description:
        "Reused on retries; without it, an identical request is taken as a retry of the same refund.",
    })
    idempotencyKey: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<OrderPayload> {
    return orderPayload(() =>
      ctx.services.orderCommands.refund(ctx, { orderId, amount, reason, lines, restock, idempotencyKey }),
    );
  }

  @FieldResolver(() => [OrderLine])
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

  @FieldResolver(() => [Payment])
  async payments(@Root() order: Order, @Ctx() ctx: GraphQLContext): Promise<Payment[]> {
    return (await ctx.loaders.orderPayments.load(order.id)).map(Payment.from);
  }

  @FieldResolver(() => [Refund])
  async refunds(@Root() order: Order, @Ctx() ctx: GraphQLContext): Promise<Refund[]> {
    return (await ctx.loaders.orderRefunds.load(order.id)).map((r) => Refund.from(r, order.currencyCode));
  }

  @Mutation(() => OrderPayload, {
    description:
      "Staff: approves an order held for review (ON_HOLD): the authorisation is captured and the order confirmed. " +
      "Errors: INVALID_ORDER_TRANSITION (not on hold, or being processed), PAYMENT_FAILED.",
  })
  orderReviewApprove(
    @Arg("orderId", () => ID) orderId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<OrderPayload> {
    return orderPayload(() => ctx.services.reviews.approve(ctx, orderId));
  }

  @Mutation(() => OrderPayload, {
    description:
      "Staff: rejects an order held for review: the authorisation is voided and the order cancelled (stock and " +
      "discount uses back). Errors: INVALID_ORDER_TRANSITION, PAYMENT_FAILED.",
  })
  orderReviewReject(
    @Arg("orderId", () => ID) orderId: string,
    @Arg("reason", () => String, { nullable: true }) reason: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<OrderPayload> {
    return orderPayload(() => ctx.services.reviews.reject(ctx, orderId, reason));
  }

  @FieldResolver(() => OrderRisk, {
    nullable: true,
    description: "Staff only (null for others): the fraud verdict.",
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

  @FieldResolver(() => ShippingMethod, { nullable: true })
  async shippingMethod(@Root() order: Order, @Ctx() ctx: GraphQLContext): Promise<ShippingMethod | null> {
    const id = order.record.shippingMethodId;
    const method = id ? await ctx.loaders.shippingMethodById.load(id) : null;
    return method ? ShippingMethod.from(method, order.currencyCode) : null;
  }
}
