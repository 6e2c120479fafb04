/**
 * Integer money arithmetic for pricing. Amounts are minor units (cents) held in `number` and must stay
 * safe integers; any product of two amounts (or of an amount and a rate) is formed in BigInt, because
 * 999 units × 100_000_000 per unit × a rate can pass 2^53. No floating-point value ever enters a result.
 */

/** Throws unless `value` is a non-negative safe integer: the only shape an amount may have here. */
export function assertMinorUnits(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative safe integer (minor units), got ${value}`);
  }
}

function toSafeNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`${what} does not fit a safe integer`);
  }
  return Number(value);
}

/** floor(numerator / denominator + 1/2) for numerator >= 0, denominator > 0: round half up. */
export function divideRoundHalfUp(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n || numerator < 0n) throw new RangeError("divideRoundHalfUp needs num >= 0, den > 0");
  return (2n * numerator + denominator) / (2n * denominator);
}

/** round_half_up(amount × numerator / denominator), computed exactly. */
export function scaleRoundHalfUp(amount: number, numerator: number, denominator: number): number {
  const result = divideRoundHalfUp(BigInt(amount) * BigInt(numerator), BigInt(denominator));
  return toSafeNumber(result, "scaled amount");
}

/** `percent` % of `amount`, rounded half up to the minor unit. */
export function percentOf(amount: number, percent: number): number {
  return scaleRoundHalfUp(amount, percent, 100);
}

/** `bps` basis points (1/100 of a percent) of `amount`, rounded half up to the minor unit. */
export function basisPointsOf(amount: number, bps: number): number {
  return scaleRoundHalfUp(amount, bps, 10_000);
}

/**
 * Splits `total` into parts proportional to `weights` with the largest-remainder method: each part gets
 * the floor of its exact share `total × weight / Σweights`; the units left over (fewer than the number of
 * parts with a non-zero remainder) go one each to the parts with the largest remainders, ties to the
 * EARLIER part. Callers therefore pass the parts already sorted by their tie-break key.
 *
 * Guarantees: the parts sum exactly to `total`; a zero weight gets 0; and when total <= Σweights no part
 * exceeds its weight (its exact share is below its weight, so floor + 1 cannot pass it).
 */
export function allocateLargestRemainder(total: number, weights: readonly number[]): number[] {
  for (const w of weights) assertMinorUnits(w, "allocation weight");
  return allocateByWeights(
    total,
    weights.map((w) => BigInt(w)),
  );
}

/** allocateLargestRemainder over exact (BigInt) weights, e.g. shares scaled to a common denominator. */
export function allocateByWeights(total: number, weights: readonly bigint[]): number[] {
  assertMinorUnits(total, "amount to allocate");
  if (weights.some((w) => w < 0n)) throw new RangeError("allocation weights must not be negative");
  if (total === 0) return weights.map(() => 0);
  const sum = weights.reduce((acc, w) => acc + w, 0n);
  if (sum === 0n) throw new RangeError("cannot allocate a positive amount over zero weights");

  const bigTotal = BigInt(total);
  const parts = weights.map((w, index) => {
    const exact = bigTotal * w;
    return { index, floor: exact / sum, remainder: exact % sum };
  });
  let leftover = bigTotal - parts.reduce((acc, p) => acc + p.floor, 0n);
  const byRemainder = parts
    .filter((p) => p.remainder > 0n)
    .sort((a, b) => (a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1));
  for (const part of byRemainder) {
    if (leftover === 0n) break;
    part.floor += 1n;
    leftover -= 1n;
  }
  return parts.map((p) => Number(p.floor));
}

/** Code-unit order of two ids: stable across locales and runtimes, unlike localeCompare. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Adds amounts, failing loudly instead of losing precision past 2^53. */
export function sumAmounts(values: readonly number[], what = "sum"): number {
  let total = 0;
  for (const v of values) total += v;
  if (!Number.isSafeInteger(total)) throw new RangeError(`${what} does not fit a safe integer`);
  return total;
}
