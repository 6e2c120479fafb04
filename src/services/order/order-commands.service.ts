/**
 * What staff and customers do to orders after checkout: move them along (process, ship, deliver),
 * cancel them and refund them. Money goes back through the gateway with no transaction open, under an
 * idempotency key, BEFORE the database records it; then one transaction records the refund, restocks,
 * gives discount uses back and moves the order. A gateway that fails leaves the order as it was; a
 * retry reuses the key and so never refunds twice.
 */
import { createHash } from "node:crypto";
import { and, eq, inArray, isNull, lt, or, sql } from "drizzle-orm";
import type { Tx } from "../../db/client.js";
import { transactionRetryingConflicts } from "../../db/conflict-retry.js";
import { inventoryReservations, orderItems, orders, refunds } from "../../db/schema.js";
import { PaymentGatewayError } from "../../payments/index.js";
import { assertStaff } from "../authz.js";
import type { CartService } from "../cart/cart.service.js";
import type { CheckoutService } from "../checkout/checkout.service.js";
import { compensateOrder } from "../checkout/compensate.step.js";
import { gatewayKey } from "../checkout/payment.steps.js";
import { type PaymentRow, paymentOfOrder, updatePayment } from "../checkout/payment-record.js";
import { actorLabel, isStaff, type ServiceContext } from "../context.js";
import type { ServiceDeps } from "../deps.js";
import { ErrorCode, type UserErrorData, UserFacingError, userError } from "../errors.js";
import { restock } from "../inventory/reservations.js";
import { stockStateEvents } from "../inventory/stock-events.js";
import { syncStockGate } from "../inventory/stock-gate.js";
import { formatMoney } from "../money-format.js";
import { writeOutbox, writeOutboxMany } from "../outbox.js";
import type { RedemptionService } from "../redemption.service.js";
import type { OrderQueries } from "./order-queries.service.js";
import { type OrderStatus, type TransitionActor, transitionProblem } from "./order-status.js";
import { applyTransition, type OrderRow } from "./transition.js";

export const ORDER_REFUNDED = "order.refunded";

export interface TransitionRequest {
  orderId: string;
  to: OrderStatus;
  trackingNumber?: string | null;
  carrier?: string | null;
}

export interface RefundRequest {
  orderId: string;
  /** Minor units; omitted: everything left to refund (or the given lines' share). */
  amount?: number | null;
  lines?: { lineId: string; quantity: number }[] | null;
  /** Put the refunded lines' units back on hand. */
  restock?: boolean | null;
  reason?: string | null;
  /** Reused on a retry; omitted: derived from the request, so an identical retry is the same refund. */
  idempotencyKey?: string | null;
}

/** Moves that have side effects of their own, with the operation that makes them. */
const DEDICATED: Partial<Record<OrderStatus, string>> = {
  CANCELLED: "orderCancel",
  REFUNDED: "orderRefund",
  CONFIRMED: "checkout (or orderReviewApprove for an order on hold)",
  ON_HOLD: "checkout's fraud review",
  PENDING: "checkout",
};

const MAX_TEXT = 500;

function invalidTransition(message: string, field = ["to"]): UserFacingError {
  return userError(ErrorCode.INVALID_ORDER_TRANSITION, message, { field });
}

function optionalText(value: string | null | undefined, field: string, max = MAX_TEXT): string | null {
  const text = value?.trim() ?? "";
  if (text.length > max)
    throw userError(ErrorCode.INVALID_INPUT, `${field} must be at most ${max} characters`, {
      field: [field],
    });
  return text || null;
}

