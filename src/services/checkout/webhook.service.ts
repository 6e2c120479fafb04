/**
 * Gateway webhooks (POST /webhooks/stripe): the gateway's word on payments that finished outside the
 * checkout request (3-D Secure completed or failed, a capture or a cancel seen by the gateway, a refund
 * made in its dashboard). The signature is checked over the raw body before anything else; an event
 * that is not provably from the gateway changes nothing.
 *
 * Each event id is acted on once, however often or concurrently it is delivered: the first delivery
 * inserts and claims its `webhook_events` row; others see it claimed or processed and only acknowledge.
 * A claim runs out (a handler that died), so a redelivery after that takes it over. What the event
 * triggers is itself idempotent: the saga is resumed (checkout.resume) and every transition is
 * conditional, so even two handlers of one event would settle the order once.
 */
import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import { transactionRetryingConflicts } from "../../db/conflict-retry.js";
import { orders, payments, refunds, webhookEvents } from "../../db/schema.js";
import type { Logger } from "../../logger.js";
import type { WebhookEvent } from "../../payments/index.js";
import type { ServiceDeps } from "../deps.js";
import { isUuid } from "../validation.js";
import type { CheckoutService } from "./checkout.service.js";
import { updatePayment } from "./payment-record.js";

const CLAIM_MS = 60_000;

/** Thrown for a body the gateway did not sign (the endpoint answers 400). */
export { WebhookSignatureError } from "../../payments/index.js";

/** What the endpoint answers: the status code and a small body for the gateway's delivery log. */
export interface WebhookAnswer {
  status: number;
  body: Record<string, unknown>;
}

export class WebhookService {
  constructor(
    private readonly deps: ServiceDeps & { logger: Logger },
    private readonly checkout: CheckoutService,
  ) {}

  /** Verifies and handles one delivery. Throws WebhookSignatureError for an unverifiable body. */
  async receive(rawBody: Buffer, signature: string | undefined): Promise<WebhookAnswer> {
    const parsed = this.checkout.gateway.parseWebhook(rawBody, signature);
    const { storeId, orderId } = parsed;
    if (!storeId || !isUuid(storeId) || !orderId || !isUuid(orderId)) {
      // Not about one of our orders (another integration on the same account): acknowledged, ignored.
      return { status: 200, body: { received: true, ignored: "no order of ours" } };
    }
    const event = { ...parsed, storeId, orderId };
    if (!(await this.claim(event))) return { status: 200, body: { received: true, duplicate: true } };
    await this.handle(event);
    await this.deps.db
      .update(webhookEvents)
      .set({ processedAt: this.deps.now(), claimedUntil: null })
      .where(and(eq(webhookEvents.storeId, event.storeId), eq(webhookEvents.eventId, event.id)));
    return { status: 200, body: { received: true } };
  }

  /** True when this delivery is the one to act on the event. */
  private async claim(event: WebhookEvent & { storeId: string }): Promise<boolean> {
    const now = this.deps.now();
    const until = new Date(now.getTime() + CLAIM_MS);
    const inserted = await this.deps.db
      .insert(webhookEvents)
      .values({
        storeId: event.storeId,
        eventId: event.id,
        type: event.type,
        receivedAt: now,
        claimedUntil: until,
      })
      .onConflictDoNothing()
      .returning({ id: webhookEvents.eventId });
    if (inserted.length > 0) return true;
    const taken = await this.deps.db
      .update(webhookEvents)
      .set({ claimedUntil: until })
      .where(
        and(
          eq(webhookEvents.storeId, event.storeId),
          eq(webhookEvents.eventId, event.id),
          isNull(webhookEvents.processedAt),
          or(
            isNull(webhookEvents.claimedUntil),
            lt(webhookEvents.claimedUntil, sql`${now.toISOString()}::timestamptz`),
          ),
        ),
      )
      .returning({ id: webhookEvents.eventId });
    return taken.length > 0;
  }

  private async handle(event: WebhookEvent & { storeId: string; orderId: string }): Promise<void> {
    const [order] = await this.deps.db
      .select()
      .from(orders)
      .where(and(eq(orders.storeId, event.storeId), eq(orders.id, event.orderId)));
    if (!order) return;
    switch (event.type) {
      case "payment_intent.amount_capturable_updated":
      case "payment_intent.succeeded":
      case "payment_intent.payment_failed":
      case "payment_intent.canceled":
        // The saga reads the intent's state from the gateway and settles the order from it.
        if (order.status === "PENDING")
          await this.checkout.resume(order.storeId, order.id, `gateway:${event.type}`);
        return;
      case "charge.refunded":
        await this.recordOutsideRefund(event, order.id);
        return;
      default:
        this.deps.logger.debug({ type: event.type, eventId: event.id }, "webhook type not handled");
    }
  }

  /**
   * A refund made at the gateway (its dashboard), not through orderRefund: recorded so the order's
   * figures say what the card says. `amount` is the charge's total refunded so far.
   */
  private async recordOutsideRefund(
    event: WebhookEvent & { storeId: string },
    orderId: string,
  ): Promise<void> {
    if (event.amount === null) return;
    const totalRefunded = event.amount;
    await transactionRetryingConflicts(this.deps.db, this.deps.logger, "outside refund", async (tx) => {
      const [payment] = await tx
        .select()
        .from(payments)
        .where(and(eq(payments.storeId, event.storeId), eq(payments.orderId, orderId)))
        .for("update");
      if (!payment || totalRefunded <= payment.refunded) return;
      const delta = Math.min(totalRefunded, payment.captured) - payment.refunded;
      if (delta <= 0) return;
      const now = this.deps.now();
      await tx.insert(refunds).values({
        storeId: event.storeId,
        orderId,
        paymentId: payment.id,
        amount: delta,
        reason: "refunded at the payment gateway",
        status: "SUCCEEDED",
        idempotencyKey: `webhook_${event.id}`,
        actor: "gateway",
        createdAt: now,
        updatedAt: now,
      });
      const full = payment.refunded + delta >= payment.captured;
      await updatePayment(
        tx,
        event.storeId,
        payment.id,
        { refundedDelta: delta, status: full ? "REFUNDED" : "PARTIALLY_REFUNDED" },
        { type: "refunded_at_gateway", amount: delta, gatewayEventId: event.id },
        now,
      );
      await tx
        .update(orders)
        .set({
          refunded: sql`${orders.refunded} + ${delta}`,
          paymentStatus: full ? "REFUNDED" : "PARTIALLY_REFUNDED",
          updatedAt: now,
        })
        .where(and(eq(orders.storeId, event.storeId), eq(orders.id, orderId)));
    });
  }
}
