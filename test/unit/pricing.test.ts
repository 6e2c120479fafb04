/**
 * Worked examples for the pure pricing module. Every expected number is computed by hand in the comment
 * next to it, from the rules in src/services/pricing/price-cart.ts.
 */
import { describe, expect, it } from "vitest";
import {
  allocateLargestRemainder,
  type PricingDiscount,
  type PricingInput,
  type PricingLine,
  type PricingResult,
  type PricingShippingMethod,
  priceCart,
  validateDiscountInput,
} from "../../src/services/pricing/index.js";

import { discount } from "../support/pricing-fixtures.js";

const NOW = new Date("2025-06-01T12:00:00.000Z");
let appliedSeq = 0;

function line(lineId: string, unitPrice: number, quantity = 1, productId = `prod-${lineId}`): PricingLine {
  return { lineId, productId, variantId: `var-${lineId}`, unitPrice, quantity };
}

function code(overrides: Partial<PricingDiscount> & Pick<PricingDiscount, "code" | "type">): PricingDiscount {
  appliedSeq += 1;
  return discount({ appliedAt: new Date(NOW.getTime() - 60_000 + appliedSeq), ...overrides });
}

const US_STANDARD: PricingShippingMethod = {
  id: "ship-us",
  countries: ["US", "CA"],
  rate: 500,
  freeOver: null,
};

function price(partial: Partial<PricingInput> & Pick<PricingInput, "lines">): PricingResult {
  return priceCart({
    discounts: [],
    shippingMethod: null,
    destination: null,
    taxRates: [],
    now: NOW,
    ...partial,
  });
}

function lineOf(result: PricingResult, lineId: string) {
  const found = result.lines.find((l) => l.lineId === lineId);
  if (!found) throw new Error(`no line ${lineId}`);
  return found;
}

describe("allocateLargestRemainder", () => {
  it("gives floors, then the leftover units to the largest remainders", () => {
    // 100 over weights 333/333/334: exact 33.3, 33.3, 33.4 -> floors 33+33+33 = 99, 1 left -> third (.4).
    expect(allocateLargestRemainder(100, [333, 333, 334])).toEqual([33, 33, 34]);
  });

  it("breaks equal remainders toward the earlier part", () => {
    // 200 over 100/100/100: 66.67 each -> floors 198, 2 left, equal remainders -> first and second.
    expect(allocateLargestRemainder(200, [100, 100, 100])).toEqual([67, 67, 66]);
  });

  it("never gives anything to a zero weight and handles a zero total", () => {
    expect(allocateLargestRemainder(5, [0, 3, 0, 2])).toEqual([0, 3, 0, 2]);
    expect(allocateLargestRemainder(0, [0, 0])).toEqual([0, 0]);
    expect(() => allocateLargestRemainder(1, [0, 0])).toThrow(RangeError);
  });
});

describe("priceCart without discounts", () => {
  it("prices subtotal, shipping and a regional tax split over lines and shipping", () => {
    const result = price({
      lines: [line("a", 1000, 2), line("b", 550)],
      shippingMethod: US_STANDARD,
      destination: { country: "US", region: "CA" },
      taxRates: [
        { country: "US", region: "", rateBps: 500 },
        { country: "US", region: "CA", rateBps: 725 },
      ],
    });
    // subtotal = 1000*2 + 550 = 2550; shipping 500; taxable 3050 at the CA rate 725 bps:
    // 3050 * 0.0725 = 221.125 -> 221 (half up).
    // Split of 221 over a 2000 / b 550 / shipping 500: exact 144.918 / 39.852 / 36.230
    // -> floors 144 + 39 + 36 = 219, 2 left -> a (.918) and b (.852): a 145, b 40, shipping 36.
    expect(result.totals).toEqual({
      subtotal: 2550,
      discount: 0,
      shipping: 500,
      shippingDiscount: 0,
      shippingTax: 36,
      tax: 221,
      total: 3271, // 2550 + 500 + 221
    });
    expect(result.lines).toEqual([
      { lineId: "a", subtotal: 2000, discount: 0, tax: 145, total: 2145 },
      { lineId: "b", subtotal: 550, discount: 0, tax: 40, total: 590 },
    ]);
    expect(result.tax).toEqual({ rateBps: 725, taxable: 3050 });
    expect(result.shipping).toEqual({ methodId: "ship-us", base: 500, freeOverReached: false, issue: null });
  });

  it("prices an empty cart as zero", () => {
    const result = price({ lines: [] });
    expect(result.totals.total).toBe(0);
    expect(result.lines).toEqual([]);
  });

  it("keeps lines in input order", () => {
    const result = price({ lines: [line("z", 1), line("a", 2), line("m", 3)] });
    expect(result.lines.map((l) => l.lineId)).toEqual(["z", "a", "m"]);
  });
});

