/**
 * Discount codes: shoppers apply and remove them on their carts; staff create, replace and list them.
 *
 * Applying a code prices the cart as it would be with the code (the same pure pricing every read uses)
 * and refuses, with the rule's own ErrorCode, a code that would count for nothing; nothing is written
 * then. A code that stops qualifying later (the cart shrank below its minimum, it expired, ...) is NOT
 * removed: every read re-prices the cart, so the code shows as inapplicable with its reason and starts
 * counting again as soon as the cart qualifies.
 *
 * Per-customer limits: at apply time they are checked for signed-in customers and for guests whose cart
 * already has an email. A guest without an email cannot be identified yet, so the limit is enforced when
 * the use is consumed at checkout (RedemptionService.consume), under a lock per (code, customer or email).
 * Global limits, windows and the active flag are likewise re-checked atomically at consumption.
 */
import { and, asc, eq, inArray, ne, type SQL, sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { discounts, products } from "../db/schema.js";
import { assertStaff } from "./authz.js";
import type { CartService } from "./cart/cart.service.js";
import type { CartRecord } from "./cart/cart.types.js";
import type { CartPricingService } from "./cart/cart-pricing.service.js";
import { reasonText } from "./cart/cart-pricing.service.js";
import type { ServiceContext } from "./context.js";
import type { ServiceDeps } from "./deps.js";
import type { DiscountInput, DiscountValues } from "./discount-input.js";
import {
  checkDiscountInput,
  MAX_APPLICABLE_PRODUCTS,
  normalizeCode,
  productNotFound,
} from "./discount-input.js";
import { ErrorCode, type UserErrorData, UserFacingError, userError } from "./errors.js";
import { moneyText } from "./money-format.js";
import { decodeCursor, type Page, type PageArgs, pageSize, toPage } from "./pagination.js";
import { isUniqueViolation } from "./pg-errors.js";
import { isUuid, parseId } from "./validation.js";

export type { DiscountInput } from "./discount-input.js";
export type DiscountRecord = typeof discounts.$inferSelect;

const CODE_KEY = "discounts_store_code_key";
/** Longer than any valid code: such input cannot name one, and is not worth a query. */
const MAX_CODE_INPUT = 200;

const codeNotFound = (message = "Discount code not found") =>
  userError(ErrorCode.DISCOUNT_NOT_FOUND, message, { field: ["code"] });

const duplicateCode = (code: string): UserErrorData => ({
  code: ErrorCode.INVALID_INPUT,
  message: `The code ${code} already exists in this store`,
  field: ["input", "code"],
});

const isOpen = (cart: CartRecord) => cart.status === "ACTIVE" || cart.status === "ABANDONED";

/** Creation order; milliseconds, because cursors carry a JS Date (rows inserted by SQL may hold microseconds). */
const createdAtMs = sql`date_trunc('milliseconds', ${discounts.createdAt})`;

export class DiscountService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly carts: CartService,
    private readonly pricing: CartPricingService,
  ) {}

  /**
   * Applies a code (trimmed, case-insensitive) to the caller's cart. Re-applying an applied code changes
   * nothing and succeeds. A code that would not apply is refused with its reason (and, for a minimum
   * order, the amount to reach).
   */
  async applyCode(ctx: ServiceContext, cartId: string, code: string): Promise<CartRecord> {
    const normalized = normalizeCode(code);
    // Fast path for a repeated apply: no lock, no write, no version bump.
    const current = await this.carts.get(ctx, cartId);
    if (current && isOpen(current) && current.discounts.length > 0) {
      const discount = await this.findByCode(this.deps.db, ctx.store.id, normalized);
      if (discount && current.discounts.some((d) => d.discountId === discount.id)) return current;
    }
    return this.carts.write(ctx, cartId, async (draft) => {
      const { cart, db } = draft;
      const discount = await this.findByCode(db, ctx.store.id, normalized);
      if (!discount) throw codeNotFound();
      if (cart.discounts.some((d) => d.discountId === discount.id)) return;
      const appliedAt = this.deps.now();
      const withCode: CartRecord = {
        ...cart,
        discounts: [...cart.discounts, { discountId: discount.id, appliedAt }],
      };
      const { result } = await this.pricing.price(ctx.store, withCode, db);
      const priced = result.discounts.find((d) => d.id === discount.id);
      if (!priced) throw new Error(`pricing lost discount ${discount.id}`);
      if (!priced.applicable) {
        const reason = priced.reason ?? ErrorCode.DISCOUNT_NOT_APPLICABLE;
        throw userError(
          reason,
          `Code ${discount.code} does not apply: ${reasonText(reason, priced.requiredAmount, moneyText(cart.currency, ctx.store.locale))}`,
          {
            field: ["code"],
            ...(priced.requiredAmount === undefined ? {} : { requiredAmount: priced.requiredAmount }),
          },
        );
      }
      draft.addCode(discount, priced.amount);
    });
  }

  /** Removes an applied code; a code that is not applied to the cart is DISCOUNT_NOT_FOUND. */
  async removeCode(ctx: ServiceContext, cartId: string, code: string): Promise<CartRecord> {
    const normalized = normalizeCode(code);
    return this.carts.write(ctx, cartId, async (draft) => {
      const discount = await this.findByCode(draft.db, ctx.store.id, normalized);
      // The write applies only to the cart as read (locked, or at the version read): what the snapshot
      // says is applied is what is applied.
      const applied = discount !== null && draft.cart.discounts.some((d) => d.discountId === discount.id);
      if (!applied) throw codeNotFound("This code is not applied to the cart");
      draft.removeCode(discount.id);
    });
  }

  // ---- staff ----

  async create(ctx: ServiceContext, input: DiscountInput): Promise<DiscountRecord> {
    assertStaff(ctx.caller);
    const values = await this.checkInput(ctx.store.id, input, null);
    const now = this.deps.now();
    try {
      const [row] = await this.deps.db
        .insert(discounts)
        .values({ storeId: ctx.store.id, ...values, createdAt: now, updatedAt: now })
        .returning();
      if (!row) throw new Error("discount insert returned nothing");
      return row;
    } catch (e) {
      // Lost a race with a concurrent create of the same code.
      if (isUniqueViolation(e, CODE_KEY)) throw new UserFacingError(duplicateCode(values.code));
      throw e;
    }
  }

  /**
   * Replaces every editable field (omitted optional fields become null, combinable false, isActive true).
   * uses_count is never edited, and maxUses cannot go below it: checked in the UPDATE itself, so a use
   * consumed concurrently cannot slip under the new limit.
   */
  async update(ctx: ServiceContext, id: string, input: DiscountInput): Promise<DiscountRecord> {
    assertStaff(ctx.caller);
    const discountId = parseId(id, ["id"], "Discount");
    const values = await this.checkInput(ctx.store.id, input, discountId);
    const mine = and(eq(discounts.storeId, ctx.store.id), eq(discounts.id, discountId));
    let row: DiscountRecord | undefined;
    try {
      [row] = await this.deps.db
        .update(discounts)
        .set({ ...values, updatedAt: this.deps.now() })
        .where(
          and(mine, values.maxUses === null ? undefined : sql`${discounts.usesCount} <= ${values.maxUses}`),
        )
        .returning();
    } catch (e) {
      if (isUniqueViolation(e, CODE_KEY)) throw new UserFacingError(duplicateCode(values.code));
      throw e;
    }
    if (row) return row;
    const [existing] = await this.deps.db
      .select({ usesCount: discounts.usesCount })
      .from(discounts)
      .where(mine);
    if (!existing) throw userError(ErrorCode.NOT_FOUND, "Discount not found", { field: ["id"] });
    throw userError(
      ErrorCode.INVALID_INPUT,
      `Maximum uses cannot be below the ${existing.usesCount} uses already made`,
      { field: ["input", "maxUses"] },
    );
  }

  /** The store's discounts in creation order (keyset by created_at, id). */
  async list(ctx: ServiceContext, args: PageArgs): Promise<Page<DiscountRecord>> {
    assertStaff(ctx.caller);
    const size = pageSize(args.first);
    const conditions: (SQL | undefined)[] = [eq(discounts.storeId, ctx.store.id)];
    if (args.after) {
      const cursor = decodeCursor(args.after);
      conditions.push(
        sql`(${createdAtMs}, ${discounts.id}) > (${cursor.at.toISOString()}::timestamptz, ${cursor.id}::uuid)`,
      );
    }
    const rows =
      size === 0
        ? []
        : await this.deps.db
            .select()
            .from(discounts)
            .where(and(...conditions))
            .orderBy(asc(createdAtMs), asc(discounts.id))
            .limit(size + 1);
    return toPage(rows, size, (d) => ({ at: d.createdAt, id: d.id }), Boolean(args.after));
  }

  // ---- internals ----

  private async findByCode(db: Executor, storeId: string, code: string): Promise<DiscountRecord | null> {
    if (code.length === 0 || code.length > MAX_CODE_INPUT) return null;
    const [row] = await db
      .select()
      .from(discounts)
      .where(and(eq(discounts.storeId, storeId), eq(discounts.code, code)));
    return row ?? null;
  }

  /** Every problem at once: the shape, products of another store (or none), a code already taken. */
  private async checkInput(
    storeId: string,
    input: DiscountInput,
    selfId: string | null,
  ): Promise<DiscountValues> {
    const { values, errors } = checkDiscountInput(input);
    const listed = (input.applicableProductIds ?? []).map((id) => id.toLowerCase());
    // An over-long list is already an error; its ids are not worth a query.
    const ids = listed.length <= MAX_APPLICABLE_PRODUCTS ? listed : [];
    const wellFormed = [...new Set(ids.filter(isUuid))];
    const codeTaken = (): Promise<unknown[]> =>
      values.code
        ? this.deps.db
            .select({ id: discounts.id })
            .from(discounts)
            .where(
              and(
                eq(discounts.storeId, storeId),
                eq(discounts.code, values.code),
                selfId ? ne(discounts.id, selfId) : undefined,
              ),
            )
            .limit(1)
        : Promise.resolve([]);
    const [found, taken] = await Promise.all([
      wellFormed.length
        ? this.deps.db
            .select({ id: products.id })
            .from(products)
            .where(and(eq(products.storeId, storeId), inArray(products.id, wellFormed)))
        : Promise.resolve([]),
      codeTaken(),
    ]);
    const known = new Set(found.map((p) => p.id));
    ids.forEach((id, i) => {
      if (isUuid(id) && !known.has(id)) errors.push(productNotFound(i));
    });
    if (taken.length > 0 && !errors.some((e) => e.field?.[1] === "code"))
      errors.push(duplicateCode(values.code));
    if (errors.length) throw new UserFacingError(errors);
    return values;
  }
}
