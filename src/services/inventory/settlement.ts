/**
 * Settlement: sold units leave the variant's counters after the sale, in batches.
 *
 * Confirming a paid order (saga step T2) only marks its reservations COMMITTED and `unsettled`; it does
 * not touch the variants. Until settled, the sold units still count in both stock_on_hand and reserved,
 * so on hand minus reserved (what can be sold) is already what it will be after: nothing can oversell
 * in between, and the stock state does not move. Settling takes them off both counters together, one
 * UPDATE per variant for however many orders sold it, and writes each order's movement row.
 *
 * Why: the variants are the hottest rows of a checkout. Writing them once per order (T1's reserve)
 * instead of twice halves the time every checkout of a popular variant waits for another's row lock.
 *
 * Every other change commutes with an unsettled sale (releases, restocks and adjustments are deltas on
 * the same counters), and the ones that write a movement row (restock, staff adjustment) settle the
 * variants they touch first, in their own transaction, so each movement's stock_after is the true count.
 */
import { type SQL, sql } from "drizzle-orm";
import type { Executor } from "../../db/client.js";
import { movementSql } from "./stock.js";

export interface SettlementResult {
  /** Reservations settled (one movement row each). */
  settled: number;
  /** Variants whose counters refused the settlement (reserved or on hand below what was sold). */
  refused: string[];
  /** Batch only: variants another transaction had locked, left for a settlement of their own. */
  busy: { storeId: string; variantId: string }[];
}

export type SettlementScope =
  /**
   * The batch job: any store, the oldest first, skipping reservations another settlement holds and
   * variants a checkout holds. Waiting for one variant while holding the locks of the others already
   * taken would stall every checkout of those (a convoy once a second); a busy variant is settled
   * alone afterwards, waiting like any checkout while holding nothing else.
   */
  | { limit: number }
  /** A change of these variants (which the caller may have locked) settles them first, waiting. */
  | { storeId: string; variantIds: readonly string[] };

/**
 * Settles unsettled sales in ONE statement: the reservations locked (SKIP LOCKED, so two instances
 * settling at once take disjoint batches and a caller holding a variant's lock never waits on a
 * reservation), then their variants in ascending id order (the order every stock change locks them
 * in), the counters moved, the reservations marked settled and the movement rows written.
 */
export async function settleSales(tx: Executor, scope: SettlementScope, at: Date): Promise<SettlementResult> {
  let which: SQL;
  const batch = "limit" in scope;
  if (batch) {
    which = sql`r.unsettled order by r.id limit ${scope.limit}`;
  } else {
    if (scope.variantIds.length === 0) return { settled: 0, refused: [], busy: [] };
    const ids = [...new Set(scope.variantIds)].map((id) => sql`${id}::uuid`);
    which = sql`r.unsettled and r.store_id = ${scope.storeId} and r.variant_id in (${sql.join(ids, sql`, `)})`;
  }
  const { set, guard } = movementSql("commit");
  const [row] = await tx.execute<{
    settled: number;
    refused: string[] | null;
    busy: { store_id: string; id: string }[] | null;
  }>(sql`
    with sold as (
      select r.store_id, r.id, r.variant_id, r.order_id, r.quantity
        from inventory_reservations r
       where ${which}
         for update of r skip locked
    ), w as (
      select s.store_id, s.variant_id as id, sum(s.quantity)::int as q from sold s group by s.store_id, s.variant_id
    ), locked as materialized (
      select v.store_id, v.id from product_variants v
       where (v.store_id, v.id) in (select w.store_id, w.id from w)
       order by v.id
         for no key update of v${batch ? sql` skip locked` : sql``}
    ), moved as (
      update product_variants v set ${set}
        from w join locked l on l.store_id = w.store_id and l.id = w.id
       where v.store_id = w.store_id and v.id = w.id and ${guard}
      returning v.store_id, v.id, v.stock_on_hand
    ), marked as (
      update inventory_reservations r set unsettled = false, updated_at = ${at.toISOString()}::timestamptz
        from sold s join moved m on m.store_id = s.store_id and m.id = s.variant_id
       where r.store_id = s.store_id and r.id = s.id
      returning r.id
    ), recorded as (
      -- One row per order and variant. Within a batch the orders of one variant leave in reservation id
      -- order, so each row's stock_after is the count right after its own units left.
      insert into inventory_movements (store_id, variant_id, delta, reason, actor, order_id, stock_after, created_at)
      select s.store_id, s.variant_id, -s.quantity, coalesce('order ' || o.number, 'sale'), 'system', s.order_id,
             m.stock_on_hand + w.q
               - sum(s.quantity) over (partition by s.store_id, s.variant_id order by s.id rows unbounded preceding),
             ${at.toISOString()}::timestamptz
        from sold s
        join moved m on m.store_id = s.store_id and m.id = s.variant_id
        join w on w.store_id = s.store_id and w.id = s.variant_id
        left join orders o on o.store_id = s.store_id and o.id = s.order_id
    )
    select (select count(*)::int from marked) as settled,
           (select json_agg(l.id) from locked l where not exists (select 1 from moved m where m.id = l.id)) as refused,
           (select json_agg(json_build_object('store_id', w.store_id, 'id', w.id)) from w
             where not exists (select 1 from locked l where l.id = w.id)) as busy`);
  return {
    settled: Number(row?.settled ?? 0),
    refused: row?.refused ?? [],
    busy: (row?.busy ?? []).map((b) => ({ storeId: b.store_id, variantId: b.id })),
  };
}
