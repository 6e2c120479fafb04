/**
 * The staff live feed: a store's events as they commit (orders placed, held for review, status
 * changes, refunds, reviews running out, stock crossing its low-stock threshold), from the outbox
 * relay's pub/sub, for a merchant dashboard. Staff of the store only. Each event is delivered once
 * (deduplicated by outbox id); filterable by type.
 */
import { RecentIds } from "../../infra/recent-ids.js";
import type { Subscription } from "../../infra/types.js";
import { assertStaff } from "../authz.js";
import { ORDER_CREATED } from "../checkout/place-order.step.js";
import type { ServiceContext } from "../context.js";
import type { ServiceDeps } from "../deps.js";
import { STOCK_STATE_CHANGED } from "../inventory/stock-events.js";
import { ORDER_REFUNDED } from "../order/order-commands.service.js";
import { ORDER_STATUS_CHANGED } from "../order/transition.js";
import { isOutboxMessage, type OutboxMessage, storeChannel } from "../outbox.js";
import { ORDER_REVIEW_EXPIRING } from "../risk/review.service.js";

export type StoreEventType =
  | "ORDER_CREATED"
  | "ORDER_STATUS_CHANGED"
  | "ORDER_HELD_FOR_REVIEW"
  | "ORDER_REFUNDED"
  | "REVIEW_EXPIRING"
  | "STOCK_STATE_CHANGED";

export interface StoreEvent {
  id: number;
  type: StoreEventType;
  at: Date;
  orderId: string | null;
  variantId: string | null;
  payload: Record<string, unknown>;
}

const TOPICS: Record<string, (m: OutboxMessage) => StoreEventType> = {
  [ORDER_CREATED]: () => "ORDER_CREATED",
  [ORDER_STATUS_CHANGED]: (m) =>
    m.payload.to === "ON_HOLD" ? "ORDER_HELD_FOR_REVIEW" : "ORDER_STATUS_CHANGED",
  [ORDER_REFUNDED]: () => "ORDER_REFUNDED",
  [ORDER_REVIEW_EXPIRING]: () => "REVIEW_EXPIRING",
  [STOCK_STATE_CHANGED]: () => "STOCK_STATE_CHANGED",
};

export class StoreFeed {
  constructor(private readonly deps: ServiceDeps) {}

  /** Staff only. `types`: only these (empty or null: all). Streams until `signal` aborts. */
  async subscribe(
    ctx: ServiceContext,
    types: readonly StoreEventType[] | null,
    signal: AbortSignal,
  ): Promise<AsyncIterable<StoreEvent>> {
    assertStaff(ctx.caller);
    const wanted = types?.length ? new Set(types) : null;
    const topics = Object.keys(TOPICS).filter((topic) => {
      if (!wanted) return true;
      if (topic === ORDER_STATUS_CHANGED)
        return wanted.has("ORDER_STATUS_CHANGED") || wanted.has("ORDER_HELD_FOR_REVIEW");
      const probe = TOPICS[topic]?.({ payload: {} } as OutboxMessage);
      return probe ? wanted.has(probe) : false;
    });
    const subscriptions = topics.map((topic) =>
      this.deps.infra.pubsub.subscribe(storeChannel(topic, ctx.store.id), signal),
    );
    await Promise.all(subscriptions.map((s) => s.ready));
    const storeId = ctx.store.id;
    return {
      async *[Symbol.asyncIterator]() {
        const seen = new RecentIds<number>();
        try {
          for await (const message of merge(subscriptions)) {
            if (!isOutboxMessage(message) || message.storeId !== storeId || !seen.add(message.id)) continue;
            const type = TOPICS[message.topic]?.(message);
            if (!type || (wanted && !wanted.has(type))) continue;
            yield {
              id: message.id,
              type,
              at: new Date(message.occurredAt),
              orderId: typeof message.payload.orderId === "string" ? message.payload.orderId : null,
              variantId: typeof message.payload.variantId === "string" ? message.payload.variantId : null,
              payload: message.payload,
            };
          }
        } finally {
          await Promise.all(subscriptions.map((s) => s.return?.()));
        }
      },
    };
  }
}

/** Every message of several subscriptions, in arrival order; ends when all have ended. */
async function* merge(subscriptions: Subscription[]): AsyncGenerator<Record<string, unknown>> {
  const pending = new Map<
    number,
    Promise<{ index: number; result: IteratorResult<Record<string, unknown>> }>
  >();
  const pull = (index: number) => {
    const sub = subscriptions[index];
    if (sub)
      pending.set(
        index,
        sub.next().then((result) => ({ index, result })),
      );
  };
  for (let i = 0; i < subscriptions.length; i++) pull(i);
  while (pending.size > 0) {
    const { index, result } = await Promise.race(pending.values());
    if (result.done) {
      pending.delete(index);
      continue;
    }
    pull(index);
    yield result.value;
  }
}
