/**
 * Staff review of orders the fraud rules held (ON_HOLD: authorised, not captured, stock held):
 * approve captures and confirms; reject voids and cancels (stock and discount uses back). A held order
 * must be decided before its authorisation runs out at the gateway (7 days at Stripe): the job warns
 * staff when FRAUD_REVIEW_WARN_HOURS remain, and voids and cancels it at FRAUD_REVIEW_MAX_HOURS.
 *
 * Every action takes the order's saga lease first, so an approve and a reject (or the job) racing on
 * one order cannot both act: one captures or voids, the other is told the order is being processed.
 */
import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import { orders, payments } from "../../db/schema.js";
import { assertStaff } from "../authz.js";
import type { CartService } from "../cart/cart.service.js";
import type { CheckoutService } from "../checkout/checkout.service.js";
import { compensateOrder } from "../checkout/compensate.step.js";
import { confirmOrder } from "../checkout/confirm.step.js";
import { capturePayment, type GatewayStepDeps, voidAuthorization } from "../checkout/payment.steps.js";
import { type PaymentRow, paymentOfOrder } from "../checkout/payment-record.js";
import { actorLabel, type ServiceContext } from "../context.js";
import type { ServiceDeps } from "../deps.js";
import { ErrorCode, userError } from "../errors.js";
import { syncStockGate } from "../inventory/stock-gate.js";
import type { OrderQueries } from "../order/order-queries.service.js";
import type { OrderRow } from "../order/transition.js";
import { writeOutbox } from "../outbox.js";
import type { RedemptionService } from "../redemption.service.js";

export const ORDER_REVIEW_EXPIRING = "order.review_expiring";

const HOUR_MS = 60 * 60 * 1000;

