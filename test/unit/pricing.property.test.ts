/**
 * Properties of the pure pricing module over random carts, codes, shipping methods and tax rates.
 * The oracles here are written independently of the implementation (e.g. BUY_X_GET_Y expands every unit).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  allocateLargestRemainder,
  type PricingDiscount,
  type PricingInput,
  type PricingLine,
  type PricingResult,
  priceCart,
} from "../../src/services/pricing/index.js";
import { discount } from "../support/pricing-fixtures.js";

/** 300 keeps the suite fast; PRICING_PROPERTY_RUNS=20000 for a deeper search. */
const NUM_RUNS = Number(process.env.PRICING_PROPERTY_RUNS ?? 300);
const NOW = new Date("2025-06-01T12:00:00.000Z");
const PRODUCTS = ["p0", "p1", "p2", "p3"];
const COUNTRIES = ["US", "DE", "FR", "JP"];
const TAX_KEYS = [
  { country: "US", region: "" },
  { country: "US", region: "CA" },
  { country: "DE", region: "" },
  { country: "FR", region: "" },
  { country: "FR", region: "IDF" },
];

const unitPriceArb = fc.oneof(
  fc.integer({ min: 0, max: 2_000 }),
  fc.constantFrom(1, 99, 100, 500, 999),
  fc.integer({ min: 0, max: 100_000_000 }),
);
const quantityArb = fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 999 }));

const linesArb: fc.Arbitrary<PricingLine[]> = fc
  .uniqueArray(fc.stringMatching(/^[a-f]{1,3}$/), { minLength: 0, maxLength: 6 })
  .chain((ids) =>
    fc
      .tuple(...ids.map(() => fc.tuple(unitPriceArb, quantityArb, fc.constantFrom(...PRODUCTS))))
      .map((specs) =>
        specs.map(([unitPrice, quantity, productId], i) => ({
          lineId: ids[i] ?? "",
          productId,
          variantId: `v-${ids[i]}`,
          unitPrice,
          quantity,
        })),
      ),
  );

const typedValueArb = fc.oneof(
  fc.record({ type: fc.constant("PERCENTAGE" as const), value: fc.integer({ min: 1, max: 100 }) }),
  fc.record({ type: fc.constant("FIXED_AMOUNT" as const), value: fc.integer({ min: 1, max: 500_000 }) }),
  fc.record({ type: fc.constant("FREE_SHIPPING" as const), value: fc.constant(0) }),
  fc.record({
    type: fc.constant("BUY_X_GET_Y" as const),
    value: fc.oneof(fc.constant(100), fc.integer({ min: 1, max: 100 })),
    buyQty: fc.integer({ min: 1, max: 4 }),
    getQty: fc.integer({ min: 1, max: 3 }),
  }),
);

/** null most of the time: most generated codes should pass their rules so that stacking gets exercised. */
function rarely<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
}

function discountArb(code: string): fc.Arbitrary<PricingDiscount> {
  return fc
    .record({
      typed: typedValueArb,
      minOrderAmount: rarely(fc.integer({ min: 1, max: 50_000 })),
      maxUses: rarely(fc.integer({ min: 1, max: 3 })),
      usesCount: fc.integer({ min: 0, max: 3 }),
      perCustomerLimit: rarely(fc.integer({ min: 1, max: 2 })),
      customerUses: fc.option(fc.integer({ min: 0, max: 2 })),
      validFromOffset: rarely(fc.integer({ min: -1000, max: 1000 })),
      validUntilOffset: rarely(fc.integer({ min: 1, max: 2000 })),
      applicableProductIds: fc.option(fc.subarray(PRODUCTS, { minLength: 1 }), { freq: 2 }),
      combinable: fc.oneof(
        { weight: 3, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
      isActive: fc.oneof(
        { weight: 9, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
      appliedOffset: fc.integer({ min: 0, max: 5 }),
    })
    .map((r) => {
      const validFrom = r.validFromOffset === null ? null : new Date(NOW.getTime() + r.validFromOffset);
      const validUntil =
        r.validUntilOffset === null
          ? null
          : new Date((validFrom ?? new Date(NOW.getTime() - 1000)).getTime() + r.validUntilOffset);
      return {
        code,
        type: r.typed.type,
        value: r.typed.value,
        buyQty: "buyQty" in r.typed ? r.typed.buyQty : null,
        getQty: "getQty" in r.typed ? r.typed.getQty : null,
        minOrderAmount: r.minOrderAmount,
        maxUses: r.maxUses,
        usesCount: r.maxUses === null ? r.usesCount : Math.min(r.usesCount, r.maxUses),
        perCustomerLimit: r.perCustomerLimit,
        customerUses: r.customerUses,
        validFrom,
        validUntil,
        applicableProductIds: r.applicableProductIds,
        combinable: r.combinable,
        isActive: r.isActive,
        // Small offsets collide often, which exercises the (appliedAt, code) tie-break.
        appliedAt: new Date(NOW.getTime() - 10_000 + r.appliedOffset),
      };
    });
}

const discountsArb = fc
  .oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 5, arbitrary: fc.integer({ min: 1, max: 4 }) })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => discountArb(`CODE${i}`))));

