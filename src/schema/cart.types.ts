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
registerEnumType(CartStatus, {
  name: "CartStatus",
  description: "Where a cart is in its life. Only ACTIVE and ABANDONED carts change or check out.",
  valuesConfig: {
    ACTIVE: { description: "Open: being filled." },
    ABANDONED: {
      description:
        "Open, but untouched for CART_ABANDON_AFTER_SECONDS (an hour by default); its next change makes it ACTIVE again.",
    },
    CHECKED_OUT: {
      description:
        "Became an order. If that order's payment fails or it expires unpaid, the cart is ACTIVE again " +
        "(or, for a customer who opened another cart meanwhile, MERGED into that one).",
    },
    MERGED: {
      description: "Its lines went into another cart (a guest cart at sign-in); it changes no more.",
    },
    EXPIRED: {
      description:
        "A guest cart past its expiresAt without activity; it changes no more and is deleted later.",
    },
  },
});

export const DiscountType = {
  PERCENTAGE: "PERCENTAGE",
  FIXED_AMOUNT: "FIXED_AMOUNT",
  FREE_SHIPPING: "FREE_SHIPPING",
  BUY_X_GET_Y: "BUY_X_GET_Y",
} as const;
registerEnumType(DiscountType, {
  name: "DiscountType",
  description: "What a discount code gives.",
  valuesConfig: {
    PERCENTAGE: {
      description: "value % off the eligible lines (what earlier codes left of them), rounded half up once.",
    },
    FIXED_AMOUNT: {
      description:
        "value minor units off the eligible lines, at most what is left of them, split in proportion.",
    },
    FREE_SHIPPING: {
      description: "Shipping waived (the first such code counts; a second one waives nothing).",
    },
    BUY_X_GET_Y: {
      description:
        "Among the eligible units, dearest first, every full group of buyQty + getQty units gets value % off " +
        "its last getQty (cheapest) units; 100 makes them free. Leftover units that do not fill a group get nothing.",
    },
  },
});

@ObjectType({ description: "A line of a cart. `unitPrice` is the price captured when it was added." })
export class CartLine {
  @Field(() => ID, {
    description: "The line's id, for cartLinesUpdate, cartLinesRemove and cartLineSaveForLater.",
  })
  id: string;

  @Field(() => Int, { description: "Units, 1 to 999." })
  quantity: number;

  @Field(() => Money, {
    description:
      "Price per unit captured when the line was added; adding the variant again when its price has fallen moves " +
      "the line to the lower price. Checkout charges today's price (a rise needs consent, see PRICE_CHANGED).",
  })
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

@ObjectType({
  description:
    "What the cart costs now, recomputed on every read (minor units of the store currency): " +
    "subtotal - discount + shipping + tax = total. Checkout reprices at today's prices.",
})
export class CartCost {
  @Field(() => Money, { description: "Sum of lines at their captured prices." })
  subtotal: Money;

  @Field(() => Money, {
    description: "Merchandise discounts of the applicable codes (not shipping waivers).",
  })
  discount: Money;

  @Field(() => Money, {
    description:
      "Shipping of the selected method (0 from its freeOver threshold, or with a FREE_SHIPPING code); 0 without a method.",
  })
  shipping: Money;

  @Field(() => Money, {
    description:
      "All tax, on lines and shipping: Σ lines' `tax` + `shippingTax`. The shipping address's country (or region) rate on subtotal - discount + shipping; 0 without an address.",
  })
  tax: Money;

  @Field(() => Money, { description: "The part of `tax` charged on shipping." })
  shippingTax: Money;

  @Field(() => Money, { description: "subtotal - discount + shipping + tax; never negative." })
  total: Money;
}

@ObjectType({ description: "An automatic change or problem the shopper should see." })
export class CartWarning {
  @Field(() => ErrorCode, {
    description:
      "What happened: INSUFFICIENT_STOCK, VARIANT_UNAVAILABLE, PRICE_CHANGED, a DISCOUNT_* reason, " +
      "SHIPPING_METHOD_UNAVAILABLE, CART_LIMIT_REACHED or PAYMENT_FAILED (a checkout of this cart failed).",
  })
  code: ErrorCode;

  @Field(() => String, { description: "A sentence for the shopper, in English." })
  message: string;

  @Field(() => ID, { nullable: true, description: "The line concerned; null for the whole cart." })
  lineId: string | null;
}

@ObjectType({
  description: "A discount code applied to a cart. A code that stops qualifying stays, inapplicable.",
})
export class AppliedDiscount {
  @Field(() => String, { description: "The code, upper-case." })
  code: string;

  @Field(() => DiscountType, { description: "What the code gives." })
  type: keyof typeof DiscountType;

  @Field(() => Money, { description: "Discount given (for FREE_SHIPPING: the shipping waived)." })
  amount: Money;

  @Field(() => Boolean, { description: "It counts now; when false, `reason` says why and `amount` is 0." })
  applicable: boolean;

