/**
 * The payment port: what the checkout saga, order cancellation/refund and crash recovery may ask of a
 * card processor. Two implementations: `StripeGateway` (the official SDK) and `TestGateway` (offline,
 * Stripe's test tokens, deterministic). Callers hold no database transaction open across any of these
 * calls.
 *
 * Every outcome is one of three kinds, and the difference matters for money:
 * - success (`authorized`, `captured`, ...): the processor confirmed it;
 * - a definitive failure (`declined`, `failed`): the processor answered and nothing happened;
 * - `unknown`: no answer (timeout, connection lost, 5xx, 429 after the SDK's own retries). The operation
 *   may or may not have happened. The caller must not treat it as a failure; it retries later with the
 *   SAME idempotency key, or asks `retrieve`.
 * Misconfiguration (bad API key, missing permission) and caller bugs (an idempotency key reused with
 * other parameters, an amount out of bounds) are thrown as `PaymentGatewayError`: retrying cannot help.
 */

export type GatewayName = "stripe" | "test";

export interface AuthorizeInput {
  storeId: string;
  orderId: string;
  orderNumber: string;
  /** Integer minor units, 1..MAX_PAYMENT_AMOUNT. Always the order's total, never a client's figure. */
  amount: number;
  /** ISO 4217, e.g. "USD"; sent lower-cased. */
  currency: string;
  /** A gateway token from the client, e.g. "pm_card_visa". Untrusted: a bad one is a decline. */
  paymentMethod: string;
  /**
   * Derived by the caller from the order id and reused on every retry of this authorisation (Stripe
   * keeps a key for at least 24 hours). Same key + same input -> the same intent, never a second hold.
   */
  idempotencyKey: string;
  /** Sent as Stripe's `receipt_email` when given. */
  email?: string | null;
  /** Extra metadata; `order_id`, `store` and `order_number` are always set from the fields above. */
  metadata?: Record<string, string>;
}

export type AuthorizeOutcome =
  /** Funds are held (`requires_capture`); capture or cancel must follow. */
  | {
      kind: "authorized";
      intentId: string;
      amountCapturable: number;
      /** Same card -> same fingerprint (fraud rules, "card used before"); null when the gateway has none. */
      cardFingerprint: string | null;
    }
  /** 3-D Secure: the client completes it with `clientSecret`; a webhook reports the result. */
  | { kind: "requires_action"; intentId: string; clientSecret: string }
  /** Definitive: the card or the request was refused; nothing is held. */
  | { kind: "declined"; intentId: string | null; declineCode: string; message: string }
  /**
   * No answer. An intent may exist and may hold funds. `intentId` is set when one is known (e.g. the
   * intent is `processing`). Retrying `authorize` with the same input and key is safe.
   */
  | { kind: "unknown"; intentId: string | null; message: string };

export interface CaptureInput {
  intentId: string;
  /** Capture less than authorised (the rest is released); omitted: everything capturable. */
  amount?: number;
  idempotencyKey: string;
}
export type CaptureOutcome =
  | { kind: "captured"; intentId: string; amountReceived: number }
  | { kind: "failed"; code: string; message: string }
  | { kind: "unknown"; message: string };

/** Stripe's `cancellation_reason` values. */
export type CancelReason = "duplicate" | "fraudulent" | "requested_by_customer" | "abandoned";
export interface CancelInput {
  intentId: string;
  idempotencyKey: string;
  reason?: CancelReason;
}
/** Cancelling voids an uncaptured authorisation; an intent that is already cancelled is a success. */
export type CancelOutcome =
  | { kind: "cancelled"; intentId: string }
  | { kind: "failed"; code: string; message: string }
  | { kind: "unknown"; message: string };

export interface RefundInput {
  intentId: string;
  /** Integer minor units, > 0, at most what was captured and not yet refunded. */
  amount: number;
  idempotencyKey: string;
  /** Free text kept with the refund (metadata `reason`), e.g. the staff member's reason. */
  reason?: string;
}
export type RefundOutcome =
  /** `pending`: accepted, the card network has not confirmed yet (rare for cards); money is on its way. */
  | { kind: "refunded"; refundId: string; amount: number; status: "succeeded" | "pending" }
  | { kind: "failed"; code: string; message: string }
  | { kind: "unknown"; message: string };

