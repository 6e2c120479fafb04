/**
 * Order and checkout types of the public API. An order's lines are snapshots taken at checkout: names,
 * SKUs and prices stay as they were sold, whatever the catalog does later. Parts that load rows (lines,
 * history, payments, refunds) are resolved in order.resolver.ts through DataLoaders.
 */
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import type {
  OrderHistoryRow,
  OrderItemRow,
  PaymentRecord,
  RefundRecord,
} from "../services/order/order-queries.service.js";
import type { OrderStatus as OrderStatusValue } from "../services/order/order-status.js";
import type { OrderRow } from "../services/order/transition.js";
import type { Page } from "../services/pagination.js";
import { Address, AddressInput } from "./address.types.js";
import { Connection, edgesOf, JSONScalar, Money, PageInfo, Payload } from "./common.types.js";

export const OrderStatus = {
  PENDING: "PENDING",
  ON_HOLD: "ON_HOLD",
  CONFIRMED: "CONFIRMED",
  PROCESSING: "PROCESSING",
  SHIPPED: "SHIPPED",
  DELIVERED: "DELIVERED",
  CANCELLED: "CANCELLED",
  REFUNDED: "REFUNDED",
} as const satisfies Record<OrderStatusValue, OrderStatusValue>;
registerEnumType(OrderStatus, {
  name: "OrderStatus",
  description: "Where an order is in its life.",
  valuesConfig: {
    PENDING: { description: "Placed; stock held; payment not settled yet." },
    ON_HOLD: { description: "Payment authorised but not captured: waiting for a staff review." },
    CONFIRMED: { description: "Paid (captured)." },
    PROCESSING: { description: "Being prepared by the store." },
    SHIPPED: { description: "Handed to the carrier; trackingNumber is set." },
    DELIVERED: { description: "Delivered to the buyer." },
    CANCELLED: {
      description: "Cancelled; stock restored and discount uses given back, money voided or refunded.",
    },
    REFUNDED: { description: "Delivered, then refunded in full." },
  },
});

export const PaymentStatus = {
  PENDING: "PENDING",
  REQUIRES_ACTION: "REQUIRES_ACTION",
  AUTHORIZED: "AUTHORIZED",
  CAPTURED: "CAPTURED",
  FAILED: "FAILED",
  REFUNDED: "REFUNDED",
  PARTIALLY_REFUNDED: "PARTIALLY_REFUNDED",
  CANCELLED: "CANCELLED",
} as const;
export type PaymentStatusValue = keyof typeof PaymentStatus;
registerEnumType(PaymentStatus, {
  name: "PaymentStatus",
  description: "Where the money of an order stands.",
  valuesConfig: {
    PENDING: { description: "Not authorised yet." },
    REQUIRES_ACTION: { description: "The card needs authentication (3-D Secure) by the buyer." },
    AUTHORIZED: { description: "Held on the card, not taken." },
    CAPTURED: { description: "Taken." },
    FAILED: { description: "Declined or failed; nothing taken." },
    REFUNDED: { description: "Taken, then given back in full." },
    PARTIALLY_REFUNDED: { description: "Taken, then given back in part." },
    CANCELLED: { description: "The hold was released; nothing taken." },
  },
});

@ObjectType({ description: "A line of an order, as it was sold (a snapshot taken at checkout)." })
export class OrderLine {
  @Field(() => ID, { description: "The line's id, for orderRefund's lines." })
  id: string;

  @Field(() => ID, { description: "The variant sold (it may have changed or gone since)." })
  variantId: string;

  @Field(() => String, { description: "The product's name when it was sold." })
  productName: string;

  @Field(() => String, { description: "The variant's title when it was sold." })
  variantTitle: string;

  @Field(() => String, { description: "The variant's SKU when it was sold." })
  sku: string;

  @Field(() => JSONScalar, { nullable: true, description: "The variant's option values when it was sold." })
  attributes: Record<string, string> | null;

  @Field(() => JSONScalar, { nullable: true, description: "{ giftWrap, personalization } when set." })
  customOptions: Record<string, unknown> | null;

  @Field(() => Int, { description: "Units sold." })
  quantity: number;

  @Field(() => Money, { description: "Price per unit charged." })
  unitPrice: Money;

  @Field(() => Money, { description: "unitPrice × quantity." })
  subtotal: Money;

  @Field(() => Money, { description: "This line's share of the order's discounts." })
  discount: Money;