  @Field(() => ErrorCode, { nullable: true, description: "Why it counts for nothing, when not applicable." })
  reason: ErrorCode | null;

  @Field(() => Money, {
    nullable: true,
    description: "With DISCOUNT_MIN_ORDER_NOT_MET: the minimum to reach.",
  })
  requiredAmount: Money | null;
}

@ObjectType({
  description:
    "A shopping cart of a guest session or a customer. A customer has at most one open cart; a guest session " +
    "may have several. Prices, cost, warnings and codes are recomputed on every read.",
})
export class Cart {
  @Field(() => ID, { description: "The cart's id; only its owner can read or change it." })
  id: string;

  @Field(() => CartStatus, { description: "Where the cart is in its life." })
  status: CartStatusValue;

  @Field(() => String, { description: "ISO 4217 code of every amount of the cart (the store's currency)." })
  currencyCode: string;

  @Field(() => String, {
    nullable: true,
    description:
      "Contact email (guests: where the confirmation and abandoned-cart emails go); null when none.",
  })
  email: string | null;

  @Field(() => Int, { description: "Units across all lines." })
  itemCount: number;

  @Field(() => Date, { description: "When the cart last changed." })
  updatedAt: Date;

  @Field(() => Date, {
    nullable: true,
    description:
      "Guest carts: when the cart becomes EXPIRED unless it changes before (each change renews it by " +
      "GUEST_CART_EXPIRE_AFTER_SECONDS, 30 days by default). Null for customers' carts, which do not expire.",
  })
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

@ObjectType({ description: "What a cart mutation answered." })
export class CartPayload extends Payload {
  @Field(() => Cart, { nullable: true, description: "The cart after the change; null on userErrors." })
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

  @Field(() => Cart, { nullable: true, description: "The recovered cart; null on userErrors." })
  cart: Cart | null;
}

@ObjectType({ description: "An item a customer moved out of the cart to buy later." })
export class SavedItem {
  @Field(() => ID, { description: "The saved item's id, for savedItemMoveToCart and savedItemRemove." })
  id: string;

  @Field(() => Int, { description: "Units, 1 to 999 (saving the same variant and options again adds up)." })
  quantity: number;

  @Field(() => JSONScalar, { nullable: true, description: "{ giftWrap, personalization } when set." })
  customOptions: Record<string, unknown> | null;

  @Field(() => Date, { description: "When it was (last) saved; the list is in this order." })
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

@ObjectType({ description: "What savedItemRemove answered." })
export class SavedItemsPayload extends Payload {
  @Field(() => [SavedItem], {
    description: "The customer's saved items after the removal; empty on userErrors.",
  })
  savedItems: SavedItem[];
}

@InputType({
  description:
    "Options of a line. A cart holds one line per variant and options: the same variant with other options is " +
    "another line.",
})
export class CartLineOptionsInput {
  @Field(() => Boolean, {
    nullable: true,
    description: "Gift-wrap the line's units (true); false or absent: no.",
  })
  giftWrap?: boolean | null;

  @Field(() => String, {
    nullable: true,
    description: "Text to print or engrave, trimmed, up to 200 characters; empty means none.",
  })
  personalization?: string | null;
}

@InputType({ description: "Units of a variant to add to a cart." })
export class CartLineInput {
  @Field(() => ID, { description: "A variant of an ACTIVE product of this store." })
  variantId: string;

  @Field(() => Int, {
    description:
      "1 to 999. Adds to a line of the same variant and options; the line may hold at most 999 units.",
  })
  quantity: number;

  @Field(() => CartLineOptionsInput, { nullable: true, description: "Gift wrap and personalization." })
  customOptions?: CartLineOptionsInput | null;
}

@InputType({ description: "A new quantity for a line of the cart." })
export class CartLineUpdateInput {
  @Field(() => ID, { description: "A line of this cart." })
  lineId: string;

  @Field(() => Int, { description: "0 removes the line; at most 999." })
  quantity: number;
}

@InputType({ description: "A new cart, optionally with lines and an email." })
export class CartCreateInput {
  @Field(() => [CartLineInput], {
    nullable: true,
    description: "1 to 100 lines to add at once (the same variant and options given twice add up).",
  })
  lines?: CartLineInput[] | null;

  @Field(() => String, {
    nullable: true,
    description: "Contact email (guests); stored trimmed and lower-case.",
  })
  email?: string | null;
}

@ObjectType({ description: "A variant in the cart changed price (the line keeps its captured price)." })
export class CartPriceChangeEvent {
  @Field(() => ID, { description: "The cart followed." })
  cartId: string;

  @Field(() => CartLine, { description: "The cart's line of that variant, as it is now." })
  line: CartLine;

  @Field(() => Money, { description: "The variant's price before the change." })
  previousUnitPrice: Money;

  @Field(() => Money, { description: "The variant's price from now on (what checkout would charge)." })
  newUnitPrice: Money;

  @Field(() => Date, { description: "When the price changed." })
  at: Date;
}
