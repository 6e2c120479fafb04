/**
 * Consuming and reversing discount uses, for the checkout saga (T1 consumes, the compensation and order
 * cancellation reverse). Both take the caller's open transaction: a use is counted exactly when the order
 * that holds it commits.
 *
 * consume(tx, ...) is atomic and idempotent per (code, order):
 * 1. a transaction-scoped advisory lock per (code, owner) serialises one customer's (or email's) attempts,
 *    so the per-customer count cannot be raced past its limit;
 * 2. an order that already holds an APPLIED use of the code gets that use back, counted once;
 * 3. the per-customer limit counts the owner's APPLIED uses;
 * 4. the global limit, the active flag and the validity window are ONE conditional
 *    `UPDATE discounts SET uses_count = uses_count + 1 WHERE ... RETURNING`: no row, no use;
 * 5. the redemption row is written (or, for an order whose use was reversed, re-applied).
 * Every refusal is a UserFacingError thrown BEFORE anything is written, with the same ErrorCode and rule
 * order as the cart's pricing (inactive, not yet valid, expired, used up, per-customer limit).
 *
 * Owner = the customer id, else the lower-cased email (the same key cart pricing counts by). Callers that
 * consume several codes in one transaction should do so in ascending discount id order (fixed lock order).
 */
import { and, asc, eq, isNull, type SQL, sql } from "drizzle-orm";
import type { Tx } from "../db/client.js";
import { discountRedemptions, discounts } from "../db/schema.js";
import { reasonText } from "./cart/cart-pricing.service.js";
import type { ServiceDeps } from "./deps.js";
import { ErrorCode, userError } from "./errors.js";
import type { DiscountRejection } from "./pricing/index.js";

export interface ConsumeInput {
  storeId: string;
  discountId: string;
  orderId: string;
  customerId?: string | null;
  email?: string | null;
}

export interface ConsumeResult {
  redemptionId: string;
  /** True when this order already held the use: nothing was counted this time. */
  alreadyConsumed: boolean;
}

export interface ReverseInput {
  storeId: string;
  discountId: string;
  orderId: string;
}

type DiscountRow = typeof discounts.$inferSelect;
type ConsumeRejection = Extract<
  DiscountRejection,
  | "DISCOUNT_INACTIVE"
  | "DISCOUNT_NOT_YET_VALID"
  | "DISCOUNT_EXPIRED"
  | "DISCOUNT_LIMIT_REACHED"
  | "DISCOUNT_CUSTOMER_LIMIT_REACHED"
>;

/** The first rule of the code itself (not of the customer) that fails at `now`, in pricing's order. */
export function codeUnavailability(d: DiscountRow, now: Date): ConsumeRejection | null {
  if (!d.isActive) return ErrorCode.DISCOUNT_INACTIVE;
  if (d.validFrom !== null && now.getTime() < d.validFrom.getTime()) return ErrorCode.DISCOUNT_NOT_YET_VALID;
  if (d.validUntil !== null && now.getTime() >= d.validUntil.getTime()) return ErrorCode.DISCOUNT_EXPIRED;
  if (d.maxUses !== null && d.usesCount >= d.maxUses) return ErrorCode.DISCOUNT_LIMIT_REACHED;
  return null;
}

function refuse(d: DiscountRow, reason: ConsumeRejection) {
  return userError(reason, `Code ${d.code} cannot be used: ${reasonText(reason)}`);
}

export class RedemptionService {
  constructor(private readonly deps: Pick<ServiceDeps, "now">) {}

