/**
 * Stock held by carts, for stores whose reservation policy is "cart" (see store-settings.ts): after
 * every change of such a cart, in the same transaction, the cart holds exactly its quantities, for
 * holdMinutes after that change. Holds are inventory_reservations rows with cart_id set; their units
 * are in `reserved` like an order's, so nobody else can sell them.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Tx } from "../../db/client.js";
import { inventoryReservations } from "../../db/schema.js";
import { activeReservations } from "./reservations.js";
import {
  type LockedVariant,
  lockVariants,
  mergeLines,
  moveStock,
  type StockLine,
  type StockStateChange,
  stockStateFor,
} from "./stock.js";

export interface HoldResult {
  /** Variants asked for strictly that could not be held in full (nothing new is held then), with what is left. */
  short: { variantId: string; available: number }[];
  changes: StockStateChange[];
  /** Sellable units after the change, for the flash-sale gate. */
  available: Map<string, number>;
}

const NONE: HoldResult = { short: [], changes: [], available: new Map() };

/** Units the cart holds now, by variant. */
export async function heldByCart(tx: Tx, storeId: string, cartId: string): Promise<Map<string, number>> {
  const rows = await activeReservations(tx, storeId, { cartId });
  return new Map(mergeLines(rows).map((l) => [l.variantId, l.quantity]));
}

/**
 * Makes the cart hold `wanted` (by variant). A variant in `strictFor` (the shopper asked for more of
 * it) is all or nothing: when it is short, nothing new is held and `short` says what is left (the
 * caller refuses the change). Every other variant holds what it can: a change that asks for no more
 * (an email, a smaller quantity, a cart given back after a failed checkout) is never refused because
 * a hold that ran out could not be taken again.
 */
export async function holdCartStock(
  tx: Tx,
  storeId: string,
  cartId: string,
  wanted: readonly StockLine[],
  until: Date,
  strictFor: ReadonlySet<string>,
): Promise<HoldResult> {
  const held = await heldByCart(tx, storeId, cartId);
  const want = new Map(mergeLines(wanted).map((l) => [l.variantId, l.quantity]));
  const touched = [...new Set([...held.keys(), ...want.keys()])];
  if (touched.length === 0) return NONE;
  const locked = await lockVariants(tx, storeId, touched);
  const more: StockLine[] = [];
  const less: StockLine[] = [];
  const short: HoldResult["short"] = [];
  for (const variantId of touched) {
    const delta = (want.get(variantId) ?? 0) - (held.get(variantId) ?? 0);
    const v = locked.get(variantId);
    if (delta < 0) less.push({ variantId, quantity: -delta });
    if (delta > 0) {
      const room = Math.max(0, v?.available ?? 0);
      const strict = strictFor.has(variantId);
      if (strict && room < delta) short.push({ variantId, available: room + (held.get(variantId) ?? 0) });
      const take = strict ? delta : Math.min(delta, room);
      if (take > 0) more.push({ variantId, quantity: take });
    }
  }
  if (short.length) return { ...NONE, short };
  const released = less.length ? await moveStock(tx, storeId, "release", less, locked) : null;
  const reserved = more.length ? await moveStock(tx, storeId, "reserve", more, locked) : null;
  if (reserved?.refused.length) throw new Error("stock moved under lock");
  const after = new Map([...(released?.after ?? []), ...(reserved?.after ?? [])]);
  const holds = new Map(touched.map((id) => [id, 0]));
  for (const [id, q] of held) holds.set(id, q);
  for (const l of less) holds.set(l.variantId, (holds.get(l.variantId) ?? 0) - l.quantity);
  for (const l of more) holds.set(l.variantId, (holds.get(l.variantId) ?? 0) + l.quantity);
  await writeHoldRows(tx, storeId, cartId, holds, until);
  return {
    short,
    changes: netChanges(locked, after),
    available: new Map([...after].map(([id, a]) => [id, a.available])),
  };
}

async function writeHoldRows(
  tx: Tx,
  storeId: string,
  cartId: string,
  holds: Map<string, number>,
  until: Date,
): Promise<void> {
  const gone = [...holds].filter(([, q]) => q <= 0).map(([id]) => id);
  const kept = [...holds].filter(([, q]) => q > 0);
  if (gone.length) {
    await tx
      .update(inventoryReservations)
      .set({ status: "RELEASED", updatedAt: sql`now()` })
      .where(
        and(
          eq(inventoryReservations.storeId, storeId),
          eq(inventoryReservations.cartId, cartId),
          eq(inventoryReservations.status, "ACTIVE"),
          inArray(inventoryReservations.variantId, gone),
        ),
      );
  }
  if (kept.length) {
    await tx
      .insert(inventoryReservations)
      .values(
        kept.map(([variantId, quantity]) => ({
          storeId,
          cartId,
          variantId,
          quantity,
          status: "ACTIVE" as const,
          expiresAt: until,
        })),
      )
      .onConflictDoUpdate({
        target: [
          inventoryReservations.storeId,
          inventoryReservations.cartId,
          inventoryReservations.variantId,
        ],
        targetWhere: sql`${inventoryReservations.status} = 'ACTIVE' AND ${inventoryReservations.cartId} IS NOT NULL`,
        set: { quantity: sql`excluded.quantity`, expiresAt: sql`excluded.expires_at`, updatedAt: sql`now()` },
      });
  }
}

/** From each variant's state before the first move to its state after the last. */
function netChanges(
  before: Map<string, LockedVariant>,
  after: Map<string, { stockOnHand: number; reserved: number; available: number }>,
): StockStateChange[] {
  const changes: StockStateChange[] = [];
  for (const [id, a] of after) {
    const v = before.get(id);
    if (!v) continue;
    const to = stockStateFor(a.available, v.threshold);
    if (to !== v.state)
      changes.push({ variantId: id, from: v.state, to, available: a.available, threshold: v.threshold });
  }
  return changes;
}
