/**
 * The checkout's safety nets, run in-process on an interval (any number of instances: every order is
 * taken through its saga lease, so one instance acts on it at a time):
 * - recovery: a PENDING order whose saga owner is gone (the process died between steps, the gateway did
 *   not answer) is resumed: the saga asks the gateway what happened, under the same idempotency keys,
 *   and confirms or compensates. Nobody is charged twice and no stock or order is lost.
 * - expiry: a PENDING order past its reservation (most often a 3-D Secure the buyer never finished) has
 *   its authorisation voided and is cancelled, its stock and discount uses given back. One the buyer
 *   did pay at the last moment is confirmed instead.
 */
import { and, asc, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { orders } from "../../db/schema.js";
import type { Logger } from "../../logger.js";
import { PaymentGatewayError } from "../../payments/index.js";
import type { CartService } from "../cart/cart.service.js";
import type { CheckoutService } from "../checkout/checkout.service.js";
import { compensateOrder } from "../checkout/compensate.step.js";
import { gatewayKey } from "../checkout/payment.steps.js";
import { paymentOfOrder } from "../checkout/payment-record.js";
import type { RedemptionService } from "../redemption.service.js";

const BATCH = 50;

export class CheckoutRecoveryJob {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly deps: { db: Db; logger: Logger; now: () => Date },
    private readonly checkout: CheckoutService,
    private readonly carts: CartService,
    private readonly redemptions: RedemptionService,
    /** Held orders nearing the end of their authorisation (risk/review.service.ts). */
    private readonly sweepHeldOrders: () => Promise<number> = async () => 0,
  ) {}

  private at(): string {
    return this.deps.now().toISOString();
  }

  /** Resumes PENDING orders whose saga nobody owns; resolves how many it settled. */
  async recoverStuckOrders(): Promise<number> {
    const stuck = await this.deps.db
      .select({ storeId: orders.storeId, id: orders.id })
      .from(orders)
      .where(
        and(
          eq(orders.status, "PENDING"),
          isNull(orders.checkoutOutcome),
          or(isNull(orders.sagaLeaseUntil), lt(orders.sagaLeaseUntil, sql`${this.at()}::timestamptz`)),
        ),
      )
      .orderBy(asc(orders.updatedAt))
      .limit(BATCH);
    let settled = 0;
    for (const o of stuck) {
      try {
        const result = await this.checkout.resume(o.storeId, o.id, "job:recovery");
        if (result?.order && result.order.status !== "PENDING") settled++;
      } catch (err) {
        this.deps.logger.warn({ err, orderId: o.id }, "recovery of a pending order failed; will retry");
      }
    }
    return settled;
  }

  /** Cancels PENDING orders past their reservation; resolves how many it cancelled. */
  async expireReservations(): Promise<number> {
    const expired = await this.deps.db
      .select({ storeId: orders.storeId, id: orders.id })
      .from(orders)
      .where(
        and(
          eq(orders.status, "PENDING"),
          lt(orders.reservationExpiresAt, sql`${this.at()}::timestamptz`),
          or(isNull(orders.sagaLeaseUntil), lt(orders.sagaLeaseUntil, sql`${this.at()}::timestamptz`)),
        ),
      )
      .orderBy(asc(orders.reservationExpiresAt))
      .limit(BATCH);
    let cancelled = 0;
    for (const o of expired) {
      try {
        if (await this.expireOne(o.storeId, o.id)) cancelled++;
      } catch (err) {
        this.deps.logger.warn({ err, orderId: o.id }, "expiring a pending order failed; will retry");
      }
    }
    return cancelled;
  }

  private async expireOne(storeId: string, orderId: string): Promise<boolean> {
    const now = this.deps.now();
    const [taken] = await this.deps.db
      .update(orders)
      .set({ sagaLeaseUntil: new Date(now.getTime() + this.checkout.leaseMs) })
      .where(
        and(
          eq(orders.storeId, storeId),
          eq(orders.id, orderId),
          eq(orders.status, "PENDING"),
          or(
            isNull(orders.sagaLeaseUntil),
            lt(orders.sagaLeaseUntil, sql`${now.toISOString()}::timestamptz`),
          ),
        ),
      )
      .returning();
    if (!taken) return false;
    const payment = await paymentOfOrder(this.deps.db, storeId, orderId);
    if (!payment) throw new Error(`order ${orderId} has no payment row`);
    const gateway = this.checkout.gateway;
    const release = () =>
      this.deps.db
        .update(orders)
        .set({ sagaLeaseUntil: null })
        .where(and(eq(orders.storeId, storeId), eq(orders.id, orderId)));
    try {
      // Every intent the order may have at the gateway: the one we stored, else whatever it made for it.
      const intents = payment.intentId
        ? [await gateway.retrieve(payment.intentId)].filter((i) => i !== null)
        : await gateway.findIntentsByOrder({ storeId, orderId });
      if (intents.some((i) => i.status === "authorized" || i.status === "captured")) {
        // Paid at the last moment: settle it as paid rather than cancel it.
        await release();
        await this.checkout.resume(storeId, orderId, "job:expiry");
        return false;
      }
      for (const intent of intents) {
        if (intent.status === "cancelled") continue;
        const voided = await gateway.cancel({
          intentId: intent.intentId,
          idempotencyKey: gatewayKey(payment, "cancel"),
          reason: "abandoned",
        });
        if (voided.kind === "unknown") {
          await release();
          return false;
        }
      }
    } catch (e) {
      if (e instanceof PaymentGatewayError && e.reason === "unavailable") {
        await release();
        return false;
      }
      throw e;
    }
    const result = await this.deps.db.transaction((tx) =>
      compensateOrder(
        tx,
        { carts: this.carts, redemptions: this.redemptions },
        {
          storeId,
          orderId,
          paymentId: payment.id,
          from: "PENDING",
          reason: "reservation expired before the payment completed",
          by: "system",
          actor: "job:expiry",
          paymentStatus: "CANCELLED",
          paymentEvent: { type: "expired" },
          outcome: {
            userErrors: [
              {
                code: "PAYMENT_FAILED",
                message:
                  "The payment was not completed in time; the order was cancelled and nothing was charged",
                field: ["input", "paymentMethod"],
              },
            ],
          },
          reopenCart: true,
          at: this.deps.now(),
        },
      ),
    );
    if (!result) return false;
    await this.checkout.syncGate(storeId, result.available);
    return true;
  }

  async sweep(): Promise<{ recovered: number; expired: number; heldCancelled: number }> {
    const recovered = await this.recoverStuckOrders();
    const expired = await this.expireReservations();
    const heldCancelled = await this.sweepHeldOrders();
    return { recovered, expired, heldCancelled };
  }

  start(intervalSeconds: number): void {
    if (intervalSeconds <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sweep()
        .then((r) => {
          if (r.recovered || r.expired || r.heldCancelled)
            this.deps.logger.info(r, "checkout recovery sweep");
        })
        .catch((err: unknown) => this.deps.logger.error({ err }, "checkout recovery sweep failed"))
        .finally(() => {
          this.running = null;
        });
    }, intervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
