/**
 * Cart pricing — one pure function, no I/O:
 *   priceCart({ lines, discounts, shippingMethod, destination, taxRates, now })
 *     -> per line { subtotal, discount, tax, total }, per code { amount, applicable, reason, allocations },
 *        shipping quote, totals { subtotal, discount, shipping, shippingDiscount, shippingTax, tax, total }.
 * Every amount is an integer number of minor units.
 *
 * ORDER OF APPLICATION
 * 1. Line subtotal = unitPrice × quantity; subtotal = Σ line subtotals.
 * 2. Each code is checked on its own; the first failing rule, in this order, is its reason:
 *    not active (DISCOUNT_INACTIVE); now < validFrom (DISCOUNT_NOT_YET_VALID); now >= validUntil
 *    (DISCOUNT_EXPIRED); usesCount >= maxUses (DISCOUNT_LIMIT_REACHED); customerUses >= perCustomerLimit
 *    (DISCOUNT_CUSTOMER_LIMIT_REACHED; not checked while customerUses is null, i.e. the shopper is not
 *    identified yet); no line of an applicable product, or a BUY_X_GET_Y row without X, Y >= 1
 *    (DISCOUNT_NOT_APPLICABLE); the
 *    eligible lines' subtotal before any discount < minOrderAmount (DISCOUNT_MIN_ORDER_NOT_MET, with
 *    requiredAmount = minOrderAmount).
 * 3. Combinability, over the codes that passed step 2, in application order (appliedAt, then code): the
 *    first is kept; a later code is kept only if it and every code kept so far are combinable; otherwise
 *    it is DISCOUNT_NOT_COMBINABLE. A non-combinable code is therefore only ever alone, and a code that
 *    failed step 2 blocks nothing. Every rejected code stays in the result: applicable false, its reason,
 *    amount 0.
 * 4. Merchandise discounts: the kept codes in application order, each working on what the earlier ones
 *    left of each eligible line ("remaining"; it starts at the line subtotal):
 *    - PERCENTAGE: value % of the eligible lines' remaining sum;
 *    - FIXED_AMOUNT: value, capped at the eligible lines' remaining sum;
 *      (both split over the eligible lines in proportion to their remaining amounts)
 *    - BUY_X_GET_Y: the eligible units, sorted by unit price descending (ties: line id), are cut into
 *      consecutive groups of X+Y; in every full group the last Y units (the cheapest) get value % off
 *      (100 = free). A line holding n of those units out of quantity q is owed exactly value % of n/q of
 *      its remaining; the code's amount is the sum of those exact shares rounded half up once, split over
 *      the lines by largest remainder of their shares (so it never depends on how units sit in lines);
 *    - FREE_SHIPPING: nothing here.
 *    A kept code whose rule yields nothing (e.g. BUY_X_GET_Y with fewer than X+Y units) stays applicable
 *    with amount 0, so it starts counting as soon as the cart qualifies.
 * 5. Shipping: without a method 0 (issue SHIPPING_METHOD_REQUIRED). An inactive method, or one that does
 *    not serve the destination country, costs 0 with issue SHIPPING_METHOD_UNAVAILABLE. Otherwise the flat
 *    rate, or 0 when subtotal - discount >= freeOver; without a destination that price is an estimate
 *    (issue SHIPPING_ADDRESS_REQUIRED). Then the first kept FREE_SHIPPING code waives it: shipping = 0,
 *    shippingDiscount = the waived amount = that code's amount (any further FREE_SHIPPING code waives 0).
 *    totals.discount counts merchandise discounts only; the waiver shows in shippingDiscount.
 * 6. Tax: the destination's (country, region) rate, else its (country, '') rate, else 0 — in basis points —
 *    on taxable = subtotal - discount + shipping, computed once on that total and split over the lines
 *    (each by subtotal - discount) and shipping (totals.shippingTax).
 * 7. total = subtotal - discount + shipping + tax. It is never negative: no line's discount exceeds its
 *    subtotal. Each line's total = subtotal - discount + tax; Σ line totals + shipping + shippingTax = total.
 *
 * ROUNDING RULE
 * Integer arithmetic only; products of amounts and rates are formed in BigInt, so nothing is lost past
 * 2^53. An amount derived from a rate is rounded once, to the minor unit, half up (x.5 goes up): the
 * amount of a PERCENTAGE code, the BUY_X_GET_Y discount of each line, the total tax. Splitting an amount
 * over lines never rounds again: the largest-remainder method gives each part the floor of its exact
 * proportional share, then the units left over one each to the parts with the largest remainders, ties
 * to the smaller line id (code-unit order; the shipping tax bucket ranks after every line). Parts
 * therefore sum exactly to the amount, a line never gets more discount than it has left, and the result
 * does not depend on the order in which lines or codes are passed in.
 */
