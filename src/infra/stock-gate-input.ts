/**
 * Input checks shared by both stock gates, so they refuse the same bad input the same way (RangeError,
 * nothing changed). Lines naming one variant twice are merged: checking them one by one would let two
 * lines of 1 pass a counter of 1 and then take 2.
 */
import type { StockCount, StockLine } from "./types.js";

export function checkStoreId(storeId: string): void {
  // The store id is the hash tag of its counters in Redis: braces would change which part is hashed.
  if (typeof storeId !== "string" || storeId.length === 0 || /[{}]/.test(storeId)) {
    throw new RangeError("storeId must be a non-empty string without braces");
  }
}

function checkVariantId(variantId: string): void {
  if (typeof variantId !== "string" || variantId.length === 0) {
    throw new RangeError("variantId must be a non-empty string");
  }
}

/** Quantities per variant, in first-seen order; every quantity a positive safe integer. */
export function mergeLines(lines: readonly StockLine[]): Map<string, number> {
  const merged = new Map<string, number>();
  for (const { variantId, quantity } of lines) {
    checkVariantId(variantId);
    if (!Number.isSafeInteger(quantity) || quantity < 1) {
      throw new RangeError(`quantity must be a positive integer (variant ${variantId})`);
    }
    const total = (merged.get(variantId) ?? 0) + quantity;
    if (!Number.isSafeInteger(total)) throw new RangeError(`quantity too large (variant ${variantId})`);
    merged.set(variantId, total);
  }
  return merged;
}

export function checkCounts(counts: readonly StockCount[]): void {
  const seen = new Set<string>();
  for (const { variantId, available } of counts) {
    checkVariantId(variantId);
    if (!Number.isSafeInteger(available) || available < 0) {
      throw new RangeError(`available must be a non-negative integer (variant ${variantId})`);
    }
    if (seen.has(variantId)) throw new RangeError(`variant ${variantId} is listed twice`);
    seen.add(variantId);
  }
}

export function checkTtl(ttlSeconds: number): void {
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) {
    throw new RangeError("ttlSeconds must be a positive integer");
  }
}

export function checkVariantIds(variantIds: readonly string[]): void {
  for (const id of variantIds) checkVariantId(id);
}
