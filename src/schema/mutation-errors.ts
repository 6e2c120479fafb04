/**
 * The one home of which error codes each mutation can answer with. Read from the services each
 * mutation calls; every mutation's description ends with the line `errorCodesLine` writes from here,
 * scripts/api-docs.ts lists them in docs/api.md, and the test suite records every (mutation, code) it
 * sees and fails when one is not listed here (test/support/error-recorder.ts).
 *
 * Two channels, as a client meets them:
 * - `userErrors`: codes in the payload's `userErrors` (an expected failure; `ErrorCode` values);
 * - `errors`: codes of GraphQL errors at the mutation's own path (`errors[].extensions.code`): the
 *   authentication and authorisation failures that services raise as UnauthenticatedError /
 *   ForbiddenError and server/errors.ts keeps visible. The payload is then null.
 * Not listed per mutation, because any operation can get them before or around execution: the
 * request-level codes (STORE_NOT_FOUND, UNAUTHENTICATED for a bad token, RATE_LIMITED, INVALID_INPUT
 * for unencodable text, GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, BAD_USER_INPUT,
 * QUERY_TOO_COMPLEX, QUERY_TOO_DEEP, TOO_MANY_ALIASES, TOO_MANY_MUTATIONS, ...) and
 * INTERNAL_SERVER_ERROR, the masked unexpected failure.
 */
import { ErrorCode } from "../services/errors.js";

/** Codes of GraphQL errors a resolver raises on purpose (server/errors.ts `toGraphQLError`). */
export const FIELD_ERROR_CODES = ["UNAUTHENTICATED", "FORBIDDEN"] as const;
export type FieldErrorCode = (typeof FIELD_ERROR_CODES)[number];

export interface MutationErrorCodes {
  /** Codes of the payload's `userErrors`. */
  readonly userErrors: readonly ErrorCode[];
  /** Codes of GraphQL errors at the mutation's path (`errors[].extensions.code`). */
  readonly errors: readonly FieldErrorCode[];
}

const E = ErrorCode;

/** Guests and customers only: anonymous callers are UNAUTHENTICATED, staff FORBIDDEN. */
const SHOPPER_ONLY: readonly FieldErrorCode[] = ["UNAUTHENTICATED", "FORBIDDEN"];
/** Signed-in customers only: anonymous callers are UNAUTHENTICATED, guests and staff FORBIDDEN. */
const CUSTOMER_ONLY: readonly FieldErrorCode[] = ["UNAUTHENTICATED", "FORBIDDEN"];
/** Staff only: everyone else, anonymous callers included, is FORBIDDEN. */
const STAFF_ONLY: readonly FieldErrorCode[] = ["FORBIDDEN"];

/**
 * A cart write (CartService.write): the cart id names no cart of the caller (NOT_FOUND), or the cart
 * is no longer open (CART_NOT_ACTIVE). A write that asks for no more units never fails for stock,
 * even in a store that holds stock from add-to-cart (cart-holds.ts); those that do list
 * INSUFFICIENT_STOCK themselves.
 */
const CART_WRITE = [E.NOT_FOUND, E.CART_NOT_ACTIVE] as const;

/** Adding lines (cartCreate, cartLinesAdd, savedItemMoveToCart): CartService.applyAdds and its checks. */
const LINE_ADDS = [
  E.INVALID_INPUT,
  E.NOT_FOUND,
  E.VARIANT_UNAVAILABLE,
  E.INSUFFICIENT_STOCK,
  E.CART_LIMIT_REACHED,
] as const;

/** Why a discount code counts for nothing (pricing's DiscountRejection). */
const DISCOUNT_REJECTIONS = [
  E.DISCOUNT_INACTIVE,
  E.DISCOUNT_NOT_YET_VALID,
  E.DISCOUNT_EXPIRED,
  E.DISCOUNT_LIMIT_REACHED,
  E.DISCOUNT_CUSTOMER_LIMIT_REACHED,
  E.DISCOUNT_MIN_ORDER_NOT_MET,
  E.DISCOUNT_NOT_APPLICABLE,
  E.DISCOUNT_NOT_COMBINABLE,
] as const;

/**
 * Signing in with a guestCartId whose cart cannot be merged: the customer is signed in anyway and the
 * reason comes as a userError on guestCartId (SignInService.withCart).
 */
const GUEST_CART_MERGE = [E.NOT_FOUND, E.CART_NOT_ACTIVE, E.INSUFFICIENT_STOCK] as const;

const codes = (userErrors: readonly ErrorCode[], errors: readonly FieldErrorCode[] = []) => ({
  userErrors: [...new Set(userErrors)],
  errors,
});

