/**
 * Cart use cases. PostgreSQL is the truth, read and written in as few statements as the work allows:
 * a write locks and reads the cart with everything it needs in one statement (cart-snapshot.ts),
 * applies its change in one more (cart-write.ts) and builds the reply from those two, so concurrent
 * writers of one cart queue on its row and nobody reads back what they just wrote. A read is the same
 * snapshot without the lock.
 */
import { and, eq, inArray, isNotNull, lt, type SQLWrapper, sql } from "drizzle-orm";
import type { Executor, Tx } from "../../db/client.js";
import { rawSql } from "../../db/raw-sql.js";
import { type CartNoticeJson, carts, inventoryReservations, stores } from "../../db/schema.js";
import type { Caller, ServiceContext, StoreRef } from "../context.js";
import type { ServiceDeps } from "../deps.js";
import {
  ErrorCode,
  ForbiddenError,
  UnauthenticatedError,
  type UserErrorData,
  UserFacingError,
  userError,
} from "../errors.js";
import { heldByCart, holdCartStock } from "../inventory/cart-holds.js";
import { releaseReservations } from "../inventory/reservations.js";
import { mergeLines, type StockLine } from "../inventory/stock.js";
import { stockStateEvents } from "../inventory/stock-events.js";
import { syncStockGate } from "../inventory/stock-gate.js";
import { assertOrderSubtotal } from "../money-bounds.js";
import { moneyText } from "../money-format.js";
import { writeOutboxMany } from "../outbox.js";
import { parseStoreSettings } from "../store-settings.js";
import { normalizeEmail, parseId } from "../validation.js";
import type { SellableVariant } from "./cart.repository.js";
import {
  type CartLineInput,
  type CartLineUpdateInput,
  type CartRecord,
  cartRecordOf,
  MAX_CART_LINES,
  MAX_LINE_QUANTITY,
} from "./cart.types.js";
import { CartDraft, viewOf } from "./cart-draft.js";
import { type CartMergePolicy, type MergePlan, sumAndCapMergePolicy } from "./cart-merge.js";
import { sellableOf } from "./cart-prefetch.js";
import { CartReadBatcher } from "./cart-read-batcher.js";
import { type CartSnapshot, loadCartSnapshot } from "./cart-snapshot.js";
import { applyCartChanges } from "./cart-write.js";
import { type LineOptionsInput, lineOptionsHash, normalizeLineOptions } from "./line-options.js";

/** What a change may report back: automatic changes the shopper should be told about. */
export interface CartChangeOutcome {
  notices?: CartNoticeJson[];
}

/** A change of one cart, described on its draft (see cart-draft.ts). */
// biome-ignore lint/suspicious/noConfusingVoidType: most changes report nothing and just return
export type CartChange = (draft: CartDraft) => Promise<CartChangeOutcome | void>;

const OPEN_STATUSES = ["ACTIVE", "ABANDONED"] as const;
const MAX_LINES_PER_CALL = 100;

export function ownsCart(caller: Caller, cart: Pick<CartRecord, "customerId" | "sessionId">): boolean {
  if (caller.kind === "customer") return cart.customerId === caller.customerId;
  if (caller.kind === "guest") return cart.customerId === null && cart.sessionId === caller.sessionId;
  return false;
}

const cartNotFound = () => userError(ErrorCode.NOT_FOUND, "Cart not found", { field: ["cartId"] });

/** The snapshot of a cart just inserted, with no lines, codes, method or address yet. */
function emptyCartSnapshot(row: typeof carts.$inferSelect): CartSnapshot {
  return {
    cart: cartRecordOf(row, [], []),
    variants: new Map(),
    products: new Map(),
    discounts: new Map(),
    customerUses: new Map(),
    shippingMethod: null,
    taxRates: null,
  };
}

/** The snapshot of the caller's open cart: NOT_FOUND unless they own it, CART_NOT_ACTIVE unless open. */
function openCartOf(ctx: ServiceContext, snapshot: CartSnapshot | null): CartSnapshot {
  if (!snapshot || !ownsCart(ctx.caller, snapshot.cart)) throw cartNotFound();
  const { status } = snapshot.cart;
  if (status !== "ACTIVE" && status !== "ABANDONED") {
    throw userError(ErrorCode.CART_NOT_ACTIVE, `Cart is ${status.toLowerCase()}`, { field: ["cartId"] });
  }
  return snapshot;
}

/** A line to add, validated and keyed by variant + options (repeats in one call add up). */
interface WantedLine {
  variantId: string;
  options: ReturnType<typeof normalizeLineOptions>;
  hash: string;
  quantity: number;
  /** The first input index that asked for it (for error paths). */
  index: number;
}

/** A reserve-at-add-to-cart store's hold for one cart write: what the cart holds now, and until when. */
interface Holds {
  storeId: string;
  held: Map<string, number>;
  until: Date;
  /** "strict": what the change asks for beyond what the cart had must be held, or it is refused. */
  mode: "strict" | "best-effort";
}