describe("PERCENTAGE", () => {
  it("takes the percentage of the eligible lines and splits it by largest remainder", () => {
    const save10 = code({ code: "SAVE10", type: "PERCENTAGE", value: 10 });
    const result = price({ lines: [line("a", 333), line("b", 333), line("c", 334)], discounts: [save10] });
    // 10 % of 1000 = 100; split 33.3 / 33.3 / 33.4 -> 33 / 33 / 34.
    expect(result.totals.discount).toBe(100);
    expect(result.discounts[0]).toMatchObject({
      code: "SAVE10",
      amount: 100,
      applicable: true,
      reason: null,
    });
    expect(result.discounts[0]?.allocations).toEqual([
      { lineId: "a", amount: 33 },
      { lineId: "b", amount: 33 },
      { lineId: "c", amount: 34 },
    ]);
    expect(result.totals.total).toBe(900);
  });

  it("rounds half up, once, on the eligible total", () => {
    const p10 = () => code({ code: "P10", type: "PERCENTAGE", value: 10 });
    // 10 % of 1025 = 102.5 -> 103 (half up; banker's rounding would give 102).
    expect(price({ lines: [line("a", 1025)], discounts: [p10()] }).totals.discount).toBe(103);
    // 10 % of 1004 = 100.4 -> 100.
    expect(price({ lines: [line("a", 1004)], discounts: [p10()] }).totals.discount).toBe(100);
    // Rounded on the total, not per line: 10 % of (5 + 5 + 5) = 1.5 -> 2 (per line it would be 0.5 * 3 -> 3).
    const three = price({ lines: [line("a", 5), line("b", 5), line("c", 5)], discounts: [p10()] });
    expect(three.totals.discount).toBe(2);
    // 2 over 5/5/5: exact 0.667 each -> floors 0, 2 left, equal remainders -> a and b.
    expect(three.lines.map((l) => l.discount)).toEqual([1, 1, 0]);
  });

  it("only discounts applicable products", () => {
    const onShoes = code({ code: "SHOES20", type: "PERCENTAGE", value: 20, applicableProductIds: ["shoe"] });
    const result = price({
      lines: [line("a", 5000, 1, "shoe"), line("b", 3000, 1, "hat")],
      discounts: [onShoes],
    });
    // 20 % of the shoe line only: 1000.
    expect(lineOf(result, "a").discount).toBe(1000);
    expect(lineOf(result, "b").discount).toBe(0);
    expect(result.discounts[0]?.allocations).toEqual([{ lineId: "a", amount: 1000 }]);
  });
});