export class ReviewService {
  private readonly steps: GatewayStepDeps;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly opts: {
      queries: OrderQueries;
      checkout: CheckoutService;
      carts: CartService;
      redemptions: RedemptionService;
    },
  ) {
    this.steps = { db: deps.db, gateway: opts.checkout.gateway, now: deps.now };
  }

  /** When a held order must be decided by, from its authorisation time. */
  deadlineOf(authorizedAt: Date | null): Date | null {
    return authorizedAt
      ? new Date(authorizedAt.getTime() + this.deps.config.FRAUD_REVIEW_MAX_HOURS * HOUR_MS)
      : null;
  }

  async approve(ctx: ServiceContext, orderId: string): Promise<OrderRow> {
    assertStaff(ctx.caller);
    const { order, payment } = await this.take(ctx, orderId);
    const actor = actorLabel(ctx.caller);
    if (!payment.intentId) throw new Error(`held order ${order.id} has no intent`);
    const captured = await capturePayment(this.steps, payment, payment.intentId);
    if (captured.kind === "unknown") {
      await this.release(order);
      throw userError(
        ErrorCode.PAYMENT_FAILED,
        "The payment gateway did not answer; the order is still on hold. Try again",
        {
          field: ["orderId"],
        },
      );
    }
    if (captured.kind === "failed") {
      await voidAuthorization(this.steps, payment, payment.intentId, "abandoned");
      await this.cancel(order, payment, actor, "staff", `approved, but the capture failed: ${captured.code}`);
      throw userError(
        ErrorCode.PAYMENT_FAILED,
        `The capture failed (${captured.code}); the order was cancelled`,
        {
          field: ["orderId"],
        },
      );
    }
    const confirmed = await this.deps.db.transaction((tx) =>
      confirmOrder(tx, {
        storeId: order.storeId,
        orderId: order.id,
        paymentId: payment.id,
        from: "ON_HOLD",
        captured: captured.amountReceived,
        by: "staff",
        actor,
        reason: "review approved",
        paymentEvent: { type: "captured", amount: captured.amountReceived },
        at: this.deps.now(),
      }),
    );
    if (!confirmed)
      throw userError(ErrorCode.INVALID_ORDER_TRANSITION, "The order is no longer on hold", {
        field: ["orderId"],
      });
    return confirmed.order;
  }

  async reject(ctx: ServiceContext, orderId: string, reason?: string | null): Promise<OrderRow> {
    assertStaff(ctx.caller);
    const text = reason?.trim().slice(0, 500) || "review rejected";
    const { order, payment } = await this.take(ctx, orderId);
    if (payment.intentId) {
      const voided = await voidAuthorization(this.steps, payment, payment.intentId, "fraudulent");
      if (voided.kind === "unknown") {
        await this.release(order);
        throw userError(
          ErrorCode.PAYMENT_FAILED,
          "The payment gateway did not answer; the order is still on hold. Try again",
          {
            field: ["orderId"],
          },
        );
      }
    }
    const cancelled = await this.cancel(order, payment, actorLabel(ctx.caller), "staff", text);
    if (!cancelled)
      throw userError(ErrorCode.INVALID_ORDER_TRANSITION, "The order is no longer on hold", {
        field: ["orderId"],
      });
    return cancelled;
  }

  /**
   * The job: warns once when a held order's deadline is near, and voids and cancels one past it.
   * Resolves how many it cancelled.
   */
  async sweepHeldOrders(): Promise<number> {
    const now = this.deps.now();
    const warnBefore = new Date(
      now.getTime() -
        (this.deps.config.FRAUD_REVIEW_MAX_HOURS - this.deps.config.FRAUD_REVIEW_WARN_HOURS) * HOUR_MS,
    );
    const expireBefore = new Date(now.getTime() - this.deps.config.FRAUD_REVIEW_MAX_HOURS * HOUR_MS);
    const held = await this.deps.db
      .select({ order: orders, authorizedAt: payments.authorizedAt })
      .from(orders)
      .innerJoin(payments, and(eq(payments.storeId, orders.storeId), eq(payments.orderId, orders.id)))
      .where(and(eq(orders.status, "ON_HOLD"), lt(payments.authorizedAt, warnBefore)))
      .limit(100);
    let cancelled = 0;
    for (const { order, authorizedAt } of held) {
      if (authorizedAt && authorizedAt < expireBefore) {
        const payment = await paymentOfOrder(this.deps.db, order.storeId, order.id);
        if (!payment || !(await this.takeLease(order))) continue;
        if (payment.intentId) {
          const voided = await voidAuthorization(this.steps, payment, payment.intentId, "abandoned");
          if (voided.kind === "unknown") {
            await this.release(order);
            continue;
          }
        }
        if (
          await this.cancel(
            order,
            payment,
            "job:review-expiry",
            "system",
            "not reviewed before the authorisation ran out",
          )
        )
          cancelled++;
      } else {
        await this.warnOnce(order, authorizedAt);
      }
    }
    return cancelled;
  }

  // ---- internals ----

  private async take(
    ctx: ServiceContext,
    orderId: string,
  ): Promise<{ order: OrderRow; payment: PaymentRow }> {
    const order = await this.opts.queries.requireVisible(ctx, orderId);
    if (order.status !== "ON_HOLD") {
      throw userError(
        ErrorCode.INVALID_ORDER_TRANSITION,
        `Only an order ON_HOLD can be reviewed; this one is ${order.status}`,
        {
          field: ["orderId"],
        },
      );
    }
    if (!(await this.takeLease(order))) {
      throw userError(
        ErrorCode.INVALID_ORDER_TRANSITION,
        "The order is being processed right now; try again in a moment",
        {
          field: ["orderId"],
        },
      );
    }
    const payment = await paymentOfOrder(this.deps.db, order.storeId, order.id);
    if (!payment) throw new Error(`order ${order.id} has no payment row`);
    return { order, payment };
  }

  private async takeLease(order: OrderRow): Promise<boolean> {
    const now = this.deps.now();
    const taken = await this.deps.db
      .update(orders)
      .set({ sagaLeaseUntil: new Date(now.getTime() + this.opts.checkout.leaseMs) })
      .where(
        and(
          eq(orders.storeId, order.storeId),
          eq(orders.id, order.id),
          eq(orders.status, "ON_HOLD"),
          or(
            isNull(orders.sagaLeaseUntil),
            lt(orders.sagaLeaseUntil, sql`${now.toISOString()}::timestamptz`),
          ),
        ),
      )
      .returning({ id: orders.id });
    return taken.length > 0;
  }

  private async release(order: OrderRow): Promise<void> {
    await this.deps.db
      .update(orders)
      .set({ sagaLeaseUntil: null })
      .where(and(eq(orders.storeId, order.storeId), eq(orders.id, order.id)));
  }

  private async cancel(
    order: OrderRow,
    payment: PaymentRow,
    actor: string,
    by: "staff" | "system",
    reason: string,
  ): Promise<OrderRow | null> {
    const result = await this.deps.db.transaction((tx) =>
      compensateOrder(tx, this.opts, {
        storeId: order.storeId,
        orderId: order.id,
        paymentId: payment.id,
        from: "ON_HOLD",
        reason,
        by,
        actor,
        paymentStatus: "CANCELLED",
        paymentEvent: { type: "voided", data: { reason } },
        reopenCart: false,
        at: this.deps.now(),
      }),
    );
    if (!result) return null;
    await syncStockGate(this.deps.infra.stockGate, this.deps.config, order.storeId, result.available);
    return result.order;
  }

  private async warnOnce(order: OrderRow, authorizedAt: Date | null): Promise<void> {
    const risk = (order.risk ?? {}) as Record<string, unknown>;
    if (risk.warnedAt) return;
    await this.deps.db.transaction(async (tx) => {
      const [marked] = await tx
        .update(orders)
        .set({ risk: { ...risk, warnedAt: this.deps.now().toISOString() } })
        .where(
          and(
            eq(orders.storeId, order.storeId),
            eq(orders.id, order.id),
            sql`not (coalesce(${orders.risk}, '{}'::jsonb) ? 'warnedAt')`,
          ),
        )
        .returning({ id: orders.id });
      if (!marked) return;
      await writeOutbox(tx, {
        storeId: order.storeId,
        topic: ORDER_REVIEW_EXPIRING,
        key: order.id,
        payload: {
          orderId: order.id,
          number: order.number,
          total: order.total,
          deadline: this.deadlineOf(authorizedAt)?.toISOString() ?? null,
        },
      });
    });
  }
}