  async consume(tx: Tx, input: ConsumeInput): Promise<ConsumeResult> {
    const { storeId, discountId, orderId } = input;
    const customerId = input.customerId ?? null;
    const email = input.email ? input.email.trim().toLowerCase() : null;
    const owner = customerId ?? email;
    if (!owner) throw new RangeError("consume needs the order's customer id or email");

    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`${discountId}:${owner}`}, 0))`);

    // Under the lock (READ COMMITTED: each statement sees what committed before it), so a retry of the
    // same order's consumption sees the first one.
    const [existing] = await tx
      .select({ id: discountRedemptions.id, status: discountRedemptions.status })
      .from(discountRedemptions)
      .where(
        and(
          eq(discountRedemptions.storeId, storeId),
          eq(discountRedemptions.discountId, discountId),
          eq(discountRedemptions.orderId, orderId),
        ),
      );
    if (existing?.status === "APPLIED") return { redemptionId: existing.id, alreadyConsumed: true };

    const mine = and(eq(discounts.storeId, storeId), eq(discounts.id, discountId));
    const [discount] = await tx.select().from(discounts).where(mine);
    if (!discount) throw userError(ErrorCode.DISCOUNT_NOT_FOUND, "Discount code not found");
    const now = this.deps.now();

    if (discount.perCustomerLimit !== null) {
      const byOwner: SQL | undefined = customerId
        ? eq(discountRedemptions.customerId, customerId)
        : and(isNull(discountRedemptions.customerId), eq(discountRedemptions.email, owner));
      const [counted] = await tx
        .select({ uses: sql<number>`count(*)::int` })
        .from(discountRedemptions)
        .where(
          and(
            eq(discountRedemptions.storeId, storeId),
            eq(discountRedemptions.discountId, discountId),
            eq(discountRedemptions.status, "APPLIED"),
            byOwner,
          ),
        );
      if (Number(counted?.uses ?? 0) >= discount.perCustomerLimit) {
        throw refuse(
          discount,
          codeUnavailability(discount, now) ?? ErrorCode.DISCOUNT_CUSTOMER_LIMIT_REACHED,
        );
      }
    }

    const at = sql`${now.toISOString()}::timestamptz`;
    const [counted] = await tx
      .update(discounts)
      .set({ usesCount: sql`${discounts.usesCount} + 1` })
      .where(
        and(
          mine,
          eq(discounts.isActive, true),
          sql`(${discounts.maxUses} IS NULL OR ${discounts.usesCount} < ${discounts.maxUses})`,
          sql`(${discounts.validFrom} IS NULL OR ${discounts.validFrom} <= ${at})`,
          sql`(${discounts.validUntil} IS NULL OR ${discounts.validUntil} > ${at})`,
        ),
      )
      .returning({ usesCount: discounts.usesCount });
    if (!counted) {
      const [current] = await tx.select().from(discounts).where(mine);
      if (!current) throw userError(ErrorCode.DISCOUNT_NOT_FOUND, "Discount code not found");
      throw refuse(current, codeUnavailability(current, now) ?? ErrorCode.DISCOUNT_LIMIT_REACHED);
    }

    const [row] = await tx
      .insert(discountRedemptions)
      .values({ storeId, discountId, orderId, customerId, email, status: "APPLIED", createdAt: now })
      .onConflictDoUpdate({
        target: [discountRedemptions.storeId, discountRedemptions.discountId, discountRedemptions.orderId],
        set: { status: "APPLIED", reversedAt: null, customerId, email },
        setWhere: sql`${discountRedemptions.status} = 'REVERSED'`,
      })
      .returning({ id: discountRedemptions.id });
    // Only possible when the same order is consumed concurrently under two different owners: throwing
    // rolls back the increment above rather than counting the order twice.
    if (!row) throw new Error(`order ${orderId} already holds discount ${discountId}`);
    return { redemptionId: row.id, alreadyConsumed: false };
  }

  /**
   * Gives the order's use of the code back: APPLIED -> REVERSED, and only when that flip happened, one
   * use fewer. Idempotent: a second call finds nothing to flip. Returns whether a use was given back.
   */
  async reverse(tx: Tx, input: ReverseInput): Promise<boolean> {
    const flipped = await tx
      .update(discountRedemptions)
      .set({ status: "REVERSED", reversedAt: this.deps.now() })
      .where(
        and(
          eq(discountRedemptions.storeId, input.storeId),
          eq(discountRedemptions.discountId, input.discountId),
          eq(discountRedemptions.orderId, input.orderId),
          eq(discountRedemptions.status, "APPLIED"),
        ),
      )
      .returning({ id: discountRedemptions.id });
    if (flipped.length === 0) return false;
    await this.giveBack(tx, input.storeId, input.discountId);
    return true;
  }

  /** Reverses every code the order holds (order cancellation, failed payment). Returns their discount ids. */
  async reverseOrder(tx: Tx, input: { storeId: string; orderId: string }): Promise<string[]> {
    const held = await tx
      .select({ discountId: discountRedemptions.discountId })
      .from(discountRedemptions)
      .where(
        and(
          eq(discountRedemptions.storeId, input.storeId),
          eq(discountRedemptions.orderId, input.orderId),
          eq(discountRedemptions.status, "APPLIED"),
        ),
      )
      .orderBy(asc(discountRedemptions.discountId));
    const reversed: string[] = [];
    for (const { discountId } of held) {
      if (await this.reverse(tx, { ...input, discountId })) reversed.push(discountId);
    }
    return reversed;
  }

  private async giveBack(tx: Tx, storeId: string, discountId: string): Promise<void> {
    await tx
      .update(discounts)
      .set({ usesCount: sql`${discounts.usesCount} - 1` })
      .where(
        and(eq(discounts.storeId, storeId), eq(discounts.id, discountId), sql`${discounts.usesCount} > 0`),
      );
  }
}
