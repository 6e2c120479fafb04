/**
 * A cart write's changes, applied in one statement: new lines, changed lines, removed lines, applied
 * and removed codes, and the cart row itself (ACTIVE again, version + 1, the fields that changed). Its
 * text is constant (built once, not per call); empty parts cost nothing. It returns what only the
 * database knows afterwards (new line ids, the cart row), from which the caller builds the new cart
 * without reading it again.
 */

import { rowFromJson } from "../../db/json-rows.js";
import type { RawSql } from "../../db/raw-sql.js";
import type { AddressJson, CartNoticeJson, LineOptionsJson } from "../../db/schema.js";
import { carts } from "../../db/schema.js";

export interface LineInsert {
  productId: string;
  variantId: string;
  quantity: number;
  unitPrice: number;
  customOptions: LineOptionsJson;
  optionsHash: string;
}

export interface LineUpdate {
  id: string;
  quantity: number;
  unitPrice: number;
}

export interface CodeInsert {
  discountId: string;
  appliedAmount: number;
}

/** Cart columns a change may set; absent = unchanged. */
export interface CartFieldChanges {
  email?: string;
  sessionId?: string;
  shippingAddress?: AddressJson;
  shippingMethodId?: string | null;
  expiresAt?: Date;
}

export interface CartChanges {
  inserts: LineInsert[];
  updates: LineUpdate[];
  deletes: string[];
  codeInserts: CodeInsert[];
  codeDeletes: string[];
  fields: CartFieldChanges;
  notices: CartNoticeJson[];
}

export function noChanges(): CartChanges {
  return { inserts: [], updates: [], deletes: [], codeInserts: [], codeDeletes: [], fields: {}, notices: [] };
}

// The cart row is updated first and every other part runs only if it was (`exists (select 1 from
// cart)`): an optimistic write whose expected version ($20) is no longer the cart's changes nothing.
// A concurrent writer holding the row makes this statement wait, then re-check the version (READ
// COMMITTED re-evaluates the updated row), so of two writers that read one version only one wins.
const APPLY = `
with cart as (
  update carts c set
    status = 'ACTIVE',
    version = c.version + 1,
    updated_at = $3::timestamptz,
    notices = $9::jsonb,
    email = case when $10::boolean then $11::text else c.email end,
    session_id = case when $12::boolean then $13::text else c.session_id end,
    shipping_address = case when $14::boolean then $15::jsonb else c.shipping_address end,
    shipping_method_id = case when $16::boolean then $17::uuid else c.shipping_method_id end,
    expires_at = case when $18::boolean then $19::timestamptz else c.expires_at end
  where c.store_id = $1 and c.id = $2 and ($20::int is null or c.version = $20::int)
  returning to_json(c) as row
), inserted as (
  insert into cart_items
    (store_id, cart_id, product_id, variant_id, quantity, unit_price, custom_options, options_hash, created_at, updated_at)
  select $1::uuid, $2::uuid, x.product_id, x.variant_id, x.quantity, x.unit_price, x.custom_options, x.options_hash,
         $3::timestamptz, $3::timestamptz
    from jsonb_to_recordset($4::jsonb) as x(product_id uuid, variant_id uuid, quantity int, unit_price int,
                                             custom_options jsonb, options_hash text)
   where exists (select 1 from cart)
  returning id, variant_id, options_hash, created_at
), updated as (
  update cart_items i set quantity = x.quantity, unit_price = x.unit_price, updated_at = $3::timestamptz
    from jsonb_to_recordset($5::jsonb) as x(id uuid, quantity int, unit_price int)
   where i.store_id = $1 and i.cart_id = $2 and i.id = x.id and exists (select 1 from cart)
  returning i.id
), deleted as (
  delete from cart_items i
   where i.store_id = $1 and i.cart_id = $2 and i.id = any($6::uuid[]) and exists (select 1 from cart)
  returning i.id
), codes_in as (
  insert into cart_discounts (store_id, cart_id, discount_id, applied_amount, created_at)
  select $1::uuid, $2::uuid, x.discount_id, x.applied_amount, $3::timestamptz
    from jsonb_to_recordset($7::jsonb) as x(discount_id uuid, applied_amount int)
   where exists (select 1 from cart)
  on conflict do nothing
  returning discount_id
), codes_out as (
  delete from cart_discounts d
   where d.store_id = $1 and d.cart_id = $2 and d.discount_id = any($8::uuid[]) and exists (select 1 from cart)
  returning d.discount_id
)
select cart.row,
  (select coalesce(json_agg(json_build_array(n.id, n.variant_id, n.options_hash, n.created_at)), '[]')
     from inserted n) as inserted,
  (select count(*) from updated) as updated,
  (select count(*) from deleted) as deleted,
  (select coalesce(json_agg(o.discount_id), '[]') from codes_out o) as codes_removed
from cart`;

export interface AppliedChanges {
  cart: typeof carts.$inferSelect;
  /** New line ids by `${variantId}|${optionsHash}`, with their creation time. */
  inserted: Map<string, { id: string; createdAt: Date }>;
  updated: number;
  deleted: number;
  codesRemoved: string[];
}

interface ApplyRow {
  row: Record<string, unknown>;
  inserted: [string, string, string, string][];
  updated: number | string;
  deleted: number | string;
  codes_removed: string[];
}

/**
 * Applies the changes. With `expectedVersion` (an optimistic write, outside any transaction) it
 * applies them only if the cart is still at that version, and returns null if it is not; without it
 * the caller holds the cart's row lock and the cart must be there.
 */
export async function applyCartChanges(
  q: RawSql,
  storeId: string,
  cartId: string,
  changes: CartChanges,
  now: Date,
  expectedVersion?: number,
): Promise<AppliedChanges | null> {
  const f = changes.fields;
  // Timestamps and JSON go as text: drizzle makes the shared client pass those values through untouched.
  const params = [
    storeId,
    cartId,
    now.toISOString(),
    JSON.stringify(
      changes.inserts.map((l) => ({
        product_id: l.productId,
        variant_id: l.variantId,
        quantity: l.quantity,
        unit_price: l.unitPrice,
        custom_options: l.customOptions,
        options_hash: l.optionsHash,
      })),
    ),
    JSON.stringify(changes.updates.map((u) => ({ id: u.id, quantity: u.quantity, unit_price: u.unitPrice }))),
    changes.deletes,
    JSON.stringify(
      changes.codeInserts.map((c) => ({ discount_id: c.discountId, applied_amount: c.appliedAmount })),
    ),
    changes.codeDeletes,
    JSON.stringify(changes.notices),
    f.email !== undefined,
    f.email ?? null,
    f.sessionId !== undefined,
    f.sessionId ?? null,
    f.shippingAddress !== undefined,
    f.shippingAddress ? JSON.stringify(f.shippingAddress) : null,
    f.shippingMethodId !== undefined,
    f.shippingMethodId ?? null,
    f.expiresAt !== undefined,
    f.expiresAt?.toISOString() ?? null,
    expectedVersion ?? null,
  ];
  const [result] = (await q.unsafe(APPLY, params as never[])) as unknown as ApplyRow[];
  if (!result) {
    if (expectedVersion !== undefined) return null;
    throw new Error("cart vanished under lock");
  }
  return {
    cart: rowFromJson(carts, result.row),
    inserted: new Map(
      result.inserted.map(([id, variantId, hash, createdAt]) => [
        `${variantId}|${hash}`,
        { id, createdAt: new Date(createdAt) },
      ]),
    ),
    updated: Number(result.updated),
    deleted: Number(result.deleted),
    codesRemoved: result.codes_removed,
  };
}
