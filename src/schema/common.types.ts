/** Types shared by the whole schema: Money, UserError, ErrorCode, pagination. */
import { GraphQLJSON } from "graphql-scalars";
import { ClassType, Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { ErrorCode, type UserErrorData } from "../services/errors.js";
import type { Page } from "../services/pagination.js";

registerEnumType(ErrorCode, {
  name: "ErrorCode",
  description:
    "Why an operation did not do what was asked: the `code` of a UserError, of a CartWarning and of an " +
    "AppliedDiscount's `reason`. The codes each mutation can return are listed at the end of its description. " +
    "FORBIDDEN, NOT_FOUND, INVALID_INPUT and RATE_LIMITED also appear as GraphQL errors " +
    "(`errors[].extensions.code`), as their descriptions say.",
  valuesConfig: {
    INVALID_INPUT: {
      description:
        "An argument is malformed or out of range (`field` names it), e.g. a quantity outside 1-999, an email " +
        "that is not one, a price above 100,000,000 minor units. As a GraphQL error: text that cannot be stored " +
        "(a NUL character, a lone UTF-16 surrogate) anywhere in the input.",
    },
    NOT_FOUND: {
      description:
        "The id or name given (cart, line, variant, saved item, order, discount, shipping method, recovery " +
        "link's cart) names nothing the caller may see: unknown, of another store, of another shopper and " +
        "malformed ids all get this same answer. As a GraphQL error: cartPriceChanged of a cart that is not " +
        "the caller's.",
    },
    FORBIDDEN: {
      description:
        "The caller may not do this. As a GraphQL error (the payload is null): the caller's kind of token " +
        "may not call the operation, e.g. a staff mutation without a staff token, a cart mutation with a " +
        "staff token. As a userError of cartRecover: the link is for a customer's cart and the caller is " +
        "not signed in as a customer.",
    },
    INSUFFICIENT_STOCK: {
      description:
        "Fewer sellable units (on hand minus reserved) than asked for; `variantId` says which variant and " +
        "`available` how many can still be had. In a store that holds stock from add-to-cart, any change of " +
        "a cart whose hold ran out holds its lines again, and fails with this code when they are gone. As a " +
        "cart warning: a line wants more than is left now, or the cart's hold was released.",
    },
    VARIANT_UNAVAILABLE: {
      description:
        "The variant's product is not ACTIVE (DRAFT or ARCHIVED): it cannot be added or bought. As a cart " +
        "warning: a line's product stopped being sold after the line was added.",
    },
    CART_NOT_ACTIVE: {
      description:
        "The cart is CHECKED_OUT, MERGED or EXPIRED; only ACTIVE and ABANDONED carts can change or be checked out.",
    },
    CART_EMPTY: { description: "checkoutComplete of a cart without lines." },
    CART_LIMIT_REACHED: {
      description:
        "A cart limit: at most 250 lines per cart; goods worth at most 500,000,000 minor units per cart " +
        "(`requiredAmount` carries that bound); an order total of at most 99,999,999 minor units; at most " +
        "GUEST_MAX_OPEN_CARTS open carts per guest session. As a cart warning after sign-in: a guest cart's " +
        "line left out of the merge for one of these limits.",
    },
    DISCOUNT_NOT_FOUND: {
      description:
        "No discount code of that name in this store (names are compared trimmed and case-insensitively), " +
        "or, for cartDiscountCodeRemove, the code is not applied to the cart.",
    },
    DISCOUNT_INACTIVE: { description: "The code is switched off (Discount.isActive is false)." },
    DISCOUNT_NOT_YET_VALID: { description: "It is before the code's validFrom." },
    DISCOUNT_EXPIRED: { description: "It is at or after the code's validUntil (which is exclusive)." },
    DISCOUNT_LIMIT_REACHED: {
      description:
        "The code's maxUses are used up. A use is counted when an order is placed with the code and given " +
        "back when that order is cancelled or its payment fails.",
    },
    DISCOUNT_CUSTOMER_LIMIT_REACHED: {
      description:
        "This customer (for a guest: the cart's email) has used the code perCustomerLimit times already.",
    },
    DISCOUNT_MIN_ORDER_NOT_MET: {
      description:
        "The subtotal of the cart's lines the code applies to, before any discount, is below the code's " +
        "minOrderAmount; `requiredAmount` carries that minimum (minor units). Reaching it exactly is enough.",
    },
    DISCOUNT_NOT_APPLICABLE: {
      description:
        "No line of the cart is of a product the code applies to (applicableProductIds), or the cart has no lines.",
    },
    DISCOUNT_NOT_COMBINABLE: {
      description:
        "The code cannot be used together with a code applied before it: a later code counts only if it " +
        "and every code counting so far are combinable.",
    },
    SHIPPING_ADDRESS_REQUIRED: {
      description: "The cart has no shipping address yet (set one with cartShippingAddressUpdate).",
    },
    SHIPPING_METHOD_REQUIRED: {
      description: "Checkout of a cart without a shipping method (choose one with cartShippingMethodSelect).",
    },
    SHIPPING_METHOD_UNAVAILABLE: {
      description:
        "The shipping method is inactive or does not ship to the address's country. As a cart warning: the " +
        "selected method was cleared because it does not serve the new address.",
    },
    PRICE_CHANGED: {
      description:
        "checkoutComplete: a line costs more now than when it was added, or the total is not `expectedTotal`; " +
        "`priceChanges` lists the rises and `requiredAmount` is the new total. Nothing was written: repeat " +
        "with acceptPriceChanges true or expectedTotal set to the new total. As a cart warning: a line's " +
        "current price differs from the price captured when it was added.",
    },
    PAYMENT_DECLINED: {
      description:
        "checkoutComplete: the card was declined, its 3-D Secure authentication failed, or the store's fraud " +
        "rules refused the payment (the message does not say which rule). The order is CANCELLED and the cart " +
        "ACTIVE again: try another payment method, with a new idempotencyKey.",
    },
    PAYMENT_REQUIRES_ACTION: {
      description:
        "checkoutComplete: the card needs 3-D Secure. Complete it in the client with `paymentClientSecret` " +
        "(Stripe.js); the order stays PENDING until the gateway reports the result (follow orderStatusChanged, " +
        "or retry with the same idempotencyKey).",
    },
    PAYMENT_FAILED: {
      description:
        "Money could not be moved. checkoutComplete: the gateway did not answer (the order stays PENDING and is " +
        "settled later: retry with the same idempotencyKey, which never charges twice), the capture was refused " +
        "(nothing charged, order CANCELLED), or the order was cancelled before its payment completed. " +
        "orderCancel, orderRefund, orderReview*: the gateway refused or did not answer, and nothing changed. " +
        "As a cart warning: a checkout of this cart failed and the cart is open again.",
    },
    IDEMPOTENCY_KEY_REUSED: {
      description:
        "The idempotencyKey names another checkout (another cart, another total or another caller) or another " +
        "refund (another order or amount). Use a new key for a new operation.",
    },
    INVALID_ORDER_TRANSITION: {
      description:
        "The order cannot make that move: not from its status, not by this caller (see OrderStatus), not " +
        "without a tracking number (SHIPPED), or another request is settling its payment right now (try again).",
    },
    EMAIL_TAKEN: { description: "customerRegister: an account with this email exists in this store." },
    INVALID_CREDENTIALS: {
      description: "Email or password is wrong; an unknown email gets the same answer, after the same time.",
    },
    RATE_LIMITED: {
      description:
        "Too many attempts: sign-ins or registrations from this client or on this account within " +
        "SIGN_IN_WINDOW_SECONDS, or carts created from this address within the hour (CARTS_PER_IP_PER_HOUR). " +
        "As a GraphQL error (HTTP 429 with retry-after): more than RATE_LIMIT_PER_MINUTE operations a minute " +
        "from one caller.",
    },
    LINK_INVALID: {
      description:
        "cartRecover: the link's token is malformed, tampered with or for another store. Open the latest email.",
    },
    LINK_EXPIRED: { description: "cartRecover: the link is past its lifetime (CART_RECOVERY_TTL_SECONDS)." },
  },
});

export { GraphQLJSON as JSONScalar };

@ObjectType({
  description:
    "An amount of money: `amount` in minor units of `currencyCode` (cents for USD, whole yen for JPY), and " +
    "`formatted` for display. A value without identity: clients cache it inside its parent.",
})
export class Money {
  @Field(() => Int, { description: "Minor units, e.g. 1999 = 19.99 USD." })
  amount: number;

  @Field(() => String, { description: "ISO 4217 code." })
  currencyCode: string;

  static of(amount: number, currencyCode: string): Money {
    const m = new Money();
    m.amount = amount;
    m.currencyCode = currencyCode;
    return m;
  }
}

@ObjectType({
  description:
    "An expected failure of a mutation. When a payload carries any, the mutation wrote nothing, except where " +
    "its description says otherwise (checkoutComplete's payment outcomes, customerLogin's guestCartId merge).",
})
export class UserError {
  @Field(() => ErrorCode, {
    description: "What went wrong; the codes a mutation can return end its description.",
  })
  code: ErrorCode;

  @Field(() => String, {
    description: "A sentence for the shopper or operator, in English. Not for parsing.",
  })
  message: string;

  @Field(() => [String], { nullable: true, description: "Path to the input field at fault." })
  field?: string[] | null;

  @Field(() => ID, {
    nullable: true,
    description: "The variant concerned, for stock and availability errors.",
  })
  variantId?: string | null;

  @Field(() => Int, { nullable: true, description: "Units available, for stock errors." })
  available?: number | null;

  /** `requiredAmount` in minor units of the store's currency; exposed as Money (money.resolver.ts). */
  requiredMinorUnits?: number | null;

  static from(e: UserErrorData): UserError {
    const { requiredAmount, ...rest } = e;
    return Object.assign(new UserError(), rest, { requiredMinorUnits: requiredAmount ?? null });
  }
}

@ObjectType({ description: "Where a page of a connection sits (Relay cursor connections, forward only)." })
export class PageInfo {
  @Field(() => Boolean, { description: "More items follow: ask again with `after: endCursor`." })
  hasNextPage: boolean;

  @Field(() => Boolean, {
    description: "True when the page was asked for with `after` (it is not the first).",
  })
  hasPreviousPage: boolean;

  @Field(() => String, {
    nullable: true,
    description: "Cursor of the page's first item; null on an empty page.",
  })
  startCursor: string | null;

  @Field(() => String, {
    nullable: true,
    description: "Cursor of the page's last item; null on an empty page.",
  })
  endCursor: string | null;

  /** A page's info, its two cursors encoded only if the query selects them. */
  static of(page: Page<unknown>): PageInfo {
    const info = new PageInfo();
    info.hasNextPage = page.hasNextPage;
    info.hasPreviousPage = page.hasPreviousPage;
    Object.defineProperties(info, {
      startCursor: { get: () => page.items[0]?.cursor ?? null, enumerable: true },
      endCursor: { get: () => page.items.at(-1)?.cursor ?? null, enumerable: true },
    });
    return info;
  }
}

/** A page's edges, each cursor encoded only if the query selects it. */
export function edgesOf<T, N>(page: Page<T>, nodeOf: (row: T) => N): { readonly cursor: string; node: N }[] {
  return page.items.map((item) => ({
    get cursor() {
      return item.cursor;
    },
    node: nodeOf(item.node),
  }));
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

/** Builds a Relay connection type (`XConnection` with `XEdge`) for a node class. */
export function Connection<T extends object>(name: string, node: ClassType<T>) {
  @ObjectType(`${name}Edge`, { description: `One ${name} of a page, with its cursor.` })
  class EdgeType {
    @Field(() => String, { description: "Opaque; pass it as `after` to get the items that follow this one." })
    cursor: string;

    @Field(() => node, { description: `The ${name}.` })
    node: T;
  }

  @ObjectType(`${name}ConnectionBase`)
  abstract class ConnectionType {
    @Field(() => [EdgeType], { description: "The page's items, in the connection's order." })
    edges: Edge<T>[];

    @Field(() => PageInfo, { description: "Whether more pages follow, and the cursors to get them." })
    pageInfo: PageInfo;

    @Field(() => Int, {
      nullable: true,
      description: "Total matching items. Not computed today: always null.",
    })
    totalCount?: number | null;
  }
  return ConnectionType;
}

/** Base for mutation payloads: every payload carries userErrors (empty on success). */
@ObjectType("PayloadBase")
export abstract class Payload {
  @Field(() => [UserError], {
    description: "Empty on success. Otherwise why the mutation did not do what was asked (see UserError).",
  })
  userErrors: UserError[];
}
