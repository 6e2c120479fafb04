/**
 * Stock held for an order (or a cart), as rows that say why `reserved` is what it is. Releasing flips
 * the rows (ACTIVE -> RELEASED/EXPIRED) with a conditional UPDATE and moves the counters by exactly the
 * rows flipped, so doing it twice moves nothing the second time. Committing (a paid order) flips them
 * to COMMITTED and unsettled without touching the counters; settlement.ts takes the units off later.
 */
import { and, eq, type SQLWrapper, sql } from "drizzle-orm";
import type { Tx } from "../../db/client.js";
import { inventoryMovements, inventoryReservations } from "../../db/schema.js";
import { settleSales } from "./settlement.js";
import {
  type MovedRow,
  type MovementResult,
  mergeLines,
  movementResult,
  movementSql,
  moveStock,
  type StockLine,
} from "./stock.js";

type Holder = { orderId: string } | { cartId: string };

const holderIs = (holder: Holder) =>
  "orderId" in holder
    ? eq(inventoryReservations.orderId, holder.orderId)
    : eq(inventoryReservations.cartId, holder.cartId);

type FlipRow = {
  lines: [string, number][] | null;
  moved: MovedRow[] | null;
};

/**
 * Flips the holder's ACTIVE reservations to RELEASED/EXPIRED and moves the counters by exactly the rows
 * flipped, in ONE statement: the flip, the variants locked in ascending id order (as every stock change
 * locks them, so none can deadlock with another), and the conditional UPDATE.
 */
async function flipAndRelease(
  tx: Tx,
  storeId: string,
  holder: Holder,
  to: "RELEASED" | "EXPIRED",
  at: Date,
): Promise<MovementResult & { lines: StockLine[] }> {
  const held = "orderId" in holder ? sql`r.order_id = ${holder.orderId}` : sql`r.cart_id = ${holder.cartId}`;
  const { set, guard } = movementSql("release");
  const [row] = await tx.execute<FlipRow>(sql`
    with flipped as (
      update inventory_reservations r set status = ${to}::reservation_status, updated_at = ${at.toISOString()}::timestamptz
       where r.store_id = ${storeId} and ${held} and r.status = 'ACTIVE'
      returning r.variant_id, r.quantity
    ), w as (
      select f.variant_id as id, sum(f.quantity)::int as q from flipped f group by f.variant_id
    ), locked as materialized (
      select v.id, v.stock_state from product_variants v
       where v.store_id = ${storeId} and v.id in (select w.id from w)
       order by v.id
         for no key update of v
    ), moved as (
      update product_variants v set ${set}
        from w join locked l on l.id = w.id
       where v.store_id = ${storeId} and v.id = w.id and ${guard}
      returning v.id, v.stock_on_hand, v.reserved, v.low_stock_threshold, v.stock_state, l.stock_state as state_before
    )
    select (select json_agg(json_build_array(f.variant_id, f.quantity)) from flipped f) as lines,
           (select json_agg(to_json(m)) from moved m) as moved`);
  const lines = (row?.lines ?? []).map(([variantId, quantity]) => ({ variantId, quantity }));
  if (lines.length === 0) return { ...NOTHING, lines };
  const moved = movementResult(mergeLines(lines), row?.moved ?? []);
  if (moved.refused.length) {
    throw new Error(`reserved below its reservations for ${moved.refused.join(", ")}`);
  }
  return { ...moved, lines };
}

const NOTHING: MovementResult = { refused: [], changes: [], after: new Map() };

/** Gives back what the holder still holds (compensation, cancellation, expiry). */
export async function releaseReservations(
  tx: Tx,
  storeId: string,
  holder: Holder,
  at: Date,
  as: "RELEASED" | "EXPIRED" = "RELEASED",
): Promise<MovementResult & { lines: StockLine[] }> {
  return flipAndRelease(tx, storeId, holder, as, at);
}

/**
 * A paid order's held units are sold: its ACTIVE reservations become COMMITTED and unsettled, in ONE
 * statement that touches no variant (the units leave the counters at settlement, settlement.ts).
 * `gate`: a data-modifying statement with RETURNING sent in the same statement and run first (the
 * order's conditional move, so its row lock comes before the reservations'); nothing flips unless it
 * returned a row, and its first row comes back as JSON (`gate`).
 */
export async function commitReservations(
  tx: Tx,
  storeId: string,
  orderId: string,
  at: Date,
  gate: SQLWrapper,
): Promise<{ gate: Record<string, unknown> | null }> {
  const [row] = await tx.execute<{ gate: Record<string, unknown> | null }>(sql`
    with gate as (${gate.getSQL()}), flipped as (
      update inventory_reservations r
         set status = 'COMMITTED', unsettled = true, updated_at = ${at.toISOString()}::timestamptz
       where r.store_id = ${storeId} and r.order_id = ${orderId} and r.status = 'ACTIVE'
         and exists (select 1 from gate)
    )
    select (select to_json(g) from gate g limit 1) as gate`);
  return { gate: row?.gate ?? null };
}

/** Units back on the shelf after they had left it (cancel after payment, refund with restock). */
export async function restock(
  tx: Tx,
  storeId: string,
  lines: StockLine[],
  actor: string,
  reason: string,
  at: Date,
  orderId: string | null,
): Promise<MovementResult> {
  if (lines.length === 0) return NOTHING;
  // Sold units of these variants leave the counters first, so the movement's stock_after is the count.
  await settleSales(tx, { storeId, variantIds: lines.map((l) => l.variantId) }, at);
  const moved = await moveStock(tx, storeId, "restock", lines);
  if (moved.refused.length) throw new Error(`restock refused for ${moved.refused.join(", ")}`);
  await movementRows(tx, storeId, lines, moved, actor, reason, at, orderId);
  return moved;
}

/** The movement rows of a restock, one per variant. */
function movementRows(
  tx: Tx,
  storeId: string,
  lines: StockLine[],
  moved: MovementResult,
  actor: string,
  reason: string,
  at: Date,
  orderId: string | null,
) {
  const byVariant = new Map<string, number>();
  for (const l of lines) byVariant.set(l.variantId, (byVariant.get(l.variantId) ?? 0) + l.quantity);
  return tx.insert(inventoryMovements).values(
    [...byVariant].map(([variantId, quantity]) => ({
      storeId,
      variantId,
      delta: quantity,
      reason,
      actor,
      orderId,
      stockAfter: moved.after.get(variantId)?.stockOnHand ?? 0,
      createdAt: at,
    })),
  );
}

/** Reservations still held by a holder, by variant (for reporting and conversion). */
export async function activeReservations(tx: Tx, storeId: string, holder: Holder): Promise<StockLine[]> {
  return tx
    .select({
      variantId: inventoryReservations.variantId,
      quantity: sql<number>`${inventoryReservations.quantity}`,
    })
    .from(inventoryReservations)
    .where(
      and(
        eq(inventoryReservations.storeId, storeId),
        holderIs(holder),
        eq(inventoryReservations.status, "ACTIVE"),
      ),
    );
}
