/**
 * The payment row and its append-only event log, as the saga learns things from the gateway. Every
 * gateway answer that changes what we know is written here, in the transaction that acts on it, so
 * every cent can be explained afterwards.
 */
import { and, eq, type SQLWrapper, sql } from "drizzle-orm";
import type { Executor } from "../../db/client.js";
import { paymentEvents, payments } from "../../db/schema.js";
import { writeOutboxMany } from "../outbox.js";

export type PaymentRow = typeof payments.$inferSelect;
type PaymentStatus = PaymentRow["status"];

export interface PaymentChange {
  status?: PaymentStatus;
  intentId?: string | null;
  clientSecret?: string | null;
  cardFingerprint?: string | null;
  captured?: number;
  declineCode?: string | null;
  failureMessage?: string | null;
  authorizedAt?: Date | null;
  /** Adds to `refunded` (never above captured: a CHECK holds it). */
  refundedDelta?: number;
}

export interface PaymentEventRecord {
  type: string;
  amount?: number | null;
  gatewayEventId?: string | null;
  data?: Record<string, unknown>;
}

export async function updatePayment(
  tx: Executor,
  storeId: string,
  paymentId: string,
  change: PaymentChange,
  event: PaymentEventRecord | null,
  at: Date,
  alongside: readonly SQLWrapper[] = [],
): Promise<void> {
  // The row, its event and whatever else the caller writes with it: one statement (data-modifying CTEs).
  await writeOutboxMany(tx, [], [...paymentWrites(tx, storeId, paymentId, change, event, at), ...alongside]);
}

/** The writes of a payment change (its row and its event), for callers that send them with others. */
export function paymentWrites(
  tx: Executor,
  storeId: string,
  paymentId: string,
  change: PaymentChange,
  event: PaymentEventRecord | null,
  at: Date,
): SQLWrapper[] {
  const { refundedDelta, ...columns } = change;
  const update = tx
    .update(payments)
    .set({
      ...columns,
      ...(refundedDelta ? { refunded: sql`${payments.refunded} + ${refundedDelta}` } : {}),
      updatedAt: at,
    })
    .where(and(eq(payments.storeId, storeId), eq(payments.id, paymentId)));
  if (!event) return [update];
  return [
    update,
    tx.insert(paymentEvents).values({
      storeId,
      paymentId,
      type: event.type,
      amount: event.amount ?? null,
      gatewayEventId: event.gatewayEventId ?? null,
      data: event.data ?? {},
      createdAt: at,
    }),
  ];
}

/** The order's payment (one per order today: a retry with another card is another order). */
export async function paymentOfOrder(
  tx: Executor,
  storeId: string,
  orderId: string,
): Promise<PaymentRow | null> {
  const [row] = await tx
    .select()
    .from(payments)
    .where(and(eq(payments.storeId, storeId), eq(payments.orderId, orderId)))
    .limit(1);
  return row ?? null;
}
