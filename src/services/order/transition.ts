/**
 * Moving an order from one status to another: one conditional `UPDATE ... WHERE status = <from>`, so
 * of several concurrent moves of one order exactly one wins and the history stays one chain; the
 * history row and the `order.status_changed` event are written in the same transaction.
 */
import { and, eq, type SQLWrapper } from "drizzle-orm";
import type { Tx } from "../../db/client.js";
import { rowFromJson } from "../../db/json-rows.js";
import { orderStatusHistory, orders } from "../../db/schema.js";
import { type OutboxEvent, writeOutboxMany } from "../outbox.js";
import {
  type OrderStatus,
  type TransitionActor,
  type TransitionFacts,
  transitionProblem,
} from "./order-status.js";

export type OrderRow = typeof orders.$inferSelect;

export const ORDER_STATUS_CHANGED = "order.status_changed";

export interface TransitionInput {
  storeId: string;
  orderId: string;
  from: OrderStatus;
  to: OrderStatus;
  by: TransitionActor;
  /** Who, for the history: "system", "staff:<id>", "customer:<id>", "guest:<session>", "job:<name>". */
  actor: string;
  reason?: string | null;
  facts?: TransitionFacts;
  /** Other columns changed in the same UPDATE (payment status, tracking number, ...). */
  set?: Partial<Omit<typeof orders.$inferInsert, "status" | "id" | "storeId">>;
  at: Date;
}

/**
 * Applies the move when the order is still in `from`; returns the updated order, or null when another
 * transaction moved it first. A move the table forbids is a programming error here: callers turn the
 * table's answer into a userError (INVALID_ORDER_TRANSITION) before they get this far. `also`: more
 * writes and events of the same change, sent in the statement that records the move.
 */
export async function applyTransition(
  tx: Tx,
  input: TransitionInput,
  also: { events?: readonly OutboxEvent[]; writes?: readonly SQLWrapper[] } = {},
): Promise<OrderRow | null> {
  const claimed = await claimTransition(tx, input);
  if (!claimed) return null;
  await recordTransition(tx, claimed, also);
  return claimed.row;
}

/** A move won but not yet recorded: its history row and event still to be written (recordTransition). */
export interface ClaimedTransition {
  input: TransitionInput;
  row: OrderRow;
}

/** The conditional UPDATE, sent on its own. */
async function claimTransition(tx: Tx, input: TransitionInput): Promise<ClaimedTransition | null> {
  const [row] = await claimStatement(tx, input);
  return row ? { input, row } : null;
}

/**
 * The conditional UPDATE ... RETURNING of a move, not yet sent: for a caller that sends it inside a
 * statement of its own (its RETURNING row, as JSON, is the order: `orderFromJson`).
 */
export function claimStatement(tx: Tx, input: TransitionInput) {
  const problem = transitionProblem(input.from, input.to, input.by, input.facts);
  if (problem) throw new Error(`order transition refused: ${problem}`);
  return tx
    .update(orders)
    .set({ ...input.set, status: input.to, updatedAt: input.at })
    .where(
      and(eq(orders.storeId, input.storeId), eq(orders.id, input.orderId), eq(orders.status, input.from)),
    )
    .returning();
}

export const orderFromJson = (json: Record<string, unknown>): OrderRow => rowFromJson(orders, json);

/** The history row and the event of a claimed move, with the caller's other writes: one statement. */
export async function recordTransition(
  tx: Tx,
  { input, row }: ClaimedTransition,
  also: { events?: readonly OutboxEvent[]; writes?: readonly SQLWrapper[] } = {},
): Promise<void> {
  const history = tx.insert(orderStatusHistory).values({
    storeId: input.storeId,
    orderId: input.orderId,
    fromStatus: input.from,
    toStatus: input.to,
    actor: input.actor,
    reason: input.reason ?? null,
    at: input.at,
  });
  await writeOutboxMany(
    tx,
    [statusChangedEvent(input, row), ...(also.events ?? [])],
    [history, ...(also.writes ?? [])],
  );
}

/** The `order.status_changed` event of a move. */
function statusChangedEvent(input: TransitionInput, row: OrderRow): OutboxEvent {
  return {
    storeId: input.storeId,
    topic: ORDER_STATUS_CHANGED,
    key: input.orderId,
    payload: {
      orderId: input.orderId,
      number: row.number,
      customerId: row.customerId,
      email: row.email,
      from: input.from,
      to: input.to,
      paymentStatus: row.paymentStatus,
      actor: input.actor,
      reason: input.reason ?? null,
      trackingNumber: row.trackingNumber,
      carrier: row.carrier,
      at: input.at.toISOString(),
    },
  };
}
