/**
 * What a Stripe SDK error means for money. One classification for every call:
 * - `definitive`: Stripe answered and did nothing (card declined, request invalid for the object's state);
 * - `unknown`: no usable answer (connection, timeout, 409 in-flight key, 5xx, 429) after the SDK's own
 *   retries: the operation may have happened, retry with the same key or ask `retrieve`;
 * - thrown `PaymentGatewayError`: misconfiguration (401/403) or a caller bug (idempotency key reused
 *   with other parameters); retrying cannot help.
 * Anything that is not a Stripe error (a bug of ours) is rethrown unchanged.
 */
import Stripe from "stripe";
import { PaymentGatewayError } from "./gateway.js";

export type StripeFailure =
  | {
      kind: "definitive";
      code: string;
      declineCode: string | null;
      message: string;
      /** The intent the error is about, when Stripe includes it (declines, unexpected-state errors). */
      intent: Stripe.PaymentIntent | null;
      param: string | null;
    }
  | { kind: "unknown"; message: string; intentId: string | null };

const { errors } = Stripe;

export function classifyStripeError(error: unknown): StripeFailure {
  if (!(error instanceof errors.StripeError)) throw error;
  if (error instanceof errors.StripeAuthenticationError || error instanceof errors.StripePermissionError) {
    throw new PaymentGatewayError("misconfigured", `Stripe refused our credentials: ${error.message}`, {
      cause: error,
    });
  }
  if (error instanceof errors.StripeIdempotencyError) {
    throw new PaymentGatewayError("idempotency_conflict", `Stripe idempotency error: ${error.message}`, {
      cause: error,
    });
  }
  const intent = (error.payment_intent ?? null) as Stripe.PaymentIntent | null;
  if (error instanceof errors.StripeCardError || error instanceof errors.StripeInvalidRequestError) {
    return {
      kind: "definitive",
      code: error.code ?? (error instanceof errors.StripeCardError ? "card_declined" : "invalid_request"),
      declineCode: error.decline_code || null,
      message: error.message || "Stripe refused the request",
      intent,
      param: error.param ?? null,
    };
  }
  // StripeConnectionError (network, timeout), StripeAPIError (5xx, 409), StripeRateLimitError (429) and
  // any other API error class the SDK may add: we cannot tell whether Stripe acted.
  return { kind: "unknown", message: error.message || error.type, intentId: intent?.id ?? null };
}