const shippingMethodArb = fc.option(
  fc.record({
    id: fc.constant("ship"),
    countries: fc.subarray(COUNTRIES, { minLength: 2 }),
    rate: fc.integer({ min: 0, max: 5_000 }),
    freeOver: fc.option(fc.integer({ min: 0, max: 200_000 }), { freq: 2 }),
    isActive: fc.oneof(
      { weight: 9, arbitrary: fc.constant(true) },
      { weight: 1, arbitrary: fc.constant(false) },
    ),
  }),
  { freq: 4 },
);

const destinationArb = fc.option(
  fc.record({ country: fc.constantFrom(...COUNTRIES), region: fc.constantFrom("", "CA", "IDF", "NY") }),
  { freq: 5 },
);

const taxRatesArb = fc
  .tuple(
    ...TAX_KEYS.map(() =>
      fc.option(fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.constantFrom(825, 1900, 2500, 5000))),
    ),
  )
  .map((bps) =>
    TAX_KEYS.flatMap((key, i) => {
      const rateBps = bps[i];
      return rateBps === null || rateBps === undefined ? [] : [{ ...key, rateBps }];
    }),
  );

const inputArb: fc.Arbitrary<PricingInput> = fc.record({
  lines: linesArb,
  discounts: discountsArb,
  shippingMethod: shippingMethodArb,
  destination: destinationArb,
  taxRates: taxRatesArb,
  now: fc.constant(NOW),
});

