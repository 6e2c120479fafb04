/** A discount for pricing tests: no limits, no window, active; override what a case is about. */
import type { PricingDiscount } from "../../src/services/pricing/index.js";

export function discount(
  overrides: Partial<PricingDiscount> & Pick<PricingDiscount, "code" | "type" | "appliedAt">,
): PricingDiscount {
  return {
    value: 0,
    buyQty: null,
    getQty: null,
    minOrderAmount: null,
    maxUses: null,
    usesCount: 0,
    perCustomerLimit: null,
    customerUses: null,
    validFrom: null,
    validUntil: null,
    applicableProductIds: null,
    combinable: false,
    isActive: true,
    ...overrides,
  };
}
