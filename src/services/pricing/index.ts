/** The pure pricing module: see price-cart.ts for the order of application and the rounding rule. */

export { isEligibleLine } from "./eligibility.js";
export { allocateLargestRemainder, basisPointsOf, percentOf } from "./money.js";
export { priceCart } from "./price-cart.js";
export { quoteShipping, servesDestination } from "./shipping.js";
export { findTaxRateBps } from "./tax.js";
export type * from "./types.js";
export type { DiscountInputCandidate, DiscountInputProblem } from "./validate-discount.js";
export { validateDiscountInput } from "./validate-discount.js";
