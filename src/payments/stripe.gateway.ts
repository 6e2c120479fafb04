/**
 * The PaymentGateway on Stripe's official SDK: PaymentIntents with manual capture, refunds, search,
 * signed webhooks. Every write carries the caller's idempotency key; the SDK resends that same key on
 * its own retries (connection errors, 409, 5xx), so a retry can never authorise or capture twice.
 */
import Stripe from "stripe";
import type {
  AuthorizeInput,
  AuthorizeOutcome,
  CancelInput,
  CancelOutcome,
  CaptureInput,
  CaptureOutcome,
  FindIntentsInput,
  IntentState,
  PaymentGateway,
  RefundInput,
  RefundOutcome,
  WebhookEvent,
} from "./gateway.js";
import { PaymentGatewayError } from "./gateway.js";
import {
  checkAmount,
  checkAuthorizeInput,
  checkIdempotencyKey,
  checkIntentId,
  isMalformedPaymentMethod,
} from "./input.js";
import { classifyStripeError } from "./stripe-errors.js";
import { cardFingerprint, intentState } from "./stripe-objects.js";
import { verifyWebhook } from "./webhook.js";

export interface StripeGatewayOptions {
  secretKey: string;
  webhookSecret: string;
  /** e.g. `http://127.0.0.1:47123` for a local stand-in; the SDK appends `/v1/...` itself. */
  apiBase?: string;
  /** Per request, per attempt. */
  timeoutMs?: number;
  /** Retries the SDK makes itself, with the same idempotency key. */
  maxNetworkRetries?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_NETWORK_RETRIES = 2;
/** Stripe's search query language wants values in single quotes; refuse anything that could break out. */
const SEARCHABLE = /^[A-Za-z0-9_-]{1,200}$/;

function hostOptions(apiBase: string | undefined): Pick<Stripe.StripeConfig, "host" | "port" | "protocol"> {
  if (!apiBase) return {};
  const url = new URL(apiBase);
  if (url.pathname !== "/" || url.search || url.hash) {
    throw new PaymentGatewayError(
      "misconfigured",
      "STRIPE_API_BASE must be an origin only, e.g. http://host:port",
    );
  }
  const protocol = url.protocol === "http:" ? "http" : "https";
  // URL keeps an IPv6 literal in brackets; node:http wants the bare address.
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return { host, port: url.port || (protocol === "http" ? 80 : 443), protocol };
}

export class StripeGateway implements PaymentGateway {
  readonly name = "stripe" as const;
  private readonly stripe: Stripe;
  private readonly webhookSecret: string;

  constructor(options: StripeGatewayOptions) {
    this.webhookSecret = options.webhookSecret;
    this.stripe = new Stripe(options.secretKey, {
      ...hostOptions(options.apiBase),
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxNetworkRetries: options.maxNetworkRetries ?? DEFAULT_MAX_NETWORK_RETRIES,
      appInfo: { name: "cartograph" },
    });
  }

  async authorize(input: AuthorizeInput): Promise<AuthorizeOutcome> {
    const { currency, metadata } = checkAuthorizeInput(input);
    if (isMalformedPaymentMethod(input.paymentMethod)) {
      return {
        kind: "declined",
        intentId: null,
        declineCode: "invalid_payment_method",
        message: "Invalid card",
      };
    }
    let intent: Stripe.PaymentIntent;
    try {
      intent = await this.stripe.paymentIntents.create(
        {
          amount: input.amount,
          currency,
          payment_method: input.paymentMethod,
          // Confirmed server-side with no return URL: only methods that never redirect the shopper.
          automatic_payment_methods: { enabled: true, allow_redirects: "never" },
          confirm: true,
          capture_method: "manual",
          description: `Order ${input.orderNumber}`,
          metadata,
          ...(input.email ? { receipt_email: input.email } : {}),
          expand: ["latest_charge"],
        },
        { idempotencyKey: input.idempotencyKey },
      );
    } catch (error) {
      const failure = classifyStripeError(error);
      if (failure.kind === "unknown")
        return { kind: "unknown", intentId: failure.intentId, message: failure.message };
      return {
        kind: "declined",
        intentId: failure.intent?.id ?? null,
        // "No such PaymentMethod" is a 400 about the client's token: the card is unusable, say so.
        declineCode:
          failure.declineCode ??
          (failure.param === "payment_method" ? "invalid_payment_method" : failure.code),
        message: failure.message,
      };
    }
    switch (intent.status) {
      case "requires_capture":
        return {
          kind: "authorized",
          intentId: intent.id,
          amountCapturable: intent.amount_capturable,
          cardFingerprint: cardFingerprint(intent),
        };
      case "requires_action":
        if (intent.client_secret) {
          return { kind: "requires_action", intentId: intent.id, clientSecret: intent.client_secret };
        }
        break;
      case "requires_payment_method": {
        const error = intent.last_payment_error;
        return {
          kind: "declined",
          intentId: intent.id,
          declineCode: error?.decline_code ?? error?.code ?? "card_declined",
          message: error?.message ?? "The card was declined",
        };
      }
    }
    // processing (or anything new): Stripe has not decided; a webhook or `retrieve` will tell.
    return { kind: "unknown", intentId: intent.id, message: `Payment intent is ${intent.status}` };
  }

