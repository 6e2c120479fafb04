-- Ceiling of checkoutComplete (bench/ceiling.ts): the least SQL placing an order can be. Lock the
-- cart's 3 variants in id order, take one unit of each with a conditional decrement, insert the
-- order, its 3 items (snapshots from the locked rows) and an outbox event (with the NOTIFY that wakes
-- the relays, as the server writes it). The triples are the ones the checkout scenario's carts hold
-- (bench_ceiling_triples, ids ascending). Orders are written CONFIRMED (the recovery job leaves them
-- alone), marked bench-ceiling-*, and deleted after the run with their items and events.
-- Variables: store_id, triples (count).
\set t random(1, :triples)
BEGIN;
SELECT v.id, v.stock_on_hand, v.reserved
  FROM product_variants v JOIN bench_ceiling_triples t ON v.id IN (t.v1, t.v2, t.v3)
 WHERE t.n = :t AND v.store_id = :store_id::uuid
 ORDER BY v.id
   FOR UPDATE OF v;
UPDATE product_variants v
   SET stock_on_hand = v.stock_on_hand - 1, updated_at = now()
  FROM bench_ceiling_triples t
 WHERE t.n = :t AND v.store_id = :store_id::uuid AND v.id IN (t.v1, t.v2, t.v3)
   AND v.stock_on_hand - v.reserved >= 1;
INSERT INTO orders (store_id, number, email, status, payment_status, subtotal, total, currency,
                    idempotency_key)
VALUES (:store_id::uuid, 'bench-ceiling-' || gen_random_uuid(), 'ceiling@bench.example', 'CONFIRMED',
        'CAPTURED', 10000, 10000, 'USD', 'bench-ceiling-' || gen_random_uuid())
RETURNING id AS order_id \gset
INSERT INTO order_items (store_id, order_id, product_id, variant_id, product_name, variant_title, sku,
                         attributes, unit_price, quantity, line_subtotal, total)
SELECT :store_id::uuid, :order_id::uuid, v.product_id, v.id, p.name, v.title, v.sku, v.attributes,
       coalesce(v.price_override, p.base_price), 1, coalesce(v.price_override, p.base_price),
       coalesce(v.price_override, p.base_price)
  FROM bench_ceiling_triples t
  JOIN product_variants v ON v.id IN (t.v1, t.v2, t.v3)
  JOIN products p ON p.store_id = v.store_id AND p.id = v.product_id
 WHERE t.n = :t AND v.store_id = :store_id::uuid;
WITH written AS (
  INSERT INTO outbox (store_id, topic, key, payload)
  VALUES (:store_id::uuid, 'bench.ceiling', :order_id::text, jsonb_build_object('orderId', :order_id::text))
  RETURNING id
)
SELECT pg_notify('cartograph_outbox', '') FROM written;
COMMIT;
