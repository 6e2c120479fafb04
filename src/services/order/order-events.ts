/**
 * Live order status for subscribers (orderStatusChanged): the `order.status_changed` events the outbox
 * relay publishes. A customer or guest session follows one of its own orders; staff follow any order of
 * their store, or all of them. Delivery is at least once and per order in commit order (an order's
 * events are written under its row lock and published in id order); duplicates and anything older than
 * the last event seen for an order are dropped here, so a subscriber sees each change once, in order.
 */
import { RecentIds } from "../../infra/recent-ids.js";
import type { ServiceContext } from "../context.js";
import type { ServiceDeps } from "../deps.js";
import { ForbiddenError } from "../errors.js";
import { entityChannel, isOutboxMessage, storeChannel } from "../outbox.js";
import { canSeeOrder, type OrderQueries } from "./order-queries.service.js";
import type { OrderStatus } from "./order-status.js";
import { ORDER_STATUS_CHANGED, type OrderRow } from "./transition.js";

export interface OrderStatusChangeEvent {
  order: OrderRow;
  from: OrderStatus | null;
  to: OrderStatus;
  at: Date;
  eventId: number;
}

export class OrderEvents {
  /**
   * Reads in flight, by store, order and event: every subscriber of one event (a store's staff feed can
   * have thousands) shares one read of the order instead of sending one statement each.
   */
  private readonly reading = new Map<string, Promise<OrderRow | null>>();

  constructor(
    private readonly deps: ServiceDeps,
    private readonly queries: OrderQueries,
  ) {}

  private orderOf(storeId: string, orderId: string, eventId: number): Promise<OrderRow | null> {
    const key = `${storeId}|${orderId}|${eventId}`;
    let read = this.reading.get(key);
    if (!read) {
      read = this.queries.row(storeId, orderId).finally(() => this.reading.delete(key));
      this.reading.set(key, read);
    }
    return read;
  }

  /** FORBIDDEN unless the caller may follow what it asks for; then streams until `signal` aborts. */
  async subscribe(
    ctx: ServiceContext,
    orderId: string | null,
    signal: AbortSignal,
  ): Promise<AsyncIterable<OrderStatusChangeEvent>> {
    let channel: string;
    if (orderId) {
      const order = await this.queries.get(ctx, orderId);
      if (!order || !canSeeOrder(ctx.caller, order))
        throw new ForbiddenError("You may only follow your own orders");
      channel = entityChannel(ORDER_STATUS_CHANGED, order.id);
    } else {
      if (ctx.caller.kind !== "staff")
        throw new ForbiddenError("Only staff may follow every order of the store");
      channel = storeChannel(ORDER_STATUS_CHANGED, ctx.store.id);
    }
    const subscription = this.deps.infra.pubsub.subscribe(channel, signal);
    await subscription.ready;
    const orderOf = (orderId: string, eventId: number) => this.orderOf(ctx.store.id, orderId, eventId);
    const storeId = ctx.store.id;
    return {
      async *[Symbol.asyncIterator]() {
        const seen = new RecentIds<number>();
        const lastByOrder = new Map<string, number>();
        for await (const message of subscription) {
          if (!isOutboxMessage(message) || message.storeId !== storeId || !seen.add(message.id)) continue;
          // An older event of an order whose later one was already delivered (a republish) is stale.
          if ((lastByOrder.get(message.key) ?? 0) > message.id) continue;
          lastByOrder.set(message.key, message.id);
          if (lastByOrder.size > 10_000) lastByOrder.clear();
          const order = await orderOf(message.key, message.id);
          if (!order || !canSeeOrder(ctx.caller, order)) continue;
          const { from, to, at } = message.payload as {
            from: OrderStatus | null;
            to: OrderStatus;
            at: string;
          };
          yield { order, from: from ?? null, to, at: new Date(at), eventId: message.id };
        }
      },
    };
  }
}