  @Field(() => Money, { description: "This line's share of the order's tax." })
  tax: Money;

  @Field(() => Money, { description: "subtotal - discount + tax." })
  total: Money;

  static from(row: OrderItemRow, currency: string): OrderLine {
    return Object.assign(new OrderLine(), {
      id: row.id,
      variantId: row.variantId,
      productName: row.productName,
      variantTitle: row.variantTitle,
      sku: row.sku,
      attributes: Object.keys(row.attributes).length ? row.attributes : null,
      customOptions: Object.keys(row.customOptions).length ? row.customOptions : null,
      quantity: row.quantity,
      unitPrice: Money.of(row.unitPrice, currency),
      subtotal: Money.of(row.lineSubtotal, currency),
      discount: Money.of(row.lineDiscount, currency),
      tax: Money.of(row.lineTax, currency),
      total: Money.of(row.total, currency),
    });
  }
}

@ObjectType({ description: "What an order costs: subtotal - discount + shipping + tax = total, always." })
export class OrderCost {
  @Field(() => Money, { description: "Sum of the lines' subtotals (unit price × quantity)." })
  subtotal: Money;

  @Field(() => Money, { description: "Merchandise discounts." })
  discount: Money;

  @Field(() => Money, { description: "Shipping charged." })
  shipping: Money;

  @Field(() => Money, { description: "All tax, on lines and shipping." })
  tax: Money;

  @Field(() => Money, { description: "The part of `tax` charged on shipping." })
  shippingTax: Money;

  @Field(() => Money, { description: "What the buyer pays: subtotal - discount + shipping + tax." })
  total: Money;

  @Field(() => Money, { description: "Given back so far." })
  refunded: Money;

  static from(o: OrderRow): OrderCost {
    const m = (amount: number) => Money.of(amount, o.currency);
    return Object.assign(new OrderCost(), {
      subtotal: m(o.subtotal),
      discount: m(o.discount),
      shipping: m(o.shipping),
      tax: m(o.tax),
      shippingTax: m(o.shippingTax),
      total: m(o.total),
      refunded: m(o.refunded),
    });
  }
}

@ObjectType({ description: "One step of an order's history." })
export class OrderStatusChange {
  @Field(() => OrderStatus, {
    nullable: true,
    description: "Null for the first step (the order was placed).",
  })
  from: OrderStatusValue | null;

  @Field(() => OrderStatus, { description: "The status the order moved to." })
  to: OrderStatusValue;

  @Field(() => String, {
    description: "Who made the move: system, customer, guest, staff or a job (staff see the account id too).",
  })
  actor: string;

  @Field(() => String, {
    nullable: true,
    description: 'Why, when known (e.g. "payment captured", a cancel reason).',
  })
  reason: string | null;

  @Field(() => Date, { description: "When the move happened." })
  at: Date;

  static from(row: OrderHistoryRow, staffView: boolean): OrderStatusChange {
    return Object.assign(new OrderStatusChange(), {
      from: row.fromStatus,
      to: row.toStatus,
      actor: staffView ? row.actor : (row.actor.split(":")[0] ?? row.actor),
      reason: row.reason,
      at: row.at,
    });
  }
}

@ObjectType({ description: "A payment of an order (its card authorisation and capture)." })
export class Payment {
  @Field(() => ID, { description: "The payment's id." })
  id: string;

  @Field(() => PaymentStatus, { description: "Where this payment stands." })
  status: PaymentStatusValue;

  @Field(() => String, { description: "The gateway: stripe, or test in embedded mode." })
  gateway: string;

  @Field(() => Money, { description: "The amount asked for authorisation: the order's total." })
  amount: Money;

  @Field(() => Money, { description: "Taken so far." })
  captured: Money;

  @Field(() => Money, { description: "Given back so far." })
  refunded: Money;

  @Field(() => String, { nullable: true, description: "The gateway's reason, when it was declined." })
  declineCode: string | null;

  @Field(() => Date, { description: "When the payment was started (at checkout)." })
  createdAt: Date;

  static from(row: PaymentRecord): Payment {
    return Object.assign(new Payment(), {
      id: row.id,
      status: row.status,
      gateway: row.gateway,
      amount: Money.of(row.amount, row.currency),
      captured: Money.of(row.captured, row.currency),
      refunded: Money.of(row.refunded, row.currency),
      declineCode: row.declineCode,
      createdAt: row.createdAt,
    });
  }
}