describe("FIXED_AMOUNT", () => {
  it("is split over eligible lines with ties going to the smaller line id", () => {
    const off200 = code({ code: "OFF200", type: "FIXED_AMOUNT", value: 200 });
    // 200 over 100/100/100 -> 66.67 each -> 66*3 = 198, 2 left to "a" and "b" (ids order, not input order).
    const result = price({ lines: [line("c", 100), line("b", 100), line("a", 100)], discounts: [off200] });
    expect(lineOf(result, "a").discount).toBe(67);
    expect(lineOf(result, "b").discount).toBe(67);
    expect(lineOf(result, "c").discount).toBe(66);
  });

  it("is capped at the eligible subtotal", () => {
    const off500 = code({ code: "OFF500", type: "FIXED_AMOUNT", value: 500, applicableProductIds: ["p1"] });
    const result = price({ lines: [line("a", 300, 1, "p1"), line("b", 1000, 1, "p2")], discounts: [off500] });
    // Only line a (300) is eligible: 500 is capped at 300.
    expect(result.discounts[0]?.amount).toBe(300);
    expect(lineOf(result, "a")).toMatchObject({ subtotal: 300, discount: 300, total: 0 });
    expect(result.totals).toMatchObject({ subtotal: 1300, discount: 300, total: 1000 });
  });

  it("checks the minimum order on the eligible subtotal and reports the required amount", () => {
    const fiveOff = () => code({ code: "FIVEOFF", type: "FIXED_AMOUNT", value: 500, minOrderAmount: 2000 });
    const short = price({ lines: [line("a", 1999)], discounts: [fiveOff()] });
    expect(short.discounts[0]).toMatchObject({
      applicable: false,
      reason: "DISCOUNT_MIN_ORDER_NOT_MET",
      requiredAmount: 2000,
      amount: 0,
    });
    expect(short.totals.discount).toBe(0);
    // Exactly the minimum qualifies.
    expect(price({ lines: [line("a", 2000)], discounts: [fiveOff()] }).totals.discount).toBe(500);
    // Non-eligible lines do not count toward the minimum: eligible 1500 < 2000 although the cart has 4500.
    const restricted = code({
      code: "SHOE5",
      type: "FIXED_AMOUNT",
      value: 500,
      minOrderAmount: 2000,
      applicableProductIds: ["shoe"],
    });
    const mixed = price({
      lines: [line("a", 1500, 1, "shoe"), line("b", 3000, 1, "hat")],
      discounts: [restricted],
    });
    expect(mixed.discounts[0]?.reason).toBe("DISCOUNT_MIN_ORDER_NOT_MET");
  });
});

describe("FREE_SHIPPING", () => {
  it("waives shipping, reports the waived amount and leaves the subtotal and discount alone", () => {
    const freeship = code({ code: "FREESHIP", type: "FREE_SHIPPING" });
    const result = price({
      lines: [line("a", 2000)],
      discounts: [freeship],
      shippingMethod: { ...US_STANDARD, rate: 700 },
      destination: { country: "US" },
      taxRates: [{ country: "US", region: "", rateBps: 1000 }],
    });
    // Shipping 700 waived; tax 10 % of (2000 + 0) = 200.
    expect(result.discounts[0]).toMatchObject({
      amount: 700,
      applicable: true,
      freeShipping: true,
      allocations: [],
    });
    expect(result.totals).toEqual({
      subtotal: 2000,
      discount: 0,
      shipping: 0,
      shippingDiscount: 700,
      shippingTax: 0,
      tax: 200,
      total: 2200,
    });
    expect(result.shipping.base).toBe(700);
  });

  it("waives nothing when shipping is already free over the threshold, and only once when stacked", () => {
    const method = { ...US_STANDARD, freeOver: 1000 };
    const alreadyFree = price({
      lines: [line("a", 1500)],
      discounts: [code({ code: "FREESHIP", type: "FREE_SHIPPING" })],
      shippingMethod: method,
      destination: { country: "US" },
    });
    expect(alreadyFree.discounts[0]).toMatchObject({ amount: 0, applicable: true });
    expect(alreadyFree.shipping.freeOverReached).toBe(true);

    const twice = price({
      lines: [line("a", 500)],
      discounts: [
        code({ code: "SHIP1", type: "FREE_SHIPPING", combinable: true }),
        code({ code: "SHIP2", type: "FREE_SHIPPING", combinable: true }),
      ],
      shippingMethod: method,
      destination: { country: "US" },
    });
    expect(twice.discounts.map((d) => d.amount)).toEqual([500, 0]);
    expect(twice.totals).toMatchObject({ shipping: 0, shippingDiscount: 500, total: 500 });
  });
});

