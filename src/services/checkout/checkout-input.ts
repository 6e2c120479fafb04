/** Checks a checkout request before anything is read or written; every problem at once. */
import { MAX_PAYMENT_AMOUNT } from "../../payments/index.js";
import { validateAddress } from "../address.js";
import { ErrorCode, type UserErrorData, UserFacingError } from "../errors.js";
import { isUuid, normalizeEmail } from "../validation.js";
import type { CheckoutInput } from "./checkout.types.js";

const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{8,200}$/;
const PAYMENT_METHOD = /^[A-Za-z0-9_]{3,255}$/;

export interface ValidCheckout extends CheckoutInput {
  cartId: string;
  email: string | null;
  expectedTotal: number | null;
  acceptPriceChanges: boolean;
}

export function validateCheckoutInput(input: CheckoutInput): ValidCheckout {
  const errors: UserErrorData[] = [];
  const bad = (field: string, message: string, code: UserErrorData["code"] = ErrorCode.INVALID_INPUT) =>
    errors.push({ code, message, field: ["input", field] });
  const collect = <T>(check: () => T): T | null => {
    try {
      return check();
    } catch (e) {
      if (!(e instanceof UserFacingError)) throw e;
      errors.push(...e.errors);
      return null;
    }
  };
  if (!isUuid(input.cartId)) bad("cartId", "Cart not found", ErrorCode.NOT_FOUND);
  if (!IDEMPOTENCY_KEY.test(input.idempotencyKey)) {
    bad(
      "idempotencyKey",
      "idempotencyKey must be 8 to 200 characters of letters, digits, '.', '_', ':' or '-'",
    );
  }
  if (!PAYMENT_METHOD.test(input.paymentMethod)) {
    bad("paymentMethod", "paymentMethod must be a payment token from the gateway, e.g. pm_card_visa");
  }
  const shippingAddress = input.shippingAddress
    ? collect(() => validateAddress(input.shippingAddress!, ["input", "shippingAddress"]))
    : null;
  const billingAddress = input.billingAddress
    ? collect(() => validateAddress(input.billingAddress!, ["input", "billingAddress"]))
    : null;
  const email = input.email ? collect(() => normalizeEmail(input.email!, ["input", "email"])) : null;
  const expected = input.expectedTotal ?? null;
  if (expected !== null && (!Number.isInteger(expected) || expected < 0 || expected > MAX_PAYMENT_AMOUNT)) {
    bad("expectedTotal", `expectedTotal must be an integer from 0 to ${MAX_PAYMENT_AMOUNT} (minor units)`);
  }
  if (errors.length) throw new UserFacingError(errors);
  return {
    ...input,
    cartId: input.cartId.toLowerCase(),
    shippingAddress,
    billingAddress,
    email,
    expectedTotal: expected,
    acceptPriceChanges: input.acceptPriceChanges === true,
  };
}
