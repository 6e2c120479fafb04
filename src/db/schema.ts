/**
 * The whole Cartograph data model. Drizzle owns it; `npm run db:generate` writes the SQL migrations.
 *
 * Conventions that hold for every table:
 * - every row carries `store_id`, and child rows reference their parent by (store_id, id), so a row can
 *   never point into another store's data even through a bug in a service (and sharding by store_id
 *   stays open);
 * - money is integer minor units (`integer`), time is `timestamptz`;
 * - counters (stock, reserved, discount uses) are guarded by CHECK constraints as a last line of defence
 *   behind the conditional UPDATEs in the services.
 */
import { sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  bigint,
  boolean,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgEnum,
  pgSequence,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

/** The row id of a tenant table; its primary key is (store_id, id), see `tenantKey`. */
const id = () => uuid("id").notNull().defaultRandom();
const storeId = () => uuid("store_id").notNull();
// Millisecond precision, like a JS Date: a timestamp read back and used in a keyset cursor or a
// comparison is exactly the stored value.
const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: "date", precision: 3 });
/**
 * Every tenant table's primary key starts with store_id, and so does every unique and foreign key: a
 * distributed PostgreSQL (Citus) can then shard every tenant table by store_id and keep each store's
 * rows, and all of their constraints, on one node. A test over the catalog holds new tables to this.
 */
const tenantKey = (name: string, t: { storeId: AnyPgColumn; id: AnyPgColumn }) =>
  primaryKey({ name, columns: [t.storeId, t.id] });
const createdAt = () => tstz("created_at").notNull().defaultNow();
const updatedAt = () => tstz("updated_at").notNull().defaultNow();

export const productStatus = pgEnum("product_status", ["ACTIVE", "DRAFT", "ARCHIVED"]);
export const staffRole = pgEnum("staff_role", ["OWNER", "ADMIN", "STAFF"]);
export const cartStatus = pgEnum("cart_status", ["ACTIVE", "ABANDONED", "CHECKED_OUT", "MERGED", "EXPIRED"]);
export const discountType = pgEnum("discount_type", [
  "PERCENTAGE",
  "FIXED_AMOUNT",
  "FREE_SHIPPING",
  "BUY_X_GET_Y",
]);
/** Where a variant's sellable stock stands against its low-stock threshold (one alert per crossing). */
export const stockState = pgEnum("stock_state", ["IN_STOCK", "LOW", "OUT"]);
export const refundStatus = pgEnum("refund_status", ["PENDING", "SUCCEEDED", "FAILED"]);
export const notificationStatus = pgEnum("notification_status", ["PENDING", "SENT", "FAILED"]);
export const redemptionStatus = pgEnum("redemption_status", ["APPLIED", "REVERSED"]);
export const reservationStatus = pgEnum("reservation_status", ["ACTIVE", "COMMITTED", "RELEASED", "EXPIRED"]);
export const orderStatus = pgEnum("order_status", [
  "PENDING",
  /** Authorised but not captured: waiting for a staff review (fraud rules said REVIEW). */
  "ON_HOLD",
  "CONFIRMED",
  "PROCESSING",
  "SHIPPED",
  "DELIVERED",
  "CANCELLED",
  "REFUNDED",
]);
export const paymentStatus = pgEnum("payment_status", [
  "PENDING",
  "REQUIRES_ACTION",
  "AUTHORIZED",
  "CAPTURED",
  "FAILED",
  "REFUNDED",
  "PARTIALLY_REFUNDED",
  "CANCELLED",
]);

/** A postal address as stored in jsonb columns (cart shipping address, order addresses). */
export interface AddressJson {
  firstName: string;
  lastName: string;
  line1: string;
  line2?: string | null;
  city: string;
  region?: string | null;
  postalCode: string;
  country: string;
  phone?: string | null;
}

/** A persisted cart warning; see carts.notices. */
export interface CartNoticeJson {
  code: string;
  message: string;
  lineId?: string | null;
}

/** What a settled checkout answered, kept on the order for idempotent retries. */
export interface CheckoutOutcomeJson {
  userErrors: { code: string; message: string; field?: string[] | null }[];
  clientSecret?: string | null;
}

/** Custom options of a cart line; the only keys API.md allows. */
export interface LineOptionsJson {
  giftWrap?: boolean;
  personalization?: string;
}