describe("BUY_X_GET_Y", () => {
  const b2g1 = (value = 100) => code({ code: "B2G1", type: "BUY_X_GET_Y", value, buyQty: 2, getQty: 1 });

  it("makes the cheapest unit of every full group of X+Y free", () => {
    // Units by price: 1000 1000 800 | 500 500 500 | 300 -> groups of 3: the last of each full group is free:
    // 800 (line b) and 500 (line c); the 300 is in an incomplete group.
    const result = price({
      lines: [line("a", 1000, 2), line("b", 800), line("c", 500, 3), line("d", 300)],
      discounts: [b2g1()],
    });
    expect(result.discounts[0]?.amount).toBe(1300);
    expect(result.discounts[0]?.allocations).toEqual([
      { lineId: "a", amount: 0 },
      { lineId: "b", amount: 800 },
      { lineId: "c", amount: 500 },
      { lineId: "d", amount: 0 },
    ]);
    expect(result.totals.total).toBe(2000 + 800 + 1500 + 300 - 1300);
  });

  it("takes value % off instead when value < 100", () => {
    const result = price({
      lines: [line("a", 1000, 2), line("b", 800), line("c", 500, 3)],
      discounts: [b2g1(50)],
    });
    // Half of 800 and half of 500: 400 + 250.
    expect(result.totals.discount).toBe(650);
  });

  it("rounds each line's share half up", () => {
    const b1g1 = code({ code: "B1G1", type: "BUY_X_GET_Y", value: 50, buyQty: 1, getQty: 1 });
    // Units 999 (a) then 999 (b, tie broken by id): b is the "get" unit: 50 % of 999 = 499.5 -> 500.
    const result = price({ lines: [line("b", 999), line("a", 999)], discounts: [b1g1] });
    expect(lineOf(result, "a").discount).toBe(0);
    expect(lineOf(result, "b").discount).toBe(500);
  });

  it("breaks equal unit prices by line id, whatever the input order", () => {
    const b1g1 = () => code({ code: "B1G1", type: "BUY_X_GET_Y", value: 100, buyQty: 1, getQty: 1 });
    // Units x x y (all 500): group [x, x] -> the second x is free; y is alone in an incomplete group.
    for (const lines of [
      [line("x", 500, 2), line("y", 500)],
      [line("y", 500), line("x", 500, 2)],
    ]) {
      const result = price({ lines, discounts: [b1g1()] });
      expect(lineOf(result, "x").discount).toBe(500);
      expect(lineOf(result, "y").discount).toBe(0);
    }
  });

  it("stays applied with amount 0 until the cart holds a full group", () => {
    const result = price({ lines: [line("a", 1000, 2)], discounts: [b2g1()] });
    expect(result.discounts[0]).toMatchObject({ applicable: true, reason: null, amount: 0 });
  });

  it("counts only eligible units", () => {
    const onSocks = code({
      code: "SOCKS",
      type: "BUY_X_GET_Y",
      value: 100,
      buyQty: 2,
      getQty: 1,
      applicableProductIds: ["socks"],
    });
    // Eligible units: 300 300 200 (the 5000 jacket does not count) -> 200 free.
    const result = price({
      lines: [line("j", 5000, 1, "jacket"), line("s1", 300, 2, "socks"), line("s2", 200, 1, "socks")],
      discounts: [onSocks],
    });
    expect(result.totals.discount).toBe(200);
    expect(lineOf(result, "s2").discount).toBe(200);
  });
});

