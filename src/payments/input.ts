/**
 * The bounds every gateway enforces on what its caller computed (amounts, currency, keys, metadata),
 * in one place, so the TestGateway refuses exactly what Stripe would refuse. A violation is a bug in
 * the caller and is thrown; the client's payment-method token is not checked here (a bad token is an
 * ordinary decline).
 */
import { type AuthorizeInput, PaymentGatewayError } from "./gateway.js";

/** Stripe's largest single charge (eight digits of minor units); refuse more up front, before any order. */
export const MAX_PAYMENT_AMOUNT = 99_999_999;
const MAX_KEY_LENGTH = 255;
const MAX_METADATA_KEYS = 50;
const MAX_METADATA_KEY_LENGTH = 40;
const MAX_METADATA_VALUE_LENGTH = 500;

function invalid(message: string): never {
  throw new PaymentGatewayError("invalid_input", message);
}

export function checkAmount(amount: number, field = "amount"): void {
  if (!Number.isSafeInteger(amount) || amount < 1 || amount > MAX_PAYMENT_AMOUNT) {
    invalid(`${field} must be an integer from 1 to ${MAX_PAYMENT_AMOUNT} (minor units), got ${amount}`);
  }
}

export function checkIdempotencyKey(key: string): void {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
    invalid(`idempotencyKey must be 1..${MAX_KEY_LENGTH} printable ASCII characters without spaces`);
  }
}

export function checkIntentId(intentId: string): void {
  if (intentId.length === 0 || intentId.length > MAX_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(intentId)) {
    invalid("intentId must be 1..255 printable ASCII characters");
  }
}

/** The metadata every intent carries, ours last so a caller's extra keys cannot overwrite them. */
export function intentMetadata(input: AuthorizeInput): Record<string, string> {
  const metadata = {
    ...input.metadata,
    order_id: input.orderId,
    store: input.storeId,
    order_number: input.orderNumber,
  };
  const entries = Object.entries(metadata);
  if (entries.length > MAX_METADATA_KEYS) invalid(`metadata may hold at most ${MAX_METADATA_KEYS} keys`);
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > MAX_METADATA_KEY_LENGTH || key.includes("[") || key.includes("]")) {
      invalid(`metadata key "${key}" must be 1..${MAX_METADATA_KEY_LENGTH} characters without brackets`);
    }
    if (value.length > MAX_METADATA_VALUE_LENGTH) {
      invalid(`metadata value of "${key}" must be at most ${MAX_METADATA_VALUE_LENGTH} characters`);
    }
  }
  return metadata;
}

/** Checks what the caller computed; returns the currency as Stripe wants it (lower case). */
export function checkAuthorizeInput(input: AuthorizeInput): {
  currency: string;
  metadata: Record<string, string>;
} {
  checkAmount(input.amount);
  if (!/^[A-Za-z]{3}$/.test(input.currency))
    invalid(`currency must be an ISO 4217 code, got "${input.currency}"`);
  checkIdempotencyKey(input.idempotencyKey);
  if (!input.orderId || !input.storeId || !input.orderNumber) {
    invalid("orderId, storeId and orderNumber are required");
  }
  return { currency: input.currency.toLowerCase(), metadata: intentMetadata(input) };
}

/** A token that no processor could accept (empty, huge, control characters): decline without asking. */
export function isMalformedPaymentMethod(token: string): boolean {
  return token.length === 0 || token.length > MAX_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(token);
}
