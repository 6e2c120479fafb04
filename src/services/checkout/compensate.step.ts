/**
 * The compensation of place-order (T1), in one transaction: the order is CANCELLED with its reason,
 * its held stock is released, its discount uses are given back, the payment is marked FAILED (or
 * CANCELLED) and the shopper gets their cart back. Used when the card is declined, the capture fails,
 * the fraud rules reject the order, a review is rejected, or the reservation expires.
 *
 * Nothing here talks to the gateway: voiding an authorisation is the caller's step, before this one,
 * outside any transaction. The transition is conditional (WHERE status = <from>), so when another
 * path settled the order first, this changes nothing and says so (returns null).
 *
 * Lock order: order row, then carts, then variants, then discounts; the same order place-order takes
 * carts, variants and discounts in, so the two never deadlock.
 */
import type { Tx } from "../../db/client.js";
import type { CheckoutOutcomeJson } from "../../db/schema.js";
import type { CartService } from "../cart/cart.service.js";
import { releaseReservations } from "../inventory/reservations.js";
import { stockStateEvents } from "../inventory/stock-events.js";
import type { OrderStatus, TransitionActor } from "../order/order-status.js";
import { applyTransition, type OrderRow } from "../order/transition.js";
import { writeOutboxMany } from "../outbox.js";
import type { RedemptionService } from "../redemption.service.js";
import { type PaymentEventRecord, updatePayment } from "./payment-record.js";

export interface CompensationInput {
  storeId: string;
  orderId: string;
  paymentId: string;
  from: Extract<OrderStatus, "PENDING" | "ON_HOLD">;
  reason: string;
  by: TransitionActor;
  actor: string;
  paymentStatus: "FAILED" | "CANCELLED";
  declineCode?: string | null;
  failureMessage?: string | null;
  paymentEvent?: PaymentEventRecord | null;
  /** Stored as the checkout's answer when the checkout itself is what failed. */
  outcome?: CheckoutOutcomeJson | null;
  /** Give the shopper their cart back (every checkout failure does). */
  reopenCart: boolean;
  at: Date;
}

export interface CompensationResult {
  order: OrderRow;
  /** Carts that changed (reopened or merged). */
  carts: { id: string; version: number }[];
  /** Sellable stock after the release, for the flash-sale gate. */
  available: Map<string, number>;
  released: { variantId: string; quantity: number }[];
}

export async function compensateOrder(
  tx: Tx,
  deps: { carts: CartService; redemptions: RedemptionService },
  input: CompensationInput,
): Promise<CompensationResult | null> {
  const order = await applyTransition(tx, {
    storeId: input.storeId,
    orderId: input.orderId,
    from: input.from,
    to: "CANCELLED",
    by: input.by,
    actor: input.actor,
    reason: input.reason,
    at: input.at,
    set: {
      paymentStatus: input.paymentStatus,
      cancelReason: input.reason,
      sagaLeaseUntil: null,
      reservationExpiresAt: null,
      ...(input.outcome ? { checkoutOutcome: input.outcome } : {}),
    },
  });
  if (!order) return null;
  const carts =
    input.reopenCart && order.cartId
      ? await deps.carts.reopenAfterCheckout(tx, input.storeId, order.cartId)
      : [];
  const released = await releaseReservations(tx, input.storeId, { orderId: order.id }, input.at);
  await deps.redemptions.reverseOrder(tx, { storeId: input.storeId, orderId: order.id });
  await updatePayment(
    tx,
    input.storeId,
    input.paymentId,
    {
      status: input.paymentStatus,
      ...(input.declineCode !== undefined ? { declineCode: input.declineCode } : {}),
      ...(input.failureMessage !== undefined ? { failureMessage: input.failureMessage } : {}),
    },
    input.paymentEvent ?? null,
    input.at,
  );
  await writeOutboxMany(tx, stockStateEvents(input.storeId, released.changes, input.at));
  return {
    order,
    carts,
    available: new Map([...released.after].map(([id, a]) => [id, a.available])),
    released: released.lines,
  };
}