describe("discount rules", () => {
  const base = { code: "RULE", type: "PERCENTAGE" as const, value: 10 };
  const reasonOf = (d: PricingDiscount) => price({ lines: [line("a", 1000)], discounts: [d] }).discounts[0];

  it("reports each failing rule with its error code and counts the code for nothing", () => {
    expect(reasonOf(code({ ...base, isActive: false }))?.reason).toBe("DISCOUNT_INACTIVE");
    expect(reasonOf(code({ ...base, validFrom: new Date(NOW.getTime() + 1) }))?.reason).toBe(
      "DISCOUNT_NOT_YET_VALID",
    );
    expect(reasonOf(code({ ...base, validUntil: NOW }))?.reason).toBe("DISCOUNT_EXPIRED"); // end is exclusive
    expect(reasonOf(code({ ...base, maxUses: 5, usesCount: 5 }))?.reason).toBe("DISCOUNT_LIMIT_REACHED");
    expect(reasonOf(code({ ...base, perCustomerLimit: 1, customerUses: 1 }))?.reason).toBe(
      "DISCOUNT_CUSTOMER_LIMIT_REACHED",
    );
    expect(reasonOf(code({ ...base, applicableProductIds: ["elsewhere"] }))?.reason).toBe(
      "DISCOUNT_NOT_APPLICABLE",
    );

    const failed = price({ lines: [line("a", 1000)], discounts: [code({ ...base, isActive: false })] });
    expect(failed.discounts[0]).toMatchObject({ applicable: false, amount: 0, allocations: [] });
    expect(failed.totals).toMatchObject({ discount: 0, total: 1000 });
  });

  it("accepts codes right at the edges of their rules", () => {
    expect(reasonOf(code({ ...base, validFrom: NOW }))?.applicable).toBe(true); // start is inclusive
    expect(reasonOf(code({ ...base, validUntil: new Date(NOW.getTime() + 1) }))?.applicable).toBe(true);
    expect(reasonOf(code({ ...base, maxUses: 5, usesCount: 4 }))?.applicable).toBe(true);
    // An unidentified shopper (customerUses null) is not held to the per-customer limit here; checkout is.
    expect(reasonOf(code({ ...base, perCustomerLimit: 1, customerUses: null }))?.applicable).toBe(true);
  });

  it("reports the first failing rule in the documented order", () => {
    const everythingWrong = code({
      ...base,
      isActive: false,
      validUntil: NOW,
      maxUses: 1,
      usesCount: 1,
      minOrderAmount: 99_999,
    });
    expect(reasonOf(everythingWrong)?.reason).toBe("DISCOUNT_INACTIVE");
    expect(reasonOf(code({ ...base, validUntil: NOW, maxUses: 1, usesCount: 1 }))?.reason).toBe(
      "DISCOUNT_EXPIRED",
    );
    expect(reasonOf(code({ ...base, applicableProductIds: ["x"], minOrderAmount: 5000 }))?.reason).toBe(
      "DISCOUNT_NOT_APPLICABLE",
    );
  });

  it("is not applicable to an empty cart", () => {
    expect(price({ lines: [], discounts: [code(base)] }).discounts[0]?.reason).toBe(
      "DISCOUNT_NOT_APPLICABLE",
    );
  });
});

describe("combinability", () => {
  const lines = [line("a", 1000)];

  it("keeps only the first of two non-combinable codes, by application time not input order", () => {
    const save10 = code({ code: "SAVE10", type: "PERCENTAGE", value: 10 });
    const fiveOff = code({ code: "FIVEOFF", type: "FIXED_AMOUNT", value: 500 });
    const result = price({ lines, discounts: [fiveOff, save10] });
    expect(result.discounts.map((d) => [d.code, d.applicable, d.reason])).toEqual([
      ["SAVE10", true, null],
      ["FIVEOFF", false, "DISCOUNT_NOT_COMBINABLE"],
    ]);
    expect(result.totals.discount).toBe(100);
  });

  it("stacks combinable codes sequentially on what remains", () => {
    const a = code({ code: "A10", type: "PERCENTAGE", value: 10, combinable: true });
    const b = code({ code: "B20", type: "PERCENTAGE", value: 20, combinable: true });
    const result = price({ lines, discounts: [a, b] });
    // A: 10 % of 1000 = 100; B: 20 % of the remaining 900 = 180.
    expect(result.discounts.map((d) => d.amount)).toEqual([100, 180]);
    expect(result.totals).toMatchObject({ discount: 280, total: 720 });
  });

  it("rejects a non-combinable code after a combinable one, and anything after a non-combinable one", () => {
    const comb = code({ code: "COMB", type: "PERCENTAGE", value: 10, combinable: true });
    const solo = code({ code: "SOLO", type: "FIXED_AMOUNT", value: 100 });
    const later = code({ code: "LATER", type: "FREE_SHIPPING", combinable: true });
    const first = price({ lines, discounts: [comb, solo, later] });
    expect(first.discounts.map((d) => d.reason)).toEqual([null, "DISCOUNT_NOT_COMBINABLE", null]);

    const soloFirst = code({ code: "SOLO1", type: "FIXED_AMOUNT", value: 100 });
    const combAfter = code({ code: "COMB2", type: "PERCENTAGE", value: 10, combinable: true });
    const second = price({ lines, discounts: [soloFirst, combAfter] });
    expect(second.discounts.map((d) => d.reason)).toEqual([null, "DISCOUNT_NOT_COMBINABLE"]);
    expect(second.totals.discount).toBe(100);
  });

  it("lets a code that fails its own rules block nothing", () => {
    const expired = code({ code: "OLD", type: "PERCENTAGE", value: 50, validUntil: NOW });
    const current = code({ code: "NEW", type: "PERCENTAGE", value: 10 });
    const result = price({ lines, discounts: [expired, current] });
    expect(result.discounts.map((d) => d.reason)).toEqual(["DISCOUNT_EXPIRED", null]);
    expect(result.totals.discount).toBe(100);
  });

  it("never lets stacked codes take a line below zero", () => {
    const onP1 = code({
      code: "P1OFF",
      type: "FIXED_AMOUNT",
      value: 100,
      combinable: true,
      applicableProductIds: ["p1"],
    });
    const half = code({ code: "HALF", type: "PERCENTAGE", value: 50, combinable: true });
    const big = code({ code: "BIG", type: "FIXED_AMOUNT", value: 10_000, combinable: true });
    const result = price({
      lines: [line("a", 100, 1, "p1"), line("b", 900, 1, "p2")],
      discounts: [onP1, half, big],
    });
    // P1OFF takes all of a (100); HALF takes 50 % of the remaining 900 = 450, all from b;
    // BIG is capped at what is left: 450.
    expect(result.discounts.map((d) => d.amount)).toEqual([100, 450, 450]);
    expect(result.discounts[1]?.allocations).toEqual([
      { lineId: "a", amount: 0 },
      { lineId: "b", amount: 450 },
    ]);
    expect(result.totals).toMatchObject({ subtotal: 1000, discount: 1000, total: 0 });
  });
});

