/**
 * Every change of a variant's stock counters goes through here: reserve (checkout, cart holds), release
 * (compensation, expiry, removal), commit (settlement takes sold units off the shelf), restock (cancel
 * or refund with restock) and staff adjustments. Each is a conditional UPDATE on rows locked in
 * ascending id order (so concurrent multi-variant changes cannot deadlock), and each keeps the
 * variant's stock state (IN_STOCK / LOW / OUT against its low-stock threshold) in the same statement:
 * a crossing is seen by exactly one transaction, however many race across the threshold.
 */
import { type SQL, type SQLWrapper, sql } from "drizzle-orm";
import type { Executor } from "../../db/client.js";
import { MAX_STOCK } from "../money-bounds.js";

export type StockState = "IN_STOCK" | "LOW" | "OUT";

export interface StockLine {
  variantId: string;
  quantity: number;
}

/** A variant whose state moved (e.g. IN_STOCK -> LOW): the caller announces it in the same transaction. */
export interface StockStateChange {
  variantId: string;
  from: StockState;
  to: StockState;
  available: number;
  threshold: number;
}

/** A variant as locked for a stock change, with what checkout needs to price and describe it. */
export interface LockedVariant {
  id: string;
  productId: string;
  sku: string;
  title: string;
  attributes: Record<string, string>;
  productName: string;
  productActive: boolean;
  /** The variant's current price: its override, else the product's base price. */
  price: number;
  stockOnHand: number;
  reserved: number;
  available: number;
  threshold: number;
  state: StockState;
}

/** The one rule for a stock state, as SQL over the row's counters after the change. */
const stateOf = (onHand: string, reserved: string) => {
  // Parenthesised: the counters arrive as expressions ("v.reserved + w.q").
  const available = `((${onHand}) - (${reserved}))`;
  return sql.raw(
    `(case when ${available} <= 0 then 'OUT' when ${available} <= low_stock_threshold then 'LOW' else 'IN_STOCK' end)::stock_state`,
  );
};

/** The same rule in TypeScript, for rows written outside these statements (product creation). */
export function stockStateFor(available: number, threshold: number): StockState {
  if (available <= 0) return "OUT";
  if (available <= threshold) return "LOW";
  return "IN_STOCK";
}

/** Quantities per variant, variants in ascending id order (the lock order). */
export function mergeLines(lines: readonly StockLine[]): StockLine[] {
  const total = new Map<string, number>();
  for (const l of lines) total.set(l.variantId, (total.get(l.variantId) ?? 0) + l.quantity);
  return [...total]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([variantId, quantity]) => ({ variantId, quantity }));
}

type LockedRow = {
  id: string;
  product_id: string;
  sku: string;
  title: string;
  attributes: Record<string, string>;
  product_name: string;
  product_active: boolean;
  price: number;
  stock_on_hand: number;
  reserved: number;
  low_stock_threshold: number;
  stock_state: StockState;
};

/**
 * Locks the variants (ascending id) and returns them with their product's data. FOR NO KEY UPDATE,
 * the lock an UPDATE of non-key columns takes anyway: it does not conflict with the KEY SHARE lock a
 * foreign key check takes (a cart line or reservation pointing at the variant), so a transaction that
 * inserted such a row and then locks the variant cannot deadlock with another doing the same.
 */
export async function lockVariants(
  tx: Executor,
  storeId: string,
  variantIds: readonly string[],
): Promise<Map<string, LockedVariant>> {
  const ids = [...new Set(variantIds)].sort();
  if (ids.length === 0) return new Map();
  const rows = await tx.execute<LockedRow>(sql`
    select v.id, v.product_id, v.sku, v.title, v.attributes, p.name as product_name,
           p.status = 'ACTIVE' as product_active, coalesce(v.price_override, p.base_price) as price,
           v.stock_on_hand, v.reserved, v.low_stock_threshold, v.stock_state
      from product_variants v
      join products p on p.store_id = v.store_id and p.id = v.product_id
     where v.store_id = ${storeId} and v.id in (${sql.join(
       ids.map((id) => sql`${id}::uuid`),
       sql`, `,
     )})
     order by v.id
       for no key update of v`);
  return new Map(
    rows.map((r) => [
      r.id,
      {
        id: r.id,
        productId: r.product_id,
        sku: r.sku,
        title: r.title,
        attributes: r.attributes,
        productName: r.product_name,
        productActive: r.product_active,
        price: Number(r.price),
        stockOnHand: Number(r.stock_on_hand),
        reserved: Number(r.reserved),
        available: Number(r.stock_on_hand) - Number(r.reserved),
        threshold: Number(r.low_stock_threshold),
        state: r.stock_state,
      },
    ]),
  );
}

export type Movement = "reserve" | "release" | "commit" | "restock" | "adjust";

const SETS: Record<Movement, { onHand: string; reserved: string; guard: string }> = {
  // Taking units for an order or a cart: only what is on hand and not held for someone else.
  reserve: {
    onHand: "v.stock_on_hand",
    reserved: "v.reserved + w.q",
    guard: "v.stock_on_hand - v.reserved >= w.q",
  },
  // Giving held units back.
  release: { onHand: "v.stock_on_hand", reserved: "v.reserved - w.q", guard: "v.reserved >= w.q" },
  // Sold units leave the shelf (settlement.ts, in batches after the sale).
  commit: {
    onHand: "v.stock_on_hand - w.q",
    reserved: "v.reserved - w.q",
    guard: "v.reserved >= w.q and v.stock_on_hand >= w.q",
  },
  // Units come back (cancelled after commit, refunded with restock).
  restock: {
    onHand: "v.stock_on_hand + w.q",
    reserved: "v.reserved",
    guard: `v.stock_on_hand + w.q <= ${MAX_STOCK}`,
  },
  // Staff count: up to the bound, never below what is held for orders.
  adjust: {
    onHand: "v.stock_on_hand + w.q",
    reserved: "v.reserved",
    guard: `v.stock_on_hand + w.q >= v.reserved and v.stock_on_hand + w.q <= ${MAX_STOCK}`,
  },
};

