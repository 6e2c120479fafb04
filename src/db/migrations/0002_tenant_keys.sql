-- Tenant keys: every primary, unique and foreign key of a tenant table starts with store_id, so a
-- distributed PostgreSQL (Citus) can shard by store_id. Written by hand: drizzle-kit cannot reorder
-- the composite foreign keys around the keys they depend on. The drizzle snapshot matches the result.
ALTER TABLE "addresses" DROP CONSTRAINT "addresses_store_id_customer_id_customers_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "cart_discounts" DROP CONSTRAINT "cart_discounts_store_id_cart_id_carts_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "cart_discounts" DROP CONSTRAINT "cart_discounts_store_id_discount_id_discounts_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "cart_items" DROP CONSTRAINT "cart_items_store_id_cart_id_carts_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "cart_items" DROP CONSTRAINT "cart_items_store_id_product_id_products_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "cart_items" DROP CONSTRAINT "cart_items_store_id_variant_id_product_variants_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "carts" DROP CONSTRAINT "carts_store_id_customer_id_customers_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "carts" DROP CONSTRAINT "carts_store_id_shipping_method_id_shipping_methods_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "discount_redemptions" DROP CONSTRAINT "discount_redemptions_store_id_discount_id_discounts_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "discount_redemptions" DROP CONSTRAINT "discount_redemptions_store_id_order_id_orders_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "inventory_movements" DROP CONSTRAINT "inventory_movements_store_id_variant_id_product_variants_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "inventory_reservations" DROP CONSTRAINT "inventory_reservations_store_id_order_id_orders_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "inventory_reservations" DROP CONSTRAINT "inventory_reservations_store_id_variant_id_product_variants_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "order_items" DROP CONSTRAINT "order_items_store_id_order_id_orders_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "order_status_history" DROP CONSTRAINT "order_status_history_store_id_order_id_orders_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "orders" DROP CONSTRAINT "orders_store_id_customer_id_customers_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "orders" DROP CONSTRAINT "orders_store_id_cart_id_carts_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "payment_events" DROP CONSTRAINT "payment_events_store_id_payment_id_payments_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "payments" DROP CONSTRAINT "payments_store_id_order_id_orders_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "product_variants" DROP CONSTRAINT "product_variants_store_id_product_id_products_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "saved_for_later" DROP CONSTRAINT "saved_for_later_store_id_customer_id_customers_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "saved_for_later" DROP CONSTRAINT "saved_for_later_store_id_variant_id_product_variants_store_id_id_fk";--> statement-breakpoint
ALTER TABLE "addresses" DROP CONSTRAINT "addresses_pkey";--> statement-breakpoint
ALTER TABLE "cart_items" DROP CONSTRAINT "cart_items_pkey";--> statement-breakpoint
ALTER TABLE "carts" DROP CONSTRAINT "carts_pkey";--> statement-breakpoint
ALTER TABLE "customers" DROP CONSTRAINT "customers_pkey";--> statement-breakpoint
ALTER TABLE "discount_redemptions" DROP CONSTRAINT "discount_redemptions_pkey";--> statement-breakpoint
ALTER TABLE "discounts" DROP CONSTRAINT "discounts_pkey";--> statement-breakpoint
ALTER TABLE "inventory_movements" DROP CONSTRAINT "inventory_movements_pkey";--> statement-breakpoint
ALTER TABLE "inventory_reservations" DROP CONSTRAINT "inventory_reservations_pkey";--> statement-breakpoint
ALTER TABLE "order_items" DROP CONSTRAINT "order_items_pkey";--> statement-breakpoint
ALTER TABLE "order_status_history" DROP CONSTRAINT "order_status_history_pkey";--> statement-breakpoint
ALTER TABLE "orders" DROP CONSTRAINT "orders_pkey";--> statement-breakpoint
ALTER TABLE "outbox" DROP CONSTRAINT "outbox_pkey";--> statement-breakpoint
ALTER TABLE "payment_events" DROP CONSTRAINT "payment_events_pkey";--> statement-breakpoint
ALTER TABLE "payments" DROP CONSTRAINT "payments_pkey";--> statement-breakpoint
ALTER TABLE "product_variants" DROP CONSTRAINT "product_variants_pkey";--> statement-breakpoint
ALTER TABLE "products" DROP CONSTRAINT "products_pkey";--> statement-breakpoint
ALTER TABLE "saved_for_later" DROP CONSTRAINT "saved_for_later_pkey";--> statement-breakpoint
ALTER TABLE "shipping_methods" DROP CONSTRAINT "shipping_methods_pkey";--> statement-breakpoint
ALTER TABLE "staff_users" DROP CONSTRAINT "staff_users_pkey";--> statement-breakpoint
ALTER TABLE "tax_rates" DROP CONSTRAINT "tax_rates_pkey";--> statement-breakpoint
ALTER TABLE "cart_items" DROP CONSTRAINT "cart_items_line_key";--> statement-breakpoint
ALTER TABLE "carts" DROP CONSTRAINT "carts_store_id_key";--> statement-breakpoint
ALTER TABLE "customers" DROP CONSTRAINT "customers_store_id_key";--> statement-breakpoint
ALTER TABLE "discount_redemptions" DROP CONSTRAINT "discount_redemptions_order_key";--> statement-breakpoint
ALTER TABLE "discounts" DROP CONSTRAINT "discounts_store_id_key";--> statement-breakpoint
ALTER TABLE "inventory_reservations" DROP CONSTRAINT "inventory_reservations_order_variant_key";--> statement-breakpoint
ALTER TABLE "orders" DROP CONSTRAINT "orders_store_id_key";--> statement-breakpoint
ALTER TABLE "payments" DROP CONSTRAINT "payments_store_id_key";--> statement-breakpoint
ALTER TABLE "product_variants" DROP CONSTRAINT "product_variants_store_id_key";--> statement-breakpoint
ALTER TABLE "products" DROP CONSTRAINT "products_store_id_key";--> statement-breakpoint
ALTER TABLE "saved_for_later" DROP CONSTRAINT "saved_for_later_key";--> statement-breakpoint
ALTER TABLE "shipping_methods" DROP CONSTRAINT "shipping_methods_store_id_key";--> statement-breakpoint
DROP INDEX "discount_redemptions_customer_idx";--> statement-breakpoint
DROP INDEX "discount_redemptions_email_idx";--> statement-breakpoint
DROP INDEX "payment_events_gateway_event_key";--> statement-breakpoint
DROP INDEX "payments_intent_key";--> statement-breakpoint
ALTER TABLE "cart_discounts" DROP CONSTRAINT "cart_discounts_cart_id_discount_id_pk";--> statement-breakpoint
ALTER TABLE "addresses" ADD CONSTRAINT "addresses_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "cart_discounts" ADD CONSTRAINT "cart_discounts_pkey" PRIMARY KEY("store_id","cart_id","discount_id");--> statement-breakpoint
ALTER TABLE "cart_items" ADD CONSTRAINT "cart_items_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "carts" ADD CONSTRAINT "carts_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "customers" ADD CONSTRAINT "customers_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "discount_redemptions" ADD CONSTRAINT "discount_redemptions_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "discounts" ADD CONSTRAINT "discounts_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "inventory_movements" ADD CONSTRAINT "inventory_movements_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "inventory_reservations" ADD CONSTRAINT "inventory_reservations_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "order_items" ADD CONSTRAINT "order_items_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "order_status_history" ADD CONSTRAINT "order_status_history_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "outbox" ADD CONSTRAINT "outbox_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "payment_events" ADD CONSTRAINT "payment_events_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "product_variants" ADD CONSTRAINT "product_variants_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "products" ADD CONSTRAINT "products_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "saved_for_later" ADD CONSTRAINT "saved_for_later_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "shipping_methods" ADD CONSTRAINT "shipping_methods_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "staff_users" ADD CONSTRAINT "staff_users_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
ALTER TABLE "tax_rates" ADD CONSTRAINT "tax_rates_pkey" PRIMARY KEY("store_id","id");--> statement-breakpoint
CREATE INDEX "discount_redemptions_customer_idx" ON "discount_redemptions" USING btree ("store_id","discount_id","customer_id");--> statement-breakpoint
CREATE INDEX "discount_redemptions_email_idx" ON "discount_redemptions" USING btree ("store_id","discount_id","email");--> statement-breakpoint
CREATE UNIQUE INDEX "payment_events_gateway_event_key" ON "payment_events" USING btree ("store_id","gateway_event_id") WHERE "payment_events"."gateway_event_id" IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "payments_intent_key" ON "payments" USING btree ("store_id","gateway","intent_id");--> statement-breakpoint
ALTER TABLE "cart_items" ADD CONSTRAINT "cart_items_line_key" UNIQUE("store_id","cart_id","variant_id","options_hash");--> statement-breakpoint
ALTER TABLE "discount_redemptions" ADD CONSTRAINT "discount_redemptions_order_key" UNIQUE("store_id","discount_id","order_id");--> statement-breakpoint
ALTER TABLE "inventory_reservations" ADD CONSTRAINT "inventory_reservations_order_variant_key" UNIQUE("store_id","order_id","variant_id");--> statement-breakpoint
ALTER TABLE "saved_for_later" ADD CONSTRAINT "saved_for_later_key" UNIQUE("store_id","customer_id","variant_id","options_hash");--> statement-breakpoint
ALTER TABLE "addresses" ADD CONSTRAINT "addresses_store_id_customer_id_customers_store_id_id_fk" FOREIGN KEY ("store_id","customer_id") REFERENCES "public"."customers"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cart_discounts" ADD CONSTRAINT "cart_discounts_store_id_cart_id_carts_store_id_id_fk" FOREIGN KEY ("store_id","cart_id") REFERENCES "public"."carts"("store_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cart_discounts" ADD CONSTRAINT "cart_discounts_store_id_discount_id_discounts_store_id_id_fk" FOREIGN KEY ("store_id","discount_id") REFERENCES "public"."discounts"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cart_items" ADD CONSTRAINT "cart_items_store_id_cart_id_carts_store_id_id_fk" FOREIGN KEY ("store_id","cart_id") REFERENCES "public"."carts"("store_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cart_items" ADD CONSTRAINT "cart_items_store_id_product_id_products_store_id_id_fk" FOREIGN KEY ("store_id","product_id") REFERENCES "public"."products"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cart_items" ADD CONSTRAINT "cart_items_store_id_variant_id_product_variants_store_id_id_fk" FOREIGN KEY ("store_id","variant_id") REFERENCES "public"."product_variants"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "carts" ADD CONSTRAINT "carts_store_id_customer_id_customers_store_id_id_fk" FOREIGN KEY ("store_id","customer_id") REFERENCES "public"."customers"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "carts" ADD CONSTRAINT "carts_store_id_shipping_method_id_shipping_methods_store_id_id_fk" FOREIGN KEY ("store_id","shipping_method_id") REFERENCES "public"."shipping_methods"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "discount_redemptions" ADD CONSTRAINT "discount_redemptions_store_id_discount_id_discounts_store_id_id_fk" FOREIGN KEY ("store_id","discount_id") REFERENCES "public"."discounts"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "discount_redemptions" ADD CONSTRAINT "discount_redemptions_store_id_order_id_orders_store_id_id_fk" FOREIGN KEY ("store_id","order_id") REFERENCES "public"."orders"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inventory_movements" ADD CONSTRAINT "inventory_movements_store_id_variant_id_product_variants_store_id_id_fk" FOREIGN KEY ("store_id","variant_id") REFERENCES "public"."product_variants"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inventory_reservations" ADD CONSTRAINT "inventory_reservations_store_id_order_id_orders_store_id_id_fk" FOREIGN KEY ("store_id","order_id") REFERENCES "public"."orders"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inventory_reservations" ADD CONSTRAINT "inventory_reservations_store_id_variant_id_product_variants_store_id_id_fk" FOREIGN KEY ("store_id","variant_id") REFERENCES "public"."product_variants"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_items" ADD CONSTRAINT "order_items_store_id_order_id_orders_store_id_id_fk" FOREIGN KEY ("store_id","order_id") REFERENCES "public"."orders"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_status_history" ADD CONSTRAINT "order_status_history_store_id_order_id_orders_store_id_id_fk" FOREIGN KEY ("store_id","order_id") REFERENCES "public"."orders"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_store_id_customer_id_customers_store_id_id_fk" FOREIGN KEY ("store_id","customer_id") REFERENCES "public"."customers"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_store_id_cart_id_carts_store_id_id_fk" FOREIGN KEY ("store_id","cart_id") REFERENCES "public"."carts"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payment_events" ADD CONSTRAINT "payment_events_store_id_payment_id_payments_store_id_id_fk" FOREIGN KEY ("store_id","payment_id") REFERENCES "public"."payments"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_store_id_order_id_orders_store_id_id_fk" FOREIGN KEY ("store_id","order_id") REFERENCES "public"."orders"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "product_variants" ADD CONSTRAINT "product_variants_store_id_product_id_products_store_id_id_fk" FOREIGN KEY ("store_id","product_id") REFERENCES "public"."products"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "saved_for_later" ADD CONSTRAINT "saved_for_later_store_id_customer_id_customers_store_id_id_fk" FOREIGN KEY ("store_id","customer_id") REFERENCES "public"."customers"("store_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "saved_for_later" ADD CONSTRAINT "saved_for_later_store_id_variant_id_product_variants_store_id_id_fk" FOREIGN KEY ("store_id","variant_id") REFERENCES "public"."product_variants"("store_id","id") ON DELETE no action ON UPDATE no action;