describe("shipping", () => {
  const us = { country: "US" };

  it("is free from freeOver, measured after merchandise discounts", () => {
    const method = { ...US_STANDARD, freeOver: 5000 };
    expect(price({ lines: [line("a", 5200)], shippingMethod: method, destination: us }).totals.shipping).toBe(
      0,
    );
    // 10 % off 5200 = 520 -> 4680 < 5000, so the 500 rate applies again.
    const discounted = price({
      lines: [line("a", 5200)],
      discounts: [code({ code: "S10", type: "PERCENTAGE", value: 10 })],
      shippingMethod: method,
      destination: us,
    });
    expect(discounted.totals).toMatchObject({ discount: 520, shipping: 500, total: 5200 - 520 + 500 });
  });

  it("reports a method that does not serve the country, is inactive, or is missing", () => {
    const fr = price({
      lines: [line("a", 100)],
      shippingMethod: US_STANDARD,
      destination: { country: "FR" },
    });
    expect(fr.shipping).toMatchObject({ base: 0, issue: "SHIPPING_METHOD_UNAVAILABLE" });
    expect(fr.totals.shipping).toBe(0);

    const inactive = price({
      lines: [line("a", 100)],
      shippingMethod: { ...US_STANDARD, isActive: false },
      destination: us,
    });
    expect(inactive.shipping.issue).toBe("SHIPPING_METHOD_UNAVAILABLE");

    const none = price({ lines: [line("a", 100)], destination: us });
    expect(none.shipping).toEqual({
      methodId: null,
      base: 0,
      freeOverReached: false,
      issue: "SHIPPING_METHOD_REQUIRED",
    });
  });

  it("quotes the rate as an estimate without a destination, and matches countries case-insensitively", () => {
    const noAddress = price({ lines: [line("a", 100)], shippingMethod: US_STANDARD });
    expect(noAddress.shipping).toMatchObject({ base: 500, issue: "SHIPPING_ADDRESS_REQUIRED" });
    expect(noAddress.totals).toMatchObject({ shipping: 500, tax: 0, total: 600 });

    const lower = price({
      lines: [line("a", 100)],
      shippingMethod: US_STANDARD,
      destination: { country: "us" },
    });
    expect(lower.shipping.issue).toBeNull();
  });
});

