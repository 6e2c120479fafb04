/** The staff live feed and low-stock alerts (subscriptions for merchant dashboards). */
import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import type { StoreEventType as StoreEventTypeValue } from "../services/events/store-feed.js";
import type { StockState as StockStateValue } from "../services/inventory/stock.js";
import { ProductVariant } from "./catalog.types.js";
import { JSONScalar } from "./common.types.js";

export const StoreEventType = {
  ORDER_CREATED: "ORDER_CREATED",
  ORDER_STATUS_CHANGED: "ORDER_STATUS_CHANGED",
  ORDER_HELD_FOR_REVIEW: "ORDER_HELD_FOR_REVIEW",
  ORDER_REFUNDED: "ORDER_REFUNDED",
  REVIEW_EXPIRING: "REVIEW_EXPIRING",
  STOCK_STATE_CHANGED: "STOCK_STATE_CHANGED",
} as const satisfies Record<StoreEventTypeValue, StoreEventTypeValue>;
registerEnumType(StoreEventType, {
  name: "StoreEventType",
  description: "Kinds of events in the staff live feed.",
  valuesConfig: {
    ORDER_CREATED: { description: "An order was placed (PENDING)." },
    ORDER_STATUS_CHANGED: { description: "An order changed status (other than being held for review)." },
    ORDER_HELD_FOR_REVIEW: { description: "The fraud rules held an order: it needs a staff review." },
    ORDER_REFUNDED: { description: "Money was given back on an order." },
    REVIEW_EXPIRING: { description: "A held order's authorisation runs out soon: review it." },
    STOCK_STATE_CHANGED: {
      description: "A variant crossed its low-stock threshold, sold out, or came back.",
    },
  },
});

export const StockState = { IN_STOCK: "IN_STOCK", LOW: "LOW", OUT: "OUT" } as const satisfies Record<
  StockStateValue,
  StockStateValue
>;
registerEnumType(StockState, {
  name: "StockState",
  description: "Sellable stock (on hand minus reserved) against the variant's low-stock threshold.",
  valuesConfig: {
    IN_STOCK: { description: "Above the threshold." },
    LOW: { description: "At or below the threshold, above zero." },
    OUT: { description: "Nothing left to sell." },
  },
});

@ObjectType({ description: "One event of the store, as it committed." })
export class StoreEvent {
  @Field(() => ID, { description: "Unique and increasing per store: dedupe and order by it." })
  id: string;

  @Field(() => StoreEventType)
  type: StoreEventTypeValue;

  @Field(() => Date)
  at: Date;

  @Field(() => ID, { nullable: true })
  orderId: string | null;

  @Field(() => ID, { nullable: true })
  variantId: string | null;

  @Field(() => JSONScalar, { description: "The event's own fields (amounts in minor units)." })
  payload: Record<string, unknown>;
}

@ObjectType({
  description: "A variant's sellable stock crossed its low-stock threshold, sold out or came back.",
})
export class LowStockAlert {
  @Field(() => ProductVariant)
  variant: ProductVariant;

  @Field(() => StockState)
  from: StockStateValue;

  @Field(() => StockState)
  to: StockStateValue;

  @Field(() => Int, { description: "Units that can still be sold (on hand minus reserved)." })
  available: number;

  @Field(() => Int)
  threshold: number;

  @Field(() => Date)
  at: Date;
}
