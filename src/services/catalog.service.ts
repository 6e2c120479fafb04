/**
 * The catalog: products and their variants. Shoppers see ACTIVE products only; staff see every status
 * and manage products, prices and stock. Batch reads (for the per-request DataLoaders) return raw rows
 * regardless of status: a cart line must still show a variant whose product was archived since.
 * Reads go through `deps.reads` with the request's `reads` target, so a shopper's query may be answered
 * by the read replica; writes and the reads inside them stay on the primary (`deps.db`, `tx`).
 */
import { and, asc, eq, getTableColumns, inArray, type SQL, sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { jsonValuesOf, rowFromJsonValues } from "../db/json-rows.js";
import { rawSql } from "../db/raw-sql.js";
import { inventoryMovements, products, productVariants } from "../db/schema.js";
import { assertStaff } from "./authz.js";
import {
  adjustmentReason,
  MAX_PRICE,
  type ProductCreateInput,
  type ProductStatus,
  validateProductInput,
  validateStockDelta,
} from "./catalog.validation.js";
import { actorLabel, isStaff, type ReadScope, type ServiceContext } from "./context.js";
import type { ServiceDeps } from "./deps.js";
import { ErrorCode, UserFacingError, userError } from "./errors.js";
import { settleSales } from "./inventory/settlement.js";
import { lockVariants, moveStock, stockStateFor } from "./inventory/stock.js";
import { stockStateEvents } from "./inventory/stock-events.js";
import { syncStockGate } from "./inventory/stock-gate.js";
import { MAX_STOCK } from "./money-bounds.js";
import { writeOutbox, writeOutboxMany } from "./outbox.js";
import { decodeCursor, type Page, pageSize, toPage } from "./pagination.js";
import { isUuid, parseId, requireInt } from "./validation.js";

export type { ProductCreateInput, ProductStatus, VariantCreateInput } from "./catalog.validation.js";

export type CatalogProduct = typeof products.$inferSelect;
type VariantRow = typeof productVariants.$inferSelect;

/** A variant with what every reader needs from its product: the effective price and its currency. */
export interface CatalogVariant extends VariantRow {
  /** price_override ?? the product's base price. */
  price: number;
  currency: string;
  productStatus: ProductStatus;
  /** Units that can still be sold: on hand minus reserved. */
  available: number;
}

export interface ProductListArgs {
  first?: number | null;
  after?: string | null;
  query?: string | null;
}

/** A page of products with the variants of each (in display order), read together. */
export interface ProductPage extends Page<CatalogProduct> {
  variants: Map<string, CatalogVariant[]>;
}

/** One page of products with their variants; its filters come from `productPageStatement`. */
const PRODUCT_PAGE_SELECT = `
select ${jsonValuesOf(products, "p")} as product,
  (select coalesce(json_agg(${jsonValuesOf(productVariants, "v")} order by v.position, v.created_at, v.id), '[]')
     from product_variants v where v.store_id = p.store_id and v.product_id = p.id) as variants
from products p`;

/**
 * The products page statement for what this page filters on: one text per combination, with no
 * "$n is null or ..." left in it, so that a generic plan PostgreSQL may settle on for a prepared
 * statement is as good as a custom one (an optional filter's generic plan scanned and sorted the
 * store's products). Parameters: the store, then the cursor (created_at, id), then the search pattern,
 * then the limit, each only when used.
 */
const productPageTexts = new Map<string, string>();
export function productPageStatement(filter: { staff: boolean; cursor: boolean; search: boolean }): string {
  const key = `${filter.staff}:${filter.cursor}:${filter.search}`;
  let text = productPageTexts.get(key);
  if (text === undefined) {
    const where = ["p.store_id = $1"];
    let next = 2;
    if (!filter.staff) where.push("p.status = 'ACTIVE'");
    if (filter.cursor) {
      where.push(`(p.created_at, p.id) > ($${next}::timestamptz, $${next + 1}::uuid)`);
      next += 2;
    }
    if (filter.search) where.push(`lower(p.name) ilike $${next++}::text`);
    text = `${PRODUCT_PAGE_SELECT}\nwhere ${where.join(" and ")}\norder by p.created_at, p.id\nlimit $${next}::int`;
    productPageTexts.set(key, text);
  }
  return text;
}

export interface CreatedProduct {
  product: CatalogProduct;
  variants: CatalogVariant[];
}

/** Topic of the outbox event written when a variant's price changes (carts holding it react to it). */
export const VARIANT_PRICE_CHANGED = "variant.price_changed";
const MAX_QUERY_LENGTH = 200;

const variantWithProduct = {
  ...getTableColumns(productVariants),
  basePrice: products.basePrice,
  currency: products.currency,
  productStatus: products.status,
};
const productOfVariant = and(
  eq(products.storeId, productVariants.storeId),
  eq(products.id, productVariants.productId),
);

type VariantJoinRow = VariantRow & { basePrice: number; currency: string; productStatus: ProductStatus };

function toCatalogVariant({ basePrice, ...row }: VariantJoinRow): CatalogVariant {
  return { ...row, price: row.priceOverride ?? basePrice, available: row.stockOnHand - row.reserved };
}

/**
 * The same view of a variant, from its row and its product's (statements that read both whole). The
 * row is fresh from the statement and nobody else holds it, so it is completed in place (one object
 * per variant, not three: pages of variants add up).
 */
export function catalogVariantOf(
  row: VariantRow,
  product: Pick<CatalogProduct, "basePrice" | "currency" | "status">,
): CatalogVariant {
  const variant = row as CatalogVariant;
  variant.price = row.priceOverride ?? product.basePrice;
  variant.currency = product.currency;
  variant.productStatus = product.status;
  variant.available = row.stockOnHand - row.reserved;
  return variant;
}

/** Escapes LIKE wildcards so a search for "50%" means the text "50%". Backslash is Postgres' escape. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Lowest and highest variant price; a product without variants costs its base price. */
export function priceRangeOf(
  product: CatalogProduct,
  variants: CatalogVariant[],
): { min: number; max: number } {
  if (variants.length === 0) return { min: product.basePrice, max: product.basePrice };
  const prices = variants.map((v) => v.price);
  return { min: Math.min(...prices), max: Math.max(...prices) };
}

export class CatalogService {
  constructor(private readonly deps: ServiceDeps) {}

  /** Only staff see products that are not ACTIVE. */
  private visibleTo(ctx: ServiceContext): SQL | undefined {
    return isStaff(ctx.caller) ? undefined : eq(products.status, "ACTIVE");
  }

  async product(ctx: ServiceContext, id: string): Promise<CatalogProduct | null> {
    if (!isUuid(id)) return null;
    const [row] = await this.deps.reads.run(ctx.reads, (db) =>
      db
        .select()
        .from(products)
        .where(
          and(eq(products.storeId, ctx.store.id), eq(products.id, id.toLowerCase()), this.visibleTo(ctx)),
        ),
    );
    return row ?? null;
  }

  async variant(ctx: ServiceContext, id: string): Promise<CatalogVariant | null> {
    if (!isUuid(id)) return null;
    const [row] = await this.deps.reads.run(ctx.reads, (db) =>
      db
        .select(variantWithProduct)
        .from(productVariants)
        .innerJoin(products, productOfVariant)
        .where(
          and(
            eq(productVariants.storeId, ctx.store.id),
            eq(productVariants.id, id.toLowerCase()),
            this.visibleTo(ctx),
          ),
        ),
    );
    return row ? toCatalogVariant(row) : null;
  }

  /**
   * Products in creation order, keyset-paginated by (created_at, id), each with its variants, in one
   * statement. `query` matches the name case-insensitively (served by the trigram index on lower(name)).
   */
  async products(ctx: ServiceContext, args: ProductListArgs): Promise<ProductPage> {
    const size = pageSize(args.first);
    const cursor = args.after ? decodeCursor(args.after) : null;
    const text = args.query?.trim().toLowerCase() ?? "";
    if (text.length > MAX_QUERY_LENGTH) {
      throw userError(ErrorCode.INVALID_INPUT, `query must be at most ${MAX_QUERY_LENGTH} characters`, {
        field: ["query"],
      });
    }
    const statement = productPageStatement({
      staff: isStaff(ctx.caller),
      cursor: cursor !== null,
      search: text !== "",
    });
    const params = [
      ctx.store.id,
      ...(cursor ? [cursor.at.toISOString(), cursor.id] : []),
      ...(text ? [`%${escapeLike(text)}%`] : []),
      size + 1,
    ];
    const rows =
      size === 0
        ? []
        : ((await this.deps.reads.run(ctx.reads, (db) =>
            rawSql(db).unsafe(statement, params as never[]),
          )) as unknown as { product: unknown[]; variants: unknown[][] }[]);
    const variants = new Map<string, CatalogVariant[]>();
    const page = rows.map(({ product: values, variants: list }) => {
      const product = rowFromJsonValues(products, values);
      variants.set(
        product.id,
        list.map((v) => catalogVariantOf(rowFromJsonValues(productVariants, v), product)),
      );
      return product;
    });
    return {
      ...toPage(page, size, (p) => ({ at: p.createdAt, id: p.id }), Boolean(args.after)),
      variants,
    };
  }

  // Batch reads for DataLoaders: results line up with `ids`; unknown, foreign or malformed ids give null.

  async productsByIds(scope: ReadScope, ids: readonly string[]): Promise<(CatalogProduct | null)[]> {
    const wanted = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
    const rows = wanted.length
      ? await this.deps.reads.run(scope.reads, (db) =>
          db
            .select()
            .from(products)
            .where(and(eq(products.storeId, scope.store.id), inArray(products.id, wanted))),
        )
      : [];
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
  }

  async variantsByIds(scope: ReadScope, ids: readonly string[]): Promise<(CatalogVariant | null)[]> {
    const wanted = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
    const rows = wanted.length
      ? await this.deps.reads.run(scope.reads, (db) =>
          db
            .select(variantWithProduct)
            .from(productVariants)
            .innerJoin(products, productOfVariant)
            .where(and(eq(productVariants.storeId, scope.store.id), inArray(productVariants.id, wanted))),
        )
      : [];
    const byId = new Map(rows.map((r) => [r.id, toCatalogVariant(r)]));
    return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
  }

  /**
   * Staff's counters of each variant: on hand and reserved without the units already sold and not yet
   * settled (inventory/settlement.ts), read with the variant in one statement so both are of one moment.
   */
  async staffStockByIds(
    scope: ReadScope,
    ids: readonly string[],
  ): Promise<({ stockOnHand: number; reserved: number } | null)[]> {
    const wanted = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
    const idList = sql.join(
      wanted.map((id) => sql`${id}::uuid`),
      sql`, `,
    );
    const rows = wanted.length
      ? await this.deps.reads.run(scope.reads, (db) =>
          db.execute<{ id: string; stock_on_hand: number; reserved: number }>(sql`
            select v.id, v.stock_on_hand - coalesce(u.q, 0) as stock_on_hand, v.reserved - coalesce(u.q, 0) as reserved
              from product_variants v
              left join (select r.variant_id, sum(r.quantity)::int as q from inventory_reservations r
                          where r.store_id = ${scope.store.id} and r.unsettled and r.variant_id in (${idList})
                          group by r.variant_id) u on u.variant_id = v.id
             where v.store_id = ${scope.store.id} and v.id in (${idList})`),
        )
      : [];
    const byId = new Map(
      rows.map((r) => [r.id, { stockOnHand: Number(r.stock_on_hand), reserved: Number(r.reserved) }]),
    );
    return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
  }

  /** Variants of each product, in the order they were created. */
  async variantsByProductIds(scope: ReadScope, productIds: readonly string[]): Promise<CatalogVariant[][]> {
    const wanted = [...new Set(productIds.filter(isUuid).map((id) => id.toLowerCase()))];
    const rows = wanted.length
      ? await this.deps.reads.run(scope.reads, (db) =>
          db
            .select(variantWithProduct)
            .from(productVariants)
            .innerJoin(products, productOfVariant)
            .where(
              and(eq(productVariants.storeId, scope.store.id), inArray(productVariants.productId, wanted)),
            )
            .orderBy(asc(productVariants.position), asc(productVariants.createdAt), asc(productVariants.id)),
        )
      : [];
    const byProduct = new Map<string, CatalogVariant[]>();
    for (const row of rows) {
      const list = byProduct.get(row.productId) ?? [];
      list.push(toCatalogVariant(row));
      byProduct.set(row.productId, list);
    }
    return productIds.map((id) => byProduct.get(id.toLowerCase()) ?? []);
  }

  /** Creates a product with its variants (at least one) in the store's currency, in one transaction. */
  async createProduct(ctx: ServiceContext, input: ProductCreateInput): Promise<CreatedProduct> {
    assertStaff(ctx.caller);
    const valid = validateProductInput(input);
    const storeId = ctx.store.id;
    const now = this.deps.now();
    return this.deps.db.transaction(async (tx) => {
      const [product] = await tx
        .insert(products)
        .values({
          storeId,
          name: valid.name,
          description: valid.description,
          basePrice: valid.basePrice,
          currency: ctx.store.currency,
          status: valid.status,
          createdAt: now,
          updatedAt: now,
        })
        .returning();
      if (!product) throw new Error("product insert returned nothing");
      // ON CONFLICT DO NOTHING instead of a pre-check: a concurrent creation with the same SKU cannot
      // slip between check and insert, and the missing rows name exactly the taken SKUs.
      const inserted = await tx
        .insert(productVariants)
        .values(
          valid.variants.map((v, i) => ({
            ...v,
            stockState: stockStateFor(v.stockOnHand, v.lowStockThreshold),
            storeId,
            productId: product.id,
            position: i,
            createdAt: now,
            updatedAt: now,
          })),
        )
        .onConflictDoNothing({ target: [productVariants.storeId, productVariants.sku] })
        .returning();
      if (inserted.length !== valid.variants.length) {
        const insertedSkus = new Set(inserted.map((v) => v.sku));
        throw new UserFacingError(
          valid.variants.flatMap((v, i) =>
            insertedSkus.has(v.sku)
              ? []
              : [
                  {
                    code: ErrorCode.INVALID_INPUT,
                    message: `SKU "${v.sku}" is already used by another variant`,
                    field: ["input", "variants", String(i), "sku"],
                  },
                ],
          ),
        );
      }
      const stocked = inserted.filter((v) => v.stockOnHand > 0);
      if (stocked.length > 0) {
        await tx.insert(inventoryMovements).values(
          stocked.map((v) => ({
            storeId,
            variantId: v.id,
            delta: v.stockOnHand,
            reason: "initial stock",
            actor: actorLabel(ctx.caller),
            stockAfter: v.stockOnHand,
          })),
        );
      }
      const bySku = new Map(inserted.map((v) => [v.sku, v]));
      const variants = valid.variants.map((v) =>
        toCatalogVariant({
          ...bySku.get(v.sku)!,
          basePrice: product.basePrice,
          currency: product.currency,
          productStatus: product.status,
        }),
      );
      return { product, variants };
    });
  }

  /**
   * Sets a variant's own price. The change is announced through the outbox in the same transaction,
   * so carts holding the variant learn of it even if the process dies right after the commit.
   */
  async updateVariantPrice(
    ctx: ServiceContext,
    input: { variantId: string; price: number },
  ): Promise<CatalogVariant> {
    assertStaff(ctx.caller);
    const variantId = parseId(input.variantId, ["variantId"], "Variant");
    const price = requireInt(input.price, ["price"], 0, MAX_PRICE);
    const storeId = ctx.store.id;
    return this.deps.db.transaction(async (tx) => {
      const current = await this.lockVariant(tx, storeId, variantId);
      const previousPrice = current.priceOverride ?? current.basePrice;
      const [updated] = await tx
        .update(productVariants)
        .set({
          priceOverride: price,
          version: sql`${productVariants.version} + 1`,
          updatedAt: this.deps.now(),
        })
        .where(and(eq(productVariants.storeId, storeId), eq(productVariants.id, variantId)))
        .returning();
      if (!updated) throw new Error("locked variant vanished");
      // Re-pinning the same price changes nothing a shopper can see: no event.
      if (previousPrice !== price) {
        await writeOutbox(tx, {
          storeId,
          topic: VARIANT_PRICE_CHANGED,
          key: variantId,
          payload: {
            storeId,
            variantId,
            productId: updated.productId,
            previousPrice,
            newPrice: price,
            currency: current.currency,
          },
        });
      }
      return toCatalogVariant({
        ...updated,
        basePrice: current.basePrice,
        currency: current.currency,
        productStatus: current.productStatus,
      });
    });
  }

  /**
   * Adds `delta` units (negative removes). One conditional UPDATE: stock never drops below zero or
   * below what is reserved for pending orders, however many adjustments race.
   */
  async adjustInventory(
    ctx: ServiceContext,
    input: { variantId: string; delta: number; reason?: string | null },
  ): Promise<CatalogVariant> {
    assertStaff(ctx.caller);
    const variantId = parseId(input.variantId, ["variantId"], "Variant");
    const delta = validateStockDelta(input.delta);
    const reason = adjustmentReason(input.reason);
    const storeId = ctx.store.id;
    const now = this.deps.now();
    const { variant, available } = await this.deps.db.transaction(async (tx) => {
      // Its sold units leave the counters first (settlement.ts), so the count staff adjust is the real one.
      await settleSales(tx, { storeId, variantIds: [variantId] }, now);
      const locked = await lockVariants(tx, storeId, [variantId]);
      const before = locked.get(variantId);
      if (!before) throw userError(ErrorCode.NOT_FOUND, "Variant not found", { field: ["variantId"] });
      const moved = await moveStock(tx, storeId, "adjust", [{ variantId, quantity: delta }], locked);
      if (moved.refused.length) {
        if (before.stockOnHand + delta > MAX_STOCK) {
          throw userError(
            ErrorCode.INVALID_INPUT,
            `Stock on hand may not exceed ${MAX_STOCK}; it is ${before.stockOnHand}`,
            { field: ["delta"], variantId },
          );
        }
        throw userError(
          ErrorCode.INSUFFICIENT_STOCK,
          `Cannot remove ${-delta} unit(s): ${before.available} on hand and not reserved for orders`,
          { field: ["delta"], variantId, available: before.available },
        );
      }
      const after = moved.after.get(variantId);
      await tx.insert(inventoryMovements).values({
        storeId,
        variantId,
        delta,
        reason,
        actor: actorLabel(ctx.caller),
        stockAfter: after?.stockOnHand ?? before.stockOnHand + delta,
        createdAt: now,
      });
      await writeOutboxMany(tx, stockStateEvents(storeId, moved.changes, now));
      const [row] = await tx
        .select(variantWithProduct)
        .from(productVariants)
        .innerJoin(products, productOfVariant)
        .where(and(eq(productVariants.storeId, storeId), eq(productVariants.id, variantId)));
      if (!row) throw new Error("locked variant vanished");
      return {
        variant: toCatalogVariant(row),
        available: new Map([[variantId, row.stockOnHand - row.reserved]]),
      };
    });
    await syncStockGate(this.deps.infra.stockGate, this.deps.config, storeId, available);
    return variant;
  }

  /** Locks a variant row (FOR UPDATE) and returns it with its product's price data; NOT_FOUND otherwise. */
  private async lockVariant(tx: Executor, storeId: string, variantId: string): Promise<VariantJoinRow> {
    const [row] = await tx
      .select(variantWithProduct)
      .from(productVariants)
      .innerJoin(products, productOfVariant)
      .where(and(eq(productVariants.storeId, storeId), eq(productVariants.id, variantId)))
      .for("update", { of: productVariants });
    if (!row) throw userError(ErrorCode.NOT_FOUND, "Variant not found", { field: ["variantId"] });
    return row;
  }
}