describe("tax", () => {
  const rates = [
    { country: "US", region: "", rateBps: 500 },
    { country: "US", region: "NY", rateBps: 888 },
    { country: "DE", region: "", rateBps: 1900 },
  ];
  const taxFor = (destination: PricingInput["destination"]) =>
    price({ lines: [line("a", 10_000)], destination, taxRates: rates }).tax.rateBps;

  it("uses the region rate, else the country rate, else none", () => {
    expect(taxFor({ country: "US", region: "NY" })).toBe(888);
    expect(taxFor({ country: "US", region: "ny" })).toBe(888);
    expect(taxFor({ country: "US", region: "TX" })).toBe(500);
    expect(taxFor({ country: "US" })).toBe(500);
    expect(taxFor({ country: "DE", region: "BY" })).toBe(1900);
    expect(taxFor({ country: "JP" })).toBe(0);
    expect(taxFor(null)).toBe(0);
  });

  it("taxes subtotal - discount + shipping and keeps the split exact", () => {
    const result = price({
      lines: [line("a", 3333), line("b", 3333), line("c", 3334)],
      discounts: [code({ code: "T10", type: "PERCENTAGE", value: 10 })],
      shippingMethod: { id: "ship-de", countries: ["DE"], rate: 999, freeOver: null },
      destination: { country: "DE" },
      taxRates: rates,
    });
    // discount 10 % of 10000 = 1000 (a 333.3 -> 333, b 333, c 333.4 -> 334); lines after: 3000 / 3000 / 3000.
    // taxable = 9000 + 999 = 9999; 19 % = 1899.81 -> 1900.
    // split: 3000*1900/9999 = 570.057 (x3) and 999*1900/9999 = 189.829 -> floors 570*3 + 189 = 1899,
    // 1 left -> shipping (.829 beats .057).
    expect(result.totals).toMatchObject({ discount: 1000, shipping: 999, tax: 1900, shippingTax: 190 });
    expect(result.lines.map((l) => l.tax)).toEqual([570, 570, 570]);
    expect(result.totals.total).toBe(10_000 - 1000 + 999 + 1900);
  });

  it("stays exact on amounts past 2^53 intermediate products", () => {
    const result = price({
      lines: [line("big", 99_999_999, 999)],
      destination: { country: "US" },
      taxRates: [{ country: "US", region: "", rateBps: 825 }],
    });
    // 99_999_999 * 999 = 99_899_999_001; * 8.25 % = 8_241_749_917.5825 -> 8_241_749_918.
    expect(result.totals.subtotal).toBe(99_899_999_001);
    expect(result.totals.tax).toBe(8_241_749_918);
    expect(result.totals.total).toBe(99_899_999_001 + 8_241_749_918);
  });
});

describe("never negative", () => {
  it("a 100 % code plus free shipping costs nothing", () => {
    const result = price({
      lines: [line("a", 1234, 3)],
      discounts: [
        code({ code: "ALL", type: "PERCENTAGE", value: 100, combinable: true }),
        code({ code: "SHIP", type: "FREE_SHIPPING", combinable: true }),
      ],
      shippingMethod: US_STANDARD,
      destination: { country: "US" },
      taxRates: [{ country: "US", region: "", rateBps: 1000 }],
    });
    expect(result.totals).toEqual({
      subtotal: 3702,
      discount: 3702,
      shipping: 0,
      shippingDiscount: 500,
      shippingTax: 0,
      tax: 0,
      total: 0,
    });
  });
});

describe("input checks", () => {
  it("throws on shapes the database cannot hold", () => {
    expect(() => price({ lines: [line("a", -1)] })).toThrow(RangeError);
    expect(() => price({ lines: [line("a", 1.5)] })).toThrow(RangeError);
    expect(() => price({ lines: [line("a", 100, 0)] })).toThrow(RangeError);
    expect(() => price({ lines: [line("a", 100), line("a", 200)] })).toThrow(/duplicate line id/);
    expect(() => price({ lines: [], taxRates: [{ country: "US", region: "", rateBps: 10_001 }] })).toThrow(
      RangeError,
    );
    expect(() => price({ lines: [], now: new Date(Number.NaN) })).toThrow(RangeError);
  });
});

