-- Ceiling of cartLinesAdd (bench/ceiling.ts): the least SQL an add-to-cart can be. Lock the client's
-- cart row, upsert the line (ON CONFLICT on the line key), bump the cart's version. Every pgbench
-- client owns one real guest cart made for the run (bench_ceiling_carts) and rotates over the same
-- variants as the add-to-cart scenario (bench_ceiling_variants), prices read from the real rows.
-- Variables: store_id, variants (count).
\set slot :client_id + 1
\set v random(1, :variants)
BEGIN;
SELECT c.id, c.version
  FROM carts c JOIN bench_ceiling_carts b ON b.cart_id = c.id
 WHERE b.slot = :slot AND c.store_id = :store_id::uuid
   FOR UPDATE OF c;
INSERT INTO cart_items (store_id, cart_id, product_id, variant_id, quantity, unit_price)
SELECT :store_id::uuid, b.cart_id, v.product_id, v.id, 1, coalesce(v.price_override, p.base_price)
  FROM bench_ceiling_carts b, bench_ceiling_variants m
  JOIN product_variants v ON v.id = m.variant_id
  JOIN products p ON p.store_id = v.store_id AND p.id = v.product_id
 WHERE b.slot = :slot AND m.n = :v AND v.store_id = :store_id::uuid
ON CONFLICT (store_id, cart_id, variant_id, options_hash)
DO UPDATE SET quantity = least(cart_items.quantity + 1, 999), updated_at = now();
UPDATE carts c SET version = c.version + 1, updated_at = now()
  FROM bench_ceiling_carts b
 WHERE b.slot = :slot AND c.store_id = :store_id::uuid AND c.id = b.cart_id;
COMMIT;
