/**
 * Stripe's objects in our words: a PaymentIntent's status and amounts, the metadata that ties it to an
 * order. Used by the StripeGateway (API answers) and by webhook parsing for both gateways (the
 * TestGateway signs Stripe-shaped events too).
 */
import type Stripe from "stripe";
import type { IntentSnapshot, IntentState, IntentStatus } from "./gateway.js";

const statusMap: Record<string, IntentStatus> = {
  requires_payment_method: "requires_payment_method",
  requires_confirmation: "requires_payment_method",
  requires_action: "requires_action",
  processing: "processing",
  requires_capture: "authorized",
  succeeded: "captured",
  canceled: "cancelled",
};

/** An unrecognised status (Stripe adds some over time) is reported as `processing`: undecided. */
export function intentStatus(stripeStatus: string): IntentStatus {
  return statusMap[stripeStatus] ?? "processing";
}

export function metadataValue(metadata: Stripe.Metadata | null | undefined, key: string): string | null {
  const value = metadata?.[key];
  return typeof value === "string" && value.length > 0 ? value : null;
}

function chargeOf(intent: Stripe.PaymentIntent): Stripe.Charge | null {
  return intent.latest_charge !== null && typeof intent.latest_charge === "object"
    ? intent.latest_charge
    : null;
}

export function cardFingerprint(intent: Stripe.PaymentIntent): string | null {
  return chargeOf(intent)?.payment_method_details?.card?.fingerprint ?? null;
}

/** Everything but `amountRefunded`, which lives on the charge and is known only when it is expanded. */
export function intentSnapshot(intent: Stripe.PaymentIntent): IntentSnapshot {
  const error = intent.last_payment_error;
  return {
    intentId: intent.id,
    status: intentStatus(intent.status),
    amount: intent.amount,
    currency: intent.currency.toUpperCase(),
    amountCapturable: intent.amount_capturable,
    amountReceived: intent.amount_received,
    orderId: metadataValue(intent.metadata, "order_id"),
    storeId: metadataValue(intent.metadata, "store"),
    orderNumber: metadataValue(intent.metadata, "order_number"),
    clientSecret: intent.client_secret,
    lastPaymentError: error
      ? {
          code: error.code ?? error.type,
          declineCode: error.decline_code ?? null,
          message: error.message ?? "The payment failed",
        }
      : null,
    created: new Date(intent.created * 1000),
  };
}

/** For an intent retrieved with `expand: ["latest_charge"]`. */
export function intentState(intent: Stripe.PaymentIntent): IntentState {
  return { ...intentSnapshot(intent), amountRefunded: chargeOf(intent)?.amount_refunded ?? 0 };
}