describe("validateDiscountInput", () => {
  const fields = (input: Parameters<typeof validateDiscountInput>[0]) =>
    validateDiscountInput(input).map((p) => p.field);

  it("accepts well-formed codes of every type", () => {
    expect(validateDiscountInput({ code: "SAVE10", type: "PERCENTAGE", value: 10 })).toEqual([]);
    expect(
      validateDiscountInput({ code: "FIVEOFF", type: "FIXED_AMOUNT", value: 500, minOrderAmount: 2000 }),
    ).toEqual([]);
    expect(validateDiscountInput({ code: "FREESHIP", type: "FREE_SHIPPING", value: 0 })).toEqual([]);
    expect(
      validateDiscountInput({ code: "B2G1", type: "BUY_X_GET_Y", value: 100, buyQty: 2, getQty: 1 }),
    ).toEqual([]);
    expect(
      validateDiscountInput({
        type: "PERCENTAGE",
        value: 100,
        validFrom: new Date("2025-01-01"),
        validUntil: new Date("2025-02-01"),
        maxUses: 10,
        perCustomerLimit: 1,
        applicableProductIds: ["p1"],
      }),
    ).toEqual([]);
  });

  it("rejects out-of-range values per type", () => {
    expect(fields({ type: "PERCENTAGE", value: 0 })).toEqual(["value"]);
    expect(fields({ type: "PERCENTAGE", value: 101 })).toEqual(["value"]);
    expect(fields({ type: "PERCENTAGE", value: 12.5 })).toEqual(["value"]);
    expect(fields({ type: "FIXED_AMOUNT", value: 0 })).toEqual(["value"]);
    expect(fields({ type: "FIXED_AMOUNT", value: -5 })).toEqual(["value"]);
    expect(fields({ type: "FREE_SHIPPING", value: 100 })).toEqual(["value"]);
    expect(fields({ type: "BUY_X_GET_Y", value: 0, buyQty: 0, getQty: null })).toEqual([
      "value",
      "buyQty",
      "getQty",
    ]);
    expect(fields({ type: "BUY_X_GET_Y", value: 101, buyQty: 2, getQty: 1 })).toEqual(["value"]);
    expect(fields({ type: "PERCENTAGE", value: 10, buyQty: 2 })).toEqual(["buyQty"]);
  });

  it("rejects bad limits, windows, product lists and codes, all at once", () => {
    const problems = validateDiscountInput({
      code: "bad code!",
      type: "FIXED_AMOUNT",
      value: 100,
      minOrderAmount: 0,
      maxUses: 0,
      perCustomerLimit: -1,
      validFrom: new Date("2025-02-01"),
      validUntil: new Date("2025-02-01"),
      applicableProductIds: [],
    });
    expect(problems.map((p) => p.field)).toEqual([
      "code",
      "minOrderAmount",
      "maxUses",
      "perCustomerLimit",
      "validUntil",
      "applicableProductIds",
    ]);
    for (const p of problems) expect(p.message.length).toBeGreaterThan(0);
  });
});

describe("BUY_X_GET_Y rounds once per code", () => {
  const bogoHalf = () => code({ code: "BOGO50", type: "BUY_X_GET_Y", value: 50, buyQty: 1, getQty: 1 });

  it("takes the exact amount, rounded once: 2 × 1999 + 2 × 333 at buy 1 get 1 half off is 1166", () => {
    // Free units: one 1999 (half: 999.5) and one 333 (half: 166.5); exact 1166.0. Rounding per line
    // would give 1000 + 167 = 1167.
    const result = price({ lines: [line("a", 1999, 2), line("b", 333, 2)], discounts: [bogoHalf()] });
    expect(result.totals.discount).toBe(1166);
    expect(result.discounts[0]?.amount).toBe(1166);
    const allocated = result.discounts[0]?.allocations.reduce((s, a) => s + a.amount, 0);
    expect(allocated).toBe(1166);
  });

  it("does not depend on how the units are spread over lines", () => {
    const together = price({ lines: [line("a", 1999, 2), line("b", 333, 2)], discounts: [bogoHalf()] });
    const spread = price({
      lines: [line("a1", 1999), line("a2", 1999), line("b1", 333), line("b2", 333)],
      discounts: [bogoHalf()],
    });
    expect(spread.totals.discount).toBe(together.totals.discount);
  });

  it("does not depend on the order codes were applied in when they do not interact", () => {
    const lines = [line("a", 1999, 3), line("b", 333, 3)];
    const first = bogoHalf();
    const free = code({ code: "FREESHIP", type: "FREE_SHIPPING", combinable: true });
    const a = price({ lines, discounts: [{ ...first, combinable: true }, free] });
    const b = price({ lines, discounts: [free, { ...first, combinable: true }] });
    expect(a.totals.discount).toBe(b.totals.discount);
  });
});