export const MUTATION_ERRORS = {
  // identity
  guestSessionCreate: codes([]),
  customerRegister: codes([E.INVALID_INPUT, E.RATE_LIMITED, E.EMAIL_TAKEN, ...GUEST_CART_MERGE]),
  customerLogin: codes([E.INVALID_INPUT, E.RATE_LIMITED, E.INVALID_CREDENTIALS, ...GUEST_CART_MERGE]),
  staffLogin: codes([E.INVALID_INPUT, E.RATE_LIMITED, E.INVALID_CREDENTIALS]),
  signOut: codes([], ["UNAUTHENTICATED", "FORBIDDEN"]),

  // carts
  cartCreate: codes([...LINE_ADDS, E.RATE_LIMITED], SHOPPER_ONLY),
  cartLinesAdd: codes([...LINE_ADDS, ...CART_WRITE], SHOPPER_ONLY),
  cartLinesUpdate: codes(
    [E.INVALID_INPUT, ...CART_WRITE, E.VARIANT_UNAVAILABLE, E.INSUFFICIENT_STOCK, E.CART_LIMIT_REACHED],
    SHOPPER_ONLY,
  ),
  cartLinesRemove: codes([E.INVALID_INPUT, ...CART_WRITE], SHOPPER_ONLY),
  cartEmailUpdate: codes([E.INVALID_INPUT, ...CART_WRITE], SHOPPER_ONLY),
  cartRecover: codes([
    E.LINK_INVALID,
    E.LINK_EXPIRED,
    E.NOT_FOUND,
    E.FORBIDDEN,
    E.CART_NOT_ACTIVE,
    E.CART_LIMIT_REACHED,
    E.INSUFFICIENT_STOCK,
  ]),
  cartLineSaveForLater: codes([...CART_WRITE], CUSTOMER_ONLY),
  savedItemMoveToCart: codes([...LINE_ADDS, ...CART_WRITE], CUSTOMER_ONLY),
  savedItemRemove: codes([E.NOT_FOUND], CUSTOMER_ONLY),

  // discounts
  cartDiscountCodeApply: codes([E.DISCOUNT_NOT_FOUND, ...DISCOUNT_REJECTIONS, ...CART_WRITE], SHOPPER_ONLY),
  cartDiscountCodeRemove: codes([E.DISCOUNT_NOT_FOUND, ...CART_WRITE], SHOPPER_ONLY),

  // shipping
  cartShippingAddressUpdate: codes([E.INVALID_INPUT, ...CART_WRITE], SHOPPER_ONLY),
  cartShippingMethodSelect: codes(
    [...CART_WRITE, E.SHIPPING_ADDRESS_REQUIRED, E.SHIPPING_METHOD_UNAVAILABLE],
    SHOPPER_ONLY,
  ),

  // checkout
  checkoutComplete: codes(
    [
      E.INVALID_INPUT,
      E.NOT_FOUND,
      E.IDEMPOTENCY_KEY_REUSED,
      E.CART_NOT_ACTIVE,
      E.CART_EMPTY,
      E.SHIPPING_ADDRESS_REQUIRED,
      E.SHIPPING_METHOD_REQUIRED,
      E.SHIPPING_METHOD_UNAVAILABLE,
      E.VARIANT_UNAVAILABLE,
      ...DISCOUNT_REJECTIONS,
      E.PRICE_CHANGED,
      E.CART_LIMIT_REACHED,
      E.INSUFFICIENT_STOCK,
      E.PAYMENT_DECLINED,
      E.PAYMENT_REQUIRES_ACTION,
      E.PAYMENT_FAILED,
    ],
    SHOPPER_ONLY,
  ),

  // orders
  orderCancel: codes([E.NOT_FOUND, E.INVALID_INPUT, E.INVALID_ORDER_TRANSITION, E.PAYMENT_FAILED]),

  // staff: catalog
  productCreate: codes([E.INVALID_INPUT], STAFF_ONLY),
  variantPriceUpdate: codes([E.NOT_FOUND, E.INVALID_INPUT], STAFF_ONLY),
  inventoryAdjust: codes([E.NOT_FOUND, E.INVALID_INPUT, E.INSUFFICIENT_STOCK], STAFF_ONLY),

  // staff: discounts, shipping, tax, settings
  discountCreate: codes([E.INVALID_INPUT], STAFF_ONLY),
  discountUpdate: codes([E.NOT_FOUND, E.INVALID_INPUT], STAFF_ONLY),
  shippingMethodCreate: codes([E.INVALID_INPUT], STAFF_ONLY),
  taxRateUpsert: codes([E.INVALID_INPUT], STAFF_ONLY),
  storeSettingsUpdate: codes([E.INVALID_INPUT], STAFF_ONLY),

  // staff: orders
  orderTransition: codes([E.NOT_FOUND, E.INVALID_INPUT, E.INVALID_ORDER_TRANSITION], STAFF_ONLY),
  orderRefund: codes(
    [E.NOT_FOUND, E.INVALID_INPUT, E.INVALID_ORDER_TRANSITION, E.IDEMPOTENCY_KEY_REUSED, E.PAYMENT_FAILED],
    STAFF_ONLY,
  ),
  orderReviewApprove: codes([E.NOT_FOUND, E.INVALID_ORDER_TRANSITION, E.PAYMENT_FAILED], STAFF_ONLY),
  orderReviewReject: codes([E.NOT_FOUND, E.INVALID_ORDER_TRANSITION, E.PAYMENT_FAILED], STAFF_ONLY),
} satisfies Record<string, MutationErrorCodes>;

export type MutationName = keyof typeof MUTATION_ERRORS;

export function mutationErrors(name: string): MutationErrorCodes | undefined {
  return Object.hasOwn(MUTATION_ERRORS, name) ? MUTATION_ERRORS[name as MutationName] : undefined;
}

/** The last line of a mutation's description: its codes, from MUTATION_ERRORS. */
export function errorCodesLine(name: MutationName): string {
  const { userErrors, errors } = MUTATION_ERRORS[name];
  const parts = [
    ...(userErrors.length ? [`userErrors ${userErrors.join(", ")}`] : []),
    ...(errors.length ? [`GraphQL errors ${errors.join(", ")}`] : []),
  ];
  return `Error codes: ${parts.length ? parts.join("; ") : "none of its own"}.`;
}
