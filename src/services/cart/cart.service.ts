/**
 * Cart use cases. PostgreSQL is the truth: every write locks the cart row (so concurrent writers of one
 * cart queue instead of losing updates), commits, then refreshes the Redis copy. Reads come from Redis
 * when it has the cart, else from PostgreSQL.
 */
import { and, eq, inArray, isNotNull, lt, sql } from "drizzle-orm";
import type { Tx } from "../../db/client.js";
import { type CartNoticeJson, cartItems, carts, inventoryReservations, stores } from "../../db/schema.js";
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
import { stockStateEvents } from "../inventory/stock-events.js";
import { syncStockGate } from "../inventory/stock-gate.js";
import { assertOrderSubtotal } from "../money-bounds.js";
import { writeOutboxMany } from "../outbox.js";
import { parseStoreSettings } from "../store-settings.js";
import { normalizeEmail, parseId } from "../validation.js";
import { loadCart, loadSellableVariants, type SellableVariant, withLines } from "./cart.repository.js";
import {
  type CartLineInput,
  type CartLineUpdateInput,
  type CartRecord,
  MAX_CART_LINES,
  MAX_LINE_QUANTITY,
} from "./cart.types.js";
import { CartCache } from "./cart-cache.js";
import { type CartMergePolicy, type MergePlan, sumAndCapMergePolicy } from "./cart-merge.js";
import { lineOptionsHash, normalizeLineOptions } from "./line-options.js";

/** What a change may report back: automatic changes the shopper should be told about. */
export interface CartChangeOutcome {
  notices?: CartNoticeJson[];
}

const OPEN_STATUSES = ["ACTIVE", "ABANDONED"] as const;
const MAX_LINES_PER_CALL = 100;

export function ownsCart(caller: Caller, cart: Pick<CartRecord, "customerId" | "sessionId">): boolean {
  if (caller.kind === "customer") return cart.customerId === caller.customerId;
  if (caller.kind === "guest") return cart.customerId === null && cart.sessionId === caller.sessionId;
  return false;
}

const cartNotFound = () => userError(ErrorCode.NOT_FOUND, "Cart not found", { field: ["cartId"] });

/** A reserve-at-add-to-cart store's hold for one cart write: what the cart holds now, and until when. */
interface Holds {
  storeId: string;
  held: Map<string, number>;
  until: Date;
  mode: "strict" | "best-effort";
}

export class CartService {
  readonly cache: CartCache;
  /** The hold context of each open cart transaction (reserve-at-add-to-cart stores only). */
  private readonly holdsOf = new WeakMap<Tx, Holds>();
  /** Sellable stock changed by a cart write's holds, by the record the write returned: for the gate. */
  private readonly heldAvailability = new WeakMap<CartRecord, Map<string, number>>();

  constructor(
    private readonly deps: ServiceDeps,
    private readonly mergePolicy: CartMergePolicy = sumAndCapMergePolicy,
  ) {
    this.cache = new CartCache(deps.infra.cache, deps.config.CART_CACHE_TTL_SECONDS);
  }