import { type DiscountableLine, merchandiseDiscount } from "./discounts.js";
import {
  checkDiscountRules,
  compareApplicationOrder,
  isEligibleLine,
  type RuleOutcome,
  selectCombinable,
} from "./eligibility.js";
import { assertMinorUnits, compareIds, sumAmounts } from "./money.js";
import { quoteShipping } from "./shipping.js";
import { allocateTax, findTaxRateBps } from "./tax.js";
import type {
  PricedDiscount,
  PricedLine,
  PricingDiscount,
  PricingInput,
  PricingLine,
  PricingResult,
} from "./types.js";

export function priceCart(input: PricingInput): PricingResult {
  assertValidInput(input);

  const lineSubtotals = new Map<string, number>();
  for (const line of input.lines) lineSubtotals.set(line.lineId, line.unitPrice * line.quantity);
  const subtotal = sumAmounts([...lineSubtotals.values()], "cart subtotal");

  // Everything below walks lines in id order, which is what makes the result independent of input order.
  const byId: DiscountableLine[] = [...input.lines]
    .sort((a, b) => compareIds(a.lineId, b.lineId))
    .map((line) => ({
      lineId: line.lineId,
      unitPrice: line.unitPrice,
      quantity: line.quantity,
      remaining: lineSubtotals.get(line.lineId) ?? 0,
    }));
  const lineById = new Map<string, PricingLine>(input.lines.map((line) => [line.lineId, line]));

  const ordered = [...input.discounts].sort(compareApplicationOrder);
  const outcomes: RuleOutcome[] = ordered.map((d) =>
    checkDiscountRules(d, input.lines, lineSubtotals, input.now),
  );
  const candidates = ordered.flatMap((discount, index) => (outcomes[index]?.ok ? [{ discount, index }] : []));
  const keptCandidates = selectCombinable(candidates.map((c) => c.discount));
  const kept = new Set(candidates.filter((_, i) => keptCandidates.has(i)).map((c) => c.index));

  const priced: PricedDiscount[] = ordered.map((discount, index) => {
    const outcome = outcomes[index];
    const base = describe(discount);
    if (outcome && !outcome.ok) {
      return {
        ...base,
        applicable: false,
        reason: outcome.reason,
        ...(outcome.requiredAmount === undefined ? {} : { requiredAmount: outcome.requiredAmount }),
      };
    }
    if (!kept.has(index)) return { ...base, applicable: false, reason: "DISCOUNT_NOT_COMBINABLE" };
    return { ...base, applicable: true, reason: null };
  });

  // Step 4: merchandise discounts, sequentially on what is left of each line.
  ordered.forEach((discount, index) => {
    const result = priced[index];
    if (!result?.applicable || discount.type === "FREE_SHIPPING") return;
    const eligible = byId.filter((line) => {
      const source = lineById.get(line.lineId);
      return source !== undefined && isEligibleLine(discount, source);
    });
    const amounts = merchandiseDiscount(discount, eligible);
    eligible.forEach((line, i) => {
      const amount = amounts[i] ?? 0;
      line.remaining -= amount;
      result.allocations.push({ lineId: line.lineId, amount });
    });
    result.amount = sumAmounts(amounts, "discount amount");
  });
  const merchandiseAfterDiscounts = sumAmounts(
    byId.map((line) => line.remaining),
    "discounted subtotal",
  );
  const discount = subtotal - merchandiseAfterDiscounts;

  // Step 5: shipping, then FREE_SHIPPING waives whatever it still costs.
  const shipping = quoteShipping(input.shippingMethod, input.destination, merchandiseAfterDiscounts);
  let shippingDiscount = 0;
  ordered.forEach((d, index) => {
    const result = priced[index];
    if (!result?.applicable || d.type !== "FREE_SHIPPING") return;
    result.amount = shipping.base - shippingDiscount;
    shippingDiscount = shipping.base;
  });
  const shippingCharged = shipping.base - shippingDiscount;

  // Step 6: tax on lines (id order) then shipping as the last bucket.
  const rateBps = findTaxRateBps(input.taxRates, input.destination);
  const buckets = [...byId.map((line) => line.remaining), shippingCharged];
  const tax = allocateTax(buckets, rateBps);
  const taxByLine = new Map<string, number>(byId.map((line, i) => [line.lineId, tax.parts[i] ?? 0]));
  const shippingTax = tax.parts[byId.length] ?? 0;

  const discountByLine = new Map<string, number>(
    byId.map((line) => [line.lineId, (lineSubtotals.get(line.lineId) ?? 0) - line.remaining]),
  );
  const lines: PricedLine[] = input.lines.map((line) => {
    const lineSubtotal = lineSubtotals.get(line.lineId) ?? 0;
    const lineDiscount = discountByLine.get(line.lineId) ?? 0;
    const lineTax = taxByLine.get(line.lineId) ?? 0;
    return {
      lineId: line.lineId,
      subtotal: lineSubtotal,
      discount: lineDiscount,
      tax: lineTax,
      total: lineSubtotal - lineDiscount + lineTax,
    };
  });

  return {
    lines,
    discounts: priced,
    shipping,
    tax: { rateBps, taxable: merchandiseAfterDiscounts + shippingCharged },
    totals: {
      subtotal,
      discount,
      shipping: shippingCharged,
      shippingDiscount,
      shippingTax,
      tax: tax.total,
      total: sumAmounts([merchandiseAfterDiscounts, shippingCharged, tax.total], "total"),
    },
  };
}

