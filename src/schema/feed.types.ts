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

  @Field(() => StoreEventType, { description: "What happened." })
  type: StoreEventTypeValue;

  @Field(() => Date, { description: "When it happened." })
  at: Date;

  @Field(() => ID, {
    nullable: true,
    description: "The order concerned, for ORDER_* and REVIEW_EXPIRING events.",
  })
  orderId: string | null;

  @Field(() => ID, { nullable: true, description: "The variant concerned, for STOCK_STATE_CHANGED." })
  variantId: string | null;

  @Field(() => JSONScalar, { description: "The event's own fields (amounts in minor units)." })
  payload: Record<string, unknown>;
}

@ObjectType({
  description: "A variant's sellable stock crossed its low-stock threshold, sold out or came back.",
})
export class LowStockAlert {
  @Field(() => ProductVariant, { description: "The variant, as it is now." })
  variant: ProductVariant;

  @Field(() => StockState, { description: "Its stock state before." })
  from: StockStateValue;

  @Field(() => StockState, { description: "Its stock state now." })
  to: StockStateValue;

  @Field(() => Int, { description: "Units that can still be sold (on hand minus reserved)." })
  available: number;

  @Field(() => Int, { description: "The variant's low-stock threshold." })
  threshold: number;

  @Field(() => Date, { description: "When the stock changed." })
  at: Date;
}