  /**
   * The caller's cart, or null (unknown, foreign and malformed ids all look the same). A cached copy is
   * served only when PostgreSQL confirms it is the current version (one indexed lookup, asked in
   * parallel with Redis): a cache write lost to a Redis blip or a crash can never be served.
   */
  async get(ctx: ServiceContext, cartId: string): Promise<CartRecord | null> {
    let id: string;
    try {
      id = parseId(cartId, ["cartId"], "Cart");
    } catch {
      return null;
    }
    const [cached, current] = await Promise.all([
      this.cache.get(id),
      this.deps.db
        .select({ version: carts.version })
        .from(carts)
        .where(and(eq(carts.storeId, ctx.store.id), eq(carts.id, id))),
    ]);
    const version = current[0]?.version;
    if (version === undefined) return null;
    let cart = cached && cached.storeId === ctx.store.id && cached.version === version ? cached : null;
    if (!cart) {
      cart = await loadCart(this.deps.db, ctx.store.id, id);
      if (cart) await this.cache.put(cart);
    }
    return cart && ownsCart(ctx.caller, cart) ? cart : null;
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
          .returning({ id: carts.id });
        cartId = row?.id;
      }
      if (!cartId) throw new Error("cart insert returned nothing");
      const locked = await loadCart(tx, ctx.store.id, cartId, { lock: true });
      if (!locked) throw new Error("created cart vanished");
      await this.beginHolds(tx, ctx.store, locked.id, "strict");
      if (input.lines?.length) await this.applyAdds(tx, locked, input.lines, ["input", "lines"]);
      return this.finishWrite(tx, locked, { email: email ?? undefined });
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
    return this.write(ctx, cartId, async (tx, cart) => {
      await this.applyAdds(tx, cart, lines, ["lines"]);
      await alsoInTransaction?.(tx);
    });
  }

  async updateLines(
    ctx: ServiceContext,
    cartId: string,
    updates: CartLineUpdateInput[],
  ): Promise<CartRecord> {
    return this.write(ctx, cartId, async (tx, cart) => {
      if (updates.length === 0 || updates.length > MAX_LINES_PER_CALL) {
        throw userError(ErrorCode.INVALID_INPUT, `Give 1 to ${MAX_LINES_PER_CALL} lines`, {
          field: ["lines"],
        });
      }
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
      );
      await this.assertStock(
        tx,
        cart,
        next,
        updates.map((u) => u.lineId.toLowerCase()),
      );
      for (const [lineId, quantity] of next) {
        const before = cart.lines.find((l) => l.id === lineId)?.quantity;
        if (quantity === before) continue;
        if (quantity === 0)
          await tx.delete(cartItems).where(and(eq(cartItems.cartId, cart.id), eq(cartItems.id, lineId)));
        else
          await tx
            .update(cartItems)
            .set({ quantity, updatedAt: this.deps.now() })
            .where(and(eq(cartItems.cartId, cart.id), eq(cartItems.id, lineId)));
      }
    });
  }

  async removeLines(ctx: ServiceContext, cartId: string, lineIds: string[]): Promise<CartRecord> {
    return this.write(ctx, cartId, async (tx, cart) => {
      if (lineIds.length === 0 || lineIds.length > MAX_LINES_PER_CALL) {
        throw userError(ErrorCode.INVALID_INPUT, `Give 1 to ${MAX_LINES_PER_CALL} line ids`, {
          field: ["lineIds"],
        });
      }
      const ids = lineIds.map((id) => id.toLowerCase());
      const errors: UserErrorData[] = [];
      ids.forEach((id, i) => {
        if (!cart.lines.some((l) => l.id === id)) {
          errors.push({
            code: ErrorCode.NOT_FOUND,
            message: "Line not found in this cart",
            field: ["lineIds", String(i)],
          });
        }
      });
      if (errors.length) throw new UserFacingError(errors);
      await tx.delete(cartItems).where(and(eq(cartItems.cartId, cart.id), inArray(cartItems.id, ids)));
    });
  }

  async setEmail(ctx: ServiceContext, cartId: string, email: string): Promise<CartRecord> {
    const normalized = normalizeEmail(email, ["email"]);
    return this.write(ctx, cartId, async () => {}, { email: normalized });
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
      const guest = await loadCart(tx, ctx.store.id, guestId);
      const target = await loadCart(tx, ctx.store.id, targetId);
      if (!guest || !target) throw new Error("cart vanished under lock");
      if (guest.status === "MERGED" && guest.mergedIntoCartId === target.id)
        return { cart: target, touched: [] };
      if (guest.status !== "ACTIVE" && guest.status !== "ABANDONED") {
        throw userError(ErrorCode.CART_NOT_ACTIVE, `Guest cart is ${guest.status.toLowerCase()}`, {
          field: ["guestCartId"],
        });
      }
      // A reserve-at-add-to-cart store: the guest cart's holds go, the target's count as its own.
      await releaseReservations(tx, ctx.store.id, { cartId: guest.id }, this.deps.now());
      await this.beginHolds(tx, ctx.store, target.id, "best-effort");
      const variants = await loadSellableVariants(
        tx,
        ctx.store.id,
        guest.lines.map((l) => l.variantId),
      );
      this.countOwnHolds(tx, variants);
      const plan = this.mergePolicy.plan(guest.lines, target.lines, variants);
      const now = this.deps.now();
      await this.applyMergePlan(tx, target, plan);
      const touched = await tx
        .update(carts)
        .set({
          status: "MERGED",
          mergedIntoCartId: target.id,
          version: sql`${carts.version} + 1`,
          updatedAt: now,
        })
        .where(and(eq(carts.storeId, ctx.store.id), eq(carts.id, guest.id)))
        .returning({ id: carts.id, version: carts.version });
      const merged = await this.finishWrite(tx, target, {
        notices: plan.notices,
        email: target.email ? undefined : (guest.email ?? undefined),
      });
      return { cart: merged, touched };
    });
    await this.cache.invalidate(...result.touched);
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
    const cart = await this.deps.db.transaction(async (tx) => {
      const locked = await loadCart(tx, storeId, cartId, { lock: true });
      if (!locked || locked.customerId !== null) throw cartNotFound();
      if (locked.status !== "ACTIVE" && locked.status !== "ABANDONED") {
        throw userError(ErrorCode.CART_NOT_ACTIVE, `Cart is ${locked.status.toLowerCase()}`);
      }
      if (locked.sessionId !== sessionId) await this.limitOpenGuestCarts(tx, storeId, sessionId);
      return this.finishWrite(tx, locked, { sessionId });
    });
    await this.cache.put(cart);
    return cart;
  }

  // ---- for checkout: the cart module stays the only writer of carts ----

  /** Locks the caller's cart (FOR UPDATE) for checkout; NOT_FOUND unless the caller owns it. */
  async lockForCheckout(tx: Tx, ctx: ServiceContext, cartId: string): Promise<CartRecord> {
    const locked = await loadCart(tx, ctx.store.id, cartId, { lock: true });
    if (!locked || !ownsCart(ctx.caller, locked)) throw cartNotFound();
    return locked;
  }

  /** The cart became an order: CHECKED_OUT, version + 1. Invalidate the returned version after commit. */
  async markCheckedOut(tx: Tx, cart: CartRecord): Promise<{ id: string; version: number }> {
    const [row] = await tx
      .update(carts)
      .set({ status: "CHECKED_OUT", version: sql`${carts.version} + 1`, updatedAt: this.deps.now() })
      .where(and(eq(carts.storeId, cart.storeId), eq(carts.id, cart.id)))
      .returning({ id: carts.id, version: carts.version });
    if (!row) throw new Error("cart vanished under lock");
    return row;
  }

  /**
   * The order of this cart failed (declined, rejected, expired): the cart is the shopper's again, with
   * its lines, so they can try another card. A customer who opened another cart meanwhile keeps that
   * one, and the failed cart's lines are merged into it. Returns the carts whose cached copies changed.
   */
  async reopenAfterCheckout(
    tx: Tx,
    storeId: string,
    cartId: string,
  ): Promise<{ id: string; version: number }[]> {
    const cart = await loadCart(tx, storeId, cartId, { lock: true });
    if (cart?.status !== "CHECKED_OUT") return [];
    const [store] = await tx
      .select({
        id: stores.id,
        handle: stores.handle,
        name: stores.name,
        currency: stores.currency,
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
    const now = this.deps.now();
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
        const target = await loadCart(tx, storeId, other.id);
        if (!target) throw new Error("open cart vanished under lock");
        const variants = await loadSellableVariants(
          tx,
          storeId,
          cart.lines.map((l) => l.variantId),
        );
        const plan = this.mergePolicy.plan(cart.lines, target.lines, variants);
        await this.applyMergePlan(tx, target, plan);
        const [merged] = await tx
          .update(carts)
          .set({
            status: "MERGED",
            mergedIntoCartId: target.id,
            version: sql`${carts.version} + 1`,
            updatedAt: now,
          })
          .where(and(eq(carts.storeId, storeId), eq(carts.id, cart.id)))
          .returning({ id: carts.id, version: carts.version });
        const updated = await this.finishWrite(tx, target, { notices: [notice, ...plan.notices] });
        return [...(merged ? [merged] : []), { id: updated.id, version: updated.version }];
      }
    }
    const reopened = await this.finishWrite(tx, cart, { notices: [notice] });
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
        const cart = await loadCart(tx, storeId, cartId, { lock: true });
        if (!cart) return null;
        const now = this.deps.now();
        const released = await releaseReservations(tx, storeId, { cartId }, now, "EXPIRED");
        if (released.lines.length === 0) return null;
        await writeOutboxMany(tx, stockStateEvents(storeId, released.changes, now));
        const [row] = await tx
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
          .where(and(eq(carts.storeId, storeId), eq(carts.id, cartId)))
          .returning({ id: carts.id, version: carts.version });
        return { row, available: new Map([...released.after].map(([id, a]) => [id, a.available])) };
      });
      if (!done?.row) continue;
      expired++;
      await Promise.all([
        this.cache.invalidate(done.row),
        syncStockGate(this.deps.infra.stockGate, this.deps.config, storeId, done.available),
      ]);
    }
    return expired;
  }

  /** Forgets cached copies of carts changed inside a transaction that has committed. */
  async invalidate(...changed: { id: string; version: number }[]): Promise<void> {
    await this.cache.invalidate(...changed);
  }

  // ---- internals ----

  private async applyMergePlan(tx: Tx, target: CartRecord, plan: MergePlan): Promise<void> {
    const now = this.deps.now();
    for (const u of plan.updates) {
      await tx
        .update(cartItems)
        .set({ quantity: u.quantity, updatedAt: now })
        .where(and(eq(cartItems.storeId, target.storeId), eq(cartItems.id, u.lineId)));
    }
    if (plan.inserts.length) {
      await tx.insert(cartItems).values(
        plan.inserts.map(({ source, quantity }) => ({
          storeId: target.storeId,
          cartId: target.id,
          productId: source.productId,
          variantId: source.variantId,
          quantity,
          unitPrice: source.unitPrice,
          customOptions: source.customOptions,
          optionsHash: lineOptionsHash(source.customOptions),
        })),
      );
    }
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
   * The one way to change a cart: locks the caller's open cart, runs the change, bumps the version,
   * commits, then refreshes the cache.
   */
  async write(
    ctx: ServiceContext,
    cartId: string,
    // biome-ignore lint/suspicious/noConfusingVoidType: most changes report nothing and just return
    change: (tx: Tx, cart: CartRecord) => Promise<CartChangeOutcome | void>,
    fields: { email?: string } = {},
  ): Promise<CartRecord> {
    this.requireShopper(ctx.caller);
    const id = parseId(cartId, ["cartId"], "Cart");
    const cart = await this.deps.db.transaction(async (tx) => {
      const locked = await loadCart(tx, ctx.store.id, id, { lock: true });
      if (!locked || !ownsCart(ctx.caller, locked)) throw cartNotFound();
      if (locked.status !== "ACTIVE" && locked.status !== "ABANDONED") {
        throw userError(ErrorCode.CART_NOT_ACTIVE, `Cart is ${locked.status.toLowerCase()}`, {
          field: ["cartId"],
        });
      }
      await this.beginHolds(tx, ctx.store, locked.id, "strict");
      const outcome = await change(tx, locked);
      return this.finishWrite(tx, locked, { ...fields, notices: outcome ? outcome.notices : undefined });
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

  /** Units the transaction's cart holds itself, by variant (nothing for reserve-at-checkout stores). */
  private heldIn(tx: Tx): Map<string, number> {
    return this.holdsOf.get(tx)?.held ?? new Map();
  }

  /** The cart's own held units are available to it: they are in `reserved` only on its behalf. */
  private countOwnHolds(tx: Tx, variants: Map<string, SellableVariant>): void {
    const held = this.heldIn(tx);
    for (const v of variants.values()) v.available += held.get(v.id) ?? 0;
  }

  /** After a cart write committed: the new copy goes to the cache, changed stock to the gate. */
  private async afterCommit(storeId: string, cart: CartRecord): Promise<void> {
    const available = this.heldAvailability.get(cart);
    await Promise.all([
      this.cache.put(cart),
      available ? syncStockGate(this.deps.infra.stockGate, this.deps.config, storeId, available) : undefined,
    ]);
  }

  /** Every write ends here: the cart becomes ACTIVE (activity revives an abandoned cart), version + 1. */
  private async finishWrite(
    tx: Tx,
    cart: CartRecord,
    fields: { email?: string; notices?: CartNoticeJson[]; sessionId?: string },
  ): Promise<CartRecord> {
    const now = this.deps.now();
    const [row] = await tx
      .update(carts)
      .set({
        status: "ACTIVE",
        version: sql`${carts.version} + 1`,
        updatedAt: now,
        // Notices describe the last automatic change; the shopper's next change replaces them.
        notices: fields.notices ?? [],
        ...(fields.email !== undefined ? { email: fields.email } : {}),
        ...(fields.sessionId !== undefined ? { sessionId: fields.sessionId } : {}),
        ...(cart.customerId === null ? { expiresAt: this.guestExpiry() } : {}),
      })
      .where(and(eq(carts.storeId, cart.storeId), eq(carts.id, cart.id)))
      .returning();
    if (!row) throw new Error("cart vanished under lock");
    const written = await withLines(tx, row);
    const holds = this.holdsOf.get(tx);
    if (holds) {
      const result = await holdCartStock(
        tx,
        holds.storeId,
        written.id,
        written.lines,
        holds.until,
        holds.mode,
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
      await writeOutboxMany(tx, stockStateEvents(holds.storeId, result.changes, now));
      this.heldAvailability.set(written, result.available);
    }
    return written;
  }

  private async applyAdds(tx: Tx, cart: CartRecord, lines: CartLineInput[], field: string[]): Promise<void> {
    if (lines.length === 0 || lines.length > MAX_LINES_PER_CALL) {
      throw userError(ErrorCode.INVALID_INPUT, `Give 1 to ${MAX_LINES_PER_CALL} lines`, { field });
    }
    const errors: UserErrorData[] = [];
    const wanted = new Map<
      string,
      { variantId: string; options: ReturnType<typeof normalizeLineOptions>; quantity: number; index: number }
    >();
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
        const options = normalizeLineOptions(line.customOptions, [...at, "customOptions"]);
        const key = `${variantId}|${lineOptionsHash(options)}`;
        const prior = wanted.get(key);
        wanted.set(key, {
          variantId,
          options,
          quantity: (prior?.quantity ?? 0) + line.quantity,
          index: prior?.index ?? i,
        });
      } catch (e) {
        if (e instanceof UserFacingError) errors.push(...e.errors);
        else throw e;
      }
    });
    if (errors.length) throw new UserFacingError(errors);

    const variants = await loadSellableVariants(
      tx,
      cart.storeId,
      [...wanted.values()].map((w) => w.variantId),
    );
    this.countOwnHolds(tx, variants);
    const next = new Map(cart.lines.map((l) => [l.id, l.quantity]));
    const inserts: {
      variantId: string;
      productId: string;
      price: number;
      options: (typeof cart.lines)[number]["customOptions"];
      quantity: number;
    }[] = [];
    for (const w of wanted.values()) {
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
      const hash = lineOptionsHash(w.options);
      const existing = cart.lines.find(
        (l) => l.variantId === w.variantId && lineOptionsHash(l.customOptions) === hash,
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
      if (existing) next.set(existing.id, quantity);
      else
        inserts.push({
          variantId: variant.id,
          productId: variant.productId,
          price: variant.price,
          options: w.options,
          quantity: w.quantity,
        });
    }
    if (errors.length) throw new UserFacingError(errors);
    if (cart.lines.length + inserts.length > MAX_CART_LINES) {
      throw userError(ErrorCode.CART_LIMIT_REACHED, `A cart holds at most ${MAX_CART_LINES} lines`, {
        field,
      });
    }
    assertOrderSubtotal(
      cart.lines.reduce((sum, l) => sum + l.unitPrice * (next.get(l.id) ?? l.quantity), 0) +
        inserts.reduce((sum, ins) => sum + ins.price * ins.quantity, 0),
      field,
    );
    // Stock is checked per variant across all of its option lines in the cart.
    const totals = new Map<string, number>();
    for (const l of cart.lines)
      totals.set(l.variantId, (totals.get(l.variantId) ?? 0) + (next.get(l.id) ?? 0));
    for (const ins of inserts) totals.set(ins.variantId, (totals.get(ins.variantId) ?? 0) + ins.quantity);
    for (const w of wanted.values()) {
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

    const now = this.deps.now();
    for (const l of cart.lines) {
      const quantity = next.get(l.id);
      if (quantity !== undefined && quantity !== l.quantity) {
        await tx.update(cartItems).set({ quantity, updatedAt: now }).where(eq(cartItems.id, l.id));
      }
    }
    if (inserts.length) {
      await tx.insert(cartItems).values(
        inserts.map((ins) => ({
          storeId: cart.storeId,
          cartId: cart.id,
          productId: ins.productId,
          variantId: ins.variantId,
          quantity: ins.quantity,
          unitPrice: ins.price,
          customOptions: ins.options,
          optionsHash: lineOptionsHash(ins.options),
        })),
      );
    }
  }

  /** After an update, every variant whose cart total grew must still fit in available stock. */
  private async assertStock(
    tx: Tx,
    cart: CartRecord,
    next: Map<string, number>,
    changedLineIds: string[],
  ): Promise<void> {
    const totalsBefore = new Map<string, number>();
    const totalsAfter = new Map<string, number>();
    for (const l of cart.lines) {
      totalsBefore.set(l.variantId, (totalsBefore.get(l.variantId) ?? 0) + l.quantity);
      totalsAfter.set(l.variantId, (totalsAfter.get(l.variantId) ?? 0) + (next.get(l.id) ?? 0));
    }
    const grown = [...totalsAfter].filter(([v, n]) => n > (totalsBefore.get(v) ?? 0)).map(([v]) => v);
    if (grown.length === 0) return;
    const variants = await loadSellableVariants(tx, cart.storeId, grown);
    this.countOwnHolds(tx, variants);
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
