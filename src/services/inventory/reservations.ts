/**
 * Stock held for an order (or a cart), as rows that say why `reserved` is what it is. Releasing and
 * committing flip the rows (ACTIVE -> RELEASED/EXPIRED/COMMITTED) with a conditional UPDATE and move the
 * counters by exactly the rows flipped, so doing either twice moves nothing the second time.
 */
import { and, eq, type SQLWrapper, sql } from "drizzle-orm";
import type { Tx } from "../../db/client.js";
import { inventoryMovements, inventoryReservations } from "../../db/schema.js";
import { type MovementResult, moveStock, type StockLine } from "./stock.js";

type Holder = { orderId: string } | { cartId: string };

const holderIs = (holder: Holder) =>
  "orderId" in holder
    ? eq(inventoryReservations.orderId, holder.orderId)
    : eq(inventoryReservations.cartId, holder.cartId);

async function flip(
  tx: Tx,
  storeId: string,
  holder: Holder,
  to: "RELEASED" | "EXPIRED" | "COMMITTED",
  at: Date,
): Promise<StockLine[]> {
  const rows = await tx
    .update(inventoryReservations)
    .set({ status: to, updatedAt: at })
    .where(
      and(
        eq(inventoryReservations.storeId, storeId),
        holderIs(holder),
        eq(inventoryReservations.status, "ACTIVE"),
      ),
    )
    .returning({ variantId: inventoryReservations.variantId, quantity: inventoryReservations.quantity });
  return rows;
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
  const lines = await flip(tx, storeId, holder, as, at);
  if (lines.length === 0) return { ...NOTHING, lines };
  const moved = await moveStock(tx, storeId, "release", lines);
  if (moved.refused.length)
    throw new Error(`reserved below its reservations for ${moved.refused.join(", ")}`);
  return { ...moved, lines };
}

/**
 * A paid order's held units leave the shelf. Their movement rows come back unwritten (`writes`) for the
 * caller to send with the rest of its change in one statement.
 */
export async function commitReservations(
  tx: Tx,
  storeId: string,
  orderId: string,
  actor: string,
  reason: string,
  at: Date,
): Promise<MovementResult & { lines: StockLine[]; writes: SQLWrapper[] }> {
  const lines = await flip(tx, storeId, { orderId }, "COMMITTED", at);
  if (lines.length === 0) return { ...NOTHING, lines, writes: [] };
  const moved = await moveStock(tx, storeId, "commit", lines);
  if (moved.refused.length)
    throw new Error(`reserved below its reservations for ${moved.refused.join(", ")}`);
  return {
    ...moved,
    lines,
    writes: [movementRows(tx, storeId, lines, -1, moved, actor, reason, at, orderId)],
  };
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
  const moved = await moveStock(tx, storeId, "restock", lines);
  if (moved.refused.length) throw new Error(`restock refused for ${moved.refused.join(", ")}`);
  await recordMovements(tx, storeId, lines, 1, moved, actor, reason, at, orderId);
  return moved;
}

async function recordMovements(
  tx: Tx,
  storeId: string,
  lines: StockLine[],
  sign: 1 | -1,
  moved: MovementResult,
  actor: string,
  reason: string,
  at: Date,
  orderId: string | null,
): Promise<void> {
  await movementRows(tx, storeId, lines, sign, moved, actor, reason, at, orderId);
}

/** The movement rows of a change, one per variant, as an insert not yet sent. */
function movementRows(
  tx: Tx,
  storeId: string,
  lines: StockLine[],
  sign: 1 | -1,
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
      delta: sign * quantity,
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
