/**
 * Shipping price before FREE_SHIPPING codes. A problem is reported as an issue the caller turns into a
 * userError at checkout (or a warning on the cart) rather than thrown: a cart is still priced while the
 * shopper fixes it.
 */
import type { PricingDestination, PricingShippingMethod, ShippingQuote } from "./types.js";

export function normalizeCountry(country: string): string {
  return country.trim().toUpperCase();
}

export function servesDestination(method: PricingShippingMethod, destination: PricingDestination): boolean {
  const country = normalizeCountry(destination.country);
  return method.countries.some((c) => normalizeCountry(c) === country);
}

/**
 * - no method: 0, SHIPPING_METHOD_REQUIRED;
 * - an inactive method, or one that does not serve the destination country: 0, SHIPPING_METHOD_UNAVAILABLE;
 * - otherwise the flat rate, or 0 once `merchandiseAfterDiscounts` >= freeOver; without a destination the
 *   same price is quoted as an estimate with SHIPPING_ADDRESS_REQUIRED.
 */
export function quoteShipping(
  method: PricingShippingMethod | null,
  destination: PricingDestination | null,
  merchandiseAfterDiscounts: number,
): ShippingQuote {
  if (method === null)
    return { methodId: null, base: 0, freeOverReached: false, issue: "SHIPPING_METHOD_REQUIRED" };
  const unavailable =
    method.isActive === false || (destination !== null && !servesDestination(method, destination));
  if (unavailable) {
    return { methodId: method.id, base: 0, freeOverReached: false, issue: "SHIPPING_METHOD_UNAVAILABLE" };
  }
  const freeOverReached = method.freeOver !== null && merchandiseAfterDiscounts >= method.freeOver;
  return {
    methodId: method.id,
    base: freeOverReached ? 0 : method.rate,
    freeOverReached,
    issue: destination === null ? "SHIPPING_ADDRESS_REQUIRED" : null,
  };
}