export class CartService {
  /** The hold context of each open cart transaction (reserve-at-add-to-cart stores only). */
  private readonly holdsOf = new WeakMap<Executor, Holds>();
  /** Sellable stock changed by a cart write's holds, by the record the write returned: for the gate. */
  private readonly heldAvailability = new WeakMap<CartRecord, Map<string, number>>();
  private readonly batchedReads: CartReadBatcher;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly mergePolicy: CartMergePolicy = sumAndCapMergePolicy,
  ) {
    this.batchedReads = new CartReadBatcher(deps.db);
  }

  /** The caller's cart, or null (unknown, foreign and malformed ids all look the same). One statement. */
  async get(ctx: ServiceContext, cartId: string): Promise<CartRecord | null> {
    let id: string;
    try {
      id = parseId(cartId, ["cartId"], "Cart");
    } catch {
      return null;
    }
    const snapshot = await loadCartSnapshot(rawSql(this.deps.db), ctx.store.id, id);
    return snapshot && ownsCart(ctx.caller, snapshot.cart) ? viewOf(snapshot) : null;
  }

  /**
   * The same as `get`, read together with the other carts asked for in this turn of the event loop
   * (one statement for many): for fan-out, where one event makes many subscribers re-read their carts.
   */
  async getBatched(ctx: ServiceContext, cartId: string): Promise<CartRecord | null> {
    let id: string;
    try {
      id = parseId(cartId, ["cartId"], "Cart");
    } catch {
      return null;
    }
    const snapshot = await this.batchedReads.read(ctx.store.id, id);
    return snapshot && ownsCart(ctx.caller, snapshot.cart) ? viewOf(snapshot) : null;
  }

  /** The caller's open (ACTIVE or ABANDONED) cart, newest first. */
  async mine(ctx: ServiceContext): Promise<CartRecord | null> {
    const { caller } = ctx;
    if (caller.kind !== "customer" && caller.kind !== "guest") return null;
    const owner =
      caller.kind === "customer"
        ? eq(carts.customerId, caller.customerId)
        : and(eq(carts.sessionId, caller.sessionId), sql`${carts.customerId} IS NULL`);
    const [row] = await this.deps.db
      .select({ id: carts.id })
      .from(carts)
      .where(and(eq(carts.storeId, ctx.store.id), owner, inArray(carts.status, [...OPEN_STATUSES])))
      .orderBy(sql`${carts.updatedAt} DESC`)
      .limit(1);
    return row ? this.get(ctx, row.id) : null;
  }

  /**
   * A new cart for a guest session or a customer. A customer has at most one open cart: creating again
   * returns that cart (with any given lines added to it).
   */
  async create(
    ctx: ServiceContext,
    input: { lines?: CartLineInput[] | null; email?: string | null },
  ): Promise<CartRecord> {
    const owner = this.requireShopper(ctx.caller);
    const email = input.email ? normalizeEmail(input.email, ["input", "email"]) : null;
    const wanted = input.lines?.length ? wantedLines(input.lines, ["input", "lines"]) : [];
    if (owner.kind === "guest") await this.limitCartsPerClient(ctx);
    const cart = await this.deps.db.transaction(async (tx) => {
      let cartId: string | undefined;
      if (owner.kind === "customer") {
        cartId = await this.openCustomerCartId(tx, ctx.store.id, owner.customerId, ctx.store.currency);
      } else {
        await this.limitOpenGuestCarts(tx, ctx.store.id, owner.sessionId);
        const [row] = await tx
          .insert(carts)
          .values({
            storeId: ctx.store.id,
            sessionId: owner.sessionId,
            email,
            currency: ctx.store.currency,
            expiresAt: this.guestExpiry(),
          })
          .returning();
        if (!row) throw new Error("cart insert returned nothing");
        // An empty new cart is exactly the row just inserted: nothing to read back or apply.
        if (wanted.length === 0) return viewOf(emptyCartSnapshot(row));
        cartId = row.id;
      }
      if (!cartId) throw new Error("cart insert returned nothing");
      const snapshot = await loadCartSnapshot(rawSql(tx), ctx.store.id, cartId, {
        lock: true,
        alsoVariants: wanted.map((w) => w.variantId),
      });
      if (!snapshot) throw new Error("created cart vanished");
      const draft = new CartDraft(tx, snapshot, tx);
      if (email) draft.set({ email });
      await this.beginHolds(tx, ctx.store, cartId, "strict");
      if (wanted.length) this.applyAdds(draft, wanted, ["input", "lines"], ctx.store.locale);
      return this.finishLockedWrite(draft);
    });
    await this.afterCommit(ctx.store.id, cart);
    return cart;
  }

  /** Adds lines; `alsoInTransaction` runs after the add in the same transaction (e.g. a saved item's removal). */
  async addLines(
    ctx: ServiceContext,
    cartId: string,
    lines: CartLineInput[],
    alsoInTransaction?: (tx: Tx) => Promise<void>,
  ): Promise<CartRecord> {
    const wanted = wantedLines(lines, ["lines"]);
    return this.write(
      ctx,
      cartId,
      async (draft) => {
        this.applyAdds(draft, wanted, ["lines"], ctx.store.locale);
        await alsoInTransaction?.(draft.tx);
      },
      { alsoVariants: wanted.map((w) => w.variantId), transaction: alsoInTransaction !== undefined },
    );
  }

  async updateLines(
    ctx: ServiceContext,
    cartId: string,
    updates: CartLineUpdateInput[],
  ): Promise<CartRecord> {
    if (updates.length === 0 || updates.length > MAX_LINES_PER_CALL) {
      throw userError(ErrorCode.INVALID_INPUT, `Give 1 to ${MAX_LINES_PER_CALL} lines`, { field: ["lines"] });
    }
    return this.write(ctx, cartId, async (draft) => {
      const { cart } = draft;
      const errors: UserErrorData[] = [];
      const next = new Map(cart.lines.map((l) => [l.id, l.quantity]));
      updates.forEach((u, i) => {
        const line = cart.lines.find((l) => l.id === u.lineId.toLowerCase());
        if (!line) {
          errors.push({
            code: ErrorCode.NOT_FOUND,
            message: "Line not found in this cart",
            field: ["lines", String(i), "lineId"],
          });
        } else if (!Number.isInteger(u.quantity) || u.quantity < 0 || u.quantity > MAX_LINE_QUANTITY) {
          errors.push({
            code: ErrorCode.INVALID_INPUT,
            message: `Quantity must be an integer from 0 to ${MAX_LINE_QUANTITY} (0 removes the line)`,
            field: ["lines", String(i), "quantity"],
          });
        } else {
          next.set(line.id, u.quantity);
        }
      });
      if (errors.length) throw new UserFacingError(errors);
      assertOrderSubtotal(
        cart.lines.reduce((sum, l) => sum + l.unitPrice * (next.get(l.id) ?? l.quantity), 0),
        ["lines"],
        moneyText(cart.currency, ctx.store.locale),
      );
      this.assertStock(
        draft,
        next,
        updates.map((u) => u.lineId.toLowerCase()),
      );
      for (const [lineId, quantity] of next) draft.setLine(lineId, quantity);
    });
  }

  async removeLines(ctx: ServiceContext, cartId: string, lineIds: string[]): Promise<CartRecord> {
    if (lineIds.length === 0 || lineIds.length > MAX_LINES_PER_CALL) {
      throw userError(ErrorCode.INVALID_INPUT, `Give 1 to ${MAX_LINES_PER_CALL} line ids`, {
        field: ["lineIds"],
      });
    }
    return this.write(ctx, cartId, async (draft) => {
      const ids = lineIds.map((id) => id.toLowerCase());
      const errors: UserErrorData[] = [];
      ids.forEach((id, i) => {
        if (!draft.cart.lines.some((l) => l.id === id)) {
          errors.push({
            code: ErrorCode.NOT_FOUND,
            message: "Line not found in this cart",
            field: ["lineIds", String(i)],
          });
        }
      });
      if (errors.length) throw new UserFacingError(errors);
      for (const id of ids) draft.removeLine(id);
    });
  }

  async setEmail(ctx: ServiceContext, cartId: string, email: string): Promise<CartRecord> {
    const normalized = normalizeEmail(email, ["email"]);
    return this.write(ctx, cartId, async (draft) => draft.set({ email: normalized }));
  }

  /**
   * Merges a guest cart into the customer's open cart (created if none) in one transaction. Ownership is
   * proven, never inferred from knowing the id: the guest cart must belong to `guestSessionId`, the
   * session of the guest token the sign-in request carried; anything else is NOT_FOUND and changes
   * nothing. Both carts are locked in ascending id order. Retrying is a no-op: a MERGED guest cart
   * returns the target cart.
   */
  async mergeGuestCart(
    ctx: ServiceContext,
    guestCartId: string,
    guestSessionId: string,
  ): Promise<CartRecord> {
    const caller = ctx.caller;
    if (caller.kind !== "customer") throw new ForbiddenError("Only a signed-in customer can merge a cart");
    const guestId = parseId(guestCartId, ["guestCartId"], "Cart");
    const result = await this.deps.db.transaction(async (tx) => {
      const [guestRow] = await tx
        .select({ customerId: carts.customerId, sessionId: carts.sessionId, status: carts.status })
        .from(carts)
        .where(and(eq(carts.storeId, ctx.store.id), eq(carts.id, guestId)));
      if (!guestRow || guestRow.customerId !== null || guestRow.sessionId !== guestSessionId) {
        throw userError(ErrorCode.NOT_FOUND, "Guest cart not found", { field: ["guestCartId"] });
      }
      const targetId = await this.openCustomerCartId(tx, ctx.store.id, caller.customerId, ctx.store.currency);
      // Fixed lock order: concurrent merges (or a merge racing a cart write) cannot deadlock.
      await tx
        .select({ id: carts.id })
        .from(carts)
        .where(and(eq(carts.storeId, ctx.store.id), inArray(carts.id, [guestId, targetId])))
        .orderBy(carts.id)
        .for("update");
      // Both rows are locked now, so these reads see the latest of each (no stale snapshot).
      const guest = await this.snapshotUnderLock(tx, ctx.store.id, guestId);
      const target = await this.snapshotUnderLock(
        tx,
        ctx.store.id,
        targetId,
        guest.cart.lines.map((l) => l.variantId),
      );
      if (guest.cart.status === "MERGED" && guest.cart.mergedIntoCartId === targetId) {
        return { cart: viewOf(target), touched: [] };
      }
      if (guest.cart.status !== "ACTIVE" && guest.cart.status !== "ABANDONED") {
        throw userError(ErrorCode.CART_NOT_ACTIVE, `Guest cart is ${guest.cart.status.toLowerCase()}`, {
          field: ["guestCartId"],
        });
      }
      // A reserve-at-add-to-cart store: the guest cart's holds go, the target's count as its own.
      await releaseReservations(tx, ctx.store.id, { cartId: guestId }, this.deps.now());
      await this.beginHolds(tx, ctx.store, targetId, "best-effort");
      const draft = new CartDraft(tx, target, tx);
      const plan = this.mergePolicy.plan(guest.cart.lines, target.cart.lines, this.sellable(draft));
      applyMergePlan(draft, plan);
      const touched = await this.markMerged(tx, ctx.store.id, guestId, targetId);
      if (!target.cart.email && guest.cart.email) draft.set({ email: guest.cart.email });
      draft.changes.notices = plan.notices;
      return { cart: await this.finishLockedWrite(draft), touched };
    });
    await this.afterCommit(ctx.store.id, result.cart);
    return result.cart;
  }

  /** Who a cart belongs to, whoever asks (for callers that prove ownership another way, e.g. a signed link). */
  async ownerOf(
    storeId: string,
    cartId: string,
  ): Promise<Pick<CartRecord, "customerId" | "sessionId" | "status"> | null> {
    const [row] = await this.deps.db
      .select({ customerId: carts.customerId, sessionId: carts.sessionId, status: carts.status })
      .from(carts)
      .where(and(eq(carts.storeId, storeId), eq(carts.id, cartId)));
    return row ?? null;
  }

  /**
   * Gives an open guest cart to `sessionId` (the holder of its recovery link, see cart-recovery.ts):
   * locks it, re-checks that it is an open guest cart, counts it against the new session's open-cart
   * limit, and writes it like any change (ACTIVE again, version + 1, guest expiry renewed).
   */
  async handOverGuestCart(storeId: string, cartId: string, sessionId: string): Promise<CartRecord> {
    return this.deps.db.transaction(async (tx) => {
      const snapshot = await loadCartSnapshot(rawSql(tx), storeId, cartId, { lock: true });
      if (!snapshot || snapshot.cart.customerId !== null) throw cartNotFound();
      const { status } = snapshot.cart;
      if (status !== "ACTIVE" && status !== "ABANDONED") {
        throw userError(ErrorCode.CART_NOT_ACTIVE, `Cart is ${status.toLowerCase()}`);
      }
      if (snapshot.cart.sessionId !== sessionId) await this.limitOpenGuestCarts(tx, storeId, sessionId);
      const draft = new CartDraft(tx, snapshot, tx);
      draft.set({ sessionId });
      return this.finishLockedWrite(draft);
    });
  }

  // ---- for checkout: the cart module stays the only writer of carts ----

  /**
   * Locks the caller's cart (FOR UPDATE) for checkout, with what it was read with and the number of
   * the order it is becoming; NOT_FOUND unless the caller owns it.
   */
  async lockForCheckout(tx: Tx, ctx: ServiceContext, cartId: string): Promise<CartSnapshot> {
    const snapshot = await loadCartSnapshot(rawSql(tx), ctx.store.id, cartId, { lock: true, forOrder: true });
    if (!snapshot || !ownsCart(ctx.caller, snapshot.cart)) throw cartNotFound();
    return snapshot;
  }

  /** The cart became an order: CHECKED_OUT, version + 1. */
  /**
   * The cart's move to CHECKED_OUT, as an update for the caller to send with the rest of its change
   * (checkout's T1), and the version it leaves: the cart is locked, so that is the next one.
   */
  checkedOutWrite(tx: Tx, cart: CartRecord): { write: SQLWrapper; cart: { id: string; version: number } } {
    return {
      write: tx
        .update(carts)
        .set({ status: "CHECKED_OUT", version: sql`${carts.version} + 1`, updatedAt: this.deps.now() })
        .where(and(eq(carts.storeId, cart.storeId), eq(carts.id, cart.id))),
      cart: { id: cart.id, version: cart.version + 1 },
    };
  }

  /**
   * The order of this cart failed (declined, rejected, expired): the cart is the shopper's again, with
   * its lines, so they can try another card. A customer who opened another cart meanwhile keeps that
   * one, and the failed cart's lines are merged into it. Returns the carts that changed.
   */
  async reopenAfterCheckout(
    tx: Tx,
    storeId: string,
    cartId: string,
  ): Promise<{ id: string; version: number }[]> {
    const failed = await loadCartSnapshot(rawSql(tx), storeId, cartId, { lock: true });
    if (failed?.cart.status !== "CHECKED_OUT") return [];
    const cart = failed.cart;
    const [store] = await tx
      .select({
        id: stores.id,
        handle: stores.handle,
        name: stores.name,
        currency: stores.currency,
        locale: stores.locale,
        settings: stores.settings,
      })
      .from(stores)
      .where(eq(stores.id, storeId));
    if (store)
      await this.beginHolds(
        tx,
        { ...store, settings: parseStoreSettings(store.settings) },
        cart.id,
        "best-effort",
      );
    const notice: CartNoticeJson = {
      code: ErrorCode.PAYMENT_FAILED,
      message: "Your order was not completed; your cart is as you left it",
      lineId: null,
    };
    if (cart.customerId) {
      const [other] = await tx
        .select({ id: carts.id })
        .from(carts)
        .where(
          and(
            eq(carts.storeId, storeId),
            eq(carts.customerId, cart.customerId),
            inArray(carts.status, [...OPEN_STATUSES]),
          ),
        )
        .for("update");
      if (other) {
        const target = await this.snapshotUnderLock(
          tx,
          storeId,
          other.id,
          cart.lines.map((l) => l.variantId),
        );
        const draft = new CartDraft(tx, target, tx);
        const plan = this.mergePolicy.plan(cart.lines, target.cart.lines, this.sellable(draft));
        applyMergePlan(draft, plan);
        const merged = await this.markMerged(tx, storeId, cart.id, target.cart.id);
        draft.changes.notices = [notice, ...plan.notices];
        const updated = await this.finishLockedWrite(draft);
        return [...merged, { id: updated.id, version: updated.version }];
      }
    }
    const draft = new CartDraft(tx, failed, tx);
    draft.changes.notices = [notice];
    const reopened = await this.finishLockedWrite(draft);
    return [{ id: reopened.id, version: reopened.version }];
  }

  /**
   * Releases the holds of carts whose hold ran out (reserve-at-add-to-cart stores) and tells their
   * shoppers; the cart keeps its lines and holds again on its next change, if the stock is still there.
   */
  async expireHolds(limit = 200): Promise<number> {
    const due = await this.deps.db
      .selectDistinct({ storeId: inventoryReservations.storeId, cartId: inventoryReservations.cartId })
      .from(inventoryReservations)
      .where(
        and(
          eq(inventoryReservations.status, "ACTIVE"),
          isNotNull(inventoryReservations.cartId),
          lt(inventoryReservations.expiresAt, this.deps.now()),
        ),
      )
      .limit(limit);
    let expired = 0;
    for (const { storeId, cartId } of due) {
      if (!cartId) continue;
      const done = await this.deps.db.transaction(async (tx) => {
        const [locked] = await tx
          .select({ id: carts.id })
          .from(carts)
          .where(and(eq(carts.storeId, storeId), eq(carts.id, cartId)))
          .for("update");
        if (!locked) return null;
        const now = this.deps.now();
        const released = await releaseReservations(tx, storeId, { cartId }, now, "EXPIRED");
        if (released.lines.length === 0) return null;
        await writeOutboxMany(tx, stockStateEvents(storeId, released.changes, now));
        await tx
          .update(carts)
          .set({
            version: sql`${carts.version} + 1`,
            notices: [
              {
                code: ErrorCode.INSUFFICIENT_STOCK,
                message:
                  "The stock held for your cart was released after a while without changes; it is held again when you next change the cart, if it is still there",
                lineId: null,
              },
            ],
          })
          .where(and(eq(carts.storeId, storeId), eq(carts.id, cartId)));
        return { available: new Map([...released.after].map(([id, a]) => [id, a.available])) };
      });
      if (!done) continue;
      expired++;
      await syncStockGate(this.deps.infra.stockGate, this.deps.config, storeId, done.available);
    }
    return expired;
  }

  // ---- internals ----

  /** A snapshot of a cart whose row this transaction has already locked. */
  private async snapshotUnderLock(
    tx: Tx,
    storeId: string,
    cartId: string,
    alsoVariants: readonly string[] = [],
  ): Promise<CartSnapshot> {
    const snapshot = await loadCartSnapshot(rawSql(tx), storeId, cartId, { alsoVariants });
    if (!snapshot) throw new Error("cart vanished under lock");
    return snapshot;
  }

  /** The source cart of a merge is done: MERGED into the target, version + 1. */
  private async markMerged(
    tx: Tx,
    storeId: string,
    sourceId: string,
    targetId: string,
  ): Promise<{ id: string; version: number }[]> {
    return tx
      .update(carts)
      .set({
        status: "MERGED",
        mergedIntoCartId: targetId,
        version: sql`${carts.version} + 1`,
        updatedAt: this.deps.now(),
      })
      .where(and(eq(carts.storeId, storeId), eq(carts.id, sourceId)))
      .returning({ id: carts.id, version: carts.version });
  }

  private requireShopper(caller: Caller): Extract<Caller, { kind: "customer" | "guest" }> {
    if (caller.kind === "customer" || caller.kind === "guest") return caller;
    if (caller.kind === "staff") throw new ForbiddenError("Staff accounts do not have carts");
    throw new UnauthenticatedError("Create a guest session (guestSessionCreate) or sign in to use a cart");
  }

  /** Carts one client address may create per hour: a script cannot fill the database with carts. */
  private async limitCartsPerClient(ctx: ServiceContext): Promise<void> {
    const perHour = this.deps.config.CARTS_PER_IP_PER_HOUR;
    if (perHour <= 0 || !ctx.clientIp) return;
    const limit = await this.deps.infra.rateLimiter.hit(
      `carts:ip:${ctx.store.id}:${ctx.clientIp}`,
      perHour,
      3600,
    );
    if (!limit.allowed) {
      throw userError(
        ErrorCode.RATE_LIMITED,
        `Too many carts created from this address; try again in ${limit.resetSeconds} seconds`,
      );
    }
  }

  /** Open carts of one guest session, counted under a lock on the session so concurrent creates queue. */
  private async limitOpenGuestCarts(tx: Tx, storeId: string, sessionId: string): Promise<void> {
    const max = this.deps.config.GUEST_MAX_OPEN_CARTS;
    if (max <= 0) return;
    await tx.execute(
      sql`select pg_advisory_xact_lock(hashtextextended(${`guest-carts:${storeId}:${sessionId}`}, 0))`,
    );
    const [row] = await tx
      .select({ open: sql<number>`count(*)::int` })
      .from(carts)
      .where(
        and(
          eq(carts.storeId, storeId),
          eq(carts.sessionId, sessionId),
          sql`${carts.customerId} IS NULL`,
          inArray(carts.status, [...OPEN_STATUSES]),
        ),
      );
    if (Number(row?.open ?? 0) >= max) {
      throw userError(
        ErrorCode.CART_LIMIT_REACHED,
        `A guest session may hold at most ${max} open carts; keep using one of them`,
      );
    }
  }

  private guestExpiry(): Date {
    return new Date(this.deps.now().getTime() + this.deps.config.GUEST_CART_EXPIRE_AFTER_SECONDS * 1000);
  }

  /** The customer's open cart id, creating one if none; safe under concurrent calls (unique index). */
  private async openCustomerCartId(
    tx: Tx,
    storeId: string,
    customerId: string,
    currency: string,
  ): Promise<string> {
    const find = () =>
      tx
        .select({ id: carts.id })
        .from(carts)
        .where(
          and(
            eq(carts.storeId, storeId),
            eq(carts.customerId, customerId),
            inArray(carts.status, [...OPEN_STATUSES]),
          ),
        )
        .limit(1);
    const [existing] = await find();
    if (existing) return existing.id;
    const [inserted] = await tx
      .insert(carts)
      .values({ storeId, customerId, currency })
      .onConflictDoNothing({
        target: [carts.storeId, carts.customerId],
        where: sql`${carts.status} IN ('ACTIVE', 'ABANDONED') AND ${carts.customerId} IS NOT NULL`,
      })
      .returning({ id: carts.id });
    if (inserted) return inserted.id;
    const [winner] = await find();
    if (!winner) throw new Error("open cart neither inserted nor found");
    return winner.id;
  }

  /**
   * The one way to change a cart. First optimistically, without a transaction: read the cart (one
   * statement), run the change on its draft, apply it if the cart's version has not moved (one
   * statement). A writer that lost that race, a change that writes other tables (`transaction`) and a
   * reserve-at-add-to-cart store (whose holds must move with the lines) take the locked way: BEGIN,
   * lock and read the cart, change, apply, COMMIT, with concurrent writers queued on the cart's row.
   * `alsoVariants`: variants the change will add, read with the cart. The change may run twice.
   */
  async write(
    ctx: ServiceContext,
    cartId: string,
    change: CartChange,
    opts: { alsoVariants?: readonly string[]; transaction?: boolean } = {},
  ): Promise<CartRecord> {
    this.requireShopper(ctx.caller);
    const id = parseId(cartId, ["cartId"], "Cart");
    if (!opts.transaction && ctx.store.settings?.reservation?.policy !== "cart") {
      const db = this.deps.db;
      const snapshot = openCartOf(
        ctx,
        await loadCartSnapshot(rawSql(db), ctx.store.id, id, { alsoVariants: opts.alsoVariants }),
      );
      const draft = new CartDraft(db, snapshot);
      const outcome = await change(draft);
      if (outcome?.notices) draft.changes.notices = outcome.notices;
      const written = await this.finishWrite(draft, snapshot.cart.version);
      if (written) return written;
    }
    const cart = await this.deps.db.transaction(async (tx) => {
      const snapshot = openCartOf(
        ctx,
        await loadCartSnapshot(rawSql(tx), ctx.store.id, id, { lock: true, alsoVariants: opts.alsoVariants }),
      );
      await this.beginHolds(tx, ctx.store, id, "strict");
      const draft = new CartDraft(tx, snapshot, tx);
      const outcome = await change(draft);
      if (outcome?.notices) draft.changes.notices = outcome.notices;
      return this.finishLockedWrite(draft);
    });
    await this.afterCommit(ctx.store.id, cart);
    return cart;
  }

  /** For reserve-at-add-to-cart stores: what this cart holds, so its own units count as available to it. */
  private async beginHolds(tx: Tx, store: StoreRef, cartId: string, mode: Holds["mode"]): Promise<void> {
    const policy = store.settings?.reservation;
    if (policy?.policy !== "cart") return;
    this.holdsOf.set(tx, {
      storeId: store.id,
      held: await heldByCart(tx, store.id, cartId),
      until: new Date(this.deps.now().getTime() + policy.holdMinutes * 60_000),
      mode,
    });
  }

  /**
   * Price and sellable stock of the draft's variants as this cart sees them: a reserve-at-add-to-cart
   * store's units held by this very cart are available to it (they are in `reserved` on its behalf).
   */
  private sellable(draft: CartDraft): Map<string, SellableVariant> {
    const held = this.holdsOf.get(draft.db)?.held;
    const out = new Map<string, SellableVariant>();
    for (const v of draft.variants.values()) {
      const s = sellableOf(v);
      out.set(v.id, held ? { ...s, available: s.available + (held.get(v.id) ?? 0) } : s);
    }
    return out;
  }

  /** After a cart write committed: changed stock goes to the flash-sale gate. */
  private async afterCommit(storeId: string, cart: CartRecord): Promise<void> {
    const available = this.heldAvailability.get(cart);
    if (available) await syncStockGate(this.deps.infra.stockGate, this.deps.config, storeId, available);
  }

  /** `finishWrite` of a write that holds the cart's row lock: it always applies. */
  private async finishLockedWrite(draft: CartDraft): Promise<CartRecord> {
    const written = await this.finishWrite(draft);
    if (!written) throw new Error("cart vanished under lock");
    return written;
  }

  /**
   * Every write ends here: the draft's changes go in with the cart ACTIVE again (activity revives an
   * abandoned cart), version + 1, a guest cart's expiry renewed; then a holding store's holds follow.
   * An optimistic write passes the version it read, and gets null if the cart has moved on since.
   */
  private async finishWrite(draft: CartDraft, expectedVersion?: number): Promise<CartRecord | null> {
    const now = this.deps.now();
    const { cart, db } = draft;
    if (cart.customerId === null) draft.set({ expiresAt: this.guestExpiry() });
    // Notices describe the last automatic change; the shopper's next change replaces them.
    const applied = await applyCartChanges(
      rawSql(db),
      cart.storeId,
      cart.id,
      draft.changes,
      now,
      expectedVersion,
    );
    if (!applied) return null;
    const holds = this.holdsOf.get(db);
    const written = draft.written(applied, { stockChanged: holds !== undefined });
    if (holds) {
      const result = await holdCartStock(
        draft.tx,
        holds.storeId,
        written.id,
        written.lines,
        holds.until,
        holds.mode === "strict" ? askedForMore(cart.lines, written.lines) : new Set(),
      );
      if (result.short.length) {
        throw new UserFacingError(
          result.short.map((s) => ({
            code: ErrorCode.INSUFFICIENT_STOCK,
            message: `Only ${s.available} left to hold for your cart`,
            field: ["lines"],
            variantId: s.variantId,
            available: s.available,
          })),
        );
      }
      await writeOutboxMany(draft.tx, stockStateEvents(holds.storeId, result.changes, now));
      this.heldAvailability.set(written, result.available);
    }
    return written;
  }

  private applyAdds(draft: CartDraft, wanted: readonly WantedLine[], field: string[], locale: string): void {
    const { cart } = draft;
    const variants = this.sellable(draft);
    const errors: UserErrorData[] = [];
    const next = new Map(cart.lines.map((l) => [l.id, l.quantity]));
    const prices = new Map(cart.lines.map((l) => [l.id, l.unitPrice]));
    const inserts: { w: WantedLine; variant: SellableVariant }[] = [];
    for (const w of wanted) {
      const at = [...field, String(w.index)];
      const variant = variants.get(w.variantId);
      if (!variant) {
        errors.push({ code: ErrorCode.NOT_FOUND, message: "Variant not found", field: [...at, "variantId"] });
        continue;
      }
      if (!variant.productActive) {
        errors.push({
          code: ErrorCode.VARIANT_UNAVAILABLE,
          message: `${variant.sku} is not for sale`,
          field: [...at, "variantId"],
          variantId: variant.id,
        });
        continue;
      }
      const existing = cart.lines.find(
        (l) => l.variantId === w.variantId && lineOptionsHash(l.customOptions) === w.hash,
      );
      const quantity = (existing?.quantity ?? 0) + w.quantity;
      if (quantity > MAX_LINE_QUANTITY) {
        errors.push({
          code: ErrorCode.INVALID_INPUT,
          message: `A line holds at most ${MAX_LINE_QUANTITY}; this would make ${quantity}`,
          field: [...at, "quantity"],
          variantId: variant.id,
        });
        continue;
      }
      if (existing) {
        next.set(existing.id, quantity);
        // Adding more of a line whose price fell since it was added: the whole line takes the lower
        // price (the shopper never pays more for adding again); a rise keeps the price they saw.
        prices.set(existing.id, Math.min(existing.unitPrice, variant.price));
      } else inserts.push({ w, variant });
    }
    if (errors.length) throw new UserFacingError(errors);
    if (cart.lines.length + inserts.length > MAX_CART_LINES) {
      throw userError(ErrorCode.CART_LIMIT_REACHED, `A cart holds at most ${MAX_CART_LINES} lines`, {
        field,
      });
    }
    assertOrderSubtotal(
      cart.lines.reduce((sum, l) => sum + (prices.get(l.id) ?? l.unitPrice) * (next.get(l.id) ?? 0), 0) +
        inserts.reduce((sum, ins) => sum + ins.variant.price * ins.w.quantity, 0),
      field,
      moneyText(cart.currency, locale),
    );
    // Stock is checked per variant across all of its option lines in the cart.
    const totals = new Map<string, number>();
    for (const l of cart.lines)
      totals.set(l.variantId, (totals.get(l.variantId) ?? 0) + (next.get(l.id) ?? 0));
    for (const ins of inserts) totals.set(ins.variant.id, (totals.get(ins.variant.id) ?? 0) + ins.w.quantity);
    for (const w of wanted) {
      const variant = variants.get(w.variantId);
      const total = totals.get(w.variantId) ?? 0;
      if (variant && total > variant.available) {
        errors.push({
          code: ErrorCode.INSUFFICIENT_STOCK,
          message: `Only ${Math.max(0, variant.available)} of ${variant.sku} available`,
          field: [...field, String(w.index), "quantity"],
          variantId: variant.id,
          available: Math.max(0, variant.available),
        });
      }
    }
    if (errors.length) throw new UserFacingError(errors);

    for (const l of cart.lines) {
      const quantity = next.get(l.id);
      if (quantity !== undefined) draft.setLine(l.id, quantity, prices.get(l.id));
    }
    for (const { w, variant } of inserts) {
      draft.insertLine({
        productId: variant.productId,
        variantId: variant.id,
        quantity: w.quantity,
        unitPrice: variant.price,
        customOptions: w.options,
        optionsHash: w.hash,
      });
    }
  }

  /** After an update, every variant whose cart total grew must still fit in available stock. */
  private assertStock(draft: CartDraft, next: Map<string, number>, changedLineIds: string[]): void {
    const { cart } = draft;
    const totalsBefore = new Map<string, number>();
    const totalsAfter = new Map<string, number>();
    for (const l of cart.lines) {
      totalsBefore.set(l.variantId, (totalsBefore.get(l.variantId) ?? 0) + l.quantity);
      totalsAfter.set(l.variantId, (totalsAfter.get(l.variantId) ?? 0) + (next.get(l.id) ?? 0));
    }
    const grown = [...totalsAfter].filter(([v, n]) => n > (totalsBefore.get(v) ?? 0)).map(([v]) => v);
    if (grown.length === 0) return;
    const variants = this.sellable(draft);
    const errors: UserErrorData[] = [];
    for (const variantId of grown) {
      const variant = variants.get(variantId);
      const total = totalsAfter.get(variantId) ?? 0;
      const index = changedLineIds.findIndex(
        (id) => cart.lines.find((l) => l.id === id)?.variantId === variantId,
      );
      const at = ["lines", String(Math.max(0, index)), "quantity"];
      if (!variant?.productActive) {
        errors.push({
          code: ErrorCode.VARIANT_UNAVAILABLE,
          message: "This item is no longer for sale",
          field: at,
          variantId,
        });
      } else if (total > variant.available) {
        errors.push({
          code: ErrorCode.INSUFFICIENT_STOCK,
          message: `Only ${Math.max(0, variant.available)} of ${variant.sku} available`,
          field: at,
          variantId,
          available: Math.max(0, variant.available),
        });
      }
    }
    if (errors.length) throw new UserFacingError(errors);
  }
}

