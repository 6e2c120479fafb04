/**
 * Saved for later (customers only): a line moves out of the cart into a list, and back in at today's
 * price after a fresh stock check.
 */
import { and, asc, eq, sql } from "drizzle-orm";
import { type LineOptionsJson, savedForLater } from "../../db/schema.js";
import { assertCustomer } from "../authz.js";
import type { ServiceContext } from "../context.js";
import type { ServiceDeps } from "../deps.js";
import { ErrorCode, userError } from "../errors.js";
import { parseId } from "../validation.js";
import { loadSellableVariants } from "./cart.repository.js";
import type { CartService } from "./cart.service.js";
import { type CartRecord, MAX_LINE_QUANTITY } from "./cart.types.js";
import { lineOptionsHash } from "./line-options.js";

export interface SavedItemRecord {
  id: string;
  variantId: string;
  quantity: number;
  customOptions: LineOptionsJson;
  savedAt: Date;
}

export class SavedItemsService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly cartsService: CartService,
  ) {}

  async list(ctx: ServiceContext): Promise<SavedItemRecord[]> {
    assertCustomer(ctx.caller);
    return this.deps.db
      .select({
        id: savedForLater.id,
        variantId: savedForLater.variantId,
        quantity: savedForLater.quantity,
        customOptions: savedForLater.customOptions,
        savedAt: savedForLater.savedAt,
      })
      .from(savedForLater)
      .where(
        and(eq(savedForLater.storeId, ctx.store.id), eq(savedForLater.customerId, ctx.caller.customerId)),
      )
      .orderBy(asc(savedForLater.savedAt), asc(savedForLater.id));
  }

  /** Moves a cart line to the saved list (quantities of an already saved item add up, capped at 999). */
  async saveLine(ctx: ServiceContext, cartId: string, lineId: string): Promise<CartRecord> {
    assertCustomer(ctx.caller);
    const customerId = ctx.caller.customerId;
    const lId = parseId(lineId, ["lineId"], "Line");
    // The saved item is written with the line's removal, in one transaction.
    return this.cartsService.write(
      ctx,
      cartId,
      async (draft) => {
        const line = draft.cart.lines.find((l) => l.id === lId);
        if (!line) throw userError(ErrorCode.NOT_FOUND, "Line not found in this cart", { field: ["lineId"] });
        await draft.tx
          .insert(savedForLater)
          .values({
            storeId: ctx.store.id,
            customerId,
            variantId: line.variantId,
            quantity: line.quantity,
            customOptions: line.customOptions,
            optionsHash: lineOptionsHash(line.customOptions),
          })
          .onConflictDoUpdate({
            target: [
              savedForLater.storeId,
              savedForLater.customerId,
              savedForLater.variantId,
              savedForLater.optionsHash,
            ],
            set: {
              quantity: sql`least(${savedForLater.quantity} + excluded.quantity, ${MAX_LINE_QUANTITY})`,
              savedAt: sql`excluded.saved_at`,
            },
          });
        draft.removeLine(line.id);
      },
      { transaction: true },
    );
  }

  /** Puts a saved item back into the cart at today's price, if the stock is there. */
  async moveToCart(ctx: ServiceContext, savedItemId: string, cartId: string): Promise<CartRecord> {
    assertCustomer(ctx.caller);
    const customerId = ctx.caller.customerId;
    const itemId = parseId(savedItemId, ["savedItemId"], "Saved item");
    const [item] = await this.deps.db
      .select()
      .from(savedForLater)
      .where(
        and(
          eq(savedForLater.storeId, ctx.store.id),
          eq(savedForLater.customerId, customerId),
          eq(savedForLater.id, itemId),
        ),
      );
    if (!item) throw userError(ErrorCode.NOT_FOUND, "Saved item not found", { field: ["savedItemId"] });
    const variants = await loadSellableVariants(this.deps.db, ctx.store.id, [item.variantId]);
    if (!variants.get(item.variantId)?.productActive) {
      throw userError(ErrorCode.VARIANT_UNAVAILABLE, "This item is no longer for sale", {
        field: ["savedItemId"],
        variantId: item.variantId,
      });
    }
    // addLines re-checks stock and captures today's price; the saved row goes in the same transaction.
    return this.cartsService.addLines(
      ctx,
      cartId,
      [{ variantId: item.variantId, quantity: item.quantity, customOptions: item.customOptions }],
      async (tx) => {
        const removed = await tx
          .delete(savedForLater)
          .where(and(eq(savedForLater.id, itemId), eq(savedForLater.customerId, customerId)))
          .returning({ id: savedForLater.id });
        // Moved concurrently by another request: roll this add back rather than add it twice.
        if (removed.length === 0)
          throw userError(ErrorCode.NOT_FOUND, "Saved item not found", { field: ["savedItemId"] });
      },
    );
  }

  async remove(ctx: ServiceContext, savedItemId: string): Promise<SavedItemRecord[]> {
    assertCustomer(ctx.caller);
    const itemId = parseId(savedItemId, ["savedItemId"], "Saved item");
    const removed = await this.deps.db
      .delete(savedForLater)
      .where(
        and(
          eq(savedForLater.storeId, ctx.store.id),
          eq(savedForLater.customerId, ctx.caller.customerId),
          eq(savedForLater.id, itemId),
        ),
      )
      .returning({ id: savedForLater.id });
    if (removed.length === 0)
      throw userError(ErrorCode.NOT_FOUND, "Saved item not found", { field: ["savedItemId"] });
    return this.list(ctx);
  }
}
