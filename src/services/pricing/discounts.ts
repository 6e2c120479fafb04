/**
 * What one kept code takes off the merchandise, line by line. Codes stack sequentially: each works on
 * what earlier codes left of every eligible line (`remaining`), so no line can ever go below zero.
 */
import {
  allocateByWeights,
  allocateLargestRemainder,
  compareIds,
  divideRoundHalfUp,
  scaleRoundHalfUp,
  sumAmounts,
} from "./money.js";
import type { PricingDiscount } from "./types.js";

/** A line as the discounts see it: ordered by lineId, with what earlier codes left of it. */
export interface DiscountableLine {
  lineId: string;
  unitPrice: number;
  quantity: number;
  remaining: number;
}

function clampPercent(value: number): number {
  return Math.min(100, Math.max(0, Math.trunc(value)));
}

/**
 * Per-line amounts of one code over its eligible lines (given sorted by lineId; the result is index-aligned).
 * FREE_SHIPPING takes nothing here: it acts on shipping.
 */
export function merchandiseDiscount(
  discount: PricingDiscount,
  eligible: readonly DiscountableLine[],
): number[] {
  const remaining = eligible.map((line) => line.remaining);
  const base = sumAmounts(remaining, "eligible amount");
  switch (discount.type) {
    case "PERCENTAGE":
      if (base === 0) return remaining.map(() => 0);
      return allocateLargestRemainder(scaleRoundHalfUp(base, clampPercent(discount.value), 100), remaining);
    case "FIXED_AMOUNT":
      if (base === 0) return remaining.map(() => 0);
      return allocateLargestRemainder(Math.min(Math.max(0, Math.trunc(discount.value)), base), remaining);
    case "BUY_X_GET_Y":
      return buyXGetYDiscount(discount, eligible);
    case "FREE_SHIPPING":
      return remaining.map(() => 0);
  }
}

/**
 * BUY_X_GET_Y: the eligible units, sorted by unit price descending (ties: line id), are cut into
 * consecutive groups of X+Y; in every full group the last Y units (the cheapest) get value % off. A line
 * with n such units out of quantity q is owed exactly remaining × n/q × value/100 (the units' share of what
 * is left of the line, so a code stacked after another never takes more than the line has left). The
 * code's amount is the sum of those exact shares, rounded half up ONCE; it is then split over the lines
 * in proportion to their exact shares by largest remainder. So the amount does not depend on how units
 * are spread over lines, nor on the order of codes or lines.
 */
function buyXGetYDiscount(discount: PricingDiscount, eligible: readonly DiscountableLine[]): number[] {
  const percent = clampPercent(discount.value);
  const discounted = discountedUnitsPerLine(eligible, discount.buyQty ?? 0, discount.getQty ?? 0);
  if (percent === 0 || discounted.every((units) => units === 0)) return eligible.map(() => 0);
  // Shares over one common denominator (the lcm of the quantities involved), held exactly in BigInt.
  let denominator = 1n;
  eligible.forEach((line, i) => {
    if ((discounted[i] ?? 0) > 0) denominator = lcm(denominator, BigInt(line.quantity));
  });
  const weights = eligible.map((line, i) => {
    const units = BigInt(discounted[i] ?? 0);
    return units === 0n ? 0n : BigInt(line.remaining) * units * (denominator / BigInt(line.quantity));
  });
  const exactTimesDenominator = weights.reduce((acc, w) => acc + w, 0n);
  if (exactTimesDenominator === 0n) return eligible.map(() => 0);
  const amount = Number(divideRoundHalfUp(exactTimesDenominator * BigInt(percent), denominator * 100n));
  return allocateByWeights(amount, weights);
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function lcm(a: bigint, b: bigint): bigint {
  return (a / gcd(a, b)) * b;
}

/** For each line (index-aligned with `lines`), how many of its units fall on a "get" position. */
export function discountedUnitsPerLine(
  lines: readonly Pick<DiscountableLine, "lineId" | "unitPrice" | "quantity">[],
  buyQty: number,
  getQty: number,
): number[] {
  const result = lines.map(() => 0);
  if (buyQty < 1 || getQty < 1) return result;
  const groupSize = buyQty + getQty;
  const order = lines
    .map((line, index) => ({ line, index }))
    .sort((a, b) => b.line.unitPrice - a.line.unitPrice || compareIds(a.line.lineId, b.line.lineId));
  const totalUnits = sumAmounts(
    lines.map((l) => l.quantity),
    "unit count",
  );
  const inFullGroups = Math.floor(totalUnits / groupSize) * groupSize;
  // Number of "get" positions among positions [0, p) of the sorted unit sequence.
  const getPositionsBefore = (p: number): number => {
    const capped = Math.min(p, inFullGroups);
    return Math.floor(capped / groupSize) * getQty + Math.max(0, (capped % groupSize) - buyQty);
  };
  let position = 0;
  for (const { line, index } of order) {
    result[index] = getPositionsBefore(position + line.quantity) - getPositionsBefore(position);
    position += line.quantity;
  }
  return result;
}
