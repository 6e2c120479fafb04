/**
 * Expected failures. Services throw `UserFacingError` (which rolls back any open transaction, so
 * "nothing written" holds); resolvers turn it into the payload's `userErrors`. Authentication and
 * authorisation failures are separate: they become GraphQL errors with an `extensions.code`.
 */
export const ErrorCode = {
  INVALID_INPUT: "INVALID_INPUT",
  NOT_FOUND: "NOT_FOUND",
  FORBIDDEN: "FORBIDDEN",
  INSUFFICIENT_STOCK: "INSUFFICIENT_STOCK",
  VARIANT_UNAVAILABLE: "VARIANT_UNAVAILABLE",
  CART_NOT_ACTIVE: "CART_NOT_ACTIVE",
  CART_EMPTY: "CART_EMPTY",
  /** A cart limit: lines per cart, value of goods, open carts per guest session. */
  CART_LIMIT_REACHED: "CART_LIMIT_REACHED",
  DISCOUNT_NOT_FOUND: "DISCOUNT_NOT_FOUND",
  DISCOUNT_INACTIVE: "DISCOUNT_INACTIVE",
  DISCOUNT_NOT_YET_VALID: "DISCOUNT_NOT_YET_VALID",
  DISCOUNT_EXPIRED: "DISCOUNT_EXPIRED",
  DISCOUNT_LIMIT_REACHED: "DISCOUNT_LIMIT_REACHED",
  DISCOUNT_CUSTOMER_LIMIT_REACHED: "DISCOUNT_CUSTOMER_LIMIT_REACHED",
  DISCOUNT_MIN_ORDER_NOT_MET: "DISCOUNT_MIN_ORDER_NOT_MET",
  DISCOUNT_NOT_APPLICABLE: "DISCOUNT_NOT_APPLICABLE",
  DISCOUNT_NOT_COMBINABLE: "DISCOUNT_NOT_COMBINABLE",
  SHIPPING_ADDRESS_REQUIRED: "SHIPPING_ADDRESS_REQUIRED",
  SHIPPING_METHOD_REQUIRED: "SHIPPING_METHOD_REQUIRED",
  SHIPPING_METHOD_UNAVAILABLE: "SHIPPING_METHOD_UNAVAILABLE",
  PRICE_CHANGED: "PRICE_CHANGED",
  PAYMENT_DECLINED: "PAYMENT_DECLINED",
  PAYMENT_REQUIRES_ACTION: "PAYMENT_REQUIRES_ACTION",
  PAYMENT_FAILED: "PAYMENT_FAILED",
  IDEMPOTENCY_KEY_REUSED: "IDEMPOTENCY_KEY_REUSED",
  INVALID_ORDER_TRANSITION: "INVALID_ORDER_TRANSITION",
  EMAIL_TAKEN: "EMAIL_TAKEN",
  INVALID_CREDENTIALS: "INVALID_CREDENTIALS",
  RATE_LIMITED: "RATE_LIMITED",
  /** A signed link (e.g. cart recovery) that is malformed, tampered with or for another store. */
  LINK_INVALID: "LINK_INVALID",
  /** A signed link past its lifetime. */
  LINK_EXPIRED: "LINK_EXPIRED",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface UserErrorData {
  code: ErrorCode;
  message: string;
  /** Path to the offending input field, e.g. ["lines", "0", "quantity"]. */
  field?: string[];
  variantId?: string;
  available?: number;
  /** A required amount (minor units), e.g. the minimum order for DISCOUNT_MIN_ORDER_NOT_MET. */
  requiredAmount?: number;
}

export class UserFacingError extends Error {
  readonly errors: UserErrorData[];
  constructor(errors: UserErrorData | UserErrorData[]) {
    const list = Array.isArray(errors) ? errors : [errors];
    super(list.map((e) => `${e.code}: ${e.message}`).join("; "));
    this.name = "UserFacingError";
    this.errors = list;
  }
}

export function userError(
  code: ErrorCode,
  message: string,
  extra: Omit<UserErrorData, "code" | "message"> = {},
): UserFacingError {
  return new UserFacingError({ code, message, ...extra });
}

/** The caller is not signed in (or its token is invalid) and the operation needs it. */
export class UnauthenticatedError extends Error {
  constructor(message = "Authentication required") {
    super(message);
    this.name = "UnauthenticatedError";
  }
}

/** The caller is known but not allowed to do this (e.g. a staff mutation without a staff token). */
export class ForbiddenError extends Error {
  constructor(message = "Not allowed") {
    super(message);
    this.name = "ForbiddenError";
  }
}

/** The `x-store` header names no store. */
export class UnknownStoreError extends Error {
  constructor(readonly handle: string) {
    super(`Unknown store "${handle}"`);
    this.name = "UnknownStoreError";
  }
}
