/**
 * Tax by destination. One rate applies to the whole taxable amount; the tax is computed once on the total
 * (so it does not drift with the number of lines) and then split exactly over the lines and shipping, so
 * a refund of any line can return exactly the tax it carried.
 */
import { allocateLargestRemainder, basisPointsOf } from "./money.js";
import { normalizeCountry } from "./shipping.js";
import type { PricingDestination, PricingTaxRate } from "./types.js";

function normalizeRegion(region: string | null | undefined): string {
  return (region ?? "").trim().toUpperCase();
}

/** The (country, region) rate if the destination names a region that has one, else (country, ''), else 0. */
export function findTaxRateBps(
  rates: readonly PricingTaxRate[],
  destination: PricingDestination | null,
): number {
  if (destination === null) return 0;
  const country = normalizeCountry(destination.country);
  const region = normalizeRegion(destination.region);
  const inCountry = rates.filter((r) => normalizeCountry(r.country) === country);
  const regional = region === "" ? undefined : inCountry.find((r) => normalizeRegion(r.region) === region);
  const countryWide = inCountry.find((r) => normalizeRegion(r.region) === "");
  return (regional ?? countryWide)?.rateBps ?? 0;
}

/**
 * round_half_up(Σbuckets × rateBps / 10000), split over the buckets (taxable amount of each line, then
 * shipping last) by largest remainder. Buckets must come in tie-break order: lines by id, shipping last.
 */
export function allocateTax(buckets: readonly number[], rateBps: number): { total: number; parts: number[] } {
  const taxable = buckets.reduce((acc, b) => acc + b, 0);
  const total = basisPointsOf(taxable, rateBps);
  return { total, parts: allocateLargestRemainder(total, buckets) };
}
