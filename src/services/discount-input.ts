/**
 * A staff discount create/update, turned into the column values it writes. The rules themselves live in
 * the pricing module (validateDiscountInput) so the pricing never meets a code it cannot interpret; this
 * file maps its problems to INVALID_INPUT userErrors at ["input", field] and normalises what is stored.
 */
import { ErrorCode, type UserErrorData } from "./errors.js";
import { type DiscountType, validateDiscountInput } from "./pricing/index.js";
import { isSaneInstant, isUuid } from "./validation.js";

export interface DiscountInput {
  code: string;
  type: DiscountType;
  /** Unused (0) for FREE_SHIPPING. */
  value?: number | null;
  buyQty?: number | null;
  getQty?: number | null;
  minOrderAmount?: number | null;
  maxUses?: number | null;
  perCustomerLimit?: number | null;
  validFrom?: Date | null;
  validUntil?: Date | null;
  /** null = every product. */
  applicableProductIds?: readonly string[] | null;
  combinable?: boolean | null;
  isActive?: boolean | null;
}

/** Every editable column of `discounts`: an update replaces all of them (uses_count is never edited). */
export interface DiscountValues {
  code: string;
  type: DiscountType;
  value: number;
  buyQty: number | null;
  getQty: number | null;
  minOrderAmount: number | null;
  maxUses: number | null;
  perCustomerLimit: number | null;
  validFrom: Date | null;
  validUntil: Date | null;
  applicableProductIds: string[] | null;
  combinable: boolean;
  isActive: boolean;
}

/** A bound on the product list, so one request cannot make the row (and every pricing) arbitrarily big. */
export const MAX_APPLICABLE_PRODUCTS = 1000;

/** Codes are case-insensitive: stored and looked up trimmed and upper-cased. */
export function normalizeCode(code: string): string {
  return code.trim().toUpperCase();
}

/**
 * Checks the shape of the input (everything that needs no database) and returns the values to store.
 * Product ids are only checked to be ids here; whether they are products of the store is the service's job.
 */
export function checkDiscountInput(input: DiscountInput): {
  values: DiscountValues;
  errors: UserErrorData[];
} {
  const values: DiscountValues = {
    code: normalizeCode(input.code),
    type: input.type,
    value: input.value ?? 0,
    buyQty: input.buyQty ?? null,
    getQty: input.getQty ?? null,
    minOrderAmount: input.minOrderAmount ?? null,
    maxUses: input.maxUses ?? null,
    perCustomerLimit: input.perCustomerLimit ?? null,
    validFrom: input.validFrom ?? null,
    validUntil: input.validUntil ?? null,
    applicableProductIds: null,
    combinable: input.combinable ?? false,
    isActive: input.isActive ?? true,
  };
  const errors: UserErrorData[] = validateDiscountInput({
    ...values,
    code: input.code,
    applicableProductIds: input.applicableProductIds ?? null,
  }).map((p) => ({ code: ErrorCode.INVALID_INPUT, message: p.message, field: ["input", p.field] }));

  for (const [name, date] of [
    ["validFrom", values.validFrom],
    ["validUntil", values.validUntil],
  ] as const) {
    if (date !== null && !Number.isNaN(date.getTime()) && !isSaneInstant(date)) {
      errors.push({
        code: ErrorCode.INVALID_INPUT,
        message: `${name} must be a date between 1970 and 9999`,
        field: ["input", name],
      });
    }
  }

  const ids = input.applicableProductIds;
  if (ids != null && ids.length > MAX_APPLICABLE_PRODUCTS) {
    errors.push({
      code: ErrorCode.INVALID_INPUT,
      message: `List at most ${MAX_APPLICABLE_PRODUCTS} products`,
      field: ["input", "applicableProductIds"],
    });
  } else if (ids != null && ids.length > 0) {
    ids.forEach((id, i) => {
      if (!isUuid(id)) errors.push(productNotFound(i));
    });
    values.applicableProductIds = [...new Set(ids.map((id) => id.toLowerCase()))];
  }
  return { values, errors };
}

/** An id in applicableProductIds that names no product of this store (unknown, foreign and malformed alike). */
export function productNotFound(index: number): UserErrorData {
  return {
    code: ErrorCode.INVALID_INPUT,
    message: "No such product in this store",
    field: ["input", "applicableProductIds", String(index)],
  };
}
