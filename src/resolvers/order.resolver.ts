/** Order queries and the parts of an order, loaded through the per-request DataLoaders. */
import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from "type-graphql";
import {
  Order,
  OrderConnection,
  OrderLine,
  OrderStatus,
  OrderStatusChange,
  Payment,
  Refund,
} from "../schema/order.types.js";
import { ShippingMethod } from "../schema/shipping.types.js";
import { isStaff } from "../services/context.js";
import type { OrderStatus as OrderStatusValue } from "../services/order/order-status.js";
import type { GraphQLContext } from "./context.js";
import { asQueryResult } from "./query-result.js";

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

  @FieldResolver(() => ShippingMethod, { nullable: true })
  async shippingMethod(@Root() order: Order, @Ctx() ctx: GraphQLContext): Promise<ShippingMethod | null> {
    const id = order.record.shippingMethodId;
    const method = id ? await ctx.loaders.shippingMethodById.load(id) : null;
    return method ? ShippingMethod.from(method, order.currencyCode) : null;
  }
}
