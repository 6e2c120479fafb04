/** Cart types of the public API. Computed fields (prices, cost, warnings) are resolved in cart.resolver.ts. */
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import type {
  CartLineRecord,
  CartRecord,
  CartStatus as CartStatusValue,
} from "../services/cart/cart.types.js";
import type { SavedItemRecord } from "../services/cart/saved-items.service.js";
import { ErrorCode } from "../services/errors.js";
import { JSONScalar, Money, Payload } from "./common.types.js";

export const CartStatus = {
  ACTIVE: "ACTIVE",
  ABANDONED: "ABANDONED",
  CHECKED_OUT: "CHECKED_OUT",
  MERGED: "MERGED",
  EXPIRED: "EXPIRED",
} as const satisfies Record<CartStatusValue, CartStatusValue>;
registerEnumType(CartStatus, { name: "CartStatus" });

export const DiscountType = {
  PERCENTAGE: "PERCENTAGE",
  FIXED_AMOUNT: "FIXED_AMOUNT",
  FREE_SHIPPING: "FREE_SHIPPING",
  BUY_X_GET_Y: "BUY_X_GET_Y",
} as const;
registerEnumType(DiscountType, { name: "DiscountType" });

@ObjectType({ description: "A line of a cart. `unitPrice` is the price captured when it was added." })
export class CartLine {
  @Field(() => ID)
  id: string;

  @Field(() => Int)
  quantity: number;

  @Field(() => Money, { description: "Captured when the line was added." })
  unitPrice: Money;

  @Field(() => JSONScalar, { nullable: true, description: "{ giftWrap, personalization } when set." })
  customOptions: Record<string, unknown> | null;

  /** Not exposed: what the field resolvers need. */
  record: CartLineRecord;
  cart: CartRecord;

  static from(cart: CartRecord, line: CartLineRecord): CartLine {
    return Object.assign(new CartLine(), {
      id: line.id,
      quantity: line.quantity,
      unitPrice: Money.of(line.unitPrice, cart.currency),
      customOptions: Object.keys(line.customOptions).length ? line.customOptions : null,
      record: line,
      cart,
    });
  }
}

@ObjectType()
export class CartCost {
  @Field(() => Money, { description: "Sum of lines at their captured prices." })
  subtotal: Money;

  @Field(() => Money, { description: "Merchandise discounts." })
  discount: Money;

  @Field(() => Money, { description: "Shipping charged (after FREE_SHIPPING codes)." })
  shipping: Money;

  @Field(() => Money, { description: "All tax, on lines and shipping: Σ lines' `tax` + `shippingTax`." })
  tax: Money;

  @Field(() => Money, { description: "The part of `tax` charged on shipping." })
  shippingTax: Money;

  @Field(() => Money)
  total: Money;
}

@ObjectType({ description: "An automatic change or problem the shopper should see." })
export class CartWarning {
  @Field(() => ErrorCode)
  code: ErrorCode;

  @Field(() => String)
  message: string;

  @Field(() => ID, { nullable: true })
  lineId: string | null;
}

@ObjectType({
  description: "A discount code applied to a cart. A code that stops qualifying stays, inapplicable.",
})
export class AppliedDiscount {
  @Field(() => String)
  code: string;

  @Field(() => DiscountType)
  type: keyof typeof DiscountType;

  @Field(() => Money, { description: "Discount given (for FREE_SHIPPING: the shipping waived)." })
  amount: Money;

  @Field(() => Boolean)
  applicable: boolean;

  @Field(() => ErrorCode, { nullable: true, description: "Why it counts for nothing, when not applicable." })
  reason: ErrorCode | null;

  @Field(() => Money, {
    nullable: true,
    description: "With DISCOUNT_MIN_ORDER_NOT_MET: the minimum to reach.",
  })
  requiredAmount: Money | null;
}

@ObjectType()
export class Cart {
  @Field(() => ID)
  id: string;

  @Field(() => CartStatus)
  status: CartStatusValue;

  @Field(() => String)
  currencyCode: string;

  @Field(() => String, { nullable: true })
  email: string | null;

  @Field(() => Int, { description: "Units across all lines." })
  itemCount: number;

  @Field(() => Date)
  updatedAt: Date;

  @Field(() => Date, { nullable: true, description: "Guest carts expire after a period without activity." })
  expiresAt: Date | null;

  record: CartRecord;

  static from(record: CartRecord): Cart {
    return Object.assign(new Cart(), {
      id: record.id,
      status: record.status,
      currencyCode: record.currency,
      email: record.email,
      itemCount: record.lines.reduce((n, l) => n + l.quantity, 0),
      updatedAt: record.updatedAt,
      expiresAt: record.expiresAt,
      record,
    });
  }
}

@ObjectType()
export class CartPayload extends Payload {
  @Field(() => Cart, { nullable: true })
  cart: Cart | null;
}

@ObjectType({ description: "The answer to following an abandoned cart's recovery link." })
export class CartRecoverPayload extends Payload {
  @Field(() => String, {
    nullable: true,
    description:
      "For a guest cart: a guest session token that now owns the cart (use it from now on). Null for a customer's cart, which stays with the signed-in customer.",
  })
  token: string | null;

  @Field(() => Cart, { nullable: true })
  cart: Cart | null;
}

@ObjectType({ description: "An item a customer moved out of the cart to buy later." })
export class SavedItem {
  @Field(() => ID)
  id: string;

  @Field(() => Int)
  quantity: number;

  @Field(() => JSONScalar, { nullable: true })
  customOptions: Record<string, unknown> | null;

  @Field(() => Date)
  savedAt: Date;

  record: SavedItemRecord;

  static from(record: SavedItemRecord): SavedItem {
    return Object.assign(new SavedItem(), {
      id: record.id,
      quantity: record.quantity,
      customOptions: Object.keys(record.customOptions).length ? record.customOptions : null,
      savedAt: record.savedAt,
      record,
    });
  }
}

@ObjectType()
export class SavedItemsPayload extends Payload {
  @Field(() => [SavedItem])
  savedItems: SavedItem[];
}

@InputType()
export class CartLineOptionsInput {
  @Field(() => Boolean, { nullable: true })
  giftWrap?: boolean | null;

  @Field(() => String, { nullable: true, description: "Up to 200 characters." })
  personalization?: string | null;
}

@InputType()
export class CartLineInput {
  @Field(() => ID)
  variantId: string;

  @Field(() => Int, { description: "1 to 999." })
  quantity: number;

  @Field(() => CartLineOptionsInput, { nullable: true })
  customOptions?: CartLineOptionsInput | null;
}

@InputType()
export class CartLineUpdateInput {
  @Field(() => ID)
  lineId: string;

  @Field(() => Int, { description: "0 removes the line; at most 999." })
  quantity: number;
}

@InputType()
export class CartCreateInput {
  @Field(() => [CartLineInput], { nullable: true })
  lines?: CartLineInput[] | null;

  @Field(() => String, { nullable: true, description: "Contact email (guests)." })
  email?: string | null;
}

@ObjectType({ description: "A variant in the cart changed price (the line keeps its captured price)." })
export class CartPriceChangeEvent {
  @Field(() => ID)
  cartId: string;

  @Field(() => CartLine)
  line: CartLine;

  @Field(() => Money, { description: "The variant's price before the change." })
  previousUnitPrice: Money;

  @Field(() => Money)
  newUnitPrice: Money;

  @Field(() => Date)
  at: Date;
}
