/**
 * Webhook signatures (Stripe's `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`) and the
 * reduction of a verified event to our `WebhookEvent`. Both gateways verify through here, with the
 * SDK's own verifier; the TestGateway simply signs with its own secret.
 */
import Stripe from "stripe";
import { type WebhookEvent, WebhookSignatureError } from "./gateway.js";
import { intentSnapshot, metadataValue } from "./stripe-objects.js";

/** Seconds a signed event stays acceptable: replaying a captured delivery later than this fails. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

export interface SignedWebhook {
  payload: string;
  header: string;
}

/** Signs a payload as Stripe would (tests, the TestGateway's events). `timestamp` in unix seconds. */
export function signWebhookPayload(payload: string, secret: string, timestamp?: number): SignedWebhook {
  const header = Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
  return { payload, header };
}

export function verifyWebhook(
  rawBody: Buffer | string,
  signatureHeader: string | undefined,
  secret: string,
  tolerance = WEBHOOK_TOLERANCE_SECONDS,
): WebhookEvent {
  let event: Stripe.Event;
  try {
    event = Stripe.webhooks.constructEvent(rawBody, signatureHeader ?? "", secret, tolerance);
  } catch (error) {
    // SignatureVerificationError, or a correctly signed body that is not JSON: either way not an event.
    const reason = error instanceof Error ? error.message.split("\n")[0] : "unreadable";
    throw new WebhookSignatureError(`Webhook rejected: ${reason}`, { cause: error });
  }
  return toWebhookEvent(event);
}

function field(object: Record<string, unknown>, key: string): unknown {
  return object[key];
}

function asString(value: unknown): string | null {
  return typeof value === "string" && value.length > 0 ? value : null;
}

export function toWebhookEvent(event: Stripe.Event): WebhookEvent {
  if (typeof event?.id !== "string" || typeof event.type !== "string" || typeof event.created !== "number") {
    throw new WebhookSignatureError("Webhook rejected: the body is not an event");
  }
  const object = (event.data?.object ?? {}) as unknown as Record<string, unknown>;
  const kind = field(object, "object");
  const metadata = (field(object, "metadata") ?? null) as Stripe.Metadata | null;
  const isIntent = kind === "payment_intent";
  // Charges and refunds point at their intent; an expanded reference is an object with an id.
  const reference = field(object, "payment_intent");
  const intentId = isIntent
    ? asString(field(object, "id"))
    : (asString(reference) ?? asString((reference as { id?: unknown } | null)?.id));
  const amount = field(object, "amount");
  return {
    id: event.id,
    type: event.type,
    created: new Date(event.created * 1000),
    livemode: event.livemode === true,
    intentId,
    orderId: metadataValue(metadata, "order_id"),
    storeId: metadataValue(metadata, "store"),
    intent: isIntent ? intentSnapshot(object as unknown as Stripe.PaymentIntent) : null,
    amount: typeof amount === "number" ? amount : null,
  };
}
