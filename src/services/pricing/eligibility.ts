/**
 * The discount rules the pure module can decide from its inputs. Each code is checked on its own first
 * (`checkDiscountRules`), then the codes that pass are checked against each other (`selectCombinable`).
 */
import type { DiscountRejection, PricingDiscount, PricingLine } from "./types.js";

export type RuleOutcome =
  | { ok: true; eligibleSubtotal: number }
  | { ok: false; reason: DiscountRejection; requiredAmount?: number };

export function isEligibleLine(discount: PricingDiscount, line: PricingLine): boolean {
  return discount.applicableProductIds === null || discount.applicableProductIds.includes(line.productId);
}

/**
 * The first failing rule, in this fixed order, decides the reason: inactive, not yet valid, expired
 * (validUntil is exclusive), global limit, per-customer limit, no eligible line, minimum order (on the
 * eligible lines' subtotal before any discount).
 */
export function checkDiscountRules(
  discount: PricingDiscount,
  lines: readonly PricingLine[],
  lineSubtotals: ReadonlyMap<string, number>,
  now: Date,
): RuleOutcome {
  const at = now.getTime();
  if (!discount.isActive) return { ok: false, reason: "DISCOUNT_INACTIVE" };
  if (discount.validFrom !== null && at < discount.validFrom.getTime()) {
    return { ok: false, reason: "DISCOUNT_NOT_YET_VALID" };
  }
  if (discount.validUntil !== null && at >= discount.validUntil.getTime()) {
    return { ok: false, reason: "DISCOUNT_EXPIRED" };
  }
  if (discount.maxUses !== null && discount.usesCount >= discount.maxUses) {
    return { ok: false, reason: "DISCOUNT_LIMIT_REACHED" };
  }
  if (
    discount.perCustomerLimit !== null &&
    discount.customerUses !== null &&
    discount.customerUses >= discount.perCustomerLimit
  ) {
    return { ok: false, reason: "DISCOUNT_CUSTOMER_LIMIT_REACHED" };
  }
  if (discount.type === "BUY_X_GET_Y" && !hasValidGroupSize(discount)) {
    // A row that slipped past validateDiscountInput: treat it as matching nothing rather than guess.
    return { ok: false, reason: "DISCOUNT_NOT_APPLICABLE" };
  }
  const eligible = lines.filter((line) => isEligibleLine(discount, line));
  if (eligible.length === 0) return { ok: false, reason: "DISCOUNT_NOT_APPLICABLE" };
  let eligibleSubtotal = 0;
  for (const line of eligible) eligibleSubtotal += lineSubtotals.get(line.lineId) ?? 0;
  if (discount.minOrderAmount !== null && eligibleSubtotal < discount.minOrderAmount) {
    return { ok: false, reason: "DISCOUNT_MIN_ORDER_NOT_MET", requiredAmount: discount.minOrderAmount };
  }
  return { ok: true, eligibleSubtotal };
}

function hasValidGroupSize(discount: PricingDiscount): boolean {
  const { buyQty, getQty } = discount;
  return (
    buyQty !== null &&
    getQty !== null &&
    Number.isSafeInteger(buyQty) &&
    Number.isSafeInteger(getQty) &&
    buyQty >= 1 &&
    getQty >= 1
  );
}

/**
 * Combinability over codes that passed their own rules, given in application order: the first is kept;
 * a later code is kept only if it and every code kept so far are combinable. Returns the kept indexes.
 */
export function selectCombinable(candidates: readonly Pick<PricingDiscount, "combinable">[]): Set<number> {
  const kept = new Set<number>();
  let allKeptCombinable = true;
  candidates.forEach((candidate, index) => {
    if (kept.size === 0 || (allKeptCombinable && candidate.combinable)) {
      kept.add(index);
      allKeptCombinable &&= candidate.combinable;
    }
  });
  return kept;
}

/** Application order: appliedAt ascending, then code, so the input array's order never matters. */
export function compareApplicationOrder(a: PricingDiscount, b: PricingDiscount): number {
  const byTime = a.appliedAt.getTime() - b.appliedAt.getTime();
  if (byTime !== 0) return byTime;
  return a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
}