export const stores = pgTable("stores", {
  id: uuid("id").primaryKey().defaultRandom(),
  handle: text("handle").notNull().unique(),
  name: text("name").notNull(),
  currency: text("currency").notNull(),
  /** BCP 47 tag (canonical form) that money is formatted in for this store's shoppers. */
  locale: text("locale").notNull().default("en-US"),
  settings: jsonb("settings").$type<Record<string, unknown>>().notNull().default({}),
  createdAt: createdAt(),
});

/**
 * Order numbers come from one sequence shared by every store: unique per store as a consequence, never
 * repeated, and (unlike a counter row per store) no lock that every checkout of a store queues on.
 */
export const orderNumbers = pgSequence("order_numbers", { startWith: 100_001 });

export const staffUsers = pgTable(
  "staff_users",
  {
    id: id(),
    storeId: storeId().references(() => stores.id),
    email: text("email").notNull(),
    passwordHash: text("password_hash").notNull(),
    name: text("name").notNull(),
    role: staffRole("role").notNull().default("STAFF"),
    /** Tokens carry the epoch they were issued in; signing out bumps it, which ends them all. */
    sessionEpoch: integer("session_epoch").notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [tenantKey("staff_users_pkey", t), unique("staff_users_store_email_key").on(t.storeId, t.email)],
);

export const customers = pgTable(
  "customers",
  {
    id: id(),
    storeId: storeId().references(() => stores.id),
    /** Stored lower-cased and trimmed, so the unique key is case-insensitive. */
    email: text("email").notNull(),
    passwordHash: text("password_hash").notNull(),
    firstName: text("first_name"),
    lastName: text("last_name"),
    /** Tokens carry the epoch they were issued in; signing out bumps it, which ends them all. */
    sessionEpoch: integer("session_epoch").notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [tenantKey("customers_pkey", t), unique("customers_store_email_key").on(t.storeId, t.email)],
);

export const addresses = pgTable(
  "addresses",
  {
    id: id(),
    storeId: storeId(),
    customerId: uuid("customer_id").notNull(),
    address: jsonb("address").$type<AddressJson>().notNull(),
    isDefault: boolean("is_default").notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [
    tenantKey("addresses_pkey", t),
    foreignKey({ columns: [t.storeId, t.customerId], foreignColumns: [customers.storeId, customers.id] }),
    index("addresses_customer_idx").on(t.storeId, t.customerId),
  ],
);

export const products = pgTable(
  "products",
  {
    id: id(),
    storeId: storeId().references(() => stores.id),
    name: text("name").notNull(),
    description: text("description"),
    basePrice: integer("base_price").notNull(),
    currency: text("currency").notNull(),
    status: productStatus("status").notNull().default("ACTIVE"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    tenantKey("products_pkey", t),
    check("products_base_price_nonneg", sql`${t.basePrice} >= 0`),
    index("products_store_listing_idx").on(t.storeId, t.status, t.createdAt, t.id),
    index("products_name_trgm_idx").using("gin", sql`lower(${t.name}) gin_trgm_ops`),
  ],
);

export const productVariants = pgTable(
  "product_variants",
  {
    id: id(),
    storeId: storeId(),
    productId: uuid("product_id").notNull(),
    sku: text("sku").notNull(),
    title: text("title").notNull(),
    attributes: jsonb("attributes").$type<Record<string, string>>().notNull().default({}),
    /** null = the product's base price. */
    priceOverride: integer("price_override"),
    stockOnHand: integer("stock_on_hand").notNull().default(0),
    reserved: integer("reserved").notNull().default(0),
    lowStockThreshold: integer("low_stock_threshold").notNull().default(0),
    /** Sellable stock against the threshold, kept in the same statement as every stock change. */
    stockState: stockState("stock_state").notNull().default("IN_STOCK"),
    /** Display order within the product (the order staff gave the variants in). */
    position: integer("position").notNull().default(0),
    version: integer("version").notNull().default(1),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    foreignKey({ columns: [t.storeId, t.productId], foreignColumns: [products.storeId, products.id] }),
    tenantKey("product_variants_pkey", t),
    unique("product_variants_store_sku_key").on(t.storeId, t.sku),
    index("product_variants_product_idx").on(t.storeId, t.productId),
    check("product_variants_stock_nonneg", sql`${t.stockOnHand} >= 0`),
    check("product_variants_reserved_range", sql`${t.reserved} >= 0 AND ${t.reserved} <= ${t.stockOnHand}`),
    check("product_variants_price_nonneg", sql`${t.priceOverride} IS NULL OR ${t.priceOverride} >= 0`),
    check("product_variants_threshold_nonneg", sql`${t.lowStockThreshold} >= 0`),
  ],
);

/** Every stock movement, so on-hand can be explained (adjustments, commits, restocks). */
export const inventoryMovements = pgTable(
  "inventory_movements",
  {
    id: id(),
    storeId: storeId(),
    variantId: uuid("variant_id").notNull(),
    delta: integer("delta").notNull(),
    reason: text("reason").notNull(),
    actor: text("actor").notNull(),
    orderId: uuid("order_id"),
    stockAfter: integer("stock_after").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    tenantKey("inventory_movements_pkey", t),
    foreignKey({
      columns: [t.storeId, t.variantId],
      foreignColumns: [productVariants.storeId, productVariants.id],
    }),
    index("inventory_movements_variant_idx").on(t.storeId, t.variantId, t.createdAt),
  ],
);

export const shippingMethods = pgTable(
  "shipping_methods",
  {
    id: id(),
    storeId: storeId().references(() => stores.id),
    name: text("name").notNull(),
    /** ISO 3166-1 alpha-2 codes this method serves. */
    countries: text("countries").array().notNull(),
    rate: integer("rate").notNull(),
    /** Subtotal (after discounts) from which shipping is free; null = never free. */
    freeOver: integer("free_over"),
    isActive: boolean("is_active").notNull().default(true),
    createdAt: createdAt(),
  },
  (t) => [
    tenantKey("shipping_methods_pkey", t),
    check("shipping_methods_rate_nonneg", sql`${t.rate} >= 0`),
    check("shipping_methods_free_over_nonneg", sql`${t.freeOver} IS NULL OR ${t.freeOver} >= 0`),
    index("shipping_methods_countries_idx").using("gin", t.countries),
  ],
);

export const taxRates = pgTable(
  "tax_rates",
  {
    id: id(),
    storeId: storeId().references(() => stores.id),
    country: text("country").notNull(),
    /** '' = the whole country; a region-specific rate wins over it. */
    region: text("region").notNull().default(""),
    rateBps: integer("rate_bps").notNull(),
    name: text("name"),
    updatedAt: updatedAt(),
  },
  (t) => [
    tenantKey("tax_rates_pkey", t),
    unique("tax_rates_store_country_region_key").on(t.storeId, t.country, t.region),
    check("tax_rates_rate_range", sql`${t.rateBps} >= 0 AND ${t.rateBps} <= 10000`),
  ],
);

export const carts = pgTable(
  "carts",
  {
    id: id(),
    storeId: storeId().references(() => stores.id),
    customerId: uuid("customer_id"),
    /** Guest session id (from the guest token) for guest carts. */
    sessionId: text("session_id"),
    email: text("email"),
    status: cartStatus("status").notNull().default("ACTIVE"),
    currency: text("currency").notNull(),
    shippingAddress: jsonb("shipping_address").$type<AddressJson>(),
    shippingMethodId: uuid("shipping_method_id"),
    mergedIntoCartId: uuid("merged_into_cart_id"),
    /**
     * Bumped by every write. A writer that waited for the cart lock compares it with the version its
     * statement's snapshot saw (cart-snapshot.ts) to know whether it must read again.
     */
    version: integer("version").notNull().default(1),
    /** Automatic changes the shopper should see (e.g. a quantity capped during a merge), until the next write. */
    notices: jsonb("notices").$type<CartNoticeJson[]>().notNull().default([]),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    expiresAt: tstz("expires_at"),
  },
  (t) => [
    tenantKey("carts_pkey", t),
    foreignKey({ columns: [t.storeId, t.customerId], foreignColumns: [customers.storeId, customers.id] }),
    foreignKey({
      columns: [t.storeId, t.shippingMethodId],
      foreignColumns: [shippingMethods.storeId, shippingMethods.id],
    }),
    check("carts_owner_present", sql`${t.customerId} IS NOT NULL OR ${t.sessionId} IS NOT NULL`),
    // One open cart per customer: an ABANDONED cart revives to ACTIVE, so both count as open.
    uniqueIndex("carts_one_open_per_customer")
      .on(t.storeId, t.customerId)
      .where(sql`${t.status} IN ('ACTIVE', 'ABANDONED') AND ${t.customerId} IS NOT NULL`),
    index("carts_session_idx").on(t.storeId, t.sessionId, t.status),
    index("carts_lifecycle_idx").on(t.status, t.updatedAt),
  ],
);

export const cartItems = pgTable(
  "cart_items",
  {
    id: id(),
    storeId: storeId(),
    cartId: uuid("cart_id").notNull(),
    productId: uuid("product_id").notNull(),
    variantId: uuid("variant_id").notNull(),
    quantity: integer("quantity").notNull(),
    /** Price captured when the line was added; checkout re-prices against the current price. */
    unitPrice: integer("unit_price").notNull(),
    customOptions: jsonb("custom_options").$type<LineOptionsJson>().notNull().default({}),
    /** Canonical hash of custom_options, part of the line key. */
    optionsHash: text("options_hash").notNull().default(""),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    tenantKey("cart_items_pkey", t),
    foreignKey({ columns: [t.storeId, t.cartId], foreignColumns: [carts.storeId, carts.id] }).onDelete(
      "cascade",
    ),
    foreignKey({ columns: [t.storeId, t.productId], foreignColumns: [products.storeId, products.id] }),
    foreignKey({
      columns: [t.storeId, t.variantId],
      foreignColumns: [productVariants.storeId, productVariants.id],
    }),
    unique("cart_items_line_key").on(t.storeId, t.cartId, t.variantId, t.optionsHash),
    index("cart_items_variant_idx").on(t.storeId, t.variantId),
    check("cart_items_quantity_range", sql`${t.quantity} > 0 AND ${t.quantity} <= 999`),
    check("cart_items_unit_price_nonneg", sql`${t.unitPrice} >= 0`),
  ],
);

export const savedForLater = pgTable(
  "saved_for_later",
  {
    id: id(),
    storeId: storeId(),
    customerId: uuid("customer_id").notNull(),
    variantId: uuid("variant_id").notNull(),
    quantity: integer("quantity").notNull().default(1),
    customOptions: jsonb("custom_options").$type<LineOptionsJson>().notNull().default({}),
    optionsHash: text("options_hash").notNull().default(""),
    savedAt: tstz("saved_at").notNull().defaultNow(),
  },
  (t) => [
    tenantKey("saved_for_later_pkey", t),
    foreignKey({ columns: [t.storeId, t.customerId], foreignColumns: [customers.storeId, customers.id] }),
    foreignKey({
      columns: [t.storeId, t.variantId],
      foreignColumns: [productVariants.storeId, productVariants.id],
    }),
    unique("saved_for_later_key").on(t.storeId, t.customerId, t.variantId, t.optionsHash),
    check("saved_for_later_quantity_range", sql`${t.quantity} > 0 AND ${t.quantity} <= 999`),
  ],
);

export const discounts = pgTable(
  "discounts",
  {
    id: id(),
    storeId: storeId().references(() => stores.id),
    /** Stored upper-cased: codes are case-insensitive. */
    code: text("code").notNull(),
    type: discountType("type").notNull(),
    /** PERCENTAGE: 1..100; FIXED_AMOUNT: minor units; BUY_X_GET_Y: percent off the Y units (100 = free). */
    value: integer("value").notNull().default(0),
    buyQty: integer("buy_qty"),
    getQty: integer("get_qty"),
    minOrderAmount: integer("min_order_amount"),
    maxUses: integer("max_uses"),
    usesCount: integer("uses_count").notNull().default(0),
    perCustomerLimit: integer("per_customer_limit"),
    validFrom: tstz("valid_from"),
    validUntil: tstz("valid_until"),
    /** null = every product. */
    applicableProductIds: uuid("applicable_product_ids").array(),
    combinable: boolean("combinable").notNull().default(false),
    isActive: boolean("is_active").notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    tenantKey("discounts_pkey", t),
    unique("discounts_store_code_key").on(t.storeId, t.code),
    check(
      "discounts_uses_range",
      sql`${t.usesCount} >= 0 AND (${t.maxUses} IS NULL OR ${t.usesCount} <= ${t.maxUses})`,
    ),
    check("discounts_value_nonneg", sql`${t.value} >= 0`),
    check(
      "discounts_window",
      sql`${t.validFrom} IS NULL OR ${t.validUntil} IS NULL OR ${t.validUntil} > ${t.validFrom}`,
    ),
  ],
);

export const cartDiscounts = pgTable(
  "cart_discounts",
  {
    storeId: storeId(),
    cartId: uuid("cart_id").notNull(),
    discountId: uuid("discount_id").notNull(),
    appliedAmount: integer("applied_amount").notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: "cart_discounts_pkey", columns: [t.storeId, t.cartId, t.discountId] }),
    foreignKey({ columns: [t.storeId, t.cartId], foreignColumns: [carts.storeId, carts.id] }).onDelete(
      "cascade",
    ),
    foreignKey({ columns: [t.storeId, t.discountId], foreignColumns: [discounts.storeId, discounts.id] }),
  ],
);

export const orders = pgTable(
  "orders",
  {
    id: id(),
    storeId: storeId().references(() => stores.id),
    number: text("number").notNull(),
    customerId: uuid("customer_id"),
    /** The guest session that placed a guest order: it may read the order and follow its status. */
    sessionId: text("session_id"),
    email: text("email"),
    cartId: uuid("cart_id"),
    status: orderStatus("status").notNull().default("PENDING"),
    paymentStatus: paymentStatus("payment_status").notNull().default("PENDING"),
    subtotal: integer("subtotal").notNull(),
    discount: integer("discount").notNull().default(0),
    shipping: integer("shipping").notNull().default(0),
    /** The part of `tax` charged on shipping; the rest is the sum of the lines' tax. */
    shippingTax: integer("shipping_tax").notNull().default(0),
    tax: integer("tax").notNull().default(0),
    total: integer("total").notNull(),
    refunded: integer("refunded").notNull().default(0),
    currency: text("currency").notNull(),
    shippingAddress: jsonb("shipping_address").$type<AddressJson>(),
    billingAddress: jsonb("billing_address").$type<AddressJson>(),
    shippingMethodId: uuid("shipping_method_id"),
    idempotencyKey: text("idempotency_key").notNull(),
    /** Hash of the checkout request, to tell a retry from a reuse of the key for something else. */
    requestHash: text("request_hash"),
    paymentIntentId: text("payment_intent_id"),
    trackingNumber: text("tracking_number"),
    carrier: text("carrier"),
    /** Where the order was placed from (fraud rules). */
    clientIp: text("client_ip"),
    /**
     * The checkout's final answer (userErrors, client secret), stored once the saga settles, so a retry
     * with the same idempotency key gets exactly the same payload. Null while the saga is in flight.
     */
    checkoutOutcome: jsonb("checkout_outcome").$type<CheckoutOutcomeJson>(),
    /** The saga's owner keeps this in the future while it works; past it, recovery may take over. */
    sagaLeaseUntil: tstz("saga_lease_until"),
    /** Stock is held for the order until then; the sweeper cancels a PENDING order past it. */
    reservationExpiresAt: tstz("reservation_expires_at"),
    cancelReason: text("cancel_reason"),
    /** Fraud review: decision and reasons (never shown to the shopper). */
    risk: jsonb("risk").$type<Record<string, unknown>>(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    tenantKey("orders_pkey", t),
    unique("orders_store_idempotency_key").on(t.storeId, t.idempotencyKey),
    unique("orders_store_number_key").on(t.storeId, t.number),
    foreignKey({ columns: [t.storeId, t.customerId], foreignColumns: [customers.storeId, customers.id] }),
    foreignKey({ columns: [t.storeId, t.cartId], foreignColumns: [carts.storeId, carts.id] }),
    index("orders_customer_idx").on(t.storeId, t.customerId, t.createdAt),
    index("orders_session_idx").on(t.storeId, t.sessionId, t.createdAt),
    index("orders_cart_idx").on(t.storeId, t.cartId),
    index("orders_email_idx").on(t.storeId, t.email, t.createdAt),
    /** The fraud rules count orders per client address within a window. */
    index("orders_client_ip_idx").on(t.storeId, t.clientIp, t.createdAt),
    index("orders_status_idx").on(t.storeId, t.status, t.createdAt),
    // Open orders for recovery and review sweeps. Spelled by the values it excludes: a partial index
    // may not name ON_HOLD in the migration that adds it to the enum.
    index("orders_open_idx")
      .on(t.status, t.updatedAt)
      .where(
        sql`${t.status} NOT IN ('CONFIRMED', 'PROCESSING', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'REFUNDED')`,
      ),
    check(
      "orders_amounts_nonneg",
      sql`${t.subtotal} >= 0 AND ${t.discount} >= 0 AND ${t.shipping} >= 0 AND ${t.tax} >= 0 AND ${t.total} >= 0`,
    ),
    // The figures always add up; PostgreSQL refuses an order whose sum does not.
    check(
      "orders_amounts_add_up",
      sql`${t.subtotal} - ${t.discount} + ${t.shipping} + ${t.tax} = ${t.total} AND ${t.shippingTax} >= 0 AND ${t.shippingTax} <= ${t.tax}`,
    ),
    check("orders_refund_range", sql`${t.refunded} >= 0 AND ${t.refunded} <= ${t.total}`),
  ],
);

export const orderItems = pgTable(
  "order_items",
  {
    id: id(),
    storeId: storeId(),
    orderId: uuid("order_id").notNull(),
    productId: uuid("product_id").notNull(),
    variantId: uuid("variant_id").notNull(),
    productName: text("product_name").notNull(),
    variantTitle: text("variant_title").notNull(),
    sku: text("sku").notNull(),
    attributes: jsonb("attributes").$type<Record<string, string>>().notNull().default({}),
    customOptions: jsonb("custom_options").$type<LineOptionsJson>().notNull().default({}),
    unitPrice: integer("unit_price").notNull(),
    quantity: integer("quantity").notNull(),
    lineSubtotal: integer("line_subtotal").notNull(),
    lineDiscount: integer("line_discount").notNull().default(0),
    lineTax: integer("line_tax").notNull().default(0),
    total: integer("total").notNull(),
  },
  (t) => [
    tenantKey("order_items_pkey", t),
    foreignKey({ columns: [t.storeId, t.orderId], foreignColumns: [orders.storeId, orders.id] }),
    index("order_items_order_idx").on(t.storeId, t.orderId),
    check("order_items_quantity_pos", sql`${t.quantity} > 0`),
  ],
);

export const orderStatusHistory = pgTable(
  "order_status_history",
  {
    id: id(),
    storeId: storeId(),
    orderId: uuid("order_id").notNull(),
    fromStatus: orderStatus("from_status"),
    toStatus: orderStatus("to_status").notNull(),
    actor: text("actor").notNull(),
    reason: text("reason"),
    at: tstz("at").notNull().defaultNow(),
  },
  (t) => [
    tenantKey("order_status_history_pkey", t),
    foreignKey({ columns: [t.storeId, t.orderId], foreignColumns: [orders.storeId, orders.id] }),
    index("order_status_history_order_idx").on(t.storeId, t.orderId, t.at),
  ],
);

export const discountRedemptions = pgTable(
  "discount_redemptions",
  {
    id: id(),
    storeId: storeId(),
    discountId: uuid("discount_id").notNull(),
    customerId: uuid("customer_id"),
    /** Lower-cased; the per-customer limit for guests counts by email. */
    email: text("email"),
    orderId: uuid("order_id").notNull(),
    status: redemptionStatus("status").notNull().default("APPLIED"),
    createdAt: createdAt(),
    reversedAt: tstz("reversed_at"),
  },
  (t) => [
    foreignKey({ columns: [t.storeId, t.discountId], foreignColumns: [discounts.storeId, discounts.id] }),
    foreignKey({ columns: [t.storeId, t.orderId], foreignColumns: [orders.storeId, orders.id] }),
    tenantKey("discount_redemptions_pkey", t),
    unique("discount_redemptions_order_key").on(t.storeId, t.discountId, t.orderId),
    index("discount_redemptions_customer_idx").on(t.storeId, t.discountId, t.customerId),
    index("discount_redemptions_email_idx").on(t.storeId, t.discountId, t.email),
    check("discount_redemptions_who", sql`${t.customerId} IS NOT NULL OR ${t.email} IS NOT NULL`),
  ],
);

export const inventoryReservations = pgTable(
  "inventory_reservations",
  {
    id: id(),
    storeId: storeId(),
    /** The order the units are held for; null while a cart holds them (reserve-at-add-to-cart stores). */
    orderId: uuid("order_id"),
    cartId: uuid("cart_id"),
    variantId: uuid("variant_id").notNull(),
    quantity: integer("quantity").notNull(),
    status: reservationStatus("status").notNull().default("ACTIVE"),
    /**
     * COMMITTED (sold) but not yet taken off the variant's counters: the units still count in both
     * stock_on_hand and reserved (so what can be sold is already right) until the settlement moves
     * both down together (services/inventory/settlement.ts). False for every other row.
     */
    unsettled: boolean("unsettled").notNull().default(false),
    expiresAt: tstz("expires_at").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    foreignKey({ columns: [t.storeId, t.orderId], foreignColumns: [orders.storeId, orders.id] }),
    foreignKey({
      columns: [t.storeId, t.variantId],
      foreignColumns: [productVariants.storeId, productVariants.id],
    }),
    tenantKey("inventory_reservations_pkey", t),
    foreignKey({ columns: [t.storeId, t.cartId], foreignColumns: [carts.storeId, carts.id] }),
    unique("inventory_reservations_order_variant_key").on(t.storeId, t.orderId, t.variantId),
    uniqueIndex("inventory_reservations_cart_variant_key")
      .on(t.storeId, t.cartId, t.variantId)
      .where(sql`${t.status} = 'ACTIVE' AND ${t.cartId} IS NOT NULL`),
    index("inventory_reservations_expiry_idx").on(t.expiresAt).where(sql`${t.status} = 'ACTIVE'`),
    index("inventory_reservations_unsettled_idx").on(t.storeId, t.variantId).where(sql`${t.unsettled}`),
    check("inventory_reservations_quantity_pos", sql`${t.quantity} > 0`),
    check("inventory_reservations_holder", sql`${t.orderId} IS NOT NULL OR ${t.cartId} IS NOT NULL`),
  ],
);

export const payments = pgTable(
  "payments",
  {
    id: id(),
    storeId: storeId(),
    orderId: uuid("order_id").notNull(),
    gateway: text("gateway").notNull(),
    intentId: text("intent_id"),
    amount: integer("amount").notNull(),
    refunded: integer("refunded").notNull().default(0),
    currency: text("currency").notNull(),
    status: paymentStatus("status").notNull().default("PENDING"),
    clientSecret: text("client_secret"),
    /** The shopper's payment-method token (e.g. pm_...): recovery replays the authorisation with it. */
    paymentMethod: text("payment_method"),
    /** Every gateway call for this payment derives its idempotency key from this one. */
    idempotencyKey: text("idempotency_key").notNull(),
    captured: integer("captured").notNull().default(0),
    cardFingerprint: text("card_fingerprint"),
    declineCode: text("decline_code"),
    failureMessage: text("failure_message"),
    authorizedAt: tstz("authorized_at"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    foreignKey({ columns: [t.storeId, t.orderId], foreignColumns: [orders.storeId, orders.id] }),
    tenantKey("payments_pkey", t),
    index("payments_fingerprint_idx").on(t.storeId, t.cardFingerprint, t.createdAt),
    uniqueIndex("payments_intent_key").on(t.storeId, t.gateway, t.intentId),
    index("payments_order_idx").on(t.storeId, t.orderId),
    check(
      "payments_amounts",
      sql`${t.amount} >= 0 AND ${t.captured} >= 0 AND ${t.captured} <= ${t.amount} AND ${t.refunded} >= 0 AND ${t.refunded} <= ${t.captured}`,
    ),
  ],
);

/** Append-only: every gateway interaction, so every cent can be explained. */
export const paymentEvents = pgTable(
  "payment_events",
  {
    id: id(),
    storeId: storeId(),
    paymentId: uuid("payment_id").notNull(),
    type: text("type").notNull(),
    amount: integer("amount"),
    gatewayEventId: text("gateway_event_id"),
    data: jsonb("data").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [
    tenantKey("payment_events_pkey", t),
    foreignKey({ columns: [t.storeId, t.paymentId], foreignColumns: [payments.storeId, payments.id] }),
    index("payment_events_payment_idx").on(t.storeId, t.paymentId, t.createdAt),
    uniqueIndex("payment_events_gateway_event_key")
      .on(t.storeId, t.gatewayEventId)
      .where(sql`${t.gatewayEventId} IS NOT NULL`),
  ],
);

/** Money given back on an order, through the gateway; the amount is held to what was captured. */
export const refunds = pgTable(
  "refunds",
  {
    id: id(),
    storeId: storeId(),
    orderId: uuid("order_id").notNull(),
    paymentId: uuid("payment_id").notNull(),
    amount: integer("amount").notNull(),
    reason: text("reason"),
    /** Units put back on hand, by variant. */
    restock: jsonb("restock").$type<{ variantId: string; quantity: number }[]>().notNull().default([]),
    /** The order lines (and units of each) this refund is for; empty for a refund by amount. */
    lines: jsonb("lines").$type<{ lineId: string; quantity: number }[]>().notNull().default([]),
    status: refundStatus("status").notNull().default("PENDING"),
    gatewayRefundId: text("gateway_refund_id"),
    /** Chosen by the caller (or derived from the request): a retry never refunds twice. */
    idempotencyKey: text("idempotency_key").notNull(),
    actor: text("actor").notNull(),
    failureMessage: text("failure_message"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    tenantKey("refunds_pkey", t),
    foreignKey({ columns: [t.storeId, t.orderId], foreignColumns: [orders.storeId, orders.id] }),
    foreignKey({ columns: [t.storeId, t.paymentId], foreignColumns: [payments.storeId, payments.id] }),
    unique("refunds_idempotency_key").on(t.storeId, t.idempotencyKey),
    index("refunds_order_idx").on(t.storeId, t.orderId),
    check("refunds_amount_pos", sql`${t.amount} > 0`),
  ],
);

/** Gateway webhooks seen, so each event id is acted on once however often it is delivered. */
export const webhookEvents = pgTable(
  "webhook_events",
  {
    storeId: storeId(),
    eventId: text("event_id").notNull(),
    type: text("type").notNull(),
    receivedAt: tstz("received_at").notNull().defaultNow(),
    /** A handler holds the event until then; a crashed handler's claim runs out. */
    claimedUntil: tstz("claimed_until"),
    processedAt: tstz("processed_at"),
  },
  (t) => [primaryKey({ name: "webhook_events_pkey", columns: [t.storeId, t.eventId] })],
);

/**
 * Messages to people (order confirmed, shipped, cancelled, refunded; cart abandoned; low stock), written
 * by an outbox consumer and sent through a transport port. One row per (event, template, recipient): an
 * event delivered twice is notified once.
 */
export const notifications = pgTable(
  "notifications",
  {
    id: id(),
    storeId: storeId(),
    eventId: bigint("event_id", { mode: "number" }).notNull(),
    channel: text("channel").notNull(),
    template: text("template").notNull(),
    recipient: text("recipient").notNull(),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    status: notificationStatus("status").notNull().default("PENDING"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: tstz("next_attempt_at").notNull().defaultNow(),
    lastError: text("last_error"),
    sentAt: tstz("sent_at"),
    createdAt: createdAt(),
  },
  (t) => [
    tenantKey("notifications_pkey", t),
    unique("notifications_event_key").on(t.storeId, t.eventId, t.template, t.recipient),
    index("notifications_due_idx").on(t.status, t.nextAttemptAt).where(sql`${t.status} = 'PENDING'`),
    index("notifications_recipient_idx").on(t.storeId, t.recipient, t.createdAt),
  ],
);

/** Transactional outbox: written in the same transaction as the change it announces. */
export const outbox = pgTable(
  "outbox",
  {
    /**
     * From the sequence `outbox_id_seq`, through `outbox_next_id()` (created by the migration that added
     * outbox consumers): it gives the inserting transaction its transaction id before it takes an id,
     * which is what lets an outbox consumer tell when every id up to some value is final (see
     * services/events/commit-horizon.ts).
     */
    id: bigint("id", { mode: "number" }).notNull().default(sql`outbox_next_id()`),
    storeId: storeId(),
    topic: text("topic").notNull(),
    key: text("key").notNull(),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    createdAt: createdAt(),
    publishedAt: tstz("published_at"),
    /**
     * A relay leases rows (short transaction), publishes them with no transaction open, then marks them.
     * A relay that dies mid-publish loses its lease when it runs out, and another relay republishes.
     */
    claimedUntil: tstz("claimed_until"),
    claimedBy: text("claimed_by"),
  },
  (t) => [
    primaryKey({ name: "outbox_pkey", columns: [t.storeId, t.id] }),
    index("outbox_unpublished_idx").on(t.id).where(sql`${t.publishedAt} IS NULL`),
    index("outbox_published_at_idx").on(t.publishedAt).where(sql`${t.publishedAt} IS NOT NULL`),
    // Outbox consumers read forward from their cursor by id, whatever the store.
    index("outbox_id_idx").on(t.id),
  ],
);

/**
 * The durable cursor of each outbox consumer (services/events/outbox-consumer.ts): every event with an
 * id up to `last_id` has been handled (or never committed). One row per consumer, not per store: the
 * outbox's ids come from one sequence across stores, so one cursor and one lease per consumer cover
 * them all with one scan, where a cursor per store would need a lease, a scan and a wake-up per store.
 * A consumer's row also holds back the relay's purge of published events it has not passed: delete
 * the row of a consumer that is retired for good.
 */
export const outboxConsumers = pgTable("outbox_consumers", {
  name: text("name").primaryKey(),
  lastId: bigint("last_id", { mode: "number" }).notNull(),
  /** The instance holding the lease (random per process), and until when: one instance works at a time. */
  claimedBy: text("claimed_by"),
  claimedUntil: tstz("claimed_until"),
  updatedAt: updatedAt(),
});

/**
 * Tables that are not per tenant (Citus reference tables: copied to every node). Every other table
 * carries store_id and keys that start with it.
 */
export const REFERENCE_TABLES = ["stores", "outbox_consumers"] as const;