export const RefundStatus = { PENDING: "PENDING", SUCCEEDED: "SUCCEEDED", FAILED: "FAILED" } as const;
registerEnumType(RefundStatus, {
  name: "RefundStatus",
  description: "Where a refund stands at the gateway.",
  valuesConfig: {
    PENDING: { description: "Asked of the gateway; not confirmed yet." },
    SUCCEEDED: { description: "The gateway gave the money back." },
    FAILED: { description: "The gateway refused; nothing was given back." },
  },
});

@ObjectType({ description: "Money given back on an order." })
export class Refund {
  @Field(() => ID, { description: "The refund's id." })
  id: string;

  @Field(() => Money, { description: "The amount given back." })
  amount: Money;

  @Field(() => RefundStatus, { description: "Where it stands at the gateway." })
  status: keyof typeof RefundStatus;

  @Field(() => String, { nullable: true, description: "The reason staff gave; null when none." })
  reason: string | null;

  @Field(() => Int, { description: "Units put back on hand." })
  restockedUnits: number;

  @Field(() => Date, { description: "When the refund was asked for." })
  createdAt: Date;

  static from(row: RefundRecord, currency: string): Refund {
    return Object.assign(new Refund(), {
      id: row.id,
      amount: Money.of(row.amount, currency),
      status: row.status,
      reason: row.reason,
      restockedUnits: row.restock.reduce((n, r) => n + r.quantity, 0),
      createdAt: row.createdAt,
    });
  }
}

@ObjectType({ description: "An order: what was bought, at what prices, where it goes, and where it stands." })
export class Order {
  @Field(() => ID, { description: "The order's id." })
  id: string;

  @Field(() => String, { description: "The number shown to the buyer (unique in the store)." })
  number: string;

  @Field(() => OrderStatus, { description: "Where the order is in its life." })
  status: OrderStatusValue;

  @Field(() => PaymentStatus, { description: "Where the order's money stands." })
  paymentStatus: PaymentStatusValue;

  @Field(() => String, { description: "ISO 4217 code of every amount of the order." })
  currencyCode: string;

  @Field(() => String, { nullable: true, description: "Where the confirmation and status emails go." })
  email: string | null;

  @Field(() => OrderCost, { description: "What the order costs, as charged at checkout." })
  cost: OrderCost;

  @Field(() => Address, { nullable: true, description: "Where it ships." })
  shippingAddress: Address | null;

  @Field(() => Address, {
    nullable: true,
    description: "The billing address (the shipping address unless given).",
  })
  billingAddress: Address | null;

  @Field(() => String, { nullable: true, description: "The carrier's tracking number, set when SHIPPED." })
  trackingNumber: string | null;

  @Field(() => String, { nullable: true, description: "The carrier, when staff gave one on shipping." })
  carrier: string | null;

  @Field(() => String, { nullable: true, description: "Why it was cancelled, when it was." })
  cancelReason: string | null;

  @Field(() => Date, { description: "When the order was placed." })
  createdAt: Date;

  @Field(() => Date, { description: "When the order last changed." })
  updatedAt: Date;

  record: OrderRow;

  static from(row: OrderRow): Order {
    return Object.assign(new Order(), {
      id: row.id,
      number: row.number,
      status: row.status,
      paymentStatus: row.paymentStatus,
      currencyCode: row.currency,
      email: row.email,
      cost: OrderCost.from(row),
      shippingAddress: row.shippingAddress ? Address.from(row.shippingAddress) : null,
      billingAddress: row.billingAddress ? Address.from(row.billingAddress) : null,
      trackingNumber: row.trackingNumber,
      carrier: row.carrier,
      cancelReason: row.cancelReason,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      record: row,
    });
  }
}

@ObjectType("OrderConnection", { description: "A page of orders, newest first." })
export class OrderConnection extends Connection("Order", Order) {
  static from(page: Page<OrderRow>): OrderConnection {
    return Object.assign(new OrderConnection(), {
      edges: edgesOf(page, (row) => Order.from(row)),
      pageInfo: PageInfo.of(page),
      totalCount: null,
    });
  }
}

@ObjectType({ description: "What an order mutation answered." })
export class OrderPayload extends Payload {
  @Field(() => Order, { nullable: true, description: "The order after the change; null on userErrors." })
  order: Order | null;
}