/**
 * An intent's status in our words:
 * - `requires_payment_method`: nothing held; never confirmed, or the last attempt was declined
 *   (`lastPaymentError` says which); Stripe's `requires_confirmation` maps here too;
 * - `requires_action`: waiting for the customer (3-D Secure);
 * - `processing`: the processor is still deciding;
 * - `authorized`: funds held (Stripe `requires_capture`);
 * - `captured`: money taken (Stripe `succeeded`), possibly refunded since (`amountRefunded`);
 * - `cancelled`: voided; nothing held.
 */
export type IntentStatus =
  | "requires_payment_method"
  | "requires_action"
  | "processing"
  | "authorized"
  | "captured"
  | "cancelled";

export interface IntentState {
  intentId: string;
  status: IntentStatus;
  amount: number;
  currency: string;
  amountCapturable: number;
  amountReceived: number;
  amountRefunded: number;
  /** From metadata: the order and store the intent was created for. */
  orderId: string | null;
  storeId: string | null;
  orderNumber: string | null;
  clientSecret: string | null;
  lastPaymentError: { code: string; declineCode: string | null; message: string } | null;
  created: Date;
}

/** An intent as a webhook carries it: the refunded amount lives on the charge, which events do not expand. */
export type IntentSnapshot = Omit<IntentState, "amountRefunded">;

/** A verified webhook, reduced to what our services need. */
export interface WebhookEvent {
  /** Unique per event: store it to process each delivery once (Stripe delivers at least once). */
  id: string;
  /** e.g. `payment_intent.amount_capturable_updated`, `payment_intent.payment_failed`, `charge.refunded`. */
  type: string;
  created: Date;
  livemode: boolean;
  /** The intent the event is about (for charge and refund events, the one they belong to). */
  intentId: string | null;
  /** From the object's metadata; null for objects we did not create. */
  orderId: string | null;
  storeId: string | null;
  /** Present when the event's object is a payment intent. */
  intent: IntentSnapshot | null;
  /** The object's amount (intent amount, charge amount, refund amount) when it has one. */
  amount: number | null;
}

export interface FindIntentsInput {
  storeId: string;
  orderId: string;
}

export interface PaymentGateway {
  readonly name: GatewayName;
  /** Creates and confirms a PaymentIntent with manual capture. */
  authorize(input: AuthorizeInput): Promise<AuthorizeOutcome>;
  capture(input: CaptureInput): Promise<CaptureOutcome>;
  cancel(input: CancelInput): Promise<CancelOutcome>;
  refund(input: RefundInput): Promise<RefundOutcome>;
  /**
   * The intent's current state; null when the gateway has no such intent.
   * Throws `PaymentGatewayError` (reason `unavailable`) when it cannot be asked right now.
   */
  retrieve(intentId: string): Promise<IntentState | null>;
  /**
   * Crash recovery's way to learn intents created for an order whose intent id was never stored.
   * Limits (see each implementation): Stripe answers from its search index, which is eventually
   * consistent (usually under a minute behind, longer during incidents), so an empty answer for an
   * order younger than a few minutes proves nothing. The TestGateway knows only the intents issued by
   * this process. Within 24 hours, replaying `authorize` with the same input and key is exact on both.
   * Throws `PaymentGatewayError` (reason `unavailable`) when it cannot be asked right now.
   */
  findIntentsByOrder(input: FindIntentsInput): Promise<IntentState[]>;
  /**
   * Verifies the `Stripe-Signature` header over the raw body (tolerance 300 s) and parses the event.
   * Throws `WebhookSignatureError` when unsigned, signed with another secret, stale or tampered with.
   */
  parseWebhook(rawBody: Buffer | string, signatureHeader: string | undefined): WebhookEvent;
}

export type PaymentGatewayErrorReason =
  /** The gateway could not be asked (retrieve/find only; writes answer `unknown` instead). */
  | "unavailable"
  /** Bad API key or missing permission: an operator must fix the configuration. */
  | "misconfigured"
  /** The idempotency key was used before with other parameters: a bug in the caller. */
  | "idempotency_conflict"
  /** The caller passed an amount, currency or key out of bounds: a bug in the caller. */
  | "invalid_input";

export class PaymentGatewayError extends Error {
  constructor(
    readonly reason: PaymentGatewayErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "PaymentGatewayError";
  }
}

/** The webhook request is not provably from the gateway (or not an event at all): answer 400. */
export class WebhookSignatureError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WebhookSignatureError";
  }
}