  async capture(input: CaptureInput): Promise<CaptureOutcome> {
    checkIntentId(input.intentId);
    checkIdempotencyKey(input.idempotencyKey);
    if (input.amount !== undefined) checkAmount(input.amount);
    try {
      const intent = await this.stripe.paymentIntents.capture(
        input.intentId,
        input.amount === undefined ? {} : { amount_to_capture: input.amount },
        { idempotencyKey: input.idempotencyKey },
      );
      if (intent.status === "succeeded") {
        return { kind: "captured", intentId: intent.id, amountReceived: intent.amount_received };
      }
      return { kind: "unknown", message: `Payment intent is ${intent.status} after capture` };
    } catch (error) {
      const failure = classifyStripeError(error);
      if (failure.kind === "unknown") return { kind: "unknown", message: failure.message };
      // Captured before under another key (e.g. by recovery): the money is taken, which is what we asked.
      if (failure.code === "payment_intent_unexpected_state" && failure.intent?.status === "succeeded") {
        return {
          kind: "captured",
          intentId: failure.intent.id,
          amountReceived: failure.intent.amount_received,
        };
      }
      return { kind: "failed", code: failure.code, message: failure.message };
    }
  }

  async cancel(input: CancelInput): Promise<CancelOutcome> {
    checkIntentId(input.intentId);
    checkIdempotencyKey(input.idempotencyKey);
    try {
      const intent = await this.stripe.paymentIntents.cancel(
        input.intentId,
        input.reason ? { cancellation_reason: input.reason } : {},
        { idempotencyKey: input.idempotencyKey },
      );
      return { kind: "cancelled", intentId: intent.id };
    } catch (error) {
      const failure = classifyStripeError(error);
      if (failure.kind === "unknown") return { kind: "unknown", message: failure.message };
      if (failure.code === "payment_intent_unexpected_state" && failure.intent?.status === "canceled") {
        return { kind: "cancelled", intentId: failure.intent.id };
      }
      return { kind: "failed", code: failure.code, message: failure.message };
    }
  }

  async refund(input: RefundInput): Promise<RefundOutcome> {
    checkIntentId(input.intentId);
    checkIdempotencyKey(input.idempotencyKey);
    checkAmount(input.amount);
    try {
      const refund = await this.stripe.refunds.create(
        {
          payment_intent: input.intentId,
          amount: input.amount,
          ...(input.reason ? { metadata: { reason: input.reason.slice(0, 500) } } : {}),
        },
        { idempotencyKey: input.idempotencyKey },
      );
      if (refund.status === "succeeded" || refund.status === "pending") {
        return { kind: "refunded", refundId: refund.id, amount: refund.amount, status: refund.status };
      }
      if (refund.status === "failed" || refund.status === "canceled") {
        return {
          kind: "failed",
          code: refund.failure_reason ?? "refund_failed",
          message: `Refund ${refund.status}`,
        };
      }
      return { kind: "unknown", message: `Refund is ${refund.status}` };
    } catch (error) {
      const failure = classifyStripeError(error);
      if (failure.kind === "unknown") return { kind: "unknown", message: failure.message };
      return { kind: "failed", code: failure.code, message: failure.message };
    }
  }

  async retrieve(intentId: string): Promise<IntentState | null> {
    checkIntentId(intentId);
    try {
      return intentState(await this.stripe.paymentIntents.retrieve(intentId, { expand: ["latest_charge"] }));
    } catch (error) {
      const failure = classifyStripeError(error);
      if (failure.kind === "definitive" && failure.code === "resource_missing") return null;
      const reason = failure.kind === "unknown" ? "unavailable" : "invalid_input";
      throw new PaymentGatewayError(reason, `Could not retrieve ${intentId}: ${failure.message}`, {
        cause: error,
      });
    }
  }

  /**
   * Stripe's search index (eventually consistent: usually under a minute behind, up to an hour during
   * incidents; not offered to merchants in India). Search results do not expand the charge, so each hit
   * is retrieved for its refunded amount.
   */
  async findIntentsByOrder(input: FindIntentsInput): Promise<IntentState[]> {
    if (!SEARCHABLE.test(input.orderId) || !SEARCHABLE.test(input.storeId)) {
      throw new PaymentGatewayError("invalid_input", "orderId and storeId must be plain identifiers");
    }
    const query = `metadata['order_id']:'${input.orderId}' AND metadata['store']:'${input.storeId}'`;
    let hits: Stripe.PaymentIntent[];
    try {
      hits = (await this.stripe.paymentIntents.search({ query, limit: 100 })).data;
    } catch (error) {
      const failure = classifyStripeError(error);
      throw new PaymentGatewayError("unavailable", `Could not search intents: ${failure.message}`, {
        cause: error,
      });
    }
    const states: IntentState[] = [];
    for (const hit of hits) {
      const state = await this.retrieve(hit.id);
      if (state) states.push(state);
    }
    return states.sort((a, b) => a.created.getTime() - b.created.getTime());
  }

  parseWebhook(rawBody: Buffer | string, signatureHeader: string | undefined): WebhookEvent {
    return verifyWebhook(rawBody, signatureHeader, this.webhookSecret);
  }
}