@ObjectType({ description: "A line whose price rose since it was added to the cart." })
export class PriceChange {
  @Field(() => ID, { description: "The cart line." })
  lineId: string;

  @Field(() => ID, { description: "Its variant." })
  variantId: string;

  @Field(() => Money, { description: "The price captured when the line was added." })
  previousUnitPrice: Money;

  @Field(() => Money, { description: "Today's price, which checkout would charge." })
  newUnitPrice: Money;
}

@InputType({ description: "Everything checkoutComplete needs." })
export class CheckoutInput {
  @Field(() => ID, { description: "The caller's cart." })
  cartId: string;

  @Field(() => String, {
    description:
      "Chosen by the client (8-200 of A-Z a-z 0-9 . _ : -) and REUSED on every retry of this checkout: " +
      "the same key returns the same order and payload, and never charges twice. A new checkout needs a new key.",
  })
  idempotencyKey: string;

  @Field(() => String, { description: "A payment token from the gateway, e.g. pm_card_visa." })
  paymentMethod: string;

  @Field(() => AddressInput, { nullable: true, description: "Overrides the cart's shipping address." })
  shippingAddress?: AddressInput | null;

  @Field(() => AddressInput, { nullable: true, description: "Defaults to the shipping address." })
  billingAddress?: AddressInput | null;

  @Field(() => String, {
    nullable: true,
    description: "Guests: where the confirmation goes (else the cart's email).",
  })
  email?: string | null;

  @Field(() => Int, {
    nullable: true,
    description:
      "The total the buyer saw (minor units). Checkout refuses any other total with PRICE_CHANGED.",
  })
  expectedTotal?: number | null;

  @Field(() => Boolean, {
    nullable: true,
    description: "Accept prices that rose since the lines were added (else PRICE_CHANGED lists them).",
  })
  acceptPriceChanges?: boolean | null;
}

@ObjectType({ description: "What checkoutComplete answered." })
export class CheckoutPayload extends Payload {
  @Field(() => Order, {
    nullable: true,
    description:
      "The order, when one was placed, whatever became of its payment (CANCELLED after a decline). Null when " +
      "checkout refused before placing one; then nothing was written.",
  })
  order: Order | null;

  @Field(() => String, {
    nullable: true,
    description: "With PAYMENT_REQUIRES_ACTION: hand it to Stripe.js to complete 3-D Secure.",
  })
  paymentClientSecret: string | null;

  @Field(() => [PriceChange], { description: "With PRICE_CHANGED: every line whose price rose." })
  priceChanges: PriceChange[];
}

@InputType({ description: "Units of one order line to refund." })
export class RefundLineInput {
  @Field(() => ID, { description: "An OrderLine of this order." })
  lineId: string;

  @Field(() => Int, { description: "Units to refund: 1 to the line's units not refunded yet." })
  quantity: number;
}

@ObjectType({ description: "An order changed status." })
export class OrderStatusEvent {
  @Field(() => Order, { description: "The order as it is now." })
  order: Order;

  @Field(() => OrderStatus, {
    nullable: true,
    description: "The status before; null when the order was just placed.",
  })
  from: OrderStatusValue | null;

  @Field(() => OrderStatus, { description: "The status now." })
  to: OrderStatusValue;

  @Field(() => Date, { description: "When the change happened." })
  at: Date;
}

export const FraudVerdict = { ACCEPT: "ACCEPT", REVIEW: "REVIEW", REJECT: "REJECT" } as const;
registerEnumType(FraudVerdict, {
  name: "FraudVerdict",
  description: "What the store's fraud rules said.",
  valuesConfig: {
    ACCEPT: { description: "No rule matched: the payment was captured as usual." },
    REVIEW: {
      description:
        "Only REVIEW rules matched: the order was held ON_HOLD, authorised but not captured, for staff.",
    },
    REJECT: { description: "A REJECT rule matched: the authorisation was voided and the order cancelled." },
  },
});

@ObjectType({ description: "Staff only: the fraud rules' verdict on an order, and why." })
export class OrderRisk {
  @Field(() => FraudVerdict, { description: "What the rules decided." })
  verdict: keyof typeof FraudVerdict;

  @Field(() => [String], { description: "One reason per rule that matched." })
  reasons: string[];

  @Field(() => Date, { nullable: true, description: "When the rules were applied." })
  assessedAt: Date | null;
}