/** Validates lines to add (before any statement): ids, quantities, options; repeats add up. */
function wantedLines(lines: readonly CartLineInput[], field: string[]): WantedLine[] {
  if (lines.length === 0 || lines.length > MAX_LINES_PER_CALL) {
    throw userError(ErrorCode.INVALID_INPUT, `Give 1 to ${MAX_LINES_PER_CALL} lines`, { field });
  }
  const errors: UserErrorData[] = [];
  const wanted = new Map<string, WantedLine>();
  lines.forEach((line, i) => {
    const at = [...field, String(i)];
    try {
      const variantId = parseId(line.variantId, [...at, "variantId"], "Variant");
      if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > MAX_LINE_QUANTITY) {
        throw userError(
          ErrorCode.INVALID_INPUT,
          `Quantity must be an integer from 1 to ${MAX_LINE_QUANTITY}`,
          {
            field: [...at, "quantity"],
          },
        );
      }
      const options = normalizeLineOptions(line.customOptions as LineOptionsInput, [...at, "customOptions"]);
      const hash = lineOptionsHash(options);
      const key = `${variantId}|${hash}`;
      const prior = wanted.get(key);
      wanted.set(key, {
        variantId,
        options,
        hash,
        quantity: (prior?.quantity ?? 0) + line.quantity,
        index: prior?.index ?? i,
      });
    } catch (e) {
      if (e instanceof UserFacingError) errors.push(...e.errors);
      else throw e;
    }
  });
  if (errors.length) throw new UserFacingError(errors);
  return [...wanted.values()];
}

/** A merge plan as draft changes of the target cart. */
function applyMergePlan(draft: CartDraft, plan: MergePlan): void {
  for (const u of plan.updates) draft.setLine(u.lineId, u.quantity);
  for (const { source, quantity } of plan.inserts) {
    draft.insertLine({
      productId: source.productId,
      variantId: source.variantId,
      quantity,
      unitPrice: source.unitPrice,
      customOptions: source.customOptions,
      optionsHash: lineOptionsHash(source.customOptions),
    });
  }
}

/** Variants of which `after` has more units than `before`: what a change asks of the stock. */
function askedForMore(before: readonly StockLine[], after: readonly StockLine[]): Set<string> {
  const had = new Map(mergeLines(before).map((l) => [l.variantId, l.quantity]));
  return new Set(
    mergeLines(after)
      .filter((l) => l.quantity > (had.get(l.variantId) ?? 0))
      .map((l) => l.variantId),
  );
}
