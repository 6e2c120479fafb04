/**
 * checkoutComplete: the orchestrator of the checkout saga. No database transaction is ever open across
 * a gateway call; each step below is either one short transaction or one gateway call.
 *
 *   claim      the idempotency key names at most one order per store: a retry with the same key gets
 *              that order's stored answer; a concurrent duplicate waits for the first and gets the same;
 *              the key with another cart or total is IDEMPOTENCY_KEY_REUSED
 *   T1         place-order.step.ts: cart -> PENDING order, stock held, code uses counted
 *   authorise  payment.steps.ts (capture_method manual), key derived from the order id
 *   capture    payment.steps.ts
 *   T2         confirm.step.ts: CONFIRMED, CAPTURED, stock committed
 *   compensate compensate.step.ts when the card is declined or the capture fails (after voiding)
 *
 * A saga owns its order through a lease (orders.saga_lease_until). When the owner goes away (the
 * process died, the gateway did not answer), a retry with the same key, the recovery job or the
 * webhook picks the order up from what PostgreSQL and the gateway say, and every step it repeats is
 * idempotent: conditional transitions, and gateway calls under the same keys.
 */
import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Tx } from "../../db/client.js";
import { transactionRetryingConflicts } from "../../db/conflict-retry.js";
import { orders } from "../../db/schema.js";
import { type PaymentGateway, PaymentGatewayError } from "../../payments/index.js";
import type { CartService } from "../cart/cart.service.js";
import type { CartPricingService } from "../cart/cart-pricing.service.js";
import { actorLabel, type ServiceContext } from "../context.js";
import type { ServiceDeps } from "../deps.js";
import {
  ErrorCode,
  ForbiddenError,
  UnauthenticatedError,
  type UserErrorData,
  UserFacingError,
} from "../errors.js";
import { mergeLines } from "../inventory/stock.js";
import { syncStockGate } from "../inventory/stock-gate.js";
import type { OrderRow } from "../order/transition.js";
import { applyTransition } from "../order/transition.js";
import type { RedemptionService } from "../redemption.service.js";
import type { FraudCheck, FraudDecision } from "../risk/fraud-check.js";
import type { CheckoutInput, CheckoutResult } from "./checkout.types.js";
import { type ValidCheckout, validateCheckoutInput } from "./checkout-input.js";
import { compensateOrder } from "./compensate.step.js";
import { confirmOrder } from "./confirm.step.js";
import {
  authorizePayment,
  capturePayment,
  type GatewayStepDeps,
  voidAuthorization,
} from "./payment.steps.js";
import { type PaymentRow, paymentOfOrder } from "./payment-record.js";
import { IdempotencyKeyTaken, orderByKey, PriceChangedError, placeOrder } from "./place-order.step.js";

const WAIT_POLL_MS = 40;

export interface CheckoutServiceOptions {
  gateway: PaymentGateway;
  fraud: FraudCheck;
  carts: CartService;
  pricing: CartPricingService;
  redemptions: RedemptionService;
}

