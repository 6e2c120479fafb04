import { describe, expect, it } from "vitest";
import { canonicalLocale, formatMoney, minorUnitDigits } from "../../src/services/money-format.js";

describe("formatMoney", () => {
  it("reads integer minor units by the currency's own number of decimals", () => {
    expect(formatMoney(1999, "USD")).toBe("$19.99");
    expect(formatMoney(5, "EUR")).toBe("€0.05");
    expect(formatMoney(1500, "JPY")).toBe("¥1,500");
    expect(formatMoney(1500, "KRW")).toBe("₩1,500");
    expect(formatMoney(12345, "KWD")).toBe("KWD\u00a012.345");
    expect([minorUnitDigits("JPY"), minorUnitDigits("USD"), minorUnitDigits("BHD")]).toEqual([0, 2, 3]);
  });

  it("is exact for any safe integer, negative amounts and other locales", () => {
    expect(formatMoney(Number.MAX_SAFE_INTEGER, "USD")).toBe("$90,071,992,547,409.91");
    expect(formatMoney(-250, "GBP")).toBe("-£2.50");
    expect(formatMoney(0, "USD")).toBe("$0.00");
    expect(formatMoney(123456, "EUR", "de-DE")).toBe("1.234,56\u00a0€");
    expect(() => formatMoney(1.5, "USD")).toThrow(RangeError);
  });
});

describe("canonicalLocale", () => {
  it("answers the canonical form of a tag Intl can format money in", () => {
    expect(canonicalLocale("en-US")).toBe("en-US");
    expect(canonicalLocale(" en-gb ")).toBe("en-GB");
    expect(canonicalLocale("DE-de")).toBe("de-DE");
    expect(canonicalLocale("ja")).toBe("ja");
    expect(canonicalLocale("ar-EG-u-nu-latn")).toBe("ar-EG-u-nu-latn");
  });

  it("refuses malformed tags and languages Intl has no number formats for", () => {
    for (const tag of [
      "",
      "   ",
      "en_US",
      "english",
      "foo bar",
      "x-private",
      "xx",
      "zz-ZZ",
      "en-".repeat(30),
    ]) {
      expect(canonicalLocale(tag), tag).toBeNull();
    }
  });
});