export class OrderCommands {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly opts: {
      queries: OrderQueries;
      checkout: CheckoutService;
      carts: CartService;
      redemptions: RedemptionService;
    },
  ) {}

  /** Staff: PROCESSING, SHIPPED (with a tracking number) and DELIVERED. */
  async transition(ctx: ServiceContext, input: TransitionRequest): Promise<OrderRow> {
    assertStaff(ctx.caller);
    const order = await this.opts.queries.requireVisible(ctx, input.orderId);
    const dedicated = DEDICATED[input.to];
    if (dedicated)
      throw invalidTransition(`An order becomes ${input.to} through ${dedicated}, not orderTransition`);
    const trackingNumber = optionalText(input.trackingNumber, "trackingNumber", 100);
    const carrier = optionalText(input.carrier, "carrier", 100);
    const problem = transitionProblem(order.status, input.to, "staff", { trackingNumber });
    if (problem) throw invalidTransition(problem, problem.includes("tracking") ? ["trackingNumber"] : ["to"]);
    const moved = await transactionRetryingConflicts(
      this.deps.db,
      this.deps.logger,
      "order transition",
      (tx) =>
        applyTransition(tx, {
          storeId: ctx.store.id,
          orderId: order.id,
          from: order.status,
          to: input.to,
          by: "staff",
          actor: actorLabel(ctx.caller),
          reason: null,
          facts: { trackingNumber },
          set: input.to === "SHIPPED" ? { trackingNumber, carrier } : {},
          at: this.deps.now(),
        }),
    );
    if (moved) return moved;
    // Another move won the race: answer from where the order is now.
    const current = await this.opts.queries.requireVisible(ctx, input.orderId);
    throw invalidTransition(
      transitionProblem(current.status, input.to, "staff") ?? `The order is now ${current.status}`,
    );
  }

  /**
   * Cancels an order: a customer their own PENDING or CONFIRMED order, staff up to PROCESSING (and a
   * held one). Unpaid: the authorisation is voided. Paid: the capture is refunded in full. Either way the
   * stock comes back and discount uses are given back.
   */
  async cancel(ctx: ServiceContext, orderId: string, reasonInput?: string | null): Promise<OrderRow> {
    const order = await this.opts.queries.requireVisible(ctx, orderId);
    const by: TransitionActor = isStaff(ctx.caller) ? "staff" : "customer";
    const problem = transitionProblem(order.status, "CANCELLED", by);
    if (problem) throw invalidTransition(problem, ["orderId"]);
    const reason =
      optionalText(reasonInput, "reason") ??
      (by === "staff" ? "cancelled by staff" : "cancelled by the customer");
    const actor = actorLabel(ctx.caller);
    if (order.status === "PENDING" || order.status === "ON_HOLD")
      return this.cancelUnpaid(ctx, order, by, actor, reason);
    return this.cancelPaid(ctx, order, by, actor, reason);
  }

  private async cancelUnpaid(
    ctx: ServiceContext,
    order: OrderRow,
    by: TransitionActor,
    actor: string,
    reason: string,
  ): Promise<OrderRow> {
    const now = this.deps.now();
    // Take the saga's lease: a checkout still working on this order must not be cut in half.
    const [taken] = await this.deps.db
      .update(orders)
      .set({ sagaLeaseUntil: new Date(now.getTime() + this.opts.checkout.leaseMs) })
      .where(
        and(
          eq(orders.storeId, order.storeId),
          eq(orders.id, order.id),
          eq(orders.status, order.status),
          or(
            isNull(orders.sagaLeaseUntil),
            lt(orders.sagaLeaseUntil, sql`${now.toISOString()}::timestamptz`),
          ),
        ),
      )
      .returning();
    if (!taken)
      throw invalidTransition("The order's payment is being processed right now; try again in a moment", [
        "orderId",
      ]);
    const payment = await this.requirePayment(order);
    const release = () =>
      this.deps.db
        .update(orders)
        .set({ sagaLeaseUntil: null })
        .where(and(eq(orders.storeId, order.storeId), eq(orders.id, order.id)));
    if (payment.intentId && payment.status !== "FAILED" && payment.status !== "CANCELLED") {
      const gateway = this.opts.checkout.gateway;
      let intent: Awaited<ReturnType<typeof gateway.retrieve>>;
      try {
        intent = await gateway.retrieve(payment.intentId);
      } catch (e) {
        await release();
        if (e instanceof PaymentGatewayError && e.reason === "unavailable") throw gatewayUnavailable();
        throw e;
      }
      if (intent?.status === "captured") {
        // Paid after all (a webhook not yet seen): settle it as paid, then cancel it as a paid order.
        await release();
        await this.opts.checkout.resume(order.storeId, order.id, actor);
        const settled = await this.opts.queries.requireVisible(ctx, order.id);
        if (settled.status === "CONFIRMED") return this.cancelPaid(ctx, settled, by, actor, reason);
        throw invalidTransition(`The order is now ${settled.status}`, ["orderId"]);
      }
      if (intent && intent.status !== "cancelled") {
        const voided = await gateway.cancel({
          intentId: payment.intentId,
          idempotencyKey: gatewayKey(payment, "cancel"),
          reason: "requested_by_customer",
        });
        if (voided.kind === "unknown") {
          await release();
          throw gatewayUnavailable();
        }
      }
    }
    const result = await transactionRetryingConflicts(
      this.deps.db,
      this.deps.logger,
      "order cancel before capture",
      (tx) =>
        compensateOrder(tx, this.opts, {
          storeId: order.storeId,
          orderId: order.id,
          paymentId: payment.id,
          from: order.status as "PENDING" | "ON_HOLD",
          reason,
          by,
          actor,
          paymentStatus: "CANCELLED",
          paymentEvent: { type: "voided", data: { reason } },
          outcome: order.checkoutOutcome
            ? null
            : {
                userErrors: [
                  { code: ErrorCode.PAYMENT_FAILED, message: `The order was cancelled: ${reason}` },
                ],
              },
          reopenCart: false,
          at: this.deps.now(),
        }),
    );
    if (!result) {
      await release();
      const current = await this.opts.queries.requireVisible(ctx, order.id);
      throw invalidTransition(`The order is now ${current.status}`, ["orderId"]);
    }
    await syncStockGate(this.deps.infra.stockGate, this.deps.config, order.storeId, result.available);
    return result.order;
  }

  private async cancelPaid(
    ctx: ServiceContext,
    order: OrderRow,
    by: TransitionActor,
    actor: string,
    reason: string,
  ): Promise<OrderRow> {
    const payment = await this.requirePayment(order);
    const left = payment.captured - payment.refunded;
    if (left > 0) await this.refundAtGateway(payment, left, `${payment.idempotencyKey}_cancel`, reason);
    const now = this.deps.now();
    const result = await transactionRetryingConflicts(
      this.deps.db,
      this.deps.logger,
      "order cancel after capture",
      async (tx) => {
        const moved = await applyTransition(tx, {
          storeId: order.storeId,
          orderId: order.id,
          from: order.status,
          to: "CANCELLED",
          by,
          actor,
          reason,
          at: now,
          set: {
            paymentStatus: left > 0 || payment.refunded > 0 ? "REFUNDED" : order.paymentStatus,
            cancelReason: reason,
            refunded: payment.refunded + left,
          },
        });
        if (!moved) return null;
        if (left > 0) {
          await tx.insert(refunds).values({
            storeId: order.storeId,
            orderId: order.id,
            paymentId: payment.id,
            amount: left,
            reason,
            status: "SUCCEEDED",
            idempotencyKey: `${payment.idempotencyKey}_cancel`,
            actor,
            createdAt: now,
            updatedAt: now,
          });
          await updatePayment(
            tx,
            order.storeId,
            payment.id,
            { refundedDelta: left, status: "REFUNDED" },
            { type: "refunded", amount: left },
            now,
          );
        }
        // Units that left the shelf come back, less any a refund has already restocked.
        const back = await this.unitsNotRestocked(tx, order);
        const moved2 = await restock(
          tx,
          order.storeId,
          back,
          actor,
          `order ${order.number} cancelled`,
          now,
          order.id,
        );
        await this.opts.redemptions.reverseOrder(tx, { storeId: order.storeId, orderId: order.id });
        await writeOutboxMany(tx, stockStateEvents(order.storeId, moved2.changes, now));
        return { order: moved, available: new Map([...moved2.after].map(([id, a]) => [id, a.available])) };
      },
    );
    if (!result) {
      const current = await this.opts.queries.requireVisible(ctx, order.id);
      throw invalidTransition(`The order is now ${current.status}`, ["orderId"]);
    }
    await syncStockGate(this.deps.infra.stockGate, this.deps.config, order.storeId, result.available);
    return result.order;
  }

  /**
   * Staff: gives money back on a paid order, in full or in part (by amount, or by lines with their
   * units optionally restocked). A full refund of a DELIVERED order makes it REFUNDED.
   */
  async refund(ctx: ServiceContext, input: RefundRequest): Promise<OrderRow> {
    assertStaff(ctx.caller);
    const order = await this.opts.queries.requireVisible(ctx, input.orderId);
    if (!["CONFIRMED", "PROCESSING", "SHIPPED", "DELIVERED"].includes(order.status)) {
      throw invalidTransition(`An order ${order.status} has nothing captured to refund`, ["orderId"]);
    }
    const reason = optionalText(input.reason, "reason");
    const payment = await this.requirePayment(order);
    const items = await this.deps.db
      .select()
      .from(orderItems)
      .where(and(eq(orderItems.storeId, order.storeId), eq(orderItems.orderId, order.id)));
    const alreadyRefundedLines = await this.refundedUnitsByLine(order);
    const errors: UserErrorData[] = [];
    const lines: { lineId: string; quantity: number; variantId: string; share: number }[] = [];
    (input.lines ?? []).forEach((l, i) => {
      const item = items.find((it) => it.id === l.lineId.toLowerCase());
      const left = item ? item.quantity - (alreadyRefundedLines.get(item.id) ?? 0) : 0;
      if (!item)
        errors.push({
          code: ErrorCode.NOT_FOUND,
          message: "No such line in this order",
          field: ["lines", String(i), "lineId"],
        });
      else if (!Number.isInteger(l.quantity) || l.quantity < 1 || l.quantity > left) {
        errors.push({
          code: ErrorCode.INVALID_INPUT,
          message: `quantity must be 1 to ${left} (units of this line not refunded yet)`,
          field: ["lines", String(i), "quantity"],
        });
      } else {
        // The line's total (after its discount, with its tax), shared over its units.
        lines.push({
          lineId: item.id,
          quantity: l.quantity,
          variantId: item.variantId,
          share: Math.floor((item.total * l.quantity) / item.quantity),
        });
      }
    });
    if (errors.length) throw new UserFacingError(errors);
    const pending = await this.pendingRefunds(order);
    const refundable = payment.captured - payment.refunded - pending;
    const byLines = lines.reduce((n, l) => n + l.share, 0);
    const amount = input.amount ?? (lines.length ? Math.min(byLines, refundable) : refundable);
    if (!Number.isInteger(amount) || amount < 1 || amount > refundable) {
      throw userError(
        ErrorCode.INVALID_INPUT,
        refundable > 0
          ? `amount must be an integer from 1 to ${refundable} (minor units): ${formatMoney(refundable, order.currency, ctx.store.locale)} is left to refund`
          : "Nothing is left to refund",
        { field: ["amount"], requiredAmount: refundable },
      );
    }
    const key =
      input.idempotencyKey?.trim() ||
      `refund_${createHash("sha256")
        .update(
          JSON.stringify([
            order.id,
            amount,
            lines.map((l) => [l.lineId, l.quantity]),
            input.restock === true,
            reason,
          ]),
        )
        .digest("hex")
        .slice(0, 32)}`;
    if (key.length > 200)
      throw userError(ErrorCode.INVALID_INPUT, "idempotencyKey is too long", { field: ["idempotencyKey"] });
    const restockLines = input.restock
      ? lines.map((l) => ({ variantId: l.variantId, quantity: l.quantity }))
      : [];

    // The refund row first (claiming the key), then the gateway, then the recording transaction.
    const now = this.deps.now();
    const [claimed] = await this.deps.db
      .insert(refunds)
      .values({
        storeId: order.storeId,
        orderId: order.id,
        paymentId: payment.id,
        amount,
        reason,
        restock: restockLines,
        lines: lines.map((l) => ({ lineId: l.lineId, quantity: l.quantity })),
        status: "PENDING",
        idempotencyKey: key,
        actor: actorLabel(ctx.caller),
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing()
      .returning();
    const refundRow =
      claimed ??
      (await this.deps.db
        .select()
        .from(refunds)
        .where(and(eq(refunds.storeId, order.storeId), eq(refunds.idempotencyKey, key)))
        .then((r) => r[0]));
    if (!refundRow || refundRow.orderId !== order.id || refundRow.amount !== amount) {
      throw userError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "This idempotencyKey was used for another refund", {
        field: ["idempotencyKey"],
      });
    }
    if (refundRow.status === "SUCCEEDED")
      return (await this.opts.queries.requireVisible(ctx, order.id)) as OrderRow;
    if (!payment.intentId) throw new Error(`order ${order.id} is captured without an intent`);
    const outcome = await this.opts.checkout.gateway.refund({
      intentId: payment.intentId,
      amount,
      idempotencyKey: `refund_${refundRow.id}`,
      reason: reason ?? undefined,
    });
    if (outcome.kind === "unknown") throw gatewayUnavailable();
    if (outcome.kind === "failed") {
      await this.deps.db
        .update(refunds)
        .set({ status: "FAILED", failureMessage: outcome.message, updatedAt: this.deps.now() })
        .where(
          and(
            eq(refunds.storeId, order.storeId),
            eq(refunds.id, refundRow.id),
            eq(refunds.status, "PENDING"),
          ),
        );
      throw userError(
        ErrorCode.PAYMENT_FAILED,
        `The payment gateway refused the refund (${outcome.code}): ${outcome.message}`,
        {
          field: ["orderId"],
        },
      );
    }
    const result = await transactionRetryingConflicts(
      this.deps.db,
      this.deps.logger,
      "refund settle",
      async (tx) => {
        const at = this.deps.now();
        const [done] = await tx
          .update(refunds)
          .set({ status: "SUCCEEDED", gatewayRefundId: outcome.refundId, updatedAt: at })
          .where(
            and(
              eq(refunds.storeId, order.storeId),
              eq(refunds.id, refundRow.id),
              eq(refunds.status, "PENDING"),
            ),
          )
          .returning();
        if (!done) return null;
        const [locked] = await tx
          .select()
          .from(orders)
          .where(and(eq(orders.storeId, order.storeId), eq(orders.id, order.id)))
          .for("update");
        if (!locked) throw new Error("order vanished");
        const refunded = locked.refunded + amount;
        const full = refunded >= payment.captured;
        await updatePayment(
          tx,
          order.storeId,
          payment.id,
          { refundedDelta: amount, status: full ? "REFUNDED" : "PARTIALLY_REFUNDED" },
          { type: "refunded", amount, data: { refundId: outcome.refundId } },
          at,
        );
        const stock = await restock(
          tx,
          order.storeId,
          restockLines,
          actorLabel(ctx.caller),
          `refund on order ${order.number}`,
          at,
          order.id,
        );
        await writeOutbox(tx, {
          storeId: order.storeId,
          topic: ORDER_REFUNDED,
          key: order.id,
          payload: {
            orderId: order.id,
            number: order.number,
            email: order.email,
            amount,
            refunded,
            full,
            currency: order.currency,
            reason,
            at: at.toISOString(),
          },
        });
        await writeOutboxMany(tx, stockStateEvents(order.storeId, stock.changes, at));
        const set = {
          refunded,
          paymentStatus: full ? ("REFUNDED" as const) : ("PARTIALLY_REFUNDED" as const),
        };
        const moved =
          full && locked.status === "DELIVERED"
            ? await applyTransition(tx, {
                storeId: order.storeId,
                orderId: order.id,
                from: "DELIVERED",
                to: "REFUNDED",
                by: "staff",
                actor: actorLabel(ctx.caller),
                reason: reason ?? "refunded in full",
                at,
                set,
              })
            : null;
        if (!moved) {
          await tx
            .update(orders)
            .set({ ...set, updatedAt: at })
            .where(and(eq(orders.storeId, order.storeId), eq(orders.id, order.id)));
        }
        return new Map([...stock.after].map(([id, a]) => [id, a.available]));
      },
    );
    if (result) await syncStockGate(this.deps.infra.stockGate, this.deps.config, order.storeId, result);
    return (await this.opts.queries.requireVisible(ctx, order.id)) as OrderRow;
  }

  // ---- internals ----

  private async requirePayment(order: OrderRow): Promise<PaymentRow> {
    const payment = await paymentOfOrder(this.deps.db, order.storeId, order.id);
    if (!payment) throw new Error(`order ${order.id} has no payment row`);
    return payment;
  }

  /** Refunds at the gateway and waits for its word; throws a userError when it did not give money back. */
  private async refundAtGateway(
    payment: PaymentRow,
    amount: number,
    key: string,
    reason: string,
  ): Promise<void> {
    if (!payment.intentId) throw new Error(`payment ${payment.id} is captured without an intent`);
    const outcome = await this.opts.checkout.gateway.refund({
      intentId: payment.intentId,
      amount,
      idempotencyKey: key,
      reason,
    });
    if (outcome.kind === "unknown") throw gatewayUnavailable();
    if (outcome.kind === "failed") {
      throw userError(
        ErrorCode.PAYMENT_FAILED,
        `The payment gateway refused the refund (${outcome.code}): ${outcome.message}`,
        {
          field: ["orderId"],
        },
      );
    }
  }

  private async pendingRefunds(order: OrderRow): Promise<number> {
    const [row] = await this.deps.db
      .select({ sum: sql<number>`coalesce(sum(${refunds.amount}), 0)::int` })
      .from(refunds)
      .where(
        and(eq(refunds.storeId, order.storeId), eq(refunds.orderId, order.id), eq(refunds.status, "PENDING")),
      );
    return Number(row?.sum ?? 0);
  }

  private async refundedUnitsByLine(order: OrderRow): Promise<Map<string, number>> {
    const rows = await this.deps.db
      .select({ lines: refunds.lines })
      .from(refunds)
      .where(
        and(
          eq(refunds.storeId, order.storeId),
          eq(refunds.orderId, order.id),
          inArray(refunds.status, ["PENDING", "SUCCEEDED"]),
        ),
      );
    const units = new Map<string, number>();
    for (const r of rows)
      for (const l of r.lines) units.set(l.lineId, (units.get(l.lineId) ?? 0) + l.quantity);
    return units;
  }

  /** A cancelled paid order's units to put back: what left the shelf minus what refunds restocked. */
  private async unitsNotRestocked(
    tx: Tx,
    order: OrderRow,
  ): Promise<{ variantId: string; quantity: number }[]> {
    const committed = await tx
      .select({ variantId: inventoryReservations.variantId, quantity: inventoryReservations.quantity })
      .from(inventoryReservations)
      .where(
        and(
          eq(inventoryReservations.storeId, order.storeId),
          eq(inventoryReservations.orderId, order.id),
          eq(inventoryReservations.status, "COMMITTED"),
        ),
      );
    const restocked = await tx
      .select({ restock: refunds.restock })
      .from(refunds)
      .where(
        and(
          eq(refunds.storeId, order.storeId),
          eq(refunds.orderId, order.id),
          eq(refunds.status, "SUCCEEDED"),
        ),
      );
    const back = new Map<string, number>();
    for (const c of committed) back.set(c.variantId, (back.get(c.variantId) ?? 0) + c.quantity);
    for (const r of restocked)
      for (const l of r.restock) back.set(l.variantId, (back.get(l.variantId) ?? 0) - l.quantity);
    return [...back].filter(([, q]) => q > 0).map(([variantId, quantity]) => ({ variantId, quantity }));
  }
}

function gatewayUnavailable(): UserFacingError {
  return userError(
    ErrorCode.PAYMENT_FAILED,
    "The payment gateway did not answer; nothing was changed. Try again (a retry never moves money twice)",
    { field: ["orderId"] },
  );
}