function eligibleLines(input: PricingInput, discount: PricingDiscount): PricingLine[] {
  const ids = discount.applicableProductIds;
  return input.lines.filter((l) => ids === null || ids.includes(l.productId));
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

function allNumbersAreSafeIntegers(value: unknown): boolean {
  if (typeof value === "number") return Number.isSafeInteger(value);
  if (Array.isArray(value)) return value.every(allNumbersAreSafeIntegers);
  if (value instanceof Date) return true;
  if (value !== null && typeof value === "object")
    return Object.values(value).every(allNumbersAreSafeIntegers);
  return true;
}

/** Σ over full groups of the Y cheapest unit prices, by expanding every eligible unit. */
function buyXGetYBound(lines: readonly PricingLine[], buyQty: number, getQty: number): number {
  const units = lines
    .flatMap((l) => Array.from({ length: l.quantity }, () => l.unitPrice))
    .sort((a, b) => b - a);
  const groupSize = buyQty + getQty;
  let bound = 0;
  for (let start = 0; start + groupSize <= units.length; start += groupSize) {
    const group = units.slice(start, start + groupSize).sort((a, b) => a - b);
    bound += sum(group.slice(0, getQty));
  }
  return bound;
}

/** Canonical view of a result: lines by id, so two results can be compared whatever the input order. */
function canonical(result: PricingResult) {
  return {
    lines: [...result.lines].sort((a, b) => (a.lineId < b.lineId ? -1 : 1)),
    discounts: result.discounts,
    shipping: result.shipping,
    tax: result.tax,
    totals: result.totals,
  };
}

describe("priceCart properties", () => {
  it("keeps every amount an integer, every total consistent and never negative", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const r = priceCart(input);
        const t = r.totals;
        expect(allNumbersAreSafeIntegers(r)).toBe(true);
        expect(t.total).toBeGreaterThanOrEqual(0);
        expect(t.total).toBe(t.subtotal - t.discount + t.shipping + t.tax);
        expect(t.subtotal).toBe(sum(input.lines.map((l) => l.unitPrice * l.quantity)));
        expect(t.discount).toBeGreaterThanOrEqual(0);
        expect(t.discount).toBeLessThanOrEqual(t.subtotal);
        expect(t.shipping + t.shippingDiscount).toBe(r.shipping.base);
        expect(t.shipping).toBeGreaterThanOrEqual(0);
        for (const line of r.lines) {
          expect(line.discount).toBeGreaterThanOrEqual(0);
          expect(line.discount).toBeLessThanOrEqual(line.subtotal);
          expect(line.tax).toBeGreaterThanOrEqual(0);
          expect(line.total).toBe(line.subtotal - line.discount + line.tax);
        }
        expect(sum(r.lines.map((l) => l.total)) + t.shipping + t.shippingTax).toBe(t.total);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("allocates every discount and the tax exactly", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const r = priceCart(input);
        const t = r.totals;
        expect(sum(r.lines.map((l) => l.discount))).toBe(t.discount);
        expect(sum(r.lines.map((l) => l.tax)) + t.shippingTax).toBe(t.tax);
        const merchandise = r.discounts.filter((d) => d.type !== "FREE_SHIPPING");
        expect(sum(merchandise.map((d) => d.amount))).toBe(t.discount);
        expect(sum(r.discounts.filter((d) => d.type === "FREE_SHIPPING").map((d) => d.amount))).toBe(
          t.shippingDiscount,
        );
        for (const d of merchandise) expect(sum(d.allocations.map((a) => a.amount))).toBe(d.amount);
        // Per line, the codes' allocations add up to the line's discount.
        for (const line of r.lines) {
          const allocated = sum(
            r.discounts
              .flatMap((d) => d.allocations.filter((a) => a.lineId === line.lineId))
              .map((a) => a.amount),
          );
          expect(allocated).toBe(line.discount);
        }
        // The tax itself: rate × (subtotal - discount + shipping), rounded half up, in exact arithmetic.
        const taxable = BigInt(t.subtotal - t.discount + t.shipping);
        const expectedTax = (2n * taxable * BigInt(r.tax.rateBps) + 10_000n) / 20_000n;
        expect(BigInt(t.tax)).toBe(expectedTax);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("never discounts more than a code's eligible subtotal; rejected codes count for nothing", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const r = priceCart(input);
        for (const d of r.discounts) {
          const source = input.discounts.find((x) => x.code === d.code);
          if (!source) throw new Error("lost a code");
          if (!d.applicable) {
            expect(d.amount).toBe(0);
            expect(d.reason).not.toBeNull();
            expect(d.allocations).toEqual([]);
            if (d.reason === "DISCOUNT_MIN_ORDER_NOT_MET")
              expect(d.requiredAmount).toBe(source.minOrderAmount);
            continue;
          }
          expect(d.reason).toBeNull();
          if (d.type === "FREE_SHIPPING") continue;
          const eligible = eligibleLines(input, source);
          expect(d.amount).toBeLessThanOrEqual(sum(eligible.map((l) => l.unitPrice * l.quantity)));
          const eligibleIds = new Set(eligible.map((l) => l.lineId));
          for (const a of d.allocations) expect(eligibleIds.has(a.lineId)).toBe(true);
        }
        // Combinability: a kept non-combinable code is alone.
        const kept = r.discounts.filter((d) => d.applicable);
        const keptSources = kept.map((d) => input.discounts.find((x) => x.code === d.code));
        if (keptSources.some((s) => s && !s.combinable)) expect(kept.length).toBe(1);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("does not depend on the order of lines or codes", () => {
    const withPermutation = inputArb.chain((input) =>
      fc.tuple(
        fc.constant(input),
        fc.shuffledSubarray([...input.lines], {
          minLength: input.lines.length,
          maxLength: input.lines.length,
        }),
        fc.shuffledSubarray([...input.discounts], {
          minLength: input.discounts.length,
          maxLength: input.discounts.length,
        }),
      ),
    );
    fc.assert(
      fc.property(withPermutation, ([input, lines, discounts]) => {
        expect(canonical(priceCart({ ...input, lines, discounts }))).toEqual(canonical(priceCart(input)));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("FREE_SHIPPING never changes the subtotal or the merchandise discount", () => {
    const freeShip = discount({
      code: "ZZFREESHIP",
      type: "FREE_SHIPPING",
      combinable: true,
      appliedAt: NOW, // after every generated code
    });
    fc.assert(
      fc.property(inputArb, (generated) => {
        const input = {
          ...generated,
          discounts: generated.discounts.map((d) => ({ ...d, combinable: true })),
        };
        const without = priceCart(input);
        const withCode = priceCart({ ...input, discounts: [...input.discounts, freeShip] });
        expect(withCode.totals.subtotal).toBe(without.totals.subtotal);
        expect(withCode.totals.discount).toBe(without.totals.discount);
        expect(withCode.lines.map((l) => l.discount)).toEqual(without.lines.map((l) => l.discount));
        expect(withCode.totals.shipping).toBeLessThanOrEqual(without.totals.shipping);
        if (input.lines.length > 0) expect(withCode.totals.shipping).toBe(0);
        // Alone, it discounts no merchandise at all.
        const alone = priceCart({ ...input, discounts: [freeShip] });
        expect(alone.totals.discount).toBe(0);
        expect(alone.totals.subtotal).toBe(without.totals.subtotal);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("BUY_X_GET_Y discounts at most the Y cheapest units of each full X+Y group (exactly them when free)", () => {
    const bxgyArb = fc.record({
      lines: linesArb,
      buyQty: fc.integer({ min: 1, max: 4 }),
      getQty: fc.integer({ min: 1, max: 3 }),
      value: fc.oneof(fc.constant(100), fc.integer({ min: 1, max: 100 })),
      applicableProductIds: fc.option(fc.subarray(PRODUCTS, { minLength: 1 })),
    });
    fc.assert(
      fc.property(bxgyArb, ({ lines, buyQty, getQty, value, applicableProductIds }) => {
        const discount: PricingDiscount = {
          code: "BXGY",
          type: "BUY_X_GET_Y",
          value,
          buyQty,
          getQty,
          minOrderAmount: null,
          maxUses: null,
          usesCount: 0,
          perCustomerLimit: null,
          customerUses: null,
          validFrom: null,
          validUntil: null,
          applicableProductIds,
          combinable: false,
          isActive: true,
          appliedAt: NOW,
        };
        const input: PricingInput = {
          lines,
          discounts: [discount],
          shippingMethod: null,
          destination: null,
          taxRates: [],
          now: NOW,
        };
        const r = priceCart(input);
        const bound = buyXGetYBound(eligibleLines(input, discount), buyQty, getQty);
        expect(r.totals.discount).toBeLessThanOrEqual(bound);
        if (value === 100) expect(r.totals.discount).toBe(bound);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe("allocateLargestRemainder properties", () => {
  it("sums exactly, stays within one unit of the exact share and never exceeds a weight", () => {
    const arb = fc
      .array(fc.integer({ min: 0, max: 100_000_000 }), { minLength: 1, maxLength: 8 })
      .filter((weights) => sum(weights) > 0)
      .chain((weights) => fc.tuple(fc.constant(weights), fc.integer({ min: 0, max: sum(weights) })));
    fc.assert(
      fc.property(arb, ([weights, total]) => {
        const parts = allocateLargestRemainder(total, weights);
        expect(sum(parts)).toBe(total);
        const weightSum = BigInt(sum(weights));
        parts.forEach((part, i) => {
          const w = weights[i] ?? 0;
          expect(part).toBeLessThanOrEqual(w);
          const exactTimesSum = BigInt(total) * BigInt(w);
          const scaledPart = BigInt(part) * weightSum;
          // |part - exact| < 1  <=>  |part × Σw - total × w| < Σw
          const diff = scaledPart > exactTimesSum ? scaledPart - exactTimesSum : exactTimesSum - scaledPart;
          expect(diff < weightSum).toBe(true);
        });
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