export class CheckoutService {
  /** Sagas running in this process, by store and key: a concurrent duplicate joins the first. */
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly steps: GatewayStepDeps;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly opts: CheckoutServiceOptions,
  ) {
    this.steps = { db: deps.db, gateway: opts.gateway, now: deps.now };
  }

  /** How long a saga owns its order (CHECKOUT_SAGA_LEASE_SECONDS). */
  get leaseMs(): number {
    return this.deps.config.CHECKOUT_SAGA_LEASE_SECONDS * 1000;
  }

  get gateway(): PaymentGateway {
    return this.opts.gateway;
  }

  async complete(ctx: ServiceContext, raw: CheckoutInput): Promise<CheckoutResult> {
    const caller = ctx.caller;
    if (caller.kind === "anonymous")
      throw new UnauthenticatedError("Create a guest session or sign in to check out");
    if (caller.kind === "staff") throw new ForbiddenError("Staff accounts do not check out");
    const input = validateCheckoutInput(raw);
    const key = `${ctx.store.id}|${input.idempotencyKey}`;
    const running = this.inflight.get(key);
    if (running) {
      await running.catch(() => undefined);
      return this.run(ctx, input);
    }
    const run = this.run(ctx, input);
    this.inflight.set(key, run);
    try {
      return await run;
    } finally {
      if (this.inflight.get(key) === run) this.inflight.delete(key);
    }
  }

  private async run(ctx: ServiceContext, input: ValidCheckout): Promise<CheckoutResult> {
    // A key already used is found by T1, under the cart's lock (or by its order insert); checking it
    // here first would cost every first attempt a statement to spare the rare retry one.
    // The flash-sale gate: a sold-out variant is refused from Redis alone, before any transaction.
    // PostgreSQL still decides everything the gate admits.
    // (Stores that hold stock at add-to-cart skip it: a shopper's own hold is not in the counter.)
    const gated = ctx.store.settings?.reservation.policy !== "cart";
    const cart = gated ? await this.opts.carts.get(ctx, input.cartId) : null;
    const admitted = cart && cart.status === "ACTIVE" ? mergeLines(cart.lines) : [];
    if (admitted.length) {
      const gate = await this.deps.infra.stockGate.take(ctx.store.id, admitted);
      if (!gate.admitted) {
        return {
          order: null,
          paymentClientSecret: null,
          priceChanges: [],
          userErrors: gate.short.map((s) => ({
            code: ErrorCode.INSUFFICIENT_STOCK,
            message: `Only ${Math.max(0, s.available)} available`,
            field: ["input", "cartId"],
            variantId: s.variantId,
            available: Math.max(0, s.available),
          })),
        };
      }
    }
    let placed: Awaited<ReturnType<typeof placeOrder>>;
    try {
      placed = await this.transaction("place order", (tx) =>
        placeOrder(
          tx,
          {
            carts: this.opts.carts,
            pricing: this.opts.pricing,
            redemptions: this.opts.redemptions,
            now: this.deps.now,
            reservationTtlMs: this.deps.config.RESERVATION_TTL_SECONDS * 1000,
            sagaLeaseMs: this.leaseMs,
            gatewayName: this.opts.gateway.name,
          },
          ctx,
          input,
        ),
      );
    } catch (e) {
      await this.deps.infra.stockGate.giveBack(ctx.store.id, admitted);
      if (e instanceof PriceChangedError) {
        return { order: null, paymentClientSecret: null, priceChanges: e.priceChanges, userErrors: e.errors };
      }
      if (e instanceof IdempotencyKeyTaken) {
        // Committed before our insert failed on it, so this read (after the rollback) sees it.
        const existing = await orderByKey(this.deps.db, ctx.store.id, input.idempotencyKey);
        if (!existing) throw new Error("the idempotency key's order is not there");
        return this.replay(ctx, input, existing);
      }
      throw e;
    }
    if (placed.kind === "existing") {
      await this.deps.infra.stockGate.giveBack(ctx.store.id, admitted);
      return this.replay(ctx, input, placed.order);
    }
    await this.syncGate(ctx.store.id, placed.available);
    this.deps.faults?.at("checkout:after-place-order");
    return this.settle(placed.order, placed.payment, actorLabel(ctx.caller));
  }

  /** The answer for a key that already names an order: its stored outcome, or the saga's once it settles. */
  private async replay(ctx: ServiceContext, input: ValidCheckout, order: OrderRow): Promise<CheckoutResult> {
    const caller = ctx.caller;
    const mine =
      (caller.kind === "customer" && order.customerId === caller.customerId) ||
      (caller.kind === "guest" && order.sessionId === caller.sessionId);
    if (
      !mine ||
      order.cartId !== input.cartId ||
      (input.expectedTotal !== null && input.expectedTotal !== order.total)
    ) {
      throw new UserFacingError({
        code: ErrorCode.IDEMPOTENCY_KEY_REUSED,
        message: "This idempotencyKey was used for another checkout; use a new key for a new checkout",
        field: ["input", "idempotencyKey"],
      });
    }
    const deadline = Date.now() + this.leaseMs + 5_000;
    let current = order;
    for (;;) {
      if (current.checkoutOutcome) return resultOf(current);
      const leaseFree =
        current.sagaLeaseUntil === null || current.sagaLeaseUntil.getTime() <= this.deps.now().getTime();
      if (leaseFree && current.status === "PENDING") {
        const resumed = await this.resume(current.storeId, current.id, actorLabel(caller));
        if (resumed) return resumed;
      }
      if (Date.now() > deadline) return stillPending(current);
      await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
      const [fresh] = await this.deps.db
        .select()
        .from(orders)
        .where(and(eq(orders.storeId, current.storeId), eq(orders.id, current.id)));
      if (!fresh) throw new Error(`order ${current.id} vanished`);
      current = fresh;
    }
  }

  /**
   * Takes over a PENDING order whose saga owner is gone (lease free) and drives it to an end; null when
   * another owner holds it or it is settled. Used by retries, the recovery job and the webhook.
   */
  async resume(storeId: string, orderId: string, actor: string): Promise<CheckoutResult | null> {
    const now = this.deps.now();
    const [taken] = await this.deps.db
      .update(orders)
      .set({ sagaLeaseUntil: new Date(now.getTime() + this.leaseMs) })
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
    if (!taken) return null;
    const payment = await paymentOfOrder(this.deps.db, storeId, orderId);
    if (!payment) throw new Error(`order ${orderId} has no payment row`);
    return this.settle(taken, payment, actor);
  }

  /** Drives a PENDING order the caller owns (its lease) from what its payment row says. */
  private async settle(order: OrderRow, payment: PaymentRow, actor: string): Promise<CheckoutResult> {
    if (order.total === 0) return this.confirm(order, payment, 0, actor, null);
    let intentId = payment.intentId;
    let fingerprint = payment.cardFingerprint;
    switch (payment.status) {
      case "PENDING": {
        const auth = await authorizePayment(this.steps, order, payment);
        this.deps.faults?.at("checkout:after-authorize");
        if (auth.kind === "declined") {
          return this.fail(order, payment, {
            status: "FAILED",
            reason: `payment declined: ${auth.declineCode}`,
            declineCode: auth.declineCode,
            failureMessage: auth.message,
            error: {
              code: ErrorCode.PAYMENT_DECLINED,
              message: `The card was declined (${auth.declineCode}): ${auth.message}`,
              field: ["input", "paymentMethod"],
            },
            actor,
          });
        }
        if (auth.kind === "requires_action") return this.reread(order);
        if (auth.kind === "unknown") return this.letGo(order, auth.message);
        intentId = auth.intentId;
        fingerprint = auth.cardFingerprint;
        break;
      }
      case "REQUIRES_ACTION": {
        let intent: Awaited<ReturnType<PaymentGateway["retrieve"]>>;
        try {
          intent = intentId ? await this.opts.gateway.retrieve(intentId) : null;
        } catch (e) {
          if (e instanceof PaymentGatewayError && e.reason === "unavailable")
            return this.letGo(order, e.message);
          throw e;
        }
        if (intent?.status === "captured")
          return this.confirm(order, payment, intent.amountReceived, actor, "captured");
        if (intent?.status === "cancelled" || intent?.status === "requires_payment_method") {
          return this.fail(order, payment, {
            status: "FAILED",
            reason: "authentication failed or was abandoned",
            declineCode: intent.lastPaymentError?.declineCode ?? intent.lastPaymentError?.code ?? null,
            failureMessage: intent.lastPaymentError?.message ?? null,
            error: {
              code: ErrorCode.PAYMENT_DECLINED,
              message: intent.lastPaymentError?.message ?? "The card's authentication did not succeed",
              field: ["input", "paymentMethod"],
            },
            actor,
          });
        }
        if (intent?.status !== "authorized") return this.reread(order);
        break;
      }
      case "AUTHORIZED":
        break;
      case "CAPTURED":
        return this.confirm(order, payment, payment.captured || order.total, actor, null);
      default:
        return this.reread(order);
    }
    if (!intentId) throw new Error(`order ${order.id}: authorised without an intent id`);
    // Fraud review sits between authorisation and capture: nothing is taken before it has answered.
    const decision = await this.riskDecision(order, fingerprint);
    if (decision.verdict === "REVIEW") return this.hold(order, decision, actor);
    if (decision.verdict === "REJECT") {
      await voidAuthorization(this.steps, payment, intentId, "fraudulent");
      return this.fail(order, payment, {
        status: "FAILED",
        reason: `rejected by the store's fraud rules: ${decision.reasons.join("; ")}`,
        declineCode: "rejected",
        failureMessage: "rejected by the store's fraud rules",
        // The shopper learns that it failed, never which rule said so.
        error: {
          code: ErrorCode.PAYMENT_DECLINED,
          message: "The payment was declined. Try another payment method or contact the store",
          field: ["input", "paymentMethod"],
        },
        actor,
      });
    }
    const captured = await capturePayment(this.steps, payment, intentId);
    if (captured.kind === "captured")
      return this.confirm(order, payment, captured.amountReceived, actor, "captured");
    if (captured.kind === "unknown") return this.letGo(order, captured.message);
    // The capture was refused for good: release the hold, then undo the order.
    await voidAuthorization(this.steps, payment, intentId, "abandoned");
    return this.fail(order, payment, {
      status: "FAILED",
      reason: `capture failed: ${captured.code}`,
      declineCode: captured.code,
      failureMessage: captured.message,
      error: {
        code: ErrorCode.PAYMENT_FAILED,
        message: `The payment could not be completed (${captured.code}); nothing was charged`,
        field: ["input", "paymentMethod"],
      },
      actor,
    });
  }

  private async confirm(
    order: OrderRow,
    payment: PaymentRow,
    captured: number,
    actor: string,
    event: "captured" | null,
  ): Promise<CheckoutResult> {
    const at = this.deps.now();
    const confirmed = await this.transaction("confirm", (tx) =>
      confirmOrder(tx, {
        storeId: order.storeId,
        orderId: order.id,
        paymentId: payment.id,
        from: "PENDING",
        captured,
        by: "system",
        actor,
        reason: captured > 0 ? "payment captured" : "nothing to pay",
        paymentEvent: event ? { type: event, amount: captured } : null,
        at,
      }),
    );
    return confirmed ? resultOf(confirmed.order) : this.reread(order);
  }

  private async fail(
    order: OrderRow,
    payment: PaymentRow,
    f: {
      status: "FAILED" | "CANCELLED";
      reason: string;
      declineCode: string | null;
      failureMessage: string | null;
      error: UserErrorData;
      actor: string;
    },
  ): Promise<CheckoutResult> {
    const compensated = await this.transaction("compensate", (tx) =>
      compensateOrder(tx, this.opts, {
        storeId: order.storeId,
        orderId: order.id,
        paymentId: payment.id,
        from: "PENDING",
        reason: f.reason,
        by: "system",
        actor: f.actor,
        paymentStatus: f.status,
        declineCode: f.declineCode,
        failureMessage: f.failureMessage,
        paymentEvent: { type: "failed", data: { reason: f.reason } },
        outcome: { userErrors: [f.error] },
        reopenCart: true,
        at: this.deps.now(),
      }),
    );
    if (!compensated) return this.reread(order);
    await this.syncGate(order.storeId, compensated.available);
    return resultOf(compensated.order);
  }

  /**
   * One saga transaction, run again when PostgreSQL ended it to break a deadlock (conflict-retry.ts):
   * each step's body only reads and writes the database, so a rerun starts afresh.
   */
  private transaction<T>(step: string, body: (tx: Tx) => Promise<T>): Promise<T> {
    return transactionRetryingConflicts(this.deps.db, this.deps.logger, `checkout: ${step}`, body);
  }

  /** Tells the flash-sale gate what PostgreSQL now holds for these variants (after a commit). */
  syncGate(storeId: string, available: ReadonlyMap<string, number>): Promise<void> {
    return syncStockGate(this.deps.infra.stockGate, this.deps.config, storeId, available);
  }

  /**
   * The fraud rules' verdict on an authorised order: asked once and kept on the order (risk), so a
   * resumed saga acts on the same verdict and staff see why.
   */
  private async riskDecision(order: OrderRow, cardFingerprint: string | null): Promise<FraudDecision> {
    const stored = order.risk as { verdict?: FraudDecision["verdict"]; reasons?: string[] } | null;
    if (stored?.verdict) return { verdict: stored.verdict, reasons: stored.reasons ?? [] };
    const decision = await this.opts.fraud.assess({
      storeId: order.storeId,
      orderId: order.id,
      total: order.total,
      currency: order.currency,
      email: order.email,
      customerId: order.customerId,
      clientIp: order.clientIp,
      cardFingerprint,
      shippingCountry: order.shippingAddress?.country ?? null,
      billingCountry: order.billingAddress?.country ?? null,
    });
    if (decision.verdict !== "ACCEPT" || decision.reasons.length > 0) {
      await this.deps.db
        .update(orders)
        .set({ risk: { ...decision, at: this.deps.now().toISOString() } })
        .where(and(eq(orders.storeId, order.storeId), eq(orders.id, order.id)));
    }
    return decision;
  }

  /** REVIEW: the order waits ON_HOLD, authorised, uncaptured, its stock held, for a staff decision. */
  private async hold(order: OrderRow, decision: FraudDecision, actor: string): Promise<CheckoutResult> {
    const at = this.deps.now();
    const held = await this.transaction("hold for review", (tx) =>
      applyTransition(tx, {
        storeId: order.storeId,
        orderId: order.id,
        from: "PENDING",
        to: "ON_HOLD",
        by: "system",
        actor,
        reason: `held for review: ${decision.reasons.join("; ")}`,
        at,
        set: {
          paymentStatus: "AUTHORIZED",
          risk: { ...decision, at: at.toISOString() },
          sagaLeaseUntil: null,
          reservationExpiresAt: null,
          checkoutOutcome: { userErrors: [] },
        },
      }),
    );
    return held ? resultOf(held) : this.reread(order);
  }

  /** The gateway did not answer: give the lease up at once so a retry with the same key resumes. */
  private async letGo(order: OrderRow, message: string): Promise<CheckoutResult> {
    const [row] = await this.deps.db
      .update(orders)
      .set({ sagaLeaseUntil: null })
      .where(and(eq(orders.storeId, order.storeId), eq(orders.id, order.id), eq(orders.status, "PENDING")))
      .returning();
    return {
      ...stillPending(row ?? order),
      userErrors: [
        {
          code: ErrorCode.PAYMENT_FAILED,
          message: `The payment could not be confirmed yet (${message}). The order stays PENDING and will be settled; retry with the same idempotencyKey to learn the result. You will never be charged twice`,
          field: ["input", "paymentMethod"],
        },
      ],
    };
  }

  private async reread(order: OrderRow): Promise<CheckoutResult> {
    const [row] = await this.deps.db
      .select()
      .from(orders)
      .where(and(eq(orders.storeId, order.storeId), eq(orders.id, order.id)));
    return row?.checkoutOutcome ? resultOf(row) : stillPending(row ?? order);
  }
}

/** The stored answer of a settled checkout: the same payload for every retry with its key. */
export function resultOf(order: OrderRow): CheckoutResult {
  const outcome = order.checkoutOutcome;
  return {
    order,
    paymentClientSecret: order.status === "PENDING" ? (outcome?.clientSecret ?? null) : null,
    priceChanges: [],
    userErrors: (outcome?.userErrors ?? []).map((e) => ({
      code: e.code as UserErrorData["code"],
      message: e.message,
      field: e.field ?? undefined,
    })),
  };
}

function stillPending(order: OrderRow): CheckoutResult {
  return {
    order,
    paymentClientSecret: null,
    priceChanges: [],
    userErrors: [
      {
        code: ErrorCode.PAYMENT_FAILED,
        message:
          "The payment is still being confirmed; the order stays PENDING. Retry with the same idempotencyKey to learn the result",
        field: ["input", "paymentMethod"],
      },
    ],
  };
}