export interface MovementResult {
  /** Variants the guard refused (nothing moved for them); the caller rolls back when that matters. */
  refused: string[];
  changes: StockStateChange[];
  /** Counters after the move, by variant. */
  after: Map<string, { stockOnHand: number; reserved: number; available: number }>;
}

/**
 * Moves stock for every line in ONE conditional UPDATE over rows the caller has locked (lockVariants)
 * or that this statement locks itself. `locked` gives each variant's state before the move so that
 * crossings are reported.
 */
export async function moveStock(
  tx: Executor,
  storeId: string,
  movement: Movement,
  lines: readonly StockLine[],
  locked?: Map<string, Pick<LockedVariant, "state">>,
): Promise<MovementResult> {
  const merged = mergeLines(lines);
  if (merged.length === 0) return { refused: [], changes: [], after: new Map() };
  const before =
    locked ??
    (await lockVariants(
      tx,
      storeId,
      merged.map((l) => l.variantId),
    ));
  const rows = await tx.execute<MovedRow>(
    sql`${movementUpdate(storeId, movement, merged, true)} returning v.id, v.stock_on_hand, v.reserved, v.low_stock_threshold, v.stock_state`,
  );
  return movementResult(
    merged,
    rows.map((r) => ({ ...r, state_before: before.get(r.id)?.state ?? null })),
  );
}

/** The conditional UPDATE of a movement over `merged` (one row per variant), without RETURNING. */
function movementUpdate(
  storeId: string,
  movement: Movement,
  merged: readonly StockLine[],
  guarded: boolean,
): SQL {
  const { set, guard } = movementSql(movement);
  const ids = merged.map((l) => sql`${l.variantId}::uuid`);
  const qs = merged.map((l) => sql`${l.quantity}::int`);
  return sql`
    update product_variants v
       set ${set}
      from (select unnest(array[${sql.join(ids, sql`, `)}]) as id,
                   unnest(array[${sql.join(qs, sql`, `)}]) as q) w
     where v.store_id = ${storeId} and v.id = w.id${guarded ? sql` and ${guard}` : sql``}`;
}

/**
 * A reserve of variants this transaction has locked (lockVariants) and checked to have the units, as
 * an UPDATE not yet sent, with its result worked out from the locked rows: under the lock nothing else
 * moves them, and should the units not be there after all the table's check (reserved <= on hand)
 * fails the statement. So it needs no guard and no RETURNING, and travels with the caller's other
 * writes in one statement.
 */
export function lockedReserve(
  storeId: string,
  lines: readonly StockLine[],
  locked: Map<string, LockedVariant>,
): { write: SQLWrapper; result: MovementResult } {
  const merged = mergeLines(lines);
  const rows: MovedRow[] = merged.map((l) => {
    const v = locked.get(l.variantId);
    if (!v) throw new Error(`variant ${l.variantId} is not locked`);
    const reserved = v.reserved + l.quantity;
    return {
      id: v.id,
      stock_on_hand: v.stockOnHand,
      reserved,
      low_stock_threshold: v.threshold,
      stock_state: stockStateFor(v.stockOnHand - reserved, v.threshold),
      state_before: v.state,
    };
  });
  return { write: movementUpdate(storeId, "reserve", merged, false), result: movementResult(merged, rows) };
}

/** A variant row as a movement's UPDATE returns it, with its state before the move when known. */
export type MovedRow = {
  id: string;
  stock_on_hand: number;
  reserved: number;
  low_stock_threshold: number;
  stock_state: StockState;
  state_before?: StockState | null;
};

/**
 * A movement's SET list (counters, stock state, updated_at) and guard, as SQL over `v` (the variant)
 * and `w.q` (the quantity moved), for the UPDATE statements that move stock.
 */
export function movementSql(movement: Movement): { set: SQL; guard: SQL } {
  const m = SETS[movement];
  return {
    set: sql.join(
      [
        sql.raw(`stock_on_hand = ${m.onHand}`),
        sql.raw(`reserved = ${m.reserved}`),
        sql`stock_state = ${stateOf(m.onHand, m.reserved)}`,
        sql.raw("updated_at = now()"),
      ],
      sql`, `,
    ),
    guard: sql.raw(m.guard),
  };
}

/** What a movement did, from the lines asked for and the rows it updated. */
export function movementResult(merged: readonly StockLine[], rows: readonly MovedRow[]): MovementResult {
  const moved = new Set(rows.map((r) => r.id));
  const changes: StockStateChange[] = [];
  const after = new Map<string, { stockOnHand: number; reserved: number; available: number }>();
  for (const r of rows) {
    const stockOnHand = Number(r.stock_on_hand);
    const reserved = Number(r.reserved);
    after.set(r.id, { stockOnHand, reserved, available: stockOnHand - reserved });
    const from = r.state_before;
    if (from && from !== r.stock_state) {
      changes.push({
        variantId: r.id,
        from,
        to: r.stock_state,
        available: stockOnHand - reserved,
        threshold: Number(r.low_stock_threshold),
      });
    }
  }
  return { refused: merged.filter((l) => !moved.has(l.variantId)).map((l) => l.variantId), changes, after };
}
