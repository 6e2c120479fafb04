/**
 * Saga step T2, one transaction: the money is captured, so the order is CONFIRMED, the payment
 * CAPTURED, and its held stock sold (reservations COMMITTED and unsettled: the units leave on hand and
 * reserved together at settlement, inventory/settlement.ts, so this step writes no variant row), with
 * history and events. Conditional on the order still being where the saga left it, so a webhook
 * and the saga (or recovery) confirming at once confirm it once.
 */
import type { Tx } from "../../db/client.js";
import { commitReservations } from "../inventory/reservations.js";
import type { OrderStatus, TransitionActor } from "../order/order-status.js";
import {
  claimStatement,
  type OrderRow,
  orderFromJson,
  recordTransition,
  type TransitionInput,
} from "../order/transition.js";
import { type PaymentEventRecord, paymentWrites } from "./payment-record.js";

export interface ConfirmInput {
  storeId: string;
  orderId: string;
  paymentId: string;
  from: Extract<OrderStatus, "PENDING" | "ON_HOLD">;
  captured: number;
  by: TransitionActor;
  actor: string;
  reason: string;
  paymentEvent: PaymentEventRecord | null;
  at: Date;
}

export async function confirmOrder(tx: Tx, input: ConfirmInput): Promise<{ order: OrderRow } | null> {
  const move: TransitionInput = {
    storeId: input.storeId,
    orderId: input.orderId,
    from: input.from,
    to: "CONFIRMED",
    by: input.by,
    actor: input.actor,
    reason: input.reason,
    at: input.at,
    set: {
      paymentStatus: "CAPTURED",
      sagaLeaseUntil: null,
      reservationExpiresAt: null,
      checkoutOutcome: { userErrors: [] },
    },
  };
  // The conditional move and the sale: one statement, the move first (the order's row lock, then the
  // reservations', as every path takes them). No stock state can change: available stays as it was.
  const committed = await commitReservations(
    tx,
    input.storeId,
    input.orderId,
    input.at,
    claimStatement(tx, move),
  );
  if (!committed.gate) return null;
  const order = orderFromJson(committed.gate);
  // History, events and the payment: one statement.
  await recordTransition(
    tx,
    { input: move, row: order },
    {
      writes: [
        ...paymentWrites(
          tx,
          input.storeId,
          input.paymentId,
          { status: "CAPTURED", captured: input.captured },
          input.paymentEvent,
          input.at,
        ),
      ],
    },
  );
  return { order };
}