function describe(discount: PricingDiscount): PricedDiscount {
  return {
    ...(discount.id === undefined ? {} : { id: discount.id }),
    code: discount.code,
    type: discount.type,
    amount: 0,
    applicable: false,
    reason: null,
    ...(discount.type === "FREE_SHIPPING" ? { freeShipping: true } : {}),
    allocations: [],
  };
}

/** Bad shapes are programming errors of the caller (the database cannot hold them), so they throw. */
function assertValidInput(input: PricingInput): void {
  if (Number.isNaN(input.now.getTime())) throw new RangeError("now must be a valid date");
  const ids = new Set<string>();
  for (const line of input.lines) {
    if (ids.has(line.lineId)) throw new RangeError(`duplicate line id ${line.lineId}`);
    ids.add(line.lineId);
    assertMinorUnits(line.unitPrice, `unitPrice of line ${line.lineId}`);
    if (!Number.isSafeInteger(line.quantity) || line.quantity < 1) {
      throw new RangeError(`quantity of line ${line.lineId} must be a positive integer`);
    }
    assertMinorUnits(line.unitPrice * line.quantity, `subtotal of line ${line.lineId}`);
  }
  const codes = new Set<string>();
  for (const d of input.discounts) {
    if (codes.has(d.code)) throw new RangeError(`discount code ${d.code} is applied twice`);
    codes.add(d.code);
    assertMinorUnits(d.value, `value of discount ${d.code}`);
    if (Number.isNaN(d.appliedAt.getTime()))
      throw new RangeError(`appliedAt of discount ${d.code} is invalid`);
  }
  const method = input.shippingMethod;
  if (method !== null) {
    assertMinorUnits(method.rate, "shipping rate");
    if (method.freeOver !== null) assertMinorUnits(method.freeOver, "shipping freeOver");
  }
  for (const rate of input.taxRates) {
    if (!Number.isInteger(rate.rateBps) || rate.rateBps < 0 || rate.rateBps > 10_000) {
      throw new RangeError(`tax rate for ${rate.country}/${rate.region} must be 0..10000 bps`);
    }
  }
}
